// TCP test fixtures (docs/architecture.md "Test layers": timelines in virtual time): a TcpLayer
// under test, a scripted peer that sends segments built with the wire API, and helpers that
// collect what the layer sends, in virtual time.
#pragma once

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "stack/socket/tcp_layer.hpp"
#include "stack/wire/tcp.hpp"

namespace test::tcp {

using stack::Bytes;
using stack::Duration;
using stack::Instant;
using stack::socket::SocketId;
using stack::socket::TcpLayer;
using stack::socket::TcpState;
using stack::wire::Ipv4Address;
using stack::wire::tcp::Repr;
using stack::wire::tcp::SeqNum;

inline const Ipv4Address kLocal = Ipv4Address::from_octets(10, 0, 0, 1);
inline const Ipv4Address kRemote = Ipv4Address::from_octets(10, 0, 0, 2);
inline constexpr std::uint16_t kListenPort = 80;
inline constexpr std::uint16_t kRemotePort = 49500;
inline constexpr SeqNum kRemoteSeq{10000};

// A plain configuration: no options except MSS, so expectations stay short. Tests that exercise
// an option switch it on.
inline TcpLayer::Config plain_config() {
  TcpLayer::Config c;
  c.secret_key[0] = 0x0123456789abcdefull;
  c.secret_key[1] = 0xfedcba9876543210ull;
  c.sack = false;
  c.timestamps = false;
  c.window_scaling = false;
  c.recv_buffer = 8192;
  c.send_buffer = 8192;
  c.recv_buffer_max = c.recv_buffer;  // fixed buffers: no auto-tuning unless a test asks for it
  c.send_buffer_max = c.send_buffer;
  c.min_rto = Duration::from_secs(1);  // the RFC 6298 §2.4 value, so the instants read as in the RFC
  c.quick_acks = 0;                     // delayed ACKs from the first segment (RFC 1122 §4.2.3.2)
  return c;
}

// One segment the layer sent, with a copy of its payload (the span is only valid during emit).
struct Sent {
  Ipv4Address src;
  Ipv4Address dst;
  Repr repr;
  Bytes payload;
  std::string describe() const { return repr.describe(); }
};

class Harness {
 public:
  explicit Harness(TcpLayer::Config config = plain_config()) : layer(config) {
    layer.on_event = [this](const stack::socket::TcpEvent& e) { events.push_back(stack::socket::describe(e)); };
  }

  void at_ms(std::int64_t ms) { now = Instant::from_millis(ms); }

  // The peer sends `r` (payload included) to us.
  void deliver(Repr r, const Bytes& payload = {}, Ipv4Address from = kRemote, Ipv4Address to = kLocal) {
    r.payload = payload;
    Bytes bytes(r.buffer_len());
    auto view = stack::wire::tcp::ViewMut::unchecked(bytes);
    r.emit(view, from, to);
    layer.process(now, from, to, bytes);
  }

  // Everything the layer sends at `now`.
  std::vector<Sent> collect() {
    std::vector<Sent> out;
    layer.dispatch(now, [&](const TcpLayer::Outgoing& o) {
      Sent s{o.src, o.dst, o.repr, Bytes(o.repr.payload.begin(), o.repr.payload.end())};
      s.repr.payload = {};
      out.push_back(std::move(s));
    });
    for (auto& s : out) s.repr.payload = s.payload;
    last = out;
    return out;
  }
  // Exactly one segment; fails the test (showing what was sent) otherwise.
  Sent expect_one() {
    auto out = collect();
    std::string all;
    for (auto& s : out) all += s.describe() + "\n";
    INFO("sent at ", now.millis(), " ms:\n", all);
    REQUIRE(out.size() == 1);
    return out[0];
  }
  void expect_silence() {
    auto out = collect();
    std::string all;
    for (auto& s : out) all += s.describe() + "\n";
    INFO("unexpected at ", now.millis(), " ms:\n", all);
    CHECK(out.empty());
  }

  // A segment from the peer on the connection `id` (ports filled in from the socket).
  Repr from_peer(SocketId id) const {
    const auto* s = layer.tcb(id);
    Repr r;
    r.src_port = s->remote().port;
    r.dst_port = s->local().port;
    r.window_raw = 8192;
    return r;
  }

  TcpLayer layer;
  Instant now;
  std::vector<std::string> events;
  std::vector<Sent> last;
};

// Active open to kRemote:80 completed with the peer's ISN kRemoteSeq. Returns the socket id.
inline SocketId establish_active(Harness& h) {
  auto id = h.layer.connect(kLocal, kRemote, 80, h.now);
  REQUIRE(id.ok());
  const Sent syn = h.expect_one();
  Repr synack = h.from_peer(*id);
  synack.flags.syn = true;
  synack.seq = kRemoteSeq;
  synack.ack = syn.repr.seq + 1;
  synack.mss = 1460;
  h.deliver(synack);
  const Sent ack = h.expect_one();
  CHECK(ack.repr.ack == kRemoteSeq + 1);
  REQUIRE(h.layer.state(*id) == TcpState::Established);
  return *id;
}

// The peer's SYN from `port` to the listener `lid`, our SYN-ACK, the peer's ACK, accept().
inline SocketId handshake_with_listener(Harness& h, SocketId lid, std::uint16_t port = kRemotePort) {
  Repr syn;
  syn.src_port = port;
  syn.dst_port = kListenPort;
  syn.seq = kRemoteSeq;
  syn.flags.syn = true;
  syn.window_raw = 8192;
  syn.mss = 1460;
  h.deliver(syn);
  const Sent synack = h.expect_one();
  REQUIRE(synack.repr.flags.syn);
  Repr ack = syn;
  ack.flags.syn = false;
  ack.mss.reset();
  ack.seq = kRemoteSeq + 1;
  ack.ack = synack.repr.seq + 1;
  h.deliver(ack);
  auto id = h.layer.accept(lid);
  REQUIRE(id.has_value());
  return *id;
}

// Passive open on port 80: a listener, then handshake_with_listener().
inline SocketId establish_passive(Harness& h, SocketId* listener_out = nullptr) {
  auto lid = h.layer.listen(Ipv4Address::any(), kListenPort, 4);
  REQUIRE(lid.ok());
  if (listener_out) *listener_out = *lid;
  return handshake_with_listener(h, *lid);
}

inline std::string text(const Bytes& b) { return std::string(reinterpret_cast<const char*>(b.data()), b.size()); }

}  // namespace test::tcp
