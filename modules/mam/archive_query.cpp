#include "modules/mam/archive_query.hpp"

#include <cctype>
#include <charconv>

#include "xmpp/jid.hpp"

namespace parley::modules::mam {

namespace {

constexpr std::string_view kNs = "urn:xmpp:mam:2";
constexpr std::string_view kDataNs = "jabber:x:data";
constexpr std::string_view kRsmNs = "http://jabber.org/protocol/rsm";  // XEP-0059

bool digits(std::string_view text, size_t from, size_t count) {
  if (from + count > text.size()) return false;
  for (size_t i = from; i < from + count; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return false;
  }
  return true;
}

int number(std::string_view text, size_t from, size_t count) {
  int value = 0;
  std::from_chars(text.data() + from, text.data() + from + count, value);
  return value;
}

std::optional<std::string> field_value(const xml::Element& field) {
  const xml::Element* value = field.first_child("value", kDataNs);
  if (!value) return std::nullopt;
  return value->text();
}

}  // namespace

bool is_xep0082_datetime(std::string_view t) {
  // CCYY-MM-DDThh:mm:ss
  if (t.size() < 20 || !digits(t, 0, 4) || t[4] != '-' || !digits(t, 5, 2) || t[7] != '-' || !digits(t, 8, 2) ||
      t[10] != 'T' || !digits(t, 11, 2) || t[13] != ':' || !digits(t, 14, 2) || t[16] != ':' || !digits(t, 17, 2)) {
    return false;
  }
  int month = number(t, 5, 2), day = number(t, 8, 2), hour = number(t, 11, 2), minute = number(t, 14, 2),
      second = number(t, 17, 2);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return false;
  size_t at = 19;
  if (t[at] == '.') {  // fractions of a second
    size_t first = ++at;
    while (at < t.size() && std::isdigit(static_cast<unsigned char>(t[at]))) ++at;
    if (at == first) return false;
  }
  std::string_view zone = t.substr(at);
  if (zone == "Z") return true;
  return zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && digits(zone, 1, 2) && zone[3] == ':' &&
         digits(zone, 4, 2) && number(zone, 1, 2) <= 23 && number(zone, 4, 2) <= 59;
}

std::optional<ArchiveQuery> parse_archive_query(const xml::Element& query, size_t max_page, QueryError& error) {
  auto fail = [&error](xmpp::StanzaErrorCondition condition, std::string text) {
    error = {condition, std::move(text)};
    return std::nullopt;
  };
  ArchiveQuery q;
  q.query_id = std::string(query.attr("queryid"));
  q.max = max_page;
  if (const xml::Element* form = query.first_child("x", kDataNs)) {
    for (const xml::Element& field : form->children()) {
      if (field.name() != "field") continue;
      std::string_view var = field.attr("var");
      std::optional<std::string> value = field_value(field);
      if (var == "FORM_TYPE") {
        if (value != std::string(kNs)) return fail(xmpp::errors::bad_request, "FORM_TYPE must be urn:xmpp:mam:2");
      } else if (var == "with") {
        std::optional<xmpp::Jid> with = value ? xmpp::Jid::parse(*value) : std::nullopt;
        if (!with) return fail(xmpp::errors::bad_request, "'with' is not a valid JID");
        q.with_is_bare = with->is_bare();
        q.with = with->str();
      } else if (var == "start" || var == "end") {
        if (!value || !is_xep0082_datetime(*value)) {
          return fail(xmpp::errors::bad_request, "'" + std::string(var) + "' is not a XEP-0082 date-time");
        }
        (var == "start" ? q.start : q.end) = *value;
      } else if (var == "after-id" || var == "before-id") {
        if (!value || value->empty()) return fail(xmpp::errors::bad_request, "'" + std::string(var) + "' is empty");
        (var == "after-id" ? q.after : q.before) = *value;
      } else {
        return fail(xmpp::errors::feature_not_implemented, "no filter '" + std::string(var) + "' here");
      }
    }
  }
  if (const xml::Element* set = query.first_child("set", kRsmNs)) {
    if (const xml::Element* max = set->first_child("max", kRsmNs)) {
      std::string text = max->text();
      size_t wanted = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), wanted);
      if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
        return fail(xmpp::errors::bad_request, "<max/> must be a non-negative integer");
      }
      q.max = std::min(wanted, max_page);
    }
    if (set->first_child("index", kRsmNs)) {
      return fail(xmpp::errors::feature_not_implemented, "pages are chosen with <after/> and <before/>");
    }
    if (const xml::Element* after = set->first_child("after", kRsmNs)) {
      if (after->text().empty()) return fail(xmpp::errors::bad_request, "<after/> needs an id");
      q.after = after->text();
    }
    if (const xml::Element* before = set->first_child("before", kRsmNs)) {
      if (before->text().empty()) {
        q.last_page = true;
      } else {
        q.before = before->text();
      }
    }
  }
  return q;
}

}  // namespace parley::modules::mam
