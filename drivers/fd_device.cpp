// FdDevice: see fd_device.hpp.
#include "drivers/fd_device.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "drivers/linux_net.hpp"

namespace drivers {

void FdDevice::FrameIov::add(void* base, std::size_t len) { iov_[count_++] = {base, len}; }

FdDevice::FrameIov FdDevice::FrameIov::for_receive(std::span<std::byte> hdr, std::span<std::byte> frame,
                                                   std::byte& spill) {
  FrameIov io;
  if (!hdr.empty()) io.add(hdr.data(), hdr.size());  // no virtio-net header: no entry for it
  io.add(frame.data(), frame.size());
  io.add(&spill, 1);
  return io;
}

FdDevice::FrameIov FdDevice::FrameIov::for_send(std::span<std::byte> hdr, std::span<const std::byte> frame) {
  FrameIov io;
  if (!hdr.empty()) io.add(hdr.data(), hdr.size());  // no virtio-net header: no entry for it
  // writev() and sendmsg() do not write through iov_base; the const_cast only satisfies the C struct.
  io.add(const_cast<std::byte*>(frame.data()), frame.size());
  return io;
}

FdDevice::FdDevice(int fd, std::string name, std::size_t mtu, std::size_t vnet_hdr_len)
    : fd_(fd), name_(std::move(name)), mtu_(mtu), vnet_hdr_len_(vnet_hdr_len) {}

FdDevice::~FdDevice() { ::close(fd_); }

Capabilities FdDevice::capabilities() const {
  Capabilities caps;
  caps.mtu = mtu_;
  caps.max_frame = mtu_ + stack::wire::ethernet::kHeaderLen;
  if (vnet_hdr()) {
    caps.max_frame = std::max(kMaxGsoFrame, caps.max_frame);
    caps.rx_gso = true;
    caps.tso = true;  // the stack still sends wire-sized segments; the driver joins them
  }
  return caps;
}

std::optional<std::size_t> FdDevice::receive(stack::Instant, std::span<std::byte> out) {
  for (;;) {
    std::array<std::byte, kMaxVnetHdrLen> hdr_buf{};
    const std::span<std::byte> hdr = std::span(hdr_buf).first(vnet_hdr_len_);
    std::byte spill{};  // see FrameIov
    FrameIov io = FrameIov::for_receive(hdr, out, spill);
    const RawRead r = read_frame(io);
    if (r.n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return std::nullopt;
      ++rx_.errors;  // e.g. ENETDOWN when the interface went down under us, reported once
      return std::nullopt;
    }
    if (r.skip) continue;
    if (const auto len = accept(static_cast<std::size_t>(r.n), hdr, out)) return len;
  }
}

std::optional<std::size_t> FdDevice::accept(std::size_t n, std::span<const std::byte> hdr, std::span<std::byte> out) {
  if (n < hdr.size()) {  // not even a whole virtio-net header
    ++rx_.dropped_bad_vnet_hdr;
    return std::nullopt;
  }
  const std::size_t len = n - hdr.size();
  if (len > out.size()) {
    // The frame did not fit in `out` (it reached the spill byte, or MSG_TRUNC told its length):
    // only possible when the caller's buffer is smaller than capabilities().max_frame. Handing up
    // a cut frame would corrupt it; drop it.
    ++rx_.dropped_too_big;
    return std::nullopt;
  }
  rx_vouched_ = false;
  if (!hdr.empty()) {
    const auto v = linux_net::apply_vnet_header(hdr, out.first(len), complete_rx_checksums_);
    if (!v.ok) {
      ++rx_.dropped_bad_vnet_hdr;
      return std::nullopt;
    }
    rx_.csum_completed += v.checksum_completed;
    rx_.csum_trusted += v.checksum_trusted;
    rx_.gso_frames += v.gso;
    rx_vouched_ = v.checksum_vouched;
  }
  ++rx_.frames;
  return len;
}

bool FdDevice::transmit(stack::Instant now, std::span<const std::byte> frame) {
  now_ = now;
  std::array<std::byte, kMaxVnetHdrLen> hdr_buf{};
  const std::span<std::byte> hdr = std::span(hdr_buf).first(vnet_hdr_len_);
  if (!vnet_hdr()) return write_one(hdr, frame, 1, false);
  auto offer = tso_.offer(frame);
  if (offer == TsoBatch::Offer::Joined) return true;  // sent with its batch, by flush() at the latest
  send_batch();
  if (offer == TsoBatch::Offer::Mismatch && tso_.offer(frame) == TsoBatch::Offer::Joined) return true;
  // A zeroed virtio-net header: no checksum to complete, no segmentation (virtio spec §5.1.6:
  // flags 0, gso_type VIRTIO_NET_HDR_GSO_NONE); or NEEDS_CSUM for a TCP checksum left partial.
  if (tx_checksum_partial_) TsoBatch::write_partial_checksum_header(frame, hdr);
  return write_one(hdr, frame, 1, false);
}

void FdDevice::flush(stack::Instant now) {
  now_ = now;
  drain_backlog();
  send_batch();
}

void FdDevice::send_batch() {
  if (tso_.empty()) return;
  const std::size_t segments = tso_.segments();
  const TsoBatch::Out out = tso_.finish();
  std::array<std::byte, kMaxVnetHdrLen> hdr_buf{};
  const std::span<std::byte> hdr = std::span(hdr_buf).first(vnet_hdr_len_);
  TsoBatch::write_vnet_header(out, hdr);
  if (!out.gso && tx_checksum_partial_) TsoBatch::write_partial_checksum_header(out.frame, hdr);
  write_one(hdr, out.frame, segments, out.gso);
  tso_.clear();
}

bool FdDevice::write_one(std::span<std::byte> hdr, std::span<const std::byte> frame, std::size_t wire_frames, bool gso) {
  // Behind a backlog a frame waits its turn: the wire keeps the order the stack sent in.
  if (!backlog_.empty()) return hold(hdr, frame, wire_frames, gso);
  switch (write_now(hdr, frame)) {
    case WriteResult::Sent: sent(wire_frames, gso); return true;
    case WriteResult::Full: return hold(hdr, frame, wire_frames, gso);
    case WriteResult::Failed: return false;
  }
  return false;
}

FdDevice::WriteResult FdDevice::write_now(std::span<std::byte> hdr, std::span<const std::byte> frame) {
  FrameIov io = FrameIov::for_send(hdr, frame);
  for (;;) {
    if (write_frame(io) >= 0) return WriteResult::Sent;  // tun and packet sockets take a frame whole or not at all
    if (errno == EINTR) continue;
    if (queue_full(errno)) {
      full_errno_ = errno;
      retry_at_ = now_ + kRetryPause;
      return WriteResult::Full;
    }
    count_tx_drop(errno);
    return WriteResult::Failed;
  }
}

void FdDevice::sent(std::size_t wire_frames, bool gso) {
  tx_frames_ += wire_frames;
  if (gso) {
    ++tx_gso_.frames;
    tx_gso_.segments += wire_frames;
  }
}

bool FdDevice::hold(std::span<const std::byte> hdr, std::span<const std::byte> frame, std::size_t wire_frames, bool gso) {
  if (backlog_.size() >= kMaxBacklogFrames || backlog_bytes_ + frame.size() > kMaxBacklogBytes) {
    ++tx_backlog_.dropped_full;
    return false;
  }
  backlog_.push_back(Held{{hdr.begin(), hdr.end()}, {frame.begin(), frame.end()}, wire_frames, gso});
  backlog_bytes_ += frame.size();
  ++tx_backlog_.held;
  tx_backlog_.max_frames = std::max<std::uint64_t>(tx_backlog_.max_frames, backlog_.size());
  return true;
}

std::optional<stack::Instant> FdDevice::poll_at() const {
  if (!backlog_.empty() && full_errno_ == ENOBUFS) return retry_at_;
  return std::nullopt;
}

void FdDevice::drain_backlog() {
  while (!backlog_.empty()) {
    Held& h = backlog_.front();
    const WriteResult r = write_now(h.hdr, h.frame);
    if (r == WriteResult::Full) return;  // still full: the next flush() tries again
    if (r == WriteResult::Sent) sent(h.wire_frames, h.gso);
    backlog_bytes_ -= h.frame.size();
    backlog_.pop_front();
  }
}

}  // namespace drivers
