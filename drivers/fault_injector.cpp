// FaultInjector: see fault_injector.hpp.
#include "drivers/fault_injector.hpp"

#include <algorithm>

namespace drivers {

namespace {
constexpr std::size_t kEthernetHeaderLen = stack::wire::ethernet::kHeaderLen;
}

FaultDice::FaultDice(std::uint64_t seed, std::uint64_t stream) {
  // A seed_seq spreads a small seed (0, 1, 2…) over the whole Mersenne Twister state; the stream
  // number keeps the directions' sequences unrelated.
  std::seed_seq seq{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32),
                    static_cast<std::uint32_t>(stream), static_cast<std::uint32_t>(stream >> 32)};
  rng_.seed(seq);
}

bool FaultDice::roll(double probability) {
  if (probability <= 0.0) return false;
  // 53 random bits -> [0, 1). Done by hand rather than with std::uniform_real_distribution, whose
  // algorithm differs between standard libraries: a seed must mean the same faults everywhere.
  const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
  return u < probability;
}

stack::Duration FaultDice::uniform(stack::Duration max) {
  if (max <= stack::Duration::zero()) return stack::Duration::zero();
  const auto span = static_cast<std::uint64_t>(max.micros()) + 1;
  return stack::Duration::from_micros(static_cast<std::int64_t>(rng_() % span));
}

void FaultDice::flip_random_bit(std::span<std::byte> frame) {
  if (frame.empty()) return;
  const std::size_t first = frame.size() > kEthernetHeaderLen ? kEthernetHeaderLen : 0;
  const std::uint64_t bits = (frame.size() - first) * 8;
  const std::uint64_t bit = rng_() % bits;
  frame[first + bit / 8] ^= static_cast<std::byte>(1u << (bit % 8));
}

FaultInjector::FaultInjector(Device& inner, const FaultConfig& config)
    : inner_(&inner),
      config_(config),
      rx_dice_(config.seed, 1),
      tx_dice_(config.seed, 2),
      scratch_(inner.capabilities().max_frame) {}

FaultInjector::FaultInjector(std::unique_ptr<Device> inner, const FaultConfig& config)
    : FaultInjector(*inner, config) {
  owned_ = std::move(inner);
}

void FaultInjector::apply(Direction d, stack::Instant now, std::span<const std::byte> frame) {
  const FaultSettings& s = d == Direction::Rx ? config_.rx : config_.tx;
  FaultDice& dice = d == Direction::Rx ? rx_dice_ : tx_dice_;
  Counters& c = d == Direction::Rx ? rx_counters_ : tx_counters_;
  Held& held = d == Direction::Rx ? rx_held_ : tx_held_;

  // The dice are always rolled in the same order (drop, duplicate, corrupt, reorder) so that
  // changing one probability does not shift which frames the others hit more than necessary.
  if (dice.roll(s.drop)) {
    ++c.dropped;
    return;
  }
  const int copies = dice.roll(s.duplicate) ? 2 : 1;
  if (copies == 2) ++c.duplicated;
  for (int i = 0; i < copies; ++i) {
    stack::Bytes bytes(frame.begin(), frame.end());
    if (dice.roll(s.corrupt)) {
      dice.flip_random_bit(bytes);
      ++c.corrupted;
      if (d == Direction::Tx) tx_corrupted_.insert(order_);
    }
    stack::Instant release = now + s.delay;
    if (dice.roll(s.reorder)) {
      release += dice.uniform(s.reorder_max);
      ++c.reordered;
    }
    if (release > now) ++c.delayed;
    held.emplace(std::make_pair(release, order_++), std::move(bytes));
  }
}

bool FaultInjector::release_due_tx(stack::Instant now) {
  bool all_ok = true;
  while (!tx_held_.empty() && tx_held_.begin()->first.first <= now) {
    auto node = tx_held_.extract(tx_held_.begin());
    // A corrupted frame must reach the wire with the checksums it had when it was damaged, so
    // the receiver finds the damage: whatever a transmit offload holds goes first, and the frame
    // leaves on its own (a batch of one is written as it is, with no checksum to complete).
    const bool corrupted = tx_corrupted_.erase(node.key().second) > 0;
    if (corrupted) inner_->flush(now);
    const bool sent = inner_->transmit(now, node.mapped());
    if (corrupted) inner_->flush(now);
    if (sent) {
      ++tx_counters_.passed;
    } else {
      ++tx_dropped_by_inner_;
      all_ok = false;
    }
  }
  return all_ok;
}

void FaultInjector::flush(stack::Instant now) {
  release_due_tx(now);
  inner_->flush(now);
}

bool FaultInjector::transmit(stack::Instant now, std::span<const std::byte> frame) {
  release_due_tx(now);
  if (!config_.tx.any()) {
    // Fast path: no faults configured this way, so no copy.
    const bool ok = inner_->transmit(now, frame);
    if (ok) ++tx_counters_.passed; else ++tx_dropped_by_inner_;
    return ok;
  }
  const auto dropped_before = tx_counters_.dropped;
  apply(Direction::Tx, now, frame);
  // Dropping is a fault, and device.hpp says a fault makes transmit() return false.
  if (tx_counters_.dropped != dropped_before) return false;
  return release_due_tx(now);
}

std::optional<std::size_t> FaultInjector::receive(stack::Instant now, std::span<std::byte> out) {
  release_due_tx(now);  // a receive() call is also how delayed transmissions get their turn
  if (!config_.rx.any() && rx_held_.empty()) {
    auto n = inner_->receive(now, out);
    if (n) ++rx_counters_.passed;
    return n;
  }
  for (;;) {
    if (!rx_held_.empty() && rx_held_.begin()->first.first <= now) {
      auto node = rx_held_.extract(rx_held_.begin());
      const stack::Bytes& bytes = node.mapped();
      if (bytes.size() > out.size()) {
        ++rx_dropped_too_big_;
        continue;
      }
      std::copy(bytes.begin(), bytes.end(), out.begin());
      ++rx_counters_.passed;
      return bytes.size();
    }
    // Nothing due: pull one frame from the wrapped device (it may be held back in turn).
    auto n = inner_->receive(now, scratch_);
    if (!n) return std::nullopt;
    apply(Direction::Rx, now, std::span<const std::byte>(scratch_).first(*n));
  }
}

std::optional<stack::Instant> FaultInjector::poll_at() const {
  std::optional<stack::Instant> at = inner_->poll_at();
  for (const Held* held : {&rx_held_, &tx_held_}) {
    if (held->empty()) continue;
    const stack::Instant next = held->begin()->first.first;
    if (!at || next < *at) at = next;
  }
  return at;
}

Stats FaultInjector::stats() const {
  Stats s = inner_->stats();
  for (Direction d : {Direction::Rx, Direction::Tx}) {
    const Counters& c = counters(d);
    const std::string p = std::string("fault.") + to_string(d) + "_";
    s.emplace_back(p + "passed", c.passed);
    s.emplace_back(p + "dropped", c.dropped);
    s.emplace_back(p + "duplicated", c.duplicated);
    s.emplace_back(p + "reordered", c.reordered);
    s.emplace_back(p + "corrupted", c.corrupted);
    s.emplace_back(p + "delayed", c.delayed);
  }
  s.emplace_back("fault.rx_dropped_too_big", rx_dropped_too_big_);
  s.emplace_back("fault.tx_dropped_by_device", tx_dropped_by_inner_);
  return s;
}

}  // namespace drivers
