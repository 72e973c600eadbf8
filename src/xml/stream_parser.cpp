#include "xml/stream_parser.hpp"

#include "xml/token_scanner.hpp"

#include <expat.h>
#include <sys/random.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <exception>
#include <new>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace parley::xml {

namespace {

// Expat joins namespace URI and local name with this byte. It cannot occur
// in XML 1.0 text (XML 1.0 §2.2), so it never collides with a URI.
constexpr char ns_separator = '\x01';

// Below this size an unfinished token is cheap to rescan; above it the
// parser holds new bytes back until the token ends or its size doubles.
constexpr std::uint64_t reparse_guard_bytes = 4096;

struct QName {
    std::string_view ns;
    std::string_view local;
};

QName split_name(const XML_Char* expat_name) {
    std::string_view name(expat_name);
    const std::size_t sep = name.rfind(ns_separator);
    if (sep == std::string_view::npos) return {{}, name};
    return {name.substr(0, sep), name.substr(sep + 1)};
}

bool is_xml_whitespace(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; });
}

bool is_utf8_label(std::string_view encoding) {
    constexpr std::string_view utf8 = "utf-8";
    return std::equal(encoding.begin(), encoding.end(), utf8.begin(), utf8.end(),
                      [](char a, char b) { return (a >= 'A' && a <= 'Z' ? char(a - 'A' + 'a') : a) == b; });
}

StreamError classify(XML_Error code) {
    switch (code) {
        // Only reachable through entity references or declarations, which
        // RFC 6120 §11.1 forbids beyond the five predefined entities.
        case XML_ERROR_UNDEFINED_ENTITY:
        case XML_ERROR_PARAM_ENTITY_REF:
        case XML_ERROR_RECURSIVE_ENTITY_REF:
        case XML_ERROR_ASYNC_ENTITY:
        case XML_ERROR_BINARY_ENTITY_REF:
        case XML_ERROR_ATTRIBUTE_EXTERNAL_ENTITY_REF:
        case XML_ERROR_EXTERNAL_ENTITY_HANDLING:
        case XML_ERROR_ENTITY_DECLARED_IN_PE:
        case XML_ERROR_AMPLIFICATION_LIMIT_BREACH:
        case XML_ERROR_MISPLACED_XML_PI:  // "<?xml" after the start is a processing instruction
            return StreamError::RestrictedXml;
        case XML_ERROR_UNKNOWN_ENCODING:
        case XML_ERROR_INCORRECT_ENCODING:
            return StreamError::UnsupportedEncoding;
        default:
            return StreamError::NotWellFormed;
    }
}

}  // namespace

std::string_view stream_error_condition(StreamError error) {
    switch (error) {
        case StreamError::NotWellFormed: return "not-well-formed";
        case StreamError::RestrictedXml: return "restricted-xml";
        case StreamError::PolicyViolation: return "policy-violation";
        case StreamError::InvalidNamespace: return "invalid-namespace";
        case StreamError::BadFormat: return "bad-format";
        case StreamError::UnsupportedEncoding: return "unsupported-encoding";
    }
    return "undefined-condition";
}

struct StreamParser::Impl {
    enum class State { Active, Stopped, Closed, Failed };

    struct ParserDeleter {
        void operator()(XML_Parser p) const { XML_ParserFree(p); }
    };

    StreamHandler& handler;
    StreamLimits limits;
    std::unique_ptr<std::remove_pointer_t<XML_Parser>, ParserDeleter> parser;
    State state = State::Active;

    // Set while Expat is on the stack: requests from callbacks are deferred
    // until XML_Parse has returned.
    bool in_parse = false;
    bool halted = false;  // no more callbacks for this XML_Parse call
    bool reset_requested = false;
    std::optional<std::pair<StreamError, std::string>> pending_error;
    std::exception_ptr pending_exception;

    // Byte accounting for max_stanza_bytes, in offsets from the stream start:
    // `fed` is what Expat has been given, `held` what arrived after it but is
    // not worth parsing yet, `boundary` the end of the last complete unit
    // (stream header, stanza, whitespace keepalive).
    std::uint64_t fed = 0;
    std::string held;
    std::uint64_t boundary = 0;
    TokenScanner scanner;

    std::size_t depth = 0;          // open elements, stream root included
    std::size_t pending_decls = 0;  // namespace declarations of the element being opened
    std::string root_default_ns;
    Element stanza{std::string()};
    std::vector<Element*> open;  // path from `stanza` to the innermost open element

    Impl(StreamHandler& h, StreamLimits l) : handler(h), limits(l) { restart(); }

    void restart() {
        parser.reset(XML_ParserCreateNS("UTF-8", ns_separator));  // RFC 6120 §11.6: UTF-8 only
        if (!parser) throw std::bad_alloc();
        XML_Parser p = parser.get();
        unsigned long salt = 0;
        // Hash flooding defence; without kernel entropy yet, Expat's own salt stays.
        if (getrandom(&salt, sizeof salt, GRND_NONBLOCK) == static_cast<ssize_t>(sizeof salt))
            XML_SetHashSalt(p, salt);
        XML_SetParamEntityParsing(p, XML_PARAM_ENTITY_PARSING_NEVER);
#ifdef PARLEY_EXPAT_HAS_REPARSE_DEFERRAL
        // Deferral would hold back a complete stanza until more bytes arrive,
        // and an XMPP peer waits for our answer before sending more. The
        // quadratic rescanning it guards against is prevented in feed()
        // with the TokenScanner instead.
        XML_SetReparseDeferralEnabled(p, XML_FALSE);
#endif
        XML_SetUserData(p, this);
        XML_SetXmlDeclHandler(p, &on_xml_decl);
        XML_SetStartNamespaceDeclHandler(p, &on_namespace_decl);
        XML_SetElementHandler(p, &on_start, &on_end);
        XML_SetCharacterDataHandler(p, &on_text);
        // RFC 6120 §11.1: none of these may appear in a stream.
        XML_SetStartDoctypeDeclHandler(p, &on_doctype);
        XML_SetEntityDeclHandler(p, &on_entity_decl);
        XML_SetCommentHandler(p, &on_comment);
        XML_SetProcessingInstructionHandler(p, &on_processing_instruction);

        state = State::Active;
        halted = false;
        reset_requested = false;
        pending_error.reset();
        fed = 0;
        held.clear();
        boundary = 0;
        scanner = TokenScanner();
        depth = 0;
        pending_decls = 0;
        root_default_ns.clear();
        open.clear();
    }

    // Ends delivery for the current XML_Parse call; only valid inside it.
    void halt() {
        halted = true;
        XML_StopParser(parser.get(), XML_FALSE);
    }

    void fail_in_callback(StreamError error, std::string text) {
        pending_error.emplace(error, std::move(text));
        halt();
    }

    void report(StreamError error, std::string_view text) {
        state = State::Failed;
        handler.on_stream_error(error, text);  // may reset()
    }

    std::uint64_t end_of_current_event() const {
        return static_cast<std::uint64_t>(XML_GetCurrentByteIndex(parser.get())) +
               static_cast<std::uint64_t>(XML_GetCurrentByteCount(parser.get()));
    }

    void feed(std::string_view bytes) {
        if (in_parse) return;  // feeding from inside a callback is not supported
        // RFC 6120 §11.6: UTF-8 only. Expat follows a UTF-16 byte order mark
        // whatever encoding it was created with; 0xFE and 0xFF never occur
        // in UTF-8, so a document starting with either starts with that mark.
        if (state == State::Active && fed == 0 && held.empty() && !bytes.empty() &&
            (static_cast<unsigned char>(bytes[0]) == 0xFE || static_cast<unsigned char>(bytes[0]) == 0xFF)) {
            report(StreamError::UnsupportedEncoding, "UTF-16 byte order mark");
            return;
        }
        while (state == State::Active) {
            const std::uint64_t unit_bytes = fed + held.size() - boundary;
            if (unit_bytes > limits.max_stanza_bytes) {
                report(StreamError::PolicyViolation, "stanza or stream header exceeds max_stanza_bytes");
                return;
            }
            if (bytes.empty()) return;
            // Accept at most one byte beyond the limit, so an oversized
            // stanza or header is refused without being buffered.
            const std::uint64_t allowance = limits.max_stanza_bytes - unit_bytes + 1;
            const std::string_view slice = bytes.substr(
                0, static_cast<std::size_t>(std::min<std::uint64_t>({bytes.size(), allowance, INT_MAX / 2})));
            bytes.remove_prefix(slice.size());
            scanner.scan(slice);
            if (worth_holding(slice.size())) {
                held.append(slice);
                continue;
            }
            if (held.empty()) {
                if (!parse(slice)) return;
            } else {
                held.append(slice);
                const std::string pending = std::exchange(held, std::string());
                if (!parse(pending)) return;
            }
        }
    }

    // True if Expat already holds a long unfinished token that these new
    // bytes do not finish and would only make it rescan. Holding until the
    // new bytes match what Expat has keeps the total rescanning linear.
    bool worth_holding(std::size_t new_bytes) const {
        if (!scanner.in_token() || scanner.token_start() >= fed) return false;
        const std::uint64_t parsed_part = fed - scanner.token_start();
        return parsed_part >= reparse_guard_bytes && held.size() + new_bytes < parsed_part;
    }

    // One XML_Parse call; false ends the current feed.
    bool parse(std::string_view chunk) {
        halted = false;
        in_parse = true;
        const XML_Status status = XML_Parse(parser.get(), chunk.data(), static_cast<int>(chunk.size()), XML_FALSE);
        in_parse = false;
        fed += chunk.size();
        return after_parse(status);
    }

    // Acts on what happened during XML_Parse.
    bool after_parse(XML_Status status) {
        if (pending_exception) {
            state = State::Stopped;
            std::rethrow_exception(std::exchange(pending_exception, nullptr));
        }
        if (reset_requested) {
            restart();
            return false;
        }
        if (pending_error) {
            auto [error, text] = std::move(*pending_error);
            pending_error.reset();
            report(error, text);
            return false;
        }
        if (state != State::Active) return false;  // stop() or stream close
        if (status == XML_STATUS_ERROR) {
            const XML_Error code = XML_GetErrorCode(parser.get());
            report(classify(code), XML_ErrorString(code));
            return false;
        }
        return true;
    }

    // Runs a callback body unless delivery has stopped; exceptions are kept
    // for feed() to rethrow because they must not unwind through Expat.
    template <typename Body>
    static void guarded(void* user_data, Body&& body) noexcept {
        auto* self = static_cast<Impl*>(user_data);
        if (self->halted) return;
        try {
            body(*self);
        } catch (...) {
            self->pending_exception = std::current_exception();
            self->halt();
        }
    }

    std::vector<Attribute> read_attributes(const XML_Char** atts) {
        std::size_t count = 0;
        while (atts[2 * count]) ++count;
        if (count + pending_decls > limits.max_attributes) {
            fail_in_callback(StreamError::PolicyViolation, "too many attributes");
            return {};
        }
        std::vector<Attribute> attributes;
        attributes.reserve(count);
        for (std::size_t i = 0; i < count; ++i) {
            const QName q = split_name(atts[2 * i]);
            attributes.push_back(Attribute{std::string(q.local), std::string(atts[2 * i + 1]), std::string(q.ns)});
        }
        return attributes;
    }

    void start_element(const XML_Char* name, const XML_Char** atts) {
        std::vector<Attribute> attributes = read_attributes(atts);
        pending_decls = 0;
        if (halted) return;
        const QName q = split_name(name);
        ++depth;
        if (depth == 1) {
            // RFC 6120 §4.8.1 / §4.9.3.10
            if (q.ns != streams_namespace || q.local != "stream") {
                fail_in_callback(StreamError::InvalidNamespace, "root is not {http://etherx.jabber.org/streams}stream");
                return;
            }
            if (!close_unit()) return;
            const Element root(std::string(q.local), std::string(q.ns), std::move(attributes));
            handler.on_stream_open(root, root_default_ns);
            return;
        }
        if (depth - 1 > limits.max_depth) {
            fail_in_callback(StreamError::PolicyViolation, "element nesting exceeds max_depth");
            return;
        }
        Element element(std::string(q.local), std::string(q.ns), std::move(attributes));
        if (depth == 2) {
            stanza = std::move(element);
            open.assign(1, &stanza);
        } else {
            // Only the innermost element gains children, so pointers to its
            // ancestors on `open` stay valid.
            open.push_back(&open.back()->append(std::move(element)));
        }
    }

    // Moves the boundary to the end of the unit that just completed. feed()
    // lets Expat see one byte beyond the limit so that an oversized unit is
    // noticed without being buffered; a unit that ends on that very byte is
    // refused here.
    bool close_unit() {
        const std::uint64_t end = end_of_current_event();
        if (end - boundary > limits.max_stanza_bytes) {
            fail_in_callback(StreamError::PolicyViolation, "stanza or stream header exceeds max_stanza_bytes");
            return false;
        }
        boundary = end;
        return true;
    }

    void end_element() {
        --depth;
        if (depth == 0) {
            state = State::Closed;
            halt();  // bytes after </stream:stream> are not ours to parse
            handler.on_stream_close();
            return;
        }
        open.pop_back();
        if (open.empty()) {
            if (!close_unit()) return;
            handler.on_stanza(std::move(stanza));
        }
    }

    void text(std::string_view data) {
        if (depth >= 2) {
            open.back()->append_text(data);
        } else if (is_xml_whitespace(data)) {
            boundary = end_of_current_event();  // whitespace keepalive, RFC 6120 §4.6.1
        } else {
            fail_in_callback(StreamError::BadFormat, "text directly inside the stream root");
        }
    }

    static void XMLCALL on_start(void* ud, const XML_Char* name, const XML_Char** atts) {
        guarded(ud, [&](Impl& self) { self.start_element(name, atts); });
    }
    static void XMLCALL on_end(void* ud, const XML_Char*) {
        guarded(ud, [](Impl& self) { self.end_element(); });
    }
    static void XMLCALL on_text(void* ud, const XML_Char* s, int len) {
        guarded(ud, [&](Impl& self) { self.text(std::string_view(s, static_cast<std::size_t>(len))); });
    }
    static void XMLCALL on_namespace_decl(void* ud, const XML_Char* prefix, const XML_Char* uri) {
        guarded(ud, [&](Impl& self) {
            ++self.pending_decls;
            if (self.depth == 0 && prefix == nullptr) self.root_default_ns = uri ? uri : "";
        });
    }
    static void XMLCALL on_xml_decl(void* ud, const XML_Char*, const XML_Char* encoding, int) {
        guarded(ud, [&](Impl& self) {
            if (encoding && !is_utf8_label(encoding))
                self.fail_in_callback(StreamError::UnsupportedEncoding, "encoding other than UTF-8");
        });
    }
    static void XMLCALL on_doctype(void* ud, const XML_Char*, const XML_Char*, const XML_Char*, int) {
        // Refused here, before any entity declaration is read, so entity
        // expansion attacks ("billion laughs") never start.
        guarded(ud, [](Impl& self) { self.fail_in_callback(StreamError::RestrictedXml, "DTD"); });
    }
    static void XMLCALL on_entity_decl(void* ud, const XML_Char*, int, const XML_Char*, int, const XML_Char*,
                                       const XML_Char*, const XML_Char*, const XML_Char*) {
        guarded(ud, [](Impl& self) { self.fail_in_callback(StreamError::RestrictedXml, "entity declaration"); });
    }
    static void XMLCALL on_comment(void* ud, const XML_Char*) {
        guarded(ud, [](Impl& self) { self.fail_in_callback(StreamError::RestrictedXml, "comment"); });
    }
    static void XMLCALL on_processing_instruction(void* ud, const XML_Char*, const XML_Char*) {
        guarded(ud, [](Impl& self) { self.fail_in_callback(StreamError::RestrictedXml, "processing instruction"); });
    }
};

StreamParser::StreamParser(StreamHandler& handler, StreamLimits limits)
    : impl_(std::make_unique<Impl>(handler, limits)) {}

StreamParser::~StreamParser() = default;

void StreamParser::feed(std::string_view bytes) { impl_->feed(bytes); }

void StreamParser::reset() {
    if (impl_->in_parse) {
        impl_->reset_requested = true;
        impl_->halt();
    } else {
        impl_->restart();
    }
}

void StreamParser::stop() {
    if (impl_->in_parse) impl_->halt();
    impl_->state = Impl::State::Stopped;
}

void StreamParser::set_limits(StreamLimits limits) { impl_->limits = limits; }

bool StreamParser::failed() const { return impl_->state == Impl::State::Failed; }

}  // namespace parley::xml
