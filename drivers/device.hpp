// The Device interface: how frames get in and out of the stack.
//
// A device moves whole Ethernet frames. The stack (stack/) never sees a device; the app loop
// reads frames from a device and feeds them to the Interface, and hands the Interface's output
// frames back to it. Decorators (pcap writer, fault injector, tracer) wrap any Device.
//
// Capabilities are data the stack reads (MTU, offloads), so an offload driver (IFF_VNET_HDR with
// TCP super-frames and partial checksums) fits later without a redesign.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "stack/time.hpp"
#include "stack/wire/ethernet.hpp"

namespace drivers {

struct Capabilities {
  std::size_t mtu = 1500;             // largest IP packet (the frame is mtu + 14)
  std::size_t max_frame = 1514;       // largest frame receive()/transmit() handle
  bool rx_checksum_verified = false;  // the medium already verified L4 checksums
  bool tx_checksum_partial = false;   // the medium completes L4 checksums (virtio-net NEEDS_CSUM)
  bool tso = false;                   // accepts TCP super-frames up to max_frame
  bool rx_gso = false;                // receive() may return TCP super-frames up to max_frame
                                      // (virtio-net GSO from the kernel; checksums completed)
};

// Counters a driver keeps ("rx_frames", "tx_held", ...), in a stable order, for
// --stats. Decorators append their own after the wrapped device's, with a prefix ("fault.").
using Stats = std::vector<std::pair<std::string, std::uint64_t>>;

// Which way a frame moves, seen from the stack: Rx = medium -> stack, Tx = stack -> medium.
enum class Direction { Rx, Tx };
inline const char* to_string(Direction d) { return d == Direction::Rx ? "rx" : "tx"; }

class Device {
 public:
  virtual ~Device() = default;

  virtual Capabilities capabilities() const = 0;
  virtual std::string name() const = 0;

  // Copies one received frame into `out` (sized capabilities().max_frame); returns its length,
  // or nullopt when none is queued. Never blocks.
  virtual std::optional<std::size_t> receive(stack::Instant now, std::span<std::byte> out) = 0;
  // True when the kernel vouched for the TCP/UDP checksum of the frame the last receive()
  // returned: it came with virtio-net NEEDS_CSUM (a frame that never left the machine; the driver
  // completed the field) or DATA_VALID (the kernel verified it). The stack then skips its own
  // pass over the bytes. A decorator that may alter frames answers false.
  virtual bool rx_checksum_vouched() const { return false; }

  // Hands one complete frame to the medium; false means it was dropped (a fault, a link that is
  // down, a full backlog). A full queue is not a drop: see tx_blocked().
  virtual bool transmit(stack::Instant now, std::span<const std::byte> frame) = 0;
  // A device with transmit offload (capabilities().tso) may hold frames handed to transmit()
  // to join them into one super-frame; flush() sends whatever it holds. The loop calls it after
  // every round of output, so nothing waits longer than that round. Decorators pass it on.
  virtual void flush(stack::Instant /*now*/) {}
  // Back-pressure: true while the medium has refused a write because its queue is full and the
  // device holds the refused frames (in order) to write them again. Each flush() tries them
  // again first. Meanwhile the loop tells the stack the link is busy (it sends no new data) and
  // waits for writable_fd() to become writable (POLLOUT) or for poll_at(). Decorators pass it on.
  virtual bool tx_blocked() const { return false; }
  // A descriptor whose POLLOUT means the held frames may go now, or -1 (nothing held, or a
  // queue that no descriptor reports on: then poll_at() names when to try again).
  virtual int writable_fd() const { return -1; }

  // For the event loop: a file descriptor that becomes readable when receive() has work, or -1
  // for in-process devices (those report their next delivery through poll_at()).
  virtual int readable_fd() const { return -1; }
  // Earliest instant at which receive() will have a frame without outside input (memory link
  // latency, fault-injector delay). nullopt: only outside input can produce frames.
  virtual std::optional<stack::Instant> poll_at() const { return std::nullopt; }
  // Counters, every drop with its reason. Default: none.
  virtual Stats stats() const { return {}; }
};

}  // namespace drivers

namespace drivers {
// "mtu 1500, no offloads" — for --stats and narration.
std::string describe(const Capabilities& caps);
}  // namespace drivers
