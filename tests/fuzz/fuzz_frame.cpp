// libFuzzer target: any bytes as an Ethernet frame, through the one-line describer that the
// tracer runs on every frame. Must never crash, read out of bounds or return nothing.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "stack/wire/describe.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> buf(reinterpret_cast<const std::byte*>(data), size);
  if (stack::wire::describe_frame(buf).empty()) std::abort();
  // The same bytes as a bare datagram (medium IP) and as an ARP body.
  if (stack::wire::describe_ipv4(buf).empty()) std::abort();
  if (stack::wire::describe_arp(buf).empty()) std::abort();
  return 0;
}
