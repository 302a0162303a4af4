// socket/tcp_receiver: the receiving half of a connection on its own, driven with sequence
// numbers only (RFC 9293 §3.10.7.4 Table 6, seventh and eighth steps, §3.8.6.2.2; RFC 2018 §4;
// RFC 2883 §4). The peer's ISN sits just before the 2^32 wrap, so every case crosses it.
#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "stack/socket/tcp_receiver.hpp"
#include "stack/time.hpp"

using stack::Duration;
using stack::Instant;
using stack::socket::TcpReceiver;
using stack::wire::tcp::SackBlock;
using stack::wire::tcp::SeqNum;

namespace {
constexpr SeqNum kIrs{0xfffffc00u};  // RCV.NXT starts 1023 bytes before the wrap
// Stream offset -> sequence number, modulo 2^32 (offsets near 2^32 stand for "just before").
SeqNum at(std::uint32_t offset) { return SeqNum{kIrs.raw + 1 + offset}; }

std::vector<std::byte> bytes(std::uint32_t offset, std::uint32_t len) {
  std::vector<std::byte> b(len);
  for (std::uint32_t i = 0; i < len; ++i) b[i] = static_cast<std::byte>((offset + i) & 0xff);
  return b;
}

// The peer sends `n` bytes in order and the application reads them all.
void arrive_and_read(TcpReceiver& r, std::uint32_t n) {
  std::vector<std::byte> out(4096);
  while (n > 0) {
    const auto len = std::min<std::uint32_t>({n, 1000u, static_cast<std::uint32_t>(r.free_space())});
    REQUIRE(len > 0);
    const std::uint32_t offset = static_cast<std::uint32_t>(r.nxt().raw - at(0).raw);
    REQUIRE(r.accept(r.nxt(), bytes(offset, len), false).in_order == len);
    while (r.read(out) > 0) {
    }
    n -= len;
  }
}

TcpReceiver opened(std::size_t buffer = 4096) {
  TcpReceiver r(buffer, 4);
  r.on_syn(kIrs);
  (void)r.syn_window();  // our SYN-ACK offered the buffer
  return r;
}
}  // namespace

TEST_SUITE("socket/tcp_receiver") {
  TEST_CASE("Table 6: which segments are acceptable (RFC 9293 §3.10.7.4)") {
    auto r = opened(4096);
    REQUIRE(r.window() == 4096);
    struct Row { const char* what; std::uint32_t offset; std::uint32_t len; bool ok; };
    const Row rows[] = {
        {"empty at RCV.NXT", 0, 0, true},
        {"empty at the last byte of the window", 4095, 0, true},
        {"empty at the right edge", 4096, 0, false},
        {"empty one before RCV.NXT", 0xffffffffu, 0, false},
        {"text starting in the window", 4000, 500, true},
        {"text ending in the window, starting before it", 0xffffff00u, 0x200, true},
        {"text wholly before the window", 0xffffff00u, 0x100, false},
        {"text wholly beyond the window", 4096, 10, false},
    };
    for (const auto& row : rows) {
      CAPTURE(row.what);
      CHECK(r.acceptable(at(row.offset), row.len) == row.ok);
    }
    // A zero window accepts only segments at RCV.NXT (MUST-66: their ACK, URG and RST count).
    auto full = opened(1024);
    const auto data = bytes(0, 1024);
    CHECK(full.accept(at(0), data, false).in_order == 1024);
    (void)full.advertise(536);
    CHECK(full.window() == 0);
    CHECK(full.acceptable(at(1024), 0));
    CHECK(full.acceptable(at(1024), 1));  // its text is trimmed away by the caller
    CHECK_FALSE(full.acceptable(at(1025), 0));
  }

  TEST_CASE("text in order, out of order, duplicated, and past the range limit") {
    auto r = opened();
    auto a = r.accept(at(100), bytes(100, 50), true);  // ahead of a gap
    CHECK(a.stored);
    CHECK(a.out_of_order);
    CHECK(a.in_order == 0);
    CHECK(r.nxt() == at(0));
    a = r.accept(at(100), bytes(100, 50), true);  // the same again: a duplicate, D-SACKed
    CHECK(a.duplicate);
    std::array<std::optional<SackBlock>, 4> blocks{};
    r.fill_sack_blocks(blocks, 4);
    REQUIRE(blocks[0]);
    CHECK(*blocks[0] == SackBlock{at(100), at(150)});  // D-SACK first (RFC 2883 §4)
    REQUIRE(blocks[1]);
    CHECK(*blocks[1] == SackBlock{at(100), at(150)});  // then the block holding it
    CHECK_FALSE(blocks[2]);
    a = r.accept(at(0), bytes(0, 100), true);  // fills the gap: both join
    CHECK(a.filled_gap);
    CHECK(a.in_order == 150);
    CHECK(r.nxt() == at(150));
    std::vector<std::byte> out(200);
    REQUIRE(r.read(out) == 150);
    out.resize(150);
    CHECK(out == bytes(0, 150));  // in order, across the wrap

    // Four ranges at most (the test's limit): a fifth disjoint one is not kept.
    for (std::uint32_t i = 0; i < 4; ++i) CHECK(r.accept(at(200 + 20 * i), bytes(200 + 20 * i, 5), false).stored);
    CHECK_FALSE(r.accept(at(400), bytes(400, 5), false).stored);
    CHECK(r.accept(at(205), bytes(205, 5), false).stored);  // joining an existing range still works
    // With the four ranges held, a segment at RCV.NXT that joins none of them is still taken: it
    // is in order, so it never needs a range of its own. Refused, nothing could ever move RCV.NXT
    // (the 20 % loss simulation timed a connection out on it).
    a = r.accept(at(150), bytes(150, 10), false);
    CHECK(a.stored);
    CHECK(a.in_order == 10);
    CHECK(r.nxt() == at(160));
    CHECK_FALSE(r.accept(at(420), bytes(420, 5), false).stored);  // out of order: the limit holds
  }

  TEST_CASE("the FIN: taken in sequence, held ahead of a gap, only the earliest believed") {
    auto r = opened();
    CHECK(r.on_fin(at(300)) == TcpReceiver::FinResult::Held);
    CHECK(r.on_fin(at(400)) == TcpReceiver::FinResult::Ignored);  // a later FIN than the held one
    CHECK(r.on_fin(at(200)) == TcpReceiver::FinResult::Held);     // an earlier one replaces it
    CHECK(r.accept(at(0), bytes(0, 200), false).in_order == 200);
    CHECK(r.held_fin_due());
    r.take_fin();
    CHECK(r.fin_received());
    CHECK(r.nxt() == at(201));  // the FIN takes one sequence number
    CHECK(r.on_fin(at(201)) == TcpReceiver::FinResult::Ignored);
  }

  TEST_CASE("the advertised window: receiver SWS avoidance, never shrinking (RFC 9293 §3.8.6)") {
    auto r = opened(4096);
    // 3000 bytes arrive and are not read: the right edge stays; the window shrinks by the data.
    CHECK(r.accept(at(0), bytes(0, 3000), false).in_order == 3000);
    CHECK(r.advertise(1000) == 1096);
    CHECK(r.right_edge() == at(4096));
    std::vector<std::byte> out(4096);
    // 500 bytes read: the edge could move by 500, less than min(buffer/2, MSS) = 1000: it stays.
    REQUIRE(r.read(std::span(out).first(500)) == 500);
    CHECK_FALSE(r.window_update_due(1000));
    CHECK(r.advertise(1000) == 1096);
    // 1000 more read: it can move by 1500 >= 1000, so it moves.
    REQUIRE(r.read(std::span(out).first(1000)) == 1000);
    CHECK(r.advertise(1000) == 1096 + 1500);
    CHECK(r.right_edge() == at(4096 + 1500));
    // A window update alone is due once the edge can move by two segments (or half the buffer):
    // everything read, the edge could move by 1500 — not two segments of 1000, two of 500.
    REQUIRE(r.read(out) == 1500);
    CHECK_FALSE(r.window_update_due(1000));
    CHECK(r.window_update_due(500));
  }

  TEST_CASE("auto-tuning: once per round trip, the buffer grows when the application read more than the round trip before") {
    const Duration rtt = Duration::from_millis(100);
    constexpr std::uint16_t kMss = 1000;
    constexpr std::size_t kMax = 256 * 1024;
    TcpReceiver r(16384, 4);
    r.on_syn(kIrs);
    (void)r.syn_window();
    Instant t;
    CHECK_FALSE(r.autotune(t, rtt, kMss, kMax));  // starts measuring
    struct Step { const char* what; int ms; std::uint32_t read; bool grows; std::size_t capacity; };
    const Step steps[] = {
        {"within the round trip: nothing measured yet", 50, 8000, false, 16384},
        {"a round trip of 8000 bytes read, under the bar", 100, 0, false, 16384},
        // The bar: half the buffer (8192), under ten segments. 16000 read: 2 x 16000 + 16 x 1000 =
        // 48000, plus twice the growth (48000 x 7808 / 8192 = 45750): 139500, in whole pages.
        {"16000 bytes read in the next round trip: grows", 200, 16000, true, 143360},
        {"a slow reader: 1000 bytes in a round trip", 300, 1000, false, 143360},
        {"then 100000 bytes: grows to the cap", 400, 100000, true, kMax},
        {"and never beyond it", 500, 200000, false, kMax},
    };
    for (const Step& s : steps) {
      CAPTURE(s.what);
      arrive_and_read(r, s.read);
      CHECK(r.autotune(t + Duration::from_millis(s.ms), rtt, kMss, kMax) == s.grows);
      CHECK(r.capacity() == s.capacity);
    }
    // The grown buffer is offered: the right edge moves out to the new free space.
    (void)r.advertise(kMss);
    CHECK(r.window() == kMax);
  }

  TEST_CASE("the receiver's RTT estimate: the time RCV.NXT takes to pass the edge offered when the measurement began") {
    auto r = opened(4096);  // offered 4096 bytes
    Instant t;
    std::vector<std::byte> out(8192);
    // arrive(ms, n): n bytes at RCV.NXT, at t + ms.
    auto arrive = [&](int ms, std::uint32_t n) {
      const std::uint32_t offset = r.nxt().raw - at(0).raw;
      REQUIRE(r.accept(r.nxt(), bytes(offset, n), false).in_order == n);
      r.measure_rtt(t + Duration::from_millis(ms));
    };
    CHECK_FALSE(r.rtt_estimate().has_value());
    arrive(0, 1000);   // the measurement starts: the edge is 4096 bytes on
    arrive(60, 2000);
    CHECK_FALSE(r.rtt_estimate().has_value());
    arrive(100, 1096);  // RCV.NXT reaches the edge: one window took 100 ms
    REQUIRE(r.rtt_estimate().has_value());
    CHECK(r.rtt_estimate()->millis() == 100);
    // A slower window counts for an eighth: (7 x 100 + 200) / 8 = 112.5 ms.
    while (r.read(out) > 0) {
    }
    (void)r.advertise(1000);
    arrive(130, 1000);
    arrive(330, 3096);
    CHECK(r.rtt_estimate()->micros() == 112500);
    // A faster one is taken at once.
    while (r.read(out) > 0) {
    }
    (void)r.advertise(1000);
    arrive(400, 2000);
    arrive(450, 2096);
    CHECK(r.rtt_estimate()->millis() == 50);
  }
}
