// A small, fast, seedable pseudo-random generator (SplitMix64, Steele/Lea/Flood 2014).
//
// The stack takes its randomness from a seed the application draws from the OS, so tests are
// deterministic and two stacks in one process differ. Not for secrets: keyed hashes (SipHash)
// do that job for ISNs and ports.
#pragma once

#include <cstdint>

namespace stack {

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next_u64() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  std::uint32_t next_u32() { return static_cast<std::uint32_t>(next_u64() >> 32); }
  // Uniform in [0, bound) (bound > 0); Lemire's multiply-shift, bias below 2^-32 for our bounds.
  std::uint32_t below(std::uint32_t bound) {
    return static_cast<std::uint32_t>((static_cast<std::uint64_t>(next_u32()) * bound) >> 32);
  }
  // Uniform in [0, 1).
  double next_double() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

 private:
  std::uint64_t state_;
};

}  // namespace stack
