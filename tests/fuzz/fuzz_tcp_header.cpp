// libFuzzer target: any bytes as a TCP segment. checked(), parse(), describe() and a re-emit of
// whatever parsed must never crash or read out of bounds (docs/hostile-inputs.md §F).
#include <cstddef>
#include <cstdint>
#include <span>

#include "stack/wire/tcp.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace stack::wire;
  const std::span<const std::byte> buf(reinterpret_cast<const std::byte*>(data), size);
  const auto view = tcp::View::checked(buf);
  if (!view) return 0;
  (void)view->verify_checksum(Ipv4Address{1}, Ipv4Address{2});
  const auto repr = tcp::Repr::parse(*view);
  if (!repr) return 0;
  (void)repr->describe();
  stack::Bytes out(repr->buffer_len());
  auto mut = tcp::ViewMut::unchecked(out);
  repr->emit(mut, Ipv4Address{1}, Ipv4Address{2});
  const auto again = tcp::Repr::parse(*tcp::View::checked(out));
  if (!again) __builtin_trap();  // what we emit must parse
  return 0;
}
