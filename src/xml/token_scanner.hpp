// Internal to the stream parser: follows the raw bytes of a stream closely
// enough to know whether they end inside a markup token that Expat can only
// report once its last byte has arrived (a tag, comment, processing
// instruction, declaration or entity reference), and where that token began.
//
// Why: with reparse deferral off (a stanza must be delivered as soon as it is
// complete), Expat rescans an unfinished token from its start on every call,
// so a huge tag trickled in one byte per read costs quadratic CPU
// (CVE-2023-52425). Knowing the token boundaries lets the parser hold bytes
// back while such a token is still open, without ever delaying a complete one.
#pragma once

#include <cstdint>
#include <string_view>

namespace parley::xml {

class TokenScanner {
public:
    // Advances over the next bytes of the stream.
    void scan(std::string_view bytes);
    // True if the bytes so far end inside a token Expat reports only whole.
    // Character data and CDATA content are reported piecewise, so not these.
    bool in_token() const;
    // Stream offset of the first byte of the open token (valid if in_token()).
    std::uint64_t token_start() const { return token_start_; }

private:
    enum class State : std::uint8_t {
        Text,
        Lt,            // after '<'
        Tag,           // start or end tag
        SingleQuoted,  // attribute value in a start tag
        DoubleQuoted,
        Bang,          // after "<!"
        Comment,       // until "-->"
        Cdata,         // until "]]>"
        Declaration,   // <!DOCTYPE …>, until '>'
        Pi,            // processing instruction or XML declaration, until "?>"
        Reference,     // '&' until ';'
    };

    State state_ = State::Text;
    std::uint8_t run_ = 0;  // trailing '-', ']' or '?' seen in the current state
    std::uint64_t offset_ = 0;
    std::uint64_t token_start_ = 0;
};

}  // namespace parley::xml
