#pragma once
// What a client asks of its archive (XEP-0313 §4): the filters of the data
// form and the page it wants (XEP-0059 result set management), checked.
#include <cstddef>
#include <optional>
#include <string>

#include "xml/element.hpp"
#include "xmpp/stanza.hpp"

namespace parley::modules::mam {

struct ArchiveQuery {
  std::string query_id;              // echoed in each result
  std::optional<std::string> with;   // a JID as given (bare or full)
  bool with_is_bare = true;
  std::optional<std::string> start;  // XEP-0082 date-times, inclusive bounds
  std::optional<std::string> end;
  std::optional<std::string> after;  // archive ids (stanza-ids) to page from
  std::optional<std::string> before;
  bool last_page = false;            // an empty <before/>: the newest page
  size_t max = 0;
};

struct QueryError {
  xmpp::StanzaErrorCondition condition;
  std::string text;
};

// Reads <query xmlns='urn:xmpp:mam:2'> with its form and <set/>; `max_page`
// caps (and is the default of) the page size.
std::optional<ArchiveQuery> parse_archive_query(const xml::Element& query, size_t max_page, QueryError& error);

// A XEP-0082 DateTime: CCYY-MM-DDThh:mm:ss[.sss](Z|(+|-)hh:mm).
bool is_xep0082_datetime(std::string_view text);

}  // namespace parley::modules::mam
