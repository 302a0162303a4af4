// Classic pcap and pcapng parsing: see pcap_reader.hpp for the formats and the rules.
#include "apps/common/pcap_reader.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace appkit::pcap {
namespace {

std::string at(std::uint64_t offset) { return "at byte " + std::to_string(offset); }

// Loads with the file's byte order; the caller has checked that `off + N` is inside `b`.
struct Endian {
  bool little = true;
  std::uint16_t u16(std::span<const std::byte> b, std::size_t off) const {
    const auto x = static_cast<unsigned>(b[off]), y = static_cast<unsigned>(b[off + 1]);
    return static_cast<std::uint16_t>(little ? (x | y << 8) : (x << 8 | y));
  }
  std::uint32_t u32(std::span<const std::byte> b, std::size_t off) const {
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < 4; ++i) {
      const auto byte = static_cast<std::uint32_t>(b[off + (little ? 3 - i : i)]);
      v = v << 8 | byte;
    }
    return v;
  }
};

std::uint16_t be16(std::span<const std::byte> b, std::size_t off) {
  return static_cast<std::uint16_t>(static_cast<unsigned>(b[off]) << 8 | static_cast<unsigned>(b[off + 1]));
}

stack::Err<ReadError> error(std::string message) { return {ReadError{std::move(message)}}; }

std::array<std::uint8_t, 6> mac_at(std::span<const std::byte> b, std::size_t off) {
  std::array<std::uint8_t, 6> m{};
  for (std::size_t i = 0; i < 6; ++i) m[i] = static_cast<std::uint8_t>(b[off + i]);
  return m;
}

// Fills the link-dependent fields of `f` from `f.link`. False for a link type we do not decode.
// A record too short for its link header is kept with an empty network part (the analysis counts
// it as undecodable, like Wireshark's "[Malformed Packet]").
bool decode_link(std::uint32_t linktype, Frame& f) {
  const auto b = f.link;
  switch (linktype) {
    case 1: {  // LINKTYPE_ETHERNET: dst, src, EtherType (one IEEE 802.1Q tag skipped)
      if (b.size() < 14) return true;
      f.dst_mac = mac_at(b, 0);
      f.src_mac = mac_at(b, 6);
      std::size_t off = 12;
      std::uint16_t type = be16(b, off);
      if (type == 0x8100 && b.size() >= 18) {
        off += 4;
        type = be16(b, off);
      }
      f.ethertype = type;
      f.network = b.subspan(off + 2);
      return true;
    }
    case 101:  // LINKTYPE_RAW: an IP packet, its version in the first nibble
    case 228: {  // LINKTYPE_IPV4
      if (b.empty()) return true;
      const auto version = static_cast<unsigned>(b[0]) >> 4;
      f.ethertype = version == 4 ? 0x0800 : version == 6 ? 0x86dd : 0;
      f.network = b;
      return true;
    }
    case 113: {  // LINKTYPE_LINUX_SLL: packet type, ARPHRD, address length, 8 address bytes, protocol
      if (b.size() < 16) return true;
      f.ethertype = be16(b, 14);
      if (be16(b, 2) == 1 && be16(b, 4) == 6) f.src_mac = mac_at(b, 6);  // ARPHRD_ETHER: the sender
      f.network = b.subspan(16);
      return true;
    }
    case 276: {  // LINKTYPE_LINUX_SLL2: protocol, reserved, ifindex, ARPHRD, packet type, length, address
      if (b.size() < 20) return true;
      f.ethertype = be16(b, 0);
      if (be16(b, 8) == 1 && static_cast<unsigned>(b[11]) == 6) f.src_mac = mac_at(b, 12);
      f.network = b.subspan(20);
      return true;
    }
    default:
      return false;
  }
}

// The latest instant a timestamp may stand for: the end of the year 9999, in microseconds. Later
// values (a hostile file's) are clamped, so differences of two times never overflow.
constexpr std::uint64_t kMaxMicros = 253402300800ull * 1000000u;

// Converts a timestamp counted in units of 10^-exp (decimal) or 2^-exp (binary) seconds.
std::int64_t to_micros(std::uint64_t ts, bool binary, unsigned exp) {
  std::uint64_t v = 0;
  if (binary) {
    const std::uint64_t mask = (std::uint64_t{1} << exp) - 1;
    const std::uint64_t secs = ts >> exp;
    v = secs > kMaxMicros / 1000000u ? kMaxMicros : secs * 1000000u + (((ts & mask) * 1000000u) >> exp);
  } else {
    v = ts;
    for (unsigned e = exp; e > 6; --e) v /= 10;
    for (unsigned e = exp; e < 6; ++e) v = v > kMaxMicros / 10 ? kMaxMicros : v * 10;
  }
  return static_cast<std::int64_t>(std::min(v, kMaxMicros));
}

stack::Result<Capture, ReadError> parse_classic(std::span<const std::byte> b) {
  // pcap-savefile(5): the magic, read in the writer's byte order, gives the order and the unit.
  Endian e;
  bool nanos = false;
  const std::uint32_t le = Endian{true}.u32(b, 0), be = Endian{false}.u32(b, 0);
  if (le == 0xa1b2c3d4 || le == 0xa1b23c4d) {
    e.little = true;
    nanos = le == 0xa1b23c4d;
  } else {
    e.little = false;
    nanos = be == 0xa1b23c4d;
  }
  if (b.size() < 24) return error("pcap file header cut short: " + std::to_string(b.size()) + " of 24 bytes");
  const std::uint16_t major = e.u16(b, 4);
  if (major != 2) return error("pcap version " + std::to_string(major) + "." + std::to_string(e.u16(b, 6)) + " (only 2.x exists)");
  const std::uint32_t linktype = e.u32(b, 20) & 0xffff;  // the upper bits carry FCS information
  Capture cap;
  cap.format = "pcap";
  std::size_t off = 24;
  while (off < b.size()) {
    const std::uint64_t number = cap.frames.size() + cap.skipped_other_links + 1;
    if (b.size() - off < 16) {
      return error("record " + std::to_string(number) + " header cut short " + at(off) + ": " +
                   std::to_string(b.size() - off) + " of 16 bytes (the capture was cut off)");
    }
    const std::uint32_t sec = e.u32(b, off), frac = e.u32(b, off + 4), incl = e.u32(b, off + 8),
                        orig = e.u32(b, off + 12);
    if (incl > kMaxRecordBytes) {
      return error("record " + std::to_string(number) + " " + at(off) + " claims " + std::to_string(incl) +
                   " captured bytes, more than the largest snaplen (" + std::to_string(kMaxRecordBytes) + ")");
    }
    if (frac >= (nanos ? 1000000000u : 1000000u)) {
      return error("record " + std::to_string(number) + " " + at(off) + " has a fraction of a second out of range (" +
                   std::to_string(frac) + ")");
    }
    off += 16;
    if (b.size() - off < incl) {
      return error("record " + std::to_string(number) + " " + at(off - 16) + " claims " + std::to_string(incl) +
                   " bytes but only " + std::to_string(b.size() - off) + " remain (the capture was cut off)");
    }
    Frame f;
    f.number = number;
    f.time_us = static_cast<std::int64_t>(sec) * 1000000 + (nanos ? frac / 1000 : frac);
    f.orig_len = orig;
    f.link = b.subspan(off, incl);
    off += incl;
    if (decode_link(linktype, f)) {
      cap.frames.push_back(f);
    } else {
      ++cap.skipped_other_links;
    }
  }
  if (cap.frames.empty() && cap.skipped_other_links > 0) {
    return error("link type " + std::to_string(linktype) +
                 " is not one we decode (Ethernet, raw IP, Linux cooked capture)");
  }
  return cap;
}

stack::Result<Capture, ReadError> parse_pcapng(std::span<const std::byte> b) {
  struct Interface {
    std::uint32_t linktype = 0;
    bool binary = false;
    unsigned exp = 6;  // if_tsresol default: microseconds
  };
  Capture cap;
  cap.format = "pcapng";
  std::vector<Interface> interfaces;
  Endian e;
  std::size_t off = 0;
  std::uint64_t number = 0;
  while (off < b.size()) {
    if (b.size() - off < 12) {
      return error("pcapng block " + at(off) + " cut short: " + std::to_string(b.size() - off) + " of 12 bytes");
    }
    const std::uint32_t raw_type = Endian{true}.u32(b, off);
    if (raw_type == 0x0A0D0D0A) {  // Section Header Block: its byte-order magic sets the order
      if (b.size() - off < 28) return error("pcapng section header " + at(off) + " cut short");
      const std::uint32_t magic_le = Endian{true}.u32(b, off + 8);
      if (magic_le == 0x1A2B3C4D) {
        e.little = true;
      } else if (Endian{false}.u32(b, off + 8) == 0x1A2B3C4D) {
        e.little = false;
      } else {
        return error("pcapng section header " + at(off) + " has no byte-order magic");
      }
      if (e.u16(b, off + 12) != 1) return error("pcapng major version " + std::to_string(e.u16(b, off + 12)) + " (only 1 exists)");
      interfaces.clear();  // interface numbers are per section
    } else if (off == 0) {
      return error("pcapng file does not start with a section header");
    }
    const std::uint32_t type = e.u32(b, off), len = e.u32(b, off + 4);
    if (len < 12 || len % 4 != 0 || len > b.size() - off) {
      return error("pcapng block " + at(off) + " has length " + std::to_string(len) +
                   (len > b.size() - off ? " but only " + std::to_string(b.size() - off) + " bytes remain (the capture was cut off)"
                                         : " (must be a multiple of 4, at least 12)"));
    }
    if (e.u32(b, off + len - 4) != len) {
      return error("pcapng block " + at(off) + ": its trailing length does not repeat the leading one");
    }
    const auto body = b.subspan(off + 8, len - 12);
    if (type == 1) {  // Interface Description Block
      if (body.size() < 8) return error("pcapng interface description " + at(off) + " cut short");
      if (interfaces.size() >= 4096) return error("pcapng: more than 4096 interfaces in one section");
      Interface ifc;
      ifc.linktype = e.u16(body, 0);
      // Options: code, length, value padded to 4; if_tsresol (9) sets the timestamp unit.
      std::size_t o = 8;
      while (body.size() - o >= 4) {
        const std::uint16_t code = e.u16(body, o), olen = e.u16(body, o + 2);
        if (code == 0) break;
        const std::size_t padded = (std::size_t{olen} + 3) / 4 * 4;
        if (body.size() - o - 4 < padded) return error("pcapng interface option " + at(off + 8 + o) + " runs past its block");
        if (code == 9 && olen == 1) {
          const auto v = static_cast<unsigned>(body[o + 4]);
          ifc.binary = (v & 0x80) != 0;
          ifc.exp = v & 0x7f;
          if ((ifc.binary && ifc.exp > 40) || (!ifc.binary && ifc.exp > 19)) {
            return error("pcapng interface " + at(off) + " has a timestamp resolution out of range");
          }
        }
        o += 4 + padded;
      }
      interfaces.push_back(ifc);
    } else if (type == 6 || type == 3 || type == 2) {  // Enhanced, Simple, (obsolete) Packet Block
      ++number;
      std::uint32_t ifid = 0, caplen = 0, orig = 0;
      std::uint64_t ts = 0;
      std::size_t data_at = 0;
      if (type == 6 || type == 2) {
        if (body.size() < 20) return error("pcapng packet block " + at(off) + " cut short");
        ifid = type == 6 ? e.u32(body, 0) : e.u16(body, 0);
        ts = std::uint64_t{e.u32(body, 4)} << 32 | e.u32(body, 8);
        caplen = e.u32(body, 12);
        orig = e.u32(body, 16);
        data_at = 20;
      } else {
        if (body.size() < 4) return error("pcapng simple packet block " + at(off) + " cut short");
        orig = e.u32(body, 0);
        caplen = static_cast<std::uint32_t>(std::min<std::size_t>(orig, body.size() - 4));
        data_at = 4;
      }
      if (ifid >= interfaces.size()) {
        return error("pcapng packet " + std::to_string(number) + " " + at(off) + " names interface " +
                     std::to_string(ifid) + ", which no interface description block declared");
      }
      if (caplen > kMaxRecordBytes || caplen > body.size() - data_at) {
        return error("pcapng packet " + std::to_string(number) + " " + at(off) + " claims " + std::to_string(caplen) +
                     " captured bytes, more than its block holds");
      }
      const auto& ifc = interfaces[ifid];
      Frame f;
      f.number = number;
      f.time_us = type == 3 ? 0 : to_micros(ts, ifc.binary, ifc.exp);
      f.orig_len = orig;
      f.link = body.subspan(data_at, caplen);
      if (decode_link(ifc.linktype, f)) {
        cap.frames.push_back(f);
      } else {
        ++cap.skipped_other_links;
      }
    }
    off += len;
  }
  if (cap.frames.empty() && cap.skipped_other_links > 0) {
    return error("no interface of a link type we decode (Ethernet, raw IP, Linux cooked capture)");
  }
  return cap;
}

}  // namespace

stack::Result<Capture, ReadError> parse(std::span<const std::byte> bytes) {
  if (bytes.size() < 4) return error("not a capture file: " + std::to_string(bytes.size()) + " bytes");
  const std::uint32_t le = Endian{true}.u32(bytes, 0);
  const std::uint32_t be = Endian{false}.u32(bytes, 0);
  if (le == 0x0A0D0D0A) return parse_pcapng(bytes);
  for (const std::uint32_t m : {0xa1b2c3d4u, 0xa1b23c4du}) {
    if (le == m || be == m) return parse_classic(bytes);
  }
  return error("not a pcap or pcapng file (magic 0x" + [&] {
    char buf[9];
    std::snprintf(buf, sizeof buf, "%08x", be);
    return std::string(buf);
  }() + ")");
}

stack::Result<Capture, ReadError> read_file(const std::string& path, std::vector<std::byte>& storage) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return error(path + ": cannot open: " + std::strerror(errno));
  in.seekg(0, std::ios::end);
  const auto size = static_cast<std::streamoff>(in.tellg());
  if (size < 0) return error(path + ": cannot read (not a regular file?)");
  if (static_cast<std::uint64_t>(size) > kMaxFileBytes) {
    return error(path + ": " + std::to_string(size) + " bytes, more than the 1 GiB this reads (cut it with editcap -r)");
  }
  in.seekg(0);
  storage.resize(static_cast<std::size_t>(size));
  if (size > 0 && !in.read(reinterpret_cast<char*>(storage.data()), size)) {
    return error(path + ": read failed after " + std::to_string(in.gcount()) + " bytes");
  }
  auto r = parse(storage);
  if (!r) return error(path + ": " + r.error().message);
  return r;
}

}  // namespace appkit::pcap
