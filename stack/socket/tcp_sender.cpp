// The sending half of a TCP connection (tcp_sender.hpp): the window update and the rules that
// decide how much new data may go.
#include "stack/socket/tcp_sender.hpp"

#include <algorithm>

namespace stack::socket {

std::uint32_t TcpSender::window_room() const {
  const SeqNum right = una + wnd;
  return nxt < right ? seq_len(nxt, right) : 0;
}

bool TcpSender::update_window(SeqNum seg_seq, SeqNum seg_ack, std::uint16_t raw_window) {
  if (!seg_ack.in_range(una, max + 1)) return false;  // SND.UNA =< SEG.ACK =< SND.NXT
  // The WL1/WL2 check keeps an old segment, reordered behind a newer one, from setting the
  // window back.
  if (!(wl1 < seg_seq || (wl1 == seg_seq && wl2 <= seg_ack))) return false;
  wnd = static_cast<std::uint32_t>(raw_window) << wscale;
  wl1 = seg_seq;
  wl2 = seg_ack;
  max_wnd = std::max(max_wnd, wnd);
  return true;
}

std::optional<std::uint32_t> TcpSender::next_segment_len(std::uint32_t cap, std::uint32_t cwnd_room) const {
  const std::uint32_t waiting = unsent();
  if (waiting == 0) {
    // A FIN alone takes one sequence number too: into a zero window it would be dropped by the
    // receiver (RFC 9293 §3.10.7.4 "If the RCV.WND is zero, no segments will be acceptable"),
    // so it waits, like data, for the window or the persist timer (as Linux holds it).
    if (!fin_pending()) return std::nullopt;
    if (wnd == 0 && nxt == una) return std::nullopt;
    return 0;
  }
  const std::uint32_t len = std::min({waiting, cap, cwnd_room, window_room()});
  if (len == 0) return std::nullopt;  // windows closed: wait for an ACK or the persist timer
  // RFC 9293 §3.8.6.2.1 sender SWS avoidance: a partial segment that does not empty the queue
  // goes only if it is at least half the largest window the peer ever offered. (When this
  // refuses and nothing is in flight, the socket's persist timer doubles as the override timer
  // of RFC 1122 §4.2.3.4.)
  if (len < cap && len < waiting && len < max_wnd / 2) return std::nullopt;
  // RFC 1122 §4.2.3.4 (Nagle): "If there is unacknowledged data, then the sending TCP buffers
  // all user data ... until the outstanding data has been acknowledged or until the TCP can
  // send a full-sized segment." Not for retransmissions, not once the FIN is queued.
  // DEVIATION(RFC 1122 §4.2.3.4): Minshall's variant (draft-minshall-nagle-01), as Linux and
  // the BSDs use it: the partial segment is held only while an earlier *partial* segment is
  // unacknowledged. The purpose stays (at most one small segment in flight), but the tail of
  // a response goes with the full segments before it instead of one round trip after them.
  if (len < cap && len == waiting && nxt >= max && !nodelay && !fin_queued && una != max && small_unacked())
    return std::nullopt;
  return len;
}

bool TcpSender::grow(std::uint32_t cwnd, std::size_t cap) {
  if (cap <= buffer.capacity()) return false;
  std::size_t target = std::size_t{2} * cwnd;
  target = std::min((target + 4095) / 4096 * 4096, cap);
  if (target <= buffer.capacity()) return false;
  buffer.grow(target);
  return true;
}

}  // namespace stack::socket
