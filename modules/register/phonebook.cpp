// Contact discovery: which of the numbers a signed-in user sent have
// accounts here, and their JIDs — never more than that (no directory dump),
// within a daily quota of numbers per account. Two wire formats:
//   urn:parley:phonebook:0 (ours, docs/PROTOCOLS.md):
//     <query><item number='…'/>…</query> -> <query><item number='…' jid='…'/>…</query>
//   im.quicksy.synchronization:0 (Quicksy's app):
//     <phone-book ver='…'><entry number='+…'/>…</phone-book>
//     -> <phone-book ver='…'><entry number='+…'><jid>…</jid></entry>…</phone-book>,
//     or an empty result when the client's 'ver' already matches.
#include <openssl/evp.h>

#include "core/base64.hpp"
#include "modules/register/phone.hpp"
#include "modules/register/register_state.hpp"

namespace parley::modules::reg {

namespace {

struct Format {
  std::string_view ns, container, item;
  bool quicksy;
};
constexpr Format kParley{kPhonebookNs, "query", "item", false};
constexpr Format kQuicksy{kQuicksyNs, "phone-book", "entry", true};

// Quicksy's version of an answer: SHA-1 (base64) over the sorted entries,
// each "number" then "\x1e" + JID per account, entries joined by "\x1d".
std::string quicksy_version(const std::map<std::string, std::vector<std::string>>& entries) {
  std::string text;
  for (const auto& [number, jids] : entries) {
    if (!text.empty()) text += '\x1d';
    text += number;
    for (const std::string& jid : jids) text += '\x1e' + jid;
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha1(), nullptr);
  return core::base64_encode(std::string_view(reinterpret_cast<const char*>(digest), size));
}

void lookup_numbers(const std::shared_ptr<Shared>& shared, const xmpp::IqRequest& request, const Format& format) {
  if (request.from().node().empty() || request.from().domain() != shared->host) {
    return request.error(xmpp::errors::forbidden, "only this server's users may look up numbers");
  }
  const xml::Element& payload = request.payload();
  if (payload.name() != format.container) return request.error(xmpp::errors::bad_request, "unexpected element");
  // What the client sent, by the E.164 form we look up; numbers
  // libphonenumber rejects are simply not found (and not counted).
  std::map<std::string, std::vector<std::string>> sent_as;
  for (const xml::Element& item : payload.children()) {
    if (item.name() != format.item || item.ns() != format.ns) continue;
    std::string raw(item.attr("number"));
    if (std::optional<std::string> e164 = phone::normalise(raw, shared->region)) sent_as[*e164].push_back(raw);
  }
  std::vector<std::string> numbers;
  for (const auto& [e164, raws] : sent_as) numbers.push_back(e164);
  std::weak_ptr<Shared> weak = shared;
  lookup(*shared->db, shared->host, request.from().node(), numbers, shared->phonebook_quota,
         [weak, request, format, sent_as = std::move(sent_as),
          client_ver = std::string(payload.attr("ver"))](LookupOutcome outcome) {
           std::shared_ptr<Shared> s = weak.lock();
           if (!s) return;
           if (outcome.status == LookupStatus::QuotaExceeded) {
             return request.error(xmpp::errors::resource_constraint,
                                  "daily quota of " + std::to_string(s->phonebook_quota) +
                                      " numbers reached; retry after midnight UTC");
           }
           if (outcome.status != LookupStatus::Found) return request.error(kTemporary, "try later");
           // Per number as the client wrote it, the JIDs of its accounts.
           std::map<std::string, std::vector<std::string>> answer;
           for (const auto& [e164, usernames] : outcome.usernames) {
             auto raws = sent_as.find(e164);
             if (raws == sent_as.end()) continue;
             for (const std::string& raw : raws->second) {
               for (const std::string& username : usernames) answer[raw].push_back(username + "@" + s->host);
             }
           }
           xml::Element reply(std::string(format.container), std::string(format.ns));
           if (format.quicksy) {
             std::string ver = quicksy_version(answer);
             if (ver == client_ver) return request.reply();
             reply.set_attr("ver", ver);
           }
           for (const auto& [number, jids] : answer) {
             if (format.quicksy) {
               xml::Element& entry = reply.append(xml::Element("entry", std::string(format.ns)));
               entry.set_attr("number", number);
               for (const std::string& jid : jids) {
                 entry.append(xml::Element("jid", std::string(format.ns))).append_text(jid);
               }
               continue;
             }
             for (const std::string& jid : jids) {
               xml::Element& item = reply.append(xml::Element("item", std::string(format.ns)));
               item.set_attr("number", number);
               item.set_attr("jid", jid);
             }
           }
           request.reply(reply);
         });
}

}  // namespace

void handle_phonebook(const std::shared_ptr<Shared>& shared, const xmpp::IqRequest& request) {
  lookup_numbers(shared, request, kParley);
}

void handle_quicksy_phonebook(const std::shared_ptr<Shared>& shared, const xmpp::IqRequest& request) {
  lookup_numbers(shared, request, kQuicksy);
}

}  // namespace parley::modules::reg
