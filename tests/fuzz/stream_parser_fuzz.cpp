// libFuzzer target for the stream parser: arbitrary bytes, fed in pieces
// whose sizes come from the input itself, must never crash or hang it.
// Build: CXX=clang++ meson setup build-fuzz -Dfuzzers=true -Db_sanitize=address,undefined
//        ninja -C build-fuzz fuzz_stream_parser && build-fuzz/fuzz_stream_parser
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "xml/stream_parser.hpp"
#include "xml/writer.hpp"

namespace {
struct Sink : parley::xml::StreamHandler {
  parley::xml::StreamParser* parser = nullptr;
  size_t stanzas = 0;
  void on_stream_open(const parley::xml::Element&, std::string_view) override {}
  void on_stanza(parley::xml::Element&& e) override {
    // Serializing exercises the writer on whatever the parser accepted.
    (void)parley::xml::to_string(e, "jabber:client");
    if (++stanzas % 7 == 0) parser->reset();
  }
  void on_stream_close() override {}
  void on_stream_error(parley::xml::StreamError, std::string_view) override {}
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Sink sink;
  parley::xml::StreamLimits limits;
  limits.max_stanza_bytes = 4096;
  limits.max_depth = 16;
  parley::xml::StreamParser parser(sink, limits);
  sink.parser = &parser;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t step = size > 0 ? (data[0] % 13) + 1 : 1;
  while (!input.empty()) {
    std::string_view piece = input.substr(0, step);
    input.remove_prefix(piece.size());
    parser.feed(piece);
  }
  return 0;
}
