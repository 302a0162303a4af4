// The TCP layer of one host: demultiplexing, listeners, ISNs, ephemeral ports and the socket API.
//
// Read first: RFC 9293 §3.10 (event processing), §3.10.7.1–2 (segments for no connection and for
// a listener); RFC 6528 (ISNs); RFC 6056 (ephemeral ports); RFC 5961 (blind attacks). The
// per-connection protocol is in tcp_socket.hpp, tcp_input.cpp and tcp_output.cpp.
//
// API, as the interface (iface) and applications use it. One object per host, no globals, so
// two stacks live in one process; everything is driven by the caller's `now`.
//
//   TcpLayer tcp(TcpLayer::Config{...secret_key from the app's random source...});
//   tcp.on_event = [](const TcpEvent& e) { ... describe(e) ... };   // optional narrator hook
//
//   Ingress  process(now, src, dst, segment_bytes)    raw TCP segment (header + payload) of an IPv4
//                                                     packet addressed to us; the layer verifies the
//                                                     checksum with the pseudo-header, demuxes, and
//                                                     queues RSTs for segments nobody wants.
//            process_icmp_error(now, local, remote, local_port, remote_port, seq, kind, mtu)
//   Egress   dispatch(now, emit)                      emit(const TcpOutgoing&) once per segment ready
//                                                     now; repr.payload is valid during the call only.
//                                                     Build the IPv4 packet with repr.buffer_len()
//                                                     bytes of TCP and call repr.emit(view, src, dst).
//   Timers   poll_at()                                earliest instant dispatch() has work; an instant
//                                                     at or before the last `now` means "right away".
//   Sockets  connect(local_ip, remote_ip, remote_port, now) -> Result<SocketId, ConnectError>
//            listen(local_ip or any, port, backlog)      -> Result<SocketId, ListenError>
//            accept(listener)                            -> optional<SocketId>
//            send(id, bytes)  -> Result<size_t, SendError>   bytes queued (0: buffer full)
//            recv(id, out)    -> Result<size_t, RecvError>   0 means end of stream (peer's FIN)
//            shutdown(id)  half-close: FIN after queued data     close(id)  release the handle
//            abort(id)     RST now                               state(id), readable(id), writable(id),
//            error(id) -> optional<TcpError> {Refused, Reset, TimedOut, Unreachable}
//            set_nodelay(id, bool), set_keepalive(id, bool), set_mtu(mtu) (MSS = MTU - 40)
//   Counters stats() -> [(name, value)]: traffic and every drop reason (TcpDrop).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "stack/socket/tcp_socket.hpp"
#include "stack/time.hpp"
#include "stack/util/result.hpp"
#include "stack/util/siphash.hpp"
#include "stack/wire/ip_address.hpp"
#include "stack/wire/tcp.hpp"

namespace stack::socket {

enum class ConnectError { InvalidAddress, NoEphemeralPorts, TooManySockets };
enum class ListenError { InvalidPort, AddressInUse, TooManySockets };
enum class SendError { BadSocket, InvalidState, ConnectionFailed };
enum class RecvError { BadSocket, InvalidState, WouldBlock, ConnectionFailed };
const char* to_string(ConnectError e);
const char* to_string(ListenError e);
const char* to_string(SendError e);
const char* to_string(RecvError e);

// One connection in TIME-WAIT after its socket was freed (tcp_layer.cpp "TIME-WAIT records").
struct TimeWaitRecord {
  TimeWaitState state;
  SocketId id;  // for the narrator's "TIME-WAIT -> CLOSED" line
};

class TcpLayer {
 public:
  using Outgoing = TcpOutgoing;
  using IcmpKind = TcpSocket::IcmpKind;

  struct Config : TcpConfig {
    // RFC 6528 / RFC 6056 secret, from the application's random source. All-zero is refused by
    // nothing here, but the app must not ship it (docs/hostile-inputs.md #55).
    std::uint64_t secret_key[2] = {0, 0};
    // RFC 6056 §3.2: the ephemeral range; Linux's default 32768–60999.
    std::uint16_t ephemeral_first = 32768;
    std::uint16_t ephemeral_last = 60999;
    std::size_t max_sockets = 65536;
    // TIME-WAIT records, kept apart from the socket table (Linux: tcp_max_tw_buckets). A
    // connection the application has let go of keeps only a small record in TIME-WAIT, so a
    // server that closes first is limited by this, not by max_sockets; when it is full, the
    // oldest record goes (tcp.time_wait_evicted), never a new connection.
    std::size_t max_time_wait = 131072;
    std::size_t max_queued_rsts = 64;  // RFC 9293 §3.10.7.1 RST rate limit, per dispatch
  };

  explicit TcpLayer(Config config);
  TcpLayer(const TcpLayer&) = delete;  // sockets keep a reference to config_
  TcpLayer& operator=(const TcpLayer&) = delete;

  // --- packets ---
  // `checksum_vouched`: the device vouched for the checksum (the kernel made or verified it), so
  // it is not summed again here.
  void process(Instant now, wire::Ipv4Address src, wire::Ipv4Address dst, std::span<const std::byte> segment,
               bool checksum_vouched = false);
  void process_icmp_error(Instant now, wire::Ipv4Address local, wire::Ipv4Address remote, std::uint16_t local_port,
                          std::uint16_t remote_port, SeqNum seq, IcmpKind kind, std::uint16_t mtu = 0);
  void dispatch(Instant now, const std::function<void(const Outgoing&)>& emit);
  std::optional<Instant> poll_at() const;
  // Back-pressure from the device (drivers/device.hpp, tx_blocked()): while the link is busy,
  // connections send no data, retransmissions or probes (ACKs still go) and hold their
  // retransmission timeouts, and poll_at() does not name a connection that waits only for the
  // link (the device's writability wakes the loop instead); when it clears, they go on at once.
  void set_link_busy(bool busy) { link_busy_ = busy; }
  bool link_busy() const { return link_busy_; }

  // --- sockets ---
  Result<SocketId, ConnectError> connect(wire::Ipv4Address local, wire::Ipv4Address remote, std::uint16_t remote_port,
                                         Instant now);
  Result<SocketId, ListenError> listen(wire::Ipv4Address local, std::uint16_t port, std::size_t backlog);
  std::optional<SocketId> accept(SocketId listener);
  Result<std::size_t, SendError> send(SocketId id, std::span<const std::byte> data);
  Result<std::size_t, RecvError> recv(SocketId id, std::span<std::byte> out);
  void shutdown(SocketId id);
  void close(SocketId id) { close_handle(id); }
  void abort(SocketId id);
  std::optional<TcpState> state(SocketId id) const;
  bool readable(SocketId id) const;
  bool writable(SocketId id) const;
  std::optional<TcpError> error(SocketId id) const;
  void set_nodelay(SocketId id, bool on);
  void set_keepalive(SocketId id, bool on);
  // 68..65535 (RFC 791 §3.2); anything else is clamped, so MSS = MTU - 40 is always >= 28.
  void set_mtu(std::uint16_t mtu) { config_.mtu = std::max<std::uint16_t>(mtu, 68); }

  // --- observers ---
  std::function<void(const TcpEvent&)> on_event;
  std::vector<std::pair<std::string, std::uint64_t>> stats() const;
  const TcpCounters& counters() const { return counters_; }
  const TcpSocket* tcb(SocketId id) const;  // the TCB, for tests and the narrator
  std::size_t socket_count() const { return sockets_.size(); }  // live sockets (not TIME-WAIT records)
  std::size_t time_wait_count() const { return time_wait_.size(); }
  // The TIME-WAIT record of a released connection, if one is held for this 4-tuple.
  std::optional<TimeWaitState> time_wait_record(TcpEndpoint local, TcpEndpoint remote) const;
  const Config& config() const { return config_; }

 private:
  struct ConnKey {
    std::uint32_t local_addr;
    std::uint16_t local_port;
    std::uint32_t remote_addr;
    std::uint16_t remote_port;
    auto operator<=>(const ConnKey&) const = default;
  };
  struct Listener {
    TcpEndpoint local;
    std::size_t backlog;
    std::set<SocketId> half_open;
    std::deque<SocketId> accept_queue;
  };

  static Config validated(Config c);
  void close_handle(SocketId id);
  TcpContext context(Instant now);
  std::optional<SocketId> find_listener(wire::Ipv4Address dst, std::uint16_t port) const;
  void listen_input(TcpContext& ctx, SocketId lid, Listener& l, wire::Ipv4Address src, wire::Ipv4Address dst,
                    const wire::tcp::Repr& seg);
  void closed_input(TcpContext& ctx, wire::Ipv4Address src, wire::Ipv4Address dst, const wire::tcp::Repr& seg,
                    const char* why);
  void after_socket_event(TcpSocket& s);
  void sweep();
  // TIME-WAIT records (RFC 9293 §3.10.7.4 TIME-WAIT, for connections the application released).
  void keep_time_wait(const ConnKey& key, SocketId id, const TimeWaitState& state);
  // A segment for a 4-tuple held in TIME-WAIT; false when a new SYN ended the record (the
  // caller hands the SYN to the listener).
  bool time_wait_input(TcpContext& ctx, std::map<ConnKey, TimeWaitRecord>::iterator it, const ConnKey& key,
                       const wire::tcp::Repr& seg, bool listening);
  void expire_time_wait(Instant now);
  SeqNum initial_sequence_number(Instant now, const ConnKey& key) const;
  // SYN cookies (RFC 4987 §3.6), tcp_layer.cpp.
  SeqNum make_cookie(Instant now, const ConnKey& key, SeqNum peer_isn, unsigned mss_index) const;
  std::optional<unsigned> check_cookie(Instant now, const ConnKey& key, SeqNum peer_isn, SeqNum cookie) const;
  std::uint32_t cookie_hash(const ConnKey& key, SeqNum peer_isn, std::uint64_t period) const;
  void send_cookie(TcpContext& ctx, SocketId lid, wire::Ipv4Address src, wire::Ipv4Address dst,
                   const wire::tcp::Repr& seg);
  // An ACK for a half-open connection that carries a valid cookie instead (see tcp_layer.cpp).
  bool cookie_supersedes(TcpContext& ctx, const TcpSocket& s, const ConnKey& key, const wire::tcp::Repr& seg);
  bool accept_cookie(TcpContext& ctx, SocketId lid, Listener& l, wire::Ipv4Address src, wire::Ipv4Address dst,
                     const wire::tcp::Repr& seg, SeqNum peer_isn);
  std::uint32_t timestamp_offset(const ConnKey& key) const;
  std::optional<std::uint16_t> pick_ephemeral_port(wire::Ipv4Address local, wire::Ipv4Address remote,
                                                   std::uint16_t remote_port);
  // A socket to act on: marked, so its timers are taken again (tcp_layer.cpp "which sockets
  // have work"). Read-only access goes through tcb().
  TcpSocket* find(SocketId id);
  TcpSocket& at(SocketId id);
  void touch(SocketId id) const;
  void refresh_timers() const;

  Config config_;
  SipKey key_;
  TcpCounters counters_;
  std::map<SocketId, std::unique_ptr<TcpSocket>> sockets_;
  // Sockets marked since their timers were last taken, and since the last sweep(); the timers
  // by instant, and each socket's entry (only sockets with a timer have one).
  mutable std::vector<SocketId> touched_;
  mutable std::vector<SocketId> unswept_;
  mutable std::set<std::pair<Instant, SocketId>> timers_;
  mutable std::unordered_map<SocketId, Instant> timer_of_;
  std::map<ConnKey, SocketId> connections_;
  std::map<SocketId, Listener> listeners_;
  // TIME-WAIT records by 4-tuple, and the order they were made or restarted in (the oldest
  // first: expiry and eviction both pop from the front; an entry whose record was restarted or
  // removed since is skipped).
  std::map<ConnKey, TimeWaitRecord> time_wait_;
  std::deque<std::pair<Instant, ConnKey>> time_wait_order_;
  std::deque<TcpOutgoing> rst_queue_;
  bool link_busy_ = false;
  std::vector<std::byte> scratch_;
  std::array<std::uint16_t, 16> port_table_{};  // RFC 6056 §3.3.4 table[]
  SocketId next_id_ = 1;
  Instant last_now_;
};

}  // namespace stack::socket
