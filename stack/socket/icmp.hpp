// ICMP echo sockets: what `ustack ping` uses (RFC 792 "Echo or Echo Reply Message";
// RFC 1122 §3.2.2.6).
//
// A socket owns one identifier; replies are matched on (identifier, source). Errors that quote
// one of our echo requests (destination unreachable, time exceeded) are reported to it too, so
// ping can print "From 10.77.0.1 icmp_seq=3 Destination Host Unreachable" like iputils.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "stack/util/bytes.hpp"
#include "stack/wire/ip_address.hpp"

namespace stack::socket {

struct EchoReplyInfo {
  wire::Ipv4Address from;
  std::uint16_t seq = 0;
  std::uint8_t ttl = 0;
  std::size_t icmp_len = 0;  // ICMP header + data, as ping prints it ("64 bytes from …")
  Bytes data;
};

struct EchoErrorInfo {
  wire::Ipv4Address from;  // who sent the ICMP error
  std::uint16_t seq = 0;
  std::string what;        // "Destination Host Unreachable"
};

class IcmpEchoLayer {
 public:
  using SocketId = std::uint32_t;

  // Opens a socket with identifier `ident` (ping uses its process id; tests pick one).
  std::optional<SocketId> open(std::uint16_t ident);
  void close(SocketId id);
  // Queues an echo request; the interface sends it on its next poll.
  bool send_echo(SocketId id, wire::Ipv4Address dst, std::uint16_t seq, std::span<const std::byte> data,
                 std::uint8_t ttl = 64);
  std::optional<EchoReplyInfo> recv_reply(SocketId id);
  std::optional<EchoErrorInfo> recv_error(SocketId id);

  // --- the interface's side ---
  // Returns false when no socket waits for this identifier.
  bool process_reply(wire::Ipv4Address from, std::uint8_t ttl, std::uint16_t ident, std::uint16_t seq,
                     std::size_t icmp_len, std::span<const std::byte> data);
  void process_error(wire::Ipv4Address from, std::uint16_t ident, std::uint16_t seq, std::string what);

  struct Outgoing {
    wire::Ipv4Address dst;
    std::uint16_t ident;
    std::uint16_t seq;
    std::uint8_t ttl;
    const Bytes& data;
  };
  void dispatch(const std::function<void(const Outgoing&)>& emit);
  bool has_pending_output() const { return !tx_.empty(); }

 private:
  struct Socket {
    std::uint16_t ident;
    std::deque<EchoReplyInfo> replies;
    std::deque<EchoErrorInfo> errors;
  };
  struct Pending {
    SocketId id;
    wire::Ipv4Address dst;
    std::uint16_t seq;
    std::uint8_t ttl;
    Bytes data;
  };
  static constexpr std::size_t kQueueLimit = 64;
  SocketId next_id_ = 1;
  std::map<SocketId, Socket> sockets_;
  std::deque<Pending> tx_;
};

}  // namespace stack::socket
