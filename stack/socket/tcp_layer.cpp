// TcpLayer: RFC 9293 §3.10.7.1 (no connection), §3.10.7.2 (LISTEN), demultiplexing, ISNs
// (RFC 6528), ephemeral ports (RFC 6056) and the user calls.
#include "stack/socket/tcp_layer.hpp"

#include <algorithm>
#include <array>
#include <limits>

namespace stack::socket {

const char* to_string(ConnectError e) {
  switch (e) {
    case ConnectError::InvalidAddress: return "invalid address";
    case ConnectError::NoEphemeralPorts: return "no ephemeral port available";
    case ConnectError::TooManySockets: return "too many sockets";
  }
  return "?";
}
const char* to_string(ListenError e) {
  switch (e) {
    case ListenError::InvalidPort: return "invalid port";
    case ListenError::AddressInUse: return "address in use";
    case ListenError::TooManySockets: return "too many sockets";
  }
  return "?";
}
const char* to_string(SendError e) {
  switch (e) {
    case SendError::BadSocket: return "bad socket";
    case SendError::InvalidState: return "not connected or already shut down";
    case SendError::ConnectionFailed: return "connection failed";
  }
  return "?";
}
const char* to_string(RecvError e) {
  switch (e) {
    case RecvError::BadSocket: return "bad socket";
    case RecvError::InvalidState: return "not connected";
    case RecvError::WouldBlock: return "no data yet";
    case RecvError::ConnectionFailed: return "connection failed";
  }
  return "?";
}

namespace {
void put32(std::vector<std::byte>& b, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<std::byte>(v >> s));
}
bool bad_remote(wire::Ipv4Address a) { return a.is_unspecified() || a.is_broadcast() || a.is_multicast(); }
}  // namespace

TcpLayer::TcpLayer(Config config) : config_(validated(config)), key_{config.secret_key[0], config.secret_key[1]} {}

// Settings that would make arithmetic undefined later are put right once, here: the MTU into
// 68..65535 (RFC 791 §3.2; MSS = MTU - 40 must stay positive), and an empty or inverted
// ephemeral range (the port search would never end) back to the RFC 6056 §3.2 default.
TcpLayer::Config TcpLayer::validated(Config c) {
  c.mtu = std::max<std::uint16_t>(c.mtu, 68);
  if (c.ephemeral_first == 0 || c.ephemeral_last < c.ephemeral_first) {
    c.ephemeral_first = 32768;
    c.ephemeral_last = 60999;
  }
  if (c.max_sockets == 0) c.max_sockets = 1;
  return c;
}

TcpContext TcpLayer::context(Instant now) {
  last_now_ = now;
  return TcpContext{now, config_, counters_, on_event, rst_queue_, link_busy_};
}

TcpSocket* TcpLayer::find(SocketId id) {
  auto it = sockets_.find(id);
  if (it == sockets_.end()) return nullptr;
  touch(id);
  return it->second.get();
}

TcpSocket& TcpLayer::at(SocketId id) {
  TcpSocket& s = *sockets_.at(id);
  touch(id);
  return s;
}

// --- which sockets have work ---
//
// A socket changes only through this layer, and every access that may change it goes through
// find() or at(), which mark it. Marked sockets have their own poll_at() taken again before the
// layer's poll_at() or dispatch() answers (an instant at or before `now`: output pending), into
// `timers_`, ordered by instant. dispatch() visits the marked and the due sockets only, and
// sweep() looks only at the marked ones, so an idle connection costs nothing per segment or per
// turn of the caller's loop: the table grows to 100,000 connections without every packet
// walking it.
void TcpLayer::touch(SocketId id) const {
  touched_.push_back(id);
  unswept_.push_back(id);
}

void TcpLayer::refresh_timers() const {
  std::sort(touched_.begin(), touched_.end());
  touched_.erase(std::unique(touched_.begin(), touched_.end()), touched_.end());
  for (SocketId id : touched_) {
    const auto s = sockets_.find(id);
    const std::optional<Instant> t = s == sockets_.end() ? std::nullopt : s->second->poll_at(last_now_);
    if (auto old = timer_of_.find(id); old != timer_of_.end()) {
      if (t && *t == old->second) continue;
      timers_.erase({old->second, id});
      timer_of_.erase(old);
    }
    if (t) {
      timers_.emplace(*t, id);
      timer_of_.emplace(id, *t);
    }
  }
  touched_.clear();
}

const TcpSocket* TcpLayer::tcb(SocketId id) const {
  auto it = sockets_.find(id);
  return it == sockets_.end() ? nullptr : it->second.get();
}

// RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey), where M is a
// timer ticking every 4 microseconds and F a keyed PRF (SipHash-2-4 here).
SeqNum TcpLayer::initial_sequence_number(Instant now, const ConnKey& k) const {
  std::vector<std::byte> in;
  put32(in, k.local_addr);
  put32(in, k.remote_addr);
  put32(in, (std::uint32_t{k.local_port} << 16) | k.remote_port);
  const auto m = static_cast<std::uint32_t>(now.micros() / 4);
  return SeqNum{m + static_cast<std::uint32_t>(siphash24(key_, in))};
}

// RFC 7323 §5.4 / §7.1: a per-connection random offset for TSval, so timestamps reveal neither
// uptime nor a host-wide clock.
std::uint32_t TcpLayer::timestamp_offset(const ConnKey& k) const {
  std::vector<std::byte> in;
  put32(in, 0x54537661);  // "TSva": domain separation from the ISN input
  put32(in, k.local_addr);
  put32(in, k.remote_addr);
  put32(in, (std::uint32_t{k.local_port} << 16) | k.remote_port);
  return static_cast<std::uint32_t>(siphash24(key_, in) >> 32);
}

// RFC 6056 §3.3.4, Algorithm 4 ("Double-Hash Port Selection"):
//   offset = F(local_IP, remote_IP, remote_port, secret_key1)
//   index  = G(local_IP, remote_IP, remote_port, secret_key2)
//   port   = min_ephemeral + (offset + table[index]) % num_ephemeral, table[index]++ per try.
std::optional<std::uint16_t> TcpLayer::pick_ephemeral_port(wire::Ipv4Address local, wire::Ipv4Address remote,
                                                           std::uint16_t remote_port) {
  std::vector<std::byte> in;
  put32(in, local.value);
  put32(in, remote.value);
  put32(in, remote_port);
  const std::uint64_t offset = siphash24(key_, in);
  const SipKey key2{key_.k1 ^ 0x5bd1e9955bd1e995ull, key_.k0};
  const std::size_t index = siphash24(key2, in) % port_table_.size();
  const std::uint32_t num = std::uint32_t{config_.ephemeral_last} - config_.ephemeral_first + 1;
  for (std::uint32_t count = 0; count < num; ++count) {
    const auto port = static_cast<std::uint16_t>(config_.ephemeral_first + (offset + port_table_[index]) % num);
    ++port_table_[index];
    const ConnKey key{local.value, port, remote.value, remote_port};
    bool listening = false;
    for (const auto& [id, l] : listeners_) listening |= l.local.port == port;
    if (!connections_.contains(key) && !time_wait_.contains(key) && !listening) return port;
  }
  return std::nullopt;
}

// --- ingress ---

void TcpLayer::process(Instant now, wire::Ipv4Address src, wire::Ipv4Address dst,
                       std::span<const std::byte> segment, bool checksum_vouched) {
  TcpContext ctx = context(now);
  ++counters_.segments_in;
  auto view = wire::tcp::View::checked(segment);
  if (!view) {
    ctx.drop(std::nullopt, TcpDrop::Malformed);
    return;
  }
  // RFC 9293 §3.1 MUST-2/3: verify the checksum; a bad one is dropped silently. One the device
  // vouched for was made or verified by the kernel that handed it over (a frame that never left
  // the machine, its checksum completed by the driver): a second pass over the bytes is skipped.
  if (!checksum_vouched && !view->verify_checksum(src, dst)) {
    ctx.drop(std::nullopt, TcpDrop::BadChecksum);
    return;
  }
  auto seg = wire::tcp::Repr::parse(*view);
  if (!seg) {
    ctx.drop(std::nullopt, TcpDrop::Malformed);
    return;
  }
  // RFC 1122 §4.2.3.10: segments from or to a broadcast/multicast address are not for a
  // connection; port 0 is reserved.
  if (bad_remote(src) || dst.is_broadcast() || dst.is_multicast() || seg->src_port == 0 || seg->dst_port == 0) {
    ctx.drop(std::nullopt, TcpDrop::BadAddress);
    return;
  }
  const ConnKey key{dst.value, seg->dst_port, src.value, seg->src_port};
  expire_time_wait(now);
  if (auto tw = time_wait_.find(key); tw != time_wait_.end()) {
    const bool listening = find_listener(dst, seg->dst_port).has_value();
    if (time_wait_input(ctx, tw, key, *seg, listening)) return;
  }
  if (auto it = connections_.find(key); it != connections_.end()) {
    TcpSocket& s = at(it->second);
    if (s.state() == TcpState::TimeWait && seg->flags.syn && !seg->ack && !seg->flags.rst) {
      // RFC 9293 §3.10.7.4 MAY-2 / RFC 6191: a new SYN for a 4-tuple in TIME-WAIT may start a
      // new incarnation when it is provably newer and someone listens on the port; otherwise a
      // SYN that is not newer is "silently dropped", and one with no listener falls through to
      // the socket (challenge ACK, RFC 5961 §4).
      const bool listening = find_listener(dst, seg->dst_port).has_value();
      if (listening && s.time_wait_accepts_syn(*seg, config_.timestamps && seg->timestamps.has_value())) {
        // The old TCB is deleted; the 4-tuple is free for listen_input below. (The socket object
        // lives on, CLOSED, until its owner releases the handle.)
        s.end_time_wait(ctx);
        connections_.erase(it);
        ++counters_.time_wait_reused;
      } else if (listening) {
        ctx.drop(it->second, TcpDrop::TimeWaitOldSyn);
        return;
      }
    }
  }
  if (auto it = connections_.find(key); it != connections_.end()) {
    TcpSocket& s = at(it->second);
    if (cookie_supersedes(ctx, s, key, *seg)) {
      // The half-open connection is deleted without a segment, and the connection the peer
      // really has is rebuilt from its cookie. The peer's ISN is the one the half-open
      // connection was made from (the same SYN), so this works whichever of the peer's segments
      // comes first, not only the one at ISN + 1.
      const SocketId lid = *s.listener();
      const SeqNum peer_isn = s.irs();
      s.forget(ctx);
      s.release_handle();
      connections_.erase(it);
      sweep();
      accept_cookie(ctx, lid, listeners_.at(lid), src, dst, *seg, peer_isn);
      sweep();
      return;
    } else if (s.state() != TcpState::Closed) {
      s.process(ctx, *seg);
      after_socket_event(s);
      sweep();
      return;
    }
  }
  if (const auto lid = find_listener(dst, seg->dst_port)) {
    listen_input(ctx, *lid, listeners_.at(*lid), src, dst, *seg);
    sweep();
    return;
  }
  closed_input(ctx, src, dst, *seg, "no socket");
}

// A listener on this exact address first, then one on any address.
std::optional<SocketId> TcpLayer::find_listener(wire::Ipv4Address dst, std::uint16_t port) const {
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& [lid, l] : listeners_) {
      if (l.local.port != port) continue;
      if (pass == 0 ? l.local.addr != dst : !l.local.addr.is_unspecified()) continue;
      return lid;
    }
  }
  return std::nullopt;
}

// RFC 9293 §3.10.7.1: "If the state is CLOSED (i.e., TCB does not exist) ..."
void TcpLayer::closed_input(TcpContext& ctx, wire::Ipv4Address src, wire::Ipv4Address dst,
                            const wire::tcp::Repr& seg, const char* why) {
  ctx.drop(std::nullopt, TcpDrop::NoSocket);
  // "An incoming segment containing a RST is discarded."
  if (seg.flags.rst) return;
  if (rst_queue_.size() >= config_.max_queued_rsts) {
    ctx.drop(std::nullopt, TcpDrop::RstQueueFull);
    return;
  }
  wire::tcp::Repr rst;
  rst.src_port = seg.dst_port;
  rst.dst_port = seg.src_port;
  rst.flags.rst = true;
  if (seg.ack) {
    // "If the ACK bit is on, <SEQ=SEG.ACK><CTL=RST>"
    rst.seq = *seg.ack;
  } else {
    // "If the ACK bit is off, sequence number zero is used, <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>"
    rst.seq = SeqNum{0};
    rst.ack = seg.seq + seg.segment_len();
  }
  rst_queue_.push_back(TcpOutgoing{dst, src, rst});
  ++counters_.rst_sent;
  ctx.event(tcp_event::RstSent{std::nullopt, std::string(why) + " for port " + std::to_string(seg.dst_port)});
}

// RFC 9293 §3.10.7.2: "If the state is LISTEN, then ..."
void TcpLayer::listen_input(TcpContext& ctx, SocketId lid, Listener& l, wire::Ipv4Address src, wire::Ipv4Address dst,
                            const wire::tcp::Repr& seg) {
  // ---- first, check for a RST: "An incoming RST segment could not be valid since it could not
  // have been sent in response to anything sent by this incarnation of the connection. An
  // incoming RST should be ignored." ----
  if (seg.flags.rst) {
    ctx.drop(lid, TcpDrop::ListenNotSyn);
    return;
  }
  // ---- second, check for an ACK: "Any acknowledgment is bad if it arrives on a connection
  // still in the LISTEN state. An acceptable reset segment should be formed ... <SEQ=SEG.ACK><CTL=RST>" ----
  if (seg.ack) {
    // A completing handshake whose SYN-ACK went out as a SYN cookie (RFC 4987 §3.6) comes back
    // here, to the listener: no half-open socket was kept for it.
    if (!seg.flags.syn && accept_cookie(ctx, lid, l, src, dst, seg, seg.seq - 1)) return;
    closed_input(ctx, src, dst, seg, "ACK to a listener");
    return;
  }
  // ---- third, check for a SYN ----
  if (!seg.flags.syn || seg.flags.fin) {
    // ---- fourth, other control or text: "drop the segment and return" (SYN+FIN included:
    // docs/hostile-inputs.md #42, no state for junk) ----
    ctx.drop(lid, TcpDrop::ListenNotSyn);
    return;
  }
  // docs/hostile-inputs.md #57: half-open plus not-yet-accepted connections are bounded by the
  // backlog. Each reason is counted on its own: an application that does not accept (accept
  // queue), a flood of SYNs (SYN queue), the whole layer at its limit (socket table).
  if (l.accept_queue.size() >= l.backlog) {
    ctx.drop(lid, TcpDrop::AcceptQueueFull);
    return;
  }
  if (sockets_.size() >= config_.max_sockets) {
    ctx.drop(lid, TcpDrop::SocketTableFull);
    return;
  }
  if (l.half_open.size() + l.accept_queue.size() >= l.backlog) {
    // RFC 4987 §3.6: the SYN queue is full (a flood, or just a burst): answer with a cookie and
    // keep nothing, so legitimate clients still complete their handshakes.
    if (config_.syn_cookies) send_cookie(ctx, lid, src, dst, seg);
    else ctx.drop(lid, TcpDrop::SynQueueFull);
    return;
  }
  const SocketId id = next_id_++;
  auto sock = std::make_unique<TcpSocket>(id, config_);
  const ConnKey key{dst.value, seg.dst_port, src.value, seg.src_port};
  sock->open_passive(ctx, TcpEndpoint{dst, seg.dst_port}, TcpEndpoint{src, seg.src_port}, seg,
                     initial_sequence_number(ctx.now, key), timestamp_offset(key), lid);
  // NOT IMPLEMENTED(RFC 9293 §3.10.7.2 third): data carried on the SYN is not queued; it is
  // not acknowledged, so the peer sends it again after the handshake.
  connections_[key] = id;
  l.half_open.insert(id);
  sockets_[id] = std::move(sock);
  touch(id);
}

// --- SYN cookies (RFC 4987 §3.6) -------------------------------------------------------------
//
// The ISN of a cookie SYN-ACK carries what the listener would otherwise have kept, as in the
// classic construction RFC 4987 §3.6 describes:
//   bits 31..27  t mod 32, t = the time in 64-second periods (a cookie is good for two periods)
//   bits 26..24  the MSS, as an index into kCookieMss (the largest entry not above the peer's)
//   bits 23..0   a keyed hash (SipHash-2-4, the layer's secret) of the 4-tuple, the peer's ISN
//                and t, so that only we can make a cookie and only for this connection
// The ACK that completes the handshake brings it back as SEG.ACK - 1 (and the peer's ISN as
// SEG.SEQ - 1). With timestamps (RFC 7323), the low 6 bits of our TSval carry the peer's window
// scale (4 bits, 15 = none) and SACK-permitted (1 bit), and come back in TSecr, as Linux does;
// without timestamps the cookie SYN-ACK offers neither option, since nothing could bring them
// back. What a cookie loses, as in every stack: options beyond these, and data on the SYN.
namespace {
constexpr std::array<std::uint16_t, 8> kCookieMss = {216, 536, 1200, 1360, 1400, 1440, 1452, 1460};
constexpr std::int64_t kCookiePeriodMicros = 64'000'000;
constexpr std::uint32_t kCookieTsMask = 0x3f;
}  // namespace

std::uint32_t TcpLayer::cookie_hash(const ConnKey& k, SeqNum peer_isn, std::uint64_t period) const {
  std::vector<std::byte> in;
  put32(in, 0x53594e43);  // "SYNC": domain separation from the ISN and timestamp inputs
  put32(in, k.local_addr);
  put32(in, k.remote_addr);
  put32(in, (std::uint32_t{k.local_port} << 16) | k.remote_port);
  put32(in, peer_isn.raw);
  put32(in, static_cast<std::uint32_t>(period));
  return static_cast<std::uint32_t>(siphash24(key_, in)) & 0x00ffffffu;
}

SeqNum TcpLayer::make_cookie(Instant now, const ConnKey& k, SeqNum peer_isn, unsigned mss_index) const {
  const auto period = static_cast<std::uint64_t>(now.micros() / kCookiePeriodMicros);
  return SeqNum{static_cast<std::uint32_t>((period & 31u) << 27) | ((mss_index & 7u) << 24) |
                cookie_hash(k, peer_isn, period)};
}

std::optional<unsigned> TcpLayer::check_cookie(Instant now, const ConnKey& k, SeqNum peer_isn, SeqNum cookie) const {
  const auto period = static_cast<std::uint64_t>(now.micros() / kCookiePeriodMicros);
  for (std::uint64_t age = 0; age < 2 && age <= period; ++age) {
    const std::uint64_t p = period - age;
    if ((cookie.raw >> 27) != (p & 31u)) continue;
    if ((cookie.raw & 0x00ffffffu) == cookie_hash(k, peer_isn, p)) return (cookie.raw >> 24) & 7u;
  }
  return std::nullopt;
}

void TcpLayer::send_cookie(TcpContext& ctx, SocketId lid, wire::Ipv4Address src, wire::Ipv4Address dst,
                           const wire::tcp::Repr& seg) {
  if (rst_queue_.size() >= config_.max_queued_rsts) {
    ctx.drop(lid, TcpDrop::RstQueueFull);  // the stateless queue is rate-limited like RSTs
    return;
  }
  const ConnKey key{dst.value, seg.dst_port, src.value, seg.src_port};
  wire::tcp::Repr syn = seg;
  syn.payload = {};
  const bool ts = config_.timestamps && syn.timestamps.has_value();
  if (!ts) {
    syn.window_scale.reset();
    syn.sack_permitted = false;
  }
  const std::uint16_t ours = static_cast<std::uint16_t>(config_.mtu - 40);
  const std::uint16_t theirs = std::min(syn.mss.value_or(536), ours);
  unsigned index = 0;
  for (unsigned i = 0; i < kCookieMss.size(); ++i)
    if (kCookieMss[i] <= theirs) index = i;
  syn.mss = kCookieMss[index];
  const SeqNum cookie = make_cookie(ctx.now, key, seg.seq, index);
  // The SYN-ACK is the one a real socket would send (same options, window and scale): a socket
  // is opened on the side, quietly, asked for its SYN-ACK, and forgotten.
  TcpCounters quiet_counters;
  const std::function<void(const TcpEvent&)> quiet_events;
  std::deque<TcpOutgoing> quiet_queue;
  const bool quiet_link_busy = false;
  TcpContext quiet{ctx.now, config_, quiet_counters, quiet_events, quiet_queue, quiet_link_busy};
  TcpSocket probe(0, config_);
  probe.open_passive(quiet, TcpEndpoint{dst, seg.dst_port}, TcpEndpoint{src, seg.src_port}, syn, cookie,
                     timestamp_offset(key), lid);
  std::optional<TcpOutgoing> synack;
  probe.dispatch(quiet, scratch_, [&](const TcpOutgoing& o) {
    synack = o;
    synack->repr.payload = {};
  });
  if (!synack) return;
  if (ts && synack->repr.timestamps) {
    const std::uint32_t ws = syn.window_scale ? std::min<std::uint32_t>(*syn.window_scale, 14) : 0xf;
    const std::uint32_t bits = ws | (syn.sack_permitted ? 0x10u : 0u);
    synack->repr.timestamps->first = (synack->repr.timestamps->first & ~kCookieTsMask) | bits;
  }
  rst_queue_.push_back(*synack);
  ++counters_.syncookies_sent;
}

// `peer_isn` is the ISN of the SYN the cookie answered: SEG.SEQ - 1 for the ACK that completes
// the handshake (all a listener without state can assume), or a superseded half-open
// connection's IRS.
bool TcpLayer::accept_cookie(TcpContext& ctx, SocketId lid, Listener& l, wire::Ipv4Address src, wire::Ipv4Address dst,
                             const wire::tcp::Repr& seg, SeqNum peer_isn) {
  if (!config_.syn_cookies || seg.flags.rst) return false;
  const ConnKey key{dst.value, seg.dst_port, src.value, seg.src_port};
  const auto index = check_cookie(ctx.now, key, peer_isn, *seg.ack - 1);
  if (!index) {
    ++counters_.syncookies_failed;
    return false;
  }
  if (l.accept_queue.size() >= l.backlog) {
    ctx.drop(lid, TcpDrop::AcceptQueueFull);  // silently: the peer's retransmission may find room
    return true;
  }
  if (sockets_.size() >= config_.max_sockets) {
    ctx.drop(lid, TcpDrop::SocketTableFull);
    return true;
  }
  // The SYN the cookie stands for, rebuilt from what came back.
  wire::tcp::Repr syn;
  syn.src_port = seg.src_port;
  syn.dst_port = seg.dst_port;
  syn.seq = peer_isn;
  syn.flags.syn = true;
  syn.window_raw = seg.window_raw;
  syn.mss = kCookieMss[*index];
  if (config_.timestamps && seg.timestamps) {
    const std::uint32_t echoed = seg.timestamps->second;
    syn.timestamps = std::pair{seg.timestamps->first, 0u};
    if ((echoed & 0xf) != 0xf) syn.window_scale = static_cast<std::uint8_t>(echoed & 0xf);
    syn.sack_permitted = (echoed & 0x10) != 0;
  }
  ++counters_.syncookies_validated;
  const SocketId id = next_id_++;
  auto sock = std::make_unique<TcpSocket>(id, config_);
  sock->open_passive(ctx, TcpEndpoint{dst, seg.dst_port}, TcpEndpoint{src, seg.src_port}, syn, *seg.ack - 1,
                     timestamp_offset(key), lid);
  sock->syn_ack_sent_as_cookie();
  TcpSocket& s = *sock;
  connections_[key] = id;
  l.half_open.insert(id);
  sockets_[id] = std::move(sock);
  touch(id);
  s.process(ctx, seg);  // SYN-RECEIVED -> ESTABLISHED, and any data the ACK carries
  after_socket_event(s);
  return true;
}

// A SYN made a half-open connection (SYN-RECEIVED) for a 4-tuple whose peer had already
// completed a handshake with one of our SYN cookies: typically an old duplicate of the SYN that
// got the cookie, arriving after the cookie's SYN-ACK was answered. The peer's next segment then
// acknowledges the cookie, not this connection's ISS. RFC 9293 §3.10.7.4 (fifth, SYN-RECEIVED)
// would answer the unacceptable ACK with <SEQ=SEG.ACK><CTL=RST>, and SEG.ACK is exactly in the
// peer's window: the RST would reset the connection the peer holds with us. A valid cookie in
// SEG.ACK - 1 proves that connection exists (only we can make one, for this 4-tuple and this
// peer ISN, RFC 4987 §3.6; the peer ISN is the half-open connection's IRS, so any of the peer's
// segments proves it, even when the first one is late), so it wins: the half-open connection goes, and the listener takes the
// segment. Linux does the same, where an ACK that does not match a request socket is handed to
// the listener, which checks it for a cookie.
bool TcpLayer::cookie_supersedes(TcpContext& ctx, const TcpSocket& s, const ConnKey& key,
                                 const wire::tcp::Repr& seg) {
  if (!config_.syn_cookies || s.state() != TcpState::SynReceived || !s.listener()) return false;
  if (!seg.ack || seg.flags.syn || seg.flags.rst || *seg.ack == s.iss() + 1) return false;
  if (!listeners_.contains(*s.listener())) return false;
  if (!check_cookie(ctx.now, key, s.irs(), *seg.ack - 1)) return false;
  ++counters_.syncookies_superseded;
  return true;
}

void TcpLayer::after_socket_event(TcpSocket& s) {
  if (!s.listener()) return;
  auto lit = listeners_.find(*s.listener());
  if (lit == listeners_.end()) return;
  Listener& l = lit->second;
  if (!l.half_open.contains(s.id())) return;
  if (s.state() == TcpState::SynReceived) return;
  l.half_open.erase(s.id());
  if (s.state() != TcpState::Closed) {
    // Handshake complete: the connection waits for accept(), which hands out the handle.
    l.accept_queue.push_back(s.id());
  } else {
    s.release_handle();  // died half-open: nobody will ever accept it
  }
}

// Frees the sockets that are CLOSED and released; only a socket marked since the last sweep can
// have become one.
void TcpLayer::sweep() {
  std::vector<SocketId> ids;
  ids.swap(unswept_);
  for (SocketId id : ids) {
    auto it = sockets_.find(id);
    if (it == sockets_.end()) continue;
    TcpSocket& s = *it->second;
    if (s.state() == TcpState::Closed && s.user_released()) {
      const ConnKey key{s.local().addr.value, s.local().port, s.remote().addr.value, s.remote().port};
      if (auto c = connections_.find(key); c != connections_.end() && c->second == s.id()) connections_.erase(c);
      if (s.listener()) {
        if (auto l = listeners_.find(*s.listener()); l != listeners_.end()) l->second.half_open.erase(s.id());
      }
      sockets_.erase(it);
      touched_.push_back(id);  // its timer goes at the next refresh
    }
  }
}

// --- TIME-WAIT records ---
//
// RFC 9293 §3.10.7.4 for TIME-WAIT, with the socket gone: a retransmitted FIN is ACKed and
// restarts the 2 MSL timer; a RST is ignored (RFC 1337 §3); a SYN may open a new incarnation
// (RFC 6191 §2) when someone listens, is silently dropped when it is not newer, and with no
// listener gets an ACK (RFC 5961 §4); other text is answered with an ACK that restates where
// we are. A record is about 60 bytes plus its map node, instead of a socket with two rings.

void TcpLayer::keep_time_wait(const ConnKey& key, SocketId id, const TimeWaitState& state) {
  if (time_wait_.size() >= config_.max_time_wait) {
    // Full: the oldest record goes (Linux counts the same as "time wait bucket table overflow",
    // and new connections are never refused for it).
    while (!time_wait_order_.empty()) {
      const auto [at, old] = time_wait_order_.front();
      time_wait_order_.pop_front();
      auto it = time_wait_.find(old);
      if (it == time_wait_.end() || it->second.state.expires != at) continue;  // stale entry
      time_wait_.erase(it);
      ++counters_.time_wait_evicted;
      break;
    }
  }
  time_wait_[key] = TimeWaitRecord{state, id};
  time_wait_order_.emplace_back(state.expires, key);
}

std::optional<TimeWaitState> TcpLayer::time_wait_record(TcpEndpoint local, TcpEndpoint remote) const {
  auto it = time_wait_.find(ConnKey{local.addr.value, local.port, remote.addr.value, remote.port});
  if (it == time_wait_.end()) return std::nullopt;
  return it->second.state;
}

bool TcpLayer::time_wait_input(TcpContext& ctx, std::map<ConnKey, TimeWaitRecord>::iterator it, const ConnKey& key,
                               const wire::tcp::Repr& seg, bool listening) {
  TimeWaitRecord& r = it->second;
  if (seg.flags.rst) {
    ctx.drop(r.id, TcpDrop::TimeWaitRst);  // RFC 1337 §3: no TIME-WAIT assassination
    return true;
  }
  if (seg.flags.syn && !seg.ack) {
    const bool new_uses_ts = config_.timestamps && seg.timestamps.has_value();
    if (listening && syn_opens_new_incarnation(r.state.rcv_nxt, r.state.ts_ok ? std::optional{r.state.ts_recent}
                                                                              : std::nullopt,
                                               seg, new_uses_ts)) {
      if (on_event) on_event(tcp_event::StateChanged{r.id, TcpState::TimeWait, TcpState::Closed});
      time_wait_.erase(it);
      ++counters_.time_wait_reused;
      return false;  // the listener takes the SYN
    }
    if (listening) {
      ctx.drop(r.id, TcpDrop::TimeWaitOldSyn);
      return true;
    }
  }
  if (seg.flags.fin) {
    // "The only thing that can arrive in this state is a retransmission of the remote FIN.
    // Acknowledge it, and restart the 2 MSL timeout."
    r.state.expires = ctx.now + config_.time_wait;
    time_wait_order_.emplace_back(r.state.expires, key);
  } else if (seg.payload.empty() && !seg.flags.syn) {
    return true;  // a bare ACK: nothing to answer
  }
  if (rst_queue_.size() >= config_.max_queued_rsts) {
    ctx.drop(r.id, TcpDrop::RstQueueFull);  // the one-off queue is rate-limited like RSTs
    return true;
  }
  wire::tcp::Repr ack;
  ack.src_port = key.local_port;
  ack.dst_port = key.remote_port;
  ack.seq = r.state.snd_nxt;
  ack.ack = r.state.rcv_nxt;
  ack.window_raw = r.state.window;
  if (r.state.ts_ok) {
    ack.timestamps = std::pair{static_cast<std::uint32_t>(ctx.now.millis()) + r.state.ts_offset, r.state.ts_recent};
  }
  rst_queue_.push_back(TcpOutgoing{wire::Ipv4Address{key.local_addr}, wire::Ipv4Address{key.remote_addr}, ack});
  return true;
}

void TcpLayer::expire_time_wait(Instant now) {
  while (!time_wait_order_.empty() && time_wait_order_.front().first <= now) {
    const auto [at, key] = time_wait_order_.front();
    time_wait_order_.pop_front();
    auto it = time_wait_.find(key);
    if (it == time_wait_.end() || it->second.state.expires != at) continue;  // restarted or reused
    if (on_event) on_event(tcp_event::StateChanged{it->second.id, TcpState::TimeWait, TcpState::Closed});
    time_wait_.erase(it);
  }
}

void TcpLayer::process_icmp_error(Instant now, wire::Ipv4Address local, wire::Ipv4Address remote,
                                  std::uint16_t local_port, std::uint16_t remote_port, SeqNum seq, IcmpKind kind,
                                  std::uint16_t mtu) {
  TcpContext ctx = context(now);
  auto it = connections_.find(ConnKey{local.value, local_port, remote.value, remote_port});
  if (it == connections_.end()) {
    ctx.drop(std::nullopt, TcpDrop::IcmpNotInWindow);
    return;
  }
  TcpSocket& s = at(it->second);
  s.icmp_error(ctx, seq, kind, mtu);
  after_socket_event(s);
  sweep();
}

// --- egress ---

void TcpLayer::dispatch(Instant now, const std::function<void(const Outgoing&)>& emit) {
  TcpContext ctx = context(now);
  expire_time_wait(now);
  auto drain_rsts = [&] {
    while (!rst_queue_.empty()) {
      const TcpOutgoing out = rst_queue_.front();
      rst_queue_.pop_front();
      ++counters_.segments_out;
      emit(out);
    }
  };
  drain_rsts();
  const TcpSocket::Emit sink = emit;
  // The sockets marked since the last turn and those whose instant has come, in the order of
  // their ids (the order the whole table was once walked in); the others have nothing to do.
  std::vector<SocketId> visit(touched_.begin(), touched_.end());
  for (auto t = timers_.begin(); t != timers_.end() && t->first <= now; ++t) visit.push_back(t->second);
  std::sort(visit.begin(), visit.end());
  visit.erase(std::unique(visit.begin(), visit.end()), visit.end());
  for (SocketId id : visit) {
    TcpSocket* s = find(id);
    if (!s) continue;
    s->dispatch(ctx, scratch_, sink);
    after_socket_event(*s);
  }
  drain_rsts();
  // A connection nobody holds any more, in TIME-WAIT with its last ACK sent: it goes on as a
  // small record and the socket, its buffers and its congestion state are freed.
  for (SocketId id : visit) {
    auto it = sockets_.find(id);
    if (it == sockets_.end()) continue;
    TcpSocket& s = *it->second;
    if (s.state() == TcpState::TimeWait && s.user_released()) {
      const ConnKey key{s.local().addr.value, s.local().port, s.remote().addr.value, s.remote().port};
      if (auto c = connections_.find(key); c != connections_.end() && c->second == s.id()) connections_.erase(c);
      keep_time_wait(key, s.id(), s.time_wait_state());
      sockets_.erase(it);
    }
  }
  sweep();
  refresh_timers();
}

std::optional<Instant> TcpLayer::poll_at() const {
  if (!rst_queue_.empty()) return last_now_;
  std::optional<Instant> at;
  // The front of the order is the earliest expiry (or a stale entry, which only wakes us early).
  if (!time_wait_order_.empty()) at = time_wait_order_.front().first;
  refresh_timers();
  // With the link busy, a connection due at or before the last turn is one that holds its
  // output for the link (its timers were handled in that turn): the device wakes the loop.
  const auto next = link_busy_ ? timers_.upper_bound({last_now_, std::numeric_limits<SocketId>::max()}) : timers_.begin();
  if (next != timers_.end() && (!at || next->first < *at)) at = next->first;
  return at;
}

// --- the socket API ---

Result<SocketId, ConnectError> TcpLayer::connect(wire::Ipv4Address local, wire::Ipv4Address remote,
                                                 std::uint16_t remote_port, Instant now) {
  if (bad_remote(remote) || remote_port == 0 || local.is_unspecified()) return Err{ConnectError::InvalidAddress};
  if (sockets_.size() >= config_.max_sockets) return Err{ConnectError::TooManySockets};
  const auto port = pick_ephemeral_port(local, remote, remote_port);
  if (!port) return Err{ConnectError::NoEphemeralPorts};
  TcpContext ctx = context(now);
  const SocketId id = next_id_++;
  const ConnKey key{local.value, *port, remote.value, remote_port};
  auto sock = std::make_unique<TcpSocket>(id, config_);
  sock->open_active(ctx, TcpEndpoint{local, *port}, TcpEndpoint{remote, remote_port},
                    initial_sequence_number(now, key), timestamp_offset(key));
  connections_[key] = id;
  sockets_[id] = std::move(sock);
  touch(id);
  return id;
}

Result<SocketId, ListenError> TcpLayer::listen(wire::Ipv4Address local, std::uint16_t port, std::size_t backlog) {
  if (port == 0) return Err{ListenError::InvalidPort};
  for (const auto& [id, l] : listeners_) {
    if (l.local.port == port && (l.local.addr == local || l.local.addr.is_unspecified() || local.is_unspecified()))
      return Err{ListenError::AddressInUse};
  }
  if (sockets_.size() + listeners_.size() >= config_.max_sockets) return Err{ListenError::TooManySockets};
  const SocketId id = next_id_++;
  listeners_[id] = Listener{TcpEndpoint{local, port}, std::max<std::size_t>(backlog, 1), {}, {}};
  if (on_event) on_event(tcp_event::StateChanged{id, TcpState::Closed, TcpState::Listen});
  return id;
}

std::optional<SocketId> TcpLayer::accept(SocketId listener) {
  auto it = listeners_.find(listener);
  if (it == listeners_.end() || it->second.accept_queue.empty()) return std::nullopt;
  const SocketId id = it->second.accept_queue.front();
  it->second.accept_queue.pop_front();
  return id;
}

Result<std::size_t, SendError> TcpLayer::send(SocketId id, std::span<const std::byte> data) {
  // Marked only when it takes bytes: an application polling a full buffer changes nothing.
  auto it = sockets_.find(id);
  TcpSocket* s = it == sockets_.end() ? nullptr : it->second.get();
  if (!s || s->user_released()) return Err{SendError::BadSocket};
  if (s->error()) return Err{SendError::ConnectionFailed};
  switch (s->state()) {
    case TcpState::SynSent:
    case TcpState::SynReceived:
    case TcpState::Established:
    case TcpState::CloseWait:
      if (s->fin_queued()) return Err{SendError::InvalidState};
      if (data.empty()) return std::size_t{0};
      {
        // A full buffer may still grow (twice the congestion window): the socket decides.
        const std::size_t n = s->send(data);
        if (n > 0) touch(id);
        return n;
      }
    default:
      return Err{SendError::InvalidState};
  }
}

Result<std::size_t, RecvError> TcpLayer::recv(SocketId id, std::span<std::byte> out) {
  // Marked only when it reads (the window may open): an application polling an idle connection
  // changes nothing.
  auto it = sockets_.find(id);
  TcpSocket* s = it == sockets_.end() ? nullptr : it->second.get();
  if (!s || s->user_released()) return Err{RecvError::BadSocket};
  if (s->recv_queued() > 0) {
    touch(id);
    return s->recv(last_now_, out);
  }
  if (s->at_eof()) return std::size_t{0};
  if (s->error()) return Err{RecvError::ConnectionFailed};
  switch (s->state()) {
    case TcpState::SynSent:
    case TcpState::SynReceived:
    case TcpState::Established:
    case TcpState::FinWait1:
    case TcpState::FinWait2:
      return Err{RecvError::WouldBlock};
    default:
      return Err{RecvError::InvalidState};
  }
}

void TcpLayer::shutdown(SocketId id) {
  TcpSocket* s = find(id);
  if (!s || s->user_released()) return;
  TcpContext ctx = context(last_now_);
  s->shutdown(ctx);
}

void TcpLayer::close_handle(SocketId id) {
  TcpContext ctx = context(last_now_);
  if (auto l = listeners_.find(id); l != listeners_.end()) {
    // Connections nobody accepted are reset (RFC 9293 §3.10.4: CLOSE of a listener).
    std::vector<SocketId> orphans(l->second.half_open.begin(), l->second.half_open.end());
    orphans.insert(orphans.end(), l->second.accept_queue.begin(), l->second.accept_queue.end());
    listeners_.erase(l);
    for (SocketId child : orphans) {
      if (TcpSocket* s = find(child)) {
        s->abort(ctx);
        s->release_handle();
      }
    }
    if (on_event) on_event(tcp_event::StateChanged{id, TcpState::Listen, TcpState::Closed});
    sweep();
    return;
  }
  TcpSocket* s = find(id);
  if (!s || s->user_released()) return;
  if (s->recv_queued() > 0 && s->state() != TcpState::Closed) {
    // RFC 2525 §2.17 / RFC 9293 §3.10.4 note: closing with unread data sends a RST, so the peer
    // learns the data was lost.
    s->abort(ctx);
  } else {
    s->shutdown(ctx);
  }
  s->release_handle(ctx);
  sweep();
}

void TcpLayer::abort(SocketId id) {
  TcpSocket* s = find(id);
  if (!s || s->user_released()) return;
  TcpContext ctx = context(last_now_);
  s->abort(ctx);
  s->release_handle();
  sweep();
}

std::optional<TcpState> TcpLayer::state(SocketId id) const {
  if (listeners_.contains(id)) return TcpState::Listen;
  const TcpSocket* s = tcb(id);
  if (!s) return std::nullopt;
  return s->state();
}

bool TcpLayer::readable(SocketId id) const {
  if (auto l = listeners_.find(id); l != listeners_.end()) return !l->second.accept_queue.empty();
  const TcpSocket* s = tcb(id);
  return s && s->readable();
}

bool TcpLayer::writable(SocketId id) const {
  const TcpSocket* s = tcb(id);
  return s && s->writable();
}

std::optional<TcpError> TcpLayer::error(SocketId id) const {
  const TcpSocket* s = tcb(id);
  return s ? s->error() : std::nullopt;
}

void TcpLayer::set_nodelay(SocketId id, bool on) {
  if (TcpSocket* s = find(id)) s->set_nodelay(on);
}

void TcpLayer::set_keepalive(SocketId id, bool on) {
  if (TcpSocket* s = find(id)) {
    TcpContext ctx = context(last_now_);
    s->set_keepalive(ctx, on);
  }
}

std::vector<std::pair<std::string, std::uint64_t>> TcpLayer::stats() const {
  std::vector<std::pair<std::string, std::uint64_t>> out = {
      {"tcp.segments_in", counters_.segments_in},
      {"tcp.segments_out", counters_.segments_out},
      {"tcp.retransmitted", counters_.retransmitted},
      {"tcp.rto_expired", counters_.rto_expired},
      {"tcp.fast_retransmits", counters_.fast_retransmits},
      {"tcp.sack_recoveries", counters_.sack_recoveries},
      {"tcp.spurious_retransmits", counters_.spurious_retransmits},
      {"tcp.rack_lost", counters_.rack_lost},
      {"tcp.tlp_probes", counters_.tlp_probes},
      {"tcp.tlp_recoveries", counters_.tlp_recoveries},
      {"tcp.dsacks_received", counters_.dsacks_received},
      {"tcp.dsack_undos", counters_.dsack_undos},
      {"tcp.link_busy_holds", counters_.link_busy_holds},
      {"tcp.rto_held", counters_.rto_held},
      {"tcp.rst_sent", counters_.rst_sent},
      {"tcp.rst_received", counters_.rst_received},
      {"tcp.time_wait_reused", counters_.time_wait_reused},
      {"tcp.time_wait_evicted", counters_.time_wait_evicted},
      {"tcp.time_wait_records", time_wait_.size()},
      {"tcp.syncookies_sent", counters_.syncookies_sent},
      {"tcp.syncookies_validated", counters_.syncookies_validated},
      {"tcp.syncookies_failed", counters_.syncookies_failed},
      {"tcp.syncookies_superseded", counters_.syncookies_superseded},
      {"tcp.challenge_acks", counters_.challenge_acks},
      {"tcp.active_opens", counters_.active_opens},
      {"tcp.passive_opens", counters_.passive_opens},
      {"tcp.window_probes", counters_.window_probes},
      {"tcp.sack_reneged", counters_.sack_reneged},
      {"tcp.sws_overrides", counters_.sws_overrides},
      {"tcp.orphans_timed_out", counters_.orphans_timed_out},
      {"tcp.keepalive_probes", counters_.keepalive_probes},
  };
  for (std::size_t i = 0; i < kTcpDropCount; ++i)
    out.emplace_back(counter_name(static_cast<TcpDrop>(i)), counters_.drops[i]);
  return out;
}

}  // namespace stack::socket
