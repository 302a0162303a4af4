// socket/tcp_sender: the sending half of a connection on its own, driven with sequence numbers
// only (RFC 9293 §3.3.1, §3.10.7.4 fifth step's window update, §3.8.6.2.1 sender SWS avoidance;
// RFC 1122 §4.2.3.4 Nagle). The ISS sits just before the 2^32 wrap, so every case crosses it.
#include <doctest/doctest.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "stack/socket/tcp_sender.hpp"

using stack::socket::TcpSender;
using stack::wire::tcp::SeqNum;

namespace {
constexpr SeqNum kIss{0xfffffff0u};  // the first data byte is 15 before the wrap
constexpr SeqNum kPeerSeq{5000};

// A sender whose SYN was acknowledged, with `written` bytes in its buffer, none sent, the peer's
// window `wnd` (max_wnd the same), MSS 1000.
TcpSender established(std::uint32_t written, std::uint32_t wnd, bool nodelay = false) {
  TcpSender s(64 * 1024, nodelay);
  s.iss = kIss;
  s.una = s.nxt = s.max = kIss + 1;
  s.syn_acked = true;
  s.mss = 1000;
  s.wnd = s.max_wnd = wnd;
  s.wl1 = kPeerSeq;
  s.wl2 = s.una;
  std::vector<std::byte> data(written, std::byte{0x61});
  REQUIRE(s.buffer.push(data) == written);
  return s;
}

// Sends `len` bytes from SND.NXT, as the socket's output does.
void send(TcpSender& s, std::uint32_t len) {
  s.nxt = s.nxt + len;
  if (s.max < s.nxt) s.max = s.nxt;
}
}  // namespace

TEST_CASE("tcp_sender: the buffer starts after the SYN, then at SND.UNA") {
  TcpSender s(4096, false);
  s.iss = kIss;
  s.una = s.nxt = s.max = kIss;
  std::vector<std::byte> data(10);
  REQUIRE(s.buffer.push(data) == 10);
  CHECK(s.buffer_start() == kIss + 1);  // the SYN occupies ISS (RFC 9293 §3.4)
  CHECK(s.buffer_end() == kIss + 11);
  s.syn_acked = true;
  s.una = kIss + 1;
  CHECK(s.buffer_start() == kIss + 1);
  CHECK(s.buffer_end() == kIss + 11);
}

TEST_CASE("tcp_sender: the FIN is pending only when queued, unacknowledged and next in line") {
  TcpSender s = established(100, 10000);
  CHECK_FALSE(s.fin_pending());
  s.fin_queued = true;
  CHECK_FALSE(s.fin_pending());  // data comes first
  send(s, 100);
  CHECK(s.fin_pending());
  CHECK(s.fin_seq() == kIss + 101);
  s.fin_acked = true;
  CHECK_FALSE(s.fin_pending());
}

TEST_CASE("tcp_sender: the window update follows SND.WL1 and SND.WL2 (RFC 9293 §3.10.7.4 fifth)") {
  struct Case {
    const char* what;
    std::int32_t seq_delta;  // SEG.SEQ - SND.WL1
    std::int32_t ack_delta;  // SEG.ACK - SND.WL2
    std::uint16_t raw;
    bool taken;
  };
  const Case cases[] = {
      {"a newer segment", 1, 0, 100, true},
      {"the same segment number, a newer ACK", 0, 10, 100, true},
      {"the same segment number and ACK (a window update)", 0, 0, 100, true},
      {"an older segment (reordered behind a newer one)", -1, 10, 100, false},
      {"the same segment number, an older ACK", 0, -1, 100, false},
      {"an ACK of something never sent", 1, 500, 100, false},
      {"an ACK below SND.UNA", 1, -60, 100, false},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    TcpSender s = established(1000, 8000);
    send(s, 300);
    s.una = s.una + 100;  // 200 bytes in flight
    s.wl2 = s.una + 50;   // set artificially ahead of SND.UNA, to test the rule on its own
    const SeqNum seg_seq{s.wl1.raw + static_cast<std::uint32_t>(c.seq_delta)};
    const SeqNum seg_ack{s.wl2.raw + static_cast<std::uint32_t>(c.ack_delta)};
    CHECK(s.update_window(seg_seq, seg_ack, c.raw) == c.taken);
    CHECK(s.wnd == (c.taken ? c.raw : 8000u));
    if (c.taken) {
      CHECK(s.wl1 == seg_seq);
      CHECK(s.wl2 == seg_ack);
    }
    CHECK(s.max_wnd == 8000);  // the largest window offered stays
  }
}

TEST_CASE("tcp_sender: the window field is scaled by the peer's shift (RFC 7323 §2.3)") {
  TcpSender s = established(0, 0);
  s.wscale = 7;
  CHECK(s.update_window(kPeerSeq + 1, s.una, 1000));
  CHECK(s.wnd == 128000u);
  CHECK(s.max_wnd == 128000u);
}

TEST_CASE("tcp_sender: how much new data may go (SWS avoidance, Nagle, windows)") {
  struct Case {
    const char* what;
    std::uint32_t written, max_wnd, wnd, in_flight, cwnd_room;
    bool nodelay, fin;
    std::optional<std::uint32_t> len;
  };
  const Case cases[] = {
      {"a full segment", 5000, 10000, 10000, 0, 100000, false, false, 1000u},
      {"congestion control leaves a partial segment, more is queued: SWS avoidance waits", 5000, 10000, 10000, 0,
       600, false, false, std::nullopt},
      {"the peer's window leaves at least half its largest", 20000, 1000, 1000, 400, 100000, false, false, 600u},
      {"the peer's window leaves less than half its largest: SWS avoidance waits", 20000, 1000, 1000, 600, 100000,
       false, false, std::nullopt},
      {"the rest of the queue, however small, when nothing is in flight", 300, 10000, 10000, 0, 100000, false, false,
       300u},
      {"Nagle (Minshall's variant): a partial segment after full ones goes", 1300, 10000, 10000, 1000, 100000, false,
       false, 300u},
      {"TCP_NODELAY sends it", 1300, 10000, 10000, 1000, 100000, true, false, 300u},
      {"a queued FIN sends it", 1300, 10000, 10000, 1000, 100000, false, true, 300u},
      {"nothing unsent, no FIN", 1000, 10000, 10000, 1000, 100000, false, false, std::nullopt},
      {"nothing unsent, the FIN goes alone", 1000, 10000, 10000, 1000, 100000, false, true, 0u},
      {"a closed window: nothing", 1000, 10000, 0, 0, 100000, false, false, std::nullopt},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    TcpSender s = established(c.written, c.max_wnd, c.nodelay);
    send(s, c.in_flight);
    s.wnd = c.wnd;
    s.fin_queued = c.fin;
    CHECK(s.next_segment_len(1000, c.cwnd_room) == c.len);
  }
}

TEST_CASE("tcp_sender: Nagle holds a partial segment while an earlier partial one is unacknowledged (Minshall's variant)") {
  TcpSender s = established(300, 10000);
  // The application wrote 300 bytes: they go at once (nothing in flight)...
  REQUIRE(s.next_segment_len(1000, 100000) == 300u);
  s.sent_new(300, 1000);
  send(s, 300);
  // ...the next 200 wait for the ACK of those (RFC 1122 §4.2.3.4)...
  REQUIRE(s.buffer.push(std::vector<std::byte>(200, std::byte{0x62})) == 200);
  CHECK(s.small_unacked());
  CHECK(s.next_segment_len(1000, 100000) == std::nullopt);
  // ...a part of it acknowledged is not enough...
  s.una = s.una + 100;
  s.buffer.consume(100);  // acknowledged bytes leave the buffer, as the socket's ACK processing does
  CHECK(s.next_segment_len(1000, 100000) == std::nullopt);
  // ...all of it is.
  s.una = s.una + 200;
  s.buffer.consume(200);
  CHECK_FALSE(s.small_unacked());
  CHECK(s.next_segment_len(1000, 100000) == 200u);
  // A full segment sent is not remembered as small.
  s.sent_new(1000, 1000);
  CHECK_FALSE(s.small_unacked());
}

TEST_CASE("tcp_sender: a FIN alone waits for a window that is zero and nothing in flight") {
  TcpSender s = established(0, 10000);
  s.fin_queued = true;
  s.wnd = 0;
  CHECK(s.next_segment_len(1000, 100000) == std::nullopt);  // the persist timer will probe
  s.wnd = 1;
  CHECK(s.next_segment_len(1000, 100000) == 0u);
}

TEST_CASE("tcp_sender: after go-back-N the unsent bytes count again from SND.NXT") {
  TcpSender s = established(3000, 10000);
  send(s, 3000);
  CHECK(s.unsent() == 0);
  s.nxt = s.una;  // a timeout: SND.NXT back to SND.UNA, SND.MAX stays
  CHECK(s.unsent() == 3000);
  // A retransmission is not held by Nagle, even partial and with data outstanding.
  s.nxt = s.una + 2500;
  CHECK(s.next_segment_len(1000, 100000) == 500u);
}

TEST_CASE("tcp_sender: the buffer grows to twice the congestion window, whole pages, up to the cap") {
  TcpSender s(64 * 1024, false);
  CHECK_FALSE(s.grow(20000, 64 * 1024));   // the cap is the size it has
  CHECK_FALSE(s.grow(20000, 1024 * 1024)); // twice 20000 is below 64 KiB already
  CHECK(s.grow(50000, 1024 * 1024));
  CHECK(s.buffer.capacity() == 102400);     // 100000 rounded up to 25 pages
  CHECK(s.grow(4000000, 1024 * 1024));
  CHECK(s.buffer.capacity() == 1024 * 1024);
}
