// Test helpers for writing packets as hex, the way tcpdump -xx prints them.
#pragma once

#include <stdexcept>
#include <string_view>

#include "stack/util/bytes.hpp"

namespace test {

// "ffff ffff 0806" -> bytes; whitespace is ignored, anything else that is not hex throws.
inline stack::Bytes hex(std::string_view text) {
  stack::Bytes out;
  int hi = -1;
  for (char c : text) {
    int v;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    else if (c == ' ' || c == '\n' || c == '\t') continue;
    else throw std::invalid_argument("bad hex digit in test data");
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<std::byte>(hi * 16 + v));
      hi = -1;
    }
  }
  if (hi >= 0) throw std::invalid_argument("odd number of hex digits in test data");
  return out;
}

}  // namespace test
