// socket/tcp: buffers that grow. The receive buffer follows what the application reads per
// round trip (dynamic right-sizing) and the window scale we offer is sized for its cap (RFC 7323
// §2.2); the send buffer grows to twice the congestion window when the application has more to
// write than it holds. Virtual time; each test names the rule it checks.
#include <doctest/doctest.h>

#include <optional>

#include "support/tcp_data_fixtures.hpp"

using namespace test::tcp;

namespace {

// Fixed 8 KiB buffers (plain_config), window scaling on, the receive buffer free to grow.
TcpLayer::Config tuning_config() {
  auto c = plain_config();
  c.window_scaling = true;
  c.recv_buffer_max = 1024 * 1024;
  c.nodelay = true;
  return c;
}

// Active open; the peer's SYN-ACK comes 100 ms later (the handshake's RTT sample), MSS 1000,
// window scale 0 (so scaling is on and our own shift applies).
std::optional<SocketId> open_scaled(Harness& h) {
  auto id = h.layer.connect(kLocal, kRemote, 80, h.now);
  REQUIRE(id.ok());
  const Sent syn = h.expect_one();
  h.at_ms(100);
  Repr synack = h.from_peer(*id);
  synack.flags.syn = true;
  synack.seq = kRemoteSeq;
  synack.ack = syn.repr.seq + 1;
  synack.mss = 1000;
  synack.window_raw = 65535;
  synack.window_scale = 0;
  h.deliver(synack);
  (void)h.expect_one();
  return *id;
}

}  // namespace

TEST_SUITE("socket/tcp buffers") {
  TEST_CASE("the SYN offers the window scale the cap needs (RFC 7323 §2.2) and the window of the starting buffer") {
    auto c = tuning_config();
    c.recv_buffer_max = 6 * 1024 * 1024;
    Harness h(c);
    auto id = h.layer.connect(kLocal, kRemote, 80, h.now);
    REQUIRE(id.ok());
    const Sent syn = h.expect_one();
    REQUIRE(syn.repr.window_scale);
    CHECK(*syn.repr.window_scale == 7);  // 6 MiB >> 7 = 49152 fits in 16 bits; >> 6 does not
    CHECK(syn.repr.window_raw == 8192);
  }

  TEST_CASE("a receiver whose application keeps up: the advertised window grows past the starting buffer, round trip by round trip") {
    Harness h(tuning_config());
    const auto id = open_scaled(h);
    REQUIRE(h.layer.tcb(*id)->rcv_wscale() == 5);  // 1 MiB >> 4 = 65536, one more than 16 bits hold
    std::uint32_t window = h.layer.tcb(*id)->rcv_wnd();
    CHECK(window == 8192);
    // Each round trip the peer fills the window it was offered and the application reads all of
    // it at once; the window offered in the last ACK of the round trip is what the peer may send next.
    Bytes buf(64 * 1024);
    std::size_t received = 0;
    std::vector<std::uint32_t> windows;
    for (int rtt = 0; rtt < 8; ++rtt) {
      h.at_ms(200 + 100 * rtt);
      const std::uint32_t send = window;
      for (std::uint32_t off = 0; off < send; off += 1000) {
        Repr d = h.from_peer(*id);
        d.seq = h.layer.tcb(*id)->rcv_nxt();
        d.ack = h.layer.tcb(*id)->snd_nxt();
        const std::uint32_t len = std::min<std::uint32_t>(1000, send - off);
        h.deliver(d, Bytes(len, std::byte{'d'}));
        for (;;) {
          auto r = h.layer.recv(*id, buf);
          if (!r.ok() || *r == 0) break;
          received += *r;
        }
      }
      const auto acks = h.collect();
      REQUIRE_FALSE(acks.empty());
      window = static_cast<std::uint32_t>(acks.back().repr.window_raw) << 5;
      windows.push_back(window);
      CAPTURE(rtt);
      CHECK(window >= send);  // never shrinks
    }
    CHECK(received > 100 * 1024);
    CHECK(windows.back() > 8 * windows.front());  // grew severalfold
    CHECK(windows.back() <= 1024 * 1024);         // within the cap
  }

  TEST_CASE("an application that does not read: the window never grows (the buffer is for data it will take)") {
    Harness h(tuning_config());
    const auto id = open_scaled(h);
    for (int i = 0; i < 8; ++i) {
      h.at_ms(200 + 100 * i);
      Repr d = h.from_peer(*id);
      d.seq = h.layer.tcb(*id)->rcv_nxt();
      d.ack = h.layer.tcb(*id)->snd_nxt();
      h.deliver(d, Bytes(1000, std::byte{'d'}));
    }
    (void)h.collect();
    CHECK(h.layer.tcb(*id)->rcv_wnd() <= 8192);
    CHECK(h.layer.tcb(*id)->recv_queued() == 8000);
  }

  TEST_CASE("the send buffer grows to twice the congestion window when the application writes more than it holds") {
    auto c = data_config();
    c.send_buffer = 8192;
    c.send_buffer_max = 1024 * 1024;
    Harness h(c);
    const SocketId id = open(h);
    REQUIRE(h.layer.tcb(id)->congestion().cwnd() == 3 * 1460);  // RFC 5681 §3.1's initial window
    // 2 x 4380 = 8760, in whole pages: 12288.
    CHECK(*h.layer.send(id, Bytes(100000, std::byte{'x'})) == 12288);
    CHECK(h.layer.tcb(id)->send_space() == 0);
    // With a cap below that, the cap.
    c.send_buffer_max = 10000;
    Harness capped(c);
    const SocketId id2 = open(capped);
    CHECK(*capped.layer.send(id2, Bytes(100000, std::byte{'x'})) == 10000);
    // And growth off (the cap at the starting size): the starting buffer.
    c.send_buffer_max = 8192;
    Harness fixed(c);
    const SocketId id3 = open(fixed);
    CHECK(*fixed.layer.send(id3, Bytes(100000, std::byte{'x'})) == 8192);
  }
}
