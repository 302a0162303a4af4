// MemoryLink: an in-process point-to-point Ethernet link between two Devices, in virtual time.
//
//   MemoryLink link(config);
//   Device& a = link.end_a();   // what a transmits, b receives after the latency, and back
//   Device& b = link.end_b();
//
// Read first: docs/architecture.md "Test layers" (sim: two stacks over this link with seeded
// loss, reordering, duplication and corruption) and "Time and state" (no clocks: every call
// takes `now`).
//
// A frame transmitted at `now` is delivered at
//     max(now, link free) + serialisation (size * 8 / bandwidth) + latency [+ reorder extra]
// and receive(now) returns it only once its delivery instant is <= now; poll_at() names the next
// delivery instant, so a test (or the sim loop) can jump virtual time straight to it.
// Each direction has its own bounded queue of frames in flight and its own random stream, derived
// from config.seed: the same seed gives the same losses, a different seed different ones.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <utility>

#include "drivers/device.hpp"
#include "drivers/fault_injector.hpp"
#include "stack/util/bytes.hpp"

namespace drivers {

struct LinkConfig {
  stack::Duration latency = stack::Duration::from_millis(1);  // one way
  double loss = 0.0;       // per frame, in [0, 1]
  double duplicate = 0.0;  // delivered twice
  double reorder = 0.0;    // held back an extra random delay in [0, reorder_max]
  double corrupt = 0.0;    // one random bit after the Ethernet header flipped
  stack::Duration reorder_max = stack::Duration::from_millis(5);
  std::uint64_t bandwidth_bps = 0;  // 0: no serialisation delay
  std::size_t queue_limit = 1024;   // frames in flight per direction; more are dropped
  std::size_t mtu = 1500;
  std::uint64_t seed = 1;
};

class MemoryLink {
 public:
  explicit MemoryLink(const LinkConfig& config = {});
  MemoryLink(const MemoryLink&) = delete;
  MemoryLink& operator=(const MemoryLink&) = delete;

  Device& end_a() { return ends_[0]; }
  Device& end_b() { return ends_[1]; }

  // Counters of one direction: from_a = true for a -> b.
  struct Counters {
    std::uint64_t sent = 0;       // accepted by transmit()
    std::uint64_t delivered = 0;  // returned by receive() (a duplicate counts twice)
    std::uint64_t dropped_loss = 0;
    std::uint64_t dropped_queue_full = 0;
    std::uint64_t dropped_too_big = 0;    // transmit larger than max_frame
    std::uint64_t dropped_rx_buffer = 0;  // receive() buffer smaller than the frame
    std::uint64_t duplicated = 0;
    std::uint64_t corrupted = 0;
    std::uint64_t reordered = 0;
    std::uint64_t dropped() const { return dropped_loss + dropped_queue_full + dropped_too_big + dropped_rx_buffer; }
  };
  const Counters& counters(bool from_a) const { return dirs_[from_a ? 0 : 1].counters; }
  std::size_t in_flight(bool from_a) const { return dirs_[from_a ? 0 : 1].queue.size(); }

 private:
  // One direction of the link: frames in flight, keyed by (delivery instant, send order).
  struct Direction {
    explicit Direction(std::uint64_t seed, std::uint64_t stream) : dice(seed, stream) {}
    std::map<std::pair<stack::Instant, std::uint64_t>, stack::Bytes> queue;
    stack::Instant link_free_at;  // when the transmitter finishes serialising the last frame
    FaultDice dice;
    Counters counters;
  };

  class End final : public Device {
   public:
    End(MemoryLink& link, int index) : link_(link), index_(index) {}
    Capabilities capabilities() const override;
    std::string name() const override { return index_ == 0 ? "memory-a" : "memory-b"; }
    std::optional<std::size_t> receive(stack::Instant now, std::span<std::byte> out) override;
    bool transmit(stack::Instant now, std::span<const std::byte> frame) override;
    std::optional<stack::Instant> poll_at() const override;
    Stats stats() const override;

   private:
    MemoryLink& link_;
    int index_;
  };

  Direction& outbound(int end) { return dirs_[static_cast<std::size_t>(end)]; }  // frames this end transmits
  Direction& inbound(int end) { return dirs_[static_cast<std::size_t>(1 - end)]; }
  const Direction& inbound(int end) const { return dirs_[static_cast<std::size_t>(1 - end)]; }

  LinkConfig config_;
  std::array<Direction, 2> dirs_;  // [0]: a -> b, [1]: b -> a
  std::array<End, 2> ends_;
  std::uint64_t order_ = 0;
};

}  // namespace drivers
