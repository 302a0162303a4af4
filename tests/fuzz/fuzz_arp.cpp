// libFuzzer target: any bytes as an ARP packet. Must never crash or read out of bounds, and
// whatever parses must survive emit -> parse unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "stack/wire/arp.hpp"

using namespace stack::wire;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> buf(reinterpret_cast<const std::byte*>(data), size);
  const auto packet = arp::View::checked(buf);
  if (!packet) return 0;
  const auto repr = arp::Repr::parse(*packet);
  if (!repr) return 0;
  (void)repr->describe();
  std::vector<std::byte> out(arp::Repr::buffer_len());
  auto view = arp::ViewMut::unchecked(out);
  repr->emit(view);
  const auto again = arp::View::checked(std::span<const std::byte>(out));
  if (!again || arp::Repr::parse(*again) != repr) std::abort();
  // The 28 bytes emitted are the 28 bytes parsed: every field is fixed or carried.
  for (std::size_t i = 0; i < arp::kPacketLen; ++i) {
    if (out[i] != buf[i]) std::abort();
  }
  return 0;
}
