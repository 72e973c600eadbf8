#include "stanza_scanner.hpp"

namespace parley::bench {

void StanzaScanner::feed(std::string_view bytes) {
  compact();
  buffer_.append(bytes);
}

void StanzaScanner::reset() {
  buffer_.clear();
  consumed_ = scan_pos_ = stanza_start_ = 0;
  depth_ = 0;
  stream_open_ = false;
  text_ = {};
}

// Drops returned bytes so the buffer does not grow with the stream; offsets
// shift with it. Only called from feed(), when no text_ view is promised.
void StanzaScanner::compact() {
  if (consumed_ == 0) return;
  buffer_.erase(0, consumed_);
  scan_pos_ -= consumed_;
  stanza_start_ = stanza_start_ >= consumed_ ? stanza_start_ - consumed_ : 0;
  consumed_ = 0;
}

StanzaScanner::Event StanzaScanner::next() {
  text_ = {};
  const std::string_view buf(buffer_);
  while (true) {
    const std::size_t lt = buf.find('<', scan_pos_);
    if (lt == std::string_view::npos) {
      // Character data between tags: nothing to return yet.
      scan_pos_ = buf.size();
      if (depth_ == 0) consumed_ = scan_pos_;
      return Event::need_more;
    }
    if (lt + 1 >= buf.size()) return Event::need_more;
    if (buf[lt + 1] == '!') return Event::malformed;  // comments, CDATA, DTD: servers don't send them

    // Find the tag's end; '>' may appear unescaped inside attribute values.
    std::size_t gt = std::string_view::npos;
    char quote = 0;
    for (std::size_t i = lt + 1; i < buf.size(); ++i) {
      const char c = buf[i];
      if (quote) {
        if (c == quote) quote = 0;
      } else if (c == '\'' || c == '"') {
        quote = c;
      } else if (c == '>') {
        gt = i;
        break;
      }
    }
    if (gt == std::string_view::npos) {
      scan_pos_ = lt;  // resume at this tag when more bytes arrive
      return Event::need_more;
    }
    scan_pos_ = gt + 1;

    if (buf[lt + 1] == '?') {  // XML declaration
      if (depth_ == 0) consumed_ = scan_pos_;
      continue;
    }
    if (buf[lt + 1] == '/') {  // end tag
      if (depth_ == 0) {
        if (!stream_open_) return Event::malformed;
        stream_open_ = false;
        consumed_ = scan_pos_;
        text_ = buf.substr(lt, scan_pos_ - lt);
        return Event::stream_close;
      }
      if (--depth_ == 0) {
        consumed_ = scan_pos_;
        text_ = buf.substr(stanza_start_, scan_pos_ - stanza_start_);
        return Event::stanza;
      }
      continue;
    }
    const bool self_closing = buf[gt - 1] == '/';
    if (!stream_open_) {  // the first start tag of a stream is its header
      stream_open_ = true;
      consumed_ = scan_pos_;
      text_ = buf.substr(lt, scan_pos_ - lt);
      return Event::stream_open;
    }
    if (depth_ == 0) stanza_start_ = lt;
    if (self_closing) {
      if (depth_ == 0) {
        consumed_ = scan_pos_;
        text_ = buf.substr(lt, scan_pos_ - lt);
        return Event::stanza;
      }
      continue;
    }
    ++depth_;
  }
}

std::string_view root_name(std::string_view stanza) {
  if (stanza.size() < 2 || stanza[0] != '<') return {};
  std::size_t end = 1;
  while (end < stanza.size() && stanza[end] != ' ' && stanza[end] != '>' && stanza[end] != '/' &&
         stanza[end] != '\t' && stanza[end] != '\n' && stanza[end] != '\r')
    ++end;
  const std::string_view name = stanza.substr(1, end - 1);
  const std::size_t colon = name.find(':');
  return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

// Only the start tag is searched, and a match must follow whitespace, so
// "id" does not match inside "xml:id" or a child's attribute.
std::string_view root_attribute(std::string_view stanza, std::string_view name) {
  const std::string_view tag = stanza.substr(0, stanza.find('>'));
  std::size_t pos = 0;
  while ((pos = tag.find(name, pos)) != std::string_view::npos) {
    const std::size_t eq = pos + name.size();
    if (pos > 0 && (tag[pos - 1] == ' ' || tag[pos - 1] == '\t' || tag[pos - 1] == '\n') && eq + 1 < tag.size() &&
        tag[eq] == '=' && (tag[eq + 1] == '\'' || tag[eq + 1] == '"')) {
      const char quote = tag[eq + 1];
      const std::size_t end = tag.find(quote, eq + 2);
      if (end == std::string_view::npos) return {};
      return tag.substr(eq + 2, end - eq - 2);
    }
    pos = eq;
  }
  return {};
}

std::size_t count_elements(std::string_view stanza, std::string_view name) {
  std::size_t count = 0;
  for (std::size_t at = stanza.find('<'); at != std::string_view::npos; at = stanza.find('<', at + 1)) {
    if (stanza.substr(at + 1, name.size()) != name) continue;
    const std::size_t after = at + 1 + name.size();
    const char next = after < stanza.size() ? stanza[after] : '\0';
    if (next == ' ' || next == '/' || next == '>' || next == '\t' || next == '\n' || next == '\r') ++count;
  }
  return count;
}

}  // namespace parley::bench
