#include "stack/wire/checksum.hpp"

#include <bit>
#include <cstring>

namespace stack::wire {

void ChecksumAccumulator::add(std::span<const std::byte> data) {
  // RFC 1071 §2 (B) "Byte Order Independence" and (C) "Parallel Summation": sum the data as
  // native-order 32-bit words into 64 bits (the carries pile up in the upper half, "deferred
  // carries"), fold to 16 bits, and swap the two bytes once at the end on a little-endian host.
  // Eight bytes per step instead of two; the result equals the big-endian 16-bit word sum
  // modulo 0xffff, which is all a one's complement sum is.
  std::uint64_t acc = 0;
  std::size_t i = 0;
  for (; i + 4 <= data.size(); i += 4) {
    std::uint32_t w;
    std::memcpy(&w, data.data() + i, 4);  // unaligned-safe load
    acc += w;
  }
  // Fold 64 -> 16 bits with end-around carries.
  acc = (acc & 0xffffffffu) + (acc >> 32);
  acc = (acc & 0xffffffffu) + (acc >> 32);
  acc = (acc & 0xffff) + (acc >> 16);
  acc = (acc & 0xffff) + (acc >> 16);
  acc = (acc & 0xffff) + (acc >> 16);
  auto folded = static_cast<std::uint16_t>(acc);
  if constexpr (std::endian::native == std::endian::little) {
    folded = static_cast<std::uint16_t>((folded >> 8) | (folded << 8));
  }
  sum_ += folded;
  // The last 0..3 bytes as big-endian words; an odd trailing byte is padded with zero.
  for (; i + 1 < data.size(); i += 2) {
    sum_ += (static_cast<std::uint32_t>(data[i]) << 8) | static_cast<std::uint32_t>(data[i + 1]);
  }
  if (i < data.size()) sum_ += static_cast<std::uint32_t>(data[i]) << 8;
}

void ChecksumAccumulator::add_pseudo_header(Ipv4Address src, Ipv4Address dst, IpProtocol protocol,
                                            std::uint16_t length) {
  add_u32(src.value);
  add_u32(dst.value);
  add_u16(static_cast<std::uint16_t>(protocol));
  add_u16(length);
}

std::uint16_t ChecksumAccumulator::finish() const {
  std::uint64_t s = sum_;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<std::uint16_t>(~s & 0xffff);
}

std::uint16_t internet_checksum(std::span<const std::byte> data) {
  ChecksumAccumulator acc;
  acc.add(data);
  return acc.finish();
}

}  // namespace stack::wire
