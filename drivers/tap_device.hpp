// TapDevice: Ethernet frames to and from a Linux TAP interface (/dev/net/tun, IFF_TAP | IFF_NO_PI).
//
// Read first: the kernel's Documentation/networking/tuntap.rst (TUNSETIFF, persistent devices,
// IFF_VNET_HDR); netdevice(7) (SIOCGIFMTU, SIOCGIFINDEX). One fact to respect: the MAC of tapX
// belongs to the kernel side, so the stack uses its own.
//
// Opening either attaches to an existing persistent TAP (created with
// `ip tuntap add dev tap0 mode tap user $USER`, or by `tools/sandbox up`) or, when the process has
// CAP_NET_ADMIN and no device of that name exists, creates a non-persistent one that vanishes
// when we close it. Failures come back as a TapError whose message says what to do.
//
// The descriptor is non-blocking: receive() returns one frame per call and nullopt when none is
// queued (the app drains in a loop, then waits on readable_fd()); transmit() writes one frame and
// returns false when the kernel queue is full (counted, never blocks).
//
// Offload (TapOptions::vnet_hdr; off in the driver, on in the programs unless --no-offload):
// every read and write then carries a 12-byte virtio_net_hdr_v1 first, and TUNSETOFFLOAD(TUN_F_CSUM | TUN_F_TSO4) lets the kernel hand us
// frames whose TCP/UDP checksum is left for us to fill in (NEEDS_CSUM) and TCP super-frames up to
// 64 KiB (GSO). receive() strips the header and completes such checksums in software, so the stack
// always sees frames with valid checksums; capabilities() then say rx_gso and max_frame 65549.
// On transmit the stack still sends complete checksums and MTU-sized frames; FdDevice joins runs
// of full-sized segments of one connection into a TCP super-frame the kernel segments back into
// the same wire segments (transmit offload, drivers/tso.hpp; capabilities().tso), and sends
// every other frame behind a zeroed header.
//
// Multi-queue (TapOptions::multi_queue, open_queues(); tuntap.rst "Multiqueue tuntap interface"):
// with IFF_MULTI_QUEUE every TUNSETIFF on a fresh /dev/net/tun descriptor attaches one more queue
// to the same device, each descriptor a TapDevice of its own. The kernel picks the queue of a frame
// it sends us by the flow's symmetric hash, and remembers for each flow the queue we last wrote it
// on (the tun driver's automatic queue selection), so a connection answered from queue k keeps
// arriving on queue k. A persistent TAP made without `multi_queue` refuses IFF_MULTI_QUEUE
// (EINVAL): the error says how to make one that takes it. The other way round, a single-queue
// open() of a TAP made with `multi_queue` attaches as its one queue. Offloads are set on every
// queue (the header size and offload flags belong to the device, so every queue sees the same).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "drivers/fd_device.hpp"
#include "stack/util/result.hpp"

namespace drivers {

struct TapOptions {
  std::string name = "tap0";  // also a kernel pattern like "ustk%d" when creating
  bool create = true;         // create a non-persistent TAP when none exists (needs CAP_NET_ADMIN)
  bool vnet_hdr = false;      // virtio-net header + receive offloads (see above)
  bool multi_queue = false;   // IFF_MULTI_QUEUE: this descriptor is one queue of several (see above)
};

enum class TapErrorKind {
  NoTunDevice,       // /dev/net/tun missing (module not loaded)
  NoSuchDevice,      // no interface of that name, and we may not (or were told not to) create one
  NotTap,            // an interface of that name exists but is a TUN or not a tun/tap at all
  Busy,              // another process is attached
  PermissionDenied,  // the TAP exists but belongs to another user, or /dev/net/tun is not ours
  Other,
};
const char* to_string(TapErrorKind kind);

struct TapError {
  TapErrorKind kind;
  std::string message;  // one line, says what to do
};

class TapDevice final : public FdDevice {
 public:
  static stack::Result<std::unique_ptr<TapDevice>, TapError> open(const TapOptions& options);
  // `queues` (1..kMaxQueues) descriptors of one multi-queue TAP, queue 0 first; the device is
  // created by the first when it does not exist and options.create allows it.
  static stack::Result<std::vector<std::unique_ptr<TapDevice>>, TapError> open_queues(TapOptions options,
                                                                                      std::size_t queues);
  // The tun driver's limit (MAX_TAP_QUEUES in the kernel's if_tun.h history: 256).
  static constexpr std::size_t kMaxQueues = 256;

  // capabilities(), receive(), transmit(): FdDevice, around read_frame() and write_frame().
  Stats stats() const override;

  bool created() const { return created_; }  // we created it (it disappears when we close)

  // The virtio_net_hdr_v1 length used with IFF_VNET_HDR (TUNSETVNETHDRSZ).
  static constexpr std::size_t kVnetHdrLen = 12;
  static_assert(kVnetHdrLen <= kMaxVnetHdrLen);

 private:
  TapDevice(int fd, std::string name, std::size_t mtu, bool created, bool vnet_hdr)
      : FdDevice(fd, std::move(name), mtu, vnet_hdr ? kVnetHdrLen : 0), created_(created) {}

  RawRead read_frame(FrameIov& io) override;
  ssize_t write_frame(FrameIov& io) override;
  void count_tx_drop(int err) override;

  bool created_;

  struct Counters {
    std::uint64_t link_wait_ms = 0;           // open(): waited this long for the kernel to activate the link
    std::uint64_t tx_dropped_error = 0;       // write() failed otherwise (interface down: EIO)
  } counters_;  // and FdDevice's rx_ and tx_frames_
};

}  // namespace drivers
