// FaultInjector: a Device decorator that drops, duplicates, reorders, corrupts and delays frames,
// seeded so that a given seed gives the same faults every run.
//
// Read first: docs/architecture.md "Test layers" (sim). The model is smoltcp's
// phy::FaultInjector (src/phy/fault_injector.rs): a decorator over any device, its own seeded RNG.
//
// Each direction has its own settings and its own RNG stream, so the faults applied to received
// frames do not depend on how many frames were transmitted in between (and vice versa).
//
// Delay and reordering hold frames inside the decorator: a delayed transmit is handed to the
// wrapped device on a later receive()/transmit() call at or after its release instant, and
// poll_at() reports that instant so the event loop wakes up for it.
//
// The programs expose `--drop-chance P --corrupt-chance P --seed N`; FaultConfig::symmetric()
// fills a config from exactly those three numbers.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <utility>

#include "drivers/device.hpp"
#include "stack/util/bytes.hpp"

namespace drivers {

// The faults applied to one direction. Probabilities are per frame, in [0, 1].
struct FaultSettings {
  double drop = 0.0;
  double duplicate = 0.0;  // the frame is delivered twice
  double reorder = 0.0;    // the frame is held back a random extra delay in [0, reorder_max]
  double corrupt = 0.0;    // one random bit after the Ethernet header is flipped
  stack::Duration delay = stack::Duration::zero();  // added to every frame
  stack::Duration reorder_max = stack::Duration::from_millis(5);

  bool any() const {
    return drop > 0 || duplicate > 0 || reorder > 0 || corrupt > 0 || delay > stack::Duration::zero();
  }
};

struct FaultConfig {
  std::uint64_t seed = 0;
  FaultSettings rx;  // medium -> stack
  FaultSettings tx;  // stack -> medium

  // The same drop and corrupt chances both ways: what `--drop-chance --corrupt-chance --seed` mean.
  static FaultConfig symmetric(double drop_chance, double corrupt_chance, std::uint64_t seed) {
    FaultConfig c;
    c.seed = seed;
    c.rx.drop = c.tx.drop = drop_chance;
    c.rx.corrupt = c.tx.corrupt = corrupt_chance;
    return c;
  }
};

// Shared by FaultInjector and MemoryLink: one seeded random stream that decides faults.
class FaultDice {
 public:
  // `stream` separates independent sequences drawn from one user seed (directions, link ends).
  FaultDice(std::uint64_t seed, std::uint64_t stream);
  bool roll(double probability);  // true with the given probability; never draws for p <= 0
  stack::Duration uniform(stack::Duration max);  // in [0, max]
  // Flips one bit, chosen uniformly among the bytes after the 14-byte Ethernet header (the whole
  // frame if it has no payload). Why not the header: a real NIC's FCS discards frames damaged on
  // the wire, so what reaches a stack corrupted was damaged above the link layer — exactly what
  // the IPv4/UDP/TCP checksums are there to catch.
  void flip_random_bit(std::span<std::byte> frame);

 private:
  std::mt19937_64 rng_;
};

class FaultInjector final : public Device {
 public:
  // Wraps `inner`, which must outlive the injector.
  FaultInjector(Device& inner, const FaultConfig& config);
  // Takes ownership of `inner` (for apps that stack decorators from command-line flags).
  FaultInjector(std::unique_ptr<Device> inner, const FaultConfig& config);

  Capabilities capabilities() const override { return inner_->capabilities(); }
  std::string name() const override { return inner_->name(); }
  std::optional<std::size_t> receive(stack::Instant now, std::span<std::byte> out) override;
  // False when the frame was dropped (a fault, as device.hpp says) or the wrapped device refused
  // it; a frame held back for delay or reordering counts as accepted.
  bool transmit(stack::Instant now, std::span<const std::byte> frame) override;
  void flush(stack::Instant now) override;  // due delayed frames first, then the wrapped device's
  bool tx_blocked() const override { return inner_->tx_blocked(); }
  int readable_fd() const override { return inner_->readable_fd(); }
  int writable_fd() const override { return inner_->writable_fd(); }
  std::optional<stack::Instant> poll_at() const override;
  Stats stats() const override;  // the wrapped device's, then "fault.rx_dropped", ...

  struct Counters {
    std::uint64_t dropped = 0;
    std::uint64_t duplicated = 0;
    std::uint64_t reordered = 0;
    std::uint64_t corrupted = 0;
    std::uint64_t delayed = 0;
    std::uint64_t passed = 0;  // frames handed on (a duplicate counts twice)
  };
  const Counters& counters(Direction d) const { return d == Direction::Rx ? rx_counters_ : tx_counters_; }

 private:
  // Frames held back by delay or reordering, released in (instant, arrival order) order.
  using Held = std::map<std::pair<stack::Instant, std::uint64_t>, stack::Bytes>;

  // Applies the faults of one direction to `frame`, adding zero, one or two copies to `held`.
  void apply(Direction d, stack::Instant now, std::span<const std::byte> frame);
  // Hands every held transmit due by `now` to the wrapped device; false if it refused any.
  bool release_due_tx(stack::Instant now);

  std::unique_ptr<Device> owned_;
  Device* inner_;
  FaultConfig config_;
  FaultDice rx_dice_;
  FaultDice tx_dice_;
  Held rx_held_;
  Held tx_held_;
  // The held transmissions (by arrival order) that were corrupted. A device with transmit
  // offload must not join one into a super-frame: the kernel would compute the checksums of the
  // pieces afresh over the damaged bytes and the receiver could not tell. It goes out alone.
  std::set<std::uint64_t> tx_corrupted_;
  std::uint64_t order_ = 0;
  stack::Bytes scratch_;
  Counters rx_counters_;
  Counters tx_counters_;
  std::uint64_t rx_dropped_too_big_ = 0;  // a held frame larger than the caller's buffer
  std::uint64_t tx_dropped_by_inner_ = 0;  // a released frame the wrapped device refused
};

}  // namespace drivers
