#include "stack/socket/udp.hpp"

namespace stack::socket {

const char* to_string(UdpError e) {
  switch (e) {
    case UdpError::AddressInUse: return "address already in use";
    case UdpError::NoEphemeralPorts: return "no ephemeral port left";
    case UdpError::BadSocket: return "no such socket";
    case UdpError::TooBig: return "datagram too big";
    case UdpError::SendQueueFull: return "send queue full";
  }
  return "unknown UDP error";
}

UdpLayer::UdpLayer(Config config) : config_(config), rng_(config.seed ^ 0x75647021ull) {}

bool UdpLayer::port_in_use(std::uint16_t port) const {
  for (const auto& [id, s] : sockets_) {
    if (s.local.port == port) return true;
  }
  return false;
}

Result<UdpLayer::SocketId, UdpError> UdpLayer::bind(std::uint16_t port, wire::Ipv4Address local) {
  if (port == 0) {
    // RFC 6056 §3.3.1 Algorithm 1 (simple port randomization): start at a random point of the
    // range and walk it until a free port turns up.
    const std::uint32_t span = static_cast<std::uint32_t>(config_.ephemeral_last - config_.ephemeral_first) + 1;
    const std::uint32_t start = rng_.below(span);
    for (std::uint32_t i = 0; i < span; ++i) {
      const auto candidate = static_cast<std::uint16_t>(config_.ephemeral_first + (start + i) % span);
      if (!port_in_use(candidate)) {
        port = candidate;
        break;
      }
    }
    if (port == 0) return Err{UdpError::NoEphemeralPorts};
  } else if (port_in_use(port)) {
    return Err{UdpError::AddressInUse};
  }
  const SocketId id = next_id_++;
  sockets_[id].local = UdpEndpoint{local, port};
  return id;
}

void UdpLayer::close(SocketId id) {
  sockets_.erase(id);
  std::erase_if(tx_, [id](const Pending& p) { return p.id == id; });
}

std::optional<UdpEndpoint> UdpLayer::local_endpoint(SocketId id) const {
  auto it = sockets_.find(id);
  if (it == sockets_.end()) return std::nullopt;
  return it->second.local;
}

Result<void, UdpError> UdpLayer::send_to(SocketId id, UdpEndpoint to, std::span<const std::byte> payload,
                                         std::optional<wire::Ipv4Address> source) {
  if (!sockets_.count(id)) return Err{UdpError::BadSocket};
  if (payload.size() > 65535 - 20 - 8) return Err{UdpError::TooBig};
  if (tx_.size() >= config_.tx_queue_datagrams) return Err{UdpError::SendQueueFull};
  tx_.push_back(Pending{id, source, to, Bytes(payload.begin(), payload.end())});
  return {};
}

std::optional<UdpDatagram> UdpLayer::recv_from(SocketId id) {
  auto it = sockets_.find(id);
  if (it == sockets_.end() || it->second.rx.empty()) return std::nullopt;
  UdpDatagram d = std::move(it->second.rx.front());
  it->second.rx.pop_front();
  it->second.rx_bytes -= d.payload.size();
  return d;
}

bool UdpLayer::readable(SocketId id) const {
  auto it = sockets_.find(id);
  return it != sockets_.end() && !it->second.rx.empty();
}

std::optional<UdpSocketError> UdpLayer::take_error(SocketId id) {
  auto it = sockets_.find(id);
  if (it == sockets_.end() || it->second.errors.empty()) return std::nullopt;
  UdpSocketError e = std::move(it->second.errors.front());
  it->second.errors.pop_front();
  return e;
}

UdpLayer::Delivery UdpLayer::process(wire::Ipv4Address src, wire::Ipv4Address dst, std::uint16_t src_port,
                                     std::uint16_t dst_port, std::span<const std::byte> payload) {
  // Demultiplex on the destination port; a socket bound to a specific address only takes
  // datagrams for that address (or broadcasts).
  for (auto& [id, s] : sockets_) {
    if (s.local.port != dst_port) continue;
    if (!s.local.addr.is_unspecified() && s.local.addr != dst && !dst.is_broadcast()) continue;
    if (s.rx.size() >= config_.rx_queue_datagrams || s.rx_bytes + payload.size() > config_.rx_queue_bytes) {
      ++queue_drops_;
      return Delivery::QueueFull;
    }
    s.rx.push_back(UdpDatagram{UdpEndpoint{src, src_port}, dst, Bytes(payload.begin(), payload.end())});
    s.rx_bytes += payload.size();
    ++received_;
    return Delivery::Delivered;
  }
  return Delivery::NoSocket;
}

void UdpLayer::process_icmp_error(std::uint16_t local_port, UdpEndpoint remote, std::string what) {
  for (auto& [id, s] : sockets_) {
    if (s.local.port != local_port) continue;
    if (s.errors.size() < 8) s.errors.push_back(UdpSocketError{remote, std::move(what)});
    return;
  }
}

void UdpLayer::dispatch(const std::function<void(const Outgoing&)>& emit) {
  while (!tx_.empty()) {
    Pending p = std::move(tx_.front());
    tx_.pop_front();
    auto it = sockets_.find(p.id);
    if (it == sockets_.end()) continue;
    ++sent_;
    emit(Outgoing{p.src, it->second.local, p.to, p.payload});
  }
}

std::vector<std::pair<std::string, std::uint64_t>> UdpLayer::stats() const {
  return {{"udp.datagrams_sent", sent_}, {"udp.datagrams_received", received_}, {"udp.socket_queue_drops", queue_drops_}};
}

}  // namespace stack::socket
