// Reading capture files: classic pcap (what our PcapWriter, tcpdump and tshark write) and pcapng
// (Wireshark's default), for `ustack explain` and the mini-browser's ladder and JSON record.
//
// Read first: pcap-savefile(5) (the classic format: a 24-byte header whose magic gives the byte
// order and the timestamp unit, then records of ts_sec, ts_frac, incl_len, orig_len and the bytes);
// the pcapng specification (draft-ietf-opsawg-pcapng: Section Header, Interface Description,
// Enhanced/Simple Packet blocks, every block framed by its total length at both ends); and the
// tcpdump link-layer header types list (LINKTYPE_ETHERNET 1, LINKTYPE_RAW 101, LINKTYPE_LINUX_SLL
// 113, LINKTYPE_LINUX_SLL2 276, LINKTYPE_IPV4 228).
//
// A capture file is input from anywhere (a student's laptop, a mail attachment): every length is
// checked against the bytes that remain before it is used, and a file that lies or ends early is
// one line saying where and why (docs/architecture.md "Errors"), never a crash. The fuzz target
// tests/fuzz/fuzz_pcap_reader.cpp holds the parser and the analysis to that.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "stack/util/result.hpp"

namespace appkit::pcap {

// One captured frame, normalised to the network layer so the analysis never sees link types.
struct Frame {
  std::uint64_t number = 0;     // 1-based, as Wireshark and tshark number frames
  std::int64_t time_us = 0;     // microseconds since the Unix epoch (nanosecond files are rounded down)
  std::uint32_t orig_len = 0;   // the frame's length on the wire (may exceed what was captured)
  std::uint16_t ethertype = 0;  // 0x0800 IPv4, 0x0806 ARP, 0x86dd IPv6, ... (0 when unknown)
  std::optional<std::array<std::uint8_t, 6>> src_mac, dst_mac;  // Ethernet frames only
  std::span<const std::byte> link;     // the captured bytes as stored
  std::span<const std::byte> network;  // the bytes after the link-layer header
};

struct Capture {
  std::string format;  // "pcap" or "pcapng"
  std::vector<Frame> frames;
  std::uint64_t skipped_other_links = 0;  // records of a link type we do not decode (counted, kept out)
};

struct ReadError {
  std::string message;  // one line: what is wrong and where (byte offset, record number)
};

// The largest file read_file() takes; the analysis keeps the bytes in memory.
inline constexpr std::uint64_t kMaxFileBytes = 1ull << 30;  // 1 GiB
// The largest record accepted: tcpdump's default snaplen (262144) is the usual upper bound, and a
// TCP super-frame from a receive offload is at most 64 KiB plus headers.
inline constexpr std::uint32_t kMaxRecordBytes = 262144;

// Parses a whole capture held in `bytes`. The frames' spans point into `bytes`, which must outlive
// the result.
stack::Result<Capture, ReadError> parse(std::span<const std::byte> bytes);

// Reads `path` into `storage` and parses it; the error names the file.
stack::Result<Capture, ReadError> read_file(const std::string& path, std::vector<std::byte>& storage);

}  // namespace appkit::pcap
