#include "apps/minibrowser/time_wait.hpp"

namespace minibrowser {

namespace {

std::string secs(stack::Duration d) {
  const auto ms = d.millis();
  return std::to_string(ms / 1000) + "." + std::to_string((ms % 1000) / 100) + " s";
}

std::string tuple(const stack::socket::TcpEndpoint& l, const stack::socket::TcpEndpoint& r) {
  return l.addr.describe() + ":" + std::to_string(l.port) + " ↔ " + r.addr.describe() + ":" + std::to_string(r.port);
}

}  // namespace

void TimeWaitWatch::entered(int number, stack::socket::SocketId sock, const stack::socket::TcpEndpoint& local,
                            const stack::socket::TcpEndpoint& remote, stack::Instant at) {
  entries_.push_back({number, sock, local, remote, at});
}

bool TimeWaitWatch::held(const stack::socket::TcpLayer& tcp, const Entry& e, stack::Instant* expires) {
  if (auto r = tcp.time_wait_record(e.local, e.remote)) {
    if (expires) *expires = r->expires;
    return true;
  }
  const auto* tcb = tcp.tcb(e.sock);
  if (!tcb || tcb->local() != e.local || tcb->remote() != e.remote || tcp.state(e.sock) != stack::socket::TcpState::TimeWait) {
    return false;
  }
  if (expires) {
    const auto at = tcb->time_wait_at();
    if (!at) return false;
    *expires = *at;
  }
  return true;
}

int TimeWaitWatch::number_of(stack::socket::SocketId sock) const {
  for (const auto& e : entries_) {
    if (e.sock == sock) return e.number;
  }
  return 0;
}

int TimeWaitWatch::number_of(std::uint16_t local_port, stack::wire::Ipv4Address remote, std::uint16_t remote_port) const {
  for (const auto& e : entries_) {
    if (e.local.port == local_port && e.remote.addr == remote && e.remote.port == remote_port) return e.number;
  }
  return 0;
}

std::vector<std::string> TimeWaitWatch::poll(const stack::socket::TcpLayer& tcp, stack::Instant now) {
  std::vector<std::string> out;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (held(tcp, *it)) {
      ++it;
      continue;
    }
    out.push_back("TCP #" + std::to_string(it->number) + ": TIME-WAIT over after " + secs(now - it->at) +
                  " (2·MSL): the stack forgot " + tuple(it->local, it->remote) + ", which may now be used again");
    it = entries_.erase(it);
  }
  return out;
}

std::optional<stack::Instant> TimeWaitWatch::next_deadline(const stack::socket::TcpLayer& tcp) const {
  std::optional<stack::Instant> at;
  for (const auto& e : entries_) {
    stack::Instant expires;
    if (held(tcp, e, &expires) && (!at || expires < *at)) at = expires;
  }
  return at;
}

std::vector<std::string> TimeWaitWatch::at_exit(const stack::socket::TcpLayer& tcp, stack::Instant now) const {
  std::vector<std::string> out;
  for (const auto& e : entries_) {
    stack::Instant expires;
    if (!held(tcp, e, &expires)) continue;
    out.push_back("TCP #" + std::to_string(e.number) + " is still in TIME-WAIT (" + secs(expires - now) +
                  " left) as the program exits: it ends with the program (a kernel would keep it)");
  }
  return out;
}

}  // namespace minibrowser
