// Loss recovery by acknowledgments: the state of fast retransmit and fast recovery (RFC 5681
// §3.2, NewReno RFC 6582) and of SACK-based recovery (RFC 6675), with the sender's SACK
// scoreboard, the check for a spurious fast retransmit (RFC 3522 / RFC 4015) and the D-SACK
// undo (RFC 3708). RACK-TLP's time-based detection (tcp_rack.hpp) marks losses; this decides
// what recovery is under way and where it ends.
//
// Read first: RFC 5681 §3.2, RFC 6582 §3.2 (recover, partial and full acknowledgments), RFC
// 6675 §5 (HighRxt, the pipe), RFC 8985 §6.3 (recovery after a timeout).
//
// TcpSocket owns one. The rules that change congestion control stay in the socket's input and
// output (tcp_input.cpp, tcp_output.cpp), which cite the RFC steps; this part keeps the state
// and its transitions consistent (tests/socket/test_tcp_recovery_state.cpp).
#pragma once

#include <optional>

#include "stack/socket/tcp_congestion.hpp"
#include "stack/socket/tcp_sack.hpp"
#include "stack/wire/tcp.hpp"

namespace stack::socket {

namespace tcp_event {
// Why a segment is sent again. FastRetransmit: DupThresh duplicate ACKs or SACKed segments (RFC
// 5681, RFC 6675); RackLoss: a segment sent after it was delivered and a round trip has passed
// (RFC 8985 §6.2); TailLossProbe: the probe of RFC 8985 §7.3, not (yet) a loss.
enum class RetransmitCause { Timeout, FastRetransmit, SackRecovery, PartialAck, RackLoss, TailLossProbe };
}  // namespace tcp_event

struct LossRecovery {
  using SeqNum = wire::tcp::SeqNum;

  // RFC 5681 §2 DupThresh, 3 to start with. Raised when a fast retransmit proves spurious
  // (reordering, detected with timestamps per RFC 3522), as Linux raises tcp_reordering.
  int dupthresh = 3;
  int dupacks = 0;
  bool in_recovery = false;
  // The recovery was started by a retransmission timeout (RFC 8985 §6.3, RFC 5681 §3.1): cwnd
  // grows by slow start, and its end does not set cwnd from ssthresh.
  bool rto_recovery = false;
  bool ended = false;      // by the ACK being processed (RACK's reo_wnd_persist counts them)
  SeqNum recover;          // RFC 6582 "recover": the highest sequence number sent when it began
  SeqNum high_rxt;         // RFC 6675 HighRxt
  bool retransmit_first = false;  // send the segment at SND.UNA now (fast retransmit, RTO, partial ACK)
  tcp_event::RetransmitCause retransmit_cause = tcp_event::RetransmitCause::Timeout;
  SackScoreboard scoreboard;      // what the peer SACKed above SND.UNA (tcp_sack.hpp)

  // RFC 3522 (Eifel detection) / RFC 4015 (Eifel response): what the congestion state was before
  // the fast retransmit, and the TSval of the retransmission. An ACK for the retransmitted data
  // echoing an older TSval was caused by the original: the retransmission was spurious.
  struct SpuriousCheck { std::uint32_t ts_rtx; CongestionControl cc_before; };
  std::optional<SpuriousCheck> spurious_check;
  // RFC 3708 (and Linux's undo_retrans): the congestion state before a recovery, and how many of
  // its retransmissions no D-SACK has yet shown to be needless. At zero, the recovery was spurious.
  struct DsackUndo { CongestionControl cc_before; SeqNum from; int retrans = 0; };
  std::optional<DsackUndo> undo;

  // Fast recovery begins (RFC 6582 §3.2 step 2, RFC 6675 §5 step 4.1): everything sent so far
  // must be acknowledged before it ends.
  void begin_fast(SeqNum snd_una, SeqNum snd_max) {
    in_recovery = true;
    rto_recovery = false;
    recover = snd_max;
    high_rxt = snd_una;
  }
  // A timeout begins a recovery of its own (RFC 8985 §6.3): every segment not SACKed is lost.
  void begin_after_timeout(SeqNum snd_una, SeqNum snd_max) {
    begin_fast(snd_una, snd_max);
    rto_recovery = true;
    dupacks = 0;
    spurious_check.reset();
    retransmit(tcp_event::RetransmitCause::Timeout);
  }
  // The ACK of `recover` (RFC 6582 §3.2 step 6) ends it; so does proof that it was spurious.
  bool fully_acked(SeqNum ack) const { return ack >= recover; }
  void end() {
    in_recovery = false;
    rto_recovery = false;
    ended = true;
    dupacks = 0;
    undo.reset();
  }
  // The segment at SND.UNA goes again at the next output, for `why`.
  void retransmit(tcp_event::RetransmitCause why) {
    retransmit_first = true;
    retransmit_cause = why;
  }
  // How the scoreboard judges a hole lost (RFC 6675 §4 IsLost): DupThresh segments of `smss`.
  SackScoreboard::LossRule loss_rule(std::uint32_t smss) const { return {dupthresh, smss}; }
};

}  // namespace stack::socket
