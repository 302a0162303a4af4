// libFuzzer target: the DHCP client state machine (RFC 2131 Figure 5, RFC 4039, RFC 5227) driven
// through whole exchanges. fuzz_dhcpv4 feeds one message and never leaves SELECTING; here a server
// model answers what the client sends, with the fuzzer choosing the message type, the fields and
// options (lease times, T1/T2, masks, routers), whose xid/chaddr are fixed up to match (or not),
// plus ARP conflicts during probing, time jumps, renew and release, and an optional stored lease
// (INIT-REBOOT).
//
// Invariants, checked after every step:
//   - a lease the client holds has T1 <= T2 <= expiry (RFC 2131 §4.4.5), and a usable address;
//   - nothing is due after poll(now): poll_at() is later than now;
//   - every message the client asks to send parses back to itself (RFC 2131 §2 format).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <variant>
#include <vector>

#include "fuzz_input.hpp"
#include "stack/socket/dhcp_client.hpp"
#include "stack/wire/dhcpv4.hpp"

using namespace stack;
using namespace stack::socket;
namespace dhcp = stack::wire::dhcpv4;
using stack::wire::Ipv4Address;

namespace {
struct Input : fuzz::Input {
  // Mostly addresses in the sandbox's LAN, sometimes anything (0, broadcast, multicast ...).
  Ipv4Address addr() {
    const std::uint8_t sel = u8();
    if (sel < 0xc0) return Ipv4Address::from_octets(10, 77, 0, u8());
    return Ipv4Address{u32()};
  }
  std::uint32_t seconds() {
    const std::uint8_t sel = u8();
    if (sel < 0x80) return u8();           // short, to reach renewal and expiry
    if (sel < 0xf0) return u16();
    return u32();                           // including 0 and 0xffffffff (infinity)
  }
};

void trap_unless(bool ok) {
  if (!ok) __builtin_trap();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in{{data, size}};
  DhcpConfig config;
  config.chaddr = wire::MacAddress{{0x02, 0, 0, 0, 0, 1}};
  const std::uint8_t setup = in.u8();
  config.rapid_commit = setup & 1;
  config.address_conflict_detection = setup & 2;
  if (setup & 4) config.overall_timeout = Duration::from_secs(in.u8());
  std::optional<DhcpStoredLease> stored;
  if (setup & 8) stored = DhcpStoredLease{wire::Ipv4Cidr{in.addr(), static_cast<std::uint8_t>(in.u8() % 33)}, in.addr()};
  Instant now = Instant::from_secs(1);
  DhcpClient client(config, now, stored);
  client.set_event_sink([](Instant, const DhcpEvent& e) { (void)describe(e); });
  std::optional<dhcp::Repr> last_sent;

  auto step = [&] {
    client.poll(now);
    for (const auto& a : client.take_actions()) {
      if (const auto* t = std::get_if<DhcpTransmit>(&a)) {
        const Bytes bytes = t->message.to_bytes();
        const auto back = dhcp::Repr::parse(bytes);
        trap_unless(back.ok() && *back == t->message);
        last_sent = t->message;
      }
    }
    if (const auto at = client.poll_at()) trap_unless(*at > now);
    if (const DhcpLease* l = client.lease()) {
      trap_unless(!l->address.address.is_unspecified());
      if (l->t1_renew_at && l->t2_rebind_at) trap_unless(*l->t1_renew_at <= *l->t2_rebind_at);
      if (l->t2_rebind_at && l->lease_expires_at) trap_unless(*l->t2_rebind_at <= *l->lease_expires_at);
    }
  };
  step();

  for (int steps = 0; steps < 200 && !in.empty(); ++steps) {
    const std::uint8_t op = in.u8();
    switch (op % 6) {
      case 0:
      case 1: {  // a reply from "the server", shaped by the input
        dhcp::Repr r;
        const std::uint8_t f = in.u8();
        r.op = (f & 0x80) ? dhcp::Op::BootRequest : dhcp::Op::BootReply;
        static constexpr dhcp::MessageType kTypes[] = {dhcp::MessageType::Offer, dhcp::MessageType::Ack,
                                                        dhcp::MessageType::Nak, dhcp::MessageType::Discover};
        r.message_type = kTypes[f & 3];
        r.xid = (f & 0x04) || !last_sent ? in.u32() : last_sent->xid;
        r.chaddr = (f & 0x08) ? wire::MacAddress{{0x02, 0, 0, 0, 0, 2}} : config.chaddr;
        r.yiaddr = in.addr();
        if (!(f & 0x10)) r.server_id = (f & 0x20) ? in.addr() : Ipv4Address::from_octets(10, 77, 0, 1);
        const std::uint8_t o = in.u8();
        if (o & 1) r.subnet_mask = (o & 0x80) ? Ipv4Address{in.u32()} : Ipv4Address::from_octets(255, 255, 255, 0);
        if (o & 2) r.routers.push_back(in.addr());
        if (o & 4) r.dns_servers.push_back(in.addr());
        if (o & 8) r.lease_time = in.seconds();
        if (o & 0x10) r.renewal_time = in.seconds();
        if (o & 0x20) r.rebinding_time = in.seconds();
        if (o & 0x40) r.rapid_commit = true;
        if (f & 0x40) r.mtu = in.u16();
        const Bytes bytes = r.to_bytes();
        client.process(now, bytes, r.server_id.value_or(Ipv4Address::from_octets(10, 77, 0, 1)));
        break;
      }
      case 2: {  // an ARP packet while probing: maybe a conflict for the address on offer
        wire::arp::Repr a;
        a.operation = (in.u8() & 1) ? wire::arp::Operation::Reply : wire::arp::Operation::Request;
        a.sender_mac = wire::MacAddress{{0x02, 0, 0, 0, 0, in.u8()}};
        a.sender_ip = in.addr();
        a.target_ip = in.addr();
        client.process_arp(now, a);
        break;
      }
      case 3:  // time passes
        now += Duration::from_millis(static_cast<std::int64_t>(in.u16()) * 16);
        break;
      case 4:  // time jumps to the client's next deadline
        if (const auto at = client.poll_at()) now = *at;
        break;
      case 5:
        if (in.u8() & 1) (void)client.renew(now); else (void)client.release(now);
        break;
    }
    step();
  }
  (void)client.stats();
  return 0;
}
