// socket/tcp: a peer we do not control floods one connection with out-of-order segments
// (docs/hostile-inputs.md, the out-of-order store). The store must stay bounded in ranges and in
// bytes (nothing beyond the advertised window is kept), the connection must neither reset nor
// stall, and in-order data must still be accepted, and ACKed at once, afterwards.
#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include "support/tcp_fixtures.hpp"

using namespace test::tcp;
using stack::socket::TcpDrop;

namespace {
// The byte the peer sends at stream offset `o` (offset 0 is the first byte after its SYN), so
// every byte we hand to the application can be checked against where it belongs.
std::byte pattern(std::uint32_t o) { return static_cast<std::byte>((o * 7u + 3u) & 0xffu); }

Bytes stream(std::uint32_t offset, std::uint32_t len) {
  Bytes b(len);
  for (std::uint32_t i = 0; i < len; ++i) b[i] = pattern(offset + i);
  return b;
}

std::uint64_t drops(const Harness& h, TcpDrop d) { return h.layer.counters().drops[static_cast<std::size_t>(d)]; }
}  // namespace

TEST_SUITE("socket/tcp hostile peers") {
  TEST_CASE("an out-of-order flood past the window neither resets nor stalls the connection") {
    auto config = plain_config();
    config.sack = true;  // the receiver reports the ranges it holds (RFC 2018 §4)
    Harness h(config);
    const SocketId id = establish_passive(h);
    const SeqNum base = kRemoteSeq + 1;
    const std::uint32_t window = h.layer.tcb(id)->rcv_wnd();
    REQUIRE(window == 8192);

    // 400 segments of 10 bytes with gaps that grow (offsets 21, 44, 69, ... 160,400): the first
    // few dozen land inside the window, the rest run far past it.
    bool rst_sent = false;
    for (std::uint32_t k = 1; k <= 400; ++k) {
      const std::uint32_t offset = 20 * k + k * k;
      Repr seg = h.from_peer(id);
      seg.seq = base + offset;
      seg.ack = h.layer.tcb(id)->snd_nxt();
      h.deliver(seg, stream(offset, 10));
      for (const auto& s : h.collect()) {
        rst_sent = rst_sent || s.repr.flags.rst;
        if (s.repr.ack) CHECK(*s.repr.ack == base);  // every ACK still asks for the first missing byte
      }
    }
    CHECK_FALSE(rst_sent);
    CHECK(h.layer.state(id) == TcpState::Established);
    CHECK(h.layer.tcb(id)->rcv_nxt() == base);
    CHECK(drops(h, TcpDrop::OutOfWindow) > 0);     // beyond the window: not kept
    CHECK(drops(h, TcpDrop::ReassemblyFull) > 0);  // inside it, past the range limit: not kept
    const auto held = drops(h, TcpDrop::OutOfWindow) + drops(h, TcpDrop::ReassemblyFull);
    CHECK(held < 400);  // some were kept: the store was used, not bypassed

    // Now the honest part of the stream, in order, one MSS-sized segment at a time up to the
    // window: every segment is accepted and ACKed, at once while out-of-order data is held
    // (RFC 5681 §4.2: an ACK at once for a segment that fills all or part of a gap).
    std::uint32_t sent = 0;
    Bytes got;
    while (sent < window) {
      const std::uint32_t len = std::min<std::uint32_t>(1000, window - sent);
      Repr seg = h.from_peer(id);
      seg.seq = base + sent;
      seg.ack = h.layer.tcb(id)->snd_nxt();
      h.deliver(seg, stream(sent, len));
      sent += len;
      // Read as the application would, so the window keeps opening.
      Bytes buf(16384);
      auto n = h.layer.recv(id, buf);
      REQUIRE(n.ok());
      got.insert(got.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*n));
      auto out = h.collect();
      if (sent == len) CHECK_FALSE(out.empty());  // the first fills part of a gap: ACKed at once
      if (out.empty()) {
        // Once the held ranges are all joined, in-order data is ACKed as usual: delayed, but
        // within the delayed-ACK time (RFC 1122 §4.2.3.2).
        h.now = h.now + stack::Duration::from_millis(200);
        out = h.collect();
      }
      REQUIRE_FALSE(out.empty());
      REQUIRE(out.back().repr.ack);
      CHECK(*out.back().repr.ack == h.layer.tcb(id)->rcv_nxt());
    }
    // RCV.NXT reached at least the bytes sent in order (out-of-order ranges just above may have
    // joined), and every byte handed over is the right one.
    CHECK(seq_len(base, h.layer.tcb(id)->rcv_nxt()) >= window);
    CHECK(got.size() == seq_len(base, h.layer.tcb(id)->rcv_nxt()));
    bool all_right = true;
    for (std::uint32_t i = 0; i < got.size(); ++i) all_right = all_right && got[i] == pattern(i);
    CHECK(all_right);
    CHECK(h.layer.state(id) == TcpState::Established);
  }
}
