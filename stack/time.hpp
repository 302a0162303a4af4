// Instant and Duration: the only notion of time inside stack/.
//
// The stack never reads a clock (docs/architecture.md "Sans-I/O core"): callers pass `now` in, and every
// timer is an absolute deadline (`std::optional<Instant>`) reported back through poll_at().
// Microsecond resolution, signed 64-bit: ~292,000 years of range, no overflow worries.
#pragma once

#include <compare>
#include <cstdint>
#include <string>

namespace stack {

class Duration {
 public:
  constexpr Duration() = default;
  static constexpr Duration from_micros(std::int64_t us) { return Duration{us}; }
  static constexpr Duration from_millis(std::int64_t ms) { return Duration{ms * 1000}; }
  static constexpr Duration from_secs(std::int64_t s) { return Duration{s * 1000000}; }
  static constexpr Duration zero() { return Duration{0}; }

  constexpr std::int64_t micros() const { return us_; }
  constexpr std::int64_t millis() const { return us_ / 1000; }
  constexpr std::int64_t secs() const { return us_ / 1000000; }

  constexpr Duration operator+(Duration o) const { return Duration{us_ + o.us_}; }
  constexpr Duration operator-(Duration o) const { return Duration{us_ - o.us_}; }
  constexpr Duration operator*(std::int64_t k) const { return Duration{us_ * k}; }
  constexpr Duration operator/(std::int64_t k) const { return Duration{us_ / k}; }
  constexpr Duration& operator+=(Duration o) { us_ += o.us_; return *this; }
  constexpr auto operator<=>(const Duration&) const = default;

  std::string describe() const;  // "1.500 s", "250 ms", "80 µs"

 private:
  constexpr explicit Duration(std::int64_t us) : us_(us) {}
  std::int64_t us_ = 0;
};

constexpr Duration operator""_ms(unsigned long long v) { return Duration::from_millis(static_cast<std::int64_t>(v)); }
constexpr Duration operator""_s(unsigned long long v) { return Duration::from_secs(static_cast<std::int64_t>(v)); }

class Instant {
 public:
  constexpr Instant() = default;
  static constexpr Instant from_micros(std::int64_t us) { return Instant{us}; }
  static constexpr Instant from_millis(std::int64_t ms) { return Instant{ms * 1000}; }
  static constexpr Instant from_secs(std::int64_t s) { return Instant{s * 1000000}; }

  constexpr std::int64_t micros() const { return us_; }
  constexpr std::int64_t millis() const { return us_ / 1000; }

  constexpr Instant operator+(Duration d) const { return Instant{us_ + d.micros()}; }
  constexpr Instant operator-(Duration d) const { return Instant{us_ - d.micros()}; }
  constexpr Duration operator-(Instant o) const { return Duration::from_micros(us_ - o.us_); }
  constexpr Instant& operator+=(Duration d) { us_ += d.micros(); return *this; }
  constexpr auto operator<=>(const Instant&) const = default;

 private:
  constexpr explicit Instant(std::int64_t us) : us_(us) {}
  std::int64_t us_ = 0;
};

}  // namespace stack
