// SipHash-2-4 (Aumasson & Bernstein, "SipHash: a fast short-input PRF", 2012).
//
// A keyed pseudo-random function for short inputs. TCP uses it where an off-path attacker must
// not be able to predict an output: initial sequence numbers (RFC 6528 §3, "F() ... a
// pseudorandom function ... SipHash") and ephemeral port selection (RFC 6056 §3.3.4).
// Not a general-purpose hash for containers and not a random generator.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace stack {

// The 128-bit key as two little-endian 64-bit words (k0, k1), as in the reference code.
struct SipKey {
  std::uint64_t k0 = 0;
  std::uint64_t k1 = 0;
};

// SipHash-2-4 of `data` under `key`; matches the reference implementation's 64-bit output.
std::uint64_t siphash24(const SipKey& key, std::span<const std::byte> data);

}  // namespace stack
