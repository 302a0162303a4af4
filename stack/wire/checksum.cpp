#include "stack/wire/checksum.hpp"

namespace stack::wire {

void ChecksumAccumulator::add(std::span<const std::byte> data) {
  std::size_t i = 0;
  for (; i + 1 < data.size(); i += 2) {
    sum_ += (static_cast<std::uint32_t>(data[i]) << 8) | static_cast<std::uint32_t>(data[i + 1]);
  }
  if (i < data.size()) sum_ += static_cast<std::uint32_t>(data[i]) << 8;  // pad the odd byte with zero
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
