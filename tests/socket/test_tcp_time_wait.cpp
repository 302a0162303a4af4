// socket/tcp: TIME-WAIT as a small record once the application has let go of the connection
// (RFC 9293 §3.10.7.4 TIME-WAIT; RFC 1337; RFC 6191). A server that closes first must be limited
// by the TIME-WAIT table, not by its socket table, and a full table drops its oldest record,
// never a new connection.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "support/tcp_fixtures.hpp"

using namespace test::tcp;
using stack::socket::TcpDrop;

namespace {
Repr from_client(std::uint16_t port) {
  Repr r;
  r.src_port = port;
  r.dst_port = kListenPort;
  r.window_raw = 8192;
  return r;
}

// One connection from the client port `port` to our listener `lid`: handshake, accept, we close
// first, the peer ACKs our FIN with its own. Returns SND.NXT after our FIN.
SeqNum server_closes_first(Harness& h, SocketId lid, std::uint16_t port) {
  const SocketId id = handshake_with_listener(h, lid, port);
  h.layer.close(id);
  const Sent fin = h.expect_one();
  REQUIRE(fin.repr.flags.fin);
  Repr peer_fin = from_client(port);
  peer_fin.seq = kRemoteSeq + 1;
  peer_fin.ack = fin.repr.seq + 1;
  peer_fin.flags.fin = true;
  h.deliver(peer_fin);
  const Sent last = h.expect_one();  // our ACK of the peer's FIN
  CHECK(last.repr.ack == kRemoteSeq + 2);
  return fin.repr.seq + 1;
}

std::uint64_t drops(const Harness& h, TcpDrop d) { return h.layer.counters().drops[static_cast<std::size_t>(d)]; }
}  // namespace

TEST_SUITE("socket/tcp TIME-WAIT records") {
  TEST_CASE("a released connection in TIME-WAIT is a record: FIN re-ACKed, RST ignored, expiry at 2 MSL") {
    Harness h;
    const auto lid = h.layer.listen(Ipv4Address::any(), kListenPort, 4);
    REQUIRE(lid.ok());
    const SeqNum snd_nxt = server_closes_first(h, *lid, 50000);
    CHECK(h.layer.socket_count() == 0);  // the socket and its buffers are gone
    CHECK(h.layer.time_wait_count() == 1);
    const auto rec = h.layer.time_wait_record({kLocal, kListenPort}, {kRemote, 50000});
    REQUIRE(rec.has_value());
    CHECK(rec->expires == Instant::from_millis(60000));
    CHECK(h.layer.poll_at() == Instant::from_millis(60000));

    // A retransmitted FIN: ACKed with the numbers the socket had, and the 2 MSL timer restarts.
    h.at_ms(20000);
    Repr fin = from_client(50000);
    fin.seq = kRemoteSeq + 1;
    fin.ack = snd_nxt;
    fin.flags.fin = true;
    h.deliver(fin);
    const Sent ack = h.expect_one();
    CHECK(ack.repr.seq == snd_nxt);
    CHECK(ack.repr.ack == kRemoteSeq + 2);
    CHECK_FALSE(ack.repr.flags.fin);
    CHECK(h.layer.time_wait_record({kLocal, kListenPort}, {kRemote, 50000})->expires == Instant::from_millis(80000));

    // A bare ACK: nothing to say. A RST: ignored (RFC 1337 §3).
    Repr bare = from_client(50000);
    bare.seq = kRemoteSeq + 2;
    bare.ack = snd_nxt;
    h.deliver(bare);
    h.expect_silence();
    Repr rst = from_client(50000);
    rst.seq = kRemoteSeq + 2;
    rst.flags.rst = true;
    h.deliver(rst);
    h.expect_silence();
    CHECK(drops(h, TcpDrop::TimeWaitRst) == 1);
    CHECK(h.layer.time_wait_count() == 1);

    // The first expiry (60 s) was superseded by the restart: the record lives to 80 s.
    h.at_ms(60000);
    h.expect_silence();
    CHECK(h.layer.time_wait_count() == 1);
    h.at_ms(80000);
    h.expect_silence();
    CHECK(h.layer.time_wait_count() == 0);
    CHECK(std::find(h.events.begin(), h.events.end(), "TCP #2: TIME-WAIT -> CLOSED") != h.events.end());
    CHECK_FALSE(h.layer.poll_at().has_value());
  }

  TEST_CASE("a server that closes first is not limited by its socket table") {
    auto config = plain_config();
    config.max_sockets = 8;  // far fewer than the connections below
    Harness h(config);
    const auto lid = h.layer.listen(Ipv4Address::any(), kListenPort, 4);
    REQUIRE(lid.ok());
    for (std::uint16_t i = 0; i < 1000; ++i) {
      h.at_ms(i);  // a thousand connections within one second, all closed by us first
      (void)server_closes_first(h, *lid, static_cast<std::uint16_t>(40000 + i));
    }
    CHECK(drops(h, TcpDrop::SocketTableFull) == 0);
    CHECK(h.layer.socket_count() == 0);
    CHECK(h.layer.time_wait_count() == 1000);
    h.at_ms(62000);
    (void)h.collect();
    CHECK(h.layer.time_wait_count() == 0);
  }

  TEST_CASE("a full TIME-WAIT table drops its oldest record, never a new connection") {
    auto config = plain_config();
    config.max_time_wait = 3;
    Harness h(config);
    const auto lid = h.layer.listen(Ipv4Address::any(), kListenPort, 4);
    REQUIRE(lid.ok());
    for (std::uint16_t i = 0; i < 5; ++i) {
      h.at_ms(100 * i);
      (void)server_closes_first(h, *lid, static_cast<std::uint16_t>(41000 + i));
    }
    CHECK(h.layer.time_wait_count() == 3);
    CHECK(h.layer.counters().time_wait_evicted == 2);
    CHECK_FALSE(h.layer.time_wait_record({kLocal, kListenPort}, {kRemote, 41000}).has_value());
    CHECK_FALSE(h.layer.time_wait_record({kLocal, kListenPort}, {kRemote, 41001}).has_value());
    CHECK(h.layer.time_wait_record({kLocal, kListenPort}, {kRemote, 41004}).has_value());
  }
}
