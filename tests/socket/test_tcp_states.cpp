// socket/tcp: the RFC 9293 state machine in virtual time, one test per behaviour.
#include <doctest/doctest.h>

#include "support/tcp_fixtures.hpp"

using namespace test::tcp;
using stack::to_bytes;
using stack::socket::TcpDrop;
using stack::socket::TcpError;

TEST_SUITE("socket/tcp states") {
  // ---- CLOSED (RFC 9293 §3.10.7.1) ----
  TEST_CASE("CLOSED: SYN to a closed port gets <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> (RFC 9293 §3.10.7.1)") {
    Harness h;
    Repr syn;
    syn.src_port = kRemotePort;
    syn.dst_port = 81;
    syn.seq = kRemoteSeq;
    syn.flags.syn = true;
    h.deliver(syn);
    const Sent rst = h.expect_one();
    CHECK(rst.describe() == "Flags [R.], seq 0, ack 10001, win 0, length 0");
    CHECK(rst.dst == kRemote);
  }

  TEST_CASE("CLOSED: ACK gets <SEQ=SEG.ACK><CTL=RST>, RST gets nothing (RFC 9293 §3.10.7.1)") {
    Harness h;
    Repr ack;
    ack.src_port = kRemotePort;
    ack.dst_port = 81;
    ack.seq = kRemoteSeq;
    ack.ack = SeqNum{777};
    h.deliver(ack);
    CHECK(h.expect_one().describe() == "Flags [R], seq 777, win 0, length 0");
    ack.flags.rst = true;
    h.deliver(ack);
    h.expect_silence();
  }

  // ---- SYN-SENT (RFC 9293 §3.10.7.3) ----
  TEST_CASE("SYN-SENT: connect sends a SYN advertising MSS = MTU - 40 (RFC 9293 §3.7.1)") {
    Harness h;
    auto id = h.layer.connect(kLocal, kRemote, 80, h.now);
    REQUIRE(id.ok());
    CHECK(h.layer.state(*id) == TcpState::SynSent);
    const Sent syn = h.expect_one();
    CHECK(syn.repr.flags.syn);
    CHECK_FALSE(syn.repr.ack);
    CHECK(syn.repr.mss == 1460);
    CHECK(syn.repr.dst_port == 80);
    CHECK(syn.repr.src_port >= 32768);
  }

  TEST_CASE("SYN-SENT: SYN retransmitted at 1 s, 3 s, 7 s, 15 s, then timed out (RFC 6298 §5.5)") {
    auto c = plain_config();
    c.max_syn_retries = 3;
    Harness h(c);
    auto id = h.layer.connect(kLocal, kRemote, 80, h.now);
    const SeqNum iss = h.expect_one().repr.seq;
    h.at_ms(999);
    h.expect_silence();
    h.at_ms(1000);
    CHECK(h.expect_one().repr.seq == iss);
    CHECK(h.layer.poll_at() == Instant::from_millis(3000));
    h.at_ms(3000);
    CHECK(h.expect_one().repr.flags.syn);
    h.at_ms(7000);
    CHECK(h.expect_one().repr.flags.syn);
    h.at_ms(15000);
    h.expect_silence();
    CHECK(h.layer.state(*id) == TcpState::Closed);
    CHECK(h.layer.error(*id) == TcpError::TimedOut);
  }

  TEST_CASE("SYN-SENT -> ESTABLISHED on an acceptable SYN-ACK (RFC 9293 §3.10.7.3)") {
    Harness h;
    const SocketId id = establish_active(h);
    const auto* s = h.layer.tcb(id);
    CHECK(s->snd_una() == s->iss() + 1);
    CHECK(s->rcv_nxt() == kRemoteSeq + 1);
    CHECK(s->snd_mss() == 1460);
    CHECK(h.layer.writable(id));
  }

  TEST_CASE("SYN-SENT: RST with a bad ACK is ignored (RFC 9293 §3.10.7.3)") {
    Harness h;
    auto id = h.layer.connect(kLocal, kRemote, 80, h.now);
    const Sent syn = h.expect_one();
    Repr rst = h.from_peer(*id);
    rst.flags.rst = true;
    rst.ack = syn.repr.seq + 5;
    h.deliver(rst);
    h.expect_silence();
    CHECK(h.layer.state(*id) == TcpState::SynSent);
  }

  TEST_CASE("SYN-SENT: RST with an acceptable ACK means connection refused (RFC 9293 §3.10.7.3)") {
    Harness h;
    auto id = h.layer.connect(kLocal, kRemote, 80, h.now);
    const Sent syn = h.expect_one();
    Repr rst = h.from_peer(*id);
    rst.flags.rst = true;
    rst.ack = syn.repr.seq + 1;
    h.deliver(rst);
    CHECK(h.layer.state(*id) == TcpState::Closed);
    CHECK(h.layer.error(*id) == TcpError::Refused);
  }

  TEST_CASE("SYN-SENT: a SYN-ACK acknowledging something else gets <SEQ=SEG.ACK><CTL=RST> (RFC 9293 §3.10.7.3)") {
    Harness h;
    auto id = h.layer.connect(kLocal, kRemote, 80, h.now);
    const Sent syn = h.expect_one();
    Repr synack = h.from_peer(*id);
    synack.flags.syn = true;
    synack.seq = kRemoteSeq;
    synack.ack = syn.repr.seq + 100;
    h.deliver(synack);
    const Sent rst = h.expect_one();
    CHECK(rst.repr.flags.rst);
    CHECK(rst.repr.seq == syn.repr.seq + 100);
    CHECK(h.layer.state(*id) == TcpState::SynSent);
  }

  TEST_CASE("Simultaneous open: SYN-SENT -> SYN-RECEIVED -> ESTABLISHED (RFC 9293 §3.5 Figure 7)") {
    Harness h;
    auto id = h.layer.connect(kLocal, kRemote, 80, h.now);
    const Sent syn = h.expect_one();
    Repr peer_syn = h.from_peer(*id);
    peer_syn.flags.syn = true;
    peer_syn.seq = kRemoteSeq;
    h.deliver(peer_syn);
    CHECK(h.layer.state(*id) == TcpState::SynReceived);
    const Sent synack = h.expect_one();
    CHECK(synack.repr.flags.syn);
    CHECK(synack.repr.seq == syn.repr.seq);
    CHECK(synack.repr.ack == kRemoteSeq + 1);
    Repr ack = h.from_peer(*id);
    ack.seq = kRemoteSeq + 1;
    ack.ack = syn.repr.seq + 1;
    h.deliver(ack);
    CHECK(h.layer.state(*id) == TcpState::Established);
  }

  // ---- LISTEN and SYN-RECEIVED (RFC 9293 §3.10.7.2, §3.10.7.4) ----
  TEST_CASE("LISTEN: SYN -> SYN-RECEIVED -> ESTABLISHED, then accept() (RFC 9293 §3.10.7.2)") {
    Harness h;
    SocketId lid = 0;
    const SocketId id = establish_passive(h, &lid);
    CHECK(h.layer.state(lid) == TcpState::Listen);
    CHECK(h.layer.state(id) == TcpState::Established);
    CHECK_FALSE(h.layer.accept(lid).has_value());
  }

  TEST_CASE("LISTEN: RST is ignored, ACK is answered with <SEQ=SEG.ACK><CTL=RST> (RFC 9293 §3.10.7.2)") {
    Harness h;
    auto lid = h.layer.listen(Ipv4Address::any(), kListenPort, 4);
    Repr r;
    r.src_port = kRemotePort;
    r.dst_port = kListenPort;
    r.seq = kRemoteSeq;
    r.flags.rst = true;
    h.deliver(r);
    h.expect_silence();
    r.flags.rst = false;
    r.ack = SeqNum{4242};
    h.deliver(r);
    CHECK(h.expect_one().describe() == "Flags [R], seq 4242, win 0, length 0");
    CHECK(h.layer.state(*lid) == TcpState::Listen);
  }

  TEST_CASE("LISTEN: the backlog bounds half-open connections; beyond it SYN cookies keep no state (docs/hostile-inputs.md #57)") {
    for (const bool cookies : {true, false}) {
      CAPTURE(cookies);
      auto c = plain_config();
      c.syn_cookies = cookies;
      Harness h(c);
      auto lid = h.layer.listen(Ipv4Address::any(), kListenPort, 2);
      for (std::uint16_t i = 0; i < 5; ++i) {
        Repr syn;
        syn.src_port = static_cast<std::uint16_t>(40000 + i);
        syn.dst_port = kListenPort;
        syn.seq = kRemoteSeq;
        syn.flags.syn = true;
        h.deliver(syn);
      }
      // Two SYN-ACKs from half-open sockets; with cookies, three more that keep nothing.
      CHECK(h.collect().size() == (cookies ? 5u : 2u));
      CHECK(h.layer.socket_count() == 2);
      CHECK(h.layer.counters().syncookies_sent == (cookies ? 3u : 0u));
      CHECK(h.layer.counters().drops[static_cast<std::size_t>(stack::socket::TcpDrop::SynQueueFull)] ==
            (cookies ? 0u : 3u));
      (void)lid;
    }
  }

  TEST_CASE("SYN-RECEIVED: RST returns a passive connection to LISTEN (RFC 9293 §3.10.7.4)") {
    Harness h;
    auto lid = h.layer.listen(Ipv4Address::any(), kListenPort, 4);
    Repr syn;
    syn.src_port = kRemotePort;
    syn.dst_port = kListenPort;
    syn.seq = kRemoteSeq;
    syn.flags.syn = true;
    h.deliver(syn);
    (void)h.expect_one();
    CHECK(h.layer.socket_count() == 1);
    Repr rst = syn;
    rst.flags = {};
    rst.flags.rst = true;
    rst.seq = kRemoteSeq + 1;
    h.deliver(rst);
    CHECK(h.layer.socket_count() == 0);
    CHECK(h.layer.state(*lid) == TcpState::Listen);
  }

  TEST_CASE("SYN-RECEIVED: an ACK below SND.UNA or above SND.NXT is answered with <SEQ=SEG.ACK><CTL=RST> (RFC 9293 §3.10.7.4)") {
    for (const std::int64_t offset : {-1000, 0, 2, 70000}) {  // relative to the SYN-ACK's ISS
      CAPTURE(offset);
      Harness h;
      (void)h.layer.listen(Ipv4Address::any(), kListenPort, 4);
      Repr syn;
      syn.src_port = kRemotePort;
      syn.dst_port = kListenPort;
      syn.seq = kRemoteSeq;
      syn.flags.syn = true;
      syn.window_raw = 8192;
      h.deliver(syn);
      const Sent synack = h.expect_one();
      Repr ack = syn;
      ack.flags = {};
      ack.seq = kRemoteSeq + 1;
      ack.ack = SeqNum{static_cast<std::uint32_t>(synack.repr.seq.raw + offset)};
      h.deliver(ack);
      const Sent rst = h.expect_one();
      CHECK(rst.repr.flags.rst);
      CHECK_FALSE(rst.repr.ack.has_value());
      CHECK(rst.repr.seq == *ack.ack);
      CHECK(h.layer.counters().drops[static_cast<std::size_t>(stack::socket::TcpDrop::SynReceivedBadAck)] == 1);
      CHECK(h.layer.counters().challenge_acks == 0);
    }
  }

  TEST_CASE("SYN-RECEIVED: a retransmitted SYN gets the SYN-ACK again") {
    Harness h;
    (void)h.layer.listen(Ipv4Address::any(), kListenPort, 4);
    Repr syn;
    syn.src_port = kRemotePort;
    syn.dst_port = kListenPort;
    syn.seq = kRemoteSeq;
    syn.flags.syn = true;
    h.deliver(syn);
    const Sent first = h.expect_one();
    h.at_ms(500);
    h.deliver(syn);
    const Sent again = h.expect_one();
    CHECK(again.repr.seq == first.repr.seq);
    CHECK(again.repr.flags.syn);
  }

  // ---- data ----
  TEST_CASE("ESTABLISHED: data is delivered and ACKed after the delayed-ACK timer (RFC 1122 §4.2.3.2)") {
    Harness h;
    const SocketId id = establish_active(h);
    const auto* s = h.layer.tcb(id);
    Repr d = h.from_peer(id);
    d.seq = kRemoteSeq + 1;
    d.ack = s->snd_nxt();
    h.deliver(d, to_bytes("hello"));
    h.expect_silence();
    Bytes buf(16);
    auto n = h.layer.recv(id, buf);
    REQUIRE(n.ok());
    CHECK(text(Bytes(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*n))) == "hello");
    h.at_ms(199);
    h.expect_silence();
    h.at_ms(200);
    CHECK(h.expect_one().repr.ack == kRemoteSeq + 6);
  }

  TEST_CASE("ESTABLISHED: quick-ACK — the first data segments are ACKed at once, then the ACK is delayed (RFC 5681 §4.2 floor; Linux quickack)") {
    auto c = plain_config();
    c.quick_acks = 3;
    Harness h(c);
    const SocketId id = establish_active(h);
    Repr d = h.from_peer(id);
    d.ack = h.layer.tcb(id)->snd_nxt();
    for (std::uint32_t i = 0; i < 3; ++i) {
      d.seq = kRemoteSeq + 1 + i * 10;
      h.deliver(d, Bytes(10, std::byte{'q'}));
      CHECK(h.expect_one().repr.ack == kRemoteSeq + 11 + i * 10);  // at once
    }
    d.seq = kRemoteSeq + 31;
    h.deliver(d, Bytes(10, std::byte{'q'}));
    h.expect_silence();  // the fourth waits for the delayed-ACK timer
    h.at_ms(200);
    CHECK(h.expect_one().repr.ack == kRemoteSeq + 41);
  }

  TEST_CASE("ESTABLISHED: data received twice (our ACK was lost) puts the next segments back in quick-ACK, at most half the window's worth (RFC 5681 §4.2; Linux DelayedACKLost)") {
    auto c = plain_config();
    c.quick_acks = 3;
    Harness h(c);
    const SocketId id = establish_active(h);
    // 8 KiB of window and 1460-byte segments: half the window is 2 segments, fewer than quick_acks.
    REQUIRE(h.layer.tcb(id)->rcv_wnd() / (2 * 1460) == 2);
    Repr d = h.from_peer(id);
    d.ack = h.layer.tcb(id)->snd_nxt();
    auto send = [&](std::uint32_t i) {  // the i-th 10-byte segment
      d.seq = kRemoteSeq + 1 + i * 10;
      h.deliver(d, Bytes(10, std::byte{'q'}));
    };
    for (std::uint32_t i = 0; i < 3; ++i) {  // the quick-ACKs of the connection's start
      send(i);
      CHECK(h.expect_one().repr.ack == kRemoteSeq + 11 + i * 10);
    }
    send(3);
    h.expect_silence();  // delayed
    h.at_ms(200);
    CHECK(h.expect_one().repr.ack == kRemoteSeq + 41);
    // The peer sends segment 0 again: our ACKs did not reach it. The duplicate is answered at
    // once (RFC 9293 §3.10.7.4), and so are the next two segments, not only every second one.
    send(0);
    CHECK(h.expect_one().repr.ack == kRemoteSeq + 41);
    send(4);
    CHECK(h.expect_one().repr.ack == kRemoteSeq + 51);
    send(5);
    CHECK(h.expect_one().repr.ack == kRemoteSeq + 61);
    send(6);
    h.expect_silence();  // half the window's worth done: delayed again
    h.at_ms(400);
    CHECK(h.expect_one().repr.ack == kRemoteSeq + 71);
    // The same for out-of-order data that arrives twice: segment 8 (7 missing), then 8 again.
    send(8);
    CHECK(h.expect_one().repr.ack == kRemoteSeq + 71);  // out of order: at once, as before
    send(8);
    CHECK(h.expect_one().repr.ack == kRemoteSeq + 71);
    send(7);
    CHECK(h.expect_one().repr.ack == kRemoteSeq + 91);  // fills the gap: at once, as before
    send(9);
    CHECK(h.expect_one().repr.ack == kRemoteSeq + 101);  // quick-ACK from the duplicate
  }

  TEST_CASE("ESTABLISHED: every second full-sized segment is ACKed at once (RFC 5681 §4.2)") {
    Harness h;
    const SocketId id = establish_active(h);
    const auto* s = h.layer.tcb(id);
    Bytes full(1460, std::byte{'x'});
    Repr d = h.from_peer(id);
    d.ack = s->snd_nxt();
    d.seq = kRemoteSeq + 1;
    h.deliver(d, full);
    h.expect_silence();
    d.seq = kRemoteSeq + 1461;
    h.deliver(d, full);
    CHECK(h.expect_one().repr.ack == kRemoteSeq + 2921);
  }

  TEST_CASE("ESTABLISHED: a super-frame of full-sized segments (receive offload) is ACKed at once, one of one segment is not") {
    Harness h;
    const SocketId id = establish_active(h);
    const auto* s = h.layer.tcb(id);
    const std::uint32_t full = s->snd_mss();
    Repr d = h.from_peer(id);
    d.ack = s->snd_nxt();
    d.seq = kRemoteSeq + 1;
    h.deliver(d, Bytes(full, std::byte{'x'}));  // one segment's worth: the ACK may wait
    h.expect_silence();
    h.at_ms(200);
    CHECK(h.expect_one().repr.ack == kRemoteSeq + 1 + full);
    d.seq = kRemoteSeq + 1 + full;
    h.deliver(d, Bytes(3 * full, std::byte{'y'}));  // three joined by the device
    CHECK(h.expect_one().repr.ack == kRemoteSeq + 1 + 4 * full);
  }

  TEST_CASE("ESTABLISHED: out-of-order data is held and delivered in order; duplicate ACK at once (RFC 5681 §4.2)") {
    Harness h;
    const SocketId id = establish_active(h);
    Repr d = h.from_peer(id);
    d.ack = h.layer.tcb(id)->snd_nxt();
    d.seq = kRemoteSeq + 4;
    h.deliver(d, to_bytes("def"));
    CHECK(h.expect_one().repr.ack == kRemoteSeq + 1);
    d.seq = kRemoteSeq + 1;
    h.deliver(d, to_bytes("abc"));
    CHECK(h.expect_one().repr.ack == kRemoteSeq + 7);
    Bytes buf(16);
    auto n = h.layer.recv(id, buf);
    CHECK(text(Bytes(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*n))) == "abcdef");
  }

  TEST_CASE("ESTABLISHED: send() data goes out and is retransmitted at 1 s then 3 s (RFC 6298 §5)") {
    Harness h;
    const SocketId id = establish_active(h);
    REQUIRE(*h.layer.send(id, to_bytes("abcdef")) == 6);
    const Sent d = h.expect_one();
    CHECK(stack::wire::tcp::describe_flags(d.repr) == "[P.]");
    CHECK(d.payload == to_bytes("abcdef"));
    h.at_ms(999);
    h.expect_silence();
    h.at_ms(1000);
    CHECK(h.expect_one().repr.seq == d.repr.seq);
    h.at_ms(2999);
    h.expect_silence();
    h.at_ms(3000);
    CHECK(h.expect_one().payload == to_bytes("abcdef"));
    CHECK(h.layer.counters().rto_expired == 2);
  }

  // ---- closing ----
  TEST_CASE("Active close: FIN-WAIT-1 -> FIN-WAIT-2 -> TIME-WAIT -> CLOSED after 2 MSL (RFC 9293 §3.6)") {
    Harness h;
    const SocketId id = establish_active(h);
    const auto* s = h.layer.tcb(id);
    h.layer.shutdown(id);
    CHECK(h.layer.state(id) == TcpState::FinWait1);
    const Sent fin = h.expect_one();
    CHECK(fin.repr.flags.fin);
    Repr ack = h.from_peer(id);
    ack.seq = kRemoteSeq + 1;
    ack.ack = fin.repr.seq + 1;
    h.deliver(ack);
    CHECK(h.layer.state(id) == TcpState::FinWait2);
    Repr peer_fin = ack;
    peer_fin.flags.fin = true;
    h.at_ms(10);
    h.deliver(peer_fin);
    CHECK(h.layer.state(id) == TcpState::TimeWait);
    CHECK(h.expect_one().repr.ack == kRemoteSeq + 2);
    CHECK(s->time_wait_at() == Instant::from_millis(60010));
    Bytes buf(4);
    CHECK(*h.layer.recv(id, buf) == 0);  // end of stream
    h.at_ms(60009);
    h.expect_silence();
    CHECK(h.layer.state(id) == TcpState::TimeWait);
    h.at_ms(60010);
    h.expect_silence();
    CHECK(h.layer.state(id) == TcpState::Closed);
  }

  TEST_CASE("FIN-WAIT-2 reached while the application holds the socket, then closed: the orphan's timeout starts at the close (found by fuzz_tcp_conn)") {
    Harness h;
    const SocketId id = establish_active(h);
    h.layer.shutdown(id);
    const Sent fin = h.expect_one();
    Repr ack = h.from_peer(id);
    ack.seq = kRemoteSeq + 1;
    ack.ack = fin.repr.seq + 1;
    h.deliver(ack);
    REQUIRE(h.layer.state(id) == TcpState::FinWait2);
    // Held: FIN-WAIT-2 may last as long as the application wants (RFC 9293 leaves it unbounded).
    h.at_ms(3600 * 1000);
    h.expect_silence();
    CHECK(h.layer.socket_count() == 1);
    // Closed now, and the peer never sends its FIN: freed after the FIN-WAIT-2 timeout.
    h.layer.close(id);
    h.at_ms(3600 * 1000 + 60000);
    h.expect_silence();
    CHECK(h.layer.socket_count() == 0);
  }

  TEST_CASE("Passive close: CLOSE-WAIT -> LAST-ACK -> CLOSED (RFC 9293 §3.6)") {
    Harness h;
    const SocketId id = establish_passive(h);
    Repr fin = h.from_peer(id);
    fin.seq = kRemoteSeq + 1;
    fin.ack = h.layer.tcb(id)->snd_nxt();
    fin.flags.fin = true;
    h.deliver(fin);
    CHECK(h.layer.state(id) == TcpState::CloseWait);
    (void)h.expect_one();
    h.layer.close(id);
    CHECK(h.layer.state(id) == TcpState::LastAck);
    const Sent our_fin = h.expect_one();
    CHECK(our_fin.repr.flags.fin);
    Repr ack = fin;
    ack.flags.fin = false;
    ack.seq = kRemoteSeq + 2;
    ack.ack = our_fin.repr.seq + 1;
    h.deliver(ack);
    CHECK_FALSE(h.layer.state(id).has_value());  // closed and released: the TCB is gone
  }

  TEST_CASE("Simultaneous close: FIN-WAIT-1 -> CLOSING -> TIME-WAIT (RFC 9293 §3.6 Figure 13)") {
    Harness h;
    const SocketId id = establish_active(h);
    h.layer.shutdown(id);
    const Sent fin = h.expect_one();
    Repr peer_fin = h.from_peer(id);
    peer_fin.seq = kRemoteSeq + 1;
    peer_fin.ack = fin.repr.seq;  // has not seen our FIN yet
    peer_fin.flags.fin = true;
    h.deliver(peer_fin);
    CHECK(h.layer.state(id) == TcpState::Closing);
    (void)h.collect();
    Repr ack = peer_fin;
    ack.flags.fin = false;
    ack.seq = kRemoteSeq + 2;
    ack.ack = fin.repr.seq + 1;
    h.deliver(ack);
    CHECK(h.layer.state(id) == TcpState::TimeWait);
  }

  TEST_CASE("TIME-WAIT: a retransmitted FIN is ACKed and restarts the 2 MSL timer (RFC 9293 §3.10.7.4)") {
    Harness h;
    const SocketId id = establish_active(h);
    h.layer.shutdown(id);
    const Sent fin = h.expect_one();
    Repr peer_fin = h.from_peer(id);
    peer_fin.seq = kRemoteSeq + 1;
    peer_fin.ack = fin.repr.seq + 1;
    peer_fin.flags.fin = true;
    h.deliver(peer_fin);
    REQUIRE(h.layer.state(id) == TcpState::TimeWait);
    (void)h.expect_one();
    h.at_ms(30000);
    h.deliver(peer_fin);
    CHECK(h.expect_one().repr.ack == kRemoteSeq + 2);
    CHECK(h.layer.tcb(id)->time_wait_at() == Instant::from_millis(90000));
  }

  // The server closes first (HTTP keep-alive timeout), so the 4-tuple sits in TIME-WAIT on our
  // side; the client then reuses its port. Returns the TIME-WAIT socket; `ts` turns timestamps on
  // with the client's TSval 1000 on every segment of the old incarnation.
  SocketId server_time_wait(Harness& h, SocketId& lid, bool ts) {
    auto l = h.layer.listen(Ipv4Address::any(), kListenPort, 4);
    REQUIRE(l.ok());
    lid = *l;
    Repr syn;
    syn.src_port = kRemotePort;
    syn.dst_port = kListenPort;
    syn.seq = kRemoteSeq;
    syn.flags.syn = true;
    syn.window_raw = 8192;
    syn.mss = 1460;
    if (ts) syn.timestamps = std::pair{1000u, 0u};
    h.deliver(syn);
    const Sent synack = h.expect_one();
    Repr ack = syn;
    ack.flags.syn = false;
    ack.mss.reset();
    ack.seq = kRemoteSeq + 1;
    ack.ack = synack.repr.seq + 1;
    if (ts) ack.timestamps = std::pair{1000u, synack.repr.timestamps->first};
    h.deliver(ack);
    const SocketId id = *h.layer.accept(lid);
    h.layer.close(id);  // we close first
    const Sent fin = h.expect_one();
    REQUIRE(fin.repr.flags.fin);
    Repr peer_fin = ack;
    peer_fin.ack = fin.repr.seq + 1;
    peer_fin.flags.fin = true;
    h.deliver(peer_fin);
    (void)h.collect();  // our ACK of the FIN; then the socket gives way to a TIME-WAIT record
    // The application let go of the socket: TIME-WAIT goes on as a record, the socket is freed.
    REQUIRE(h.layer.time_wait_count() == 1);
    CHECK_FALSE(h.layer.state(id).has_value());
    (void)h.collect();
    return id;
  }

  Repr new_syn(SeqNum seq, std::optional<std::uint32_t> tsval) {
    Repr syn;
    syn.src_port = kRemotePort;
    syn.dst_port = kListenPort;
    syn.seq = seq;
    syn.flags.syn = true;
    syn.window_raw = 8192;
    syn.mss = 1460;
    if (tsval) syn.timestamps = std::pair{*tsval, 0u};
    return syn;
  }

  TEST_CASE("TIME-WAIT: a SYN with a greater sequence number opens a new incarnation (RFC 9293 §3.10.7.4 MAY-2, RFC 6191 §2)") {
    Harness h;
    SocketId lid = 0;
    const SocketId old = server_time_wait(h, lid, false);
    h.at_ms(500);
    h.deliver(new_syn(kRemoteSeq + 100000, std::nullopt));
    const Sent synack = h.expect_one();
    CHECK(synack.repr.flags.syn);
    CHECK(synack.repr.ack == kRemoteSeq + 100001);
    CHECK(h.layer.time_wait_count() == 0);
    CHECK(h.layer.counters().time_wait_reused == 1);
    Repr ack = new_syn(kRemoteSeq + 100001, std::nullopt);
    ack.flags.syn = false;
    ack.mss.reset();
    ack.ack = synack.repr.seq + 1;
    h.deliver(ack);
    const auto fresh = h.layer.accept(lid);
    REQUIRE(fresh.has_value());
    CHECK(*fresh != old);
    CHECK(h.layer.state(*fresh) == TcpState::Established);
  }

  TEST_CASE("TIME-WAIT: an old SYN (sequence number not beyond RCV.NXT) is silently dropped (RFC 6191 §2)") {
    Harness h;
    SocketId lid = 0;
    (void)server_time_wait(h, lid, false);
    h.deliver(new_syn(kRemoteSeq, std::nullopt));
    h.expect_silence();
    CHECK(h.layer.time_wait_count() == 1);  // the record stays
    CHECK(h.layer.counters().drops[static_cast<std::size_t>(TcpDrop::TimeWaitOldSyn)] == 1);
    CHECK(h.layer.counters().time_wait_reused == 0);
  }

  TEST_CASE("TIME-WAIT: with timestamps, a greater TSval reopens even with a smaller sequence number; an older TSval does not (RFC 6191 §2)") {
    auto c = plain_config();
    c.timestamps = true;
    Harness h(c);
    SocketId lid = 0;
    (void)server_time_wait(h, lid, true);
    h.deliver(new_syn(kRemoteSeq + 100000, 999u));  // newer sequence, older timestamp
    h.expect_silence();
    CHECK(h.layer.time_wait_count() == 1);  // the record stays
    h.deliver(new_syn(SeqNum{5}, 1001u));  // older sequence, newer timestamp
    const Sent synack = h.expect_one();
    CHECK(synack.repr.flags.syn);
    CHECK(synack.repr.ack == SeqNum{6});
    CHECK(h.layer.counters().time_wait_reused == 1);
  }

  TEST_CASE("TIME-WAIT: a SYN with no listener on the port gets the challenge ACK (RFC 5961 §4)") {
    Harness h;
    const SocketId id = establish_active(h);
    h.layer.shutdown(id);
    const Sent fin = h.expect_one();
    Repr peer_fin = h.from_peer(id);
    peer_fin.seq = kRemoteSeq + 1;
    peer_fin.ack = fin.repr.seq + 1;
    peer_fin.flags.fin = true;
    h.deliver(peer_fin);
    (void)h.collect();
    Repr syn = h.from_peer(id);
    syn.ack.reset();
    syn.flags = {};
    syn.flags.syn = true;
    syn.seq = kRemoteSeq + 100000;
    h.deliver(syn);
    const Sent ack = h.expect_one();
    CHECK_FALSE(ack.repr.flags.syn);
    CHECK(ack.repr.ack == kRemoteSeq + 2);
    CHECK(h.layer.state(id) == TcpState::TimeWait);
  }

  TEST_CASE("TIME-WAIT: RST is ignored (RFC 1337 §3)") {
    Harness h;
    const SocketId id = establish_active(h);
    h.layer.shutdown(id);
    const Sent fin = h.expect_one();
    Repr peer_fin = h.from_peer(id);
    peer_fin.seq = kRemoteSeq + 1;
    peer_fin.ack = fin.repr.seq + 1;
    peer_fin.flags.fin = true;
    h.deliver(peer_fin);
    Repr rst = peer_fin;
    rst.flags = {};
    rst.flags.rst = true;
    rst.seq = kRemoteSeq + 2;
    h.deliver(rst);
    CHECK(h.layer.state(id) == TcpState::TimeWait);
  }

  TEST_CASE("ESTABLISHED: RST at RCV.NXT resets the connection (RFC 9293 §3.10.7.4 second)") {
    Harness h;
    const SocketId id = establish_active(h);
    Repr rst = h.from_peer(id);
    rst.flags.rst = true;
    rst.seq = kRemoteSeq + 1;
    h.deliver(rst);
    CHECK(h.layer.state(id) == TcpState::Closed);
    CHECK(h.layer.error(id) == TcpError::Reset);
    Bytes buf(4);
    CHECK(h.layer.recv(id, buf).error() == stack::socket::RecvError::ConnectionFailed);
  }

  TEST_CASE("abort() sends <SEQ=SND.NXT><CTL=RST> (RFC 9293 §3.10.5)") {
    Harness h;
    const SocketId id = establish_active(h);
    const SeqNum nxt = h.layer.tcb(id)->snd_nxt();
    h.layer.abort(id);
    const Sent rst = h.expect_one();
    CHECK(rst.repr.flags.rst);
    CHECK(rst.repr.seq == nxt);
    CHECK_FALSE(h.layer.state(id).has_value());
  }
}
