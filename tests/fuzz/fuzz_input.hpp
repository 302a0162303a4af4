// A fuzz input read as a stream of decisions: the stateful targets (fuzz_tcp_conn,
// fuzz_dhcp_client) take bytes one field at a time, and an exhausted input reads as zeros, so
// every prefix of an input is itself a valid, shorter run.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fuzz {

struct Input {
  const std::uint8_t* data;
  std::size_t size;
  std::size_t at = 0;
  bool empty() const { return at >= size; }
  std::uint8_t u8() { return at < size ? data[at++] : 0; }
  std::uint16_t u16() { return static_cast<std::uint16_t>(u8() << 8 | u8()); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(u16()) << 16 | u16(); }
};

}  // namespace fuzz
