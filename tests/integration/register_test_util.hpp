#pragma once
// Helpers for the register module's conversation tests: the XEP-0077 forms,
// codes read from the outbox gateway's file, rows read from the database.
#include <doctest/doctest.h>

#include <fstream>
#include <memory>
#include <string>

#include "harness/raw_client.hpp"
#include "harness/test_server.hpp"
#include "store/pg_sync.hpp"
#include "test_util.hpp"

namespace parley::test {

inline constexpr std::string_view kRegisterNs = "jabber:iq:register";
inline constexpr std::string_view kRegisterFeature = "http://jabber.org/features/iq-register";
inline constexpr std::string_view kDataNs = "jabber:x:data";

// Registration on (conf/parley.toml ships it off), outbox gateway; `extra`
// goes into [modules.register].
inline ServerOptions register_options(const std::string& extra = {}, const std::string& more_config = {}) {
  ServerOptions options;
  options.modules = {"disco", "ping", "register"};
  std::string table = "[modules.register]\n";
  if (extra.find("allow_registration") == std::string::npos) table += "allow_registration = true\n";
  options.extra_config = table + extra + "\n" + more_config;
  return options;
}

inline std::unique_ptr<RawClient> tls_client(TestServer& server) {
  auto client = std::make_unique<RawClient>(server.starttls_port());
  client->open_stream();
  client->starttls();
  return client;
}

inline std::string field(const std::string& var, const std::string& value) {
  return "<field var='" + var + "'><value>" + value + "</value></field>";
}

inline std::string submit(const std::string& fields) {
  return "<query xmlns='jabber:iq:register'><x xmlns='jabber:x:data' type='submit'>" +
         field("FORM_TYPE", "jabber:iq:register") + fields + "</x></query>";
}

inline std::string signup_form(const std::string& number, const std::string& password,
                               const std::string& username = {}) {
  return submit(field("phone", number) + field("password", password) +
                (username.empty() ? std::string() : field("username", username)));
}

inline std::string code_form(const std::string& number, const std::string& code) {
  return submit(field("phone", number) + field("code", code));
}

inline const xml::Element* find_field(const xml::Element& form, std::string_view var) {
  for (const xml::Element& f : form.children()) {
    if (f.name() == "field" && f.attr("var") == var) return &f;
  }
  return nullptr;
}
inline bool has_field(const xml::Element& form, std::string_view var) { return find_field(form, var) != nullptr; }
inline std::string field_value(const xml::Element& form, std::string_view var) {
  const xml::Element* f = find_field(form, var);
  const xml::Element* v = f ? f->first_child("value", kDataNs) : nullptr;
  return v ? v->text() : std::string();
}
inline std::string field_type(const xml::Element& form, std::string_view var) {
  const xml::Element* f = find_field(form, var);
  return f ? std::string(f->attr("type")) : std::string();
}

inline std::string error_text(const xml::Element& stanza) {
  const xml::Element* error = stanza.first_child("error");
  const xml::Element* text = error ? error->first_child("text", kStanzaErrors) : nullptr;
  return text ? text->text() : std::string();
}

// The lines of the outbox gateway's file: "time<TAB>number<TAB>text".
inline std::vector<std::string> outbox(TestServer& server) {
  std::ifstream in(server.dir() / "sms-outbox.txt");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}
inline size_t outbox_lines(TestServer& server) { return outbox(server).size(); }

// The code in the last SMS to `number` ("Your localhost code is 123456").
inline std::string last_code(TestServer& server, const std::string& number) {
  std::string code;
  for (const std::string& line : outbox(server)) {
    if (line.find("\t" + number + "\t") == std::string::npos) continue;
    code = line.substr(line.rfind(' ') + 1);
  }
  return code;
}

inline void db_exec(TestServer& server, const std::string& sql) {
  store::PgSync db(server.conninfo());
  REQUIRE(db.exec(sql, {}).ok);
}

inline std::string db_value(TestServer& server, const std::string& sql) {
  store::PgSync db(server.conninfo());
  store::PgResult r = db.exec(sql, {});
  REQUIRE(r.ok);
  if (r.rows.empty() || !r.rows[0][0]) return {};
  return *r.rows[0][0];
}

inline int account_count(TestServer& server, const std::string& username) {
  store::PgSync db(server.conninfo());
  store::PgResult r = db.exec("SELECT count(*) FROM accounts WHERE host = 'localhost' AND username = $1", {username});
  REQUIRE(r.ok);
  return std::stoi(*r.rows[0][0]);
}

// Both steps; REQUIREs success.
inline void sign_up(TestServer& server, RawClient& client, const std::string& number, const std::string& password,
                    const std::string& username = {}) {
  xml::Element step1 = ask(client, "", signup_form(number, password, username), "set");
  REQUIRE_MESSAGE(step1.attr("type") == "result", condition_of(step1, kStanzaErrors));
  xml::Element step2 = ask(client, "", code_form(number, last_code(server, number)), "set");
  REQUIRE_MESSAGE(step2.attr("type") == "result", condition_of(step2, kStanzaErrors));
}

}  // namespace parley::test
