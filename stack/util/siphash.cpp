// SipHash-2-4, written from the paper's description (§2): 2 compression rounds per 8-byte
// message word, 4 finalisation rounds, message words read little-endian.
#include "stack/util/siphash.hpp"

namespace stack {

namespace {

constexpr std::uint64_t rotl(std::uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

struct State {
  std::uint64_t v0, v1, v2, v3;

  void round() {
    v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);
    v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;
    v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;
    v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);
  }
  void compress(std::uint64_t m) {
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
};

std::uint64_t load_le64(std::span<const std::byte> b, std::size_t at, std::size_t n) {
  std::uint64_t m = 0;
  for (std::size_t i = 0; i < n; ++i) m |= static_cast<std::uint64_t>(b[at + i]) << (8 * i);
  return m;
}

}  // namespace

std::uint64_t siphash24(const SipKey& key, std::span<const std::byte> data) {
  // "somepseudorandomlygeneratedbytes" initialisation constants (paper §2).
  State s{key.k0 ^ 0x736f6d6570736575ull, key.k1 ^ 0x646f72616e646f6dull, key.k0 ^ 0x6c7967656e657261ull,
          key.k1 ^ 0x7465646279746573ull};
  const std::size_t whole = data.size() / 8 * 8;
  for (std::size_t at = 0; at < whole; at += 8) s.compress(load_le64(data, at, 8));
  // Last word: the remaining bytes, with the message length (mod 256) in the top byte.
  const std::uint64_t last = load_le64(data, whole, data.size() - whole) | (static_cast<std::uint64_t>(data.size() & 0xff) << 56);
  s.compress(last);
  s.v2 ^= 0xff;
  for (int i = 0; i < 4; ++i) s.round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

}  // namespace stack
