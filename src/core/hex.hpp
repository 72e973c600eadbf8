#pragma once
// Lower-case hexadecimal (RFC 4648 §8 alphabet, lower case as digests and
// tokens are conventionally written).
#include <string>
#include <string_view>

namespace parley::core {

std::string hex_encode(std::string_view bytes);

}  // namespace parley::core
