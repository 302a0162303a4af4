// sim/tcp: two TcpLayers talking through a seeded lossy "wire" in virtual time. Segments from one
// layer's dispatch() go into the other's process() after a latency with jitter (so segments
// reorder), and are dropped, duplicated or corrupted at random. Transfers must arrive byte-exact,
// within a virtual deadline, with bounded memory.
#include <doctest/doctest.h>

#include <chrono>
#include <deque>
#include <map>

#include "stack/socket/tcp_layer.hpp"
#include "stack/util/random.hpp"

using namespace stack;
using namespace stack::socket;
using stack::wire::Ipv4Address;

namespace {

const Ipv4Address kClientIp = Ipv4Address::from_octets(10, 0, 0, 1);
const Ipv4Address kServerIp = Ipv4Address::from_octets(10, 0, 0, 2);

struct WireConfig {
  double loss = 0;
  double duplicate = 0.01;
  double corrupt = 0;                          // one flipped bit; the TCP checksum must catch it
  Duration latency = Duration::from_millis(10);
  Duration jitter = Duration::from_millis(4);  // uniform extra delay: reorders segments
};

struct InFlight {
  Instant at;
  Ipv4Address src, dst;
  Bytes bytes;
};

class LossyWire {
 public:
  LossyWire(WireConfig c, std::uint64_t seed) : c_(c), rng_(seed) {}
  void send(Instant now, const TcpLayer::Outgoing& o) {
    Bytes bytes(o.repr.buffer_len());
    auto view = wire::tcp::ViewMut::unchecked(bytes);
    o.repr.emit(view, o.src, o.dst);
    if (rng_.next_double() < c_.loss) { ++lost; return; }
    const int copies = rng_.next_double() < c_.duplicate ? 2 : 1;
    for (int i = 0; i < copies; ++i) {
      Bytes copy = bytes;
      if (rng_.next_double() < c_.corrupt) {
        const std::uint32_t bit = rng_.below(static_cast<std::uint32_t>(copy.size() * 8));
        copy[bit / 8] ^= static_cast<std::byte>(1u << (bit % 8));
        ++corrupted;
      }
      const auto jitter = Duration::from_micros(static_cast<std::int64_t>(rng_.below(static_cast<std::uint32_t>(c_.jitter.micros()) + 1)));
      queue_.emplace(now + c_.latency + jitter, InFlight{now + c_.latency + jitter, o.src, o.dst, std::move(copy)});
    }
    max_queue = std::max(max_queue, queue_.size());
  }
  std::optional<Instant> next() const { return queue_.empty() ? std::nullopt : std::optional(queue_.begin()->first); }
  // Delivers every segment due at `now` to the layer owning its destination.
  void deliver(Instant now, TcpLayer& client, TcpLayer& server) {
    while (!queue_.empty() && queue_.begin()->first <= now) {
      InFlight f = std::move(queue_.begin()->second);
      queue_.erase(queue_.begin());
      (f.dst == kServerIp ? server : client).process(now, f.src, f.dst, f.bytes);
    }
  }
  std::size_t lost = 0;
  std::size_t corrupted = 0;
  std::size_t max_queue = 0;

 private:
  WireConfig c_;
  Rng rng_;
  std::multimap<Instant, InFlight> queue_;
};

std::byte pattern(std::size_t i) { return static_cast<std::byte>((i * 7 + i / 251) & 0xff); }

struct Params {
  std::size_t total = 1 << 20;
  WireConfig wire;
  CongestionAlgorithm cc = CongestionAlgorithm::Cubic;
  bool sack = true;
  bool timestamps = true;
  std::uint64_t seed = 42;
  Duration deadline = 60_s;
  std::optional<Duration> min_rto;  // the layer's default when unset
  bool autotune = true;              // false: the buffers stay at 128 KiB
};

struct TransferResult {
  bool ok = false;
  Duration took;
  std::uint64_t retransmitted = 0;
  std::uint64_t fast_retransmits = 0;
  std::uint64_t rto_expired = 0;
  std::uint64_t bad_checksums = 0;
  std::size_t max_wire_queue = 0;
  std::size_t max_sockets = 0;
  Duration longest_rto;
  std::string describe() const {
    return std::string(ok ? "ok" : "FAILED") + " in " + took.describe() + " virtual (" + std::to_string(retransmitted) +
           " retransmissions: " + std::to_string(fast_retransmits) + " fast, " + std::to_string(rto_expired) +
           " timeouts, longest RTO " + longest_rto.describe() + "; " + std::to_string(bad_checksums) +
           " bad checksums; wire queue max " +
           std::to_string(max_wire_queue) + ")";
  }
};

TransferResult transfer(const Params& p) {
  TcpLayer::Config c;
  c.secret_key[0] = p.seed;
  c.secret_key[1] = ~p.seed;
  c.congestion = p.cc;
  c.sack = p.sack;
  c.timestamps = p.timestamps;
  c.recv_buffer = 128 * 1024;
  c.send_buffer = 128 * 1024;
  if (!p.autotune) {
    c.recv_buffer_max = c.recv_buffer;
    c.send_buffer_max = c.send_buffer;
  }
  if (p.min_rto) c.min_rto = *p.min_rto;
  TcpLayer client(c);
  Instant now;
  // The longest wait for a retransmission timeout, from the events (a narrator's view).
  Duration longest_rto;
  client.on_event = [&](const TcpEvent& e) {
    if (auto* r = std::get_if<tcp_event::Retransmitted>(&e); r && r->cause == tcp_event::RetransmitCause::Timeout)
      longest_rto = std::max(longest_rto, r->rto);
  };
  c.secret_key[0] = p.seed * 3 + 1;
  TcpLayer server(c);
  LossyWire wire(p.wire, p.seed);

  auto lid = server.listen(kServerIp, 80, 8);
  REQUIRE(lid.ok());
  auto cid = client.connect(kClientIp, kServerIp, 80, now);
  REQUIRE(cid.ok());
  std::optional<SocketId> sid;
  std::size_t sent = 0, received = 0;
  bool shut = false, eof = false, mismatch = false;
  std::size_t first_bad = 0;
  Bytes chunk(16 * 1024);
  std::size_t same_instant = 0;
  TransferResult res;

  while (now < Instant{} + p.deadline) {
    wire.deliver(now, client, server);
    // Applications: the client writes the pattern then half-closes; the server reads and checks.
    while (sent < p.total) {
      const std::size_t n = std::min(chunk.size(), p.total - sent);
      for (std::size_t i = 0; i < n; ++i) chunk[i] = pattern(sent + i);
      auto r = client.send(*cid, std::span(chunk).first(n));
      if (!r.ok() || *r == 0) break;
      sent += *r;
    }
    if (sent == p.total && !shut && client.state(*cid) == TcpState::Established) {
      client.shutdown(*cid);
      shut = true;
    }
    if (!sid) sid = server.accept(*lid);
    if (sid) {
      for (;;) {
        auto r = server.recv(*sid, chunk);
        if (!r.ok()) break;
        if (*r == 0) { eof = true; break; }
        for (std::size_t i = 0; i < *r; ++i) {
          if (chunk[i] != pattern(received + i) && !mismatch) {
            mismatch = true;
            first_bad = received + i;
          }
        }
        received += *r;
      }
    }
    if (eof) break;
    client.dispatch(now, [&](const TcpLayer::Outgoing& o) { wire.send(now, o); });
    server.dispatch(now, [&](const TcpLayer::Outgoing& o) { wire.send(now, o); });
    res.max_sockets = std::max(res.max_sockets, client.socket_count() + server.socket_count());

    std::optional<Instant> next = wire.next();
    for (auto t : {client.poll_at(), server.poll_at()})
      if (t && (!next || *t < *next)) next = t;
    REQUIRE(next.has_value());
    if (*next <= now) {
      // Output still pending at this instant: go round again, but never spin.
      REQUIRE(++same_instant < 1000);
    } else {
      same_instant = 0;
      now = *next;
    }
  }
  INFO("first corrupted byte at offset ", first_bad, " of ", received);
  if (!eof) {
    const auto* cs = client.tcb(*cid);
    MESSAGE("stalled: received ", received, " client ", std::string(cs ? to_string(cs->state()) : "gone"),
            " err ", std::string(cs && cs->error() ? to_string(*cs->error()) : "-"), " server ",
            std::string(sid && server.tcb(*sid) ? to_string(server.tcb(*sid)->state()) : "none"),
            " snd_wnd ", cs ? cs->snd_wnd() : 0u, " cwnd ", cs ? cs->congestion().cwnd() : 0u, " una ",
            cs ? cs->snd_una().raw : 0u, " nxt ", cs ? cs->snd_nxt().raw : 0u, " max ", cs ? cs->snd_max().raw : 0u,
            " rto_at ", cs && cs->rto_at() ? cs->rto_at()->millis() : -1);
  }
  CHECK_FALSE(mismatch);
  res.ok = eof && received == p.total && !mismatch;
  res.took = now - Instant{};
  res.retransmitted = client.counters().retransmitted;
  res.fast_retransmits = client.counters().fast_retransmits;
  res.rto_expired = client.counters().rto_expired;
  res.bad_checksums = client.counters().drops[static_cast<std::size_t>(TcpDrop::BadChecksum)] +
                      server.counters().drops[static_cast<std::size_t>(TcpDrop::BadChecksum)];
  res.max_wire_queue = wire.max_queue;
  res.longest_rto = longest_rto;
  return res;
}

std::string label(const Params& p) {
  return std::to_string(p.total >> 10) + " KiB, loss " + std::to_string(static_cast<int>(p.wire.loss * 100)) +
         " %, jitter " + p.wire.jitter.describe() + ", dup " +
         std::to_string(static_cast<int>(p.wire.duplicate * 100)) + " %, " + to_string(p.cc) +
         (p.sack ? " +SACK" : " no SACK") + (p.timestamps ? " +TS" : " no TS");
}

TransferResult run(const Params& p) {
  const auto cpu_start = std::chrono::steady_clock::now();
  const TransferResult r = transfer(p);
  const auto cpu =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - cpu_start);
  MESSAGE(label(p), ": ", r.describe(), ", ", cpu.count(), " ms real");
  return r;
}

}  // namespace

TEST_SUITE("sim/tcp") {
  // Sizes are chosen so each case runs in about a second of real time in the sanitizer build;
  // the virtual deadlines are several times what the transfers take today.
  TEST_CASE("byte-exact transfers at 0/1/5/20 % loss with reordering and duplication, NewReno and CUBIC, with and without SACK") {
    struct Case { double loss; std::size_t total; Duration deadline; };
    for (const Case& c : {Case{0.0, 2 << 20, 10_s}, Case{0.01, 2 << 20, 60_s}, Case{0.05, 2 << 20, 300_s},
                          Case{0.20, 1 << 20, 1800_s}}) {
      for (auto algo : {CongestionAlgorithm::Cubic, CongestionAlgorithm::NewReno}) {
        for (bool sack : {true, false}) {
          if (c.loss > 0.1 && (algo == CongestionAlgorithm::Cubic) != sack) continue;  // two combinations
          Params p;
          p.total = c.total;
          p.wire.loss = c.loss;
          p.cc = algo;
          p.sack = sack;
          p.deadline = c.deadline;
          const TransferResult r = run(p);
          CHECK(r.ok);
          CHECK(r.max_wire_queue < 1000);  // bounded by the 128 KiB windows
        }
      }
    }
  }

  // The bar for TCP: 64 MiB byte-exact at each loss rate, with 1 % duplication, 0.2 % corruption
  // and 0-4 ms jitter (reordering), within a virtual deadline, memory bounded. Two combinations per rate: CUBIC with
  // SACK and timestamps (our default), NewReno with neither SACK nor timestamps (RFC 5681/6582
  // alone). Deadlines are about twice what the transfers take today (figures in each MESSAGE).
  void big_transfer(double loss, Duration cubic_deadline, Duration newreno_deadline) {
    for (bool modern : {true, false}) {
      Params p;
      p.total = std::size_t{64} << 20;
      p.wire.loss = loss;
      p.wire.corrupt = 0.002;  // one bit flipped in 0.2 % of the segments: the checksum catches them
      p.cc = modern ? CongestionAlgorithm::Cubic : CongestionAlgorithm::NewReno;
      p.sack = modern;
      p.timestamps = modern;
      p.deadline = modern ? cubic_deadline : newreno_deadline;
      const TransferResult r = run(p);
      CHECK(r.ok);
      CHECK(r.bad_checksums > 0);
      CHECK(r.max_wire_queue < 1000);  // bounded by the windows, however long it runs
      CHECK(r.max_sockets <= 3);       // client, server, listener: nothing leaks
    }
  }
  // Measured with seed 42 (virtual time; CUBIC+SACK+TS with RACK-TLP and the buffers that grow /
  // NewReno bare), with the receiver back in quick-ACK after data that arrives twice (before it,
  // in brackets): 0 % 39 s (39 s) / 118 s (132 s) (the corrupted segments are losses; without
  // timestamps nothing undoes the fast retransmits the jitter provokes), 1 % 105 s (105 s) / 146 s
  // with 11 timeouts (167 s, 23), 5 % 274 s with 42 timeouts (290 s, 53) / 328 s with 331 (392 s,
  // 440), 20 % 1.9 h with 2,834 timeouts (2.2 h, 3,042) / 4.0 h with 7,371 (6.4 h, 8,861). RFC
  // 6675 alone, the SACK side took 42 s, 116 s, 635 s with 1,457 timeouts and 4.0 h with about
  // 12,900. At 20 % each way cwnd lives at two segments; of the timeouts left, 36 % follow
  // another one (one segment in flight after it, RFC 5681 §3.1: it or its ACK lost again), 39 %
  // stall a fast recovery (RFC 8985 §7.2 allows no probe there), 9 % the slow start after a
  // timeout and 16 % come outside any recovery (README, "Loss recovery in the simulation"). About
  // 8-25 s of real time each (ASan). Since CUBIC's Reno-friendly region sets cwnd to W_est
  // instead of counting a stretch ACK twice (RFC 9438 §4.3, tcp_congestion.cpp): CUBIC+SACK+TS
  // 39 s, 99 s, 262 s, 1.5 h with 3,196 timeouts (the breakdown above is from before).
  TEST_CASE("64 MiB at 0 % loss") { big_transfer(0.0, 100_s, 300_s); }
  TEST_CASE("64 MiB at 1 % loss") { big_transfer(0.01, 250_s, 300_s); }
  TEST_CASE("64 MiB at 5 % loss") { big_transfer(0.05, 600_s, 700_s); }
  TEST_CASE("64 MiB at 20 % loss") { big_transfer(0.20, 14000_s, 30000_s); }

  TEST_CASE("a window that opens: over a 100 ms path the buffers grow with the measured rate (dynamic right-sizing)") {
    // 128 KiB per 200 ms round trip is 640 KiB/s whatever the path could carry; with the
    // receive buffer following what the application reads per round trip (and the send buffer
    // twice the congestion window), the window grows until the transfer is no longer
    // window-bound. Virtual time, so the comparison is exact and repeatable.
    Params p;
    p.total = 16 << 20;
    p.wire.latency = Duration::from_millis(100);
    p.wire.jitter = Duration::from_millis(1);
    p.wire.duplicate = 0;
    p.deadline = 300_s;
    p.autotune = false;
    const TransferResult fixed = run(p);
    p.autotune = true;
    const TransferResult tuned = run(p);
    REQUIRE(fixed.ok);
    REQUIRE(tuned.ok);
    CHECK(fixed.took > 20_s);  // 16 MiB at 640 KiB/s: about 26 s
    CHECK(tuned.took * 3 < fixed.took);  // measured: 27.9 s fixed, 7.1 s tuned (slow start from one 200 ms round trip)
  }

  TEST_CASE("20 % loss without timestamps (Karn-only RTT) also completes") {
    Params p;
    p.wire.loss = 0.2;
    p.timestamps = false;
    p.deadline = 1800_s;
    CHECK(run(p).ok);
  }

  TEST_CASE("corrupted segments are caught by the checksum and repaired like losses") {
    Params p;
    p.total = 2 << 20;
    p.wire.loss = 0.01;
    p.wire.corrupt = 0.02;
    p.deadline = 120_s;
    const TransferResult r = run(p);
    CHECK(r.ok);
    CHECK(r.bad_checksums > 0);
  }

  TEST_CASE("several seeds at 5 % loss all complete") {
    for (std::uint64_t seed = 1; seed <= 8; ++seed) {
      CAPTURE(seed);
      Params p;
      p.total = 256 * 1024;
      p.wire.loss = 0.05;
      p.seed = seed;
      p.deadline = 300_s;
      CHECK(transfer(p).ok);
    }
  }
}
