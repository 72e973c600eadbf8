// XEP-0049: Private XML Storage — an account keeps arbitrary XML on the
// server, one element per (name, namespace), readable and writable only by
// the account itself.
#include "core/config.hpp"
#include "core/option.hpp"
#include "store/pg_client.hpp"
#include "xml/fragment.hpp"
#include "xml/writer.hpp"
#include "xmpp/module_api.hpp"
#include "xmpp/namespaces.hpp"

namespace parley::modules {

namespace {
constexpr std::string_view kPrivateNs = "jabber:iq:private";

constexpr store::PgStatement kLoad{
    "private_load", "SELECT payload FROM private_xml WHERE host = $1 AND username = $2 AND namespace = $3 AND name = $4"};
constexpr store::PgStatement kStore{
    "private_store",
    "INSERT INTO private_xml (host, username, namespace, name, payload) VALUES ($1, $2, $3, $4, $5)"
    " ON CONFLICT (host, username, namespace, name) DO UPDATE SET payload = EXCLUDED.payload"};

void declare_options(core::OptionRegistry& registry) {
  registry.add_section("modules.private", "Private XML storage (XEP-0049).");
  registry.add({"modules.private.max_bytes", core::OptionType::Size, "\"64KiB\"", 1024, 16 * 1024 * 1024, {},
                "Largest element a user may store under one name and namespace, serialized; a larger one is "
                "refused as not-acceptable.",
                true});
}

// XEP-0049 §3: only the account itself, exactly one child element, and not
// in a namespace the protocol reserves. Returns false after answering.
bool acceptable(const xmpp::IqRequest& request) {
  if (request.from().bare() != request.to().bare()) {
    request.error(xmpp::errors::forbidden, "private storage belongs to its account only");
    return false;
  }
  const xml::Element& query = request.payload();
  if (query.name() != "query" || query.element_count() != 1) {
    request.error(xmpp::errors::bad_request, "expected <query xmlns='jabber:iq:private'/> with one child element");
    return false;
  }
  std::string_view ns = query.children().front().ns();
  if (ns.empty() || ns == xmpp::ns::client || ns == xmpp::ns::server || ns == kPrivateNs) {
    request.error(xmpp::errors::not_acceptable, "the stored element needs a namespace of its own");
    return false;
  }
  return true;
}

xml::Element wrap(xml::Element child) {
  xml::Element query("query", std::string(kPrivateNs));
  query.append(std::move(child));
  return query;
}

void get(xmpp::ModuleContext& ctx, const xmpp::IqRequest& request) {
  if (!acceptable(request)) return;
  const xml::Element& asked = request.payload().children().front();
  const xmpp::Jid& owner = request.to();
  ctx.database().execute(kLoad, {owner.domain(), owner.node(), asked.ns(), asked.name()},
                         [request](store::PgResult&& result) {
                           if (!result.ok) return request.error(xmpp::errors::internal_server_error);
                           std::optional<xml::Element> stored;
                           if (result.size() == 1 && result.at(0, 0)) stored = xml::parse_element(*result.at(0, 0));
                           // XEP-0049 §2.2: nothing stored answers with the empty element asked for.
                           const xml::Element& asked = request.payload().children().front();
                           request.reply(wrap(stored ? std::move(*stored) : xml::Element(asked.name(), asked.ns())));
                         });
}

void set(xmpp::ModuleContext& ctx, uint64_t max_bytes, const xmpp::IqRequest& request) {
  if (!acceptable(request)) return;
  const xml::Element& element = request.payload().children().front();
  std::string text = xml::to_string(element);
  if (text.size() > max_bytes) {
    request.error(xmpp::errors::not_acceptable, "the element is larger than " + std::to_string(max_bytes) + " bytes");
    return;
  }
  const xmpp::Jid& owner = request.to();
  ctx.database().execute(kStore, {owner.domain(), owner.node(), element.ns(), element.name(), std::move(text)},
                         [request](store::PgResult&& result) {
                           if (!result.ok) return request.error(xmpp::errors::internal_server_error);
                           request.reply();
                         });
}

void start(xmpp::ModuleContext& ctx) {
  uint64_t max_bytes = ctx.option_size("max_bytes");
  ctx.add_disco_feature(std::string(kPrivateNs));
  ctx.on_iq(
      xmpp::IqType::Get, kPrivateNs, [&ctx](const xmpp::IqRequest& request) { get(ctx, request); },
      xmpp::IqTarget::Account);
  ctx.on_iq(
      xmpp::IqType::Set, kPrivateNs,
      [&ctx, max_bytes](const xmpp::IqRequest& request) { set(ctx, max_bytes, request); }, xmpp::IqTarget::Account);
}
}  // namespace

extern const xmpp::ModuleDefinition private_module{
    "private", "Private XML storage for each account.", {"XEP-0049"}, declare_options, start};

}  // namespace parley::modules
