// socket/tcp_recovery and tcp_timers: the loss-recovery state on its own (RFC 6582 §3.2's
// "recover", RFC 6675 §5's HighRxt, RFC 8985 §6.3's recovery after a timeout) and the timers as
// deadlines. The rules that change congestion control are tested through whole connections
// (test_tcp_recovery.cpp); these are the transitions they rely on.
#include <doctest/doctest.h>

#include "stack/socket/tcp_recovery.hpp"
#include "stack/socket/tcp_timers.hpp"

using stack::Duration;
using stack::Instant;
using stack::socket::CongestionAlgorithm;
using stack::socket::CongestionControl;
using stack::socket::LossRecovery;
using stack::socket::TcpTimers;
using stack::wire::tcp::SeqNum;
namespace tcp_event = stack::socket::tcp_event;

TEST_CASE("tcp_recovery: fast recovery ends at the ACK of everything sent when it began (RFC 6582 §3.2)") {
  LossRecovery r;
  const SeqNum una{0xffffff00u}, max{0x00000100u};  // across the wrap
  r.dupacks = 3;
  r.begin_fast(una, max);
  CHECK(r.in_recovery);
  CHECK_FALSE(r.rto_recovery);
  CHECK(r.recover == max);
  CHECK(r.high_rxt == una);
  CHECK_FALSE(r.fully_acked(una + 100));  // a partial acknowledgment (step 5)
  CHECK_FALSE(r.fully_acked(SeqNum{max.raw - 1}));  // one short of recover
  CHECK(r.fully_acked(max));                 // step 6
  CHECK(r.fully_acked(max + 1));
  r.undo = LossRecovery::DsackUndo{CongestionControl{CongestionAlgorithm::NewReno, 1000}, una, 2};
  r.end();
  CHECK_FALSE(r.in_recovery);
  CHECK(r.ended);
  CHECK(r.dupacks == 0);
  CHECK_FALSE(r.undo.has_value());
  CHECK(r.recover == max);  // kept: no new recovery for losses from before it (step 2)
}

TEST_CASE("tcp_recovery: a timeout starts a recovery of its own that retransmits at once (RFC 8985 §6.3)") {
  LossRecovery r;
  r.dupacks = 2;
  r.spurious_check = LossRecovery::SpuriousCheck{7, CongestionControl{CongestionAlgorithm::Cubic, 1000}};
  r.begin_after_timeout(SeqNum{1000}, SeqNum{9000});
  CHECK(r.in_recovery);
  CHECK(r.rto_recovery);
  CHECK(r.dupacks == 0);
  CHECK_FALSE(r.spurious_check.has_value());
  CHECK(r.recover == SeqNum{9000});
  CHECK(r.high_rxt == SeqNum{1000});
  CHECK(r.retransmit_first);
  CHECK(r.retransmit_cause == tcp_event::RetransmitCause::Timeout);
  r.end();
  CHECK_FALSE(r.rto_recovery);
}

TEST_CASE("tcp_recovery: the loss rule carries DupThresh and the segment size (RFC 6675 §4)") {
  LossRecovery r;
  r.dupthresh = 5;
  const auto rule = r.loss_rule(1448);
  CHECK(rule.dupthresh == 5);
  CHECK(rule.smss == 1448);
  CHECK(rule.threshold() == 4u * 1448u);
}

TEST_CASE("tcp_timers: the earliest armed deadline, and none once all are cancelled") {
  TcpTimers t;
  CHECK_FALSE(t.earliest().has_value());
  const Instant t0 = Instant::from_millis(1000);
  t.keepalive = t0 + Duration::from_secs(7200);
  CHECK(t.earliest() == t.keepalive);
  t.rto = t0 + Duration::from_millis(200);
  t.loss_probe = t0 + Duration::from_millis(50);
  t.time_wait = t0 + Duration::from_secs(60);
  CHECK(t.earliest() == t0 + Duration::from_millis(50));
  t.loss_probe.reset();
  CHECK(t.earliest() == t0 + Duration::from_millis(200));
  t.cancel_all();
  CHECK_FALSE(t.earliest().has_value());
  CHECK_FALSE(t.keepalive.has_value());
}
