// socket/tcp: RACK-TLP (RFC 8985). First its parts on their own, with tables (the sent-segment
// log, RACK's steps, the probe timeout, D-SACK recognition), then the socket using them against a
// scripted peer in virtual time: a lost retransmission found without a timeout, a tail loss
// probed, a needless recovery undone by D-SACK, SACKed data skipped after a timeout.
#include <doctest/doctest.h>

#include <array>
#include <string>
#include <vector>

#include "stack/socket/tcp_rack.hpp"
#include "support/tcp_data_fixtures.hpp"

using namespace test::tcp;
using stack::socket::dsack_block;
using stack::socket::Rack;
using stack::socket::SentLog;
using stack::socket::SentSegment;
using stack::socket::tlp_timeout;
using stack::wire::tcp::SackBlock;

namespace {

constexpr std::uint32_t kBase = 4'294'960'000u;  // near the wrap: every range crosses 2^32
SeqNum at(std::uint32_t off) { return SeqNum{kBase + off}; }
Instant ms(std::int64_t v) { return Instant::from_millis(v); }

// "0-100 r s l" for each segment: offsets from kBase, then the marks.
std::string show(const SentLog& log) {
  std::string out;
  for (const SentSegment& s : log.segments()) {
    if (!out.empty()) out += ", ";
    out += std::to_string(s.start.raw - kBase) + "-" + std::to_string(s.end.raw - kBase);
    if (s.retransmitted) out += " r";
    if (s.sacked) out += " s";
    if (s.lost) out += " l";
  }
  return out;
}

// Four 100-byte segments sent at 0, 10, 20, 30 ms.
SentLog four_segments() {
  SentLog log;
  for (std::uint32_t i = 0; i < 4; ++i) log.on_transmit(at(i * 100), at(i * 100 + 100), ms(i * 10));
  return log;
}

std::array<std::optional<SackBlock>, 4> blocks(std::initializer_list<SackBlock> list) {
  std::array<std::optional<SackBlock>, 4> out{};
  std::size_t i = 0;
  for (const auto& b : list) out[i++] = b;
  return out;
}

}  // namespace

TEST_SUITE("socket/tcp_rack") {
  TEST_CASE("SentLog: transmissions, retransmissions split at their edges, cumulative ACKs and SACKs (table)") {
    struct Step {
      const char* what;
      void (*apply)(SentLog&);
      const char* expect;
    };
    const Step steps[] = {
        {"four new segments", [](SentLog&) {}, "0-100, 100-200, 200-300, 300-400"},
        {"retransmit 150-250: split at both edges",
         [](SentLog& l) { l.on_transmit(at(150), at(250), ms(50)); }, "0-100, 100-150, 150-200 r, 200-250 r, 250-300, 300-400"},
        {"SACK 250-400 marks only whole segments", [](SentLog& l) {
           l.on_sack(blocks({{at(250), at(400)}}), at(0), at(400), [](const SentSegment&) {});
         }, "0-100, 100-150, 150-200 r, 200-250 r, 250-300 s, 300-400 s"},
        {"SACK 120-180 covers no whole segment", [](SentLog& l) {
           l.on_sack(blocks({{at(120), at(180)}}), at(0), at(400), [](const SentSegment&) {});
         }, "0-100, 100-150, 150-200 r, 200-250 r, 250-300 s, 300-400 s"},
        {"SACK beyond SND.MAX is not believed", [](SentLog& l) {
           l.on_sack(blocks({{at(0), at(500)}}), at(0), at(400), [](const SentSegment&) {});
         }, "0-100, 100-150, 150-200 r, 200-250 r, 250-300 s, 300-400 s"},
        {"timeout: all not SACKed is lost", [](SentLog& l) { l.mark_all_lost(false); },
         "0-100 l, 100-150 l, 150-200 r l, 200-250 r l, 250-300 s, 300-400 s"},
        {"retransmit 0-100: no longer lost", [](SentLog& l) { l.on_transmit(at(0), at(100), ms(60)); },
         "0-100 r, 100-150 l, 150-200 r l, 200-250 r l, 250-300 s, 300-400 s"},
        {"cumulative ACK to 160 trims the straddling segment",
         [](SentLog& l) { l.on_cumulative_ack(at(160), [](const SentSegment&) {}); },
         "160-200 r l, 200-250 r l, 250-300 s, 300-400 s"},
        {"a second timeout forgets the SACKs (reneging)", [](SentLog& l) { l.mark_all_lost(true); },
         "160-200 r l, 200-250 r l, 250-300 l, 300-400 l"},
        {"new data after the end is appended", [](SentLog& l) { l.on_transmit(at(400), at(450), ms(70)); },
         "160-200 r l, 200-250 r l, 250-300 l, 300-400 l, 400-450"},
        {"cumulative ACK of everything", [](SentLog& l) { l.on_cumulative_ack(at(450), [](const SentSegment&) {}); }, ""},
    };
    SentLog log = four_segments();
    for (const Step& s : steps) {
      CAPTURE(s.what);
      s.apply(log);
      CHECK(show(log) == s.expect);
      CHECK(log.consistent());
    }
    CHECK(log.bytes() == 0);
    CHECK_FALSE(log.holds_storage());  // an idle connection's log costs no memory
  }

  TEST_CASE("SentLog: a long flight ACKed a segment at a time keeps its order and bounded storage") {
    SentLog log;
    std::uint32_t sent = 0, acked = 0;
    for (int round = 0; round < 2000; ++round) {
      for (int k = 0; k < 3; ++k, sent += 100) log.on_transmit(at(sent), at(sent + 100), ms(round));
      for (int k = 0; k < 2 && acked < sent; ++k, acked += 100) log.on_cumulative_ack(at(acked + 100), [](const SentSegment&) {});
      REQUIRE(log.consistent());
      REQUIRE(log.segments().front().start == at(acked));
    }
    CHECK(log.bytes() == sent - acked);
    log.on_cumulative_ack(at(sent), [](const SentSegment&) {});
    CHECK(log.empty());
    CHECK_FALSE(log.holds_storage());
  }

  TEST_CASE("SentLog: the pipe is what was sent minus SACKed minus lost (RFC 6675 §4 with RACK's marks)") {
    SentLog log = four_segments();
    CHECK(log.in_flight() == 400);
    log.on_sack(blocks({{at(100), at(200)}}), at(0), at(400), [](const SentSegment&) {});
    CHECK(log.in_flight() == 300);
    log.mark_lost(log.segments()[0]);
    CHECK(log.in_flight() == 200);
    CHECK(log.first_lost() == &log.segments()[0]);
    log.on_transmit(at(0), at(100), ms(40));
    CHECK(log.in_flight() == 300);
    CHECK(log.first_lost() == nullptr);
  }

  TEST_CASE("SentLog: newly delivered segments are reported once, SACKed ones not again when cumulatively ACKed") {
    SentLog log = four_segments();
    std::vector<std::uint32_t> delivered;
    auto note = [&](const SentSegment& s) { delivered.push_back(s.start.raw - kBase); };
    log.on_sack(blocks({{at(200), at(300)}}), at(0), at(400), note);
    log.on_sack(blocks({{at(200), at(300)}}), at(0), at(400), note);  // the same block again
    log.on_cumulative_ack(at(400), note);
    CHECK(delivered == std::vector<std::uint32_t>{200, 0, 100, 300});
  }

  TEST_CASE("Rack: step 5 marks what was sent before the latest delivered segment and RTT + reo_wnd ago (table)") {
    // Segments sent at 0, 10, 20, 30 ms; the one sent at 30 ms is SACKed at 50 ms (RACK.rtt 20).
    // remaining = xmit_ts + RACK.rtt + reo_wnd - now; at or below zero the segment is lost.
    struct Case { std::int64_t now_ms; std::int64_t reo_ms; const char* expect; std::optional<std::int64_t> timeout_ms; };
    const Case cases[] = {
        // now 50, reo 0: 0+20-50 < 0, 10+20-50 < 0, 20+20-50 < 0: all three lost.
        {50, 0, "0-100 l, 100-200 l, 200-300 l, 300-400 s", std::nullopt},
        // now 35, reo 0: 0+20-35 < 0 lost; 10+20-35 < 0 lost; 20+20-35 = 5 > 0: wait 5 ms.
        {35, 0, "0-100 l, 100-200 l, 200-300, 300-400 s", 5},
        // now 35, reo 10: 0+30-35 < 0 lost; 10+30-35 = 5 wait; 20+30-35 = 15 wait: the timer is the longest.
        {35, 10, "0-100 l, 100-200, 200-300, 300-400 s", 15},
        // now 20, reo 100: nothing yet; the longest wait is 20+20+100-20 = 120.
        {20, 100, "0-100, 100-200, 200-300, 300-400 s", 120},
    };
    for (const Case& c : cases) {
      CAPTURE(c.now_ms);
      CAPTURE(c.reo_ms);
      SentLog log = four_segments();
      Rack rack;
      log.on_sack(blocks({{at(300), at(400)}}), at(0), at(400),
                  [&](const SentSegment& s) { rack.on_delivered(s, ms(50), false); });
      CHECK(rack.rtt() == Duration::from_millis(20));
      const auto d = rack.detect_loss(log, ms(c.now_ms), Duration::from_millis(c.reo_ms));
      CHECK(show(log) == c.expect);
      CHECK(d.timeout.has_value() == c.timeout_ms.has_value());
      if (d.timeout && c.timeout_ms) CHECK(d.timeout->millis() == *c.timeout_ms);
      CHECK(log.consistent());
    }
  }

  TEST_CASE("Rack: a retransmission's sample is not taken when the ACK echoes an earlier transmission or is shorter than min_RTT (step 2)") {
    Rack rack;
    SentSegment first{at(0), at(100), ms(0)};
    rack.on_delivered(first, ms(40), false);  // a clean sample: 40 ms, min_RTT 40 ms
    CHECK(rack.rtt() == Duration::from_millis(40));
    SentSegment rtx{at(100), at(200), ms(100), true};
    rack.on_delivered(rtx, ms(110), false);   // 10 ms < min_RTT: the ACK was for the original
    CHECK(rack.rtt() == Duration::from_millis(40));
    rack.on_delivered(rtx, ms(150), true);    // the echo is older than the retransmission
    CHECK(rack.rtt() == Duration::from_millis(40));
    rack.on_delivered(rtx, ms(150), false);   // 50 ms, and the echo says it is this copy
    CHECK(rack.rtt() == Duration::from_millis(50));
    CHECK(rack.min_rtt() == Duration::from_millis(40));  // retransmissions never set min_RTT
  }

  TEST_CASE("Rack: reordering is seen when a segment never retransmitted arrives below the highest delivered (step 3)") {
    Rack rack;
    rack.on_delivered(SentSegment{at(100), at(200), ms(10)}, ms(30), false);
    CHECK_FALSE(rack.reordering_seen());
    rack.on_delivered(SentSegment{at(0), at(100), ms(0), true}, ms(40), false);  // a retransmission: not reordering
    CHECK_FALSE(rack.reordering_seen());
    rack.on_delivered(SentSegment{at(200), at(300), ms(20)}, ms(40), false);
    rack.on_delivered(SentSegment{at(150), at(250), ms(15)}, ms(41), false);
    CHECK(rack.reordering_seen());
  }

  TEST_CASE("Rack: reo_wnd is 0 while no reordering is seen in recovery or with DupThresh SACKed, else min_RTT/4 x mult, at most SRTT (step 4, table)") {
    struct Row { bool reordering; bool in_recovery; std::uint32_t sacked; int dsacks; std::optional<std::int64_t> srtt_ms; std::int64_t expect_ms; };
    const Row rows[] = {
        {false, true, 0, 0, 100, 0},   {false, false, 3, 0, 100, 0},  {false, false, 2, 0, 100, 10},
        {true, true, 5, 0, 100, 10},   {true, false, 0, 1, 100, 20},  {true, false, 0, 3, 100, 40},
        {true, false, 0, 3, 25, 25},  // capped at SRTT
    };
    for (const Row& r : rows) {
      CAPTURE(r.reordering);
      CAPTURE(r.in_recovery);
      CAPTURE(r.sacked);
      CAPTURE(r.dsacks);
      Rack rack;
      rack.on_delivered(SentSegment{at(100), at(200), ms(0)}, ms(40), false);  // min_RTT 40 ms
      if (r.reordering) rack.on_delivered(SentSegment{at(0), at(100), ms(0)}, ms(41), false);
      // One D-SACK per round trip counts: SND.UNA passes the round's end before the next.
      for (int i = 0; i < r.dsacks; ++i) rack.on_ack_done(true, false, at(1000 * i), at(1000 * i + 500));
      std::optional<Duration> srtt;
      if (r.srtt_ms) srtt = Duration::from_millis(*r.srtt_ms);
      CHECK(rack.reo_wnd(r.in_recovery, r.sacked, 3, srtt).millis() == r.expect_ms);
    }
  }

  TEST_CASE("Rack: D-SACKs in one round trip grow the multiplier once; 16 recoveries without one reset it (step 4)") {
    Rack rack;
    rack.on_ack_done(true, false, at(0), at(500));
    rack.on_ack_done(true, false, at(100), at(600));  // same round: SND.UNA below 500
    CHECK(rack.reo_wnd_mult() == 2);
    rack.on_ack_done(true, false, at(500), at(900));  // the next round
    CHECK(rack.reo_wnd_mult() == 3);
    for (int i = 0; i < 15; ++i) rack.on_ack_done(false, true, at(1000), at(1000));
    CHECK(rack.reo_wnd_mult() == 3);
    rack.on_ack_done(false, true, at(1000), at(1000));
    CHECK(rack.reo_wnd_mult() == 1);
  }

  TEST_CASE("TLP: PTO = 2 SRTT (at least 10 ms), plus the delayed-ACK allowance for a lone segment, 1 s without a sample, never after the RTO (RFC 8985 §7.2, table)") {
    struct Row { std::optional<std::int64_t> srtt_ms; bool one; std::int64_t rto_left_ms; std::int64_t expect_ms; };
    const Row rows[] = {{30, false, 1000, 60}, {30, true, 1000, 260}, {std::nullopt, false, 3000, 1000},
                        {200, false, 300, 300}, {30, true, 100, 100}, {1, false, 1000, 10}, {0, true, 1000, 210}};
    for (const Row& r : rows) {
      std::optional<Duration> srtt;
      if (r.srtt_ms) srtt = Duration::from_millis(*r.srtt_ms);
      CHECK(tlp_timeout(srtt, r.one, Duration::from_millis(200), Duration::from_millis(r.rto_left_ms)).millis() ==
            r.expect_ms);
    }
  }

  TEST_CASE("D-SACK: the first block below the cumulative ACK, or inside the second block (RFC 2883 §4, table)") {
    struct Row { std::array<std::optional<SackBlock>, 4> b; std::uint32_t ack; bool dsack; };
    const Row rows[] = {
        {blocks({{at(0), at(100)}}), 200, true},                          // below SND.UNA
        {blocks({{at(300), at(400)}}), 200, false},                       // an ordinary SACK
        {blocks({{at(300), at(400)}, {at(300), at(600)}}), 200, true},    // inside the second
        {blocks({{at(300), at(400)}, {at(500), at(600)}}), 200, false},   // two ordinary blocks
        {blocks({{at(100), at(100)}}), 200, false},                       // empty: not a report
        {blocks({}), 200, false},
    };
    for (const Row& r : rows) CHECK(dsack_block(r.b, at(r.ack)).has_value() == r.dsack);
  }
}

// --- the socket with RACK-TLP against a scripted peer ---

namespace {

Repr sack_ack(const Harness& h, SocketId id, SeqNum ack, std::initializer_list<SackBlock> list) {
  Repr a = peer_ack(h, id, ack);
  std::size_t i = 0;
  for (const auto& b : list) a.sack_blocks[i++] = b;
  return a;
}

// Runs the layer's timers and output from `from_ms` to `to_ms` in 1 ms steps; returns what left.
std::vector<Sent> run_ms(Harness& h, std::int64_t from_ms, std::int64_t to_ms) {
  std::vector<Sent> out;
  for (std::int64_t t = from_ms; t <= to_ms; ++t) {
    h.at_ms(t);
    for (auto& s : h.collect()) out.push_back(s);
  }
  return out;
}

std::size_t count_seq(const std::vector<Sent>& v, SeqNum seq) {
  std::size_t n = 0;
  for (const auto& s : v) n += s.repr.seq == seq && !s.payload.empty();
  return n;
}

}  // namespace

TEST_SUITE("socket/tcp_rack") {
  TEST_CASE("RACK: a lost retransmission is found from the SACK of a segment sent after it, without a timeout (RFC 8985 §6.2)") {
    Harness h(data_config(true));
    const SocketId id = open(h, true);
    const auto p = fill_pipe(h, id, 12, 6);  // P0 lost; P1..P5 arrive
    h.at_ms(100);
    std::vector<Sent> sent;
    for (std::size_t k = 1; k <= 5; ++k) {
      h.deliver(sack_ack(h, id, p[0].repr.seq, {{p[1].repr.seq, end_of(p[k])}}));
      for (auto& s : h.collect()) sent.push_back(s);
      // Three segments SACKed above P0 and no reordering seen: reo_wnd 0, P0 is lost at once.
      if (k == 3) CHECK(count_seq(sent, p[0].repr.seq) == 1);
    }
    // The SACKs of P4 and P5 empty the pipe enough for new data.
    std::string all;
    for (const auto& s : sent) all += s.describe() + "\n";
    INFO(all);
    REQUIRE(count_seq(sent, p[0].repr.seq) == 1);
    CHECK(h.layer.tcb(id)->in_recovery());
    CHECK(h.layer.counters().rack_lost >= 1);
    // The retransmission of P0 is lost too. New data sent after it is SACKed 100 ms later...
    std::vector<Sent> later;
    for (const auto& s : sent)
      if (s.repr.seq != p[0].repr.seq) later.push_back(s);
    REQUIRE_FALSE(later.empty());
    h.at_ms(200);
    h.deliver(sack_ack(h, id, p[0].repr.seq, {{p[1].repr.seq, end_of(later.back())}}));
    // ...and P0 goes a third time, long before the 1 s retransmission timeout.
    const auto again = run_ms(h, 200, 400);
    CHECK(count_seq(again, p[0].repr.seq) == 1);
    CHECK(h.layer.counters().rto_expired == 0);
  }

  TEST_CASE("TLP: a lost tail is probed after two round trips, and the SACK of the probe repairs it without a timeout (RFC 8985 §7)") {
    Harness h(data_config(true));
    const SocketId id = open(h, true);
    const auto p = fill_pipe(h, id, 5, 4);  // all sent; P2 and P3 will be lost
    h.at_ms(100);
    h.deliver(peer_ack(h, id, end_of(p[0])));
    h.deliver(peer_ack(h, id, end_of(p[1])));
    (void)h.collect();
    const auto srtt = h.layer.tcb(id)->srtt();
    REQUIRE(srtt.has_value());
    REQUIRE(h.layer.tcb(id)->tlp_at().has_value());
    CHECK(*h.layer.tcb(id)->tlp_at() == Instant::from_millis(100) + *srtt * 2);
    // The probe: the last segment again.
    const auto probe = run_ms(h, 101, static_cast<std::int64_t>((Instant::from_millis(100) + *srtt * 2).millis()) + 1);
    REQUIRE(probe.size() == 1);
    CHECK(probe[0].repr.seq == p[3].repr.seq);
    CHECK(h.layer.counters().tlp_probes == 1);
    // Its SACK shows P2 missing; RACK resends P2 within a reordering window.
    const std::int64_t t = probe.empty() ? 0 : h.now.millis() + 20;
    h.at_ms(t);
    h.deliver(sack_ack(h, id, p[2].repr.seq, {{p[3].repr.seq, end_of(p[3])}}));
    const auto repair = run_ms(h, t, t + 100);
    CHECK(count_seq(repair, p[2].repr.seq) == 1);
    h.deliver(peer_ack(h, id, end_of(p[3])));
    CHECK(h.layer.counters().rto_expired == 0);
    CHECK(h.layer.tcb(id)->snd_una() == end_of(p[3]));
  }

  TEST_CASE("D-SACK undo: a recovery whose every retransmission the peer reports as a duplicate gets its window back (RFC 3708)") {
    Harness h(data_config(true));
    const SocketId id = open(h, true);
    const auto p = fill_pipe(h, id, 10, 6);
    h.at_ms(100);
    const std::uint32_t cwnd_before = h.layer.tcb(id)->congestion().cwnd();
    std::vector<Sent> sent;
    for (std::size_t k = 1; k <= 3; ++k) {
      h.deliver(sack_ack(h, id, p[0].repr.seq, {{p[1].repr.seq, end_of(p[k])}}));
      for (auto& s : h.collect()) sent.push_back(s);
    }
    REQUIRE(count_seq(sent, p[0].repr.seq) == 1);
    REQUIRE(h.layer.tcb(id)->congestion().cwnd() < cwnd_before);
    // P0 was only late: the original arrives, then the retransmission, reported as a D-SACK.
    h.at_ms(110);
    h.deliver(sack_ack(h, id, end_of(p[3]), {}));
    h.deliver(sack_ack(h, id, end_of(p[3]), {{p[0].repr.seq, end_of(p[0])}}));
    CHECK(h.layer.counters().dsacks_received == 1);
    CHECK(h.layer.counters().dsack_undos == 1);
    CHECK(h.layer.tcb(id)->congestion().cwnd() >= cwnd_before);
  }

  TEST_CASE("Timeout with SACK: segments the peer SACKed are not sent again, the others go in order (RFC 8985 §6.3)") {
    Harness h(data_config(true));
    const SocketId id = open(h, true);
    const auto p = fill_pipe(h, id, 5, 4);
    h.at_ms(100);
    // P1 SACKed; P0, P2, P3 lost, and so is every probe: wait for the timeout.
    h.deliver(sack_ack(h, id, p[0].repr.seq, {{p[1].repr.seq, end_of(p[1])}}));
    auto sent = run_ms(h, 100, 3000);
    REQUIRE(h.layer.counters().rto_expired >= 1);
    CHECK(count_seq(sent, p[1].repr.seq) == 0);
    CHECK(count_seq(sent, p[0].repr.seq) >= 1);
  }

  TEST_CASE("Timeout with SACK: a SACK block at SND.UNA is reneging — the first timeout sends that segment again and the timer keeps running (RFC 2018 §8)") {
    // fuzz_tcp_conn found this: a peer that SACKs what we sent (here everything) and never
    // ACKs it. With the SACK marks kept through the first timeout, nothing was lost, nothing
    // was sent, and no timer ran again: the connection stayed for ever.
    Harness h(data_config(true));
    const SocketId id = open(h, true);
    const auto p = fill_pipe(h, id, 3, 3);
    h.at_ms(100);
    h.deliver(sack_ack(h, id, p[0].repr.seq, {{p[0].repr.seq, end_of(p[2])}}));
    (void)h.collect();
    const auto sent = run_ms(h, 100, 1500);  // the first timeout is at 1.1 s
    REQUIRE(h.layer.counters().rto_expired == 1);
    CHECK(h.layer.counters().sack_reneged == 1);
    CHECK(count_seq(sent, p[0].repr.seq) == 1);
    CHECK(h.layer.tcb(id)->rto_at().has_value());
    // Left alone, the connection is given up after its retries, not kept.
    for (std::int64_t t = 2000; t < 3'600'000 && h.layer.tcb(id) != nullptr &&
                                h.layer.tcb(id)->state() != TcpState::Closed;
         t += 1000) {
      h.at_ms(t);
      (void)h.collect();
    }
    const stack::socket::TcpSocket* s = h.layer.tcb(id);
    CHECK((s == nullptr || s->state() == TcpState::Closed));
  }
}
