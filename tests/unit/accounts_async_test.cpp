// The server's asynchronous account API (xmpp::AccountStore create and
// set_password) against a real PostgreSQL: one statement per write,
// user/creating may veto, user/created fires after the fact, and a new
// password drops the cached credentials.
#include <doctest/doctest.h>

#include <stdexcept>
#include <vector>

#include "core/log.hpp"
#include "store/migrations.hpp"
#include "store/pg_client.hpp"
#include "store_test_support.hpp"
#include "xmpp/accounts.hpp"
#include "xmpp/module_api.hpp"
#include "xmpp/router.hpp"
#include "xmpp/session_registry.hpp"

using namespace parley;
using namespace parley::xmpp;

namespace {

// Just enough of a worker for AccountStore: one host, a database client.
// Off-loop work runs inline: the test is about what happens around it.
class AccountServices : public Services {
 public:
  AccountServices(uv_loop_t* loop, std::string conninfo)
      : loop_(loop),
        database_(loop, std::move(conninfo)),
        router_(*this),
        accounts_(database_, *this, [](std::function<void()> work, std::function<void()> after) {
          work();
          after();
        }) {}
  Router& router() override { return router_; }
  store::PgClient& database() override { return database_; }
  core::Logger& log() override { return log_; }
  uv_loop_t* loop() override { return loop_; }
  const core::Config& config() override { throw std::logic_error("no config here"); }
  HostContext* find_host(std::string_view domain) override { return domain == "test.example" ? host.get() : nullptr; }
  SessionRegistry& sessions() override { return sessions_; }
  AccountStore& accounts() override { return accounts_; }
  net::NetLoop& net() override { throw std::logic_error("no network here"); }
  net::Resolver* resolver() override { return nullptr; }
  ModuleState& shared_state(std::string_view, const SharedStateFactory&) override {
    throw std::logic_error("no shared module state here");
  }
  net::HttpRoutes& http_routes() override { throw std::logic_error("no HTTP here"); }
  void add_component(std::string, std::string, ComponentHandler) override {}
  void remove_component(std::string_view) override {}
  const ComponentHandler* find_component(std::string_view) override { return nullptr; }
  HostContext* component_owner(std::string_view) override { return nullptr; }
  void delete_account(const std::string&, const std::string&, std::function<void(std::string)> done) override {
    done("not here");
  }
  std::unique_ptr<HostContext> host;

 private:
  uv_loop_t* loop_;
  store::PgClient database_;
  core::Logger log_{core::LogLevel::Error};
  SessionRegistry sessions_;
  Router router_;
  AccountStore accounts_;
};

}  // namespace

TEST_CASE("AccountStore creates accounts in one statement, with user/creating and user/created") {
  auto& cluster = store::test::shared_cluster();
  std::string conninfo = cluster.fresh_database("accounts_async");
  {
    store::PgSync setup(conninfo);
    std::string error;
    REQUIRE_MESSAGE(store::apply_migrations(setup, PARLEY_SCHEMA_DIR, error, {}), error);
  }
  store::test::TestLoop loop;
  {
    AccountServices services(loop.get(), conninfo);
    services.host = std::make_unique<HostContext>("test.example", services);
    std::vector<std::string> created;
    HookRegistration veto = services.host->hooks().on(events::user_creating, 0, [](UserEvent& event) {
      if (event.username == "root") {
        event.allowed = false;
        event.reason = "reserved name";
      }
      return HookResult::Pass;
    });
    HookRegistration seen = services.host->hooks().on(events::user_created, 0, [&created](UserEvent& event) {
      created.push_back(event.username);
      return HookResult::Pass;
    });
    services.database().start();
    REQUIRE(loop.run_until([&] { return services.database().connected(); }, 10000));
    AccountStore& accounts = services.accounts();
    accounts.set_cache_capacity(100);
    store::PgSync db(conninfo);

    auto write = [&](auto start) {
      std::optional<AccountWriteResult> result;
      start([&result](AccountWriteResult r) { result = std::move(r); });
      REQUIRE(loop.run_until([&] { return result.has_value(); }, 10000));
      return *result;
    };
    auto create = [&](const std::string& user, const std::string& password) {
      return write([&](AccountWriteDone done) { accounts.create("test.example", user, password, 4096, done); });
    };
    auto fetch_salt = [&](const std::string& user) {
      std::optional<AccountLookup> lookup;
      accounts.fetch_strongest_scram("test.example", user, [&lookup](AccountLookup l) { lookup = std::move(l); });
      REQUIRE(loop.run_until([&] { return lookup.has_value(); }, 10000));
      REQUIRE(lookup->credential);
      return lookup->credential->salt;
    };

    CHECK(create("alice", "pencil").status == AccountWriteStatus::Done);
    CHECK(created == std::vector<std::string>{"alice"});
    CHECK(db.exec("SELECT count(*) FROM account_scram WHERE username = 'alice'").rows[0][0] == "3");

    CHECK(create("alice", "other").status == AccountWriteStatus::Exists);
    CHECK(created.size() == 1);

    AccountWriteResult vetoed = create("root", "pw");
    CHECK(vetoed.status == AccountWriteStatus::Vetoed);
    CHECK(vetoed.reason == "reserved name");
    CHECK(db.exec("SELECT count(*) FROM accounts WHERE username = 'root'").rows[0][0] == "0");

    CHECK(create("bob", "").status == AccountWriteStatus::BadPassword);
    CHECK(db.exec("SELECT count(*) FROM accounts WHERE username = 'bob'").rows[0][0] == "0");

    std::string cached_salt = fetch_salt("alice");  // now in the credential cache
    AccountWriteResult changed = write([&](AccountWriteDone done) {
      accounts.set_password("test.example", "alice", "new pencil", 4096, done);
    });
    CHECK(changed.status == AccountWriteStatus::Done);
    CHECK(db.exec("SELECT count(*) FROM account_scram WHERE username = 'alice'").rows[0][0] == "3");
    CHECK(fetch_salt("alice") != cached_salt);

    AccountWriteResult missing =
        write([&](AccountWriteDone done) { accounts.set_password("test.example", "nobody", "pw", 4096, done); });
    CHECK(missing.status == AccountWriteStatus::NoSuchAccount);
    services.database().close([] {});
  }
  CHECK(loop.close_loop() == 0);
}
