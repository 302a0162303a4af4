// drivers/tso: which frames join a transmit-offload batch, and the super-frame handed to the
// kernel. The check that matters: cutting the super-frame the way TCP segmentation offload does
// (every piece gets the headers, the sequence number and IPv4 identification advanced, PSH only
// on the last, both checksums recomputed) gives back, byte for byte, the frames the stack made.
#include <doctest/doctest.h>

#include <vector>

#include "drivers/tso.hpp"
#include "frames.hpp"
#include "stack/util/bytes.hpp"
#include "stack/wire/checksum.hpp"

using drivers::TsoBatch;
using stack::Bytes;
using stack::load_be16;
using stack::load_be32;
using stack::store_be16;
using stack::store_be32;

namespace {

constexpr std::uint8_t kAck = 0x10, kPsh = 0x08, kFin = 0x01;

struct Seg {
  std::uint32_t seq = 1000;
  std::uint16_t ident = 7;
  std::size_t len = 100;
  std::uint8_t flags = kAck;
  std::uint16_t window = 512;
  std::uint32_t tsval = 55;
  std::uint16_t src_port = 80;
};

// An Ethernet + IPv4 (DF) + TCP frame with a timestamps option, both checksums right.
Bytes segment(const Seg& s) {
  Bytes f;
  test::put_ethernet(f, test::kOurMac, test::kOurMac, 0x0800);
  const std::size_t tcp_len = 32 + s.len;
  test::put_ipv4(f, test::kOurIp, test::kKernelIp, 6, tcp_len);
  store_be16(f, 18, s.ident);
  store_be16(f, 24, 0);
  store_be16(f, 24, stack::wire::internet_checksum(std::span<const std::byte>(f).subspan(14, 20)));
  const std::size_t t = 34;
  store_be16(f, t, s.src_port);
  store_be16(f, t + 2, 40000);
  store_be32(f, t + 4, s.seq);
  store_be32(f, t + 8, 777);
  f[t + 12] = std::byte{8 << 4};  // 32-byte header
  f[t + 13] = static_cast<std::byte>(s.flags);
  store_be16(f, t + 14, s.window);
  const std::uint8_t opts[12] = {1, 1, 8, 10, 0, 0, 0, 0, 0, 0, 0, 9};
  for (int i = 0; i < 12; ++i) f[t + 20 + static_cast<std::size_t>(i)] = static_cast<std::byte>(opts[i]);
  store_be32(f, t + 24, s.tsval);
  for (std::size_t i = 0; i < s.len; ++i) f[t + 32 + i] = static_cast<std::byte>((s.seq + i) * 13);
  stack::wire::ChecksumAccumulator acc;
  acc.add(std::span<const std::byte>(f).subspan(26, 8));
  acc.add_u16(6);
  acc.add_u16(static_cast<std::uint16_t>(tcp_len));
  acc.add(std::span<const std::byte>(f).subspan(t));
  store_be16(f, t + 16, acc.finish());
  return f;
}

// What TCP segmentation offload makes of a super-frame (the kernel's tcp_gso_segment, as a model).
std::vector<Bytes> cut(std::span<const std::byte> super, std::uint16_t gso_size, std::uint16_t hdr_len) {
  std::vector<Bytes> out;
  const std::size_t t = 34;
  const std::size_t payload = super.size() - hdr_len;
  const std::uint8_t last_flags = static_cast<std::uint8_t>(super[t + 13]);
  for (std::size_t off = 0, i = 0; off < payload; off += gso_size, ++i) {
    const std::size_t len = std::min<std::size_t>(gso_size, payload - off);
    Bytes f(super.begin(), super.begin() + hdr_len);
    f.insert(f.end(), super.begin() + static_cast<std::ptrdiff_t>(hdr_len + off),
             super.begin() + static_cast<std::ptrdiff_t>(hdr_len + off + len));
    store_be16(f, 16, static_cast<std::uint16_t>(f.size() - 14));
    store_be16(f, 18, static_cast<std::uint16_t>(load_be16(super, 18) + i));
    store_be16(f, 24, 0);
    store_be16(f, 24, stack::wire::internet_checksum(std::span<const std::byte>(f).subspan(14, 20)));
    store_be32(f, t + 4, static_cast<std::uint32_t>(load_be32(super, t + 4) + off));
    const bool last = off + len == payload;
    f[t + 13] = static_cast<std::byte>(last ? last_flags : (last_flags & ~(kPsh | kFin)));
    stack::wire::ChecksumAccumulator acc;
    acc.add(std::span<const std::byte>(f).subspan(26, 8));
    acc.add_u16(6);
    acc.add_u16(static_cast<std::uint16_t>(f.size() - t));
    store_be16(f, t + 16, 0);
    acc.add(std::span<const std::byte>(f).subspan(t));
    store_be16(f, t + 16, acc.finish());
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace

TEST_SUITE("drivers/tso") {
  TEST_CASE("a run of full segments and a short PSH one: one super-frame that cuts back into the same frames") {
    std::vector<Bytes> frames;
    for (int i = 0; i < 4; ++i)
      frames.push_back(segment({.seq = 1000u + 100u * static_cast<unsigned>(i), .ident = static_cast<std::uint16_t>(7 + i)}));
    frames.push_back(segment({.seq = 1400, .ident = 11, .len = 40, .flags = kAck | kPsh}));
    TsoBatch b;
    for (const Bytes& f : frames) CHECK(b.offer(f) == TsoBatch::Offer::Joined);
    CHECK(b.segments() == 5);
    const TsoBatch::Out out = b.finish();
    REQUIRE(out.gso);
    CHECK(out.gso_size == 100);
    CHECK(out.hdr_len == 14 + 20 + 32);
    CHECK(out.csum_start == 34);
    CHECK(out.csum_offset == 16);
    CHECK(out.frame.size() == 66 + 440);
    // The TCP checksum field holds the pseudo-header sum: the frame's own bytes complete it.
    Bytes completed(out.frame.begin(), out.frame.end());
    stack::wire::ChecksumAccumulator acc;
    acc.add(std::span<const std::byte>(completed).subspan(34));
    store_be16(completed, 34 + 16, acc.finish());
    CHECK(stack::wire::internet_checksum(std::span<const std::byte>(completed).subspan(14, 20)) == 0);
    const auto pieces = cut(out.frame, out.gso_size, out.hdr_len);
    REQUIRE(pieces.size() == frames.size());
    for (std::size_t i = 0; i < pieces.size(); ++i) {
      CAPTURE(i);
      CHECK(pieces[i] == frames[i]);
    }
    // The virtio-net header: NEEDS_CSUM, GSO_TCPV4, little-endian fields.
    std::array<std::byte, 12> hdr{};
    TsoBatch::write_vnet_header(out, hdr);
    CHECK(hdr[0] == std::byte{1});
    CHECK(hdr[1] == std::byte{1});
    CHECK(hdr[2] == std::byte{66});
    CHECK(hdr[4] == std::byte{100});
    CHECK(hdr[6] == std::byte{34});
    CHECK(hdr[8] == std::byte{16});
    CHECK(hdr[10] == std::byte{0});
  }

  TEST_CASE("a batch of one goes out unchanged, with a zeroed virtio-net header") {
    const Bytes f = segment({});
    TsoBatch b;
    REQUIRE(b.offer(f) == TsoBatch::Offer::Joined);
    const TsoBatch::Out out = b.finish();
    CHECK_FALSE(out.gso);
    CHECK(Bytes(out.frame.begin(), out.frame.end()) == f);
    std::array<std::byte, 10> hdr;
    hdr.fill(std::byte{0xee});
    TsoBatch::write_vnet_header(out, hdr);
    for (auto x : hdr) CHECK(x == std::byte{0});
  }

  TEST_CASE("a whole TCP frame with its checksum left partial gets NEEDS_CSUM at its TCP header; other frames none") {
    std::array<std::byte, 10> hdr;
    hdr.fill(std::byte{0xee});
    REQUIRE(TsoBatch::write_partial_checksum_header(segment({}), hdr));
    CHECK(hdr[0] == std::byte{1});  // VIRTIO_NET_HDR_F_NEEDS_CSUM
    CHECK(hdr[1] == std::byte{0});  // no segmentation
    CHECK(hdr[6] == std::byte{34});  // csum_start: 14 + 20
    CHECK(hdr[7] == std::byte{0});
    CHECK(hdr[8] == std::byte{16});  // csum_offset: the TCP checksum field
    Bytes ack = segment({.len = 0});  // a bare ACK too: every TCP frame of the stack is partial
    CHECK(TsoBatch::write_partial_checksum_header(ack, hdr));
    Bytes udp = segment({});
    udp[23] = std::byte{17};
    hdr.fill(std::byte{0xee});
    CHECK_FALSE(TsoBatch::write_partial_checksum_header(udp, hdr));
    CHECK(hdr[0] == std::byte{0xee});  // untouched
    Bytes fragment = segment({});
    fragment[20] = std::byte{0x20};  // MF
    CHECK_FALSE(TsoBatch::write_partial_checksum_header(fragment, hdr));
    Bytes arp = segment({});
    arp[12] = std::byte{0x08};
    arp[13] = std::byte{0x06};
    CHECK_FALSE(TsoBatch::write_partial_checksum_header(arp, hdr));
  }

  TEST_CASE("what may not join: each rule, table-driven") {
    struct Row { const char* what; Seg next; TsoBatch::Offer expect; };
    const Row rows[] = {
        {"the next segment: joins", {.seq = 1100, .ident = 8}, TsoBatch::Offer::Joined},
        {"a gap in the sequence", {.seq = 1101, .ident = 8}, TsoBatch::Offer::Mismatch},
        {"the identification not one above", {.seq = 1100, .ident = 9}, TsoBatch::Offer::Mismatch},
        {"another window", {.seq = 1100, .ident = 8, .window = 511}, TsoBatch::Offer::Mismatch},
        {"another timestamp", {.seq = 1100, .ident = 8, .tsval = 56}, TsoBatch::Offer::Mismatch},
        {"another connection", {.seq = 1100, .ident = 8, .src_port = 81}, TsoBatch::Offer::Mismatch},
        {"longer than the first", {.seq = 1100, .ident = 8, .len = 101}, TsoBatch::Offer::Mismatch},
        {"data with a FIN: joins, as the last piece", {.seq = 1100, .ident = 8, .flags = kAck | kFin}, TsoBatch::Offer::Joined},
        {"a FIN without data", {.seq = 1100, .ident = 8, .len = 0, .flags = kAck | kFin}, TsoBatch::Offer::NotData},
        {"a bare ACK", {.seq = 1100, .ident = 8, .len = 0}, TsoBatch::Offer::NotData},
    };
    for (const Row& r : rows) {
      CAPTURE(r.what);
      TsoBatch b;
      REQUIRE(b.offer(segment({})) == TsoBatch::Offer::Joined);
      CHECK(b.offer(segment(r.next)) == r.expect);
    }
    // An ARP request is never data.
    TsoBatch b;
    CHECK(b.offer(test::arp_request(test::kOurMac, test::kOurIp, test::kKernelIp)) == TsoBatch::Offer::NotData);
    // After a short segment or a PSH, the batch is closed.
    REQUIRE(b.offer(segment({})) == TsoBatch::Offer::Joined);
    REQUIRE(b.offer(segment({.seq = 1100, .ident = 8, .len = 50})) == TsoBatch::Offer::Joined);
    CHECK(b.offer(segment({.seq = 1150, .ident = 9, .len = 50})) == TsoBatch::Offer::Mismatch);
    b.clear();
    REQUIRE(b.offer(segment({.flags = kAck | kPsh})) == TsoBatch::Offer::Joined);
    CHECK(b.offer(segment({.seq = 1100, .ident = 8})) == TsoBatch::Offer::Mismatch);
    b.clear();
    REQUIRE(b.offer(segment({.flags = kAck | kFin})) == TsoBatch::Offer::Joined);
    CHECK(b.offer(segment({.seq = 1100, .ident = 8})) == TsoBatch::Offer::Mismatch);  // nothing after a FIN
  }

  TEST_CASE("a response's last bytes with the FIN join the run before them; the cut puts FIN and PSH on the last piece only") {
    std::vector<Bytes> frames;
    for (int i = 0; i < 3; ++i)
      frames.push_back(segment({.seq = 1000u + 100u * static_cast<unsigned>(i), .ident = static_cast<std::uint16_t>(7 + i)}));
    frames.push_back(segment({.seq = 1300, .ident = 10, .len = 36, .flags = kAck | kPsh | kFin}));
    TsoBatch b;
    for (const Bytes& f : frames) CHECK(b.offer(f) == TsoBatch::Offer::Joined);
    const TsoBatch::Out out = b.finish();
    REQUIRE(out.gso);
    const auto pieces = cut(out.frame, out.gso_size, out.hdr_len);
    REQUIRE(pieces.size() == frames.size());
    for (std::size_t i = 0; i < pieces.size(); ++i) {
      CAPTURE(i);
      CHECK(pieces[i] == frames[i]);
    }
  }

  TEST_CASE("a batch stops below 64 KiB of IPv4 packet") {
    TsoBatch b;
    std::size_t joined = 0;
    for (unsigned i = 0; i < 100; ++i) {
      const auto r = b.offer(segment({.seq = 1000u + 1400u * i, .ident = static_cast<std::uint16_t>(7 + i), .len = 1400}));
      if (r != TsoBatch::Offer::Joined) break;
      ++joined;
    }
    CHECK(joined == (65535 - 20 - 32) / 1400);  // 46 segments of 1400 bytes fit
    CHECK(b.finish().frame.size() - 14 <= 65535);
  }
}
