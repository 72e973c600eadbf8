#include "xml/writer.hpp"

namespace parley::xml {

namespace {

constexpr std::string_view kStreamsNs = "http://etherx.jabber.org/streams";

void write_attribute(std::string_view name, std::string_view value, std::string& out) {
  out += ' ';
  out += name;
  out += "='";
  escape_attr(value, out);
  out += '\'';
}

// Writes the attributes, declaring a generated prefix for each foreign
// attribute namespace (the xml: prefix is predeclared by XML itself).
void write_attributes(const Element& e, std::string& out) {
  int generated = 0;
  for (const Attribute& a : e.attributes()) {
    if (a.ns.empty()) {
      write_attribute(a.name, a.value, out);
    } else if (a.ns == xml_namespace) {
      write_attribute("xml:" + a.name, a.value, out);
    } else {
      std::string prefix = "ns" + std::to_string(++generated);
      write_attribute("xmlns:" + prefix, a.ns, out);
      write_attribute(prefix + ":" + a.name, a.value, out);
    }
  }
}

std::string_view bound_prefix(std::string_view ns, std::span<const PrefixBinding> prefixes) {
  for (const PrefixBinding& p : prefixes) {
    if (p.ns == ns) return p.prefix;
  }
  return {};
}

}  // namespace

void escape_text(std::string_view text, std::string& out) {
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;  // keeps "]]>" out of character data
      default: out += c;
    }
  }
}

void escape_attr(std::string_view value, std::string& out) {
  for (char c : value) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
}

void serialize(const Element& e, std::string& out, std::string_view inherited_default_ns,
               std::span<const PrefixBinding> prefixes) {
  std::string_view prefix = bound_prefix(e.ns(), prefixes);
  std::string_view default_ns = inherited_default_ns;
  out += '<';
  if (!prefix.empty()) {
    out += prefix;
    out += ':';
    out += e.name();
  } else {
    out += e.name();
    if (e.ns() != inherited_default_ns) {
      write_attribute("xmlns", e.ns(), out);
      default_ns = e.ns();
    }
  }
  write_attributes(e, out);
  if (e.nodes().empty()) {
    out += "/>";
    return;
  }
  out += '>';
  for (const Node& n : e.nodes()) {
    if (n.is_element()) {
      serialize(n.element(), out, default_ns, prefixes);
    } else {
      escape_text(n.text(), out);
    }
  }
  out += "</";
  if (!prefix.empty()) {
    out += prefix;
    out += ':';
  }
  out += e.name();
  out += '>';
}

std::string to_string(const Element& e, std::string_view inherited_default_ns, std::span<const PrefixBinding> prefixes) {
  std::string out;
  serialize(e, out, inherited_default_ns, prefixes);
  return out;
}

void write_stream_header(const Element& root, std::string_view default_ns, std::string& out) {
  out += "<stream:stream";
  write_attribute("xmlns", default_ns, out);
  write_attribute("xmlns:stream", kStreamsNs, out);
  write_attributes(root, out);
  out += '>';
}

}  // namespace parley::xml
