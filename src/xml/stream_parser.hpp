#pragma once
// Expat push parser for one XMPP stream (RFC 6120 §4, §11): bytes in, stream
// events out. The stream root is not a stanza; each complete top-level child
// is handed over as an Element. Restricted XML and the size limits are
// enforced while parsing, so hostile input is refused before it is buffered.
#include <expat.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "xml/element.hpp"

namespace parley::xml {

struct StreamLimits {
  size_t max_stanza_bytes = 256 * 1024;
  size_t max_depth = 64;  // nesting inside a stanza, the stanza element being 1
  size_t max_attributes = 64;
};

enum class StreamError { NotWellFormed, RestrictedXml, PolicyViolation, InvalidNamespace, BadFormat };
// The RFC 6120 §4.9.3 condition element name.
std::string_view stream_error_condition(StreamError error);

class StreamHandler {
 public:
  // The <stream:stream> root (attributes only) and its default namespace.
  virtual void on_stream_open(const Element& root, std::string_view default_ns) = 0;
  virtual void on_stanza(Element&& element) = 0;
  virtual void on_stream_close() = 0;
  // After an error no more events come until reset().
  virtual void on_stream_error(StreamError error, std::string_view text) = 0;

 protected:
  ~StreamHandler() = default;
};

class StreamParser {
 public:
  StreamParser(StreamHandler& handler, StreamLimits limits = {});
  ~StreamParser();
  StreamParser(const StreamParser&) = delete;
  StreamParser& operator=(const StreamParser&) = delete;

  void feed(std::string_view bytes);
  // Starts a fresh stream (after STARTTLS or SASL success). Callable from
  // inside a handler callback: the rest of the current chunk is discarded.
  void reset();
  void set_limits(StreamLimits limits) { limits_ = limits; }
  bool failed() const { return failed_; }

 private:
  static void XMLCALL on_start(void* self, const XML_Char* name, const XML_Char** atts);
  static void XMLCALL on_end(void* self, const XML_Char* name);
  static void XMLCALL on_text(void* self, const XML_Char* text, int len);
  static void XMLCALL on_namespace(void* self, const XML_Char* prefix, const XML_Char* uri);
  static void XMLCALL on_restricted_comment(void* self, const XML_Char* data);
  static void XMLCALL on_restricted_pi(void* self, const XML_Char* target, const XML_Char* data);
  static void XMLCALL on_restricted_doctype(void* self, const XML_Char* name, const XML_Char* sysid,
                                            const XML_Char* pubid, int has_internal_subset);
  static void XMLCALL on_restricted_entity(void* self, const XML_Char* name, int is_parameter,
                                           const XML_Char* value, int value_length, const XML_Char* base,
                                           const XML_Char* system_id, const XML_Char* public_id,
                                           const XML_Char* notation);

  void create_parser();
  void fail(StreamError error, std::string_view text);
  void check_stanza_size();
  uint64_t position() const;

  StreamHandler& handler_;
  StreamLimits limits_;
  XML_Parser parser_ = nullptr;
  size_t depth_ = 0;                 // 0: outside the root, 1: inside the root
  std::vector<Element*> open_;       // elements of the stanza being built
  Element stanza_;
  std::string default_ns_;           // declared on the stream root
  uint64_t stanza_start_ = 0;        // byte offset where the current stanza (or gap) began
  uint64_t fed_ = 0;                 // bytes given to Expat for this stream
  bool failed_ = false;
  bool reset_requested_ = false;
  bool in_callback_ = false;
};

}  // namespace parley::xml
