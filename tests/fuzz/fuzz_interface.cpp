// libFuzzer target: Ethernet frames into a whole Interface — the ingress path every byte from the
// wire takes (Ethernet, ARP and its cache, IPv4 with options and fragments and their reassembly,
// ICMP echo and errors, UDP, TCP) — with the Interface's own output and timers running.
//
// Raw bytes rarely get past the first checksum, so each record may ask for fix-ups: our MAC or
// broadcast as destination, the router's or our address in the IPv4 header, a fragment header, the
// IPv4 and transport checksums recomputed. ICMP errors can quote a datagram of ours (a UDP socket
// and a TCP connection are open), so they reach the sockets. The Interface must never crash, and
// its memory (ARP queue, reassembly) must stay within its configured bounds.
//
// Record: [flags:1][delay:1][len:2][bytes:len]
//   flags bit 0  Ethernet destination = our MAC (bit 1: broadcast instead)
//         bit 2  IPv4: source = the router or another on-link host, destination = us
//         bit 3  IPv4: make it a fragment (offset and MF from the next two bytes of the record)
//         bit 4  fix the IPv4 header checksum
//         bit 5  fix the UDP / TCP / ICMP checksum
//         bit 6  ICMP error: point the quoted header at our UDP socket or TCP connection
//         bit 7  run the timers up to the next deadline after this frame
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "stack/iface/interface.hpp"
#include "stack/util/bytes.hpp"
#include "stack/wire/checksum.hpp"
#include "stack/wire/ipv4.hpp"

using namespace stack;
using stack::wire::Ipv4Address;
using stack::wire::MacAddress;

namespace {
const MacAddress kOurMac{{0x02, 0x75, 0x73, 0x00, 0x00, 0x01}};
const Ipv4Address kOurIp = Ipv4Address::from_octets(10, 77, 0, 50);
const Ipv4Address kRouterIp = Ipv4Address::from_octets(10, 77, 0, 1);
const Ipv4Address kFar = Ipv4Address::from_octets(203, 0, 113, 80);

// Transport checksum over the pseudo-header (RFC 793 §3.1 / RFC 768), written at `at`.
void fix_transport(Bytes& f, std::size_t ip_off, std::size_t ihl, std::size_t total, std::size_t at_in_l4, bool pseudo) {
  if (total < ihl + at_in_l4 + 2 || ip_off + total > f.size()) return;
  const std::span<std::byte> l4 = std::span(f).subspan(ip_off + ihl, total - ihl);
  store_be16(l4, at_in_l4, 0);
  std::uint32_t sum = 0;
  if (pseudo) {
    sum += load_be16(f, ip_off + 12) + load_be16(f, ip_off + 14) + load_be16(f, ip_off + 16) + load_be16(f, ip_off + 18);
    sum += load_u8(f, ip_off + 9);
    sum += static_cast<std::uint32_t>(l4.size());
  }
  for (std::size_t i = 0; i + 1 < l4.size(); i += 2) sum += load_be16(l4, i);
  if (l4.size() % 2) sum += static_cast<std::uint32_t>(load_u8(l4, l4.size() - 1)) << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  store_be16(l4, at_in_l4, static_cast<std::uint16_t>(~sum & 0xffff));
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  iface::InterfaceConfig config;
  config.mac = kOurMac;
  config.seed = 7;
  config.reassembly.max_bytes = 64 * 1024;
  config.reassembly.max_datagrams = 8;
  std::size_t sent = 0;
  iface::Interface ifc(config, [&](std::span<const std::byte> frame) {
    ++sent;
    if (frame.size() < 14 || frame.size() > 14 + config.mtu) __builtin_trap();  // never an oversized frame
  });
  Instant now;
  ifc.set_address(now, wire::Ipv4Cidr{kOurIp, 24}, kRouterIp);
  // Something of ours for ICMP errors (and TCP segments) to be about.
  auto udp = ifc.udp().bind(5353);
  auto tcp = ifc.tcp().connect(kOurIp, kFar, 80, now);
  (void)ifc.tcp().listen(Ipv4Address::any(), 80, 4);
  auto ping = ifc.icmp().open(77);
  if (ping) (void)ifc.icmp().send_echo(*ping, kRouterIp, 1, to_bytes("ping"));
  ifc.poll(now);

  std::size_t at = 0;
  for (int records = 0; records < 64 && at + 4 <= size; ++records) {
    const std::uint8_t flags = data[at];
    now += Duration::from_millis(data[at + 1] * 16);
    const std::size_t len = std::min<std::size_t>(load_be16(std::as_bytes(std::span(data + at + 2, 2)), 0), size - at - 4);
    Bytes f(reinterpret_cast<const std::byte*>(data + at + 4), reinterpret_cast<const std::byte*>(data + at + 4 + len));
    at += 4 + len;
    if (f.size() >= 14) {
      if (flags & 1) std::copy(kOurMac.octets.begin(), kOurMac.octets.end(), reinterpret_cast<std::uint8_t*>(f.data()));
      else if (flags & 2) std::fill_n(f.begin(), 6, std::byte{0xff});
    }
    const bool ipv4 = f.size() >= 34 && load_be16(f, 12) == 0x0800;
    if (ipv4) {
      const std::size_t ip = 14;
      f[ip] = std::byte{static_cast<std::uint8_t>(0x40 | (load_u8(f, ip) & 0x0f))};  // version 4
      std::size_t ihl = std::size_t{load_u8(f, ip) & 0x0fu} * 4;
      if (ihl < 20) {
        f[ip] = std::byte{0x45};
        ihl = 20;
      }
      const std::size_t total = std::min<std::size_t>(f.size() - ip, 65535);
      if (flags & 4) {
        store_be16(f, ip + 2, static_cast<std::uint16_t>(total));
        const bool far = load_u8(f, ip + 12) & 1;
        const Ipv4Address src = far ? kFar : kRouterIp;
        store_be32(f, ip + 12, src.value);
        store_be32(f, ip + 16, kOurIp.value);
        if (flags & 8) {
          // Keep the fuzzer's offset/MF bits but make them a plausible fragment.
          store_be16(f, ip + 6, static_cast<std::uint16_t>(load_be16(f, ip + 6) & 0x3fff));
        } else {
          store_be16(f, ip + 6, 0x4000);  // DF, not a fragment
        }
      }
      const std::size_t tot = std::min<std::size_t>(load_be16(f, ip + 2), f.size() - ip);
      if (ihl <= tot) {
        const std::uint8_t proto = load_u8(f, ip + 9);
        const bool first_fragment = (load_be16(f, ip + 6) & 0x1fff) == 0;
        if ((flags & 64) && proto == 1 && tot >= ihl + 8 + 20 + 8 && first_fragment) {
          // An ICMP error (type 3 or 11) whose quoted header is one of our datagrams.
          const std::size_t q = ip + ihl + 8;
          const std::size_t qihl = std::size_t{load_u8(f, q) & 0x0fu} * 4;
          if (qihl >= 20 && q + qihl + 8 <= ip + tot) {
            store_u8(f, ip + ihl, (load_u8(f, ip + ihl) & 1) ? 3 : 11);
            store_u8(f, q, static_cast<std::uint8_t>(0x40 | (qihl / 4)));
            store_be32(f, q + 12, kOurIp.value);
            const bool to_tcp = load_u8(f, q + 9) & 1;
            store_u8(f, q + 9, to_tcp ? 6 : 17);
            store_be32(f, q + 16, to_tcp ? kFar.value : kRouterIp.value);
            if (to_tcp && tcp.ok()) {
              if (const auto* s = ifc.tcp().tcb(*tcp)) {
                store_be16(f, q + qihl, s->local().port);
                store_be16(f, q + qihl + 2, 80);
                store_be32(f, q + qihl + 4, s->snd_una().raw + (load_u8(f, q + qihl + 4) & 3));
              }
            } else {
              store_be16(f, q + qihl, 5353);
            }
          }
        }
        if ((flags & 32) && first_fragment && !(load_be16(f, ip + 6) & 0x2000)) {
          if (proto == 17) fix_transport(f, ip, ihl, tot, 6, true);
          if (proto == 6) fix_transport(f, ip, ihl, tot, 16, true);
          if (proto == 1) fix_transport(f, ip, ihl, tot, 2, false);
        }
        if (flags & 16) {
          store_be16(f, ip + 10, 0);
          store_be16(f, ip + 10, wire::internet_checksum(std::span(f).subspan(ip, ihl)));
        }
      }
    }
    ifc.receive(now, f);
    ifc.poll(now);
    if (flags & 128) {
      if (auto t = ifc.poll_at(now)) {
        now = std::max(now, *t);
        ifc.poll(now);
      }
    }
  }
  // Bounds: the reassembler never holds more than configured; the sockets stay bounded.
  if (ifc.tcp().socket_count() > 16) __builtin_trap();
  (void)udp;
  (void)sent;
  return 0;
}
