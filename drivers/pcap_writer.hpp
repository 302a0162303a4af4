// PcapFile and PcapWriter: capture frames to a classic libpcap file that tcpdump and Wireshark read.
//
// Read first: pcap-savefile(5) (local man page).
//
// File layout (all fields little-endian here, see below):
//   24-byte header: magic 0xa1b2c3d4 (microsecond timestamps), version 2.4, thiszone 0,
//                   sigfigs 0, snaplen 262144 (what tcpdump writes), linktype 1 (LINKTYPE_ETHERNET)
//   per frame:      ts_sec, ts_usec, incl_len (<= snaplen), orig_len, then incl_len frame bytes
// The format is "host byte order, readers swap by looking at the magic". We always write
// little-endian, which is a valid file on any host and makes the golden bytes in the tests the
// same everywhere.
//
// Every record is written with one writev() straight to the file descriptor (no stdio buffer),
// like `tcpdump -U`: a program that is killed leaves a file that ends at a record boundary.
//
// Time: a capture needs wall-clock timestamps, but the stack's Instant is monotonic and virtual in
// tests. The writer asks a WallClock to convert; tests pass a fixed epoch (virtual time maps to a
// reproducible date), apps pass the offset between the real-time and monotonic clocks.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "drivers/device.hpp"
#include "stack/util/result.hpp"

namespace drivers {

// Seconds and microseconds since the Unix epoch.
using WallClock = std::function<std::pair<std::int64_t, std::int64_t>(stack::Instant)>;
// Instant::from_micros(0) is `unix_micros` microseconds after the epoch.
WallClock wall_clock_from_epoch(std::int64_t unix_micros);

struct PcapError {
  std::string message;  // one line: what failed and what to do
};

class PcapFile {
 public:
  static constexpr std::uint32_t kSnaplen = 262144;
  static constexpr std::uint32_t kLinktypeEthernet = 1;

  // Creates (truncates) `path` and writes the file header.
  static stack::Result<std::unique_ptr<PcapFile>, PcapError> open(const std::string& path);
  ~PcapFile();
  PcapFile(const PcapFile&) = delete;
  PcapFile& operator=(const PcapFile&) = delete;

  // Appends one record; frames longer than the snaplen are cut (orig_len keeps the real length).
  // False when the write failed (counted; the capture carries on with the next frame).
  bool write(std::int64_t ts_sec, std::int64_t ts_usec, std::span<const std::byte> frame);

  const std::string& path() const { return path_; }
  std::uint64_t records() const { return records_; }
  std::uint64_t write_errors() const { return write_errors_; }

 private:
  PcapFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::string path_;
  std::uint64_t records_ = 0;
  std::uint64_t write_errors_ = 0;
};

// Records every frame that passes through it, both directions, in order. Position in a decorator
// chain matters: outside a FaultInjector it records what the stack sent and received, inside it
// what the medium saw. Transmitted frames are recorded whether or not the wrapped device accepts
// them (the capture shows what the stack tried to send).
class PcapWriter final : public Device {
 public:
  // An empty `clock` stamps records as if instant 0 were the Unix epoch.
  PcapWriter(Device& inner, std::unique_ptr<PcapFile> file, WallClock clock);
  PcapWriter(std::unique_ptr<Device> inner, std::unique_ptr<PcapFile> file, WallClock clock);

  Capabilities capabilities() const override { return inner_->capabilities(); }
  std::string name() const override { return inner_->name(); }
  std::optional<std::size_t> receive(stack::Instant now, std::span<std::byte> out) override;
  bool transmit(stack::Instant now, std::span<const std::byte> frame) override;
  void flush(stack::Instant now) override { inner_->flush(now); }
  bool tx_blocked() const override { return inner_->tx_blocked(); }
  bool rx_checksum_vouched() const override { return inner_->rx_checksum_vouched(); }
  int readable_fd() const override { return inner_->readable_fd(); }
  int writable_fd() const override { return inner_->writable_fd(); }
  std::optional<stack::Instant> poll_at() const override { return inner_->poll_at(); }
  Stats stats() const override;  // the wrapped device's, then "pcap.records", "pcap.write_errors"

  const PcapFile& file() const { return *file_; }

 private:
  void record(stack::Instant now, std::span<const std::byte> frame);

  std::unique_ptr<Device> owned_;
  Device* inner_;
  std::unique_ptr<PcapFile> file_;
  WallClock clock_;
};

}  // namespace drivers
