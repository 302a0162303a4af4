// The sending half of a TCP connection: the send sequence variables (RFC 9293 §3.3.1 SND.UNA,
// SND.NXT, SND.WND, SND.WL1, SND.WL2, ISS), the send buffer, the FIN the application queued,
// and the two rules that hold back a small segment: sender SWS avoidance (RFC 9293 §3.8.6.2.1)
// and Nagle's algorithm (RFC 1122 §4.2.3.4).
//
// Read first: RFC 9293 §3.3.1 (send sequence space, Figure 4), §3.10.7.4 "fifth, check the ACK
// field" (the window update), §3.8.6.2.1 (when to send data).
//
// TcpSocket owns one and decides *why* something is sent (new data, a retransmission, a probe),
// together with congestion control and loss recovery (tcp_recovery.hpp); the sender keeps the
// sequence space and says how much new data the peer's window and the two rules allow. Its
// variables are public and named as the RFC names them (snd_.una is SND.UNA), so the socket's
// code reads like the RFC's event processing; it is tested on its own
// (tests/socket/test_tcp_sender.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "stack/util/ring_buffer.hpp"
#include "stack/wire/tcp.hpp"

namespace stack::socket {

class TcpSender {
 public:
  using SeqNum = wire::tcp::SeqNum;

  TcpSender(std::size_t capacity, bool nodelay_on) : buffer(capacity), nodelay(nodelay_on) {}

  // --- the send sequence variables (RFC 9293 §3.3.1) ---
  //                1         2          3          4
  //           ----------|----------|----------|----------
  //                  SND.UNA    SND.NXT    SND.UNA + SND.WND
  // `max` is the highest sequence number sent: after a timeout `nxt` goes back to `una`
  // (go-back-N) while `max` keeps "what the peer may legitimately acknowledge".
  SeqNum iss, una, nxt, max;
  SeqNum wl1, wl2;              // the segment that last updated the window (SEG.SEQ, SEG.ACK)
  std::uint32_t wnd = 0;        // SND.WND, already scaled
  std::uint32_t max_wnd = 0;    // the largest window the peer offered (SWS, RFC 5961 §5.2)
  std::uint16_t mss = 536;      // RFC 9293 MUST-15: 536 when the peer sent no MSS
  std::uint8_t wscale = 0;      // the peer's shift (RFC 7323 §2.3)

  // --- the send buffer: written by the application, not yet acknowledged ---
  RingBuffer buffer;
  bool syn_acked = false;       // our SYN is acknowledged: the buffer starts at SND.UNA
  bool fin_queued = false;      // the application called CLOSE: a FIN follows the data
  bool fin_acked = false;
  bool nodelay = false;         // Nagle off (TCP_NODELAY)
  // The end of the last partial segment of new data sent (Minshall's variant of Nagle, below).
  std::optional<SeqNum> small_end;

  // Sequence number of the buffer's first byte: the SYN occupies ISS (RFC 9293 §3.4).
  SeqNum buffer_start() const { return syn_acked ? una : iss + 1; }
  SeqNum buffer_end() const { return buffer_start() + static_cast<std::uint32_t>(buffer.size()); }
  SeqNum fin_seq() const { return buffer_end(); }  // meaningful once fin_queued
  // The FIN is due next: queued, not acknowledged, and SND.NXT stands at its place (first send,
  // or again after a timeout's go-back-N).
  bool fin_pending() const { return fin_queued && !fin_acked && nxt == buffer_end(); }
  // Bytes written and never sent from SND.NXT on (after go-back-N: not sent again yet).
  std::uint32_t unsent() const { return nxt < buffer_end() ? seq_len(nxt, buffer_end()) : 0; }
  // Room the peer's window leaves past SND.NXT: up to SND.UNA + SND.WND.
  std::uint32_t window_room() const;

  // RFC 9293 §3.10.7.4 fifth: "If SND.UNA =< SEG.ACK =< SND.NXT, the send window should be
  // updated. If (SND.WL1 < SEG.SEQ or (SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK)), set SND.WND <-
  // SEG.WND, set SND.WL1 <- SEG.SEQ, and set SND.WL2 <- SEG.ACK." (SND.NXT there is our `max`.)
  // `raw_window` is the header's field, scaled here (RFC 7323 §2.3). True when it was taken.
  bool update_window(SeqNum seg_seq, SeqNum seg_ack, std::uint16_t raw_window);

  // How many bytes of new data may go now, from SND.NXT: at most `cap` (a full segment's data),
  // what congestion control leaves (`cwnd_room`) and what the peer's window leaves, then held
  // back by sender SWS avoidance and Nagle. 0 means a FIN alone; nullopt, nothing.
  std::optional<std::uint32_t> next_segment_len(std::uint32_t cap, std::uint32_t cwnd_room) const;
  // New data went out from SND.NXT: `len` bytes of at most `cap`. A partial segment is
  // remembered until it is acknowledged (Nagle holds the next one meanwhile).
  void sent_new(std::uint32_t len, std::uint32_t cap) {
    if (len > 0 && len < cap) small_end = nxt + len;
  }
  // Is a partial segment sent earlier still unacknowledged?
  bool small_unacked() const { return small_end && una < *small_end && *small_end <= max; }

  // The application has more to write than the buffer holds: grow it to twice the congestion
  // window (whole pages, at most `cap`), as Linux sizes its send buffers. False if it cannot.
  bool grow(std::uint32_t cwnd, std::size_t cap);
};

}  // namespace stack::socket
