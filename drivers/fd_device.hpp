// FdDevice: what the TAP and AF_PACKET drivers have in common — one Ethernet frame per system call
// on a non-blocking Linux descriptor, optionally behind a virtio-net header.
//
// Read first: readv(2)/recvmsg(2) and writev(2)/sendmsg(2) (scatter-gather I/O); virtio spec
// §5.1.6 (struct virtio_net_hdr); tun's IFF_VNET_HDR in the kernel's
// Documentation/networking/tuntap.rst and PACKET_VNET_HDR in packet(7).
//
// The receive loop and the transmit loop live here, once: receive() strips the virtio-net header,
// drops frames that did not fit and headers that do not make sense, completes partial checksums
// and counts super-frames (linux_net::apply_vnet_header); transmit() sends a zeroed header
// in front of the frame and retries on EINTR; with the header, runs of full-sized TCP segments go
// out as one super-frame the kernel segments (transmit offload, tso.hpp). A driver (TapDevice,
// PacketDevice) supplies only what differs: how its descriptor is opened, its one read and one
// write system call, and which write errors mean what.
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <array>
#include <cstddef>
#include <cerrno>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "drivers/device.hpp"
#include "drivers/tso.hpp"

namespace drivers {

class FdDevice : public Device {
 public:
  ~FdDevice() override;  // closes the descriptor
  FdDevice(const FdDevice&) = delete;
  FdDevice& operator=(const FdDevice&) = delete;

  // MTU-sized frames; with a virtio-net header, also TCP super-frames up to kMaxGsoFrame (rx_gso).
  Capabilities capabilities() const override;
  std::string name() const override { return name_; }
  std::optional<std::size_t> receive(stack::Instant now, std::span<std::byte> out) final;
  bool transmit(stack::Instant now, std::span<const std::byte> frame) final;
  void flush(stack::Instant now) final;
  bool tx_blocked() const final { return !backlog_.empty(); }
  bool rx_checksum_vouched() const final { return rx_vouched_; }
  int readable_fd() const override { return fd_; }
  // EAGAIN: the descriptor's own buffer was full, and POLLOUT says when it has room. ENOBUFS:
  // the queue behind it (a qdisc) was, which POLLOUT does not report: try again after a pause.
  int writable_fd() const final { return !backlog_.empty() && full_errno_ != ENOBUFS ? fd_ : -1; }
  std::optional<stack::Instant> poll_at() const final;

  bool vnet_hdr() const { return vnet_hdr_len_ != 0; }
  // Received frames whose checksum the kernel left partial (virtio-net NEEDS_CSUM): completed
  // (summed) when on, the default; trusted as they are when off, for a chain where nothing
  // above the driver reads the checksum field (no pcap, narration or fault injector).
  void set_rx_checksum_completion(bool on) { complete_rx_checksums_ = on; }
  // Transmit checksum offload (with a virtio-net header only): the stack leaves the TCP checksum
  // of its frames partial (the pseudo-header sum), and every TCP frame goes out with NEEDS_CSUM
  // for the kernel to complete. The caller switches the stack and the driver together.
  void set_tx_checksum_partial(bool on) { tx_checksum_partial_ = on && vnet_hdr(); }
  bool tx_checksum_partial() const { return tx_checksum_partial_; }

  // Largest frame the kernel hands over with receive offloads (tun TUN_F_TSO4, a packet socket
  // with PACKET_VNET_HDR behind GRO): a 64 KiB IPv4 packet plus Ethernet.
  static constexpr std::size_t kMaxGsoFrame = 65535 + 14;
  // The longest virtio-net header a driver uses: virtio_net_hdr_v1 (12 bytes, tun); packet
  // sockets use the 10-byte virtio_net_hdr.
  static constexpr std::size_t kMaxVnetHdrLen = 12;

  // Back-pressure. A write refused because the medium's queue is full (EAGAIN, ENOBUFS: a packet
  // socket's send buffer, or a qdisc that is full) loses nothing: the frame waits here, in
  // order, with every frame handed over after it, and each flush() writes them again until one
  // is refused. Bounded: a frame that finds the backlog full is dropped and counted. The stack
  // sends no new data meanwhile (tx_blocked()), checked after every frame it hands over, so what
  // reaches the backlog is the rest of one TSO batch and the bare ACKs of one round.
  static constexpr std::size_t kMaxBacklogFrames = 1024;
  static constexpr std::size_t kMaxBacklogBytes = 8u << 20;

 protected:
  // Takes ownership of `fd`. vnet_hdr_len: 0 when the descriptor carries no virtio-net header.
  FdDevice(int fd, std::string name, std::size_t mtu, std::size_t vnet_hdr_len);

  // The scatter list of one frame: the virtio-net header first (when there is one), then the
  // frame, then (receiving only) one spill byte. The kernel fills (or sends) the buffers in this
  // order (readv(2)); a frame longer than the frame buffer runs into the spill byte, so the byte
  // count says it did not fit even where the kernel reports only what it copied (tun).
  class FrameIov {
   public:
    static FrameIov for_receive(std::span<std::byte> hdr, std::span<std::byte> frame, std::byte& spill);
    static FrameIov for_send(std::span<std::byte> hdr, std::span<const std::byte> frame);
    struct iovec* iov() { return iov_.data(); }
    std::size_t iovlen() const { return count_; }

   private:
    FrameIov() = default;
    void add(void* base, std::size_t len);
    std::array<struct iovec, 3> iov_{};
    std::size_t count_ = 0;
  };

  // What a driver's read system call returned.
  struct RawRead {
    // Bytes, the header included; more than header plus frame buffer when the frame did not fit
    // (tun: the spill byte was filled; packet sockets: MSG_TRUNC's real length). -1: failed, errno
    // says why.
    ssize_t n;
    // The driver dropped the frame itself (and counted why): read the next one.
    bool skip = false;
  };
  // One non-blocking read of one frame into `io`.
  virtual RawRead read_frame(FrameIov& io) = 0;
  // One non-blocking write of one frame from `io`: bytes written, or -1 with errno set.
  virtual ssize_t write_frame(FrameIov& io) = 0;
  // Counts a failed write by its errno (EINTR was retried already, a full queue was held):
  // link down, a frame the medium rejects, ...
  virtual void count_tx_drop(int err) = 0;

  static bool queue_full(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS; }

  int fd() const { return fd_; }

  // The counters of the shared loops, listed by each driver's stats() under the same names.
  struct RxCounters {
    std::uint64_t frames = 0;                // rx_frames
    std::uint64_t dropped_too_big = 0;       // rx_dropped_too_big: longer than the caller's buffer
    std::uint64_t dropped_bad_vnet_hdr = 0;  // rx_dropped_bad_vnet_hdr: short read, or checksum
                                             // offsets outside the frame
    std::uint64_t errors = 0;                // rx_errors: the read failed other than with EAGAIN
    std::uint64_t csum_completed = 0;        // rx_csum_completed: partial checksums we completed
    std::uint64_t csum_trusted = 0;          // rx_csum_trusted: partial checksums left partial, trusted
    std::uint64_t gso_frames = 0;            // rx_gso_frames: super-frames handed up whole
  };
  RxCounters rx_;
  bool rx_vouched_ = false;  // rx_checksum_vouched() of the last frame receive() returned
  bool complete_rx_checksums_ = true;  // set_rx_checksum_completion()
  bool tx_checksum_partial_ = false;   // set_tx_checksum_partial()
  std::uint64_t tx_frames_ = 0;  // tx_frames: wire frames sent (a super-frame counts its segments)
  struct TxGsoCounters {
    std::uint64_t frames = 0;    // tx_gso_frames: super-frames the kernel segmented for us
    std::uint64_t segments = 0;  // tx_gso_segments: the wire segments they carried
  };
  TxGsoCounters tx_gso_;
  struct TxBacklogCounters {
    std::uint64_t held = 0;          // tx_held: frames kept to retry: refused (queue full), or behind one that was
    std::uint64_t dropped_full = 0;  // tx_dropped_backlog_full: refused with the backlog full
    std::uint64_t max_frames = 0;    // tx_backlog_max: the most frames the backlog ever held
  };
  TxBacklogCounters tx_backlog_;

 private:
  // Checks the frame of `n` bytes (header included) that just arrived in `hdr` and `out`: its
  // length without the header, or nullopt when it is dropped (counted).
  std::optional<std::size_t> accept(std::size_t n, std::span<const std::byte> hdr, std::span<std::byte> out);
  // One write of `frame` behind the virtio-net header `hdr` (retried on EINTR), or held in the
  // backlog when the queue is full or the backlog is not empty; false: dropped.
  bool write_one(std::span<std::byte> hdr, std::span<const std::byte> frame, std::size_t wire_frames, bool gso);
  // One write system call: Sent, Full (EAGAIN, ENOBUFS) or Failed (counted by count_tx_drop).
  enum class WriteResult { Sent, Full, Failed };
  WriteResult write_now(std::span<std::byte> hdr, std::span<const std::byte> frame);
  void sent(std::size_t wire_frames, bool gso);
  bool hold(std::span<const std::byte> hdr, std::span<const std::byte> frame, std::size_t wire_frames, bool gso);
  void drain_backlog();
  void send_batch();

  struct Held {
    std::vector<std::byte> hdr;    // the virtio-net header (empty without one)
    std::vector<std::byte> frame;  // the frame, or a super-frame
    std::size_t wire_frames;       // the wire segments it carries
    bool gso;
  };
  std::deque<Held> backlog_;
  std::size_t backlog_bytes_ = 0;
  int full_errno_ = 0;        // why the last write was refused (EAGAIN, ENOBUFS)
  stack::Instant now_;        // the time of the current transmit() or flush()
  stack::Instant retry_at_;   // after ENOBUFS: when flush() should try the backlog again
  static constexpr stack::Duration kRetryPause = stack::Duration::from_millis(1);

  int fd_;
  std::string name_;
  std::size_t mtu_;
  std::size_t vnet_hdr_len_;
  // Transmit offload: with a virtio-net header, full-sized segments of one connection sent in
  // a row are joined (tso.hpp) and the kernel cuts them back into the same wire segments.
  TsoBatch tso_;
};

}  // namespace drivers
