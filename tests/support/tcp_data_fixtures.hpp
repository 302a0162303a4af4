// Fixtures for tests of a connection carrying data: an active open with SACK/timestamps on
// request, ACKs from the scripted peer, and a pipe filled by slow start. Shared by the loss
// recovery tests (test_tcp_recovery.cpp) and RACK-TLP's (test_tcp_rack.cpp).
#pragma once

#include <deque>
#include <vector>

#include "support/tcp_fixtures.hpp"

namespace test::tcp {

using stack::socket::CongestionAlgorithm;

inline constexpr std::uint32_t kMss = 1460;

// Room for several segments in flight, NewReno so cwnd arithmetic reads as in RFC 5681.
inline TcpLayer::Config data_config(bool sack = false, bool timestamps = false) {
  auto c = plain_config();
  c.send_buffer = 64 * 1024;
  c.recv_buffer = 64 * 1024;
  c.congestion = CongestionAlgorithm::NewReno;
  c.sack = sack;
  c.timestamps = timestamps;
  c.nodelay = true;
  // RFC 5681 §3.1's initial window (3 segments of 1460), so the pipes below fill as the RFC's
  // examples do; the default (RFC 6928's 10) has its own test in test_tcp_recovery.cpp.
  c.initial_window_segments = 0;
  return c;
}

// Active open; the peer's SYN-ACK offers a 65535-byte window, MSS 1460 and, if asked, SACK and
// timestamps (peer TSval 100 at 0 ms, one tick per ms).
inline SocketId open(Harness& h, bool sack = false, bool timestamps = false) {
  auto id = h.layer.connect(kLocal, kRemote, 80, h.now);
  REQUIRE(id.ok());
  const Sent syn = h.expect_one();
  Repr synack = h.from_peer(*id);
  synack.flags.syn = true;
  synack.seq = kRemoteSeq;
  synack.ack = syn.repr.seq + 1;
  synack.mss = 1460;
  synack.window_raw = 65535;
  synack.sack_permitted = sack;
  if (timestamps) {
    REQUIRE(syn.repr.timestamps);
    synack.timestamps = std::pair{100u, syn.repr.timestamps->first};
  }
  h.deliver(synack);
  (void)h.expect_one();
  REQUIRE(h.layer.state(*id) == TcpState::Established);
  return *id;
}

// A pure ACK from the peer.
inline Repr peer_ack(const Harness& h, SocketId id, SeqNum ack, std::uint16_t window = 65535) {
  Repr r = h.from_peer(id);
  r.seq = h.layer.tcb(id)->rcv_nxt();
  r.ack = ack;
  r.window_raw = window;
  return r;
}

inline SeqNum end_of(const Sent& s) { return s.repr.seq + s.repr.segment_len(); }

// Queues `segments` full segments and ACKs the first ones one by one (slow start: +1 SMSS per
// ACK, RFC 5681 §3.1) until `want` segments are in flight; returns those, in order.
inline std::vector<Sent> fill_pipe(Harness& h, SocketId id, std::size_t segments, std::size_t want) {
  const std::size_t cap = h.layer.tcb(id)->ts_ok() ? kMss - 12 : kMss;  // RFC 7323 option bytes
  REQUIRE(*h.layer.send(id, Bytes(segments * cap, std::byte{'x'})) == segments * cap);
  std::deque<Sent> out;
  for (auto& s : h.collect()) out.push_back(s);
  while (out.size() < want) {
    REQUIRE_FALSE(out.empty());
    h.deliver(peer_ack(h, id, end_of(out.front())));
    out.pop_front();
    for (auto& s : h.collect()) out.push_back(s);
  }
  for (const auto& s : out) REQUIRE(s.payload.size() == cap);
  return {out.begin(), out.end()};
}

}  // namespace test::tcp
