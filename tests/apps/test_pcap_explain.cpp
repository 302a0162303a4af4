// apps/pcap_reader, conversations, explain: captures read back (classic and pcapng), every kind of
// broken file refused in one line, and a made-up exchange told right: the handshake, the HTTP
// exchange, who closed first, a three- and a four-segment close, one ladder arrow per frame.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "apps/common/conversations.hpp"
#include "apps/common/explain.hpp"
#include "apps/common/pcap_reader.hpp"
#include "apps/common/tls_decrypt.hpp"
#include "stack/wire/tcp.hpp"
#include "support/iface_harness.hpp"

using namespace test::ifh;
namespace pcap = appkit::pcap;
namespace tcp = stack::wire::tcp;

namespace {

void put32(Bytes& b, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<std::byte>(v >> (8 * i)));
}
void put16(Bytes& b, std::uint16_t v) {
  b.push_back(static_cast<std::byte>(v));
  b.push_back(static_cast<std::byte>(v >> 8));
}

// A little-endian classic pcap (microseconds, Ethernet) of `frames`, one every millisecond.
Bytes classic(const std::vector<Bytes>& frames, std::uint32_t linktype = 1) {
  Bytes b;
  put32(b, 0xa1b2c3d4);
  put16(b, 2);
  put16(b, 4);
  put32(b, 0);
  put32(b, 0);
  put32(b, 262144);
  put32(b, linktype);
  std::uint32_t t = 0;
  for (const auto& f : frames) {
    put32(b, 1700000000);
    put32(b, t);
    t += 1000;
    put32(b, static_cast<std::uint32_t>(f.size()));
    put32(b, static_cast<std::uint32_t>(f.size()));
    b.insert(b.end(), f.begin(), f.end());
  }
  return b;
}

// The same frames as pcapng: a section header, one interface (default microsecond resolution),
// an enhanced packet block each.
Bytes pcapng(const std::vector<Bytes>& frames) {
  Bytes b;
  put32(b, 0x0A0D0D0A);
  put32(b, 28);
  put32(b, 0x1A2B3C4D);
  put16(b, 1);
  put16(b, 0);
  put32(b, 0xffffffff);
  put32(b, 0xffffffff);
  put32(b, 28);
  put32(b, 1);
  put32(b, 20);
  put16(b, 1);
  put16(b, 0);
  put32(b, 262144);
  put32(b, 20);
  std::uint64_t t = 1700000000ull * 1000000;
  for (const auto& f : frames) {
    const auto padded = static_cast<std::uint32_t>((f.size() + 3) / 4 * 4);
    put32(b, 6);
    put32(b, 32 + padded);
    put32(b, 0);
    put32(b, static_cast<std::uint32_t>(t >> 32));
    put32(b, static_cast<std::uint32_t>(t));
    t += 1000;
    put32(b, static_cast<std::uint32_t>(f.size()));
    put32(b, static_cast<std::uint32_t>(f.size()));
    b.insert(b.end(), f.begin(), f.end());
    b.resize(b.size() + (padded - f.size()));
    put32(b, 32 + padded);
  }
  return b;
}

const Ipv4Address kServer = kInternetHost;

// One TCP segment in an Ethernet frame, client (us) <-> server through the router's MAC.
Bytes segment(bool from_client, std::uint32_t seq, std::optional<std::uint32_t> ack, tcp::Flags flags, std::string_view data = {}) {
  tcp::Repr r;
  r.src_port = from_client ? 40000 : 80;
  r.dst_port = from_client ? 80 : 40000;
  r.seq = {seq};
  if (ack) r.ack = tcp::SeqNum{*ack};
  r.flags = flags;
  r.window_raw = 64000;
  if (flags.syn) {
    r.mss = 1460;
    r.sack_permitted = true;
  }
  const auto* p = reinterpret_cast<const std::byte*>(data.data());
  r.payload = std::span<const std::byte>(p, data.size());
  const Ipv4Address src = from_client ? kOurIp : kServer, dst = from_client ? kServer : kOurIp;
  Bytes seg(r.buffer_len());
  auto v = tcp::ViewMut::unchecked(seg);
  r.emit(v, src, dst);
  stack::wire::ipv4::Repr ip{.src = src, .dst = dst, .protocol = stack::wire::IpProtocol::Tcp};
  const auto packet = ipv4_packet(ip, seg);
  return eth_frame(from_client ? kOurMac : kRouterMac, from_client ? kRouterMac : kOurMac, stack::wire::EtherType::Ipv4, packet);
}

constexpr std::uint32_t C = 1000, S = 5000;  // the two ISNs
const std::string kRequest = "GET /x HTTP/1.1\r\nHost: www.domain.com\r\n\r\n";
const std::string kResponse = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\nhello";

// ARP for the router, the handshake, one GET and its response, then the close built by `close`.
std::vector<Bytes> exchange(bool three_segment_close) {
  std::vector<Bytes> f;
  f.push_back(arp_frame(stack::wire::arp::Operation::Request, kOurMac, kOurIp, MacAddress{}, kRouterIp, MacAddress::broadcast()));
  f.push_back(arp_frame(stack::wire::arp::Operation::Reply, kRouterMac, kRouterIp, kOurMac, kOurIp, kOurMac));
  f.push_back(segment(true, C, std::nullopt, {.syn = true}));
  f.push_back(segment(false, S, C + 1, {.syn = true}));
  f.push_back(segment(true, C + 1, S + 1, {}));
  const auto req = static_cast<std::uint32_t>(kRequest.size()), resp = static_cast<std::uint32_t>(kResponse.size());
  f.push_back(segment(true, C + 1, S + 1, {.psh = true}, kRequest));
  f.push_back(segment(false, S + 1, C + 1 + req, {.psh = true}, kResponse));
  f.push_back(segment(true, C + 1 + req, S + 1 + resp, {}));
  // The client closes first.
  f.push_back(segment(true, C + 1 + req, S + 1 + resp, {.fin = true}));
  if (three_segment_close) {
    f.push_back(segment(false, S + 1 + resp, C + 2 + req, {.fin = true}));
  } else {
    f.push_back(segment(false, S + 1 + resp, C + 2 + req, {}));
    f.push_back(segment(false, S + 1 + resp, C + 2 + req, {.fin = true}));
  }
  f.push_back(segment(true, C + 2 + req, S + 2 + resp, {}));
  return f;
}

appkit::analysis::Analysis analyse(const Bytes& file, pcap::Capture& keep) {
  auto r = pcap::parse(file);
  REQUIRE(r.ok());
  keep = *r;
  return appkit::analysis::analyze(keep);
}

std::string error_of(const Bytes& file) {
  auto r = pcap::parse(file);
  REQUIRE_FALSE(r.ok());
  return r.error().message;
}

}  // namespace

TEST_CASE("pcap: classic and pcapng files give the same frames, numbered from 1, times in microseconds") {
  const auto frames = exchange(true);
  for (const auto& file : {classic(frames), pcapng(frames)}) {
    const auto r = pcap::parse(file);
    REQUIRE(r.ok());
    const auto& cap = *r;
    REQUIRE(cap.frames.size() == frames.size());
    CHECK(cap.frames[0].number == 1);
    CHECK(cap.frames[2].ethertype == 0x0800);
    CHECK(cap.frames[0].ethertype == 0x0806);
    CHECK(cap.frames[3].time_us - cap.frames[0].time_us == 3000);
    CHECK(cap.frames[3].link.size() == frames[3].size());
  }
}

TEST_CASE("pcap: raw IP and Linux cooked captures (tcpdump -i any) reach the same conversations") {
  const auto frames = exchange(true);
  std::vector<Bytes> raw, sll2;
  for (const auto& f : frames) {
    if (eth_of(f).ethertype() != stack::wire::EtherType::Ipv4) continue;
    const auto ip = eth_of(f).payload();
    raw.emplace_back(ip.begin(), ip.end());
    // LINKTYPE_LINUX_SLL2: protocol, reserved, ifindex, ARPHRD_ETHER, packet type, address length, address.
    Bytes h = {std::byte{0x08}, std::byte{0x00}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{2},
               std::byte{0}, std::byte{1}, std::byte{4}, std::byte{6}};
    const auto src = eth_of(f).source();
    for (const auto o : src.octets) h.push_back(static_cast<std::byte>(o));
    h.resize(20);
    h.insert(h.end(), ip.begin(), ip.end());
    sll2.push_back(h);
  }
  for (const auto& [file, name] : {std::pair{classic(raw, 101), "raw"}, std::pair{classic(sll2, 276), "sll2"}}) {
    CAPTURE(name);
    pcap::Capture cap;
    const auto a = analyse(file, cap);
    REQUIRE(a.tcp.size() == 1);
    CHECK(a.tcp[0].close_kind == "three-segment close");
    CHECK(a.http.size() == 1);
    CHECK(a.arrows.size() == raw.size());
  }
  // A link type we do not decode is named.
  CHECK(error_of(classic(raw, 147)).find("link type 147 is not one we decode") != std::string::npos);
}

TEST_CASE("pcap: broken files are one line each, never a crash") {
  const auto good = classic(exchange(true));
  CHECK(error_of(Bytes(good.begin(), good.begin() + 3)).find("not a capture file") != std::string::npos);
  Bytes bad_magic = good;
  bad_magic[0] = std::byte{0x00};
  CHECK(error_of(bad_magic).find("not a pcap or pcapng file") != std::string::npos);
  CHECK(error_of(Bytes(good.begin(), good.begin() + 20)).find("file header cut short") != std::string::npos);
  // Cut inside the third record's bytes, and inside the fourth record's header.
  const std::string cut = error_of(Bytes(good.begin(), good.end() - 10));
  CHECK(cut.find("the capture was cut off") != std::string::npos);
  CHECK(cut.find("record 11") != std::string::npos);
  CHECK(error_of(Bytes(good.begin(), good.begin() + 24 + 16 + 42 + 5)).find("record 2 header cut short") != std::string::npos);
  // A record that claims 16 MB.
  Bytes huge = good;
  huge[24 + 8] = std::byte{0};
  huge[24 + 9] = std::byte{0};
  huge[24 + 10] = std::byte{0};
  huge[24 + 11] = std::byte{1};
  CHECK(error_of(huge).find("more than the largest snaplen") != std::string::npos);
  // pcapng: a block whose two lengths disagree, a packet on an interface never described.
  auto ng = pcapng(exchange(true));
  Bytes lying = ng;
  lying[28 + 20 + 4] = std::byte{0x40};
  CHECK(error_of(lying).find("pcapng block at byte 48") != std::string::npos);
  Bytes no_if = ng;
  no_if[28 + 20 + 8] = std::byte{7};
  CHECK(error_of(no_if).find("names interface 7") != std::string::npos);
  CHECK(error_of(Bytes(ng.begin(), ng.end() - 6)).find("cut off") != std::string::npos);
}

TEST_CASE("explain: a three-segment close, its HTTP exchange, one arrow per frame") {
  pcap::Capture cap;
  const auto a = analyse(classic(exchange(true)), cap);
  REQUIRE(a.tcp.size() == 1);
  const auto& c = a.tcp[0];
  CHECK(c.syn_frame == 3);
  CHECK(c.synack_frame == 4);
  CHECK(c.ack_frame == 5);
  CHECK(c.client_mss == 1460);
  CHECK(c.bytes_to_server == kRequest.size());
  CHECK(c.bytes_to_client == kResponse.size());
  CHECK(c.first_fin == "client");
  CHECK(c.close_kind == "three-segment close");
  CHECK(c.close_segments == 3);
  CHECK(c.time_wait_from_frame == 11);
  REQUIRE(a.http.size() == 1);
  CHECK(a.http[0].method == "GET");
  CHECK(a.http[0].target == "/x");
  CHECK(a.http[0].host == "www.domain.com");
  CHECK(a.http[0].status == 200);
  CHECK(a.http[0].body_bytes == 5);
  CHECK(a.http[0].complete);
  CHECK(a.http[0].request_frame == 6);
  CHECK(a.http[0].response_frame == 7);
  CHECK(a.gateway_ip == kRouterIp.value);
  CHECK(a.endpoints[a.us].ip == kOurIp.value);
  CHECK(a.arrows.size() == 11);

  const auto lines = appkit::explain::narrate(a, 7);
  auto has = [&](const std::string& needle) {
    return std::any_of(lines.begin(), lines.end(), [&](const std::string& l) { return l.find(needle) != std::string::npos; });
  };
  CHECK(has("[frame 3] TCP #1 → SYN: client ISN 1000, MSS 1460, SACK ok"));
  CHECK(has("[frame 9] TCP #1: the client 10.77.0.50 sends the first FIN"));
  CHECK(has("three-segment close in 3 segments (9 → F., 10 ← F., 11 → .)"));
  CHECK(has("port 80 (80 is http's default port"));
  CHECK(has("[frame 6] TCP #1 > GET /x HTTP/1.1 (Host: www.domain.com)"));
  // Level 1 is one line.
  CHECK(appkit::explain::narrate(a, 1).size() == 1);
  // Frames in order: the frame numbers cited never go backwards.
  std::uint64_t last = 0;
  for (const auto& l : lines) {
    const auto at = l.find("[frame ");
    if (at == std::string::npos) continue;
    const auto n = std::stoull(l.substr(at + 7));
    CHECK(n >= last);
    last = n;
  }
  const auto svg = appkit::explain::ladder_svg(a, "test");
  std::size_t arrows = 0;
  for (auto p = svg.find("class=\"arrow\""); p != std::string::npos; p = svg.find("class=\"arrow\"", p + 1)) ++arrows;
  CHECK(arrows == 11);
  CHECK(svg.find("TIME-WAIT #1") != std::string::npos);
  const auto html = appkit::explain::ladder_html(a, "test");
  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(html.find("<?xml") == std::string::npos);
  CHECK(html.find(svg.substr(svg.find("<svg"))) != std::string::npos);
  const auto json = appkit::explain::json_record(a);
  CHECK(json.find("\"kind\": \"three-segment close\"") != std::string::npos);
  CHECK(json.find("\"time_wait_from_frame\": 11") != std::string::npos);
}

TEST_CASE("explain: a four-segment close is named as such, with its four segments") {
  pcap::Capture cap;
  const auto a = analyse(pcapng(exchange(false)), cap);
  REQUIRE(a.tcp.size() == 1);
  CHECK(a.tcp[0].close_kind == "four-segment close");
  CHECK(a.tcp[0].close_segments == 4);
  CHECK(a.tcp[0].time_wait_from_frame == 12);
}

TEST_CASE("explain: a segment retransmitted is counted once in the bytes, once as a retransmission") {
  auto frames = exchange(true);
  frames.insert(frames.begin() + 7, frames[6]);  // the response again
  pcap::Capture cap;
  const auto a = analyse(classic(frames), cap);
  REQUIRE(a.tcp.size() == 1);
  CHECK(a.tcp[0].bytes_to_client == kResponse.size());
  CHECK(a.tcp[0].retransmissions == 1);
  CHECK(a.http.size() == 1);
}

TEST_CASE("explain: retransmissions by each side, the SYN and a FIN included, each with its frame and its own line") {
  auto frames = exchange(true);
  frames.insert(frames.begin() + 9, frames[8]);  // the client's FIN again
  frames.insert(frames.begin() + 7, frames[6]);  // the response again
  frames.insert(frames.begin() + 3, frames[2]);  // the SYN again
  pcap::Capture cap;
  const auto a = analyse(classic(frames), cap);
  REQUIRE(a.tcp.size() == 1);
  const auto& c = a.tcp[0];
  CHECK(c.retransmissions == 3);
  CHECK(c.retransmissions_by_client == 2);
  CHECK(c.retransmissions_by_server == 1);
  REQUIRE(c.retransmitted.size() == 3);
  CHECK(c.retransmitted[0].frame == 4);
  CHECK(c.retransmitted[0].what == "the SYN");
  CHECK(c.retransmitted[1].frame == 9);
  CHECK(!c.retransmitted[1].from_client);
  CHECK(c.retransmitted[1].what == "data");
  CHECK(c.retransmitted[2].frame == 12);
  CHECK(c.retransmitted[2].what == "the FIN");
  CHECK(c.bytes_to_client == kResponse.size());
  CHECK(c.close_kind == "three-segment close");
  const auto sum = appkit::explain::summary(a);
  CHECK(std::find(sum.begin(), sum.end(), "  #1 retransmitted: 2 segments by the client (frames 4, 12), 1 by the server (frame 9)") !=
        sum.end());
  // Each one counted is also said, at level 6, with its frame.
  std::size_t said = 0;
  for (const auto& line : appkit::explain::narrate(a, 6)) {
    if (line.find(" retransmission: the ") == std::string::npos) continue;
    ++said;
    CHECK((line.find("[frame 4] ") != std::string::npos || line.find("[frame 9] ") != std::string::npos ||
           line.find("[frame 12] ") != std::string::npos));
  }
  CHECK(said == 3);
}

TEST_CASE("explain: no retransmission, no retransmission line") {
  pcap::Capture cap;
  const auto a = analyse(classic(exchange(false)), cap);
  REQUIRE(a.tcp.size() == 1);
  CHECK(a.tcp[0].retransmissions == 0);
  for (const auto& line : appkit::explain::summary(a)) CHECK(line.find("retransmitted") == std::string::npos);
}

namespace {

std::string as_text(const appkit::tlsdec::Bytes& b) { return std::string(b.begin(), b.end()); }

// A TLS 1.2 connection (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256) carrying kRequest and kResponse,
// its records sealed with the keys of a made-up master secret: SYN, SYN+ACK, ACK, ClientHello,
// ServerHello, the client's CCS + Finished + request, the server's CCS + Finished + response.
std::vector<Bytes> tls12_exchange() {
  namespace td = appkit::tlsdec;
  const td::Bytes cr(32, 0x01), sr(32, 0x02);
  auto hello = [](bool client, const td::Bytes& random) {
    td::Bytes m = {3, 3};
    m.insert(m.end(), random.begin(), random.end());
    m.push_back(0);
    if (client) {
      m.insert(m.end(), {0, 2, 0xC0, 0x2F, 1, 0});
    } else {
      m.insert(m.end(), {0xC0, 0x2F, 0});
    }
    td::Bytes r = {22, 3, 3, 0, static_cast<std::uint8_t>(m.size() + 4), static_cast<std::uint8_t>(client ? 1 : 2), 0, 0,
                   static_cast<std::uint8_t>(m.size())};
    r.insert(r.end(), m.begin(), m.end());
    return as_text(r);
  };
  td::RecordKeys ck, sk;
  td::tls12_keys(*td::find_suite(0xC02F), td::Bytes(48, 0x11), cr, sr, ck, sk);
  td::RecordKeys cseal = ck, sseal = sk;
  const td::Bytes fin = {20, 0, 0, 12, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  const std::string ccs("\x14\x03\x03\x00\x01\x01", 6);
  // One statement each: the sequence numbers must follow the order of the records.
  std::string up = ccs + as_text(td::seal_tls12(cseal, 22, fin));
  up += as_text(td::seal_tls12(cseal, 23, td::Bytes(kRequest.begin(), kRequest.end())));
  std::string down = ccs + as_text(td::seal_tls12(sseal, 22, fin));
  down += as_text(td::seal_tls12(sseal, 23, td::Bytes(kResponse.begin(), kResponse.end())));
  const std::string ch = hello(true, cr), sh = hello(false, sr);
  std::vector<Bytes> f;
  f.push_back(segment(true, C, std::nullopt, {.syn = true}));
  f.push_back(segment(false, S, C + 1, {.syn = true}));
  f.push_back(segment(true, C + 1, S + 1, {}));
  auto n = [](const std::string& s) { return static_cast<std::uint32_t>(s.size()); };
  f.push_back(segment(true, C + 1, S + 1, {.psh = true}, ch));
  f.push_back(segment(false, S + 1, C + 1 + n(ch), {.psh = true}, sh));
  // The client's flight in two segments: the request's record completes in the second.
  f.push_back(segment(true, C + 1 + n(ch), S + 1 + n(sh), {}, std::string_view(up).substr(0, 40)));
  f.push_back(segment(true, C + 1 + n(ch) + 40, S + 1 + n(sh), {.psh = true}, std::string_view(up).substr(40)));
  f.push_back(segment(false, S + 1 + n(sh), C + 1 + n(ch) + n(up), {.psh = true}, down));
  return f;
}

}  // namespace

TEST_CASE("explain: an https connection decrypted with a key log is told like http, marked [decrypted]") {
  namespace td = appkit::tlsdec;
  const auto frames = tls12_exchange();
  const auto file = classic(frames);
  auto parsed = pcap::parse(file);
  REQUIRE(parsed.ok());
  const auto& cap = *parsed;
  std::string random;
  for (int i = 0; i < 32; ++i) random += "01";
  const auto keys = td::parse_keylog("CLIENT_RANDOM " + random + " " + std::string(96, '1') + "\n");
  REQUIRE(keys.used == 1);

  const auto a = appkit::analysis::analyze(cap, &keys);
  REQUIRE(a.tcp.size() == 1);
  const auto& c = a.tcp[0];
  CHECK(c.tls);
  CHECK(c.tls_version == "TLS 1.2");
  CHECK(c.tls_cipher == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
  CHECK(c.tls_hello_frame == 5);
  CHECK(c.tls_decrypted);
  CHECK(c.tls_problem == "");
  CHECK(c.tls_records_client == 2);
  CHECK(c.tls_records_server == 2);
  REQUIRE(a.http.size() == 1);
  CHECK(a.http[0].decrypted);
  CHECK(a.http[0].target == "/x");
  CHECK(a.http[0].status == 200);
  CHECK(a.http[0].body_bytes == 5);
  CHECK(a.http[0].request_frame == 7);
  CHECK(a.http[0].response_frame == 8);
  const auto lines = appkit::explain::narrate(a, 7);
  auto has = [&](const std::string& needle) {
    return std::any_of(lines.begin(), lines.end(), [&](const std::string& l) { return l.find(needle) != std::string::npos; });
  };
  CHECK(has("[frame 5] TCP #1 ← ServerHello: TLS 1.2, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: decrypted with the key log"));
  CHECK(has("[frame 7] TCP #1 > GET /x HTTP/1.1 (Host: www.domain.com) [decrypted]"));
  CHECK(has("[frame 8] TCP #1 < 200 OK [decrypted]"));
  CHECK(has("asked for https://www.domain.com/x (read from the TLS records with the key log) → the page came back (200 OK, 5 bytes)"));
  CHECK(appkit::explain::json_record(a).find("\"tls_cipher\": \"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\"") != std::string::npos);

  // Without a key log: TLS, nothing inside.
  const auto plain = appkit::analysis::analyze(cap);
  CHECK(plain.http.empty());
  CHECK(plain.tcp[0].tls_version.empty());
  // Another master secret: the client's first protected record fails its tag check, one line.
  const auto wrong = td::parse_keylog("CLIENT_RANDOM " + random + " " + std::string(96, '2') + "\n");
  const auto w = appkit::analysis::analyze(cap, &wrong);
  CHECK(w.http.empty());
  CHECK(w.tcp[0].tls_problem_frame == 7);
  const auto wl = appkit::explain::narrate(w, 3);
  CHECK(std::any_of(wl.begin(), wl.end(), [](const std::string& l) {
    return l.find("[frame 7] TCP #1: not decrypted: record 1 from the client does not decrypt: the authentication tag does not match") !=
           std::string::npos;
  }));
}
