// libFuzzer target: any bytes as an IPv4 datagram. Must never crash or read out of bounds, and
// whatever parses must survive emit -> parse unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "stack/wire/ipv4.hpp"

using namespace stack::wire;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> buf(reinterpret_cast<const std::byte*>(data), size);
  if (auto quoted = ipv4::View::checked_prefix(buf)) {
    (void)quoted->payload();
    (void)quoted->options();
  }
  const auto ip = ipv4::View::checked(buf);
  if (!ip) return 0;
  (void)ip->verify_checksum();
  const auto payload = ip->payload();
  if (ip->header_len() + payload.size() != ip->total_len()) std::abort();
  const auto repr = ipv4::Repr::parse(*ip);
  (void)repr.describe();

  std::vector<std::byte> out(ipv4::Repr::header_len() + repr.payload_len);
  auto view = ipv4::ViewMut::unchecked(out);
  repr.emit(view);
  const auto again = ipv4::View::checked(std::span<const std::byte>(out));
  if (!again || !again->verify_checksum() || !(ipv4::Repr::parse(*again) == repr)) std::abort();
  return 0;
}
