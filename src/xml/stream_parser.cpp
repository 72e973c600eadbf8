#include "xml/stream_parser.hpp"

#include <openssl/rand.h>

#include <cstring>

namespace parley::xml {

namespace {

constexpr char kSeparator = '\x01';  // cannot occur in a namespace URI (not an XML character)
constexpr std::string_view kStreamsNs = "http://etherx.jabber.org/streams";
// Expat sees at most this much input between two limit checks.
constexpr size_t kSlice = 16 * 1024;

// Splits Expat's "uri<sep>local" into its parts.
void split_name(const XML_Char* raw, std::string& ns, std::string& local) {
  const char* sep = std::strchr(raw, kSeparator);
  if (!sep) {
    ns.clear();
    local = raw;
  } else {
    ns.assign(raw, static_cast<size_t>(sep - raw));
    local = sep + 1;
  }
}

bool all_whitespace(std::string_view text) {
  for (char c : text) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return false;
  }
  return true;
}

}  // namespace

std::string_view stream_error_condition(StreamError error) {
  switch (error) {
    case StreamError::NotWellFormed: return "not-well-formed";
    case StreamError::RestrictedXml: return "restricted-xml";
    case StreamError::PolicyViolation: return "policy-violation";
    case StreamError::InvalidNamespace: return "invalid-namespace";
    case StreamError::BadFormat: return "bad-format";
  }
  return "not-well-formed";
}

StreamParser::StreamParser(StreamHandler& handler, StreamLimits limits) : handler_(handler), limits_(limits) {
  create_parser();
}

StreamParser::~StreamParser() {
  if (parser_) XML_ParserFree(parser_);
}

void StreamParser::create_parser() {
  if (parser_) XML_ParserFree(parser_);
  parser_ = XML_ParserCreateNS(nullptr, kSeparator);
  unsigned long salt = 0;
  RAND_bytes(reinterpret_cast<unsigned char*>(&salt), sizeof salt);
  XML_SetHashSalt(parser_, salt);  // no predictable hash collisions on attribute names
  XML_SetParamEntityParsing(parser_, XML_PARAM_ENTITY_PARSING_NEVER);
  // Expat defers reparsing an incomplete token until much more input has
  // arrived (its CVE-2023-52425 fix). A stanza whose last bytes come in their
  // own TCP read would then wait for the next read. Our slice and stanza size
  // limits already bound the reparsing cost, so deliver at once.
  XML_SetReparseDeferralEnabled(parser_, XML_FALSE);
  XML_SetUserData(parser_, this);
  XML_SetElementHandler(parser_, on_start, on_end);
  XML_SetCharacterDataHandler(parser_, on_text);
  XML_SetStartNamespaceDeclHandler(parser_, on_namespace);
  XML_SetCommentHandler(parser_, on_restricted_comment);
  XML_SetProcessingInstructionHandler(parser_, on_restricted_pi);
  XML_SetStartDoctypeDeclHandler(parser_, on_restricted_doctype);
  XML_SetEntityDeclHandler(parser_, on_restricted_entity);
  depth_ = 0;
  open_.clear();
  stanza_ = Element();
  default_ns_.clear();
  stanza_start_ = 0;
  fed_ = 0;
  failed_ = false;
  reset_requested_ = false;
}

void StreamParser::reset() {
  if (in_callback_) {
    // Expat is on the stack: stop it now, rebuild once it has returned.
    reset_requested_ = true;
    XML_StopParser(parser_, XML_FALSE);
    return;
  }
  create_parser();
}

uint64_t StreamParser::position() const { return static_cast<uint64_t>(XML_GetCurrentByteIndex(parser_)); }

void StreamParser::fail(StreamError error, std::string_view text) {
  if (failed_) return;
  failed_ = true;
  if (in_callback_) XML_StopParser(parser_, XML_FALSE);
  handler_.on_stream_error(error, text);
}

void StreamParser::check_stanza_size() {
  if (fed_ - stanza_start_ > limits_.max_stanza_bytes) {
    fail(StreamError::PolicyViolation, "stanza too large");
  }
}

void StreamParser::feed(std::string_view bytes) {
  while (!bytes.empty() && !failed_) {
    std::string_view slice = bytes.substr(0, kSlice);
    bytes.remove_prefix(slice.size());
    fed_ += slice.size();
    in_callback_ = true;
    XML_Status status = XML_Parse(parser_, slice.data(), static_cast<int>(slice.size()), XML_FALSE);
    in_callback_ = false;
    if (reset_requested_) {
      create_parser();
      return;  // the rest belongs to the old stream (RFC 6120 §5.4.3.3)
    }
    if (failed_) return;
    if (status == XML_STATUS_ERROR) {
      XML_Error code = XML_GetErrorCode(parser_);
      switch (code) {
        case XML_ERROR_UNDEFINED_ENTITY:
        case XML_ERROR_RECURSIVE_ENTITY_REF:
        case XML_ERROR_BINARY_ENTITY_REF:
        case XML_ERROR_ATTRIBUTE_EXTERNAL_ENTITY_REF:
        case XML_ERROR_EXTERNAL_ENTITY_HANDLING:
        case XML_ERROR_MISPLACED_XML_PI:
          fail(StreamError::RestrictedXml, XML_ErrorString(code));
          break;
        default:
          fail(StreamError::NotWellFormed, XML_ErrorString(code));
      }
      return;
    }
    // Bytes pending inside Expat (a huge tag or text run) count as well.
    check_stanza_size();
  }
}

void XMLCALL StreamParser::on_start(void* data, const XML_Char* name, const XML_Char** atts) {
  auto* self = static_cast<StreamParser*>(data);
  if (self->failed_ || self->reset_requested_) return;
  size_t attribute_count = 0;
  while (atts[attribute_count * 2]) ++attribute_count;
  if (self->depth_ > 0 && attribute_count > self->limits_.max_attributes) {
    self->fail(StreamError::PolicyViolation, "too many attributes");
    return;
  }
  std::string ns, local;
  split_name(name, ns, local);
  Element element(std::move(local), std::move(ns));
  for (size_t i = 0; i < attribute_count; ++i) {
    std::string attr_ns, attr_name;
    split_name(atts[2 * i], attr_ns, attr_name);
    element.set_attr(std::move(attr_name), atts[2 * i + 1], std::move(attr_ns));
  }

  if (self->depth_ == 0) {
    self->depth_ = 1;
    if (element.ns() != kStreamsNs || element.name() != "stream") {
      self->fail(StreamError::InvalidNamespace, "the root must be <stream:stream>");
      return;
    }
    self->stanza_start_ = self->fed_;
    self->handler_.on_stream_open(element, self->default_ns_);
    return;
  }
  if (self->depth_ == 1) {
    self->stanza_start_ = self->position();
    self->stanza_ = std::move(element);
    self->open_.assign(1, &self->stanza_);
  } else {
    if (self->open_.size() >= self->limits_.max_depth) {
      self->fail(StreamError::PolicyViolation, "elements nested too deeply");
      return;
    }
    self->open_.push_back(&self->open_.back()->append(std::move(element)));
  }
  ++self->depth_;
}

void XMLCALL StreamParser::on_end(void* data, const XML_Char*) {
  auto* self = static_cast<StreamParser*>(data);
  if (self->failed_ || self->reset_requested_) return;
  --self->depth_;
  if (self->depth_ == 0) {
    self->handler_.on_stream_close();
    return;
  }
  self->open_.pop_back();
  if (self->depth_ == 1) {
    self->stanza_start_ = self->position();
    Element done = std::move(self->stanza_);
    self->stanza_ = Element();
    self->handler_.on_stanza(std::move(done));
  }
}

void XMLCALL StreamParser::on_text(void* data, const XML_Char* text, int len) {
  auto* self = static_cast<StreamParser*>(data);
  if (self->failed_ || self->reset_requested_) return;
  std::string_view chunk(text, static_cast<size_t>(len));
  if (self->depth_ == 1) {
    // Between stanzas only whitespace (keepalives) is allowed.
    if (!all_whitespace(chunk)) {
      self->fail(StreamError::BadFormat, "text outside a stanza");
      return;
    }
    self->stanza_start_ = self->position() + chunk.size();
    return;
  }
  if (!self->open_.empty()) self->open_.back()->append_text(chunk);
}

void XMLCALL StreamParser::on_namespace(void* data, const XML_Char* prefix, const XML_Char* uri) {
  auto* self = static_cast<StreamParser*>(data);
  if (self->depth_ == 0 && prefix == nullptr) self->default_ns_ = uri ? uri : "";
}

void XMLCALL StreamParser::on_restricted_comment(void* data, const XML_Char*) {
  static_cast<StreamParser*>(data)->fail(StreamError::RestrictedXml, "comments are not allowed");
}

void XMLCALL StreamParser::on_restricted_pi(void* data, const XML_Char*, const XML_Char*) {
  static_cast<StreamParser*>(data)->fail(StreamError::RestrictedXml, "processing instructions are not allowed");
}

void XMLCALL StreamParser::on_restricted_doctype(void* data, const XML_Char*, const XML_Char*, const XML_Char*, int) {
  // Stopping here, before the internal subset, is what defeats entity expansion attacks.
  static_cast<StreamParser*>(data)->fail(StreamError::RestrictedXml, "DTDs are not allowed");
}

void XMLCALL StreamParser::on_restricted_entity(void* data, const XML_Char*, int, const XML_Char*, int,
                                                const XML_Char*, const XML_Char*, const XML_Char*,
                                                const XML_Char*) {
  static_cast<StreamParser*>(data)->fail(StreamError::RestrictedXml, "entity declarations are not allowed");
}

}  // namespace parley::xml
