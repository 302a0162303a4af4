// UDP sockets (RFC 768; RFC 1122 §4.1; RFC 6056 for ephemeral ports).
//
// The layer owns every UDP socket of one host. The interface hands it datagrams addressed to us
// (checksum already verified) and collects the datagrams the sockets want to send; sockets
// never see frames, addresses resolution or routes.
//
//   bind(port or 0, local address or any) -> SocketId
//   send_to(id, destination, payload)      queued; the interface sends it on its next poll
//   recv_from(id) -> datagram with its true source address (c-ares checks it)
//   take_error(id)                         ICMP errors (port unreachable) reported to the socket
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "stack/time.hpp"
#include "stack/util/bytes.hpp"
#include "stack/util/random.hpp"
#include "stack/util/result.hpp"
#include "stack/wire/ip_address.hpp"

namespace stack::socket {

struct UdpEndpoint {
  wire::Ipv4Address addr;
  std::uint16_t port = 0;
  bool operator==(const UdpEndpoint&) const = default;
  std::string describe() const { return addr.describe() + ":" + std::to_string(port); }
};

struct UdpDatagram {
  UdpEndpoint from;
  wire::Ipv4Address to;  // our address it was sent to (or a broadcast address)
  Bytes payload;
};

enum class UdpError {
  AddressInUse,
  NoEphemeralPorts,
  BadSocket,
  TooBig,       // beyond 65507 bytes of payload
  SendQueueFull,
};
const char* to_string(UdpError e);

// An ICMP error that concerns a socket (RFC 1122 §4.1.3.3: UDP MUST pass ICMP errors up).
struct UdpSocketError {
  UdpEndpoint remote;
  std::string what;  // "port unreachable from 198.51.100.53"
};

class UdpLayer {
 public:
  using SocketId = std::uint32_t;
  struct Config {
    std::size_t rx_queue_datagrams = 64;   // per socket; beyond it datagrams are dropped and counted
    std::size_t rx_queue_bytes = 256 * 1024;
    std::size_t tx_queue_datagrams = 64;
    std::uint16_t ephemeral_first = 49152;  // IANA dynamic range (RFC 6335 §6)
    std::uint16_t ephemeral_last = 65535;
    std::uint64_t seed = 1;
  };

  explicit UdpLayer(Config config);
  UdpLayer() : UdpLayer(Config{}) {}

  // --- the socket API ---
  Result<SocketId, UdpError> bind(std::uint16_t port, wire::Ipv4Address local = wire::Ipv4Address::any());
  void close(SocketId id);
  std::optional<UdpEndpoint> local_endpoint(SocketId id) const;
  // Broadcast destinations are allowed (DHCP). `source` overrides the source address (DHCP sends
  // from 0.0.0.0 before it has an address); otherwise the interface fills in its own.
  Result<void, UdpError> send_to(SocketId id, UdpEndpoint to, std::span<const std::byte> payload,
                                 std::optional<wire::Ipv4Address> source = std::nullopt);
  std::optional<UdpDatagram> recv_from(SocketId id);
  bool readable(SocketId id) const;
  std::optional<UdpSocketError> take_error(SocketId id);

  // --- the interface's side ---
  enum class Delivery { Delivered, NoSocket, QueueFull };
  Delivery process(wire::Ipv4Address src, wire::Ipv4Address dst, std::uint16_t src_port, std::uint16_t dst_port,
                   std::span<const std::byte> payload);
  // An ICMP destination unreachable quoting a datagram we sent from `local_port` to `remote`.
  void process_icmp_error(std::uint16_t local_port, UdpEndpoint remote, std::string what);

  struct Outgoing {
    std::optional<wire::Ipv4Address> src;  // nullopt: the interface's address
    UdpEndpoint from;                      // from.port is the socket's port
    UdpEndpoint to;
    const Bytes& payload;
  };
  // Hands every queued datagram to `emit`, oldest first.
  void dispatch(const std::function<void(const Outgoing&)>& emit);
  bool has_pending_output() const { return !tx_.empty(); }

  std::vector<std::pair<std::string, std::uint64_t>> stats() const;

 private:
  struct Socket {
    UdpEndpoint local;
    std::deque<UdpDatagram> rx;
    std::size_t rx_bytes = 0;
    std::deque<UdpSocketError> errors;
  };
  struct Pending {
    SocketId id;
    std::optional<wire::Ipv4Address> src;
    UdpEndpoint to;
    Bytes payload;
  };
  bool port_in_use(std::uint16_t port) const;

  Config config_;
  Rng rng_;
  SocketId next_id_ = 1;
  std::map<SocketId, Socket> sockets_;
  std::deque<Pending> tx_;
  std::uint64_t sent_ = 0;
  std::uint64_t received_ = 0;
  std::uint64_t queue_drops_ = 0;
};

}  // namespace stack::socket
