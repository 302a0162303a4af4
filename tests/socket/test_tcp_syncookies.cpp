// socket/tcp: SYN cookies (RFC 4987 §3.6) in virtual time. A listener whose SYN queue is full
// answers with a SYN-ACK whose ISN is a cookie and keeps no state; the ACK that brings the cookie
// back makes the connection. Each test names the rule it checks.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "support/tcp_fixtures.hpp"

using namespace test::tcp;
using stack::to_bytes;
using stack::socket::TcpDrop;

namespace {

constexpr std::uint16_t kBacklog = 2;

Repr syn_from(std::uint16_t port, SeqNum isn) {
  Repr syn;
  syn.src_port = port;
  syn.dst_port = kListenPort;
  syn.seq = isn;
  syn.flags.syn = true;
  syn.window_raw = 8192;
  syn.mss = 1460;
  return syn;
}

// Fills the SYN queue with `kBacklog` half-open connections from ports 50000.. that never finish.
void fill_syn_queue(Harness& h) {
  for (std::uint16_t i = 0; i < kBacklog; ++i) h.deliver(syn_from(static_cast<std::uint16_t>(50000 + i), SeqNum{1}));
  REQUIRE(h.collect().size() == kBacklog);
  REQUIRE(h.layer.socket_count() == kBacklog);
}

// The ACK completing the handshake of `synack` (our cookie SYN-ACK to `syn`).
Repr ack_for(const Repr& syn, const Sent& synack) {
  Repr ack;
  ack.src_port = syn.src_port;
  ack.dst_port = kListenPort;
  ack.seq = syn.seq + 1;
  ack.ack = synack.repr.seq + 1;
  ack.window_raw = 1000;
  if (syn.timestamps && synack.repr.timestamps) ack.timestamps = std::pair{syn.timestamps->first + 5, synack.repr.timestamps->first};
  return ack;
}

}  // namespace

TEST_SUITE("socket/tcp syn cookies") {
  TEST_CASE("SYN flood: the queue full, 500 more SYNs cost no state, and a legitimate client still connects (RFC 4987 §3.6)") {
    Harness h;
    auto lid = h.layer.listen(stack::wire::Ipv4Address::any(), kListenPort, kBacklog);
    REQUIRE(lid.ok());
    fill_syn_queue(h);
    for (std::uint16_t i = 0; i < 500; ++i) h.deliver(syn_from(static_cast<std::uint16_t>(1024 + i), SeqNum{i * 7919u}));
    (void)h.collect();
    CHECK(h.layer.socket_count() == kBacklog);  // nothing kept for the flood
    // (The stateless queue is drained per dispatch and bounded like RSTs: some are dropped.)
    CHECK(h.layer.counters().syncookies_sent + h.layer.counters().drops[static_cast<std::size_t>(TcpDrop::RstQueueFull)] == 500);
    // A real client during the flood: its SYN gets a cookie; its ACK (with data) makes the connection.
    const Repr syn = syn_from(kRemotePort, kRemoteSeq);
    h.deliver(syn);
    const Sent synack = h.expect_one();
    CHECK(synack.repr.flags.syn);
    CHECK(synack.repr.ack == kRemoteSeq + 1);
    CHECK(synack.repr.mss == 1460);
    CHECK(h.layer.socket_count() == kBacklog);
    h.at_ms(30);
    h.deliver(ack_for(syn, synack), to_bytes("GET / HTTP/1.1\r\n\r\n"));
    CHECK(h.layer.counters().syncookies_validated == 1);
    const auto id = h.layer.accept(*lid);
    REQUIRE(id.has_value());
    CHECK(h.layer.state(*id) == TcpState::Established);
    CHECK(h.layer.tcb(*id)->snd_mss() == 1460);
    CHECK(h.layer.tcb(*id)->iss() == synack.repr.seq);
    Bytes buf(100);
    CHECK(*h.layer.recv(*id, buf) == 18);  // the data on the ACK was taken
    // And the connection works both ways.
    REQUIRE(*h.layer.send(*id, to_bytes("HTTP/1.1 200 OK\r\n\r\n")) == 19);
    const auto out = h.collect();
    REQUIRE_FALSE(out.empty());
    CHECK(out.back().repr.seq == synack.repr.seq + 1);
  }

  TEST_CASE("SYN cookies with timestamps carry the peer's window scale and SACK-permitted in TSval's low bits (as Linux does)") {
    auto c = plain_config();
    c.timestamps = true;
    c.sack = true;
    c.window_scaling = true;
    c.recv_buffer = 256 * 1024;
    Harness h(c);
    auto lid = h.layer.listen(stack::wire::Ipv4Address::any(), kListenPort, kBacklog);
    fill_syn_queue(h);
    Repr syn = syn_from(kRemotePort, kRemoteSeq);
    syn.window_scale = 7;
    syn.sack_permitted = true;
    syn.timestamps = std::pair{12345u, 0u};
    h.deliver(syn);
    const Sent synack = h.expect_one();
    REQUIRE(synack.repr.timestamps);
    CHECK((synack.repr.timestamps->first & 0x3f) == (7u | 0x10u));
    CHECK(synack.repr.sack_permitted);
    REQUIRE(synack.repr.window_scale);  // our own scale, the same a stateful SYN-ACK offers
    h.deliver(ack_for(syn, synack));
    const auto id = h.layer.accept(*lid);
    REQUIRE(id.has_value());
    const auto* s = h.layer.tcb(*id);
    CHECK(s->snd_wscale() == 7);
    CHECK(s->rcv_wscale() == *synack.repr.window_scale);
    CHECK(s->sack_ok());
    CHECK(s->ts_ok());
    CHECK(s->snd_wnd() == 1000u << 7);
  }

  TEST_CASE("SYN cookies without timestamps offer no window scale or SACK (nothing could bring them back); MSS from the table") {
    auto c = plain_config();
    c.sack = true;
    c.window_scaling = true;
    Harness h(c);
    auto lid = h.layer.listen(stack::wire::Ipv4Address::any(), kListenPort, kBacklog);
    fill_syn_queue(h);
    Repr syn = syn_from(kRemotePort, kRemoteSeq);
    syn.window_scale = 7;
    syn.sack_permitted = true;
    syn.mss = 1380;  // not in the table: the largest entry below it
    h.deliver(syn);
    const Sent synack = h.expect_one();
    CHECK_FALSE(synack.repr.window_scale.has_value());
    CHECK_FALSE(synack.repr.sack_permitted);
    h.deliver(ack_for(syn, synack));
    const auto id = h.layer.accept(*lid);
    REQUIRE(id.has_value());
    CHECK(h.layer.tcb(*id)->snd_mss() == 1360);
    CHECK(h.layer.tcb(*id)->snd_wscale() == 0);
    CHECK_FALSE(h.layer.tcb(*id)->sack_ok());
  }

  TEST_CASE("A forged or stale cookie is refused with RST: wrong ACK, wrong peer ISN, another 4-tuple, older than two minutes") {
    Harness h;
    auto lid = h.layer.listen(stack::wire::Ipv4Address::any(), kListenPort, kBacklog);
    fill_syn_queue(h);
    const Repr syn = syn_from(kRemotePort, kRemoteSeq);
    h.deliver(syn);
    const Sent synack = h.expect_one();
    std::vector<Repr> forged;
    Repr a = ack_for(syn, synack);
    a.ack = *a.ack + 1;
    forged.push_back(a);
    a = ack_for(syn, synack);
    a.seq = a.seq + 1000;  // not the ISN the cookie was made for
    forged.push_back(a);
    a = ack_for(syn, synack);
    a.src_port = kRemotePort + 1;
    forged.push_back(a);
    for (const auto& f : forged) {
      h.deliver(f);
      const Sent rst = h.expect_one();
      CHECK(rst.repr.flags.rst);
    }
    CHECK(h.layer.counters().syncookies_failed == 3);
    // The genuine one, but after two 64-second periods have passed. (The two half-open
    // connections retransmit their SYN-ACKs meanwhile; only the RST is about this ACK.)
    h.at_ms(200 * 1000);
    (void)h.collect();
    h.deliver(ack_for(syn, synack));
    const auto out = h.collect();
    REQUIRE(out.size() == 1);
    CHECK(out[0].repr.flags.rst);
    CHECK(h.layer.counters().syncookies_failed == 4);
    CHECK_FALSE(h.layer.accept(*lid).has_value());
    CHECK(h.layer.counters().syncookies_validated == 0);
  }

  TEST_CASE("A duplicate SYN after the cookie handshake: the ACK that carries the cookie replaces the half-open connection, no RST") {
    Harness h;
    auto lid = h.layer.listen(stack::wire::Ipv4Address::any(), kListenPort, kBacklog);
    fill_syn_queue(h);
    const Repr syn = syn_from(kRemotePort, kRemoteSeq);
    h.deliver(syn);
    const Sent cookie_synack = h.expect_one();  // the client is ESTABLISHED with the cookie's ISS
    // One half-open connection goes (its peer resets it: RFC 9293 §3.10.7.4 SYN-RECEIVED, a RST
    // in the window for a passive open), so the SYN queue has room again.
    Repr rst;
    rst.src_port = 50000;
    rst.dst_port = kListenPort;
    rst.seq = SeqNum{2};
    rst.flags.rst = true;
    h.deliver(rst);
    REQUIRE(h.layer.socket_count() == kBacklog - 1);
    // The network delivers an old duplicate of the client's SYN: a stateful half-open
    // connection for the same 4-tuple, with an ISS of its own.
    h.at_ms(10);
    h.deliver(syn);
    const Sent synack = h.expect_one();
    REQUIRE(synack.repr.flags.syn);
    REQUIRE(synack.repr.seq != cookie_synack.repr.seq);
    // The client's data acknowledges the cookie. RFC 9293's answer to an unacceptable ACK in
    // SYN-RECEIVED, <SEQ=SEG.ACK><CTL=RST>, would land in the client's window and reset it.
    h.at_ms(20);
    h.deliver(ack_for(syn, cookie_synack), to_bytes("GET / HTTP/1.1\r\n\r\n"));
    for (const Sent& out : h.collect()) CHECK_FALSE(out.repr.flags.rst);
    CHECK(h.layer.counters().syncookies_superseded == 1);
    CHECK(h.layer.counters().syncookies_validated == 1);
    const auto id = h.layer.accept(*lid);
    REQUIRE(id.has_value());
    CHECK(h.layer.state(*id) == TcpState::Established);
    CHECK(h.layer.tcb(*id)->iss() == cookie_synack.repr.seq);
    Bytes buf(100);
    CHECK(*h.layer.recv(*id, buf) == 18);
    CHECK(h.layer.socket_count() == kBacklog);  // the other half-open one and this connection
    // An ACK that fits neither (no cookie, not the ISS) still gets the RFC's RST.
    h.at_ms(30);
    h.deliver(syn_from(kRemotePort + 1, kRemoteSeq));
    (void)h.expect_one();
    Repr bogus = ack_for(syn_from(kRemotePort + 1, kRemoteSeq), cookie_synack);
    h.deliver(bogus);
    const Sent answer = h.expect_one();
    CHECK(answer.repr.flags.rst);
    CHECK(h.layer.counters().syncookies_superseded == 1);
  }

  TEST_CASE("A duplicate SYN after the cookie handshake, and the client's first segment late: its second segment still proves the cookie") {
    // The same race as above, with the network reordering the client's data: the first segment
    // to arrive is the second one sent (SEG.SEQ = ISN + 17), so SEG.SEQ - 1 is not the client's
    // ISN. The half-open connection knows that ISN (it was made from the same SYN).
    Harness h;
    auto lid = h.layer.listen(stack::wire::Ipv4Address::any(), kListenPort, kBacklog);
    fill_syn_queue(h);
    const Repr syn = syn_from(kRemotePort, kRemoteSeq);
    h.deliver(syn);
    const Sent cookie_synack = h.expect_one();
    Repr rst;
    rst.src_port = 50000;
    rst.dst_port = kListenPort;
    rst.seq = SeqNum{2};
    rst.flags.rst = true;
    h.deliver(rst);
    h.at_ms(10);
    h.deliver(syn);  // the old duplicate: a half-open connection with an ISS of its own
    REQUIRE(h.expect_one().repr.flags.syn);
    h.at_ms(20);
    const Repr first = ack_for(syn, cookie_synack);
    Repr second = first;
    second.seq = first.seq + 16;
    h.deliver(second, to_bytes("Host: example\r\n\r\n"));
    for (const Sent& out : h.collect()) CHECK_FALSE(out.repr.flags.rst);
    CHECK(h.layer.counters().syncookies_superseded == 1);
    CHECK(h.layer.counters().syncookies_validated == 1);
    CHECK(h.layer.counters().syncookies_failed == 0);
    const auto id = h.layer.accept(*lid);
    REQUIRE(id.has_value());
    CHECK(h.layer.state(*id) == TcpState::Established);
    CHECK(h.layer.tcb(*id)->iss() == cookie_synack.repr.seq);
    CHECK(h.layer.tcb(*id)->irs() == kRemoteSeq);
    Bytes buf(100);
    CHECK_FALSE(h.layer.recv(*id, buf).ok());  // held out of order: nothing readable yet
    h.at_ms(30);
    h.deliver(first, to_bytes("GET / HTTP/1.1\r\n"));
    (void)h.collect();
    auto r = h.layer.recv(*id, buf);
    REQUIRE(r.ok());
    CHECK(*r == 16 + 17);
    CHECK(std::string(reinterpret_cast<const char*>(buf.data()), *r) == "GET / HTTP/1.1\r\nHost: example\r\n\r\n");
  }

  TEST_CASE("An application that does not accept: the accept queue full drops SYNs, counted on their own (no cookies then)") {
    Harness h;
    auto lid = h.layer.listen(stack::wire::Ipv4Address::any(), kListenPort, 1);
    REQUIRE(lid.ok());
    const Repr syn = syn_from(kRemotePort, kRemoteSeq);
    h.deliver(syn);
    const Sent synack = h.expect_one();
    Repr ack;
    ack.src_port = kRemotePort;
    ack.dst_port = kListenPort;
    ack.seq = kRemoteSeq + 1;
    ack.ack = synack.repr.seq + 1;
    ack.window_raw = 8192;
    h.deliver(ack);  // established, waiting in the accept queue
    h.deliver(syn_from(kRemotePort + 1, kRemoteSeq));
    h.expect_silence();
    CHECK(h.layer.counters().drops[static_cast<std::size_t>(TcpDrop::AcceptQueueFull)] == 1);
    CHECK(h.layer.counters().syncookies_sent == 0);
  }
}
