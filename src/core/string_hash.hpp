#pragma once
// A hash for unordered containers keyed by std::string that may be searched
// with a std::string_view (C++20 heterogeneous lookup, with std::equal_to<>),
// so that a lookup builds no string.
#include <cstddef>
#include <functional>
#include <string_view>

namespace parley::core {

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

}  // namespace parley::core
