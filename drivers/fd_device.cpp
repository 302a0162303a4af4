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
  if (!hdr.empty()) {
    const auto v = linux_net::apply_vnet_header(hdr, out.first(len));
    if (!v.ok) {
      ++rx_.dropped_bad_vnet_hdr;
      return std::nullopt;
    }
    rx_.csum_completed += v.checksum_completed;
    rx_.gso_frames += v.gso;
  }
  ++rx_.frames;
  return len;
}

bool FdDevice::transmit(stack::Instant, std::span<const std::byte> frame) {
  std::array<std::byte, kMaxVnetHdrLen> hdr_buf{};
  const std::span<std::byte> hdr = std::span(hdr_buf).first(vnet_hdr_len_);
  if (!vnet_hdr()) return write_one(hdr, frame, 1);
  auto offer = tso_.offer(frame);
  if (offer == TsoBatch::Offer::Joined) return true;  // sent with its batch, by flush() at the latest
  send_batch();
  if (offer == TsoBatch::Offer::Mismatch && tso_.offer(frame) == TsoBatch::Offer::Joined) return true;
  // A zeroed virtio-net header: no checksum to complete, no segmentation (virtio spec §5.1.6:
  // flags 0, gso_type VIRTIO_NET_HDR_GSO_NONE).
  return write_one(hdr, frame, 1);
}

void FdDevice::flush(stack::Instant) { send_batch(); }

void FdDevice::send_batch() {
  if (tso_.empty()) return;
  const std::size_t segments = tso_.segments();
  const TsoBatch::Out out = tso_.finish();
  std::array<std::byte, kMaxVnetHdrLen> hdr_buf{};
  const std::span<std::byte> hdr = std::span(hdr_buf).first(vnet_hdr_len_);
  TsoBatch::write_vnet_header(out, hdr);
  if (write_one(hdr, out.frame, segments) && out.gso) {
    ++tx_gso_.frames;
    tx_gso_.segments += segments;
  }
  tso_.clear();
}

bool FdDevice::write_one(std::span<std::byte> hdr, std::span<const std::byte> frame, std::size_t wire_frames) {
  FrameIov io = FrameIov::for_send(hdr, frame);
  for (;;) {
    if (write_frame(io) >= 0) break;  // tun and packet sockets take a frame whole or not at all
    if (errno == EINTR) continue;
    count_tx_drop(errno);
    return false;
  }
  tx_frames_ += wire_frames;
  return true;
}

}  // namespace drivers
