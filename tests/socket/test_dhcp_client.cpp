// socket/dhcp_client: the RFC 2131 state machine in virtual time, one test per behaviour.
// The client is driven directly (process / process_arp / poll) and its actions inspected; the last
// tests run it on a real Interface through DhcpAgent and look at the frames.
#include <doctest/doctest.h>

#include <algorithm>

#include "stack/iface/interface.hpp"
#include "stack/socket/dhcp_client.hpp"
#include "stack/wire/arp.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/ipv4.hpp"
#include "stack/wire/udp.hpp"

using namespace stack;
using namespace stack::socket;
using stack::wire::Ipv4Address;
using stack::wire::Ipv4Cidr;
using stack::wire::MacAddress;
namespace dhcp = stack::wire::dhcpv4;
using dhcp::MessageType;

namespace {

const MacAddress kMac{{0x02, 0x75, 0x73, 0x00, 0x00, 0x01}};
const MacAddress kOtherMac{{0x02, 0x99, 0x00, 0x00, 0x00, 0x02}};
const MacAddress kServerMac{{0x46, 0xe0, 0xe8, 0x63, 0xd0, 0x9e}};
const Ipv4Address kServer = Ipv4Address::from_octets(10, 77, 0, 1);
const Ipv4Address kOtherServer = Ipv4Address::from_octets(10, 77, 0, 2);
const Ipv4Address kOffered = Ipv4Address::from_octets(10, 77, 0, 135);
const Ipv4Address kDns = Ipv4Address::from_octets(198, 51, 100, 53);

Bytes test_client_id() {  // RFC 2132 §9.14: type 1 + MAC
  Bytes id{std::byte{1}};
  for (std::uint8_t o : kMac.octets) id.push_back(std::byte{o});
  return id;
}

Instant at_ms(std::int64_t ms) { return Instant::from_millis(ms); }
Instant at_s(std::int64_t s) { return Instant::from_secs(s); }

DhcpConfig base_config() {
  DhcpConfig c;
  c.chaddr = kMac;
  c.seed = 7;
  c.address_conflict_detection = false;  // the ACD tests turn it on
  return c;
}

// A server reply to `xid`.
dhcp::Repr reply(MessageType type, std::uint32_t xid, Ipv4Address server = kServer) {
  dhcp::Repr r;
  r.op = dhcp::Op::BootReply;
  r.message_type = type;
  r.xid = xid;
  r.chaddr = kMac;
  r.server_id = server;
  if (type != MessageType::Nak) {
    r.yiaddr = kOffered;
    r.subnet_mask = Ipv4Address::from_octets(255, 255, 255, 0);
    r.routers = {kServer};
    r.dns_servers = {kDns};
    r.lease_time = 3600;
    r.renewal_time = 1800;
    r.rebinding_time = 3150;
  }
  return r;
}

struct Harness {
  explicit Harness(DhcpConfig config = base_config(), std::optional<DhcpStoredLease> stored = std::nullopt)
      : client(std::move(config), at_s(0), stored) {
    client.set_event_sink([this](Instant, const DhcpEvent& e) { events.push_back(e); });
  }
  std::vector<DhcpAction> poll(Instant t) {
    client.poll(t);
    return client.take_actions();
  }
  std::vector<DhcpAction> deliver(Instant t, const dhcp::Repr& m, Ipv4Address from = kServer) {
    client.process(t, m.to_bytes(), from);
    return client.take_actions();
  }
  std::vector<DhcpAction> deliver_bytes(Instant t, const Bytes& b) {
    client.process(t, b, kServer);
    return client.take_actions();
  }
  DhcpClient client;
  std::vector<DhcpEvent> events;
};

// The single DHCP message among `actions` (fails the test otherwise).
DhcpTransmit only_transmit(const std::vector<DhcpAction>& actions) {
  std::vector<DhcpTransmit> out;
  for (const auto& a : actions) {
    if (auto* t = std::get_if<DhcpTransmit>(&a)) out.push_back(*t);
  }
  REQUIRE_MESSAGE(out.size() == 1, "expected one DHCP message, got " << out.size());
  return out[0];
}

template <class T>
std::vector<T> all_of(const std::vector<DhcpAction>& actions) {
  std::vector<T> out;
  for (const auto& a : actions) {
    if (auto* t = std::get_if<T>(&a)) out.push_back(*t);
  }
  return out;
}

// Runs SELECTING → REQUESTING → ACK with everything at `t`; returns the REQUEST's xid.
std::uint32_t bind_at(Harness& h, Instant t) {
  const auto discover = only_transmit(h.poll(t));
  const auto request = only_transmit(h.deliver(t, reply(MessageType::Offer, discover.message.xid)));
  const auto acts = h.deliver(t, reply(MessageType::Ack, request.message.xid));
  REQUIRE(all_of<DhcpConfigure>(acts).size() == 1);
  REQUIRE(h.client.state() == DhcpState::Bound);
  return request.message.xid;
}

}  // namespace

namespace doctest {
template <>
struct StringMaker<DhcpState> {
  static String convert(DhcpState s) { return to_string(s); }
};
template <>
struct StringMaker<MessageType> {
  static String convert(MessageType t) { return dhcp::to_string(t); }
};
}  // namespace doctest

TEST_SUITE("socket/dhcp_client") {
  TEST_CASE("SELECTING: DISCOVER at 0, then 4, 8, 16, 32, 64, 64 s apart, each ±1 s (RFC 2131 §4.1)") {
    Harness h;
    CHECK(h.client.state() == DhcpState::Init);
    const auto first = only_transmit(h.poll(at_s(0)));
    CHECK(first.message.message_type == MessageType::Discover);
    CHECK(first.to == UdpEndpoint{Ipv4Address::broadcast(), 67});
    CHECK(first.source == Ipv4Address::any());
    CHECK(first.message.broadcast);          // until we have an address
    CHECK(first.message.rapid_commit);       // RFC 4039 §4
    CHECK(first.message.chaddr == kMac);
    CHECK(first.message.client_id == test_client_id());
    CHECK(h.client.state() == DhcpState::Selecting);

    Instant prev = at_s(0);
    for (std::int64_t nominal : {4, 8, 16, 32, 64, 64}) {
      const auto next = h.client.poll_at();
      REQUIRE(next.has_value());
      const Duration wait = *next - prev;
      CAPTURE(wait.describe());
      CHECK(wait >= Duration::from_secs(nominal - 1));
      CHECK(wait <= Duration::from_secs(nominal + 1));
      CHECK(h.poll(*next - Duration::from_millis(1)).empty());  // silence until the deadline
      const auto again = only_transmit(h.poll(*next));
      CHECK(again.message.message_type == MessageType::Discover);
      CHECK(again.message.xid == first.message.xid);  // RFC 2131 §4.4.1 allows keeping the xid
      CHECK(again.message.secs == static_cast<std::uint16_t>((*next - at_s(0)).secs()));
      prev = *next;
    }
  }

  TEST_CASE("the first retransmission interval is configurable (LAN schedule: 1, 2, 4 s)") {
    auto config = base_config();
    config.first_retransmit = Duration::from_secs(1);
    config.retransmit_jitter = Duration::zero();
    Harness h(config);
    (void)h.poll(at_s(0));
    CHECK(h.client.poll_at() == at_s(1));
    (void)h.poll(at_s(1));
    CHECK(h.client.poll_at() == at_s(3));
    (void)h.poll(at_s(3));
    CHECK(h.client.poll_at() == at_s(7));
  }

  TEST_CASE("OFFER -> REQUEST (broadcast, server id, requested address) -> ACK -> BOUND") {
    Harness h;
    const auto discover = only_transmit(h.poll(at_s(0)));
    const auto request = only_transmit(h.deliver(at_ms(20), reply(MessageType::Offer, discover.message.xid)));
    CHECK(h.client.state() == DhcpState::Requesting);
    CHECK(request.message.message_type == MessageType::Request);
    CHECK(request.message.xid == discover.message.xid);
    CHECK(request.message.requested_ip == kOffered);
    CHECK(request.message.server_id == kServer);
    CHECK(request.message.ciaddr.is_unspecified());
    CHECK(request.message.broadcast);
    CHECK_FALSE(request.message.rapid_commit);
    CHECK(request.to.addr == Ipv4Address::broadcast());

    const auto acts = h.deliver(at_ms(30), reply(MessageType::Ack, request.message.xid));
    const auto conf = all_of<DhcpConfigure>(acts);
    REQUIRE(conf.size() == 1);
    const DhcpLease& l = conf[0].lease;
    CHECK(l.address == Ipv4Cidr{kOffered, 24});
    CHECK(l.router == kServer);
    CHECK(l.dns_servers == std::vector{kDns});
    CHECK(l.server_id == kServer);
    CHECK(l.lease_time == 3600);
    CHECK(l.t1 == 1800);
    CHECK(l.t2 == 3150);
    // RFC 2131 §4.4.1: the lease runs from when the REQUEST was sent.
    CHECK(l.t1_renew_at == at_ms(20) + Duration::from_secs(1800));
    CHECK(l.t2_rebind_at == at_ms(20) + Duration::from_secs(3150));
    CHECK(l.lease_expires_at == at_ms(20) + Duration::from_secs(3600));
    CHECK_FALSE(l.rapid_commit);
    CHECK(h.client.state() == DhcpState::Bound);
    CHECK(h.client.poll_at() == l.t1_renew_at);
  }

  TEST_CASE("Rapid Commit: an ACK straight after DISCOVER binds (RFC 4039 §4)") {
    Harness h;
    const auto discover = only_transmit(h.poll(at_s(0)));
    auto ack = reply(MessageType::Ack, discover.message.xid);
    ack.rapid_commit = true;
    const auto conf = all_of<DhcpConfigure>(h.deliver(at_ms(5), ack));
    REQUIRE(conf.size() == 1);
    CHECK(conf[0].lease.rapid_commit);
    CHECK(conf[0].lease.address.address == kOffered);
    CHECK(h.client.state() == DhcpState::Bound);
  }

  TEST_CASE("Rapid Commit: an ACK to DISCOVER without option 80 is ignored") {
    Harness h;
    const auto discover = only_transmit(h.poll(at_s(0)));
    CHECK(h.deliver(at_ms(5), reply(MessageType::Ack, discover.message.xid)).empty());
    CHECK(h.client.state() == DhcpState::Selecting);
    CHECK(h.client.ignored(DhcpIgnore::NoRapidCommit) == 1);
  }

  TEST_CASE("NAK in REQUESTING restarts with a new DISCOVER and a new xid (RFC 2131 §3.1 step 5)") {
    Harness h;
    const auto discover = only_transmit(h.poll(at_s(0)));
    const auto request = only_transmit(h.deliver(at_s(0), reply(MessageType::Offer, discover.message.xid)));
    const auto again = only_transmit(h.deliver(at_s(1), reply(MessageType::Nak, request.message.xid)));
    CHECK(again.message.message_type == MessageType::Discover);
    CHECK(again.message.xid != request.message.xid);
    CHECK(h.client.state() == DhcpState::Selecting);
  }

  TEST_CASE("wrong xid or chaddr is ignored and the retransmission schedule is kept (docs/hostile-inputs.md #66)") {
    Harness h;
    const auto discover = only_transmit(h.poll(at_s(0)));
    const auto deadline = h.client.poll_at();
    CHECK(h.deliver(at_s(1), reply(MessageType::Offer, discover.message.xid + 1)).empty());
    auto other = reply(MessageType::Offer, discover.message.xid);
    other.chaddr = kOtherMac;
    CHECK(h.deliver(at_s(1), other).empty());
    auto request_like = reply(MessageType::Offer, discover.message.xid);
    request_like.op = dhcp::Op::BootRequest;  // another client's broadcast
    CHECK(h.deliver(at_s(1), request_like).empty());
    CHECK(h.client.ignored(DhcpIgnore::WrongXid) == 1);
    CHECK(h.client.ignored(DhcpIgnore::WrongChaddr) == 1);
    CHECK(h.client.ignored(DhcpIgnore::NotReply) == 1);
    CHECK(h.client.state() == DhcpState::Selecting);
    CHECK(h.client.poll_at() == deadline);
  }

  TEST_CASE("REQUESTING: the ACK or NAK of another server is ignored (docs/hostile-inputs.md #72)") {
    Harness h;
    const auto discover = only_transmit(h.poll(at_s(0)));
    const auto request = only_transmit(h.deliver(at_s(0), reply(MessageType::Offer, discover.message.xid)));
    CHECK(h.deliver(at_s(1), reply(MessageType::Nak, request.message.xid, kOtherServer), kOtherServer).empty());
    CHECK(h.deliver(at_s(1), reply(MessageType::Ack, request.message.xid, kOtherServer), kOtherServer).empty());
    CHECK(h.client.ignored(DhcpIgnore::WrongServer) == 2);
    CHECK(h.client.state() == DhcpState::Requesting);
  }

  TEST_CASE("replies without server identifier, unusable yiaddr, bad mask or no lease are ignored (docs/hostile-inputs.md #67)") {
    Harness h;
    const auto discover = only_transmit(h.poll(at_s(0)));
    const std::uint32_t xid = discover.message.xid;
    auto no_sid = reply(MessageType::Offer, xid);
    no_sid.server_id.reset();
    CHECK(h.deliver(at_s(1), no_sid).empty());
    auto zero = reply(MessageType::Offer, xid);
    zero.yiaddr = Ipv4Address::any();
    CHECK(h.deliver(at_s(1), zero).empty());
    const auto request = only_transmit(h.deliver(at_s(1), reply(MessageType::Offer, xid)));
    auto mask = reply(MessageType::Ack, request.message.xid);
    mask.subnet_mask = Ipv4Address::from_octets(255, 0, 255, 0);
    CHECK(h.deliver(at_s(1), mask).empty());
    auto no_lease = reply(MessageType::Ack, request.message.xid);
    no_lease.lease_time.reset();
    CHECK(h.deliver(at_s(1), no_lease).empty());
    auto multicast = reply(MessageType::Ack, request.message.xid);
    multicast.yiaddr = Ipv4Address::from_octets(224, 0, 0, 1);
    CHECK(h.deliver(at_s(1), multicast).empty());
    CHECK(h.deliver_bytes(at_s(1), Bytes(100, std::byte{0})).empty());
    CHECK(h.client.ignored(DhcpIgnore::NoServerId) == 1);
    CHECK(h.client.ignored(DhcpIgnore::BadYiaddr) == 2);
    CHECK(h.client.ignored(DhcpIgnore::BadSubnetMask) == 1);
    CHECK(h.client.ignored(DhcpIgnore::NoLeaseTime) == 1);
    CHECK(h.client.malformed(dhcp::ParseError::TooShort) == 1);
    CHECK(h.client.state() == DhcpState::Requesting);
  }

  TEST_CASE("a duplicated ACK configures the address once; a router off the leased subnet is not used (docs/hostile-inputs.md #70, #72)") {
    Harness h;
    const auto discover = only_transmit(h.poll(at_s(0)));
    const auto request = only_transmit(h.deliver(at_s(0), reply(MessageType::Offer, discover.message.xid)));
    auto ack = reply(MessageType::Ack, request.message.xid);
    ack.routers = {Ipv4Address::from_octets(192, 0, 2, 1), kServer};  // the first is not on 10.77.0.0/24
    const auto conf = all_of<DhcpConfigure>(h.deliver(at_ms(10), ack));
    REQUIRE(conf.size() == 1);
    CHECK(conf[0].lease.router == kServer);
    // The same ACK again, as a duplicating link delivers it: counted, nothing configured twice.
    CHECK(all_of<DhcpConfigure>(h.deliver(at_ms(11), ack)).empty());
    CHECK(h.client.ignored(DhcpIgnore::Unexpected) == 1);
    CHECK(h.client.state() == DhcpState::Bound);
  }

  TEST_CASE("REQUESTING: no answer after request_attempts REQUESTs goes back to INIT") {
    auto config = base_config();
    config.retransmit_jitter = Duration::zero();
    Harness h(config);
    const auto discover = only_transmit(h.poll(at_s(0)));
    (void)h.deliver(at_s(0), reply(MessageType::Offer, discover.message.xid));
    for (std::int64_t t : {4, 12, 28}) CHECK(only_transmit(h.poll(at_s(t))).message.message_type == MessageType::Request);
    CHECK(only_transmit(h.poll(at_s(60))).message.message_type == MessageType::Discover);
    CHECK(h.client.state() == DhcpState::Selecting);
  }

  TEST_CASE("T1: RENEWING unicasts a REQUEST with ciaddr to the server (RFC 2131 §4.4.5)") {
    Harness h;
    (void)bind_at(h, at_s(0));
    CHECK(h.poll(at_s(1800) - Duration::from_millis(1)).empty());
    const auto renew = only_transmit(h.poll(at_s(1800)));
    CHECK(h.client.state() == DhcpState::Renewing);
    CHECK(renew.message.message_type == MessageType::Request);
    CHECK(renew.to == UdpEndpoint{kServer, 67});
    CHECK_FALSE(renew.source.has_value());  // from our address
    CHECK(renew.message.ciaddr == kOffered);
    CHECK_FALSE(renew.message.server_id.has_value());     // MUST NOT in RENEWING
    CHECK_FALSE(renew.message.requested_ip.has_value());  // MUST NOT in RENEWING
    CHECK_FALSE(renew.message.broadcast);
    // Retransmission: half the time left until T2, at least 60 s: (3150 - 1800) / 2 = 675 s.
    CHECK(h.client.poll_at() == at_s(1800 + 675));
    const auto conf = all_of<DhcpConfigure>(h.deliver(at_s(1801), reply(MessageType::Ack, renew.message.xid)));
    REQUIRE(conf.size() == 1);
    CHECK(conf[0].renewed);
    CHECK(h.client.state() == DhcpState::Bound);
    CHECK(h.client.lease()->t1_renew_at == at_s(1800 + 1800));
  }

  TEST_CASE("renew(): RENEWING at once, like udhcpc's SIGUSR1") {
    Harness h;
    (void)bind_at(h, at_s(0));
    CHECK(h.client.renew(at_s(5)));
    CHECK(h.client.state() == DhcpState::Renewing);
    const auto renew = only_transmit(h.client.take_actions());
    CHECK(renew.to == UdpEndpoint{kServer, 67});
  }

  TEST_CASE("T2: REBINDING broadcasts the REQUEST; expiry goes back to INIT and drops the address") {
    Harness h;
    (void)bind_at(h, at_s(0));
    (void)h.poll(at_s(1800));
    CHECK(only_transmit(h.poll(at_s(2475))).to == UdpEndpoint{kServer, 67});  // renew retransmission
    const auto rebind = only_transmit(h.poll(at_s(3150)));
    CHECK(h.client.state() == DhcpState::Rebinding);
    CHECK(rebind.to == UdpEndpoint{Ipv4Address::broadcast(), 67});
    CHECK(rebind.message.ciaddr == kOffered);
    CHECK_FALSE(rebind.message.server_id.has_value());
    // Half of the 450 s left, at least 60: 225 s.
    CHECK(h.client.poll_at() == at_s(3150 + 225));
    (void)h.poll(at_s(3375));
    const auto acts = h.poll(at_s(3600));
    REQUIRE(all_of<DhcpDeconfigure>(acts).size() == 1);
    CHECK(all_of<DhcpDeconfigure>(acts)[0].address == Ipv4Cidr{kOffered, 24});
    CHECK(only_transmit(acts).message.message_type == MessageType::Discover);
    CHECK(h.client.state() == DhcpState::Selecting);
  }

  TEST_CASE("REBINDING: any server's ACK extends the lease") {
    Harness h;
    (void)bind_at(h, at_s(0));
    (void)h.poll(at_s(1800));
    const auto rebind = only_transmit(h.poll(at_s(3150)));
    const auto conf = all_of<DhcpConfigure>(
        h.deliver(at_s(3151), reply(MessageType::Ack, rebind.message.xid, kOtherServer), kOtherServer));
    REQUIRE(conf.size() == 1);
    CHECK(conf[0].lease.server_id == kOtherServer);
    CHECK(h.client.state() == DhcpState::Bound);
  }

  TEST_CASE("RENEWING: a NAK drops the address and restarts") {
    Harness h;
    (void)bind_at(h, at_s(0));
    const auto renew = only_transmit(h.poll(at_s(1800)));
    const auto acts = h.deliver(at_s(1801), reply(MessageType::Nak, renew.message.xid));
    CHECK(all_of<DhcpDeconfigure>(acts).size() == 1);
    CHECK(only_transmit(acts).message.message_type == MessageType::Discover);
  }

  TEST_CASE("T1/T2 from the server are used only when T1 < T2 < lease; infinite leases have no timers (docs/hostile-inputs.md #71)") {
    Harness h;
    const auto discover = only_transmit(h.poll(at_s(0)));
    auto ack = reply(MessageType::Ack, discover.message.xid);
    ack.rapid_commit = true;
    ack.renewal_time = 3000;  // >= T2: T1 falls back to 0.5 * lease, the valid T2 stays
    ack.rebinding_time = 2000;
    auto conf = all_of<DhcpConfigure>(h.deliver(at_s(0), ack));
    REQUIRE(conf.size() == 1);
    CHECK(conf[0].lease.t1 == 1800);
    CHECK(conf[0].lease.t2 == 2000);

    Harness h1;
    const auto d1 = only_transmit(h1.poll(at_s(0)));
    auto beyond = reply(MessageType::Ack, d1.message.xid);
    beyond.rapid_commit = true;
    beyond.renewal_time = 3500;
    beyond.rebinding_time = 4000;  // >= lease: both defaults
    conf = all_of<DhcpConfigure>(h1.deliver(at_s(0), beyond));
    REQUIRE(conf.size() == 1);
    CHECK(conf[0].lease.t1 == 1800);
    CHECK(conf[0].lease.t2 == 3150);

    Harness h2;
    const auto d2 = only_transmit(h2.poll(at_s(0)));
    auto forever = reply(MessageType::Ack, d2.message.xid);
    forever.rapid_commit = true;
    forever.lease_time = 0xffffffffu;
    conf = all_of<DhcpConfigure>(h2.deliver(at_s(0), forever));
    REQUIRE(conf.size() == 1);
    CHECK(conf[0].lease.infinite());
    CHECK_FALSE(h2.client.poll_at().has_value());
  }

  TEST_CASE("INIT-REBOOT: a stored lease is asked for again (RFC 2131 §3.2, §4.3.2)") {
    Harness h(base_config(), DhcpStoredLease{Ipv4Cidr{kOffered, 24}, kServer});
    CHECK(h.client.state() == DhcpState::InitReboot);
    const auto request = only_transmit(h.poll(at_s(0)));
    CHECK(h.client.state() == DhcpState::Rebooting);
    CHECK(request.message.message_type == MessageType::Request);
    CHECK(request.message.requested_ip == kOffered);
    CHECK_FALSE(request.message.server_id.has_value());  // MUST NOT in INIT-REBOOT
    CHECK(request.message.ciaddr.is_unspecified());
    CHECK(request.message.broadcast);
    CHECK(request.to.addr == Ipv4Address::broadcast());
    const auto conf = all_of<DhcpConfigure>(h.deliver(at_ms(3), reply(MessageType::Ack, request.message.xid)));
    REQUIRE(conf.size() == 1);
    CHECK(conf[0].lease.address.address == kOffered);
    CHECK(h.client.state() == DhcpState::Bound);
  }

  TEST_CASE("INIT-REBOOT: a NAK means the address is gone: DISCOVER (RFC 2131 §3.2 step 3)") {
    Harness h(base_config(), DhcpStoredLease{Ipv4Cidr{kOffered, 24}, kServer});
    const auto request = only_transmit(h.poll(at_s(0)));
    const auto discover = only_transmit(h.deliver(at_ms(3), reply(MessageType::Nak, request.message.xid)));
    CHECK(discover.message.message_type == MessageType::Discover);
    CHECK(h.client.state() == DhcpState::Selecting);
  }

  TEST_CASE("ACD: probes before use, then BOUND and a second announcement (RFC 5227 §2.1.1, §2.3)") {
    auto config = base_config();
    config.address_conflict_detection = true;
    Harness h(config);
    const auto discover = only_transmit(h.poll(at_s(0)));
    auto ack = reply(MessageType::Ack, discover.message.xid);
    ack.rapid_commit = true;
    CHECK(h.deliver(at_s(0), ack).empty());  // nothing configured yet
    CHECK(h.client.state() == DhcpState::Probing);
    Instant prev = at_s(0);
    for (int probe = 1; probe <= 3; ++probe) {
      const Instant next = *h.client.poll_at();
      // PROBE_WAIT (0–1 s) before the first, PROBE_MIN–PROBE_MAX (1–2 s) between the others.
      CHECK(next - prev <= (probe == 1 ? Duration::from_secs(1) : Duration::from_secs(2)));
      if (probe > 1) CHECK(next - prev >= Duration::from_secs(1));
      const auto probes = all_of<DhcpArpProbe>(h.poll(next));
      REQUIRE(probes.size() == 1);
      CHECK(probes[0].target == kOffered);
      prev = next;
    }
    // ANNOUNCE_WAIT after the last probe.
    CHECK(*h.client.poll_at() == prev + Duration::from_secs(2));
    const auto conf = all_of<DhcpConfigure>(h.poll(prev + Duration::from_secs(2)));
    REQUIRE(conf.size() == 1);
    CHECK(h.client.state() == DhcpState::Bound);
    const auto announce = all_of<DhcpArpAnnounce>(h.poll(prev + Duration::from_secs(4)));
    REQUIRE(announce.size() == 1);
    CHECK(announce[0].ip == kOffered);
  }

  TEST_CASE("ACD conflict -> DECLINE -> restart after 10 s (RFC 2131 §3.1 step 5, RFC 5227 §2.1.1)") {
    auto config = base_config();
    config.address_conflict_detection = true;
    Harness h(config);
    const auto discover = only_transmit(h.poll(at_s(0)));
    const auto request = only_transmit(h.deliver(at_s(0), reply(MessageType::Offer, discover.message.xid)));
    (void)h.deliver(at_s(0), reply(MessageType::Ack, request.message.xid));
    const Instant first_probe = *h.client.poll_at();
    REQUIRE(all_of<DhcpArpProbe>(h.poll(first_probe)).size() == 1);
    // An unrelated ARP packet changes nothing.
    h.client.process_arp(first_probe, wire::arp::Repr{.operation = wire::arp::Operation::Request,
                                                      .sender_mac = kServerMac,
                                                      .sender_ip = kServer,
                                                      .target_mac = MacAddress{},
                                                      .target_ip = kOtherServer});
    CHECK(h.client.take_actions().empty());
    // The owner of the address answers the probe.
    const Instant t = first_probe + Duration::from_millis(1);
    h.client.process_arp(t, wire::arp::Repr{.operation = wire::arp::Operation::Reply,
                                            .sender_mac = kOtherMac,
                                            .sender_ip = kOffered,
                                            .target_mac = kMac,
                                            .target_ip = Ipv4Address::any()});
    const auto decline = only_transmit(h.client.take_actions());
    CHECK(decline.message.message_type == MessageType::Decline);
    CHECK(decline.message.requested_ip == kOffered);
    CHECK(decline.message.server_id == kServer);
    CHECK(decline.message.ciaddr.is_unspecified());
    CHECK(decline.to.addr == Ipv4Address::broadcast());
    CHECK(h.client.state() == DhcpState::Init);
    CHECK(h.client.poll_at() == t + Duration::from_secs(10));
    CHECK(h.poll(t + Duration::from_secs(10) - Duration::from_millis(1)).empty());
    CHECK(only_transmit(h.poll(t + Duration::from_secs(10))).message.message_type == MessageType::Discover);
  }

  TEST_CASE("ACD: another host probing for the same address is a conflict too") {
    auto config = base_config();
    config.address_conflict_detection = true;
    Harness h(config);
    const auto discover = only_transmit(h.poll(at_s(0)));
    auto ack = reply(MessageType::Ack, discover.message.xid);
    ack.rapid_commit = true;
    (void)h.deliver(at_s(0), ack);
    h.client.process_arp(at_ms(100), wire::arp::Repr{.operation = wire::arp::Operation::Request,
                                                     .sender_mac = kOtherMac,
                                                     .sender_ip = Ipv4Address::any(),
                                                     .target_mac = MacAddress{},
                                                     .target_ip = kOffered});
    CHECK(only_transmit(h.client.take_actions()).message.message_type == MessageType::Decline);
  }

  TEST_CASE("RELEASE: unicast to the server from ciaddr, then the address is dropped (RFC 2131 §4.4.6)") {
    Harness h;
    (void)bind_at(h, at_s(0));
    CHECK(h.client.release(at_s(10)));
    const auto acts = h.client.take_actions();
    const auto release = only_transmit(acts);
    CHECK(release.message.message_type == MessageType::Release);
    CHECK(release.to == UdpEndpoint{kServer, 67});
    CHECK(release.source == kOffered);
    CHECK(release.message.ciaddr == kOffered);
    CHECK(release.message.server_id == kServer);
    CHECK(all_of<DhcpDeconfigure>(acts).size() == 1);
    CHECK(h.client.state() == DhcpState::Released);
    CHECK_FALSE(h.client.poll_at().has_value());
    CHECK_FALSE(h.client.release(at_s(11)));
  }

  TEST_CASE("overall timeout: FAILED after the configured time without a lease") {
    auto config = base_config();
    config.overall_timeout = Duration::from_secs(30);
    Harness h(config);
    (void)h.poll(at_s(0));
    while (h.client.state() != DhcpState::Failed) {
      const auto next = h.client.poll_at();
      REQUIRE(next.has_value());
      REQUIRE(*next <= at_s(30));
      (void)h.poll(*next);
    }
    CHECK_FALSE(h.client.poll_at().has_value());
    CHECK(std::any_of(h.events.begin(), h.events.end(),
                      [](const DhcpEvent& e) { return std::holds_alternative<dhcp_event::GaveUp>(e); }));
  }

  // --- on a real Interface ---------------------------------------------------------------------
  TEST_CASE("agent: DISCOVER leaves as a broadcast from 0.0.0.0:68; a rapid-commit ACK configures the interface") {
    std::vector<Bytes> frames;
    iface::InterfaceConfig ic;
    ic.mac = kMac;
    iface::Interface nic(ic, [&frames](std::span<const std::byte> f) { frames.emplace_back(f.begin(), f.end()); });
    bool chained_observer_called = false;
    nic.arp_observer = [&](Instant, const wire::arp::Repr&) { chained_observer_called = true; };
    auto config = base_config();
    config.address_conflict_detection = true;
    config.probe_num = 1;
    auto created = DhcpAgent::create(nic, config, at_s(0));
    REQUIRE(created.ok());
    auto& agent = **created;
    CHECK_FALSE(DhcpAgent::create(nic, config, at_s(0)).ok());  // port 68 is taken

    agent.poll(at_s(0));
    nic.poll(at_s(0));
    REQUIRE(frames.size() == 1);
    auto eth = wire::ethernet::View::checked(frames[0]);
    REQUIRE(eth.has_value());
    CHECK(eth->destination().is_broadcast());
    auto ip = wire::ipv4::View::checked(eth->payload());
    REQUIRE(ip.has_value());
    const auto ip_repr = wire::ipv4::Repr::parse(*ip);
    CHECK(ip_repr.src == Ipv4Address::any());
    CHECK(ip_repr.dst == Ipv4Address::broadcast());
    auto udp = wire::udp::View::checked(ip->payload());
    REQUIRE(udp.has_value());
    CHECK(udp->src_port() == 68);
    CHECK(udp->dst_port() == 67);
    CHECK(udp->verify_checksum(ip_repr.src, ip_repr.dst));
    auto discover = dhcp::Repr::parse(udp->payload());
    REQUIRE(discover.ok());

    // The server's rapid-commit ACK, broadcast (the BROADCAST flag was set).
    auto ack = reply(MessageType::Ack, discover->xid);
    ack.rapid_commit = true;
    const Bytes payload = ack.to_bytes();
    Bytes frame(wire::ethernet::kHeaderLen + wire::ipv4::kMinHeaderLen + wire::udp::kHeaderLen + payload.size());
    auto eth_out = wire::ethernet::ViewMut::unchecked(frame);
    wire::ethernet::Repr{.src = kServerMac, .dst = MacAddress::broadcast(), .ethertype = wire::EtherType::Ipv4}.emit(eth_out);
    auto ip_out = wire::ipv4::ViewMut::unchecked(std::span(frame).subspan(wire::ethernet::kHeaderLen));
    wire::ipv4::Repr{.src = kServer, .dst = Ipv4Address::broadcast(), .protocol = wire::IpProtocol::Udp,
                     .payload_len = wire::udp::kHeaderLen + payload.size()}
        .emit(ip_out);
    auto udp_out = wire::udp::ViewMut::unchecked(
        std::span(frame).subspan(wire::ethernet::kHeaderLen + wire::ipv4::kMinHeaderLen));
    wire::udp::Repr{.src_port = 67, .dst_port = 68}.emit(udp_out, kServer, Ipv4Address::broadcast(), payload);
    frames.clear();
    nic.receive(at_ms(2), frame);
    agent.poll(at_ms(2));
    CHECK(agent.client().state() == DhcpState::Probing);
    CHECK_FALSE(nic.address().has_value());

    // One probe (probe_num = 1), then ANNOUNCE_WAIT, then the address is configured.
    while (!nic.address()) {
      const auto next = agent.poll_at();
      REQUIRE(next.has_value());
      REQUIRE(*next < at_s(10));
      agent.poll(*next);
      nic.poll(*next);
    }
    CHECK(*nic.address() == Ipv4Cidr{kOffered, 24});
    CHECK(nic.gateway() == kServer);
    // Frames: the ARP probe (sender 0.0.0.0) and the gratuitous announcement.
    REQUIRE(frames.size() == 2);
    auto probe = wire::arp::Repr::parse(*wire::arp::View::checked(wire::ethernet::View::checked(frames[0])->payload()));
    REQUIRE(probe.has_value());
    CHECK(probe->sender_ip == Ipv4Address::any());
    CHECK(probe->target_ip == kOffered);
    auto announce = wire::arp::Repr::parse(*wire::arp::View::checked(wire::ethernet::View::checked(frames[1])->payload()));
    REQUIRE(announce.has_value());
    CHECK(announce->sender_ip == kOffered);

    // The observer set before the agent still sees ARP.
    Bytes arp_frame(wire::ethernet::kHeaderLen + wire::arp::kPacketLen);
    auto arp_eth = wire::ethernet::ViewMut::unchecked(arp_frame);
    wire::ethernet::Repr{.src = kServerMac, .dst = MacAddress::broadcast(), .ethertype = wire::EtherType::Arp}.emit(arp_eth);
    auto arp_view = wire::arp::ViewMut::unchecked(std::span(arp_frame).subspan(wire::ethernet::kHeaderLen));
    wire::arp::Repr{.operation = wire::arp::Operation::Request, .sender_mac = kServerMac, .sender_ip = kServer,
                    .target_mac = MacAddress{}, .target_ip = kOffered}
        .emit(arp_view);
    nic.receive(at_s(6), arp_frame);
    CHECK(chained_observer_called);

    // RELEASE: the server's MAC is known now (its request above), so the address goes at once.
    frames.clear();
    REQUIRE(agent.release(at_s(7)));
    nic.poll(at_s(7));
    agent.poll(at_s(7));
    CHECK(agent.released());
    CHECK_FALSE(nic.address().has_value());
    REQUIRE_FALSE(frames.empty());
    auto rel_ip = wire::ipv4::View::checked(wire::ethernet::View::checked(frames.back())->payload());
    REQUIRE(rel_ip.has_value());
    CHECK(wire::ipv4::Repr::parse(*rel_ip).dst == kServer);
    CHECK(wire::ipv4::Repr::parse(*rel_ip).src == kOffered);
  }
}
