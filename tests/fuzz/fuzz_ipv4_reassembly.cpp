// libFuzzer target: IPv4 reassembly (RFC 791 §3.2, RFC 815) of fragments that carry options,
// through a whole Interface. fuzz_interface reaches the reassembler with raw frames, but almost
// never completes a datagram, and never one whose fragments carry options. Here the input
// describes up to eight UDP datagrams to us (their sizes, options, how they are cut, in what order
// the fragments arrive, how fast) and the target builds the frames: valid headers and checksums,
// options in the first fragment and, in the others, only those whose copied flag is set (RFC 791
// §3.1), as a sender must; some inputs make the options malformed (length 0 or 1, past the
// header, a bad route pointer), repeat a fragment, send one overlapping with other bytes, lose
// one, or let the reassembly timer run out. Half the datagrams go to a closed port, so the ICMP
// error about a reassembled datagram is built too.
//
// Invariants (a violation traps):
//   - every datagram the socket receives is one that was sent, byte for byte, and at most once
//     (twice if fragments were repeated: IP keeps no history of what it delivered);
//   - a clean datagram (well-formed options other than source routes, every fragment there,
//     no overlap, within the reassembly timeout) to the open port is delivered;
//   - no frame we send is larger than the MTU.
//
// Input: [datagrams:1][mode:1] then per datagram [size:2][options:1][hostile:1][gap:1][order:1]
// and the bytes its option list and fragment sizes need; an exhausted input reads as zeros.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <vector>

#include "fuzz_input.hpp"
#include "stack/iface/interface.hpp"
#include "stack/util/bytes.hpp"
#include "stack/wire/checksum.hpp"

using namespace stack;
using stack::wire::Ipv4Address;
using stack::wire::MacAddress;

namespace {

const MacAddress kOurMac{{0x02, 0x75, 0x73, 0x00, 0x00, 0x01}};
const MacAddress kRouterMac{{0x02, 0x75, 0x73, 0x00, 0x00, 0xfe}};
const Ipv4Address kOurIp = Ipv4Address::from_octets(10, 77, 0, 50);
const Ipv4Address kRouterIp = Ipv4Address::from_octets(10, 77, 0, 1);
constexpr std::uint16_t kOpenPort = 5000;
constexpr std::uint16_t kClosedPort = 5001;
constexpr Duration kTimeout = Duration::from_secs(30);

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_ipv4_reassembly: %s\n", what);
  __builtin_trap();
}

struct Options {
  Bytes all;      // for the first fragment
  Bytes copied;   // for the others: the options whose copied flag (0x80) is set
  bool well_formed = true;
  bool source_route = false;
};

// One option from the input: mostly well-formed, sometimes not.
void add_option(fuzz::Input& in, Options& o) {
  const std::uint8_t sel = in.u8();
  Bytes opt;
  switch (sel % 9) {
    case 0: opt = {std::byte{1}}; break;  // NOP
    case 1: {                             // Record Route, 1-4 slots, pointer anywhere legal
      const std::uint8_t slots = 1 + (sel >> 4) % 4;
      const auto len = static_cast<std::uint8_t>(3 + 4 * slots);
      opt = {std::byte{7}, std::byte{len}, std::byte{static_cast<std::uint8_t>(4 + 4 * ((sel >> 6) % (slots + 1)))}};
      opt.resize(len, std::byte{0});
      break;
    }
    case 2: {                             // Timestamp (68), timestamps only
      opt = {std::byte{68}, std::byte{12}, std::byte{5}, std::byte{0}};
      opt.resize(12, std::byte{0});
      break;
    }
    case 3: opt = {std::byte{148}, std::byte{4}, std::byte{0}, std::byte{0}}; break;   // Router Alert (copied)
    case 4: opt = {std::byte{130}, std::byte{11}}; opt.resize(11, std::byte{0}); break;  // Security (copied)
    case 5: {                             // Loose / Strict Source Route (copied), the route used up
      const bool strict = sel & 0x10;
      opt = {std::byte{strict ? std::uint8_t{137} : std::uint8_t{131}}, std::byte{7}, std::byte{8}};
      for (int i = 0; i < 4; ++i) opt.push_back(std::byte{static_cast<std::uint8_t>(kRouterIp.value >> (24 - 8 * i))});
      o.source_route = true;
      break;
    }
    case 6: opt = {std::byte{0}}; break;  // End of Option List
    case 7: {                             // malformed: length 0 or 1, or past the header
      opt = {std::byte{static_cast<std::uint8_t>(0x44 | (sel & 0x80))}, std::byte{static_cast<std::uint8_t>((sel >> 4) & 1)}};
      if (sel & 0x20) opt[1] = std::byte{60};
      o.well_formed = false;
      break;
    }
    case 8: {                             // malformed: a route whose pointer is below 4
      opt = {std::byte{7}, std::byte{7}, std::byte{static_cast<std::uint8_t>((sel >> 4) & 3)}};
      opt.resize(7, std::byte{0});
      o.well_formed = false;
      break;
    }
  }
  if (o.all.size() + opt.size() > 40) return;
  o.all.insert(o.all.end(), opt.begin(), opt.end());
  if (std::to_integer<std::uint8_t>(opt[0]) & 0x80) o.copied.insert(o.copied.end(), opt.begin(), opt.end());
}

void pad(Bytes& b) {
  while (b.size() % 4) b.push_back(std::byte{0});
}

struct Frame {
  Bytes bytes;
  std::size_t datagram;
  Duration gap;
};

// An Ethernet frame with an IPv4 header (options included) around `payload`.
Bytes ip_frame(std::uint16_t ident, std::size_t offset, bool more, const Bytes& options, std::span<const std::byte> payload) {
  const std::size_t ihl = 20 + options.size();
  Bytes f(14 + ihl + payload.size());
  std::copy(kOurMac.octets.begin(), kOurMac.octets.end(), reinterpret_cast<std::uint8_t*>(f.data()));
  std::copy(kRouterMac.octets.begin(), kRouterMac.octets.end(), reinterpret_cast<std::uint8_t*>(f.data()) + 6);
  store_be16(f, 12, 0x0800);
  const std::size_t ip = 14;
  store_u8(f, ip, static_cast<std::uint8_t>(0x40 | (ihl / 4)));
  store_be16(f, ip + 2, static_cast<std::uint16_t>(ihl + payload.size()));
  store_be16(f, ip + 4, ident);
  store_be16(f, ip + 6, static_cast<std::uint16_t>((more ? 0x2000 : 0) | (offset / 8)));
  store_u8(f, ip + 8, 64);
  store_u8(f, ip + 9, 17);
  store_be32(f, ip + 12, kRouterIp.value);
  store_be32(f, ip + 16, kOurIp.value);
  std::copy(options.begin(), options.end(), f.begin() + ip + 20);
  std::copy(payload.begin(), payload.end(), f.begin() + static_cast<std::ptrdiff_t>(ip + ihl));
  store_be16(f, ip + 10, wire::internet_checksum(std::span(f).subspan(ip, ihl)));
  return f;
}

struct Datagram {
  Bytes udp;                   // the whole UDP datagram (header included): the IP payload
  Bytes payload;               // what the socket must receive
  bool to_open_port = false;
  bool clean = true;           // must be delivered
  int delivered = 0;
  bool may_repeat = false;     // some fragment was sent twice
  std::optional<Bytes> alt_payload;  // a same-range fragment with other bytes was sent too
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Input in{data, size};
  iface::InterfaceConfig config;
  config.mac = kOurMac;
  config.seed = 11;
  config.reassembly.timeout = kTimeout;
  std::size_t sent = 0;
  iface::Interface ifc(config, [&](std::span<const std::byte> frame) {
    ++sent;
    if (frame.size() < 14 || frame.size() > 14 + config.mtu) fail("a frame larger than the MTU");
  });
  Instant now;
  ifc.set_address(now, wire::Ipv4Cidr{kOurIp, 24}, kRouterIp);
  auto sock = ifc.udp().bind(kOpenPort);
  if (!sock.ok()) fail("bind");
  ifc.poll(now);

  const std::size_t count = 1 + in.u8() % 8;
  const std::uint8_t mode = in.u8();
  std::vector<Datagram> dgrams(count);
  std::vector<std::vector<Frame>> per(count);
  for (std::size_t d = 0; d < count; ++d) {
    Datagram& g = dgrams[d];
    const std::size_t len = 8 + in.u16() % 3000;
    const std::uint8_t optsel = in.u8();
    const std::uint8_t hostile = in.u8();
    const Duration gap = Duration::from_millis(in.u8() * 8);
    const std::uint8_t order = in.u8();
    g.to_open_port = !(optsel & 0x80);
    g.payload.resize(len);
    for (std::size_t i = 0; i < len; ++i) g.payload[i] = static_cast<std::byte>((i * 31 + d * 57 + i / 256) & 0xff);
    g.payload[0] = static_cast<std::byte>(d);
    g.udp.resize(8 + len);
    store_be16(g.udp, 0, 4000);
    store_be16(g.udp, 2, g.to_open_port ? kOpenPort : kClosedPort);
    store_be16(g.udp, 4, static_cast<std::uint16_t>(8 + len));
    std::copy(g.payload.begin(), g.payload.end(), g.udp.begin() + 8);
    {  // the UDP checksum over the pseudo-header (RFC 768)
      std::uint32_t sum = (kRouterIp.value >> 16) + (kRouterIp.value & 0xffff) + (kOurIp.value >> 16) +
                          (kOurIp.value & 0xffff) + 17 + static_cast<std::uint32_t>(g.udp.size());
      for (std::size_t i = 0; i + 1 < g.udp.size(); i += 2) sum += load_be16(g.udp, i);
      if (g.udp.size() % 2) sum += static_cast<std::uint32_t>(load_u8(g.udp, g.udp.size() - 1)) << 8;
      while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
      const auto c = static_cast<std::uint16_t>(~sum & 0xffff);
      store_be16(g.udp, 6, c == 0 ? 0xffff : c);
    }
    Options opts;
    for (int i = 0; i < (optsel & 7); ++i) add_option(in, opts);
    pad(opts.all);
    pad(opts.copied);
    if (opts.source_route) g.clean = false;  // a host's answer to a source route is not ours to fix here
    if (!opts.well_formed) g.clean = false;
    const bool copy_all = optsel & 0x40;  // every fragment carries every option (not what RFC 791 says, but harmless)

    // Cut the IP payload into fragments of 8-byte units (the last takes the rest).
    std::vector<std::pair<std::size_t, std::size_t>> cuts;
    const std::size_t first_room = (1480 - opts.all.size()) / 8 * 8;
    for (std::size_t at = 0; at < g.udp.size();) {
      std::size_t n = (std::size_t{in.u8()} % 64 + 1) * 8;
      n = std::min(n, first_room);
      if (cuts.size() >= 31 || at + n >= g.udp.size()) n = g.udp.size() - at;
      cuts.emplace_back(at, n);
      at += n;
    }
    const std::uint16_t ident = static_cast<std::uint16_t>(0x1000 + d * 0x101);
    std::vector<Frame>& frames = per[d];
    for (const auto& [at, n] : cuts) {
      const bool more = at + n < g.udp.size();
      const Bytes& o = at == 0 || copy_all ? opts.all : opts.copied;
      frames.push_back(Frame{ip_frame(ident, at, more, o, std::span(g.udp).subspan(at, n)), d, gap});
    }
    for (const Frame& f : frames)
      if (f.bytes.size() > 14 + 1500) g.clean = false;  // larger than the link's MTU: not ours to take
    // The fuzzer's order: as cut, reversed, last first, or shuffled.
    switch (order & 3) {
      case 0: break;
      case 1: std::reverse(frames.begin(), frames.end()); break;
      case 2: std::rotate(frames.begin(), frames.end() - 1, frames.end()); break;
      case 3:
        for (std::size_t i = frames.size(); i > 1; --i) std::swap(frames[i - 1], frames[in.u8() % i]);
        break;
    }
    // Hostile touches.
    if ((hostile & 1) && !frames.empty()) {  // an exact repeat
      frames.push_back(frames[in.u8() % frames.size()]);
      // A whole datagram sent twice is two datagrams to IP (it keeps no history of those it
      // delivered); so are late repeats that make up a whole datagram again.
      g.may_repeat = true;
    }
    if ((hostile & 2) && cuts.size() > 1) {  // another fragment over the same bytes, with other bytes
      const auto [at, n] = cuts[in.u8() % cuts.size()];
      Bytes other(std::span(g.udp).subspan(at, n).begin(), std::span(g.udp).subspan(at, n).end());
      for (auto& b : other) b ^= std::byte{0x5a};
      const std::size_t shift = (hostile & 4) ? 8 : 0;
      if (at + shift + other.size() <= g.udp.size() && other.size() > shift) {
        other.resize(other.size() - shift);
        const bool more = at + shift + other.size() < g.udp.size();
        frames.insert(frames.begin() + static_cast<std::ptrdiff_t>(in.u8() % (frames.size() + 1)),
                      Frame{ip_frame(ident, at + shift, more, opts.copied, other), d, gap});
        g.clean = false;
        g.may_repeat = true;  // late copies may make up a datagram again
        if (shift == 0) {
          // The same range with other bytes reads as a repeat: whichever arrived first is kept
          // (as in Linux), so the other version may be delivered if its checksum still holds.
          Bytes alt = g.udp;
          for (std::size_t i = at; i < at + n; ++i) alt[i] ^= std::byte{0x5a};
          g.alt_payload = Bytes(alt.begin() + 8, alt.end());
        }
      }
    }
    if ((hostile & 8) && frames.size() > 1) {  // one lost
      frames.erase(frames.begin() + static_cast<std::ptrdiff_t>(in.u8() % frames.size()));
      g.clean = false;
    }
    if ((hostile & 0x10) && frames.size() > 1) {  // a non-first fragment with a malformed option
      Frame& f = frames[in.u8() % frames.size()];
      const std::size_t ihl = std::size_t{load_u8(f.bytes, 14) & 0xfu} * 4;
      if (ihl > 20) {
        store_u8(f.bytes, 14 + 20, 0x44);
        store_u8(f.bytes, 14 + 21, 1);
        store_be16(f.bytes, 14 + 10, 0);
        store_be16(f.bytes, 14 + 10, wire::internet_checksum(std::span(f.bytes).subspan(14, ihl)));
        g.clean = false;
      }
    }
    if (!g.to_open_port) g.clean = false;
  }

  // The arrival order: datagram after datagram, or their fragments interleaved.
  std::vector<Frame> wire_order;
  if (mode & 1) {
    for (std::size_t i = 0;; ++i) {
      bool any = false;
      for (auto& f : per)
        if (i < f.size()) {
          wire_order.push_back(f[i]);
          any = true;
        }
      if (!any) break;
    }
  } else {
    for (auto& f : per) wire_order.insert(wire_order.end(), f.begin(), f.end());
  }
  // A datagram is clean only if its fragments all arrive within the timeout of the first.
  std::vector<std::optional<Instant>> first_at(count), last_at(count);
  {
    Instant t = now;
    for (const Frame& f : wire_order) {
      t += f.gap;
      if (!first_at[f.datagram]) first_at[f.datagram] = t;
      last_at[f.datagram] = t;
    }
    for (std::size_t d = 0; d < count; ++d)
      if (first_at[d] && *last_at[d] - *first_at[d] >= kTimeout - Duration::from_secs(1)) dgrams[d].clean = false;
  }

  auto drain = [&]() {
    while (auto got = ifc.udp().recv_from(*sock)) {
      if (got->payload.empty()) fail("an empty datagram");
      // Which datagram: the first payload byte is its index, unless a conflicting fragment
      // changed it, so every datagram is compared.
      std::size_t d = count;
      for (std::size_t k = 0; k < count && d == count; ++k)
        if (got->payload == dgrams[k].payload || got->payload == dgrams[k].alt_payload) d = k;
      if (d == count) fail("a datagram arrived with bytes that were never sent");
      if (++dgrams[d].delivered > (dgrams[d].may_repeat ? 2 : 1)) fail("a datagram arrived twice");
    }
  };
  for (const Frame& f : wire_order) {
    now += f.gap;
    ifc.poll(now);
    ifc.receive(now, f.bytes);
    ifc.poll(now);
    drain();
  }
  ifc.poll(now + kTimeout + Duration::from_secs(1));  // every incomplete datagram times out
  drain();
  for (const Datagram& g : dgrams) {
    if (std::getenv("FUZZ_REASSEMBLY_DEBUG"))
      std::fprintf(stderr, "datagram of %zu bytes: clean %d delivered %d\n", g.payload.size(), g.clean, g.delivered);
    if (g.clean && g.delivered == 0) fail("a clean datagram was not delivered");
  }
  (void)sent;
  return 0;
}
