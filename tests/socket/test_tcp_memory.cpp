// socket/tcp memory: an idle connection holds its TCB and nothing more. The send ring is given
// back once everything is acknowledged, the receive ring once the application has read it all;
// both come back on the next byte, and the data still arrives byte-exact. Timers stay exact when
// most of a large table is idle (the layer visits only the sockets that have work).
#include <doctest/doctest.h>

#include <string>

#include "stack/util/ring_storage.hpp"
#include "support/tcp_data_fixtures.hpp"

using namespace test::tcp;

namespace {
Bytes as_bytes(const std::string& s) {
  Bytes b(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) b[i] = static_cast<std::byte>(s[i]);
  return b;
}
}  // namespace

TEST_SUITE("socket/tcp_memory") {
  TEST_CASE("an idle keep-alive connection holds no ring storage, and data flows byte-exact after each release") {
    Harness h(data_config());
    const SocketId id = open(h);
    const auto* s = h.layer.tcb(id);
    CHECK_FALSE(s->send_buffer_allocated());
    CHECK_FALSE(s->recv_buffer_allocated());
    const auto blocks_idle = stack::RingStorage::blocks_in_use();
    SeqNum peer_seq = kRemoteSeq + 1;
    for (int round = 0; round < 5; ++round) {
      CAPTURE(round);
      // A request from the peer: the receive ring is taken, holds it until it is read.
      const std::string request = "GET /" + std::to_string(round) + " HTTP/1.1\r\nHost: x\r\n\r\n";
      Repr seg = h.from_peer(id);
      seg.seq = peer_seq;
      seg.ack = s->snd_nxt();
      seg.window_raw = 65535;
      seg.flags.psh = true;
      h.deliver(seg, as_bytes(request));
      peer_seq = peer_seq + static_cast<std::uint32_t>(request.size());
      CHECK(s->recv_buffer_allocated());
      CHECK(stack::RingStorage::blocks_in_use() == blocks_idle + 1);
      Bytes in(4096);
      const auto got = h.layer.recv(id, in);
      REQUIRE(got.ok());
      CHECK(text(Bytes(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(*got))) == request);
      CHECK_FALSE(s->recv_buffer_allocated());  // read to the end: given back

      // The answer: the send ring is taken, and kept until the peer acknowledges every byte.
      std::string answer = "HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n";
      for (int i = 0; i < 3000; ++i) answer += static_cast<char>('a' + (i + round) % 26);
      REQUIRE(*h.layer.send(id, as_bytes(answer)) == answer.size());
      CHECK(s->send_buffer_allocated());
      std::string on_wire;
      SeqNum end = s->snd_una();
      for (const auto& out : h.collect()) {
        on_wire += text(out.payload);
        end = end_of(out);
      }
      CHECK(on_wire == answer);
      Repr partial = peer_ack(h, id, s->snd_una() + 1000);
      partial.seq = peer_seq;
      h.deliver(partial);
      CHECK(s->send_buffer_allocated());  // 1000 bytes acknowledged, the rest still held
      Repr all = peer_ack(h, id, end);
      all.seq = peer_seq;
      h.deliver(all);
      CHECK_FALSE(s->send_buffer_allocated());
      (void)h.collect();
      CHECK(stack::RingStorage::blocks_in_use() == blocks_idle);
    }
  }

  TEST_CASE("with thousands of idle connections, the one with a timer still wakes the layer on time") {
    auto config = plain_config();
    config.delayed_ack = Duration::from_millis(100);
    Harness h(config);
    auto lid = h.layer.listen(Ipv4Address::any(), kListenPort, 4);
    REQUIRE(lid.ok());
    std::vector<SocketId> ids;
    for (std::uint16_t port = 20000; port < 23000; ++port) ids.push_back(handshake_with_listener(h, *lid, port));
    CHECK(h.layer.socket_count() == 3000);
    CHECK_FALSE(h.layer.poll_at().has_value());  // all idle: nothing to wake for
    // One segment of data on one connection in the middle: its delayed ACK is the only deadline.
    h.at_ms(5000);
    const SocketId busy = ids[1234];
    Repr seg = h.from_peer(busy);
    seg.seq = h.layer.tcb(busy)->rcv_nxt();
    seg.ack = h.layer.tcb(busy)->snd_nxt();
    h.deliver(seg, as_bytes("x"));
    h.expect_silence();
    REQUIRE(h.layer.poll_at().has_value());
    CHECK(*h.layer.poll_at() == Instant::from_millis(5100));
    h.at_ms(5100);
    const Sent ack = h.expect_one();
    CHECK(ack.repr.dst_port == h.layer.tcb(busy)->remote().port);
    CHECK(ack.repr.ack == seg.seq + 1);
    CHECK_FALSE(h.layer.poll_at().has_value());
    // Closing one of the idle ones: its FIN goes out at once, then its retransmission timer.
    h.layer.close(ids[7]);
    REQUIRE(h.layer.poll_at().has_value());
    CHECK(*h.layer.poll_at() <= h.now);
    const Sent fin = h.expect_one();
    CHECK(fin.repr.flags.fin);
    CHECK(fin.repr.dst_port == 20007);
    REQUIRE(h.layer.poll_at().has_value());
    CHECK(*h.layer.poll_at() == h.now + Duration::from_secs(1));
  }
}
