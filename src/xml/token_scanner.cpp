#include "xml/token_scanner.hpp"

namespace parley::xml {

bool TokenScanner::in_token() const { return state_ != State::Text && state_ != State::Cdata; }

void TokenScanner::scan(std::string_view bytes) {
    for (const char c : bytes) {
        switch (state_) {
            case State::Text:
                if (c == '<' || c == '&') {
                    state_ = c == '<' ? State::Lt : State::Reference;
                    token_start_ = offset_;
                }
                break;
            case State::Lt:
                state_ = c == '!' ? State::Bang : c == '?' ? State::Pi : c == '>' ? State::Text : State::Tag;
                run_ = 0;
                break;
            case State::Tag:
                if (c == '\'') state_ = State::SingleQuoted;
                else if (c == '"') state_ = State::DoubleQuoted;
                else if (c == '>') state_ = State::Text;
                break;
            case State::SingleQuoted:
                if (c == '\'') state_ = State::Tag;
                break;
            case State::DoubleQuoted:
                if (c == '"') state_ = State::Tag;
                break;
            case State::Bang:
                state_ = c == '-' ? State::Comment : c == '[' ? State::Cdata : c == '>' ? State::Text : State::Declaration;
                break;
            case State::Comment:
            case State::Cdata: {
                const char closer = state_ == State::Comment ? '-' : ']';
                if (c == '>' && run_ >= 2) {
                    state_ = State::Text;
                } else if (c == closer) {
                    run_ = run_ < 2 ? run_ + 1 : 2;
                } else {
                    run_ = 0;
                }
                break;
            }
            case State::Declaration:
                if (c == '>') state_ = State::Text;
                break;
            case State::Pi:
                if (c == '>' && run_) state_ = State::Text;
                else run_ = c == '?';
                break;
            case State::Reference:
                if (c == ';') state_ = State::Text;
                else if (c == '<') {
                    state_ = State::Lt;
                    token_start_ = offset_;
                }
                break;
        }
        ++offset_;
    }
}

}  // namespace parley::xml
