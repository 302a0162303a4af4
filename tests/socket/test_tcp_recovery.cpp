// socket/tcp: loss recovery, timers and blind-attack defences in virtual time, one test per RFC
// behaviour. The peer is scripted segment by segment (support/tcp_fixtures.hpp); every test
// names the rule it checks, and each was seen failing with the rule broken in the code.
#include <doctest/doctest.h>

#include <algorithm>
#include <deque>

#include "support/tcp_data_fixtures.hpp"

using namespace test::tcp;
using stack::to_bytes;
using stack::socket::CongestionAlgorithm;
using stack::socket::TcpDrop;
using stack::socket::TcpError;
using stack::wire::tcp::SackBlock;

namespace {

// Sends `n` bytes of 'a', and the peer acknowledges all of them with a zero window: the start of
// every persist-timer test. Returns the data segment.
Sent send_then_close_window(Harness& h, SocketId id, std::size_t n) {
  REQUIRE(*h.layer.send(id, Bytes(n, std::byte{'a'})) == n);
  const Sent d = h.expect_one();
  h.deliver(peer_ack(h, id, end_of(d), 0));
  return d;
}

std::string describe_all(const std::vector<Sent>& v) {
  std::string all;
  for (const auto& s : v) all += s.describe() + "\n";
  return all;
}

}  // namespace

TEST_SUITE("socket/tcp recovery") {
  // ---- the initial window ----
  TEST_CASE("the first flight is 10 segments by default (RFC 6928), 3 with RFC 5681's initial window") {
    for (const std::uint32_t iw : {10u, 0u}) {
      CAPTURE(iw);
      auto c = data_config();
      c.initial_window_segments = iw;
      Harness h(c);
      const SocketId id = open(h);
      REQUIRE(*h.layer.send(id, Bytes(20 * kMss, std::byte{'x'})) == 20 * kMss);
      const auto flight = h.collect();
      // RFC 6928 §2: min(10*MSS, max(2*MSS, 14600)); RFC 5681 §3.1: min(4*SMSS, max(2*SMSS, 4380)).
      CHECK(flight.size() == (iw == 10 ? 10u : 3u));
      CHECK(h.layer.tcb(id)->congestion().cwnd() == (iw == 10 ? 10 * kMss : 3 * kMss));
      for (const auto& s : flight) CHECK(s.payload.size() == kMss);
    }
    // The rules in bytes for other segment sizes: ten segments when they fit in 14,600 bytes,
    // else 14,600 bytes, but never fewer than two segments (RFC 6928 §2).
    CHECK(stack::socket::initial_window(536, 10) == 5360);
    CHECK(stack::socket::initial_window(1460, 10) == 14600);
    CHECK(stack::socket::initial_window(8960, 10) == 17920);  // jumbo frames: 2 segments
    CHECK(stack::socket::initial_window(1460, 0) == 4380);
    CHECK(stack::socket::initial_window(536, 0) == 2144);
  }

  // ---- fast retransmit and NewReno (RFC 5681 §3.2, RFC 6582) ----
  TEST_CASE("ESTABLISHED: the third duplicate ACK triggers fast retransmit (RFC 5681 §3.2)") {
    Harness h(data_config());
    const SocketId id = open(h);
    const auto p = fill_pipe(h, id, 6 + 3, 6);  // P0 lost; P1..P5 each produce a duplicate ACK
    const auto* s = h.layer.tcb(id);
    h.at_ms(100);
    h.deliver(peer_ack(h, id, p[0].repr.seq));
    h.expect_silence();
    h.deliver(peer_ack(h, id, p[0].repr.seq));
    h.expect_silence();
    CHECK_FALSE(s->in_recovery());
    h.deliver(peer_ack(h, id, p[0].repr.seq));
    const Sent rx = h.expect_one();
    CHECK(rx.repr.seq == p[0].repr.seq);
    CHECK(rx.payload.size() == kMss);
    CHECK(s->in_recovery());
    // RFC 5681 §3.2 steps 2-3: ssthresh = max(FlightSize / 2, 2*SMSS); cwnd = ssthresh + 3*SMSS.
    CHECK(s->congestion().ssthresh() == 6 * kMss / 2);
    CHECK(s->congestion().cwnd() == 6 * kMss / 2 + 3 * kMss);
    CHECK(h.layer.counters().fast_retransmits == 1);
    CHECK(h.layer.counters().rto_expired == 0);
  }

  TEST_CASE("ESTABLISHED: with two segments outstanding and nothing new to send, one duplicate ACK is enough (RFC 5827 Early Retransmit)") {
    Harness h(data_config());
    const SocketId id = open(h);
    REQUIRE(*h.layer.send(id, Bytes(2 * kMss, std::byte{'x'})) == 2 * kMss);
    const auto p = h.collect();
    REQUIRE(p.size() == 2);
    h.at_ms(20);
    h.deliver(peer_ack(h, id, p[0].repr.seq));  // P1 arrived, P0 did not
    const Sent rx = h.expect_one();
    CHECK(rx.repr.seq == p[0].repr.seq);
    CHECK(h.layer.counters().fast_retransmits == 1);
    CHECK(h.layer.counters().rto_expired == 0);
  }

  TEST_CASE("ESTABLISHED: the first two duplicate ACKs each release one new segment beyond cwnd (RFC 3042 Limited Transmit)") {
    Harness h(data_config());
    const SocketId id = open(h);
    const auto p = fill_pipe(h, id, 9 + 2, 6);  // 6 in flight = cwnd (9 sent), 2 segments queued
    REQUIRE(h.layer.tcb(id)->congestion().cwnd() == 6 * kMss);
    h.at_ms(100);
    for (int i = 0; i < 2; ++i) {
      h.deliver(peer_ack(h, id, p[0].repr.seq));
      const Sent fresh = h.expect_one();
      CHECK(fresh.repr.seq == end_of(p[5]) + static_cast<std::uint32_t>(i) * kMss);
    }
    h.deliver(peer_ack(h, id, p[0].repr.seq));
    CHECK(h.collect().front().repr.seq == p[0].repr.seq);  // the third: fast retransmit
  }

  TEST_CASE("ESTABLISHED: a fast retransmit that timestamps prove spurious is undone and DupThresh rises (RFC 3522, RFC 4015)") {
    Harness h(data_config(false, true));
    const SocketId id = open(h, false, true);
    const auto* s = h.layer.tcb(id);
    const auto p = fill_pipe(h, id, 9, 6);
    const std::uint32_t cwnd_before = s->congestion().cwnd();
    h.at_ms(100);
    for (int i = 0; i < 3; ++i) h.deliver(peer_ack(h, id, p[0].repr.seq));
    CHECK(h.expect_one().repr.seq == p[0].repr.seq);
    REQUIRE(s->in_recovery());
    REQUIRE(s->congestion().cwnd() < cwnd_before + 3 * (kMss - 12));
    // P0 was only late: the ACK covering it echoes the *original* transmission's TSval.
    h.at_ms(105);
    Repr a = peer_ack(h, id, end_of(p[5]));
    a.timestamps = std::pair{300u, p[0].repr.timestamps->first};
    h.deliver(a);
    CHECK_FALSE(s->in_recovery());
    CHECK(s->congestion().cwnd() == cwnd_before);
    CHECK(s->dupthresh() == 4);
    CHECK(h.layer.counters().spurious_retransmits == 1);
  }

  TEST_CASE("ESTABLISHED: ACKs that carry data or change the window are not duplicate ACKs (RFC 5681 §2)") {
    Harness h(data_config());
    const SocketId id = open(h);
    const auto p = fill_pipe(h, id, 9, 6);
    h.at_ms(100);
    // Window updates (b: "the advertised window ... equals the advertised window in the last").
    for (std::uint16_t w : {std::uint16_t{60000}, std::uint16_t{50000}, std::uint16_t{40000}}) h.deliver(peer_ack(h, id, p[0].repr.seq, w));
    h.expect_silence();
    // Segments carrying data (RFC 5681 §2 (b) "the acknowledgment carries no data").
    for (std::uint32_t i = 0; i < 3; ++i) {
      Repr d = peer_ack(h, id, p[0].repr.seq, 40000);
      h.deliver(d, to_bytes("z"));
    }
    for (const auto& s : h.collect()) CHECK_MESSAGE(s.payload.empty(), s.describe());
    CHECK_FALSE(h.layer.tcb(id)->in_recovery());
    CHECK(h.layer.counters().fast_retransmits == 0);
  }

  TEST_CASE("NewReno: a partial ACK retransmits the next hole at once and deflates cwnd; the full ACK ends recovery (RFC 6582 §3.2)") {
    Harness h(data_config());
    const SocketId id = open(h);
    const auto p = fill_pipe(h, id, 9, 6);  // P0 and P2 lost
    const auto* s = h.layer.tcb(id);
    h.at_ms(100);
    for (int i = 0; i < 3; ++i) h.deliver(peer_ack(h, id, p[0].repr.seq));
    CHECK(h.expect_one().repr.seq == p[0].repr.seq);
    h.deliver(peer_ack(h, id, p[0].repr.seq));  // the fourth: cwnd += SMSS (RFC 5681 §3.2 step 4)
    const std::uint32_t inflated = s->congestion().cwnd();
    CHECK(inflated == 3 * kMss + 4 * kMss);
    h.expect_silence();  // nothing new to send
    h.at_ms(120);
    h.deliver(peer_ack(h, id, p[2].repr.seq));  // partial ACK: P0 and P1 acknowledged
    const Sent rx = h.expect_one();
    CHECK(rx.repr.seq == p[2].repr.seq);
    CHECK(s->in_recovery());
    // "deflate the congestion window by the amount of new data acknowledged ... then add back SMSS".
    CHECK(s->congestion().cwnd() == inflated - 2 * kMss + kMss);
    CHECK(h.layer.counters().fast_retransmits == 1);  // one recovery, not two
    h.at_ms(140);
    h.deliver(peer_ack(h, id, end_of(p[5])));  // full ACK: covers "recover"
    CHECK_FALSE(s->in_recovery());
    // Step 6 (option 1): cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS).
    CHECK(s->congestion().cwnd() == std::min(s->congestion().ssthresh(), 2 * kMss));
    CHECK(h.layer.counters().retransmitted == 2);
  }

  TEST_CASE("NewReno: duplicate ACKs for data sent before a timeout do not start a fast retransmit (RFC 6582 §4)") {
    Harness h(data_config());
    const SocketId id = open(h);
    const auto p = fill_pipe(h, id, 9, 6);
    const SeqNum una = h.layer.tcb(id)->snd_una();
    h.at_ms(1000);  // fill_pipe ran at 0 ms: the RTO (1 s) expires
    CHECK(h.expect_one().repr.seq == una);
    for (int i = 0; i < 3; ++i) {
      h.deliver(peer_ack(h, id, una));
      // Limited Transmit (RFC 3042) may carry on with the go-back-N segments; SND.UNA is not
      // resent.
      for (const auto& s : h.collect()) CHECK_MESSAGE(s.repr.seq != una, s.describe());
    }
    CHECK(h.layer.counters().fast_retransmits == 0);
    CHECK_FALSE(h.layer.tcb(id)->in_recovery());
    (void)p;
  }

  // ---- SACK (RFC 2018, RFC 6675) ----
  TEST_CASE("SACK without RACK: recovery retransmits exactly the holes, once each, never SACKed data (RFC 6675 §5)") {
    // RFC 6675 alone (DupThresh); with RACK on, tests/socket/test_tcp_rack.cpp.
    auto config = data_config(true);
    config.rack = false;
    Harness h(config);
    const SocketId id = open(h, true);
    REQUIRE(h.layer.tcb(id)->sack_ok());
    const auto p = fill_pipe(h, id, 9, 6);  // P0 and P2 lost; P1, P3, P4, P5 arrive
    h.at_ms(100);
    std::vector<Sent> sent;
    auto dupack = [&](std::initializer_list<SackBlock> blocks) {
      Repr a = peer_ack(h, id, p[0].repr.seq);
      std::size_t i = 0;
      for (const auto& b : blocks) a.sack_blocks[i++] = b;
      h.deliver(a);
      for (auto& s : h.collect()) sent.push_back(s);
    };
    dupack({{p[1].repr.seq, end_of(p[1])}});
    dupack({{p[3].repr.seq, end_of(p[3])}, {p[1].repr.seq, end_of(p[1])}});
    CHECK(sent.empty());
    dupack({{p[3].repr.seq, end_of(p[4])}, {p[1].repr.seq, end_of(p[1])}});
    dupack({{p[3].repr.seq, end_of(p[5])}, {p[1].repr.seq, end_of(p[1])}});
    INFO("sent during recovery:\n", describe_all(sent));
    REQUIRE(sent.size() == 2);
    CHECK(sent[0].repr.seq == p[0].repr.seq);
    CHECK(sent[1].repr.seq == p[2].repr.seq);
    CHECK(h.layer.counters().sack_recoveries == 1);
    // The retransmission of P0 arrives: the ACK moves to P2, which is already resent.
    h.at_ms(120);
    Repr a = peer_ack(h, id, p[2].repr.seq);
    a.sack_blocks[0] = SackBlock{p[3].repr.seq, end_of(p[5])};
    h.deliver(a);
    h.expect_silence();
    h.deliver(peer_ack(h, id, end_of(p[5])));
    CHECK_FALSE(h.layer.tcb(id)->in_recovery());
    CHECK(h.layer.counters().retransmitted == 2);
  }

  TEST_CASE("D-SACK: a wholly old segment is reported once, as the first SACK block of the immediate ACK (RFC 2883 §4.1.1)") {
    Harness h(data_config(true));
    const SocketId id = open(h, true);
    Repr d = h.from_peer(id);
    d.ack = h.layer.tcb(id)->snd_nxt();
    d.seq = kRemoteSeq + 1;
    h.deliver(d, to_bytes("abcdef"));
    h.at_ms(200);
    CHECK(h.expect_one().repr.ack == kRemoteSeq + 7);  // the delayed ACK
    h.deliver(d, to_bytes("abcdef"));                  // the peer retransmits it anyway
    const Sent dup_ack = h.expect_one();
    CHECK(dup_ack.repr.ack == kRemoteSeq + 7);
    REQUIRE(dup_ack.repr.sack_blocks[0].has_value());
    CHECK(*dup_ack.repr.sack_blocks[0] == SackBlock{kRemoteSeq + 1, kRemoteSeq + 7});
    CHECK_FALSE(dup_ack.repr.sack_blocks[1].has_value());
    d.seq = kRemoteSeq + 7;
    h.deliver(d, to_bytes("gh"));
    h.at_ms(400);
    const Sent next = h.expect_one();
    CHECK(next.repr.ack == kRemoteSeq + 9);
    CHECK_FALSE(next.repr.sack_blocks[0].has_value());  // reported once
  }

  TEST_CASE("D-SACK: the old head of a partly new segment, and a repeat of out-of-order data before its SACK block (RFC 2883 §4.1.1, §4.1.2)") {
    Harness h(data_config(true));
    const SocketId id = open(h, true);
    Repr d = h.from_peer(id);
    d.ack = h.layer.tcb(id)->snd_nxt();
    d.seq = kRemoteSeq + 1;
    h.deliver(d, to_bytes("abcd"));
    h.at_ms(200);
    (void)h.expect_one();
    d.seq = kRemoteSeq + 3;  // "cd" again, then "ef": in order, so the D-SACK rides the delayed ACK
    h.deliver(d, to_bytes("cdef"));
    h.expect_silence();
    h.at_ms(400);
    Sent a = h.expect_one();
    CHECK(a.repr.ack == kRemoteSeq + 7);
    REQUIRE(a.repr.sack_blocks[0].has_value());
    CHECK(*a.repr.sack_blocks[0] == SackBlock{kRemoteSeq + 3, kRemoteSeq + 5});
    d.seq = kRemoteSeq + 11;  // out of order: a hole at 7..11
    h.deliver(d, to_bytes("kl"));
    a = h.expect_one();
    CHECK(*a.repr.sack_blocks[0] == SackBlock{kRemoteSeq + 11, kRemoteSeq + 13});
    h.deliver(d, to_bytes("kl"));  // the same out-of-order segment again
    a = h.expect_one();
    CHECK(a.repr.ack == kRemoteSeq + 7);
    REQUIRE(a.repr.sack_blocks[1].has_value());
    CHECK(*a.repr.sack_blocks[0] == SackBlock{kRemoteSeq + 11, kRemoteSeq + 13});  // D-SACK
    CHECK(*a.repr.sack_blocks[1] == SackBlock{kRemoteSeq + 11, kRemoteSeq + 13});  // the block holding it
  }

  TEST_CASE("SACK: blocks outside SND.UNA..SND.NXT are ignored (RFC 2018 §4, docs/hostile-inputs.md #41)") {
    Harness h(data_config(true));
    const SocketId id = open(h, true);
    const auto p = fill_pipe(h, id, 9, 6);
    h.at_ms(5);  // before the tail loss probe (RFC 8985 §7.2: 10 ms at the earliest)
    for (int i = 0; i < 2; ++i) {
      Repr a = peer_ack(h, id, p[0].repr.seq);
      a.sack_blocks[0] = SackBlock{end_of(p[5]), end_of(p[5]) + 100000};  // beyond SND.NXT
      a.sack_blocks[1] = SackBlock{p[0].repr.seq - 50000, p[0].repr.seq};  // below SND.UNA
      h.deliver(a);
    }
    h.expect_silence();
    CHECK_FALSE(h.layer.tcb(id)->in_recovery());
    CHECK(h.layer.counters().rack_lost == 0);
  }

  // ---- zero window (RFC 9293 §3.8.6.1) ----
  TEST_CASE("ESTABLISHED: zero window — probes after one RTO, then backing off 2, 4, 8 s, capped at 60 s (RFC 9293 §3.8.6.1, RFC 1122 §4.2.2.17)") {
    Harness h(data_config());
    const SocketId id = open(h);
    REQUIRE(*h.layer.send(id, Bytes(1000, std::byte{'a'})) == 1000);
    const Sent d = h.expect_one();
    h.at_ms(20);
    h.deliver(peer_ack(h, id, end_of(d), 0));  // everything acknowledged, window closed
    REQUIRE(*h.layer.send(id, Bytes(100, std::byte{'b'})) == 100);
    h.expect_silence();
    const std::uint32_t cwnd_before = h.layer.tcb(id)->congestion().cwnd();
    // Probe times: 1 s after the zero window, then each probe's timer backs off (MUST-36).
    std::int64_t t = 20 + 1000;
    std::int64_t gap = 1000;
    for (int probe = 0; probe < 10; ++probe) {
      CAPTURE(probe);
      h.at_ms(t - 1);
      h.expect_silence();
      h.at_ms(t);
      const Sent pr = h.expect_one();
      CHECK(pr.repr.seq == end_of(d));
      CHECK(pr.payload.size() == 1);
      // The peer answers every probe, still with a zero window.
      h.at_ms(t + 10);
      h.deliver(peer_ack(h, id, end_of(d), 0));
      h.expect_silence();
      // RFC 1122 §4.2.2.17: exponential from the first interval (1, 2, 4, 8 s ...), not 1, 1, 2.
      gap = std::min<std::int64_t>(gap * 2, 60000);
      t += gap;
    }
    CHECK(h.layer.counters().window_probes + h.layer.counters().rto_expired >= 10);
    CHECK(h.layer.counters().fast_retransmits == 0);  // probe answers are not duplicate ACKs
    // The window opens: the queued bytes leave at once, and the probes did not cost cwnd.
    h.at_ms(t - 5);
    h.deliver(peer_ack(h, id, end_of(d), 65535));
    const Sent rest = h.expect_one();
    CHECK(rest.repr.seq == end_of(d));
    CHECK(rest.payload.size() == 100);
    CHECK(h.layer.tcb(id)->congestion().cwnd() >= cwnd_before);
  }

  TEST_CASE("Unanswered zero-window probes: every expiry of the probe's timer sends the probe again, with SACK (RACK) as without, one timer at a time (RFC 9293 §3.8.6.1, found by fuzz_tcp_peers)") {
    // With RACK, the retransmission timer of a probe once found nothing marked lost and sent
    // nothing; the persist timer then took over, so a probe went out only every other expiry
    // (1, 7, 31 s instead of 1, 3, 7, 15, 31 s) and an orphan used up its retries twice as fast.
    for (const bool sack : {false, true}) {
      CAPTURE(sack);
      Harness h(data_config(sack));
      const SocketId id = open(h, sack);
      const Sent d = send_then_close_window(h, id, 10);
      REQUIRE(*h.layer.send(id, Bytes(10, std::byte{'b'})) == 10);
      std::vector<std::int64_t> at;
      for (std::int64_t ms = 0; ms <= 32 * 1000; ms += 50) {
        h.at_ms(ms);
        for (const auto& sent : h.collect()) {
          CHECK(sent.repr.seq == end_of(d));
          CHECK(sent.payload.size() == 1);
          at.push_back(ms);
        }
      }
      REQUIRE(at.size() == 5);
      CHECK(at[0] <= 1050);
      for (std::size_t i = 2; i < at.size(); ++i) CHECK(at[i] - at[i - 1] == 2 * (at[i - 1] - at[i - 2]));
      CHECK(h.layer.counters().window_probes == 5);
    }
  }

  TEST_CASE("ESTABLISHED: a zero window answered for ever never times the connection out (RFC 9293 §3.8.6.1 MUST-37)") {
    Harness h(data_config());
    const SocketId id = open(h);
    const Sent d = send_then_close_window(h, id, 10);
    REQUIRE(*h.layer.send(id, Bytes(10, std::byte{'b'})) == 10);
    int probes = 0;
    for (std::int64_t ms = 0; ms < 3600 * 1000; ms += 500) {
      h.at_ms(ms);
      for (const auto& s : h.collect()) {
        if (s.payload.empty()) continue;
        ++probes;
        h.deliver(peer_ack(h, id, end_of(d), 0));
      }
    }
    CHECK(probes > 50);  // an hour at the 60 s cap
    CHECK(h.layer.state(id) == TcpState::Established);
    CHECK_FALSE(h.layer.error(id).has_value());
  }

  TEST_CASE("ESTABLISHED: unanswered zero-window probes end like unanswered retransmissions (RFC 9293 §3.8.3 R2)") {
    auto c = data_config();
    c.max_retries = 4;
    Harness h(c);
    const SocketId id = open(h);
    const Sent d = send_then_close_window(h, id, 10);
    REQUIRE(*h.layer.send(id, Bytes(10, std::byte{'b'})) == 10);
    for (std::int64_t ms = 0; ms < 600 * 1000; ms += 500) {
      h.at_ms(ms);
      (void)h.collect();
    }
    CHECK(h.layer.state(id) == TcpState::Closed);
    CHECK(h.layer.error(id) == TcpError::TimedOut);
  }

  // ---- small windows: the SWS override timer (RFC 1122 §4.2.3.4, RFC 9293 §3.8.6.2.1) ----
  // A peer that offers a window smaller than a segment and than half its largest window, while
  // data waits and nothing is in flight: SWS avoidance refuses to send, no ACK will come, and
  // without the override timer nothing ever wakes the sender (the connection hangs for good).
  TEST_CASE("Small windows: for every window W the data is delivered, the close completes and no socket is left (RFC 1122 §4.2.3.4)") {
    for (const std::uint16_t w : std::initializer_list<std::uint16_t>{0, 1, 8, 100, 523, 1000, 2047, 4096}) {
      CAPTURE(w);
      auto c = plain_config();
      c.min_rto = Duration::from_millis(200);
      Harness h(c);
      auto id = h.layer.connect(kLocal, kRemote, 80, h.now);
      REQUIRE(id.ok());
      const Sent syn = h.expect_one();
      Repr synack = h.from_peer(*id);  // no MSS option: SND.MSS = 536 (RFC 9293 MUST-15)
      synack.flags.syn = true;
      synack.seq = kRemoteSeq;
      synack.ack = syn.repr.seq + 1;
      synack.window_raw = 4096;
      h.deliver(synack);
      (void)h.expect_one();
      // The peer's first ACK offers W.
      SeqNum peer_rcv_nxt = syn.repr.seq + 1;
      auto peer_ack_now = [&](std::uint16_t window) {
        Repr a = h.from_peer(*id);
        a.seq = kRemoteSeq + 1;
        a.ack = peer_rcv_nxt;
        a.window_raw = window;
        h.deliver(a);
      };
      peer_ack_now(w);
      REQUIRE(*h.layer.send(*id, Bytes(1000, std::byte{'d'})) == 1000);
      h.layer.close(*id);
      // The peer: takes in-order bytes (and the FIN) that fit its window W, and ACKs everything
      // it sees, always offering W again (an application reading exactly as fast as that).
      std::size_t delivered = 0;
      std::optional<std::int64_t> first_data_ms;
      bool fin_taken = false;
      for (std::int64_t ms = 0; ms <= 3600 * 1000 && h.layer.socket_count() > 0; ms += 10) {
        h.at_ms(ms);
        for (const auto& seg : h.collect()) {
          if (seg.repr.flags.rst) continue;
          if (!seg.payload.empty() && seg.repr.seq == peer_rcv_nxt) {
            const std::size_t take = std::min<std::size_t>(seg.payload.size(), w);
            peer_rcv_nxt += static_cast<std::uint32_t>(take);
            delivered += take;
            if (take > 0 && !first_data_ms) first_data_ms = ms;
          }
          if (seg.repr.flags.fin && seg.repr.seq + static_cast<std::uint32_t>(seg.payload.size()) == peer_rcv_nxt &&
              w > 0 && !fin_taken) {
            peer_rcv_nxt += 1;
            fin_taken = true;
          }
          if (seg.repr.segment_len() > 0) peer_ack_now(w);
        }
      }
      if (w > 0) {
        CHECK(delivered == 1000);
        CHECK(fin_taken);
        REQUIRE(first_data_ms);
        CHECK(*first_data_ms <= 400);  // about one RTO (200 ms) after the window was offered
      } else {
        CHECK(delivered == 0);
        CHECK(h.layer.counters().window_probes > 0);
      }
      CHECK(h.layer.socket_count() == 0);  // freed: nothing is held for ever
    }
  }

  TEST_CASE("Small window: one segment's worth refused by SWS avoidance goes out when the override timer fires, then the rest (timeline)") {
    Harness h(data_config());
    const SocketId id = open(h);  // peer window 65535, MSS 1460, RTO 1 s
    REQUIRE(*h.layer.send(id, Bytes(1000, std::byte{'a'})) == 1000);
    const Sent d = h.expect_one();
    // Everything acknowledged; the peer now offers 8 bytes, far below half its largest window.
    h.at_ms(10);
    h.deliver(peer_ack(h, id, end_of(d), 8));
    REQUIRE(*h.layer.send(id, Bytes(100, std::byte{'b'})) == 100);
    h.expect_silence();  // SWS avoidance: 8 bytes is not worth a segment yet
    h.at_ms(10 + 999);
    h.expect_silence();
    h.at_ms(10 + 1000);  // the override timer (one RTO): send what fits
    const Sent small = h.expect_one();
    CHECK(small.repr.seq == end_of(d));
    CHECK(small.payload.size() == 8);
    CHECK(h.layer.counters().sws_overrides == 1);
    // The peer takes them and opens its window: the rest follows at once.
    h.at_ms(1100);
    h.deliver(peer_ack(h, id, end_of(small), 65535));
    const Sent rest = h.expect_one();
    CHECK(rest.repr.seq == end_of(small));
    CHECK(rest.payload.size() == 92);
    CHECK(h.layer.counters().window_probes == 0);  // never a zero-window probe: the window was open
  }

  TEST_CASE("A zero window that reopens to a tiny one after a probe: the unacknowledged probe byte goes again within an RTO (found by fuzz_tcp_conn)") {
    Harness h(data_config());
    const SocketId id = open(h);
    const Sent d = send_then_close_window(h, id, 1000);
    REQUIRE(*h.layer.send(id, Bytes(3000, std::byte{'b'})) == 3000);
    h.expect_silence();
    h.at_ms(1000);
    const Sent probe = h.expect_one();
    REQUIRE(probe.payload.size() == 1);
    // The window reopens to 6 bytes without taking the probe byte: SND.NXT goes back over it,
    // its timer is cancelled, and SWS avoidance refuses 6 bytes. Something must still wake us.
    h.at_ms(1010);
    h.deliver(peer_ack(h, id, end_of(d), 6));
    bool sent = false;
    for (std::int64_t ms = 1010; ms <= 4000 && !sent; ms += 10) {
      h.at_ms(ms);
      for (const auto& s : h.collect()) sent = sent || (!s.payload.empty() && s.repr.seq == end_of(d));
    }
    CHECK(sent);
  }

  TEST_CASE("Orphan: a closed connection whose peer answers with a zero window for ever is dropped after orphan_retries (Linux tcp_orphan_retries)") {
    auto c = data_config();
    c.orphan_retries = 3;
    Harness h(c);
    const SocketId id = open(h);
    const Sent d = send_then_close_window(h, id, 10);
    REQUIRE(*h.layer.send(id, Bytes(10, std::byte{'b'})) == 10);
    h.layer.close(id);  // FIN-WAIT-1, the FIN behind data the peer will never take
    int probes = 0;
    for (std::int64_t ms = 0; ms < 3600 * 1000 && h.layer.socket_count() > 0; ms += 100) {
      h.at_ms(ms);
      for (const auto& s : h.collect()) {
        if (s.repr.segment_len() == 0) continue;
        ++probes;
        h.deliver(peer_ack(h, id, end_of(d), 0));  // alive, still no room
      }
    }
    CHECK(h.layer.socket_count() == 0);
    CHECK(h.layer.counters().orphans_timed_out == 1);
    CHECK(probes >= 3);
  }

  TEST_CASE("A FIN behind a zero window waits for the persist timer instead of using up retransmissions; probes answered keep the connection (RFC 9293 §3.8.6.1)") {
    auto c = data_config();
    c.max_retries = 3;
    Harness h(c);
    const SocketId id = open(h);
    const Sent d = send_then_close_window(h, id, 10);
    h.layer.shutdown(id);  // not an orphan: the application still holds the socket
    h.expect_silence();    // no FIN into the zero window
    int probes = 0;
    for (std::int64_t ms = 0; ms < 1800 * 1000; ms += 100) {
      h.at_ms(ms);
      for (const auto& s : h.collect()) {
        if (s.repr.segment_len() == 0) continue;
        CHECK(s.repr.flags.fin);  // the probe is the FIN itself
        ++probes;
        h.deliver(peer_ack(h, id, end_of(d), 0));
      }
    }
    CHECK(probes > 20);
    CHECK(h.layer.state(id) == TcpState::FinWait1);
    CHECK_FALSE(h.layer.error(id).has_value());
    // The window opens: the FIN goes and is acknowledged.
    h.at_ms(1800 * 1000 + 1);
    h.deliver(peer_ack(h, id, end_of(d), 65535));
    const Sent fin = h.expect_one();
    CHECK(fin.repr.flags.fin);
    h.deliver(peer_ack(h, id, end_of(d) + 1, 65535));
    CHECK(h.layer.state(id) == TcpState::FinWait2);
  }

  TEST_CASE("A FIN arriving into a zero receive window is not taken: RCV.NXT stays at the advertised edge (RFC 9293 §3.10.7.4)") {
    auto c = data_config();
    c.recv_buffer = 2000;
    Harness h(c);
    const SocketId id = open(h);
    // The peer fills our 2000-byte buffer exactly; nobody reads.
    Repr data = h.from_peer(id);
    data.seq = kRemoteSeq + 1;
    data.ack = h.layer.tcb(id)->snd_nxt();
    h.deliver(data, Bytes(1460, std::byte{'x'}));
    Repr data2 = data;
    data2.seq = kRemoteSeq + 1 + 1460;
    h.deliver(data2, Bytes(540, std::byte{'y'}));
    (void)h.collect();
    REQUIRE(h.layer.tcb(id)->rcv_wnd() == 0);
    const SeqNum edge = h.layer.tcb(id)->rcv_nxt();
    Repr fin = data;
    fin.seq = edge;
    fin.flags.fin = true;
    h.deliver(fin);
    CHECK(h.layer.tcb(id)->rcv_nxt() == edge);
    CHECK(h.layer.tcb(id)->rcv_wnd() == 0);  // not 4,294,967,295
    CHECK(h.layer.state(id) == TcpState::Established);
    CHECK(h.layer.counters().drops[static_cast<std::size_t>(TcpDrop::FinBeyondWindow)] == 1);
    const Sent ack = h.expect_one();  // the window re-advertised
    CHECK(ack.repr.ack == edge);
    CHECK(ack.repr.window_raw == 0);
    // Once read, the retransmitted FIN is taken.
    Bytes buf(4000);
    CHECK(*h.layer.recv(id, buf) == 2000);
    (void)h.collect();
    h.deliver(fin);
    CHECK(h.layer.tcb(id)->rcv_nxt() == edge + 1);
    CHECK(h.layer.state(id) == TcpState::CloseWait);
  }

  // ---- timestamps and PAWS (RFC 7323) ----
  TEST_CASE("ESTABLISHED: PAWS drops a segment with an old timestamp and ACKs it (RFC 7323 §5.3 R1)") {
    Harness h(data_config(false, true));
    const SocketId id = open(h, false, true);
    REQUIRE(h.layer.tcb(id)->ts_ok());
    Repr d = peer_ack(h, id, h.layer.tcb(id)->snd_nxt());
    d.timestamps = std::pair{1000u, 0u};
    h.deliver(d, to_bytes("new"));
    h.expect_silence();  // the ACK is delayed
    Repr old = peer_ack(h, id, h.layer.tcb(id)->snd_nxt());
    old.timestamps = std::pair{999u, 0u};  // older than TS.Recent: a segment from a past wrap
    h.at_ms(100);
    h.deliver(old, to_bytes("old"));
    const Sent ack = h.expect_one();
    CHECK(ack.repr.ack == kRemoteSeq + 4);
    CHECK(ack.repr.timestamps->second == 1000u);  // TSecr still echoes TS.Recent
    CHECK(h.layer.counters().drops[static_cast<std::size_t>(TcpDrop::PawsRejected)] == 1);
    Bytes buf(16);
    CHECK(*h.layer.recv(id, buf) == 3);
    CHECK(text(Bytes(buf.begin(), buf.begin() + 3)) == "new");
    CHECK(h.layer.recv(id, buf).error() == stack::socket::RecvError::WouldBlock);
  }

  // ---- blind attacks (RFC 5961) ----
  TEST_CASE("ESTABLISHED: an in-window RST that is not exact gets a challenge ACK; outside the window, nothing (RFC 5961 §3.2)") {
    Harness h;
    const SocketId id = establish_active(h);
    const auto* s = h.layer.tcb(id);
    Repr rst = h.from_peer(id);
    rst.flags.rst = true;
    rst.seq = kRemoteSeq + 1 + 100;  // in the window, not RCV.NXT
    h.deliver(rst);
    const Sent ch = h.expect_one();
    // "<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>"
    CHECK(ch.describe() == "Flags [.], seq " + std::to_string(s->snd_nxt().raw) + ", ack " +
                               std::to_string((kRemoteSeq + 1).raw) + ", win 8192, length 0");
    CHECK(h.layer.state(id) == TcpState::Established);
    h.at_ms(1000);
    rst.seq = kRemoteSeq + 1 + 100000;  // beyond the window
    h.deliver(rst);
    h.expect_silence();
    CHECK(h.layer.state(id) == TcpState::Established);
    CHECK(h.layer.counters().drops[static_cast<std::size_t>(TcpDrop::RstOutOfWindow)] == 1);
  }

  TEST_CASE("ESTABLISHED: a SYN, in or out of the window, gets a challenge ACK and no reset (RFC 5961 §4.2)") {
    Harness h;
    const SocketId id = establish_active(h);
    for (std::uint32_t off : {0u, 5u, 1000000u}) {
      CAPTURE(off);
      h.at_ms(h.now.millis() + 1000);
      Repr syn = h.from_peer(id);
      syn.flags.syn = true;
      syn.seq = kRemoteSeq + 1 + off;
      h.deliver(syn);
      const Sent ch = h.expect_one();
      CHECK_FALSE(ch.repr.flags.rst);
      CHECK(ch.repr.ack == kRemoteSeq + 1);
      CHECK(h.layer.state(id) == TcpState::Established);
    }
    CHECK(h.layer.counters().challenge_acks == 3);
  }

  TEST_CASE("ESTABLISHED: challenge ACKs are limited to one per 500 ms per connection (RFC 5961 §7)") {
    Harness h;
    const SocketId a = establish_active(h);
    Repr rst = h.from_peer(a);
    rst.flags.rst = true;
    rst.seq = kRemoteSeq + 1 + 100;
    h.at_ms(1000);
    h.deliver(rst);
    CHECK(h.expect_one().repr.ack == kRemoteSeq + 1);
    for (std::int64_t ms : {1001, 1200, 1499}) {
      h.at_ms(ms);
      h.deliver(rst);
      h.expect_silence();
    }
    CHECK(h.layer.counters().drops[static_cast<std::size_t>(TcpDrop::ChallengeAckLimited)] == 3);
    h.at_ms(1500);
    h.deliver(rst);
    CHECK(h.expect_one().repr.ack == kRemoteSeq + 1);
    CHECK(h.layer.state(a) == TcpState::Established);
  }

  TEST_CASE("ESTABLISHED: data whose ACK acknowledges unsent data is dropped and answered with an ACK (RFC 5961 §5.2, RFC 9293 §3.10.7.4)") {
    Harness h;
    const SocketId id = establish_active(h);
    const SeqNum nxt = h.layer.tcb(id)->snd_nxt();
    Repr d = h.from_peer(id);
    d.seq = kRemoteSeq + 1;
    d.ack = nxt + 1000;  // never sent
    h.deliver(d, to_bytes("injected"));
    const Sent a = h.expect_one();
    CHECK(a.repr.ack == kRemoteSeq + 1);
    CHECK(a.repr.seq == nxt);
    Bytes buf(16);
    CHECK(h.layer.recv(id, buf).error() == stack::socket::RecvError::WouldBlock);
    CHECK(h.layer.tcb(id)->snd_una() == nxt);
    CHECK(h.layer.counters().drops[static_cast<std::size_t>(TcpDrop::AckUnsent)] == 1);
    // RFC 5961 §5.2: an ACK below SND.UNA - MAX.SND.WND is just as blind.
    h.at_ms(1000);
    d.ack = nxt - 100000;
    h.deliver(d, to_bytes("injected"));
    CHECK(h.expect_one().repr.ack == kRemoteSeq + 1);
    CHECK(h.layer.recv(id, buf).error() == stack::socket::RecvError::WouldBlock);
    CHECK(h.layer.counters().drops[static_cast<std::size_t>(TcpDrop::AckTooOld)] == 1);
  }

  // ---- keepalive (RFC 1122 §4.2.3.6, RFC 9293 §3.8.4) ----
  TEST_CASE("Keepalive is off by default: an idle connection sends nothing for hours (RFC 1122 §4.2.3.6 MUST-25)") {
    Harness h;
    const SocketId id = establish_active(h);
    CHECK_FALSE(h.layer.poll_at().has_value());
    h.at_ms(10LL * 3600 * 1000);
    h.expect_silence();
    CHECK(h.layer.state(id) == TcpState::Established);
  }

  TEST_CASE("Keepalive when enabled: a probe <SEQ=SND.NXT-1> after 2 h idle, every 75 s, then the connection is dropped (RFC 1122 §4.2.3.6)") {
    Harness h;
    const SocketId id = establish_active(h);
    const SeqNum nxt = h.layer.tcb(id)->snd_nxt();
    h.layer.set_keepalive(id, true);
    const std::int64_t idle = 7200 * 1000;
    h.at_ms(idle - 1);
    h.expect_silence();
    h.at_ms(idle);
    const Sent probe = h.expect_one();
    CHECK(probe.repr.seq == nxt - 1);
    CHECK(probe.payload.empty());
    // Answered: the idle timer starts again from the answer.
    h.at_ms(idle + 10);
    h.deliver(peer_ack(h, id, nxt, 8192));
    h.expect_silence();
    const std::int64_t t0 = idle + 10 + idle;
    h.at_ms(t0 - 1);
    h.expect_silence();
    // Unanswered: nine probes 75 s apart (MUST-29 tolerates lost ACKs), then give up.
    for (int i = 0; i < 9; ++i) {
      CAPTURE(i);
      h.at_ms(t0 + i * 75000);
      CHECK(h.expect_one().repr.seq == nxt - 1);
    }
    CHECK(h.layer.state(id) == TcpState::Established);
    h.at_ms(t0 + 9 * 75000);
    h.expect_silence();
    CHECK(h.layer.state(id) == TcpState::Closed);
    CHECK(h.layer.error(id) == TcpError::TimedOut);
    CHECK(h.layer.counters().keepalive_probes == 10);
  }

  // ---- ICMP errors (RFC 1122 §4.2.3.9, RFC 5461, RFC 5927) ----
  TEST_CASE("SYN-SENT: ICMP port unreachable is a hard error and aborts the connection attempt (RFC 1122 §4.2.3.9)") {
    Harness h;
    auto id = h.layer.connect(kLocal, kRemote, 80, h.now);
    const Sent syn = h.expect_one();
    h.at_ms(10);
    h.layer.process_icmp_error(h.now, kLocal, kRemote, syn.repr.src_port, 80, syn.repr.seq,
                               TcpLayer::IcmpKind::PortUnreachable);
    CHECK(h.layer.state(*id) == TcpState::Closed);
    CHECK(h.layer.error(*id) == TcpError::Unreachable);
    h.at_ms(1000);
    h.expect_silence();
  }

  TEST_CASE("SYN-SENT: ICMP host unreachable is soft: SYNs continue and the timeout reports it (RFC 1122 §4.2.3.9)") {
    auto c = plain_config();
    c.max_syn_retries = 2;
    Harness h(c);
    auto id = h.layer.connect(kLocal, kRemote, 80, h.now);
    const Sent syn = h.expect_one();
    h.at_ms(10);
    h.layer.process_icmp_error(h.now, kLocal, kRemote, syn.repr.src_port, 80, syn.repr.seq,
                               TcpLayer::IcmpKind::HostUnreachable);
    CHECK(h.layer.state(*id) == TcpState::SynSent);
    CHECK_FALSE(h.layer.error(*id).has_value());
    h.at_ms(1000);
    CHECK(h.expect_one().repr.flags.syn);
    h.at_ms(3000);
    CHECK(h.expect_one().repr.flags.syn);
    h.at_ms(7000);
    h.expect_silence();
    CHECK(h.layer.state(*id) == TcpState::Closed);
    CHECK(h.layer.error(*id) == TcpError::Unreachable);  // not "timed out": the ICMP said why
  }

  TEST_CASE("ESTABLISHED: ICMP port and host unreachable are soft errors; the connection survives (RFC 1122 §4.2.3.9, RFC 5461 §4)") {
    Harness h(data_config());
    const SocketId id = open(h);
    REQUIRE(*h.layer.send(id, to_bytes("abc")) == 3);
    const Sent d = h.expect_one();
    for (auto kind : {TcpLayer::IcmpKind::PortUnreachable, TcpLayer::IcmpKind::HostUnreachable}) {
      h.layer.process_icmp_error(h.now, kLocal, kRemote, d.repr.src_port, 80, d.repr.seq, kind);
      CHECK(h.layer.state(id) == TcpState::Established);
      CHECK_FALSE(h.layer.error(id).has_value());
    }
    h.at_ms(50);
    h.deliver(peer_ack(h, id, end_of(d)));
    REQUIRE(*h.layer.send(id, to_bytes("more")) == 4);
    CHECK(h.expect_one().payload == to_bytes("more"));
  }

  TEST_CASE("ICMP errors quoting a sequence number not in flight are ignored (RFC 5927 §4.1)") {
    Harness h;
    auto id = h.layer.connect(kLocal, kRemote, 80, h.now);
    const Sent syn = h.expect_one();
    for (std::uint32_t off : {1u, 1000u, 0x80000000u}) {
      h.layer.process_icmp_error(h.now, kLocal, kRemote, syn.repr.src_port, 80, syn.repr.seq + off,
                                 TcpLayer::IcmpKind::PortUnreachable);
      CHECK(h.layer.state(*id) == TcpState::SynSent);
    }
    CHECK(h.layer.counters().drops[static_cast<std::size_t>(TcpDrop::IcmpNotInWindow)] == 3);
    h.layer.process_icmp_error(h.now, kLocal, kRemote, syn.repr.src_port, 80, syn.repr.seq,
                               TcpLayer::IcmpKind::PortUnreachable);
    CHECK(h.layer.state(*id) == TcpState::Closed);
  }

  // ---- ISN (RFC 6528) ----
  TEST_CASE("ISN = M + F(4-tuple, secret): a 4 µs clock on the same 4-tuple, unrelated across 4-tuples and secrets (RFC 6528 §3)") {
    auto isn_of = [](TcpLayer::Config c, std::int64_t at_ms, std::uint16_t port) {
      Harness h(c);
      h.at_ms(at_ms);
      auto id = h.layer.connect(kLocal, kRemote, port, h.now);
      REQUIRE(id.ok());
      const Sent syn = h.expect_one();
      return std::pair{syn.repr.seq, syn.repr.src_port};
    };
    const auto c = plain_config();
    const auto [a, a_port] = isn_of(c, 0, 80);
    const auto [b, b_port] = isn_of(c, 1000, 80);
    REQUIRE(a_port == b_port);              // same 4-tuple (a fresh layer picks the same port)
    CHECK(b - a == 1000 * 1000 / 4);        // M: one tick per 4 µs
    const auto [other, other_port] = isn_of(c, 0, 81);  // another 4-tuple, same instant
    CHECK(other_port != 0);
    CHECK(other != a);
    CHECK(std::abs(other - a) > 1000000);   // F, not a counter: far apart
    auto c2 = c;
    c2.secret_key[0] ^= 1;
    const auto [keyed, keyed_port] = isn_of(c2, 0, 80);
    CHECK(keyed != a);                     // the secret matters (MUST-9: not computable from outside)
    (void)other_port;
    (void)keyed_port;
  }

  // ---- RTO (RFC 6298) ----
  TEST_CASE("ESTABLISHED: the RTO doubles on each expiry and is capped at 60 s (RFC 6298 §5.5, §2.5)") {
    Harness h(data_config());
    const SocketId id = open(h);
    REQUIRE(*h.layer.send(id, to_bytes("abc")) == 3);
    const Sent d = h.expect_one();
    std::int64_t t = 0;
    for (std::int64_t gap : {1, 2, 4, 8, 16, 32, 60, 60, 60}) {
      CAPTURE(gap);
      t += gap * 1000;
      h.at_ms(t - 1);
      h.expect_silence();
      h.at_ms(t);
      const Sent rx = h.expect_one();
      CHECK(rx.repr.seq == d.repr.seq);
      CHECK(rx.payload == to_bytes("abc"));
    }
    CHECK(h.layer.tcb(id)->rto() == Duration::from_secs(60));
  }

  TEST_CASE("After a timeout a bare ACK carries SND.MAX, not the rewound SND.NXT, so a peer holding everything still takes it (found by fuzz_tcp_peers)") {
    // Both ends had timed out with all their data received: each one's bare ACKs carried a
    // SEG.SEQ below the other's RCV.NXT, were discarded as unacceptable (RFC 9293 §3.10.7.4),
    // and the connection retransmitted into the void until R2 ended it.
    Harness h(data_config());
    const SocketId id = open(h);
    REQUIRE(*h.layer.send(id, Bytes(3 * kMss, std::byte{'x'})) == 3 * kMss);
    const auto first = h.collect();
    REQUIRE(first.size() == 3);
    const SeqNum max = end_of(first.back());
    h.at_ms(1000);  // the RTO: the first segment again, SND.NXT back to just after it
    const Sent rx = h.expect_one();
    REQUIRE(rx.repr.seq == first.front().repr.seq);
    REQUIRE(h.layer.tcb(id)->snd_nxt() == end_of(rx));
    // The peer sends data out of order: the answer is an immediate (duplicate) ACK.
    Repr seg = peer_ack(h, id, first.front().repr.seq);
    seg.seq = h.layer.tcb(id)->rcv_nxt() + 100;
    h.deliver(seg, to_bytes("later"));
    const Sent ack = h.expect_one();
    CHECK(ack.payload.empty());
    CHECK(ack.repr.seq == max);
  }

  TEST_CASE("A retransmission asked for, then made moot by an ACK of everything, leaves no deadline due for ever (found by fuzz_tcp_peers)") {
    // In FIN-WAIT-2 the send loop no longer runs, so a retransmission still pending there kept
    // poll_at() at "now": an event loop would spin until the peer closed.
    Harness h(data_config());
    const SocketId id = open(h);
    REQUIRE(*h.layer.send(id, to_bytes("abc")) == 3);
    h.layer.shutdown(id);
    const auto out = h.collect();  // "abc" and our FIN
    REQUIRE_FALSE(out.empty());
    const SeqNum una = out.front().repr.seq;
    const SeqNum end = end_of(out.back());
    h.at_ms(10);
    // A duplicate ACK: one segment outstanding, so Early Retransmit (RFC 5827) asks for it at once ...
    h.deliver(peer_ack(h, id, una));
    // ... and before we dispatch, the ACK of everything, our FIN included.
    h.deliver(peer_ack(h, id, end));
    REQUIRE(h.layer.state(id) == TcpState::FinWait2);
    (void)h.collect();
    const auto next = h.layer.poll_at();
    CHECK((!next || *next > h.now));
  }

  TEST_CASE("ESTABLISHED: after R2 retransmissions the connection times out (RFC 9293 §3.8.3, RFC 1122 §4.2.3.5)") {
    auto c = data_config();
    c.max_retries = 3;
    Harness h(c);
    const SocketId id = open(h);
    REQUIRE(*h.layer.send(id, to_bytes("abc")) == 3);
    (void)h.expect_one();
    for (std::int64_t t : {1000, 3000, 7000}) {
      h.at_ms(t);
      CHECK(h.expect_one().payload == to_bytes("abc"));
    }
    h.at_ms(15000);
    h.expect_silence();
    CHECK(h.layer.state(id) == TcpState::Closed);
    CHECK(h.layer.error(id) == TcpError::TimedOut);
  }

  TEST_CASE("RTO floor: 200 ms by default like Linux's TCP_RTO_MIN (DEVIATION from RFC 6298 §2.4's 1 s), 1 s when configured") {
    for (const auto& [floor, want] : {std::pair{std::optional<Duration>{}, Duration::from_millis(200)},
                                      std::pair{std::optional{Duration::from_secs(1)}, Duration::from_secs(1)}}) {
      auto c = data_config();
      c.min_rto = floor ? *floor : TcpLayer::Config{}.min_rto;
      Harness h(c);
      const SocketId id = open(h);
      REQUIRE(*h.layer.send(id, to_bytes("abc")) == 3);
      const Sent d = h.expect_one();
      h.at_ms(1);
      h.deliver(peer_ack(h, id, end_of(d)));  // RTT 1 ms: SRTT + 4 RTTVAR is far below the floor
      CHECK(h.layer.tcb(id)->rto() == want);
      REQUIRE(*h.layer.send(id, to_bytes("def")) == 3);
      const Sent e = h.expect_one();
      h.at_ms(1 + want.millis() - 1);
      h.expect_silence();
      h.at_ms(1 + want.millis());
      CHECK(h.expect_one().repr.seq == e.repr.seq);  // retransmitted at the floor
    }
  }

  TEST_CASE("Karn: an ACK for a retransmitted segment gives no RTT sample; the backed-off RTO stays until a fresh one does (RFC 6298 §3, §5.7)") {
    Harness h(data_config());
    const SocketId id = open(h);
    const auto* s = h.layer.tcb(id);
    const auto srtt0 = s->srtt();  // 0 ms, from the handshake
    REQUIRE(*h.layer.send(id, to_bytes("abc")) == 3);
    const Sent d = h.expect_one();
    h.at_ms(1000);
    (void)h.expect_one();  // retransmission, RTO now 2 s
    h.at_ms(1100);
    h.deliver(peer_ack(h, id, end_of(d)));
    // Sampling the original would give 1100 ms (RTO 3.3 s), the retransmission 100 ms (RTO 1 s).
    CHECK(s->srtt() == srtt0);
    CHECK(s->rto() == Duration::from_secs(2));
    REQUIRE(*h.layer.send(id, to_bytes("def")) == 3);
    const Sent fresh = h.expect_one();
    h.at_ms(1150);
    h.deliver(peer_ack(h, id, end_of(fresh)));
    CHECK(s->srtt() == Duration::from_micros(50000 / 8));  // (2.3): 7/8 * 0 + 1/8 * 50 ms
    CHECK(s->rto() == Duration::from_secs(1));  // RFC 6298 §2.4: at least 1 s
  }

  TEST_CASE("Karn with timestamps: a TSecr older than the retransmission gives no RTT sample; the retransmission's own does (RFC 7323 §4.3, RFC 6298 §3)") {
    Harness h(data_config(false, true));
    const SocketId id = open(h, false, true);
    const auto* s = h.layer.tcb(id);
    const auto srtt0 = s->srtt();  // from the SYN-ACK
    REQUIRE(*h.layer.send(id, to_bytes("abc")) == 3);
    const Sent d = h.expect_one();
    h.at_ms(1000);
    const Sent rx = h.expect_one();
    REQUIRE(rx.repr.timestamps);
    REQUIRE(d.repr.timestamps);
    // The peer's ACK echoes the first transmission's TSval (say its ACK for the original was
    // lost and the retransmission arrived as a duplicate): the RTT it suggests (1100 ms)
    // includes our timeout, and it is not taken.
    h.at_ms(1100);
    Repr a = peer_ack(h, id, end_of(d));
    a.timestamps = std::pair{200u, d.repr.timestamps->first};
    h.deliver(a);
    CHECK(s->srtt() == srtt0);
    CHECK(s->rto() == Duration::from_secs(2));
    // New data, echoed unambiguously: a fresh sample resets the backoff (RFC 6298 §5.7).
    REQUIRE(*h.layer.send(id, to_bytes("def")) == 3);
    const Sent fresh = h.expect_one();
    h.at_ms(1130);
    Repr b = peer_ack(h, id, end_of(fresh));
    b.timestamps = std::pair{230u, fresh.repr.timestamps->first};
    h.deliver(b);
    CHECK(s->rto() == Duration::from_secs(1));
  }
}

TEST_SUITE("socket/tcp recovery") {
  TEST_CASE("Keepalive configured on for the layer: the first probe follows 2 h after the handshake (RFC 1122 §4.2.3.6)") {
    auto c = plain_config();
    c.keepalive = true;
    Harness h(c);
    const SocketId id = establish_active(h);
    CHECK(h.layer.poll_at() == Instant::from_millis(7200 * 1000));
    h.at_ms(7200 * 1000);
    CHECK(h.expect_one().repr.seq == h.layer.tcb(id)->snd_nxt() - 1);
  }
}
