// libFuzzer target: any bytes as an ICMP message. Must never crash or read out of bounds, and
// whatever parses must survive emit -> parse unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "stack/wire/icmpv4.hpp"

using namespace stack::wire;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> buf(reinterpret_cast<const std::byte*>(data), size);
  const auto packet = icmpv4::View::checked(buf);
  if (!packet) return 0;
  (void)packet->verify_checksum();
  (void)packet->rest_of_header();
  const auto repr = icmpv4::Repr::parse(*packet);
  if (!repr) return 0;
  (void)repr->describe();
  (void)repr->describe(size);
  if (repr->buffer_len() > size) std::abort();  // never more than was there

  std::vector<std::byte> out(repr->buffer_len());
  auto view = icmpv4::ViewMut::unchecked(out);
  repr->emit(view);
  const auto again = icmpv4::View::checked(std::span<const std::byte>(out));
  if (!again || !again->verify_checksum()) std::abort();
  const auto reparsed = icmpv4::Repr::parse(*again);
  if (!reparsed || !(*reparsed == *repr)) std::abort();
  return 0;
}
