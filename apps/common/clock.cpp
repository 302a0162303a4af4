#include "apps/common/clock.hpp"

#include <sys/random.h>
#include <time.h>

#include <cstring>

namespace appkit {

namespace {
std::int64_t read_us(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}
// The offset between the two clocks, measured once: wall = monotonic + offset.
const std::int64_t kWallOffsetUs = read_us(CLOCK_REALTIME) - read_us(CLOCK_MONOTONIC);
}  // namespace

stack::Instant monotonic_now() { return stack::Instant::from_micros(read_us(CLOCK_MONOTONIC)); }

std::pair<std::int64_t, std::int64_t> wall_time(stack::Instant at) {
  const std::int64_t us = at.micros() + kWallOffsetUs;
  return {us / 1000000, us % 1000000};
}

std::uint64_t os_random_u64() {
  std::uint64_t v = 0;
  unsigned char buf[sizeof v];
  std::size_t got = 0;
  while (got < sizeof buf) {
    const ssize_t n = getrandom(buf + got, sizeof buf - got, 0);
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  std::memcpy(&v, buf, sizeof v);
  if (got < sizeof buf) {
    // getrandom cannot fail on Linux >= 3.17 once the pool is initialised; mix the clock in anyway.
    v ^= static_cast<std::uint64_t>(read_us(CLOCK_REALTIME)) * 0x9e3779b97f4a7c15ull;
  }
  return v;
}

}  // namespace appkit
