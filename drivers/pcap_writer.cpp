// PcapFile and PcapWriter: see pcap_writer.hpp.
#include "drivers/pcap_writer.hpp"

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

namespace drivers {

namespace {

void store_le32(std::span<std::byte> b, std::size_t at, std::uint32_t v) {
  for (std::size_t i = 0; i < 4; ++i) b[at + i] = static_cast<std::byte>((v >> (8 * i)) & 0xff);
}
void store_le16(std::span<std::byte> b, std::size_t at, std::uint16_t v) {
  b[at] = static_cast<std::byte>(v & 0xff);
  b[at + 1] = static_cast<std::byte>(v >> 8);
}

// Writes all of `iov`, resuming after short writes and EINTR.
bool write_all(int fd, struct iovec* iov, int count) {
  while (count > 0) {
    const ssize_t n = ::writev(fd, iov, count);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    auto left = static_cast<std::size_t>(n);
    while (count > 0 && left >= iov->iov_len) {
      left -= iov->iov_len;
      ++iov;
      --count;
    }
    if (count > 0) {
      iov->iov_base = static_cast<char*>(iov->iov_base) + left;
      iov->iov_len -= left;
    }
  }
  return true;
}

}  // namespace

WallClock wall_clock_from_epoch(std::int64_t unix_micros) {
  return [unix_micros](stack::Instant t) {
    const std::int64_t us = unix_micros + t.micros();
    // Floor division, so an instant before the epoch still gets 0 <= usec < 1e6.
    std::int64_t sec = us / 1'000'000;
    std::int64_t usec = us % 1'000'000;
    if (usec < 0) {
      usec += 1'000'000;
      sec -= 1;
    }
    return std::pair{sec, usec};
  };
}

stack::Result<std::unique_ptr<PcapFile>, PcapError> PcapFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int err = errno;
    std::string hint = err == EACCES ? " (pick a path you can write, e.g. /tmp/capture.pcap)"
                       : err == ENOENT ? " (the directory does not exist)"
                                       : "";
    return stack::Err{PcapError{"cannot create capture file " + path + ": " + std::strerror(err) + hint}};
  }
  std::array<std::byte, 24> header{};
  store_le32(header, 0, 0xa1b2c3d4);  // microsecond timestamps
  store_le16(header, 4, 2);           // version 2.4
  store_le16(header, 6, 4);
  store_le32(header, 8, 0);  // thiszone: timestamps are UTC
  store_le32(header, 12, 0);  // sigfigs: always 0 in practice
  store_le32(header, 16, kSnaplen);
  store_le32(header, 20, kLinktypeEthernet);
  struct iovec iov{header.data(), header.size()};
  if (!write_all(fd, &iov, 1)) {
    const int err = errno;
    ::close(fd);
    return stack::Err{PcapError{"cannot write capture file " + path + ": " + std::strerror(err)}};
  }
  return std::unique_ptr<PcapFile>(new PcapFile(fd, path));
}

PcapFile::~PcapFile() { ::close(fd_); }

bool PcapFile::write(std::int64_t ts_sec, std::int64_t ts_usec, std::span<const std::byte> frame) {
  const auto orig_len = static_cast<std::uint32_t>(frame.size());
  const std::uint32_t incl_len = orig_len > kSnaplen ? kSnaplen : orig_len;
  std::array<std::byte, 16> header{};
  // The classic format has 32-bit unsigned seconds (good until 2106).
  store_le32(header, 0, static_cast<std::uint32_t>(ts_sec));
  store_le32(header, 4, static_cast<std::uint32_t>(ts_usec));
  store_le32(header, 8, incl_len);
  store_le32(header, 12, orig_len);
  std::array<struct iovec, 2> iov{{{header.data(), header.size()},
                                   {const_cast<std::byte*>(frame.data()), incl_len}}};  // writev never writes through it
  if (!write_all(fd_, iov.data(), 2)) {
    ++write_errors_;
    return false;
  }
  ++records_;
  return true;
}

PcapWriter::PcapWriter(Device& inner, std::unique_ptr<PcapFile> file, WallClock clock)
    : inner_(&inner), file_(std::move(file)), clock_(clock ? std::move(clock) : wall_clock_from_epoch(0)) {}

PcapWriter::PcapWriter(std::unique_ptr<Device> inner, std::unique_ptr<PcapFile> file, WallClock clock)
    : PcapWriter(*inner, std::move(file), std::move(clock)) {
  owned_ = std::move(inner);
}

void PcapWriter::record(stack::Instant now, std::span<const std::byte> frame) {
  const auto [sec, usec] = clock_(now);
  file_->write(sec, usec, frame);
}

std::optional<std::size_t> PcapWriter::receive(stack::Instant now, std::span<std::byte> out) {
  auto n = inner_->receive(now, out);
  if (n) record(now, out.first(*n));
  return n;
}

bool PcapWriter::transmit(stack::Instant now, std::span<const std::byte> frame) {
  record(now, frame);
  return inner_->transmit(now, frame);
}

Stats PcapWriter::stats() const {
  Stats s = inner_->stats();
  s.emplace_back("pcap.records", file_->records());
  s.emplace_back("pcap.write_errors", file_->write_errors());
  return s;
}

}  // namespace drivers
