// Finds the boundaries of top-level elements in an XMPP stream without
// parsing them: the load generator only needs to know where a stanza ends
// and what its first bytes are. Not a conformance checker.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace parley::bench {

class StanzaScanner {
 public:
  enum class Event {
    need_more,    // no complete item buffered yet
    stream_open,  // the <stream:stream ...> header (text() is the tag)
    stanza,       // one complete top-level element (text() is all of it)
    stream_close, // </stream:stream>
    malformed,    // something this scanner does not handle (comment, CDATA, stray close)
  };

  // Appends bytes received from the peer (plaintext, after TLS).
  void feed(std::string_view bytes);

  // Returns the next complete item; text() stays valid until the next call
  // to next(), feed() or reset().
  Event next();
  std::string_view text() const { return text_; }

  // Forgets everything: a stream restart (RFC 6120 §5.4.3.3, §6.4.6)
  // begins a fresh stream with a new header.
  void reset();

  // Bytes buffered and not yet returned as an item.
  std::size_t buffered() const { return buffer_.size() - consumed_; }

 private:
  void compact();

  std::string buffer_;
  std::size_t consumed_ = 0;     // everything before this was returned
  std::size_t scan_pos_ = 0;     // where the next tag search starts
  std::size_t stanza_start_ = 0; // start of the element being collected
  int depth_ = 0;                // element depth inside the stanza
  bool stream_open_ = false;
  std::string_view text_;
};

// Local name of a stanza's root element: "<stream:features ..." -> "features".
std::string_view root_name(std::string_view stanza);

// Value of attribute `name` on a stanza's root element ('...' or "..."),
// empty if absent. Entities are not decoded: the generator only compares
// JIDs, ids and types, which it or the server chose plainly.
std::string_view root_attribute(std::string_view stanza, std::string_view name);

// Number of elements named `name` (as written, prefix included) anywhere
// in the stanza, the root included: "<item" counts, "<items" does not.
std::size_t count_elements(std::string_view stanza, std::string_view name);

}  // namespace parley::bench
