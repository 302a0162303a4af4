// sim/tcp_many: 100,000 connections between two TcpLayers in virtual time, each opened, used
// for one request and its answer (byte-exact), then left idle, all at once. Checks that every
// one comes up and stays up, that idle connections hold no ring storage, and that the layers do
// not walk their whole tables per segment (the run would take hours if they did: 100,000
// connections times the segments of 100,000 handshakes).
#include <doctest/doctest.h>

#include <chrono>
#include <map>
#include <string>

#include "stack/socket/tcp_layer.hpp"
#include "stack/util/ring_storage.hpp"

using namespace stack;
using namespace stack::socket;
using stack::wire::Ipv4Address;

namespace {

const Ipv4Address kServerIp = Ipv4Address::from_octets(10, 1, 0, 1);
Ipv4Address client_ip(std::size_t i) { return Ipv4Address::from_octets(10, 2, 0, static_cast<std::uint8_t>(1 + i)); }

// A lossless wire with a fixed latency.
class Wire {
 public:
  void send(Instant now, const TcpLayer::Outgoing& o) {
    Bytes bytes(o.repr.buffer_len());
    auto view = wire::tcp::ViewMut::unchecked(bytes);
    o.repr.emit(view, o.src, o.dst);
    queue_.emplace(now + Duration::from_millis(1), std::tuple{o.src, o.dst, std::move(bytes)});
    ++segments;
  }
  std::optional<Instant> next() const { return queue_.empty() ? std::nullopt : std::optional(queue_.begin()->first); }
  void deliver(Instant now, TcpLayer& client, TcpLayer& server) {
    while (!queue_.empty() && queue_.begin()->first <= now) {
      auto [src, dst, bytes] = std::move(queue_.begin()->second);
      queue_.erase(queue_.begin());
      (dst == kServerIp ? server : client).process(now, src, dst, bytes);
    }
  }
  std::size_t segments = 0;

 private:
  std::multimap<Instant, std::tuple<Ipv4Address, Ipv4Address, Bytes>> queue_;
};

std::string request_of(std::size_t i) { return "GET /" + std::to_string(i) + "\r\n"; }
std::string answer_of(std::size_t i) { return "200 " + std::to_string(i * 7919) + "\r\n"; }

std::size_t read_all(TcpLayer& layer, SocketId id, std::string& into) {
  std::array<std::byte, 256> buf;
  std::size_t total = 0;
  for (;;) {
    auto r = layer.recv(id, buf);
    if (!r.ok() || *r == 0) return total;
    into.append(reinterpret_cast<const char*>(buf.data()), *r);
    total += *r;
  }
}

}  // namespace

TEST_SUITE("sim/tcp_many") {
  TEST_CASE("100,000 connections: each one request and its answer, then all idle at once") {
    constexpr std::size_t kConns = 100000;
    constexpr std::size_t kBatch = 5000;  // opened together (a SYN burst the backlog takes)
    TcpLayer::Config c;
    c.secret_key[0] = 11;
    c.secret_key[1] = 12;
    c.max_sockets = kConns + 8;
    c.nodelay = true;
    TcpLayer client(c);
    c.secret_key[0] = 13;
    TcpLayer server(c);
    Wire wire;
    const auto blocks_before = RingStorage::blocks_in_use();
    auto lid = server.listen(kServerIp, 80, kBatch);
    REQUIRE(lid.ok());

    struct Conn {
      SocketId id;
      std::string got;
      bool sent = false;
    };
    std::vector<Conn> clients;
    std::map<SocketId, std::string> server_in;  // accepted, not yet answered: what it has received
    std::size_t accepted = 0;
    std::size_t answered = 0;
    Instant now;
    const auto wall0 = std::chrono::steady_clock::now();
    while (clients.size() < kConns || answered < kConns) {
      if (clients.size() < kConns && answered == clients.size()) {
        // The next batch, spread over client addresses (the ephemeral range is per 4-tuple).
        for (std::size_t k = 0; k < kBatch && clients.size() < kConns; ++k) {
          const std::size_t i = clients.size();
          auto id = client.connect(client_ip(i % 8), kServerIp, 80, now);
          REQUIRE(id.ok());
          clients.push_back(Conn{*id, {}, false});
        }
      }
      wire.deliver(now, client, server);
      while (auto sid = server.accept(*lid)) {
        server_in.emplace(*sid, std::string());
        ++accepted;
      }
      // The server answers each complete request line.
      for (auto it = server_in.begin(); it != server_in.end();) {
        auto& [sid, in] = *it;
        if (server.readable(sid)) read_all(server, sid, in);
        if (in.empty() || in.back() != '\n') {
          ++it;
          continue;
        }
        const std::size_t i = std::stoul(in.substr(5));
        REQUIRE(in == request_of(i));
        const std::string a = answer_of(i);
        REQUIRE(*server.send(sid, std::as_bytes(std::span(a))) == a.size());
        it = server_in.erase(it);
      }
      for (std::size_t i = answered; i < clients.size(); ++i) {
        Conn& cl = clients[i];
        if (!cl.sent && client.state(cl.id) == TcpState::Established) {
          const std::string q = request_of(i);
          REQUIRE(*client.send(cl.id, std::as_bytes(std::span(q))) == q.size());
          cl.sent = true;
        }
        if (cl.sent && client.readable(cl.id)) read_all(client, cl.id, cl.got);
      }
      while (answered < clients.size() && clients[answered].got.size() == answer_of(answered).size()) {
        REQUIRE(clients[answered].got == answer_of(answered));
        ++answered;
      }
      client.dispatch(now, [&](const TcpLayer::Outgoing& o) { wire.send(now, o); });
      server.dispatch(now, [&](const TcpLayer::Outgoing& o) { wire.send(now, o); });
      std::optional<Instant> next = wire.next();
      for (auto t : {client.poll_at(), server.poll_at()})
        if (t && (!next || *t < *next)) next = t;
      REQUIRE(next.has_value());
      now = std::max(now, *next);
      REQUIRE(now < Instant{} + Duration::from_secs(600));
    }
    // Let every delayed ACK and timer run out: afterwards nothing is due on either side.
    for (int turn = 0; turn < 100; ++turn) {
      wire.deliver(now, client, server);
      client.dispatch(now, [&](const TcpLayer::Outgoing& o) { wire.send(now, o); });
      server.dispatch(now, [&](const TcpLayer::Outgoing& o) { wire.send(now, o); });
      std::optional<Instant> next = wire.next();
      for (auto t : {client.poll_at(), server.poll_at()})
        if (t && (!next || *t < *next)) next = t;
      if (!next) break;
      now = std::max(now, *next);
    }
    CHECK_FALSE(wire.next().has_value());
    CHECK_FALSE(client.poll_at().has_value());
    CHECK_FALSE(server.poll_at().has_value());
    CHECK(client.socket_count() == kConns);
    CHECK(server.socket_count() == kConns);
    CHECK(accepted == kConns);
    CHECK(server_in.empty());
    for (const auto& cl : clients) REQUIRE(client.state(cl.id) == TcpState::Established);
    // No connection holds a ring: 200,000 sockets, not one block of buffer storage.
    CHECK(RingStorage::blocks_in_use() == blocks_before);
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
    MESSAGE(kConns, " connections up and idle after ", (now - Instant{}).describe(), " virtual, ", wall,
            " s wall, ", wire.segments, " segments; TcpSocket ", sizeof(TcpSocket), " bytes each");
  }
}
