// The receiving half of a TCP connection: the receive sequence variables (RFC 9293 §3.3.1
// RCV.NXT, RCV.WND, IRS), the receive buffer with its out-of-order store, the window we
// advertise, the SACK and D-SACK blocks we report, and the peer's FIN.
//
// Read first: RFC 9293 §3.3.1 (receive sequence space), §3.10.7.4 "seventh, process the segment
// text" and "eighth, check the FIN bit", §3.8.6.2.2 (receiver SWS avoidance); RFC 7323 §2
// (window scale); RFC 2018 §4 and RFC 2883 §4 (which blocks a receiver reports).
//
// TcpSocket owns one and decides *when* to ACK (RFC 1122 §4.2.3.2); the receiver decides *what*
// was received and what to advertise. It is driven with sequence numbers only, so it is tested
// on its own (tests/socket/test_tcp_receiver.cpp).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "stack/socket/tcp_reassembly.hpp"
#include "stack/time.hpp"
#include "stack/util/ring_buffer.hpp"
#include "stack/wire/tcp.hpp"

namespace stack::socket {

class TcpReceiver {
 public:
  using SeqNum = wire::tcp::SeqNum;
  using SackBlock = wire::tcp::SackBlock;

  TcpReceiver(std::size_t buffer, std::size_t max_ooo_ranges)
      : rx_(buffer), ooo_(max_ooo_ranges), initial_capacity_(buffer) {}

  // The peer's SYN (RFC 9293 §3.10.7.2/3): "IRS is set to SEG.SEQ", "RCV.NXT to SEG.SEQ+1".
  // Nothing is advertised yet.
  void on_syn(SeqNum seg_seq);
  // Our window scale shift (RFC 7323 §2.2): chosen before the handshake, 0 if the peer did not
  // offer scaling.
  void set_wscale(std::uint8_t shift) { wscale_ = shift; }

  SeqNum irs() const { return irs_; }
  SeqNum nxt() const { return nxt_; }
  // RCV.WND as the peer knows it: from RCV.NXT to the right edge we last advertised.
  std::uint32_t window() const { return seq_len(nxt_, adv_); }
  SeqNum right_edge() const { return adv_; }
  std::uint8_t wscale() const { return wscale_; }

  // RFC 9293 §3.10.7.4 Table 6: is a segment of `seg_len` (data + SYN + FIN) starting at `seq`
  // acceptable?
  bool acceptable(SeqNum seq, std::uint32_t seg_len) const;

  // --- the window we advertise ---
  // In a SYN or SYN-ACK: never scaled (RFC 7323 §2.2), what the buffer holds up to 65535.
  std::uint16_t syn_window();
  // In every other segment: the scaled field, with receiver SWS avoidance (§3.8.6.2.2: move the
  // right edge only by min(buffer/2, MSS)), never shrinking (§3.8.6).
  std::uint16_t advertise(std::uint16_t mss);
  // Is a pure window update worth a segment (the edge can move by two segments or half the
  // buffer, RFC 1122 §4.2.3.3)?
  bool window_update_due(std::uint16_t mss) const;

  // --- text (RFC 9293 §3.10.7.4 seventh) ---
  struct Accepted {
    bool stored = true;           // false: the out-of-order range limit was reached (nothing kept)
    bool out_of_order = false;    // the segment did not start at RCV.NXT
    bool filled_gap = false;      // out-of-order data was held when it came (it may have joined)
    bool duplicate = false;       // every byte was already held (reported as a D-SACK)
    std::uint32_t in_order = 0;   // bytes RCV.NXT moved by
  };
  // Takes text already trimmed to the window (RCV.NXT =< seq, seq + size =< right edge). Bytes
  // already held win over the new copy (docs/hostile-inputs.md #52). `report_dsack`: SACK was
  // negotiated.
  Accepted accept(SeqNum seq, std::span<const std::byte> payload, bool report_dsack);
  // A duplicate the caller found before accept() (wholly old, or the old head of a segment):
  // the first block of the next ACK (RFC 2883 §4.1.1).
  void report_duplicate(SeqNum left, SeqNum right) { dsack_ = SackBlock{left, right}; }

  // --- the FIN (eighth step) ---
  enum class FinResult { Taken, Held, Ignored };
  // A FIN at `at`: taken if it is next in sequence, held if it is ahead of missing data (only
  // the earliest one is believed, docs/hostile-inputs.md #51).
  FinResult on_fin(SeqNum at);
  // A FIN held ahead of data became next in sequence after accept().
  bool held_fin_due() const { return held_fin_ && *held_fin_ == nxt_; }
  void take_fin();  // RCV.NXT passes the FIN; out-of-order data beyond it is forgotten
  bool fin_received() const { return fin_received_; }

  // --- SACK blocks for the next segment (RFC 2018 §4, RFC 2883 §4) ---
  bool has_sack_blocks() const { return !ooo_.empty() || dsack_.has_value(); }
  // Fills up to `max_blocks` blocks: the D-SACK block (once) first, then the range holding the
  // latest segment, then the others.
  void fill_sack_blocks(std::array<std::optional<SackBlock>, 4>& out, std::size_t max_blocks);

  // --- the application's side ---
  std::size_t read(std::span<std::byte> out) {
    const std::size_t n = rx_.pop(out);
    // Nothing held ahead: the storage goes back (an idle connection holds no receive buffer).
    // A buffer auto-tuning grew belongs to a bulk transfer that refills it within a round trip:
    // it keeps its storage (and starts at the front again) rather than giving up and taking
    // back megabytes on every read that empties it.
    if (rx_.empty() && ooo_.empty()) {
      if (rx_.capacity() > initial_capacity_) rx_.rewind();
      else rx_.release();
    }
    bytes_read_ += n;
    return n;
  }
  bool buffer_allocated() const { return rx_.allocated(); }
  std::size_t capacity() const { return rx_.capacity(); }

  // --- receive buffer auto-tuning (dynamic right-sizing) ---
  // Called after the application reads, with the connection's smoothed RTT: once per round trip,
  // if the application read more than in the last measured round trip, the buffer grows (never
  // beyond `max`) so that the window keeps ahead of a sender that is still speeding up. Returns
  // true when the buffer grew (the window can open: a window update may be due).
  bool autotune(Instant now, Duration rtt, std::uint16_t mss, std::size_t max);
  // The receiver's own round-trip estimate, for a connection that sends no data (so has no RTT
  // samples of its own): the time RCV.NXT takes to pass the right edge offered when the
  // measurement began. Data sent into a window cannot arrive sooner than one round trip after
  // the window was offered, so each sample is at least an RTT; a smaller one is taken at once,
  // a larger one only with weight 1/8 (Linux's receiver RTT estimate without timestamps works
  // the same way). Call after in-order data arrived.
  void measure_rtt(Instant now);
  std::optional<Duration> rtt_estimate() const { return rtt_; }
  std::size_t queued() const { return rx_.size(); }
  bool empty() const { return rx_.empty(); }
  void discard_queued() {  // nobody will read: acknowledged and dropped
    rx_.consume(rx_.size());
    if (ooo_.empty()) rx_.release();
  }
  std::size_t free_space() const { return rx_.free(); }

 private:
  SeqNum irs_, nxt_;
  // The right edge we last advertised; it never moves left (RFC 9293 §3.8.6 "the window SHOULD
  // NOT be shrunk").
  SeqNum adv_;
  std::uint8_t wscale_ = 0;
  RingBuffer rx_;       // in-order data not yet read; out-of-order bytes beyond its end
  TcpAssembler ooo_;    // which ranges beyond RCV.NXT have arrived
  bool fin_received_ = false;
  std::optional<SeqNum> held_fin_;    // a FIN that arrived ahead of missing data
  std::optional<SackBlock> dsack_;    // a duplicate to report first in the next ACK (RFC 2883)
  std::size_t initial_capacity_;      // the buffer before auto-tuning grew it
  std::uint64_t bytes_read_ = 0;      // by the application, since the connection opened
  // The round trip being measured for auto-tuning: when it began, what had been read by then,
  // and what the application read in the last round trip that set the buffer ("space").
  struct Measure {
    Instant since;
    std::uint64_t read_before = 0;
    std::uint64_t space = 0;
  };
  std::optional<Measure> measure_;
  struct RttProbe {
    SeqNum edge;
    Instant since;
  };
  std::optional<RttProbe> rtt_probe_;
  std::optional<Duration> rtt_;
};

}  // namespace stack::socket
