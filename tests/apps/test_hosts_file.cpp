// apps/hosts_file: the hosts(5) parser — comments, aliases, case, IPv6 lines skipped, junk warned.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "apps/common/hosts_file.hpp"

using appkit::HostsFile;
using stack::wire::Ipv4Address;

namespace {
std::string addrs(const HostsFile& f, const char* name) {
  std::string s;
  for (const auto& a : f.lookup(name)) s += (s.empty() ? "" : " ") + a.describe();
  return s;
}
}  // namespace

TEST_CASE("hosts: Debian's default file, plus our lines") {
  const auto f = HostsFile::parse(
      "127.0.0.1\tlocalhost\n"
      "127.0.1.1\tbox.example.org\tbox\n"
      "\n"
      "# The following lines are desirable for IPv6 capable hosts\n"
      "::1     localhost ip6-localhost ip6-loopback\n"
      "ff02::1 ip6-allnodes\n"
      "fe80::1%eth0 link-local\n"
      "10.1.2.3   www.example.test  www   # the test site\n"
      "10.1.2.4   WWW.Example.Test\r\n"
      "10.1.2.3   www.example.test\n",
      "/etc/hosts");
  CHECK(f.warnings().empty());
  CHECK(f.ipv6_lines_skipped() == 3);
  CHECK(f.entries().size() == 5);
  CHECK(addrs(f, "localhost") == "127.0.0.1");
  CHECK(addrs(f, "box") == "127.0.1.1");
  CHECK(addrs(f, "BOX.example.org.") == "127.0.1.1");
  CHECK(addrs(f, "www.example.test") == "10.1.2.3 10.1.2.4");  // file order, no repeats
  CHECK(addrs(f, "www") == "10.1.2.3");
  CHECK(addrs(f, "ip6-localhost").empty());  // IPv6 only: not an IPv4 answer
  CHECK(addrs(f, "the").empty());            // a comment is not an alias
  CHECK(addrs(f, "nowhere.test").empty());
  CHECK(addrs(f, "").empty());
  CHECK(addrs(f, "bad name").empty());
  CHECK(f.entries()[2].names.size() == 2);
  CHECK(f.entries()[2].line == 8);
}

TEST_CASE("hosts: junk lines are ignored with a warning naming the line") {
  const auto f = HostsFile::parse(
      "10.0.0.1 good\n"
      "not-an-address somename\n"
      "10.0.0.300 toobig\n"
      "10.0.0.2\n"
      "10.0.0.3 ok bad/name also-ok\n"
      "1:2:3:4:5:6:7:8:9 toomany\n"
      "10.0.0.4 -leading-hyphen-is-allowed-by-glibc\n"
      "\x01\x02 \xff\n"
      "   # only a comment\n"
      "10.0.0.5 " + std::string(64, 'x') + ".test\n"
      "10.0.0.6 a..b\n"
      "10.0.0.7 last-without-newline");
  REQUIRE(f.warnings().size() == 8);
  CHECK(f.warnings()[0].line == 2);
  CHECK(f.warnings()[0].text == "ignored: 'not-an-address' is not an IPv4 or IPv6 address");
  CHECK(f.warnings()[1].line == 3);
  CHECK(f.warnings()[2].text == "ignored: address 10.0.0.2 has no host name");
  CHECK(f.warnings()[3].text == "ignored name 'bad/name': not a valid host name");
  CHECK(f.warnings()[4].line == 6);
  CHECK(f.warnings()[5].line == 8);
  CHECK(f.warnings()[5].text == "ignored: '?" "?' is not an IPv4 or IPv6 address");
  CHECK(f.warnings()[6].line == 10);
  CHECK(f.warnings()[7].line == 11);
  CHECK(addrs(f, "good") == "10.0.0.1");
  CHECK(addrs(f, "ok") == "10.0.0.3");
  CHECK(addrs(f, "also-ok") == "10.0.0.3");
  CHECK(addrs(f, "-leading-hyphen-is-allowed-by-glibc") == "10.0.0.4");
  CHECK(addrs(f, "last-without-newline") == "10.0.0.7");
}

TEST_CASE("hosts: names are normalised (case, trailing dot) and checked") {
  CHECK(HostsFile::normalise("WWW.Example.TEST.") == "www.example.test");
  CHECK(HostsFile::normalise("under_score") == "under_score");
  CHECK_FALSE(HostsFile::normalise(""));
  CHECK_FALSE(HostsFile::normalise("."));
  CHECK_FALSE(HostsFile::normalise("a..b"));
  CHECK_FALSE(HostsFile::normalise(".a"));
  CHECK_FALSE(HostsFile::normalise("a b"));
  CHECK(HostsFile::normalise(std::string(63, 'x')));
  CHECK_FALSE(HostsFile::normalise(std::string(64, 'x')));
  CHECK_FALSE(HostsFile::normalise(std::string(200, 'x') + "." + std::string(60, 'y')));
}

TEST_CASE("hosts: load from a file, and a missing file") {
  char path[] = "/tmp/ustack-hosts-test.XXXXXX";
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  {
    std::ofstream out(path);
    out << "10.1.2.3 www.example.test\n";
  }
  auto f = HostsFile::load(path);
  REQUIRE(f);
  CHECK(f->source() == path);
  CHECK(addrs(*f, "www.example.test") == "10.1.2.3");
  std::remove(path);
  auto missing = HostsFile::load(path);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message == std::string("cannot read ") + path);
}

TEST_CASE("hosts: 65,536 addresses for one name come back in file order, repeats once (index built at parse time)") {
  std::string text;
  for (std::uint32_t i = 0; i < 65536; ++i) {
    text += "10." + std::to_string((i >> 8) & 0xff) + "." + std::to_string(i & 0xff) + ".1 many.test Many\n";
    if (i % 1000 == 0) text += "10.0.0.1 MANY.test.\n";  // a repeat of the first address, other spelling
  }
  const auto f = appkit::HostsFile::parse(text, "big");
  const auto got = f.lookup("many.TEST");
  REQUIRE(got.size() == 65536);
  CHECK(got.front() == stack::wire::Ipv4Address::from_octets(10, 0, 0, 1));
  CHECK(got[1] == stack::wire::Ipv4Address::from_octets(10, 0, 1, 1));
  CHECK(got.back() == stack::wire::Ipv4Address::from_octets(10, 255, 255, 1));
  CHECK(f.lookup("Many").size() == 65536);  // the alias
  CHECK(f.lookup("many.test.other").empty());
}
