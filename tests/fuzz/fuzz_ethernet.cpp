// libFuzzer target: any bytes as an Ethernet frame. Must never crash or read out of bounds.
#include <cstddef>
#include <cstdint>
#include <span>

#include "stack/wire/ethernet.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> buf(reinterpret_cast<const std::byte*>(data), size);
  if (auto frame = stack::wire::ethernet::View::checked(buf)) {
    const auto repr = stack::wire::ethernet::Repr::parse(*frame);
    (void)repr.describe();
    (void)frame->payload();
  }
  return 0;
}
