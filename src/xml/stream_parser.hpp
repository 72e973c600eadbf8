// Incremental parser for one XMPP stream (RFC 6120 §4, §11) on top of
// Expat's push parser with namespace processing.
//
// Bytes arrive in arbitrary pieces (TCP reads, TLS records, WebSocket frames);
// the parser turns them into three kinds of event: the stream header, each
// complete top-level child of the stream ("stanza", including <starttls/>,
// <auth/>, <stream:features/>), and the stream close. Anything that breaks
// the XMPP profile of XML ends the stream with one StreamError.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

#include "xml/element.hpp"

namespace parley::xml {

inline constexpr std::string_view streams_namespace = "http://etherx.jabber.org/streams";

struct StreamLimits {
    std::size_t max_stanza_bytes = 262144;  // raw input bytes for one stanza, or for the stream header
    std::size_t max_depth = 64;             // element nesting, the stanza element being depth 1
    std::size_t max_attributes = 64;        // attributes plus namespace declarations on one element
};

// Stream error conditions the parser detects (RFC 6120 §4.9.3).
enum class StreamError {
    NotWellFormed,        // §4.9.3.13: malformed XML, invalid UTF-8, unbound prefix
    RestrictedXml,        // §4.9.3.18 / §11.1: DTD, comment, PI, entity reference
    PolicyViolation,      // §4.9.3.14: a StreamLimits bound was exceeded
    InvalidNamespace,     // §4.9.3.10: root is not {http://etherx.jabber.org/streams}stream
    BadFormat,            // §4.9.3.1: non-whitespace text directly inside the stream root
    UnsupportedEncoding,  // §4.9.3.22 / §11.6: XML declaration names an encoding other than UTF-8
};

// The RFC 6120 element name of the condition, e.g. "not-well-formed".
std::string_view stream_error_condition(StreamError error);

// Receives the events of one stream. Callbacks run inside StreamParser::feed();
// they may call reset() or stop() on the parser but must not destroy it.
class StreamHandler {
public:
    virtual ~StreamHandler() = default;
    // <stream:stream>: `root` has the root's name, namespace and attributes,
    // no children; `default_ns` is the default namespace the header declares
    // ("jabber:client", "jabber:server", or empty).
    virtual void on_stream_open(const Element& root, std::string_view default_ns) = 0;
    // One complete top-level child of the stream root.
    virtual void on_stanza(Element&& element) = 0;
    // </stream:stream>; the parser ignores further input until reset().
    virtual void on_stream_close() = 0;
    // The stream is unusable; no more events until reset(). `text` is a
    // human-readable detail for logs, not for the peer.
    virtual void on_stream_error(StreamError error, std::string_view text) = 0;
};

class StreamParser {
public:
    explicit StreamParser(StreamHandler& handler, StreamLimits limits = {});
    ~StreamParser();
    StreamParser(const StreamParser&) = delete;
    StreamParser& operator=(const StreamParser&) = delete;

    // Parses the next piece of the stream, delivering events synchronously.
    // Ignored after an error, a stream close or stop(), until reset().
    // An exception thrown by a handler callback propagates out of feed()
    // (never through Expat) and leaves the parser stopped.
    void feed(std::string_view bytes);

    // Starts over for a new stream on the same connection (after STARTTLS or
    // SASL success, RFC 6120 §5.4.3.3, §6.4.6). From inside a callback the
    // rest of the current chunk is discarded and the next feed() begins the
    // new stream.
    void reset();
    // Delivers no further events until reset(); callable from a callback.
    void stop();

    // Takes effect for the bytes fed from now on.
    void set_limits(StreamLimits limits);

    // True once on_stream_error has been reported (until reset()).
    bool failed() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace parley::xml
