// apps/common/nat_view: both sides of each NAT mapping read from a connection-tracking table in
// /proc/net/nf_conntrack's format — a port Linux kept, a port it changed, a connection the table
// does not hold, a table that cannot be read.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "apps/common/nat_view.hpp"

using appkit::NatView;
using stack::wire::Ipv4Address;

namespace {
Ipv4Address ip(const char* s) { return *Ipv4Address::parse(s); }
}  // namespace

TEST_CASE("nat view: the reply tuple's destination is the public side; kept and changed ports are told apart") {
  char path[] = "/tmp/ustack-nat-view-XXXXXX";
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  {
    std::ofstream t(path);
    t << "ipv4     2 udp      17 28 src=0.0.0.0 dst=255.255.255.255 sport=68 dport=67 [UNREPLIED] src=255.255.255.255 "
         "dst=0.0.0.0 sport=67 dport=68 mark=0 zone=0 use=2\n"
         "ipv4     2 tcp      6 118 TIME_WAIT src=10.77.0.102 dst=203.0.113.80 sport=60483 dport=80 src=203.0.113.80 "
         "dst=192.0.2.2 sport=80 dport=60483 [ASSURED] mark=0 zone=0 use=2\n"
         "ipv4     2 tcp      6 431999 ESTABLISHED src=10.77.0.102 dst=203.0.113.80 sport=60484 dport=80 src=203.0.113.80 "
         "dst=192.0.2.2 sport=80 dport=1025 [ASSURED] mark=0 zone=0 use=2\n";
  }
  NatView nat;
  CHECK(nat.add(ip("10.77.0.102"), 60483, ip("203.0.113.80"), 80));
  CHECK_FALSE(nat.add(ip("10.77.0.102"), 60483, ip("203.0.113.80"), 80));  // a retransmitted SYN: once
  CHECK(nat.add(ip("10.77.0.102"), 60484, ip("203.0.113.80"), 80));
  CHECK(nat.add(ip("10.77.0.102"), 60485, ip("203.0.113.80"), 80));
  const auto lines = nat.mappings(path);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0] == std::string("NAT: 10.77.0.102:60483 → 203.0.113.80:80 left the router as 192.0.2.2:60483 (its connection table, ") +
                        path + "): Linux kept our source port");
  CHECK(lines[1] == std::string("NAT: 10.77.0.102:60484 → 203.0.113.80:80 left the router as 192.0.2.2:1025 (its connection table, ") +
                        path + "): Linux gave it another source port");
  CHECK(lines[2].find("10.77.0.102:60485 is not in this namespace's connection table") != std::string::npos);
  std::remove(path);
  const auto unreadable = nat.mappings(path);
  REQUIRE(unreadable.size() == 1);
  CHECK(unreadable[0].find("which this program cannot read") != std::string::npos);
}

TEST_CASE("nat view: nothing to say without a connection through the router") {
  NatView nat;
  CHECK(nat.mappings("/nonexistent").empty());
}
