// wire/describe: one line per frame, as `tcpdump -n` prints it (tcpdump 4.99),
// and never a crash on malformed input.
#include <doctest/doctest.h>

#include "stack/wire/describe.hpp"
#include "support/bytes.hpp"

using namespace stack;
using namespace stack::wire;

namespace {

// Frames captured with `tcpdump -w` on a veth pair between throw-away network namespaces (host
// 10.77.0.74, router 10.77.0.1). Each expected line is what `tcpdump -n -r` printed for it,
// minus the timestamp.
struct Golden {
  const char* tcpdump;
  Bytes frame;
};

const Golden kGolden[] = {
    {"ARP, Request who-has 10.77.0.1 tell 10.77.0.74, length 28",
     test::hex("ffffffffffff76f8cf9196ca0806000108000604000176f8cf9196ca0a4d004a"
               "0000000000000a4d0001")},
    {"ARP, Reply 10.77.0.1 is-at 76:5e:6a:a5:0b:7c, length 28",
     test::hex("76f8cf9196ca765e6aa50b7c08060001080006040002765e6aa50b7c0a4d0001"
               "76f8cf9196ca0a4d004a")},
    {"IP 10.77.0.74 > 10.77.0.1: ICMP echo request, id 6153, seq 1, length 64",
     test::hex("765e6aa50b7c76f8cf9196ca08004500005409be400040011c070a4d004a0a4d"
               "00010800c2d818090001a6ec066b00000000aff2010000000000101112131415"
               "161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435"
               "3637")},
    {"IP 10.77.0.1 > 10.77.0.74: ICMP echo reply, id 6153, seq 1, length 64",
     test::hex("76f8cf9196ca765e6aa50b7c08004500005479f200004001ebd20a4d00010a4d"
               "004a0000cad818090001a6ec066b00000000aff2010000000000101112131415"
               "161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435"
               "3637")},
    {"IP 10.77.0.1 > 10.77.0.74: ICMP time exceeded in-transit, length 92",
     test::hex("76f8cf9196ca765e6aa50b7c080045c0007079f500004001eaf30a4d00010a4d"
               "004a0b00f4ff0000000045000054fb704000010169520a4d004a0a4e00020800"
               "b465180e0001a6ec066b00000000bd6002000000000010111213141516171819"
               "1a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637")},
    // The second fragment of `ping -s 1600 -M dont`.
    {"IP 10.77.0.74 > 10.77.0.1: ip-proto-1",
     test::hex("765e6aa50b7c76f8cf9196ca08004500009409c400b940015b080a4d004a0a4d"
               "0001c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdd"
               "dedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfd"
               "feff000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d"
               "1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d"
               "3e3f")},
    {"IP 10.77.0.74.38276 > 10.77.0.1.9: UDP, length 5",
     test::hex("765e6aa50b7c76f8cf9196ca08004500002136d440004011ef130a4d004a0a4d"
               "000195840009000d150368656c6c6f")},
    {"IP 10.77.0.1 > 10.77.0.74: ICMP 10.77.0.1 udp port 9 unreachable, length 41",
     test::hex("76f8cf9196ca765e6aa50b7c080045c0003d7a0200004001eb190a4d00010a4d"
               "004a03030e8d000000004500002136d440004011ef130a4d004a0a4d00019584"
               "0009000d150368656c6c6f")},
};

const Bytes kEth = test::hex("765e6aa50b7c 76f8cf9196ca 0800");
const Bytes kEthArp = test::hex("ffffffffffff 76f8cf9196ca 0806");

// An IPv4 header from 10.77.0.74 to 10.77.0.1 (checksum left zero: describe does not check it).
Bytes ip_header(std::uint8_t proto, std::uint16_t total_len, std::uint16_t flags_frag = 0x4000) {
  Bytes h = test::hex("4500 0000 1234 0000 4000 0000 0a4d004a 0a4d0001");
  store_be16(h, 2, total_len);
  store_be16(h, 6, flags_frag);
  h[9] = std::byte{proto};
  return h;
}

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

}  // namespace

TEST_SUITE("wire/describe") {
  TEST_CASE("captured frames read exactly as tcpdump -n printed them") {
    for (const auto& g : kGolden) {
      CAPTURE(g.tcpdump);
      CHECK(describe_frame(g.frame) == g.tcpdump);
    }
  }

  TEST_CASE("the examples of the interface contract") {
    // A DHCPDISCOVER-shaped datagram: describe does not decode DHCP, it says UDP.
    const Bytes dhcp = cat({test::hex("ffffffffffff ca2b9348fbcb 0800"),
                            test::hex("4510 0148 0000 0000 8011 0000 00000000 ffffffff"),
                            test::hex("0044 0043 0134 0000"), Bytes(300)});
    CHECK(describe_frame(dhcp) == "IP 0.0.0.0.68 > 255.255.255.255.67: UDP, length 300");
  }

  TEST_CASE("Ethernet padding does not change the line") {
    Bytes padded = kGolden[0].frame;
    padded.resize(60);
    CHECK(describe_frame(padded) == "ARP, Request who-has 10.77.0.1 tell 10.77.0.74, length 46");  // as tcpdump
    Bytes udp = kGolden[6].frame;
    udp.resize(60);
    CHECK(describe_frame(udp) == "IP 10.77.0.74.38276 > 10.77.0.1.9: UDP, length 5");
  }

  TEST_CASE("malformed Ethernet and ARP") {
    CHECK(describe_frame(test::hex("ffffffff")) == "[malformed Ethernet, length 4]");
    CHECK(describe_frame({}) == "[malformed Ethernet, length 0]");
    CHECK(describe_frame(cat({kEthArp, test::hex("000108000604000176f8cf91")})) == "[malformed ARP]");
    Bytes bad_hlen = kGolden[0].frame;
    bad_hlen[14 + 4] = std::byte{16};
    CHECK(describe_frame(bad_hlen) == "[malformed ARP]");
  }

  TEST_CASE("other ethertypes are named, not decoded") {
    CHECK(describe_frame(test::hex("0180c200000e76f8cf9196ca88cc0102")) == "ethertype Unknown (0x88cc), length 2");
    CHECK(describe_frame(test::hex("333300000016 76f8cf9196ca 86dd 6000")) == "ethertype IPv6 (0x86dd), length 2");
  }

  TEST_CASE("malformed IPv4 headers are named like tcpdump names them") {
    CHECK(describe_frame(kEth) == "IP truncated-ip - 20 bytes missing");
    CHECK(describe_frame(cat({kEth, test::hex("4500")})) == "IP truncated-ip - 18 bytes missing");
    Bytes v6 = cat({kEth, ip_header(17, 20)});
    v6[14] = std::byte{0x65};
    CHECK(describe_frame(v6) == "IP bad-version 6");
    Bytes ihl3 = cat({kEth, ip_header(17, 20)});
    ihl3[14] = std::byte{0x43};
    CHECK(describe_frame(ihl3) == "IP bad-hlen 12");
    CHECK(describe_frame(cat({kEth, ip_header(17, 12)})) == "IP bad-len 12");
    // IHL 15 with total length 60 but only 20 bytes present.
    Bytes ihl15 = cat({kEth, ip_header(17, 60)});
    ihl15[14] = std::byte{0x4f};
    CHECK(describe_frame(ihl15) == "IP truncated-ip - 40 bytes missing! 10.77.0.74 > 10.77.0.1: [|ip]");
  }

  TEST_CASE("a datagram longer than the frame is described as far as it goes") {
    const Bytes udp = test::hex("04d2 0035 000d 0000 68656c6c6f");
    CHECK(describe_frame(cat({kEth, ip_header(17, 60), udp})) ==
          "IP truncated-ip - 27 bytes missing! 10.77.0.74.1234 > 10.77.0.1.53: UDP, length 5");
    CHECK(describe_frame(cat({kEth, ip_header(17, 33), Bytes(udp.begin(), udp.begin() + 4)})) ==
          "IP truncated-ip - 9 bytes missing! 10.77.0.74 > 10.77.0.1: [|udp]");
  }

  TEST_CASE("malformed UDP") {
    CHECK(describe_frame(cat({kEth, ip_header(17, 23), test::hex("04d200")})) == "IP 10.77.0.74 > 10.77.0.1: [|udp]");
    CHECK(describe_frame(cat({kEth, ip_header(17, 33), test::hex("04d2 0035 0003 0000 68656c6c6f")})) ==
          "IP 10.77.0.74.1234 > 10.77.0.1.53: truncated-udplength 3");
    CHECK(describe_frame(cat({kEth, ip_header(17, 33), test::hex("04d2 0035 00c8 0000 68656c6c6f")})) ==
          "IP 10.77.0.74.1234 > 10.77.0.1.53: UDP, bad length 200 > 13");
    // The first fragment of a large datagram: the UDP length covers later fragments.
    CHECK(describe_frame(cat({kEth, ip_header(17, 33, 0x2000), test::hex("04d2 0035 05c8 0000 68656c6c6f")})) ==
          "IP 10.77.0.74.1234 > 10.77.0.1.53: UDP, length 1472");
  }

  TEST_CASE("malformed and unknown ICMP") {
    CHECK(describe_frame(cat({kEth, ip_header(1, 23), test::hex("080000")})) == "IP 10.77.0.74 > 10.77.0.1: [|icmp]");
    CHECK(describe_frame(cat({kEth, ip_header(1, 28), test::hex("2a00 0000 0000 0000")})) ==
          "IP 10.77.0.74 > 10.77.0.1: ICMP type-#42, length 8");
    // A port unreachable quoting only 4 bytes of the offending header.
    CHECK(describe_frame(cat({kEth, ip_header(1, 32), test::hex("0303 0000 0000 0000 45000021")})) ==
          "IP 10.77.0.74 > 10.77.0.1: ICMP type-#3 code-#3 [|icmp], length 12");
  }

  TEST_CASE("TCP and other protocols") {
    // A bare SYN (data offset 5, no options), in tcpdump -n -S form (absolute sequence numbers).
    CHECK(describe_frame(cat({kEth, ip_header(6, 40), test::hex("e160 0050 fdc80b5b 00000000 5002 faf0 0000 0000")})) ==
          "IP 10.77.0.74.57696 > 10.77.0.1.80: Flags [S], seq 4257745755, win 64240, length 0");
    // A data offset below 5 cannot be a TCP header.
    CHECK(describe_frame(cat({kEth, ip_header(6, 40), test::hex("e160 0050"), Bytes(16)})) ==
          "IP 10.77.0.74.57696 > 10.77.0.1.80: [bad tcp header, 20 bytes]");
    CHECK(describe_frame(cat({kEth, ip_header(6, 22), test::hex("e160")})) == "IP 10.77.0.74 > 10.77.0.1: [|tcp]");
    CHECK(describe_frame(cat({kEth, ip_header(99, 24), test::hex("61626364")})) ==
          "IP 10.77.0.74 > 10.77.0.1: ip-proto-99 4");
  }

  TEST_CASE("every prefix and every single-byte corruption of every golden frame is described without a crash") {
    for (const auto& g : kGolden) {
      for (std::size_t len = 0; len <= g.frame.size(); ++len) {
        CHECK_FALSE(describe_frame(std::span(g.frame).first(len)).empty());
      }
      for (std::size_t at = 0; at < g.frame.size(); ++at) {
        for (const std::uint8_t v : std::initializer_list<std::uint8_t>{0x00, 0x01, 0x45, 0x4f, 0x80, 0xff}) {
          Bytes b = g.frame;
          b[at] = std::byte{v};
          CHECK_FALSE(describe_frame(b).empty());
        }
      }
    }
  }
}
