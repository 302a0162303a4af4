// iface/arp_cache: the neighbour table's timeline in virtual time (RFC 826, RFC 1122 §2.3.2).
#include <doctest/doctest.h>

#include "stack/iface/arp_cache.hpp"

using namespace stack;
using namespace stack::iface;
using stack::wire::Ipv4Address;
using stack::wire::MacAddress;

namespace {
const Ipv4Address kRouter = Ipv4Address::from_octets(10, 77, 0, 1);
const MacAddress kRouterMac{{0x46, 0xe0, 0xe8, 0x63, 0xd0, 0x9e}};
Instant at_ms(std::int64_t ms) { return Instant::from_millis(ms); }
Bytes packet(std::uint8_t tag) { return Bytes(20, std::byte{tag}); }
}  // namespace

TEST_SUITE("iface/arp_cache") {
  TEST_CASE("the first packet starts resolution, later ones queue behind it (RFC 1122 §2.3.2.2)") {
    ArpCache cache;
    CHECK(cache.enqueue(kRouter, packet(1), at_ms(0)) == ArpCache::QueueResult::StartedResolution);
    CHECK(cache.enqueue(kRouter, packet(2), at_ms(10)) == ArpCache::QueueResult::Queued);
    CHECK_FALSE(cache.lookup(kRouter, at_ms(20)).has_value());
    const auto learned = cache.learn(kRouter, kRouterMac, at_ms(30));
    REQUIRE(learned.released.size() == 2);
    CHECK(learned.released[0][0] == std::byte{1});  // in order
    CHECK(learned.released[1][0] == std::byte{2});
    REQUIRE(learned.resolution_time.has_value());
    CHECK(learned.resolution_time->millis() == 30);
    CHECK(cache.lookup(kRouter, at_ms(31))->mac == kRouterMac);
  }

  TEST_CASE("requests are retried 1 s apart, 3 tries, then the queued packets are dropped") {
    ArpCache cache;
    REQUIRE(cache.enqueue(kRouter, packet(1), at_ms(0)) == ArpCache::QueueResult::StartedResolution);
    CHECK(cache.poll_at() == at_ms(1000));
    CHECK(cache.poll(at_ms(999)).retry.empty());
    auto due = cache.poll(at_ms(1000));
    REQUIRE(due.retry.size() == 1);
    CHECK(due.retry[0].second == 2);
    due = cache.poll(at_ms(2000));
    REQUIRE(due.retry.size() == 1);
    CHECK(due.retry[0].second == 3);
    due = cache.poll(at_ms(3000));
    CHECK(due.retry.empty());
    REQUIRE(due.failed.size() == 1);
    CHECK(due.failed[0].second == 1);
    CHECK_FALSE(cache.contains(kRouter));
  }

  TEST_CASE("the queue per neighbour is bounded in bytes; the oldest packets make room (Linux unres_qlen_bytes)") {
    ArpConfig config;
    config.max_queued_bytes_per_neighbour = 60;  // three 20-byte packets
    ArpCache cache(config);
    std::size_t evicted = 99;
    CHECK(cache.enqueue(kRouter, packet(1), at_ms(0), &evicted) == ArpCache::QueueResult::StartedResolution);
    CHECK(evicted == 0);
    CHECK(cache.enqueue(kRouter, packet(2), at_ms(0), &evicted) == ArpCache::QueueResult::Queued);
    CHECK(cache.enqueue(kRouter, packet(3), at_ms(0), &evicted) == ArpCache::QueueResult::Queued);
    CHECK(evicted == 0);
    CHECK(cache.enqueue(kRouter, packet(4), at_ms(0), &evicted) == ArpCache::QueueResult::Queued);
    CHECK(evicted == 1);
    // A packet larger than the whole bound is refused, and nothing is evicted for it.
    CHECK(cache.enqueue(kRouter, Bytes(61, std::byte{9}), at_ms(0), &evicted) == ArpCache::QueueResult::QueueFull);
    CHECK(evicted == 0);
    const auto learned = cache.learn(kRouter, kRouterMac, at_ms(5));
    REQUIRE(learned.released.size() == 3);
    CHECK(learned.released[0][0] == std::byte{2});
    CHECK(learned.released[2][0] == std::byte{4});
  }

  TEST_CASE("entries expire after 60 s and are refreshed once when used near expiry") {
    ArpCache cache;
    cache.learn(kRouter, kRouterMac, at_ms(0));
    auto hit = cache.lookup(kRouter, at_ms(10'000));
    REQUIRE(hit);
    CHECK_FALSE(hit->needs_refresh);
    hit = cache.lookup(kRouter, at_ms(56'000));
    REQUIRE(hit);
    CHECK(hit->needs_refresh);
    CHECK_FALSE(cache.lookup(kRouter, at_ms(57'000))->needs_refresh);  // only once
    CHECK_FALSE(cache.lookup(kRouter, at_ms(60'000)).has_value());
    cache.poll(at_ms(60'000));
    CHECK_FALSE(cache.contains(kRouter));
  }

  TEST_CASE("a reply extends the entry (refresh answered)") {
    ArpCache cache;
    cache.learn(kRouter, kRouterMac, at_ms(0));
    REQUIRE(cache.lookup(kRouter, at_ms(56'000))->needs_refresh);
    REQUIRE(cache.update_if_present(kRouter, kRouterMac, at_ms(56'001)).has_value());
    CHECK(cache.lookup(kRouter, at_ms(100'000)).has_value());
  }

  TEST_CASE("RFC 826 merge: only entries we hold are updated") {
    ArpCache cache;
    CHECK_FALSE(cache.update_if_present(kRouter, kRouterMac, at_ms(0)).has_value());
    CHECK_FALSE(cache.contains(kRouter));
    cache.learn(kRouter, kRouterMac, at_ms(0));
    const MacAddress moved{{0x02, 0, 0, 0, 0, 0x99}};
    REQUIRE(cache.update_if_present(kRouter, moved, at_ms(5)).has_value());
    CHECK(cache.peek(kRouter, at_ms(6)) == moved);
  }

  TEST_CASE("the table is bounded; resolved entries are evicted, pending ones never") {
    ArpConfig config;
    config.max_entries = 2;
    ArpCache cache(config);
    cache.learn(Ipv4Address::from_octets(10, 0, 0, 1), kRouterMac, at_ms(0));
    cache.learn(Ipv4Address::from_octets(10, 0, 0, 2), kRouterMac, at_ms(1));
    CHECK(cache.enqueue(Ipv4Address::from_octets(10, 0, 0, 3), packet(1), at_ms(2)) ==
          ArpCache::QueueResult::StartedResolution);
    CHECK(cache.size() == 2);
    CHECK_FALSE(cache.contains(Ipv4Address::from_octets(10, 0, 0, 1)));  // the oldest went
    CHECK(cache.enqueue(Ipv4Address::from_octets(10, 0, 0, 4), packet(1), at_ms(3)) ==
          ArpCache::QueueResult::StartedResolution);
    CHECK(cache.enqueue(Ipv4Address::from_octets(10, 0, 0, 5), packet(1), at_ms(4)) ==
          ArpCache::QueueResult::TableFull);
  }
}
