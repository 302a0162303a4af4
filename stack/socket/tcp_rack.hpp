// Loss detection by time: RACK-TLP (RFC 8985), and the sender's record of what it sent.
//
// RFC 6675 declares a segment lost when enough data above it is SACKed (three segments' worth);
// RACK declares it lost when a segment *sent after it* has been delivered and a little more than
// a round trip has passed since it was sent ("Recent ACKnowledgment"). Time instead of counting
// finds what counting cannot: a lost retransmission (the segments sent after it get SACKed), a
// loss near the tail of a flight (too few segments follow it to make three), and reordering
// (the window of patience, RACK.reo_wnd, grows when D-SACKs show a retransmission was needless).
// TLP (RFC 8985 §7) sends a probe two round trips after the last transmission, so a tail loss is
// reported by SACK instead of waiting for the retransmission timeout.
//
// Three parts, each tested on its own with tables (tests/socket/test_tcp_rack.cpp):
// - SentLog: every segment in flight with its send time and marks (SACKed, lost, retransmitted),
//   the equivalent of Linux's retransmission queue as RACK reads it;
// - Rack: RACK's per-connection state (RFC 8985 §6.1) and its five steps (§6.2);
// - tlp_timeout(): the probe timeout (§7.2).
// The socket composes them (tcp_input.cpp feeds ACKs, tcp_output.cpp sends and fires the timers).
#pragma once

#include <cstdint>
#include <vector>
#include <optional>
#include <span>

#include "stack/time.hpp"
#include "stack/wire/tcp.hpp"

namespace stack::socket {

// One segment as it was last transmitted: [start, end) in sequence space (a FIN counts one).
struct SentSegment {
  wire::tcp::SeqNum start;
  wire::tcp::SeqNum end;
  Instant xmit_ts;             // RFC 8985 §6.1 Segment.xmit_ts: the latest transmission
  bool retransmitted = false;  // Segment.retransmitted
  bool sacked = false;         // the peer reported it in a SACK block (RFC 2018)
  bool lost = false;           // declared lost and not retransmitted since (Segment.lost)
  std::uint32_t len() const { return wire::tcp::seq_len(start, end); }
};

// The segments between SND.UNA and SND.MAX, in sequence order. Bounded by the send buffer: a
// segment is recorded only when it leaves, and the peer's SACKs never split one (a block that
// covers part of a segment does not mark it), so a hostile peer cannot make the log grow.
class SentLog {
 public:
  using SeqNum = wire::tcp::SeqNum;
  using SackBlock = wire::tcp::SackBlock;

  // A transmission of [start, end) at `now`. Bytes past the log's end are new; bytes already in
  // the log are a retransmission: the segments are split at the range's edges and marked
  // retransmitted, sent at `now`, no longer lost.
  void on_transmit(SeqNum start, SeqNum end, Instant now);

  // The cumulative ACK moved to `una`. Calls `delivered(segment)` for every segment it covers
  // whole that was not SACKed before (RACK counts those as newly delivered), then forgets them;
  // a segment that straddles `una` keeps its part above it.
  template <class F>
  void on_cumulative_ack(SeqNum una, F&& delivered) {
    while (first_ < segs_.size() && segs_[first_].end <= una) {
      const SentSegment s = segs_[first_++];
      forget(s);
      if (!s.sacked) delivered(s);
    }
    drop_front();
    if (first_ < segs_.size() && segs_[first_].start < una) {
      SentSegment& s = segs_[first_];
      const std::uint32_t cut = wire::tcp::seq_len(s.start, una);
      if (s.sacked) sacked_bytes_ -= cut;
      if (s.lost) lost_bytes_ -= cut;
      bytes_ -= cut;
      s.start = una;
    }
  }

  // SACK blocks from one ACK: every segment wholly inside a block (and inside (una, max]) is
  // marked SACKed; `delivered(segment)` is called for each one newly marked.
  template <class F>
  void on_sack(std::span<const std::optional<SackBlock>> blocks, SeqNum una, SeqNum max, F&& delivered) {
    for (const auto& b : blocks) {
      if (!b || !(b->right.in_range(una + 1, max + 1) && b->left < b->right)) continue;
      for (SentSegment& s : segments()) {
        if (b->right < s.end) break;  // sorted: nothing further fits in this block
        if (s.sacked || s.start < b->left) continue;
        mark_sacked(s);
        delivered(s);
      }
    }
  }

  // RFC 8985 §6.3 (and RFC 5681 §3.1 for the go-back): on a retransmission timeout everything
  // not SACKed is lost. `forget_sacks` also clears the SACK marks, for a receiver that may have
  // reneged (RFC 2018 §8): then every byte is sent again.
  void mark_all_lost(bool forget_sacks);
  void mark_lost(SentSegment& s);

  // The first segment marked lost (retransmitted next), or null.
  const SentSegment* first_lost() const;
  // The oldest segment (at SND.UNA) is marked SACKed: the receiver reneged (RFC 2018 §8).
  bool head_sacked() const { return !empty() && segs_[first_].sacked; }
  // The last segment (the one a tail loss probe resends), or null.
  const SentSegment* last() const { return empty() ? nullptr : &segs_.back(); }

  std::span<SentSegment> segments() { return std::span(segs_).subspan(first_); }
  std::span<const SentSegment> segments() const { return std::span(segs_).subspan(first_); }
  bool empty() const { return first_ == segs_.size(); }
  void clear();
  // Storage is held only while something is in flight: an idle connection's log costs nothing.
  bool holds_storage() const { return segs_.capacity() > 0; }

  std::uint32_t bytes() const { return bytes_; }
  std::uint32_t sacked_bytes() const { return sacked_bytes_; }
  std::uint32_t lost_bytes() const { return lost_bytes_; }
  std::uint32_t sacked_segments() const { return sacked_segs_; }
  // RFC 6675's "pipe" with RACK's marks (Linux's packets_in_flight in bytes): what is still in
  // the network, neither delivered (SACKed) nor known lost.
  std::uint32_t in_flight() const { return bytes_ - sacked_bytes_ - lost_bytes_; }

  // The counters above agree with the segments (for tests and fuzzing).
  bool consistent() const;

 private:
  void mark_sacked(SentSegment& s);
  void forget(const SentSegment& s);
  // Splits the segment holding `at` so that a segment starts there; returns its index in
  // segments().
  std::size_t split_at(SeqNum at);
  // Forgets the acknowledged entries before first_: all storage once nothing is left, else the
  // front half when it is mostly spent (so each entry is moved a bounded number of times).
  void drop_front();

  // The segments are segs_[first_..]: a cumulative ACK advances first_ instead of moving the rest.
  std::vector<SentSegment> segs_;
  std::size_t first_ = 0;
  std::uint32_t bytes_ = 0;
  std::uint32_t sacked_bytes_ = 0;
  std::uint32_t lost_bytes_ = 0;
  std::uint32_t sacked_segs_ = 0;
};

// RACK's state (RFC 8985 §6.1) and steps (§6.2). The caller feeds every newly delivered segment
// (steps 1-3), then asks for the reordering window (step 4) and runs the detection (step 5).
class Rack {
 public:
  using SeqNum = wire::tcp::SeqNum;

  // Step 1, "RACK.min_RTT": the smallest RTT sample seen on the connection.
  void on_rtt_sample(Duration rtt);
  // Steps 2 and 3 for one newly delivered segment. `echo_before_xmit`: the ACK's timestamp echo
  // is older than the segment's latest transmission, so it acknowledges an earlier copy (RFC 8985
  // §6.2 step 2: such a sample is not taken).
  void on_delivered(const SentSegment& s, Instant now, bool echo_before_xmit);
  // Step 4, first part: a D-SACK arrived (RFC 2883), or a recovery ended. Grows the window
  // multiplier once per round trip that sees D-SACKs; 16 recoveries without one reset it.
  void on_ack_done(bool dsack, bool recovery_ended, SeqNum snd_una, SeqNum snd_nxt);
  // Step 4, second part: RACK.reo_wnd. Zero while no reordering has been seen and either a
  // recovery is running or DupThresh segments are SACKed (RACK then acts like RFC 6675);
  // otherwise min_RTT/4 times the multiplier, at most SRTT.
  Duration reo_wnd(bool in_recovery, std::uint32_t segs_sacked, int dupthresh, std::optional<Duration> srtt) const;

  struct Detection {
    std::uint32_t newly_lost = 0;      // segments marked lost by this call
    std::optional<Duration> timeout;   // when to look again (RACK's reordering timer)
  };
  // Step 5: every segment sent before the most recently delivered one, and more than RACK.rtt +
  // reo_wnd ago, is lost.
  Detection detect_loss(SentLog& log, Instant now, Duration reo_wnd) const;

  bool has_sample() const { return xmit_ts_.has_value(); }
  Duration rtt() const { return rtt_; }
  std::optional<Duration> min_rtt() const { return min_rtt_; }
  bool reordering_seen() const { return reordering_seen_; }
  int reo_wnd_mult() const { return reo_wnd_mult_; }

 private:
  // RFC 8985 §6.2 RACK_sent_after(t1, seq1, t2, seq2).
  static bool sent_after(Instant t1, SeqNum seq1, Instant t2, SeqNum seq2) {
    return t1 > t2 || (t1 == t2 && seq1 > seq2);
  }

  std::optional<Instant> xmit_ts_;  // RACK.xmit_ts: latest send time among delivered segments
  SeqNum end_seq_;                  // RACK.end_seq
  Duration rtt_;                    // RACK.rtt
  std::optional<Duration> min_rtt_; // RACK.min_RTT
  std::optional<SeqNum> fack_;      // RACK.fack: highest end_seq delivered
  bool reordering_seen_ = false;    // RACK.reordering_seen
  int reo_wnd_mult_ = 1;            // RACK.reo_wnd_mult
  int reo_wnd_persist_ = 16;        // RACK.reo_wnd_persist
  std::optional<SeqNum> dsack_round_;  // RACK.dsack_round
};

// RFC 8985 §7.2 TLP_calc_PTO: two smoothed RTTs; with one segment in flight, plus the peer's
// worst-case delayed-ACK time (its ACK may be held back); 1 s before any RTT sample; never later
// than the retransmission timer. Two RTTs are floored at 10 ms (Linux keeps a floor too): on a
// LAN with an RTT of 50 µs a probe every 100 µs would resend the tail while the ACK is on its way.
inline constexpr Duration kTlpMinTimeout = Duration::from_millis(10);
Duration tlp_timeout(std::optional<Duration> srtt, bool one_segment_in_flight, Duration max_ack_delay,
                     Duration rto_remaining);

// RFC 2883 §4 (and RFC 3708 §2): the first SACK block of an ACK reports a duplicate (a D-SACK)
// when it lies at or below the cumulative ACK, or inside the second block.
std::optional<wire::tcp::SackBlock> dsack_block(std::span<const std::optional<wire::tcp::SackBlock>> blocks,
                                                wire::tcp::SeqNum ack);

}  // namespace stack::socket
