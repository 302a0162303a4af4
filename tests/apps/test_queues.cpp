// apps/queues: what the stacks of `ustack serve --queues N` exchange — --queues parsing, one pcap
// file per queue, the --stats counters added up, and the neighbour posts with the ARP reply a
// stack receives for one (checked through a real Interface: it learns the neighbour and sends
// what waited for it).
#include <doctest/doctest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "apps/common/queues.hpp"
#include "stack/iface/interface.hpp"
#include "stack/wire/arp.hpp"

using appkit::CounterSum;
using appkit::Neighbour;
using appkit::NeighbourBoard;
using stack::wire::Ipv4Address;
using stack::wire::MacAddress;

namespace {
Ipv4Address ip(const char* s) { return *Ipv4Address::parse(s); }
}  // namespace

TEST_SUITE("apps/queues") {
  TEST_CASE("--queues: 1 to 256, a number and nothing else") {
    std::size_t n = 0;
    CHECK(appkit::parse_queue_count("1", n));
    CHECK(n == 1);
    CHECK(appkit::parse_queue_count("2", n));
    CHECK(n == 2);
    CHECK(appkit::parse_queue_count("256", n));
    CHECK(n == 256);
    n = 7;
    for (const char* bad : {"0", "257", "-1", "", "2x", "two", " 2"}) {
      INFO(bad);
      CHECK_FALSE(appkit::parse_queue_count(bad, n));
      CHECK(n == 7);  // untouched
    }
  }

  TEST_CASE("--pcap FILE with several queues: FILE.qK, before the extension") {
    CHECK(appkit::per_queue_path("cap.pcap", 0) == "cap.q0.pcap");
    CHECK(appkit::per_queue_path("/tmp/x/cap.pcap", 1) == "/tmp/x/cap.q1.pcap");
    CHECK(appkit::per_queue_path("cap", 3) == "cap.q3");
    CHECK(appkit::per_queue_path("/tmp/a.d/cap", 2) == "/tmp/a.d/cap.q2");
    CHECK(appkit::per_queue_path(".hidden", 1) == ".hidden.q1");
  }

  TEST_CASE("--stats of several queues: counters added up by name, high-water marks the largest") {
    CounterSum sum;
    sum.add({{"tap0.rx_frames", 10}, {"tap0.tx_backlog_max", 4}, {"tcp.sockets", 2}, {"tap0.link_wait_ms", 5}});
    sum.add({{"tap0.rx_frames", 7}, {"tap0.tx_backlog_max", 9}, {"tcp.sockets", 0}, {"tap0.link_wait_ms", 3},
             {"tcp.drop.syn_queue_full", 1}});
    const std::vector<std::pair<std::string, std::uint64_t>> want = {
        {"tap0.rx_frames", 17}, {"tap0.tx_backlog_max", 9}, {"tcp.sockets", 2}, {"tap0.link_wait_ms", 5},
        {"tcp.drop.syn_queue_full", 1}};
    CHECK(sum.counters() == want);
    CHECK(CounterSum::is_maximum("serve.max_concurrent"));
    CHECK_FALSE(CounterSum::is_maximum("tcp.retransmitted"));
  }

  TEST_CASE("a neighbour one queue learns is posted to every other queue, and wakes it") {
    std::vector<int> fds;
    for (int i = 0; i < 3; ++i) {
      fds.push_back(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
      REQUIRE(fds.back() >= 0);
    }
    NeighbourBoard board(fds);
    const Neighbour router{ip("10.74.0.1"), MacAddress{{0x02, 0, 0, 0, 0, 0x01}}};
    board.post(1, router);
    CHECK(board.take(1).empty());  // not to itself
    for (int q : {0, 2}) {
      std::uint64_t count = 0;
      CHECK(::read(fds[static_cast<std::size_t>(q)], &count, sizeof count) == sizeof count);
      CHECK(count == 1);
      const auto got = board.take(static_cast<std::size_t>(q));
      REQUIRE(got.size() == 1);
      CHECK(got[0] == router);
      CHECK(board.take(static_cast<std::size_t>(q)).empty());  // taken once
    }
    std::uint64_t count = 0;
    CHECK(::read(fds[1], &count, sizeof count) < 0);  // queue 1 was not woken
    for (int fd : fds) ::close(fd);
  }

  TEST_CASE("the posted neighbour, received as an ARP reply, releases what waited for its MAC") {
    const Neighbour us{ip("10.74.0.2"), MacAddress{{0x02, 0x75, 0x73, 1, 2, 3}}};
    const Neighbour router{ip("10.74.0.1"), MacAddress{{0x02, 0, 0, 0, 0, 0x01}}};
    const auto frame = appkit::arp_seed_frame(router, us);
    REQUIRE(frame.size() == 42);
    auto eth = stack::wire::ethernet::View::checked(frame);
    REQUIRE(eth);
    const auto e = stack::wire::ethernet::Repr::parse(*eth);
    CHECK(e.dst == us.mac);
    CHECK(e.src == router.mac);
    CHECK(e.ethertype == stack::wire::EtherType::Arp);
    const auto a = stack::wire::arp::Repr::parse(*stack::wire::arp::View::checked(eth->payload()));
    REQUIRE(a);
    CHECK(a->operation == stack::wire::arp::Operation::Reply);
    CHECK(a->sender_ip == router.ip);
    CHECK(a->sender_mac == router.mac);
    CHECK(a->target_ip == us.ip);
    CHECK(a->target_mac == us.mac);

    // A stack with a datagram waiting for the router's MAC: the seed releases it, addressed to it.
    std::vector<std::vector<std::byte>> sent;
    stack::iface::InterfaceConfig config;
    config.mac = us.mac;
    stack::iface::Interface iface(config, [&](std::span<const std::byte> f) { sent.emplace_back(f.begin(), f.end()); });
    const stack::Instant t0 = stack::Instant::from_secs(1);
    iface.set_address(t0, *stack::wire::Ipv4Cidr::parse("10.74.0.2/24"), router.ip, false);
    auto sock = iface.udp().bind(5000);
    REQUIRE(sock);
    REQUIRE(iface.udp().send_to(*sock, {router.ip, 9}, std::vector<std::byte>(4)));
    iface.poll(t0);
    REQUIRE(sent.size() == 1);  // the ARP request, the datagram held
    sent.clear();
    iface.receive(t0, frame);
    iface.poll(t0);
    REQUIRE(sent.size() == 1);
    auto out = stack::wire::ethernet::View::checked(sent[0]);
    REQUIRE(out);
    CHECK(out->destination() == router.mac);
    CHECK(out->ethertype() == stack::wire::EtherType::Ipv4);
    CHECK(iface.arp_cache().peek(router.ip, t0) == router.mac);
  }
}
