// The pool's connections in TIME-WAIT (RFC 9293 §3.6.1: the side that sent the first FIN keeps
// the 4-tuple for 2·MSL against late segments). This program's stack lives in the process, so a
// TIME-WAIT ends when the program exits — unless --linger keeps the program running, and then the
// narration shows each record's expiry as the stack's own table reports it, or says at exit that
// it is cut short.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "stack/socket/tcp_layer.hpp"
#include "stack/time.hpp"

namespace minibrowser {

class TimeWaitWatch {
 public:
  void entered(int number, stack::socket::SocketId sock, const stack::socket::TcpEndpoint& local,
               const stack::socket::TcpEndpoint& remote, stack::Instant at);
  // Lines for the records that have left the stack's TIME-WAIT table since the last call.
  std::vector<std::string> poll(const stack::socket::TcpLayer& tcp, stack::Instant now);
  std::optional<stack::Instant> next_deadline(const stack::socket::TcpLayer& tcp) const;
  bool pending() const { return !entries_.empty(); }
  // The connection number of a socket watched here, or 0.
  int number_of(stack::socket::SocketId sock) const;
  int number_of(std::uint16_t local_port, stack::wire::Ipv4Address remote, std::uint16_t remote_port) const;
  // At exit: one line per record still held.
  std::vector<std::string> at_exit(const stack::socket::TcpLayer& tcp, stack::Instant now) const;

 private:
  struct Entry {
    int number;
    stack::socket::SocketId sock;
    stack::socket::TcpEndpoint local, remote;
    stack::Instant at;
  };
  // In TIME-WAIT: the socket itself until the stack lets it go, then its small record.
  static bool held(const stack::socket::TcpLayer& tcp, const Entry& e, stack::Instant* expires = nullptr);
  std::vector<Entry> entries_;
};

}  // namespace minibrowser
