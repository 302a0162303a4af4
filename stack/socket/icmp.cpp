#include "stack/socket/icmp.hpp"

namespace stack::socket {

std::optional<IcmpEchoLayer::SocketId> IcmpEchoLayer::open(std::uint16_t ident) {
  for (const auto& [id, s] : sockets_) {
    if (s.ident == ident) return std::nullopt;
  }
  const SocketId id = next_id_++;
  sockets_[id] = Socket{ident, {}, {}};
  return id;
}

void IcmpEchoLayer::close(SocketId id) {
  sockets_.erase(id);
  std::erase_if(tx_, [id](const Pending& p) { return p.id == id; });
}

bool IcmpEchoLayer::send_echo(SocketId id, wire::Ipv4Address dst, std::uint16_t seq, std::span<const std::byte> data,
                              std::uint8_t ttl) {
  if (!sockets_.count(id) || tx_.size() >= kQueueLimit) return false;
  tx_.push_back(Pending{id, dst, seq, ttl, Bytes(data.begin(), data.end())});
  return true;
}

std::optional<EchoReplyInfo> IcmpEchoLayer::recv_reply(SocketId id) {
  auto it = sockets_.find(id);
  if (it == sockets_.end() || it->second.replies.empty()) return std::nullopt;
  EchoReplyInfo r = std::move(it->second.replies.front());
  it->second.replies.pop_front();
  return r;
}

std::optional<EchoErrorInfo> IcmpEchoLayer::recv_error(SocketId id) {
  auto it = sockets_.find(id);
  if (it == sockets_.end() || it->second.errors.empty()) return std::nullopt;
  EchoErrorInfo e = std::move(it->second.errors.front());
  it->second.errors.pop_front();
  return e;
}

bool IcmpEchoLayer::process_reply(wire::Ipv4Address from, std::uint8_t ttl, std::uint16_t ident, std::uint16_t seq,
                                  std::size_t icmp_len, std::span<const std::byte> data) {
  for (auto& [id, s] : sockets_) {
    if (s.ident != ident) continue;
    if (s.replies.size() < kQueueLimit) {
      s.replies.push_back(EchoReplyInfo{from, seq, ttl, icmp_len, Bytes(data.begin(), data.end())});
    }
    return true;
  }
  return false;
}

void IcmpEchoLayer::process_error(wire::Ipv4Address from, std::uint16_t ident, std::uint16_t seq, std::string what) {
  for (auto& [id, s] : sockets_) {
    if (s.ident != ident) continue;
    if (s.errors.size() < kQueueLimit) s.errors.push_back(EchoErrorInfo{from, seq, std::move(what)});
    return;
  }
}

void IcmpEchoLayer::dispatch(const std::function<void(const Outgoing&)>& emit) {
  while (!tx_.empty()) {
    Pending p = std::move(tx_.front());
    tx_.pop_front();
    auto it = sockets_.find(p.id);
    if (it == sockets_.end()) continue;
    emit(Outgoing{p.dst, it->second.ident, p.seq, p.ttl, p.data});
  }
}

}  // namespace stack::socket
