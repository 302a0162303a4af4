// drivers/pcap_writer: golden bytes of the classic pcap format, and the real readers (tcpdump,
// tshark) agreeing with what we wrote.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <variant>

#include "drivers/memory_link.hpp"
#include "drivers/pcap_writer.hpp"
#include "drivers/tracer.hpp"
#include "frames.hpp"  // tests/drivers/frames.hpp
#include "support/bytes.hpp"

using drivers::PcapFile;
using drivers::PcapWriter;
using stack::Duration;
using stack::Instant;

namespace {

// 2023-11-14 22:13:20 UTC, so virtual instant 0 prints as a fixed, recognisable date.
constexpr std::int64_t kEpochMicros = 1'700'000'000'000'000;

// A fresh directory under /tmp, removed with its files at the end of the test.
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/ustack-pcap-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
  std::string file(const std::string& name) const { return path + "/" + name; }
};

stack::Bytes read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return stack::to_bytes(s);
}

std::unique_ptr<PcapFile> open_or_fail(const std::string& path) {
  auto r = PcapFile::open(path);
  if (!r) FAIL(r.error().message);
  return std::move(*r);
}

// Runs a shell command and returns its standard output and standard error.
std::string run(const std::string& command) {
  std::string out;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

void require_tool(const char* path) {
  struct stat st;
  if (::stat(path, &st) != 0) {
    FAIL(path << " is missing: the pcap tests read captures back with the real tools; install them "
                 "(sudo apt-get install tcpdump tshark)");
  }
}

// Writes a capture of three real frames through a PcapWriter over a MemoryLink: the stack sends
// an ARP request (tx, 0 ms), receives an ICMP echo request from the peer (rx, 1 ms) and sends one
// more echo request of its own (tx, 2 ms).
void write_sample_capture(const std::string& path) {
  drivers::MemoryLink link(drivers::LinkConfig{});
  PcapWriter w(link.end_a(), open_or_fail(path), drivers::wall_clock_from_epoch(kEpochMicros));
  const test::MacAddress peer_mac{{0x02, 0, 0, 0, 0, 0x01}};
  REQUIRE(w.transmit(Instant::from_millis(0), test::arp_request(test::kOurMac, test::kOurIp, test::kKernelIp)));
  REQUIRE(link.end_b().transmit(Instant::from_millis(0),
                                test::icmp_echo_request(test::kOurMac, peer_mac, test::kKernelIp, test::kOurIp, 0x1234, 1)));
  stack::Bytes buf(1514);
  REQUIRE(w.receive(Instant::from_millis(1), buf).has_value());
  REQUIRE(w.transmit(Instant::from_millis(2),
                     test::icmp_echo_request(peer_mac, test::kOurMac, test::kOurIp, test::kKernelIp, 0x4321, 7)));
}

}  // namespace

TEST_SUITE("drivers/pcap_writer") {
  TEST_CASE("the file header is the classic little-endian one tcpdump writes") {
    TempDir dir;
    { auto f = open_or_fail(dir.file("h.pcap")); }
    // magic a1b2c3d4 (µs), v2.4, thiszone 0, sigfigs 0, snaplen 262144, LINKTYPE_ETHERNET;
    // the same 24 bytes as the start of a capture from tcpdump 4.99 on this machine.
    CHECK(read_file(dir.file("h.pcap")) == test::hex("d4c3b2a1 0200 0400 00000000 00000000 00000400 01000000"));
  }

  TEST_CASE("each record header holds seconds, microseconds, captured and original length") {
    TempDir dir;
    auto f = open_or_fail(dir.file("r.pcap"));
    REQUIRE(f->write(1'700'000'000, 123'456, test::hex("0102030405")));
    CHECK(f->records() == 1);
    const auto bytes = read_file(dir.file("r.pcap"));
    REQUIRE(bytes.size() == 24 + 16 + 5);
    // 1700000000 = 0x6553f100; 123456 = 0x0001e240.
    CHECK(stack::Bytes(bytes.begin() + 24, bytes.end()) ==
          test::hex("00f15365 40e20100 05000000 05000000 0102030405"));
  }

  TEST_CASE("a frame longer than the snaplen is cut, and orig_len keeps its real length") {
    TempDir dir;
    auto f = open_or_fail(dir.file("big.pcap"));
    REQUIRE(f->write(0, 0, stack::Bytes(PcapFile::kSnaplen + 100)));
    const auto bytes = read_file(dir.file("big.pcap"));
    REQUIRE(bytes.size() == 24 + 16 + PcapFile::kSnaplen);
    CHECK(stack::Bytes(bytes.begin() + 32, bytes.begin() + 40) == test::hex("00000400 64000400"));
  }

  TEST_CASE("both directions are recorded, in order, each written out before the call returns") {
    TempDir dir;
    const auto path = dir.file("both.pcap");
    drivers::MemoryLink link(drivers::LinkConfig{});
    PcapWriter w(link.end_a(), open_or_fail(path), drivers::wall_clock_from_epoch(kEpochMicros));
    REQUIRE(w.transmit(Instant::from_millis(0), test::numbered_frame(1, 60)));
    // Flushed per record: the file is complete now, with the writer still open.
    CHECK(read_file(path).size() == 24 + 16 + 60);
    REQUIRE(link.end_b().transmit(Instant::from_millis(0), test::numbered_frame(2, 70)));
    stack::Bytes buf(1514);
    REQUIRE(w.receive(Instant::from_micros(1'500), buf).has_value());
    const auto bytes = read_file(path);
    REQUIRE(bytes.size() == 24 + 16 + 60 + 16 + 70);
    // Second record at 1700000000.001500 s, 70 bytes, carrying frame 2.
    CHECK(stack::Bytes(bytes.begin() + 100, bytes.begin() + 116) == test::hex("00f15365 dc050000 46000000 46000000"));
    CHECK(test::frame_index(std::span<const std::byte>(bytes).subspan(116)) == 2);
    CHECK(w.file().records() == 2);
    const auto s = w.stats();
    CHECK(s.back() == std::pair<std::string, std::uint64_t>{"pcap.write_errors", 0});
  }

  TEST_CASE("wall clocks from an epoch keep microseconds within 0 to 999999 even before the epoch") {
    auto clock = drivers::wall_clock_from_epoch(10'000'000);  // 10 s after 1970
    CHECK(clock(Instant::from_micros(1)) == std::pair<std::int64_t, std::int64_t>{10, 1});
    CHECK(clock(Instant::from_micros(-10'000'001)) == std::pair<std::int64_t, std::int64_t>{-1, 999'999});
  }

  TEST_CASE("an unwritable path is a one-line error naming the path") {
    auto r = PcapFile::open("/nonexistent-dir/x.pcap");
    REQUIRE_FALSE(r.ok());
    const auto& msg = r.error().message;
    CHECK(msg.find("/nonexistent-dir/x.pcap") != std::string::npos);
    CHECK(msg.find('\n') == std::string::npos);
  }

  TEST_CASE("tcpdump reads our capture: ARP request, ICMP echo requests, times from the epoch") {
    require_tool("/usr/bin/tcpdump");
    TempDir dir;
    const auto path = dir.file("sample.pcap");
    write_sample_capture(path);
    const std::string out = run("TZ=UTC /usr/bin/tcpdump -r '" + path + "' -n");
    CAPTURE(out);
    CHECK(out.find("22:13:20.000000 ARP, Request who-has 10.99.0.1 tell 10.99.0.2, length 28\n") != std::string::npos);
    CHECK(out.find("22:13:20.001000 IP 10.99.0.1 > 10.99.0.2: ICMP echo request, id 4660, seq 1, length 64\n") !=
          std::string::npos);
    CHECK(out.find("22:13:20.002000 IP 10.99.0.2 > 10.99.0.1: ICMP echo request, id 17185, seq 7, length 64\n") !=
          std::string::npos);
    CHECK(out.find("truncated") == std::string::npos);
  }

  TEST_CASE("tshark reads our capture with zero malformed packets") {
    require_tool("/usr/bin/tshark");
    TempDir dir;
    const auto path = dir.file("sample.pcap");
    write_sample_capture(path);
    const std::string out = run("/usr/bin/tshark -n -r '" + path + "'");
    CAPTURE(out);
    CHECK(out.find("Who has 10.99.0.1? Tell 10.99.0.2") != std::string::npos);
    CHECK(out.find("Echo (ping) request  id=0x1234, seq=1/256") != std::string::npos);
    CHECK(out.find("Echo (ping) request  id=0x4321, seq=7/1792") != std::string::npos);
    CHECK(out.find("alformed") == std::string::npos);
    // Expert info: checksums and lengths all good (tshark flags a bad checksum as an error).
    const std::string expert =
        run("/usr/bin/tshark -n -r '" + path + "' -o ip.check_checksum:TRUE -z expert,note -q");
    CAPTURE(expert);
    CHECK(expert.find("Malformed") == std::string::npos);
    CHECK(expert.find("Errors (") == std::string::npos);
    CHECK(expert.find("Warns (") == std::string::npos);
  }

  TEST_CASE("the tracer hands each frame and its direction to the callback") {
    drivers::MemoryLink link(drivers::LinkConfig{});
    std::vector<std::pair<drivers::Direction, std::uint32_t>> seen;
    drivers::Tracer t(link.end_a(), [&](drivers::Direction d, Instant, std::span<const std::byte> f) {
      seen.emplace_back(d, test::frame_index(f));
    });
    REQUIRE(t.transmit(Instant::from_millis(0), test::numbered_frame(1)));
    REQUIRE(link.end_b().transmit(Instant::from_millis(0), test::numbered_frame(2)));
    stack::Bytes buf(1514);
    REQUIRE(t.receive(Instant::from_millis(1), buf).has_value());
    REQUIRE(seen.size() == 2);
    CHECK(seen[0] == std::pair{drivers::Direction::Tx, 1u});
    CHECK(seen[1] == std::pair{drivers::Direction::Rx, 2u});
  }
}
