#pragma once
// XEP-0082 DateTime in UTC ("2026-11-24T21:09:04Z"), as delay stamps,
// entity time and token expiry use it.
#include <ctime>
#include <string>

namespace parley::core {

std::string xep0082_datetime(std::time_t when);

}  // namespace parley::core
