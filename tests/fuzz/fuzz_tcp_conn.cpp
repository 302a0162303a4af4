// libFuzzer target: the TCP layer driven deep into its state machine. fuzz_tcp_layer feeds raw
// bytes and so never guesses a sequence number: everything past the handshake stayed unreached.
// Here the peer is a model that knows the connection's numbers: every segment it sends is built
// from the fuzzer's bytes *relative to* our RCV.NXT and SND.UNA/SND.MAX (read from the TCB), so
// the input decides whether a segment is in the window, acknowledges new data, repeats an old
// ACK, carries SACK blocks, a FIN, an RST or a SYN. The input also drives the application (send,
// recv, shutdown, close, abort, keepalive, accept, new connections), ICMP errors and time.
//
// Invariant checked at the end (the one that found the small-window stall, RFC 1122 §4.2.3.4):
// once the application has closed every socket and the peer falls silent, virtual time alone
// must free every socket — retransmission limits, the persist/override timer, the orphan bound,
// FIN-WAIT-2 and TIME-WAIT all end. A socket still there after four virtual hours is a leak.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <span>
#include <vector>

#include "fuzz_input.hpp"
#include "stack/socket/tcp_layer.hpp"

using namespace stack;
using namespace stack::socket;
using stack::wire::Ipv4Address;
using stack::wire::tcp::Repr;
using stack::wire::tcp::SackBlock;
using stack::wire::tcp::SeqNum;

namespace {

const Ipv4Address kUs = Ipv4Address::from_octets(10, 0, 0, 1);
const Ipv4Address kPeer = Ipv4Address::from_octets(10, 0, 0, 2);

struct Input : fuzz::Input {
  // A sequence offset: mostly small and near the edge, sometimes anywhere.
  std::int32_t delta() {
    const std::uint8_t sel = u8();
    if (sel < 0xf0) return static_cast<std::int8_t>(u8()) * ((sel & 3) == 0 ? 64 : 1);
    return static_cast<std::int32_t>(u32());
  }
};

// A hostile peer's sequence number `delta` away from `base`, either way, modulo 2^32. SeqNum's own
// `+ n` refuses steps of 2^31 or more (a bug in our stack); the peer model may take any value.
SeqNum shift(SeqNum base, std::int32_t delta) { return SeqNum{base.raw + static_cast<std::uint32_t>(delta)}; }

// FUZZ_TCP_CONN_DEBUG=1: the sockets after every step, and those left at the end.
void print_sockets(const TcpLayer& layer, Instant now, const char* when) {
  for (SocketId id = 0; id < 1000; ++id) {
    if (const TcpSocket* s = layer.tcb(id)) {
      std::fprintf(stderr, "%s t=%lld: #%u %s una %u nxt %u max %u wnd %u released %d fin_queued %d rto_at %lld poll_at %lld\n",
                   when, static_cast<long long>(now.millis()), id, to_string(s->state()), s->snd_una().raw,
                   s->snd_nxt().raw, s->snd_max().raw, s->snd_wnd(), s->user_released(), s->fin_queued(),
                   s->rto_at() ? static_cast<long long>(s->rto_at()->millis()) : -1LL,
                   s->poll_at(now) ? static_cast<long long>(s->poll_at(now)->millis()) : -1LL);
    }
  }
}

struct Peer {
  TcpLayer& layer;
  Instant& now;
  std::vector<Repr> last_out;     // what we sent at the last dispatch (payloads dropped)
  std::uint32_t ts_val = 1000;    // the peer's timestamp clock

  void dispatch() {
    last_out.clear();
    layer.dispatch(now, [&](const TcpLayer::Outgoing& o) {
      (void)o.repr.describe();
      Repr r = o.repr;
      r.payload = {};
      if (o.dst == kPeer) last_out.push_back(r);
    });
  }

  void deliver(Repr r, std::span<const std::byte> payload, bool corrupt) {
    r.payload = payload;
    Bytes b(r.buffer_len());
    auto v = wire::tcp::ViewMut::unchecked(b);
    r.emit(v, kPeer, kUs);
    if (corrupt && !b.empty()) b[b.size() / 2] ^= std::byte{0x40};
    layer.process(now, kPeer, kUs, b);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in{{data, size}};
  static const bool debug = std::getenv("FUZZ_TCP_CONN_DEBUG") != nullptr;
  TcpLayer::Config c;
  c.secret_key[0] = 1;
  c.secret_key[1] = 2;
  const std::uint8_t setup = in.u8();
  c.recv_buffer = 512u << (setup & 7);   // 512 B .. 64 KiB
  c.send_buffer = 512u << ((setup >> 3) & 7);
  c.sack = setup & 0x40;
  c.timestamps = setup & 0x80;
  c.max_ooo_ranges = 8;
  c.max_sockets = 64;
  c.keepalive_idle = Duration::from_secs(60);
  TcpLayer layer(c);
  Instant now;
  Peer peer{layer, now, {}};

  std::vector<SocketId> conns;   // sockets the application holds
  std::optional<SocketId> listener;
  if (auto l = layer.listen(Ipv4Address::any(), 80, 4); l.ok()) listener = *l;
  std::uint16_t next_peer_port = 40000;
  std::vector<std::byte> payload_pool(2048);
  for (std::size_t i = 0; i < payload_pool.size(); ++i) payload_pool[i] = static_cast<std::byte>(i * 13);
  Bytes rx(4096);

  auto pick = [&]() -> std::optional<SocketId> {
    if (conns.empty()) return std::nullopt;
    return conns[in.u8() % conns.size()];
  };

  for (int steps = 0; steps < 400 && !in.empty(); ++steps) {
    const std::uint8_t op = in.u8();
    switch (op % 12) {
      case 0:
      case 1:
      case 2: {  // the peer sends a segment on one connection, its numbers relative to the TCB
        const auto id = pick();
        const TcpSocket* s = id ? layer.tcb(*id) : nullptr;
        if (!s) break;
        const std::uint8_t f = in.u8();
        Repr r;
        r.src_port = s->remote().port;
        r.dst_port = s->local().port;
        r.seq = shift(s->rcv_nxt(), in.delta());
        const SeqNum base = (f & 0x80) ? s->snd_max() : s->snd_una();
        if (!(f & 0x40)) r.ack = shift(base, in.delta());
        r.flags.syn = (f & 0x0f) == 1;
        r.flags.rst = (f & 0x0f) == 2;
        r.flags.fin = (f & 0x10) != 0;
        r.flags.psh = (f & 0x20) != 0;
        const std::uint8_t w = in.u8();
        r.window_raw = w < 0x40 ? w : static_cast<std::uint16_t>(w << 8 | in.u8());
        const std::uint8_t opts = in.u8();
        if ((opts & 1) && s->ts_ok()) r.timestamps = std::pair{peer.ts_val += (opts >> 4), in.u32() & 0xffff};
        for (int b = 0; b < ((opts >> 1) & 3); ++b) {
          const SeqNum left = shift(s->snd_una(), in.delta());
          r.sack_blocks[static_cast<std::size_t>(b)] = SackBlock{left, left + static_cast<std::uint32_t>(in.u16() & 0x1fff)};
        }
        const std::size_t len = std::min<std::size_t>(in.u8() * 8u, payload_pool.size());
        peer.deliver(r, std::span(payload_pool).first(len), (opts & 0x08) != 0);
        break;
      }
      case 3: {  // a new connection from the peer to the listener: SYN, and the handshake's ACK
        if (!listener) break;
        Repr syn;
        syn.src_port = next_peer_port++;
        syn.dst_port = 80;
        syn.seq = SeqNum{in.u32()};
        syn.flags.syn = true;
        syn.window_raw = in.u16();
        const std::uint8_t o = in.u8();
        if (o & 1) syn.mss = static_cast<std::uint16_t>(in.u16());
        if (o & 2) syn.window_scale = static_cast<std::uint8_t>(in.u8() & 0x1f);
        if (o & 4) syn.sack_permitted = true;
        if (o & 8) syn.timestamps = std::pair{peer.ts_val++, 0u};
        peer.deliver(syn, {}, false);
        peer.dispatch();
        if (o & 0x10) break;  // leave it half-open
        for (const auto& out : peer.last_out) {
          if (!(out.flags.syn && out.ack && out.dst_port == syn.src_port)) continue;
          Repr ack;
          ack.src_port = syn.src_port;
          ack.dst_port = 80;
          ack.seq = syn.seq + 1;
          ack.ack = out.seq + 1;
          ack.window_raw = syn.window_raw;
          if (syn.timestamps && out.timestamps) ack.timestamps = std::pair{peer.ts_val++, out.timestamps->first};
          peer.deliver(ack, {}, false);
        }
        break;
      }
      case 4:  // accept
        if (listener) {
          if (auto a = layer.accept(*listener)) conns.push_back(*a);
        }
        break;
      case 5: {  // we connect, and the peer answers the SYN (or not)
        if (conns.size() >= 8) break;
        auto id = layer.connect(kUs, kPeer, static_cast<std::uint16_t>(8000 + in.u8()), now);
        if (!id.ok()) break;
        conns.push_back(*id);
        peer.dispatch();
        const std::uint8_t o = in.u8();
        if (o & 1) break;
        for (const auto& out : peer.last_out) {
          if (!out.flags.syn) continue;
          Repr synack;
          synack.src_port = out.dst_port;
          synack.dst_port = out.src_port;
          synack.seq = SeqNum{in.u32()};
          synack.ack = out.seq + 1;
          synack.flags.syn = true;
          synack.window_raw = in.u16();
          if (o & 2) synack.mss = in.u16();
          if ((o & 4) && out.window_scale) synack.window_scale = static_cast<std::uint8_t>(in.u8() & 0xf);
          if ((o & 8) && out.sack_permitted) synack.sack_permitted = true;
          if ((o & 0x10) && out.timestamps) synack.timestamps = std::pair{peer.ts_val++, out.timestamps->first};
          peer.deliver(synack, {}, false);
        }
        break;
      }
      case 6:  // the application writes
        if (auto id = pick()) (void)layer.send(*id, std::span(payload_pool).first(in.u8() * 8u));
        break;
      case 7:  // the application reads
        if (auto id = pick()) (void)layer.recv(*id, std::span(rx).first(in.u8() * 16u));
        break;
      case 8: {  // shutdown, close, abort, keepalive, nodelay
        const auto id = pick();
        if (!id) break;
        switch (in.u8() % 5) {
          case 0: layer.shutdown(*id); break;
          case 1: layer.close(*id); conns.erase(std::find(conns.begin(), conns.end(), *id)); break;
          case 2: layer.abort(*id); conns.erase(std::find(conns.begin(), conns.end(), *id)); break;
          case 3: layer.set_keepalive(*id, true); break;
          case 4: layer.set_nodelay(*id, true); break;
        }
        break;
      }
      case 9: {  // an ICMP error quoting one of our segments
        const auto id = pick();
        const TcpSocket* s = id ? layer.tcb(*id) : nullptr;
        if (!s) break;
        const auto kind = static_cast<TcpLayer::IcmpKind>(in.u8() % 7);
        layer.process_icmp_error(now, kUs, kPeer, s->local().port, s->remote().port,
                                 shift(s->snd_una(), in.delta()), kind, in.u16());
        break;
      }
      case 10:  // time passes a little
        now += Duration::from_millis(in.u8() * 4);
        break;
      case 11:  // time jumps to the next deadline
        if (auto t = layer.poll_at()) now = std::max(now, *t);
        break;
    }
    peer.dispatch();
    if (debug) {
      std::fprintf(stderr, "step %d: op %u\n", steps, op % 12);
      print_sockets(layer, now, "  ");
    }
  }

  // The application closes everything; the peer falls silent. Time must free every socket and
  // every TIME-WAIT record.
  for (const SocketId id : conns) layer.close(id);
  if (listener) layer.close(*listener);
  const Instant end = now + Duration::from_secs(4 * 3600);
  for (int guard = 0; guard < 200000 && (layer.socket_count() > 0 || layer.time_wait_count() > 0) && now < end;
       ++guard) {
    peer.dispatch();
    const auto t = layer.poll_at();
    if (!t) break;
    now = std::max(now + Duration::from_millis(1), *t);
  }
  if (layer.time_wait_count() != 0) __builtin_trap();  // TIME-WAIT records expire too
  if (layer.socket_count() != 0) {
    if (debug) print_sockets(layer, now, "left");
    __builtin_trap();  // a socket nothing will ever free
  }
  return 0;
}
