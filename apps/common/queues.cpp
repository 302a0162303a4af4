// Several stacks in one process (queues.hpp).
#include "apps/common/queues.hpp"

#include <unistd.h>

#include <algorithm>

#include "apps/common/cli.hpp"
#include "drivers/tap_device.hpp"
#include "stack/wire/arp.hpp"

namespace appkit {

bool parse_queue_count(const std::string& text, std::size_t& out) {
  std::uint64_t n = 0;
  if (!parse_u64(text, n) || n == 0 || n > drivers::TapDevice::kMaxQueues) return false;
  out = static_cast<std::size_t>(n);
  return true;
}

std::string per_queue_path(const std::string& path, std::size_t queue) {
  const std::string tag = ".q" + std::to_string(queue);
  const auto slash = path.rfind('/');
  const auto dot = path.rfind('.');
  // An extension is a dot in the last component, not at its start (".hidden" has none).
  const std::size_t base = slash == std::string::npos ? 0 : slash + 1;
  if (dot == std::string::npos || dot <= base) return path + tag;
  return path.substr(0, dot) + tag + path.substr(dot);
}

NeighbourBoard::NeighbourBoard(std::vector<int> wake_fds) : wake_fds_(std::move(wake_fds)), inboxes_(wake_fds_.size()) {}

void NeighbourBoard::post(std::size_t from, const Neighbour& n) {
  for (std::size_t q = 0; q < inboxes_.size(); ++q) {
    if (q == from) continue;
    {
      std::lock_guard lock(inboxes_[q].mu);
      inboxes_[q].posts.push_back(n);
    }
    if (wake_fds_[q] >= 0) {
      const std::uint64_t one = 1;
      (void)!::write(wake_fds_[q], &one, sizeof one);
    }
  }
}

std::vector<Neighbour> NeighbourBoard::take(std::size_t queue) {
  std::vector<Neighbour> out;
  std::lock_guard lock(inboxes_[queue].mu);
  out.swap(inboxes_[queue].posts);
  return out;
}

std::vector<std::byte> arp_seed_frame(const Neighbour& n, const Neighbour& us) {
  namespace eth = stack::wire::ethernet;
  namespace arp = stack::wire::arp;
  std::vector<std::byte> frame(eth::kHeaderLen + arp::kPacketLen);
  auto e = eth::ViewMut::unchecked(frame);
  eth::Repr{.src = n.mac, .dst = us.mac, .ethertype = stack::wire::EtherType::Arp}.emit(e);
  auto a = arp::ViewMut::unchecked(e.payload());
  arp::Repr{.operation = arp::Operation::Reply, .sender_mac = n.mac, .sender_ip = n.ip, .target_mac = us.mac,
            .target_ip = us.ip}
      .emit(a);
  return frame;
}

bool CounterSum::is_maximum(const std::string& name) {
  return name.find("max") != std::string::npos || name.ends_with("link_wait_ms");
}

void CounterSum::add(const std::vector<std::pair<std::string, std::uint64_t>>& counters) {
  for (const auto& counter : counters) {
    // (Not a structured binding: clang 14 does not let a lambda capture one.)
    const std::string& name = counter.first;
    const std::uint64_t value = counter.second;
    auto it = std::find_if(sum_.begin(), sum_.end(), [&](const auto& p) { return p.first == name; });
    if (it == sum_.end()) {
      sum_.emplace_back(name, value);
    } else if (is_maximum(name)) {
      it->second = std::max(it->second, value);
    } else {
      it->second += value;
    }
  }
}

}  // namespace appkit
