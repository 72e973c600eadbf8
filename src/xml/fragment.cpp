#include "xml/fragment.hpp"

#include <limits>
#include <string>

#include "xml/stream_parser.hpp"

namespace parley::xml {

namespace {
// Collects the top-level children of a synthetic stream root.
class Collector : public StreamHandler {
 public:
  void on_stream_open(const Element&, std::string_view) override {}
  void on_stanza(Element&& element) override {
    ++count;
    if (count == 1) element_ = std::move(element);
  }
  void on_stream_close() override { closed = true; }
  void on_stream_error(StreamError, std::string_view) override { failed = true; }

  std::optional<Element> element_;
  int count = 0;
  bool closed = false;
  bool failed = false;
};
}  // namespace

std::optional<Element> parse_element(std::string_view text, std::size_t max_bytes) {
  Collector collector;
  StreamLimits limits;
  limits.max_stanza_bytes = max_bytes;
  limits.max_attributes = std::numeric_limits<std::size_t>::max();
  StreamParser parser(collector, limits);
  // The wrapper declares no default namespace, so the element keeps exactly
  // the namespaces it declares itself.
  parser.feed("<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>");
  parser.feed(text);
  // A close inside `text` would hide whatever follows it.
  if (collector.closed) return std::nullopt;
  parser.feed("</stream:stream>");
  if (collector.failed || !collector.closed || collector.count != 1) return std::nullopt;
  return std::move(collector.element_);
}

}  // namespace parley::xml
