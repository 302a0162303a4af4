// libFuzzer target: two TcpLayers talking to each other in virtual time (the model of
// tests/sim/test_tcp_transfer.cpp), with the input as the network and the configuration. Where
// fuzz_tcp_conn plays a hostile peer, here both ends are our stack and every segment is a real
// one: what the input decides is each side's options (MSS, SACK, timestamps, window scaling,
// buffer sizes, congestion control, Nagle, delayed ACKs, SYN cookies), how fast each application
// reads, who closes first, and for every segment on the wire its fate: delivered after the base
// latency, dropped, duplicated, or held back (which reorders it). That reaches what a single peer
// cannot fake: SACK recovery, RACK, CUBIC, D-SACK undo, the persist timer against a real slow
// reader, simultaneous close, SYN cookies (a listener with a SYN queue of one and two clients at
// once) and TIME-WAIT reuse (rounds of connections from a client with one or two ephemeral ports).
//
// Input: a 16-byte header (the configuration), then one byte per segment sent (its fate); an
// exhausted input reads as zeros, i.e. "delivered", so every input ends in a clean network.
// A segment is dropped at most three times (matched by its sequence number, and for a bare ACK
// its acknowledgment number), and never more than three in a row in one direction: the
// retransmission limits (R1/R2, the SYN-ACK retries) are not what this target is about; SYNs
// and RSTs are never dropped (a reused port meeting its old connection in LAST-ACK needs the
// SYN, the challenge ACK and the RST to get through before the SYN retries run out; fuzz_tcp_conn
// covers lost handshakes); and at most 48 drops per run, so that the transfer ends within the
// virtual deadline (two hours).
//
// Invariants (a violation traps):
//   - every byte arrives, in order and unaltered, in both directions of every connection;
//   - no connection fails (reset, timeout) and the transfer ends within a virtual deadline;
//   - after every socket is closed, virtual time frees every socket and every TIME-WAIT record
//     (none is left past its expiry).
// Each run moves at most 3 rounds x 2 connections x 2 directions x 24 KiB (and at most 256
// segments' worth per direction at small MSS), so executions stay in the milliseconds.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <span>
#include <tuple>
#include <vector>

#include "fuzz_input.hpp"
#include "stack/socket/tcp_layer.hpp"

using namespace stack;
using namespace stack::socket;
using stack::wire::Ipv4Address;

namespace {

const Ipv4Address kClientIp = Ipv4Address::from_octets(10, 0, 0, 1);
const Ipv4Address kServerIp = Ipv4Address::from_octets(10, 0, 0, 2);
constexpr std::uint16_t kPort = 80;
constexpr int kMaxDropsPerSegment = 3;
// Per run: each drop can cost up to one RTO, at most 60 s (RFC 6298 §2.5; and without timestamps
// Karn's rule keeps the backed-off value until a fresh sample), so 48 drops stay within the deadline.
constexpr std::size_t kMaxDrops = 48;

bool debug() {
  static const bool on = std::getenv("FUZZ_TCP_PEERS_DEBUG") != nullptr;
  return on;
}

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_tcp_peers: %s\n", what);
  __builtin_trap();
}

// The byte at `offset` of the stream `stream` (a different pattern per connection and direction).
std::byte pattern(unsigned stream, std::size_t offset) {
  return static_cast<std::byte>((offset * 7 + offset / 251 + stream * 101) & 0xff);
}

struct InFlight {
  Ipv4Address src, dst;
  Bytes bytes;
};

// The network: segments wait in a time-ordered queue; each one's fate comes from the input.
class Wire {
 public:
  Wire(fuzz::Input& in, std::array<Duration, 2> latency) : in_(in), latency_(latency) {}

  void send(Instant now, const TcpLayer::Outgoing& o) {
    Bytes bytes(o.repr.buffer_len());
    auto view = wire::tcp::ViewMut::unchecked(bytes);
    o.repr.emit(view, o.src, o.dst);
    const int dir = o.src == kClientIp ? 0 : 1;
    const Duration base = latency_[static_cast<std::size_t>(dir)];
    const std::uint8_t fate = in_.u8();
    if (debug())
      std::fprintf(stderr, "%8lld %s %s [fate %u +%lld ms]\n", static_cast<long long>(now.millis()),
                   dir == 0 ? "c->s" : "s->c", o.repr.describe().c_str(), fate & 3u,
                   static_cast<long long>((fate >> 2) * 4));
    const Duration extra = Duration::from_millis((fate >> 2) * 4);
    switch (fate & 3) {
      case 0: break;
      case 1: {  // dropped, unless this segment was dropped often enough already
        const bool bare_ack = o.repr.payload.empty() && !o.repr.flags.syn && !o.repr.flags.fin;
        const auto key = std::tuple{dir, o.repr.seq.raw, bare_ack && o.repr.ack ? o.repr.ack->raw : 0u,
                                    o.repr.flags.syn, o.repr.flags.fin, o.repr.flags.rst};
        auto& run = consecutive_[static_cast<std::size_t>(dir)];
        const bool control = o.repr.flags.syn || o.repr.flags.rst;
        if (!control && run < kMaxDropsPerSegment && drops_[key] < kMaxDropsPerSegment && dropped < kMaxDrops) {
          ++drops_[key];
          ++run;
          ++dropped;
          return;
        }
        break;
      }
      case 2:  // duplicated: a second copy `extra` later
        queue_.emplace(now + base + extra, InFlight{o.src, o.dst, bytes});
        ++duplicated;
        break;
      case 3:  // held back: later segments overtake it
        consecutive_[static_cast<std::size_t>(dir)] = 0;
        queue_.emplace(now + base + extra, InFlight{o.src, o.dst, std::move(bytes)});
        return;
    }
    consecutive_[static_cast<std::size_t>(dir)] = 0;
    queue_.emplace(now + base, InFlight{o.src, o.dst, std::move(bytes)});
  }

  std::optional<Instant> next() const { return queue_.empty() ? std::nullopt : std::optional(queue_.begin()->first); }

  void deliver(Instant now, TcpLayer& client, TcpLayer& server) {
    while (!queue_.empty() && queue_.begin()->first <= now) {
      InFlight f = std::move(queue_.begin()->second);
      queue_.erase(queue_.begin());
      (f.dst == kServerIp ? server : client).process(now, f.src, f.dst, f.bytes);
    }
  }

  std::size_t dropped = 0;
  std::size_t duplicated = 0;

 private:
  fuzz::Input& in_;
  std::array<Duration, 2> latency_;
  std::multimap<Instant, InFlight> queue_;
  std::map<std::tuple<int, std::uint32_t, std::uint32_t, bool, bool, bool>, int> drops_;
  std::array<int, 2> consecutive_{0, 0};  // drops in a row, per direction
};

// One end's configuration from two header bytes and a shared one.
TcpLayer::Config side_config(std::uint8_t a, std::uint8_t b, std::uint64_t key) {
  TcpLayer::Config c;
  c.secret_key[0] = key;
  c.secret_key[1] = ~key;
  c.recv_buffer = std::size_t{512} << (a & 7);        // 512 B .. 64 KiB
  c.send_buffer = std::size_t{512} << ((a >> 3) & 7);
  c.sack = a & 0x40;
  c.timestamps = a & 0x80;
  c.window_scaling = b & 1;
  c.congestion = (b & 2) ? CongestionAlgorithm::NewReno : CongestionAlgorithm::Cubic;
  c.nodelay = b & 4;
  c.quick_acks = (b & 8) ? 0 : 16;
  c.delayed_ack = Duration::from_millis((b & 0x10) ? 40 : 200);
  c.syn_cookies = !(b & 0x20);
  // MTU 1500 (MSS 1460), 576, 296, or 88 (MSS 48): small MSS means many segments per window.
  static constexpr std::array<std::uint16_t, 4> kMtus{1500, 576, 296, 88};
  c.mtu = kMtus[(b >> 6) & 3];
  return c;
}

struct Conn {
  unsigned index = 0;
  std::optional<SocketId> end[2];        // [0] the client's socket, [1] the server's (once accepted)
  std::uint16_t client_port = 0;
  wire::tcp::SeqNum client_iss{0};
  std::size_t total[2] = {0, 0};         // bytes end i sends
  std::size_t written[2] = {0, 0};
  std::size_t read[2] = {0, 0};          // bytes end i has read (sent by the other end)
  bool eof[2] = {false, false};          // end i has read the other's FIN
  bool shut[2] = {false, false};
  bool closed[2] = {false, false};
  bool done() const { return closed[0] && closed[1]; }
};

struct App {
  std::size_t read_chunk;                 // per read() call
  Duration read_interval;                 // between reads, at least 1 ms
  Instant next_read;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Input in{data, size};
  // --- the header ---
  const std::uint8_t c0 = in.u8(), c1 = in.u8(), s0 = in.u8(), s1 = in.u8();
  const std::uint8_t lat = in.u8(), lat2 = in.u8();
  const std::uint8_t sizes = in.u8(), sizes2 = in.u8();
  const std::uint8_t shape = in.u8();
  const std::uint8_t reads = in.u8(), reads2 = in.u8();
  const std::uint8_t misc = in.u8();
  in.u32();  // reserved: keeps the header 16 bytes

  TcpLayer::Config cc = side_config(c0, c1, 0x1111);
  TcpLayer::Config sc = side_config(s0, s1, 0x2222);
  // One or two ephemeral ports (rounds then reuse a 4-tuple: TIME-WAIT reuse on the server), or the
  // usual range.
  switch (misc & 3) {
    case 0: cc.ephemeral_first = cc.ephemeral_last = 40000; break;
    case 1: cc.ephemeral_first = 40000; cc.ephemeral_last = 40001; break;
    default: break;
  }
  cc.time_wait = sc.time_wait = Duration::from_secs((misc & 4) ? 60 : 2);
  TcpLayer client(cc);
  TcpLayer server(sc);
  Instant now;
  if (debug()) {
    client.on_event = [&](const TcpEvent& e) { std::fprintf(stderr, "%8lld client %s\n", static_cast<long long>(now.millis()), describe(e).c_str()); };
    server.on_event = [&](const TcpEvent& e) { std::fprintf(stderr, "%8lld server %s\n", static_cast<long long>(now.millis()), describe(e).c_str()); };
  }
  const std::size_t backlog = (misc & 8) ? 1 : 8;   // a SYN queue of one: the second client gets a cookie
  const unsigned rounds = 1 + (shape & 3) % 3;
  const unsigned per_round = 1 + ((shape >> 2) & 1);
  const unsigned close_order = (shape >> 3) & 3;     // 0 client first, 1 server first, 2/3 whoever is done
  const bool close_directly = shape & 0x20;          // close() without shutdown() when nothing is left to read
  // Per direction: up to 24 KiB, and at most 256 segments' worth at the sender's MSS.
  auto cap = [](const TcpLayer::Config& c) { return std::min<std::size_t>(24 * 1024, std::size_t{256} * (c.mtu - 40u)); };
  const std::size_t size_c = std::min<std::size_t>(std::size_t{sizes} * 97, cap(cc));
  const std::size_t size_s = std::min<std::size_t>(std::size_t{sizes2} * 97, cap(sc));
  std::array<App, 2> apps{App{std::size_t{64} << (reads & 7), Duration::from_millis(1 + (reads >> 3) * 2), Instant{}},
                          App{std::size_t{64} << (reads2 & 7), Duration::from_millis(1 + (reads2 >> 3) * 2), Instant{}}};
  Wire net(in, {Duration::from_millis(lat & 0x7f), Duration::from_millis(lat2 & 0x7f)});

  auto lid = server.listen(kServerIp, kPort, backlog);
  if (!lid.ok()) fail("listen");
  std::array<TcpLayer*, 2> layers{&client, &server};
  std::vector<Conn> conns;
  unsigned round = 0;
  Bytes buf(16 * 1024);
  std::size_t same_instant = 0;
  const Instant deadline = Instant{} + Duration::from_secs(2 * 3600);
  bool connecting = true;
  Instant connect_not_before;

  // SYN cookies (RFC 4987 §3.6) cost robustness, in every stack: a cookie connection is lost when
  // its completing ACK is dropped because the accept queue is full (two handshakes ending at once
  // with a backlog of one), or when that ACK is lost on the wire and the client's next segment,
  // whose sequence number no longer encodes the cookie, fails the check and is reset.
  auto cookie_lost = [&]() {
    return server.counters().drops[static_cast<std::size_t>(TcpDrop::AcceptQueueFull)] > 0 ||
           server.counters().syncookies_failed > 0;
  };
  auto start_round = [&]() {
    conns.clear();
    for (unsigned i = 0; i < per_round; ++i) {
      Conn c;
      c.index = round * 2 + i;
      c.total[0] = size_c;
      c.total[1] = size_s;
      conns.push_back(c);
    }
    connecting = true;
  };
  start_round();

  for (std::size_t steps = 0;; ++steps) {
    if (steps > 400000) fail("too many steps");
    if (now > deadline) fail("transfer not done within two hours of virtual time");
    net.deliver(now, client, server);

    // The client connects (one port may still be in TIME-WAIT: then it waits for it). Never two
    // connects in the same millisecond: with one ephemeral port, a port freed at the instant it
    // was taken would be taken again with the same ISN (RFC 6528's clock stands still only in
    // virtual time), and an old duplicate SYN-ACK would then complete the new handshake.
    if (connecting && now >= connect_not_before) {
      connecting = false;
      for (Conn& c : conns) {
        if (c.end[0]) continue;
        if (now < connect_not_before) {
          connecting = true;
          continue;
        }
        auto id = client.connect(kClientIp, kServerIp, kPort, now);
        if (!id.ok()) {
          if (id.error() != ConnectError::NoEphemeralPorts) fail("connect");
          connecting = true;
          continue;
        }
        c.end[0] = *id;
        if (cc.ephemeral_first == cc.ephemeral_last) connect_not_before = now + Duration::from_millis(1);
        c.client_port = client.tcb(*id)->local().port;
        c.client_iss = client.tcb(*id)->iss();
      }
    }
    // The server accepts, and matches each connection to its client by port.
    while (auto a = server.accept(*lid)) {
      const TcpSocket* s = server.tcb(*a);
      // Matched by port and by the client's ISN (a port is reused across rounds).
      auto it = std::find_if(conns.begin(), conns.end(), [&](const Conn& c) {
        return c.end[0] && !c.end[1] && !c.closed[1] && c.client_port == s->remote().port &&
               c.client_iss == s->irs();
      });
      if (it == conns.end()) {
        // A cookie ACK that came back late (a duplicate held by the network, or for a connection
        // lost below) makes a connection of its own, as in every stack with SYN cookies: valid
        // for two 64-second periods, it cannot tell a replay from the first. The application
        // drops it.
        if (!cookie_lost() && server.counters().syncookies_validated == 0) fail("accepted a connection no client made");
        server.abort(*a);
        continue;
      }
      it->end[1] = *a;
    }

    // The applications: write everything, read at their pace, close as the shape says.
    for (Conn& c : conns) {
      for (int e = 0; e < 2; ++e) {
        if (!c.end[e] || c.closed[e]) continue;
        TcpLayer& L = *layers[static_cast<std::size_t>(e)];
        const SocketId id = *c.end[e];
        if (auto err = L.error(id)) {
          if (debug()) std::fprintf(stderr, "conn %u end %d: %s\n", c.index, e, to_string(*err));
          // The failures that are not defects: a SYN-cookie connection lost (cookie_lost), and a
          // client whose SYNs all met a full SYN queue with cookies off (a backlog of one, held by
          // the other client or by a half-open connection an old duplicate SYN made).
          const bool syn_queue_full = e == 0 && !c.end[1] && *err == TcpError::TimedOut &&
                                      server.counters().drops[static_cast<std::size_t>(TcpDrop::SynQueueFull)] > 0;
          if (!syn_queue_full && (*err != TcpError::Reset || !cookie_lost())) fail("a connection failed");
          L.abort(id);
          c.closed[e] = true;
          if (!c.end[1 - e]) c.closed[1 - e] = true;
          continue;
        }
        const unsigned out_stream = c.index * 2 + static_cast<unsigned>(e);
        const unsigned in_stream = c.index * 2 + static_cast<unsigned>(1 - e);
        while (c.written[e] < c.total[e] && L.writable(id)) {
          const std::size_t n = std::min<std::size_t>(2048, c.total[e] - c.written[e]);
          for (std::size_t i = 0; i < n; ++i) buf[i] = pattern(out_stream, c.written[e] + i);
          auto r = L.send(id, std::span(buf).first(n));
          if (!r.ok() || *r == 0) break;
          c.written[e] += *r;
        }
        App& app = apps[static_cast<std::size_t>(e)];
        if (!c.eof[e] && now >= app.next_read) {
          auto r = L.recv(id, std::span(buf).first(std::min(buf.size(), app.read_chunk)));
          if (r.ok()) {
            if (*r == 0) {
              c.eof[e] = true;
              if (c.read[e] != c.total[1 - e]) fail("EOF before every byte arrived");
            }
            for (std::size_t i = 0; i < *r; ++i)
              if (buf[i] != pattern(in_stream, c.read[e] + i)) fail("a byte arrived altered or out of order");
            c.read[e] += *r;
            if (c.read[e] > c.total[1 - e]) fail("more bytes arrived than were sent");
            app.next_read = now + app.read_interval;
          } else if (r.error() != RecvError::WouldBlock) {
            fail("recv failed");
          }
        }
        const bool my_turn = close_order >= 2 || static_cast<int>(close_order) == e || c.eof[e];
        // A close in SYN-SENT would abandon the connection (RFC 9293 §3.10.4): wait for the handshake.
        const auto st = L.state(id);
        const bool synchronized = st && *st != TcpState::SynSent && *st != TcpState::SynReceived;
        if (!c.shut[e] && c.written[e] == c.total[e] && my_turn && synchronized) {
          c.shut[e] = true;
          if (close_directly && c.eof[e]) {
            L.close(id);
            c.closed[e] = true;
            continue;
          }
          L.shutdown(id);
        }
        if (c.shut[e] && c.eof[e] && !c.closed[e]) {
          L.close(id);
          c.closed[e] = true;
        }
      }
    }
    if (std::all_of(conns.begin(), conns.end(), [](const Conn& c) { return c.done(); })) {
      if (++round == rounds) break;
      // The next round starts a little later: RFC 6528's ISN clock (4 µs ticks) gives the same
      // ISN to the same 4-tuple at the same instant, which only virtual time can produce, and
      // then a duplicate SYN-ACK of the last round completes the new handshake.
      now += Duration::from_millis(1);
      start_round();
      continue;
    }

    client.dispatch(now, [&](const TcpLayer::Outgoing& o) { net.send(now, o); });
    server.dispatch(now, [&](const TcpLayer::Outgoing& o) { net.send(now, o); });

    std::optional<Instant> next = net.next();
    auto consider = [&](std::optional<Instant> t) {
      if (t && (!next || *t < *next)) next = t;
    };
    consider(client.poll_at());
    consider(server.poll_at());
    for (int e = 0; e < 2; ++e) {
      // The application's next read, if it has anything to read.
      const bool reading = std::any_of(conns.begin(), conns.end(), [&](const Conn& c) {
        return c.end[e] && !c.eof[e] && layers[static_cast<std::size_t>(e)]->readable(*c.end[e]);
      });
      if (reading && apps[static_cast<std::size_t>(e)].next_read > now) consider(apps[static_cast<std::size_t>(e)].next_read);
    }
    // A connect refused for want of a port (its TIME-WAIT record just expired): try again.
    if (connecting && !next) next = std::max(now + Duration::from_millis(1), connect_not_before);
    // A connection that failed during this dispatch: the applications look at it first.
    for (const Conn& c : conns)
      for (int e = 0; e < 2; ++e)
        if (!next && c.end[e] && !c.closed[e] && layers[static_cast<std::size_t>(e)]->error(*c.end[e])) next = now;
    // A cookie handshake whose last ACK was lost, on a connection where the client has nothing
    // to send: the client is ESTABLISHED, the server holds nothing, and nothing will ever happen
    // (RFC 4987 §3.6 names this cost of SYN cookies). The application gives up on it.
    if (!next && server.counters().syncookies_sent > 0) {
      for (Conn& c : conns) {
        if (c.done() || c.end[1] || !c.end[0]) continue;
        client.abort(*c.end[0]);
        c.closed[0] = c.closed[1] = true;
        next = now;
      }
    }
    if (!next) {
      if (debug()) {
        for (const Conn& c : conns)
          for (int e = 0; e < 2; ++e) {
            const TcpSocket* s = c.end[e] ? layers[static_cast<std::size_t>(e)]->tcb(*c.end[e]) : nullptr;
            std::fprintf(stderr, "conn %u end %d: %s written %zu/%zu read %zu eof %d shut %d closed %d\n", c.index, e,
                         s ? to_string(s->state()) : "-", c.written[e], c.total[e], c.read[e], c.eof[e], c.shut[e],
                         c.closed[e]);
          }
      }
      fail("stalled: nothing in flight, no timer armed, the transfer not done");
    }
    if (*next <= now) {
      if (++same_instant > 1000) {
        if (debug()) {
          auto ms = [](std::optional<Instant> t) { return t ? static_cast<long long>(t->micros()) : -1LL; };
          std::fprintf(stderr, "now %lld us: client poll_at %lld, server poll_at %lld, wire %lld\n",
                       static_cast<long long>(now.micros()), ms(client.poll_at()), ms(server.poll_at()), ms(net.next()));
          for (int e = 0; e < 2; ++e)
            for (SocketId id = 0; id < 64; ++id)
              if (const TcpSocket* s = layers[static_cast<std::size_t>(e)]->tcb(id))
                std::fprintf(stderr, "%s #%u %s una %u nxt %u max %u wnd %u fin_queued %d poll_at %lld rcv_nxt %u\n",
                             e ? "server" : "client", id, to_string(s->state()), s->snd_una().raw, s->snd_nxt().raw,
                             s->snd_max().raw, s->snd_wnd(), s->fin_queued(), ms(s->poll_at(now)), s->rcv_nxt().raw);
        }
        fail("spinning at one instant");
      }
    } else {
      same_instant = 0;
      now = *next;
    }
  }

  // Every connection is closed by both applications; the listener goes too. Time alone must free
  // every socket and every TIME-WAIT record.
  server.close(*lid);
  const Instant end = now + Duration::from_secs(4 * 3600);
  for (int guard = 0; guard < 100000 && now < end; ++guard) {
    net.deliver(now, client, server);
    client.dispatch(now, [&](const TcpLayer::Outgoing& o) { net.send(now, o); });
    server.dispatch(now, [&](const TcpLayer::Outgoing& o) { net.send(now, o); });
    if (client.socket_count() + server.socket_count() + client.time_wait_count() + server.time_wait_count() == 0) break;
    std::optional<Instant> next = net.next();
    for (auto t : {client.poll_at(), server.poll_at()})
      if (t && (!next || *t < *next)) next = t;
    if (!next) break;
    now = std::max(now + Duration::from_millis(1), *next);
  }
  if (debug()) {
    std::fprintf(stderr, "done at %lld ms: dropped %zu duplicated %zu; client rtx %llu fast %llu rto %llu; "
                 "server rtx %llu; cookies sent %llu validated %llu; tw reused %llu\n",
                 static_cast<long long>(now.millis()), net.dropped, net.duplicated,
                 static_cast<unsigned long long>(client.counters().retransmitted),
                 static_cast<unsigned long long>(client.counters().fast_retransmits),
                 static_cast<unsigned long long>(client.counters().rto_expired),
                 static_cast<unsigned long long>(server.counters().retransmitted),
                 static_cast<unsigned long long>(server.counters().syncookies_sent),
                 static_cast<unsigned long long>(server.counters().syncookies_validated),
                 static_cast<unsigned long long>(server.counters().time_wait_reused));
  }
  if (client.socket_count() != 0 || server.socket_count() != 0) fail("a socket left after close and four hours");
  if (client.time_wait_count() != 0 || server.time_wait_count() != 0) fail("a TIME-WAIT record past its expiry");
  return 0;
}
