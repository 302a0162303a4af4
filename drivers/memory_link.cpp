// MemoryLink: see memory_link.hpp.
#include "drivers/memory_link.hpp"

#include <algorithm>

namespace drivers {

namespace {
constexpr std::size_t kEthernetHeaderLen = stack::wire::ethernet::kHeaderLen;
}

MemoryLink::MemoryLink(const LinkConfig& config)
    : config_(config),
      dirs_{Direction(config.seed, 0xa), Direction(config.seed, 0xb)},
      ends_{End(*this, 0), End(*this, 1)} {}

Capabilities MemoryLink::End::capabilities() const {
  Capabilities caps;
  caps.mtu = link_.config_.mtu;
  caps.max_frame = link_.config_.mtu + kEthernetHeaderLen;
  return caps;
}

bool MemoryLink::End::transmit(stack::Instant now, std::span<const std::byte> frame) {
  const LinkConfig& cfg = link_.config_;
  Direction& dir = link_.outbound(index_);
  Counters& c = dir.counters;
  if (frame.size() > cfg.mtu + kEthernetHeaderLen) {
    ++c.dropped_too_big;
    return false;
  }
  if (dir.queue.size() >= cfg.queue_limit) {
    ++c.dropped_queue_full;
    return false;
  }
  ++c.sent;

  // The transmitter serialises frames one after another, so a burst queues behind the wire even
  // when the far end is idle (this is what makes a bandwidth limit build a queue).
  stack::Instant start = std::max(now, dir.link_free_at);
  if (cfg.bandwidth_bps > 0) {
    const auto bits = static_cast<std::uint64_t>(frame.size()) * 8;
    // Round up: a frame never takes zero time on a finite link.
    const auto us = (bits * 1'000'000 + cfg.bandwidth_bps - 1) / cfg.bandwidth_bps;
    start += stack::Duration::from_micros(static_cast<std::int64_t>(us));
  }
  dir.link_free_at = start;

  // Loss happens on the wire: the sender cannot tell, so transmit() still reports success.
  // (Dice are rolled in a fixed order — loss, duplicate, corrupt, reorder — to keep a seed's
  // pattern stable when another probability changes.)
  if (dir.dice.roll(cfg.loss)) {
    ++c.dropped_loss;
    return true;
  }
  const int copies = dir.dice.roll(cfg.duplicate) ? 2 : 1;
  if (copies == 2) ++c.duplicated;
  for (int i = 0; i < copies; ++i) {
    if (dir.queue.size() >= cfg.queue_limit) {  // only the duplicate can hit this
      ++c.dropped_queue_full;
      break;
    }
    stack::Bytes bytes(frame.begin(), frame.end());
    if (dir.dice.roll(cfg.corrupt)) {
      dir.dice.flip_random_bit(bytes);
      ++c.corrupted;
    }
    stack::Instant deliver = start + cfg.latency;
    if (dir.dice.roll(cfg.reorder)) {
      deliver += dir.dice.uniform(cfg.reorder_max);
      ++c.reordered;
    }
    dir.queue.emplace(std::make_pair(deliver, link_.order_++), std::move(bytes));
  }
  return true;
}

std::optional<std::size_t> MemoryLink::End::receive(stack::Instant now, std::span<std::byte> out) {
  Direction& dir = link_.inbound(index_);
  while (!dir.queue.empty() && dir.queue.begin()->first.first <= now) {
    auto node = dir.queue.extract(dir.queue.begin());
    const stack::Bytes& bytes = node.mapped();
    if (bytes.size() > out.size()) {
      ++dir.counters.dropped_rx_buffer;
      continue;
    }
    std::copy(bytes.begin(), bytes.end(), out.begin());
    ++dir.counters.delivered;
    return bytes.size();
  }
  return std::nullopt;
}

std::optional<stack::Instant> MemoryLink::End::poll_at() const {
  const Direction& dir = link_.inbound(index_);
  if (dir.queue.empty()) return std::nullopt;
  return dir.queue.begin()->first.first;
}

Stats MemoryLink::End::stats() const {
  // This end's view: what it sent (outbound direction) and what it received (inbound).
  const Counters& tx = link_.counters(index_ == 0);
  const Counters& rx = link_.counters(index_ != 0);
  return {
      {"tx_sent", tx.sent},
      {"tx_dropped_loss", tx.dropped_loss},
      {"tx_dropped_queue_full", tx.dropped_queue_full},
      {"tx_duplicated", tx.duplicated},
      {"tx_corrupted", tx.corrupted},
      {"tx_reordered", tx.reordered},
      {"tx_dropped_too_big", tx.dropped_too_big},
      {"rx_delivered", rx.delivered},
      {"rx_dropped_buffer_too_small", rx.dropped_rx_buffer},
  };
}

}  // namespace drivers
