// libFuzzer target: any bytes as a DHCP message (the UDP payload on port 68), through the option
// parser and the client state machine. Must never crash, hang or read out of bounds
// (docs/hostile-inputs.md #68–#69: overruns, missing END, overload, RFC 3396 concatenation).
#include <cstddef>
#include <cstdint>
#include <span>

#include "stack/socket/dhcp_client.hpp"
#include "stack/wire/dhcpv4.hpp"

namespace dhcp = stack::wire::dhcpv4;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> buf(reinterpret_cast<const std::byte*>(data), size);
  auto parsed = dhcp::Repr::parse(buf);
  if (parsed) {
    (void)parsed->describe();
    // Whatever parses must re-emit and parse to the same value (strings are already ≤ 1024
    // bytes and split by emit, so nothing is truncated).
    const stack::Bytes again = parsed->to_bytes();
    auto back = dhcp::Repr::parse(again);
    if (!back || !(*back == *parsed)) __builtin_trap();
  } else {
    (void)dhcp::to_string(parsed.error());
  }
  // The client in SELECTING, then fed the message with its own xid patched in: exercises the
  // reply checks and lease derivation with hostile T1/T2/lease values.
  stack::socket::DhcpConfig config;
  config.chaddr = stack::wire::MacAddress{{0x02, 0, 0, 0, 0, 1}};
  stack::socket::DhcpClient client(config, stack::Instant::from_secs(0));
  client.poll(stack::Instant::from_secs(0));
  auto actions = client.take_actions();
  if (!actions.empty() && size >= 8) {
    const auto* t = std::get_if<stack::socket::DhcpTransmit>(&actions.front());
    if (t) {
      stack::Bytes patched(buf.begin(), buf.end());
      stack::store_be32(patched, 4, t->message.xid);
      client.process(stack::Instant::from_secs(1), patched, stack::wire::Ipv4Address::from_octets(10, 0, 0, 1));
      client.poll(stack::Instant::from_secs(100000));
      (void)client.take_actions();
    }
  }
  return 0;
}
