#include "stack/time.hpp"

namespace stack {

namespace {
// "7" -> "007": the fractional part of a fixed-point number.
std::string three_digits(std::int64_t v) {
  std::string s = std::to_string(v);
  return std::string(3 - s.size(), '0') + s;
}
}  // namespace

std::string Duration::describe() const {
  const std::int64_t us = us_ < 0 ? -us_ : us_;
  const std::string sign = us_ < 0 ? "-" : "";
  if (us >= 1000000) return sign + std::to_string(us / 1000000) + "." + three_digits((us % 1000000) / 1000) + " s";
  if (us >= 1000) return sign + std::to_string(us / 1000) + "." + three_digits(us % 1000) + " ms";
  return sign + std::to_string(us) + " us";
}

}  // namespace stack
