// wire/tcp: golden bytes, option round trips, sequence-number arithmetic, and rejection of
// every malformed length (docs/hostile-inputs.md #35, #37, #38).
#include <doctest/doctest.h>

#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

#include "stack/util/siphash.hpp"
#include "stack/wire/checksum.hpp"
#include "stack/wire/tcp.hpp"
#include "support/bytes.hpp"

using namespace stack;
using namespace stack::wire;
using namespace stack::wire::tcp;

namespace {
// Captured with `tcpdump -xx` on a throw-away veth pair between two network namespaces
// (10.99.0.1 -> 10.99.0.2, `socat` sending "hello" to a `socat TCP-LISTEN:8080`, Linux 6.x),
// TCP header onwards. veth checksum offload left partial sums in the capture (tcpdump: "cksum
// 0x14f7 (incorrect -> 0xcb41)"), so the checksum field holds the value tcpdump computed.
const Ipv4Address kClient = Ipv4Address::from_octets(10, 99, 0, 1);
const Ipv4Address kServer = Ipv4Address::from_octets(10, 99, 0, 2);

// 10.99.0.1.55204 > 10.99.0.2.8080: Flags [S], seq 1432393082, win 64240,
//   options [mss 1460,sackOK,TS val 2379087140 ecr 0,nop,wscale 10], length 0
const Bytes kSyn = test::hex(
    "d7a4 1f90 5560 957a 0000 0000 a002 faf0 cb41 0000"
    "0204 05b4 0402 080a 8dcd fd24 0000 0000 0103 030a");
// 10.99.0.2.8080 > 10.99.0.1.55204: Flags [S.], seq 3843752834, ack 1432393083, win 65160,
//   options [mss 1460,sackOK,TS val 4156145397 ecr 2379087140,nop,wscale 10], length 0
const Bytes kSynAck = test::hex(
    "1f90 d7a4 e51b 0382 5560 957b a012 fe88 284b 0000"
    "0204 05b4 0402 080a f7b9 bef5 8dcd fd24 0103 030a");
// 10.99.0.1.55204 > 10.99.0.2.8080: Flags [P.], seq 1:6, ack 1, win 63,
//   options [nop,nop,TS val 2379087150 ecr 4156145397], length 5
const Bytes kData = test::hex(
    "d7a4 1f90 5560 957b e51b 0383 8018 003f 117b 0000"
    "0101 080a 8dcd fd2e f7b9 bef5 6865 6c6c 6f");

Bytes emit(const Repr& r, Ipv4Address src, Ipv4Address dst) {
  Bytes out(r.buffer_len());
  auto view = ViewMut::unchecked(out);
  r.emit(view, src, dst);
  return out;
}

Repr parse_ok(const Bytes& b) {
  auto view = View::checked(b);
  REQUIRE(view.has_value());
  auto repr = Repr::parse(*view);
  REQUIRE(repr.has_value());
  return *repr;
}

// A 20-byte header plus `opts` (padded by the caller), data offset set to match.
Bytes with_options(const Bytes& opts) {
  Bytes b = test::hex("d7a4 1f90 5560 957a 0000 0000 5002 faf0 0000 0000");
  b.insert(b.end(), opts.begin(), opts.end());
  b[12] = static_cast<std::byte>((b.size() / 4) << 4);
  return b;
}
}  // namespace

TEST_SUITE("wire/tcp") {
  TEST_CASE("deconstruct a captured SYN") {
    auto p = View::checked(kSyn);
    REQUIRE(p);
    CHECK(p->src_port() == 55204);
    CHECK(p->dst_port() == 8080);
    CHECK(p->seq() == SeqNum{1432393082});
    CHECK(p->header_len() == 40);
    CHECK(p->syn());
    CHECK_FALSE(p->ack());
    CHECK(p->window() == 64240);
    CHECK(p->verify_checksum(kClient, kServer));
    CHECK_FALSE(p->verify_checksum(kClient, Ipv4Address::from_octets(10, 99, 0, 3)));  // docs/hostile-inputs.md #36
  }

  TEST_CASE("parse the captured handshake and data") {
    const Repr syn = parse_ok(kSyn);
    CHECK(syn.mss == 1460);
    CHECK(syn.sack_permitted);
    CHECK(syn.window_scale == 10);
    CHECK(syn.timestamps == std::pair<std::uint32_t, std::uint32_t>{2379087140u, 0u});
    CHECK(syn.describe() ==
          "Flags [S], seq 1432393082, win 64240, options [mss 1460,sackOK,TS val 2379087140 ecr 0,nop,wscale 10], "
          "length 0");
    const Repr synack = parse_ok(kSynAck);
    CHECK(synack.ack == SeqNum{1432393083});
    CHECK(describe_flags(synack) == "[S.]");
    const Repr data = parse_ok(kData);
    CHECK(data.flags.psh);
    CHECK(data.payload.size() == 5);
    CHECK(data.describe() ==
          "Flags [P.], seq 1432393083:1432393088, ack 3843752835, win 63, options [nop,nop,TS val 2379087150 ecr "
          "4156145397], length 5");
  }

  TEST_CASE("emit reproduces the captured segments byte for byte") {
    CHECK(emit(parse_ok(kSyn), kClient, kServer) == kSyn);
    CHECK(emit(parse_ok(kSynAck), kServer, kClient) == kSynAck);
    CHECK(emit(parse_ok(kData), kClient, kServer) == kData);
  }

  TEST_CASE("a partial checksum (transmit offload) holds the pseudo-header sum; completing it gives the captured checksum") {
    const Repr data = parse_ok(kData);
    Bytes out(data.buffer_len());
    auto view = ViewMut::unchecked(out);
    data.emit(view, kClient, kServer, ChecksumMode::Partial);
    CHECK_FALSE(View::unchecked(out).verify_checksum(kClient, kServer));
    // What the field holds: the folded pseudo-header sum, not complemented.
    ChecksumAccumulator pseudo;
    pseudo.add_pseudo_header(kClient, kServer, IpProtocol::Tcp, static_cast<std::uint16_t>(out.size()));
    CHECK(load_be16(out, 16) == static_cast<std::uint16_t>(~pseudo.finish()));
    // The device's completion (virtio-net NEEDS_CSUM): sum from the TCP header on, field included,
    // store the complement. The result is the segment the capture holds, byte for byte.
    ChecksumAccumulator rest;
    rest.add(out);
    store_be16(out, 16, rest.finish());
    CHECK(out == kData);
  }

  TEST_CASE("options round trip: SACK blocks, MSS only, window scale only") {
    Repr r;
    r.src_port = 1;
    r.dst_port = 2;
    r.seq = {100};
    r.ack = SeqNum{200};
    r.window_raw = 1000;
    r.timestamps = std::pair{7u, 9u};
    r.sack_blocks[0] = SackBlock{{300}, {400}};
    r.sack_blocks[1] = SackBlock{{500}, {600}};
    const Bytes payload = to_bytes("xyz");
    r.payload = payload;
    const Bytes b = emit(r, kClient, kServer);
    CHECK(b.size() == 20 + 12 + 20 + 3);
    CHECK(View::checked(b)->verify_checksum(kClient, kServer));
    CHECK(parse_ok(b) == r);
    CHECK(r.describe() ==
          "Flags [.], seq 100:103, ack 200, win 1000, options [nop,nop,TS val 7 ecr 9,nop,nop,sack 2 {300:400} "
          "{500:600}], length 3");

    Repr m;
    m.seq = {1};
    m.flags.syn = true;
    m.mss = 536;
    CHECK(m.header_len() == 24);
    CHECK(parse_ok(emit(m, kClient, kServer)) == m);
    Repr w;
    w.seq = {1};
    w.flags.syn = true;
    w.window_scale = 14;
    w.sack_permitted = true;
    CHECK(parse_ok(emit(w, kClient, kServer)) == w);
  }

  TEST_CASE("with timestamps at most three SACK blocks fit in 40 bytes (RFC 2018 §3)") {
    Repr r;
    r.seq = {1};
    r.ack = SeqNum{1};
    r.timestamps = std::pair{1u, 2u};
    for (std::uint32_t i = 0; i < 4; ++i) r.sack_blocks[i] = SackBlock{{10 * i + 10}, {10 * i + 15}};
    CHECK(r.header_len() == 60);
    const Repr back = parse_ok(emit(r, kClient, kServer));
    CHECK(back.sack_blocks[2].has_value());
    CHECK_FALSE(back.sack_blocks[3].has_value());
  }

  TEST_CASE("data offset < 5 or beyond the buffer is rejected (docs/hostile-inputs.md #35)") {
    for (std::size_t len = 0; len < kMinHeaderLen; ++len) {
      CAPTURE(len);
      CHECK_FALSE(View::checked(std::span(kSyn).first(len)));
    }
    for (unsigned words = 0; words < 5; ++words) {
      Bytes b = kData;
      b[12] = static_cast<std::byte>(words << 4);
      CAPTURE(words);
      CHECK_FALSE(View::checked(b));
    }
    CHECK_FALSE(View::checked(std::span(kSyn).first(39)));  // offset says 40
    Bytes b = kData;
    b[12] = std::byte{0xf0};  // 60 bytes of header in a 37-byte segment
    CHECK_FALSE(View::checked(b));
  }

  TEST_CASE("option length 0 or 1 is rejected, never loops (docs/hostile-inputs.md #37)") {
    CHECK_FALSE(Repr::parse(*View::checked(with_options(test::hex("2200 0000")))));
    CHECK_FALSE(Repr::parse(*View::checked(with_options(test::hex("2201 0000")))));
    CHECK_FALSE(Repr::parse(*View::checked(with_options(test::hex("0200 05b4")))));
  }

  TEST_CASE("options running off the end are rejected (docs/hostile-inputs.md #38)") {
    CHECK_FALSE(Repr::parse(*View::checked(with_options(test::hex("0101 0108")))));  // kind, no length byte
    CHECK_FALSE(Repr::parse(*View::checked(with_options(test::hex("080a 0000")))));  // length 10 in 4 bytes
    CHECK_FALSE(Repr::parse(*View::checked(with_options(test::hex("0204 05b4 0101 050a")))));
  }

  TEST_CASE("known options with a wrong length are ignored; unknown kinds skipped (docs/hostile-inputs.md #39, #41)") {
    const Repr r = parse_ok(with_options(test::hex("0203 0501 1304 0000 0204 0218 0000 0000")));
    CHECK(r.mss == 0x0218);  // the well-formed MSS after the bad one and the MD5 kind
    const Repr e = parse_ok(with_options(test::hex("0000 0204 0218 0000")));  // EOL ends the list
    CHECK_FALSE(e.mss);
    const Repr s = parse_ok(with_options(test::hex("0101 0507 0000 0000 0000 0000")));  // SACK length 7
    CHECK_FALSE(s.sack_blocks[0]);
  }

  TEST_CASE("sequence numbers compare modulo 2^32 (RFC 9293 §3.4)") {
    const SeqNum near_wrap{0xfffffff0u};
    const SeqNum after = near_wrap + 0x20;
    CHECK(after.raw == 0x10);
    CHECK(near_wrap < after);
    CHECK(after > near_wrap);
    CHECK(after - near_wrap == 0x20);
    CHECK(near_wrap - after == -0x20);
    CHECK(seq_len(near_wrap, after) == 0x20u);
    CHECK(seq_max(near_wrap, after) == after);
    CHECK(near_wrap <= near_wrap);
    CHECK_FALSE(near_wrap < near_wrap);
  }

  TEST_CASE("in_window and in_range are exact for any window, across the wrap") {
    struct Row { std::uint32_t seq, start, len; bool inside; };
    const Row rows[] = {
        {100, 100, 10, true},   {109, 100, 10, true},   {110, 100, 10, false},  {99, 100, 10, false},
        {3, 0xfffffffbu, 10, true},                     // wraps: the window is 0xfffffffb..4
        {0xfffffffbu, 0xfffffffbu, 10, true},           {4, 0xfffffffbu, 10, true},
        {6, 0xfffffffbu, 10, false},                    {0xfffffffau, 0xfffffffbu, 10, false},
        {100, 100, 0, false},                           // an empty window holds nothing
        // Windows of 2^31 and more, where two chained modular comparisons give wrong answers:
        {0x80000000u, 0, 0x80000001u, true},            {0x80000001u, 0, 0x80000001u, false},
        {0xfffffffeu, 0, 0xffffffffu, true},            {0xffffffffu, 0, 0xffffffffu, false},
    };
    for (const auto& r : rows) {
      CAPTURE(r.seq);
      CAPTURE(r.start);
      CAPTURE(r.len);
      CHECK(SeqNum{r.seq}.in_window(SeqNum{r.start}, r.len) == r.inside);
      CHECK(SeqNum{r.seq}.in_range(SeqNum{r.start}, SeqNum{r.start + r.len}) == r.inside);
    }
  }

#ifndef NDEBUG
  // The preconditions are asserted in builds with asserts on (debug, sanitizers, fuzz): a child
  // process breaks each one and must die of the assertion.
  TEST_CASE("seq_len and + n assert their preconditions") {
    const auto dies = [](auto&& fn) {
      const pid_t pid = ::fork();
      if (pid == 0) {
        ::close(2);  // keep the assertion's message out of the test log
        fn();
        ::_exit(0);
      }
      int status = 0;
      ::waitpid(pid, &status, 0);
      return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
    };
    volatile std::uint32_t big = 0x80000000u;
    CHECK(dies([] { (void)seq_len(SeqNum{200}, SeqNum{100}); }));
    CHECK(dies([&] { (void)(SeqNum{1} + big); }));
    CHECK(dies([&] { (void)(SeqNum{1} - big); }));
    CHECK_FALSE(dies([] { (void)seq_len(SeqNum{100}, SeqNum{200}); }));
    CHECK_FALSE(dies([] { (void)(SeqNum{1} + 0x7fffffffu); }));
  }
#endif
}

TEST_SUITE("util/siphash") {
  TEST_CASE("SipHash-2-4 matches the reference vectors (paper appendix A)") {
    // Key 00 01 02 ... 0f; messages 00, 00 01, ..., as in the reference vectors.h.
    const SipKey key{0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull};
    Bytes msg;
    CHECK(siphash24(key, msg) == 0x726fdb47dd0e0e31ull);
    for (int i = 0; i < 15; ++i) msg.push_back(static_cast<std::byte>(i));
    CHECK(siphash24(key, msg) == 0xa129ca6149be45e5ull);  // the paper's 15-byte example
  }
}
