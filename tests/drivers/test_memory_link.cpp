// drivers/memory_link: delivery in virtual time, seeded faults, queue bound, poll_at.
#include <doctest/doctest.h>

#include <algorithm>
#include <vector>

#include "drivers/memory_link.hpp"
#include "frames.hpp"  // tests/drivers/frames.hpp

using drivers::LinkConfig;
using drivers::MemoryLink;
using stack::Duration;
using stack::Instant;

namespace {

constexpr Instant t0 = Instant::from_millis(0);

// Receives everything `dev` has due at `now`.
std::vector<stack::Bytes> drain(drivers::Device& dev, Instant now) {
  std::vector<stack::Bytes> got;
  stack::Bytes buf(dev.capabilities().max_frame);
  while (auto n = dev.receive(now, buf)) got.emplace_back(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*n));
  return got;
}

// Sends `count` numbered frames a -> b at t0 and returns which indices arrived.
std::vector<bool> arrivals(const LinkConfig& cfg, std::uint32_t count) {
  MemoryLink link(cfg);
  for (std::uint32_t i = 0; i < count; ++i) CHECK(link.end_a().transmit(t0, test::numbered_frame(i)));
  std::vector<bool> arrived(count, false);
  for (const auto& f : drain(link.end_b(), t0 + Duration::from_secs(10))) arrived[test::frame_index(f)] = true;
  return arrived;
}

}  // namespace

TEST_SUITE("drivers/memory_link") {
  TEST_CASE("a frame arrives after exactly the latency, not a microsecond before") {
    LinkConfig cfg;
    cfg.latency = Duration::from_millis(10);
    MemoryLink link(cfg);
    const stack::Bytes frame = test::numbered_frame(7);
    REQUIRE(link.end_a().transmit(t0, frame));

    CHECK(drain(link.end_b(), t0 + Duration::from_micros(9'999)).empty());
    CHECK(link.end_a().poll_at() == std::nullopt);  // nothing travels b -> a
    auto got = drain(link.end_b(), t0 + Duration::from_millis(10));
    REQUIRE(got.size() == 1);
    CHECK(got[0] == frame);
    CHECK(drain(link.end_a(), t0 + Duration::from_secs(1)).empty());  // not looped back
    CHECK(link.counters(true).sent == 1);
    CHECK(link.counters(true).delivered == 1);
  }

  TEST_CASE("both directions carry frames independently") {
    MemoryLink link(LinkConfig{});
    REQUIRE(link.end_a().transmit(t0, test::numbered_frame(1)));
    REQUIRE(link.end_b().transmit(t0, test::numbered_frame(2)));
    auto at_b = drain(link.end_b(), t0 + Duration::from_millis(1));
    auto at_a = drain(link.end_a(), t0 + Duration::from_millis(1));
    REQUIRE(at_b.size() == 1);
    REQUIRE(at_a.size() == 1);
    CHECK(test::frame_index(at_b[0]) == 1);
    CHECK(test::frame_index(at_a[0]) == 2);
  }

  TEST_CASE("poll_at names the next delivery instant and moves on after each receive") {
    LinkConfig cfg;
    cfg.latency = Duration::from_millis(10);
    MemoryLink link(cfg);
    CHECK(link.end_b().poll_at() == std::nullopt);
    REQUIRE(link.end_a().transmit(t0, test::numbered_frame(0)));
    REQUIRE(link.end_a().transmit(t0 + Duration::from_millis(3), test::numbered_frame(1)));
    CHECK(link.end_b().poll_at() == t0 + Duration::from_millis(10));
    // Jumping virtual time to poll_at() always yields a frame.
    stack::Bytes buf(1514);
    CHECK(link.end_b().receive(*link.end_b().poll_at(), buf).has_value());
    CHECK(link.end_b().poll_at() == t0 + Duration::from_millis(13));
    CHECK(link.end_b().receive(*link.end_b().poll_at(), buf).has_value());
    CHECK(link.end_b().poll_at() == std::nullopt);
  }

  TEST_CASE("the same seed gives the same loss pattern, a different seed a different one") {
    LinkConfig cfg;
    cfg.loss = 0.3;
    cfg.queue_limit = 2000;
    cfg.seed = 42;
    const auto first = arrivals(cfg, 1000);
    const auto again = arrivals(cfg, 1000);
    cfg.seed = 43;
    const auto other = arrivals(cfg, 1000);
    CHECK(first == again);
    CHECK(first != other);
  }

  TEST_CASE("loss p=0.2 over 10,000 frames drops 20 % give or take 3 %") {
    LinkConfig cfg;
    cfg.loss = 0.2;
    cfg.queue_limit = 20'000;
    MemoryLink link(cfg);
    for (std::uint32_t i = 0; i < 10'000; ++i) link.end_a().transmit(t0, test::numbered_frame(i));
    const auto got = drain(link.end_b(), t0 + Duration::from_secs(1));
    const auto& c = link.counters(true);
    // Binomial(10000, 0.2): standard deviation 40 frames; ±300 is 7.5 of them.
    CHECK(c.dropped_loss >= 1700);
    CHECK(c.dropped_loss <= 2300);
    CHECK(c.dropped_loss + got.size() == 10'000);
    CHECK(c.delivered == got.size());
    CHECK(c.sent == 10'000);  // lost on the wire: the sender could not tell
  }

  TEST_CASE("duplication delivers a frame twice and is counted") {
    LinkConfig cfg;
    cfg.duplicate = 1.0;
    MemoryLink link(cfg);
    const auto frame = test::numbered_frame(5);
    REQUIRE(link.end_a().transmit(t0, frame));
    const auto got = drain(link.end_b(), t0 + Duration::from_millis(1));
    REQUIRE(got.size() == 2);
    CHECK(got[0] == frame);
    CHECK(got[1] == frame);
    CHECK(link.counters(true).duplicated == 1);
    CHECK(link.counters(true).delivered == 2);
  }

  TEST_CASE("corruption flips exactly one bit, after the Ethernet header, and is counted") {
    LinkConfig cfg;
    cfg.corrupt = 1.0;
    MemoryLink link(cfg);
    for (std::uint32_t i = 0; i < 200; ++i) {
      const auto frame = test::numbered_frame(i, 100);
      REQUIRE(link.end_a().transmit(t0, frame));
      const auto got = drain(link.end_b(), t0 + Duration::from_millis(1));
      REQUIRE(got.size() == 1);
      REQUIRE(got[0].size() == frame.size());
      int flipped = 0;
      for (std::size_t k = 0; k < frame.size(); ++k) {
        const auto diff = static_cast<unsigned>(got[0][k] ^ frame[k]);
        flipped += __builtin_popcount(diff);
        if (diff != 0) CHECK(k >= 14);
      }
      CHECK(flipped == 1);
    }
    CHECK(link.counters(true).corrupted == 200);
  }

  TEST_CASE("reordering delivers every frame, some out of order") {
    LinkConfig cfg;
    cfg.reorder = 0.5;
    cfg.reorder_max = Duration::from_millis(5);
    MemoryLink link(cfg);
    for (std::uint32_t i = 0; i < 100; ++i) {
      REQUIRE(link.end_a().transmit(t0 + Duration::from_micros(100 * i), test::numbered_frame(i)));
    }
    std::vector<std::uint32_t> order;
    for (const auto& f : drain(link.end_b(), t0 + Duration::from_secs(1))) order.push_back(test::frame_index(f));
    REQUIRE(order.size() == 100);
    CHECK_FALSE(std::is_sorted(order.begin(), order.end()));
    std::sort(order.begin(), order.end());
    CHECK(std::adjacent_find(order.begin(), order.end()) == order.end());
    CHECK(link.counters(true).reordered > 20);
  }

  TEST_CASE("the queue bound drops the excess, counted, and transmit says so") {
    LinkConfig cfg;
    cfg.queue_limit = 4;
    MemoryLink link(cfg);
    int accepted = 0;
    for (std::uint32_t i = 0; i < 10; ++i) accepted += link.end_a().transmit(t0, test::numbered_frame(i)) ? 1 : 0;
    CHECK(accepted == 4);
    CHECK(link.counters(true).dropped_queue_full == 6);
    CHECK(link.in_flight(true) == 4);
    CHECK(drain(link.end_b(), t0 + Duration::from_millis(1)).size() == 4);
    // Once delivered, the queue has room again.
    CHECK(link.end_a().transmit(t0 + Duration::from_millis(1), test::numbered_frame(10)));
  }

  TEST_CASE("bandwidth serialises back-to-back frames: 1250 bytes at 1 Mbit/s take 10 ms each") {
    LinkConfig cfg;
    cfg.bandwidth_bps = 1'000'000;
    cfg.latency = Duration::from_millis(2);
    MemoryLink link(cfg);
    REQUIRE(link.end_a().transmit(t0, test::numbered_frame(0, 1250)));
    REQUIRE(link.end_a().transmit(t0, test::numbered_frame(1, 1250)));
    CHECK(link.end_b().poll_at() == t0 + Duration::from_millis(12));
    CHECK(drain(link.end_b(), t0 + Duration::from_millis(12)).size() == 1);
    CHECK(link.end_b().poll_at() == t0 + Duration::from_millis(22));
  }

  TEST_CASE("oversized frames and too-small receive buffers are dropped and counted") {
    MemoryLink link(LinkConfig{});
    CHECK_FALSE(link.end_a().transmit(t0, stack::Bytes(1515)));
    CHECK(link.counters(true).dropped_too_big == 1);
    REQUIRE(link.end_a().transmit(t0, test::numbered_frame(0, 100)));
    stack::Bytes small(50);
    CHECK_FALSE(link.end_b().receive(t0 + Duration::from_millis(1), small).has_value());
    CHECK(link.counters(true).dropped_rx_buffer == 1);
  }

  TEST_CASE("stats name every counter from each end's point of view") {
    LinkConfig cfg;
    cfg.queue_limit = 1;
    MemoryLink link(cfg);
    link.end_a().transmit(t0, test::numbered_frame(0));
    link.end_a().transmit(t0, test::numbered_frame(1));
    drain(link.end_b(), t0 + Duration::from_millis(1));
    auto value = [](const drivers::Stats& s, const std::string& name) -> std::uint64_t {
      for (const auto& [n, v] : s) if (n == name) return v;
      FAIL("no counter " << name);
      return 0;
    };
    CHECK(value(link.end_a().stats(), "tx_sent") == 1);
    CHECK(value(link.end_a().stats(), "tx_dropped_queue_full") == 1);
    CHECK(value(link.end_b().stats(), "rx_delivered") == 1);
    CHECK(value(link.end_b().stats(), "tx_sent") == 0);
  }
}
