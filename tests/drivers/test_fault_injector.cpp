// drivers/fault_injector over a MemoryLink: seeded faults in both directions, delay, counters.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "drivers/fault_injector.hpp"
#include "frames.hpp"  // tests/drivers/frames.hpp
#include "drivers/memory_link.hpp"

using drivers::Direction;
using drivers::FaultConfig;
using drivers::FaultInjector;
using drivers::LinkConfig;
using drivers::MemoryLink;
using stack::Duration;
using stack::Instant;

namespace {

constexpr Instant t0 = Instant::from_millis(0);
constexpr Duration kLatency = Duration::from_millis(1);

LinkConfig roomy_link() {
  LinkConfig cfg;
  cfg.latency = kLatency;
  cfg.queue_limit = 100'000;
  return cfg;
}

std::vector<stack::Bytes> drain(drivers::Device& dev, Instant now) {
  std::vector<stack::Bytes> got;
  stack::Bytes buf(dev.capabilities().max_frame);
  while (auto n = dev.receive(now, buf)) got.emplace_back(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*n));
  return got;
}

// `count` numbered frames through a FaultInjector placed on the sending end (tx faults) or on
// the receiving end (rx faults). Returns which indices arrived at the far side.
std::vector<bool> arrivals_through(const FaultConfig& fc, Direction where, std::uint32_t count) {
  MemoryLink link(roomy_link());
  FaultInjector sender_side(link.end_a(), fc);
  FaultInjector receiver_side(link.end_b(), fc);
  drivers::Device& tx = where == Direction::Tx ? static_cast<drivers::Device&>(sender_side) : link.end_a();
  drivers::Device& rx = where == Direction::Rx ? static_cast<drivers::Device&>(receiver_side) : link.end_b();
  for (std::uint32_t i = 0; i < count; ++i) tx.transmit(t0, test::numbered_frame(i));
  std::vector<bool> arrived(count, false);
  for (const auto& f : drain(rx, t0 + Duration::from_secs(10))) arrived[test::frame_index(f)] = true;
  return arrived;
}

std::size_t count_true(const std::vector<bool>& v) { return static_cast<std::size_t>(std::count(v.begin(), v.end(), true)); }

}  // namespace

TEST_SUITE("drivers/fault_injector") {
  TEST_CASE("with no faults configured every frame passes unchanged, after the link latency") {
    MemoryLink link(roomy_link());
    FaultInjector a(link.end_a(), FaultConfig{});
    FaultInjector b(link.end_b(), FaultConfig{});
    const auto frame = test::numbered_frame(3);
    REQUIRE(a.transmit(t0, frame));
    CHECK(drain(b, t0 + kLatency - Duration::from_micros(1)).empty());
    const auto got = drain(b, t0 + kLatency);
    REQUIRE(got.size() == 1);
    CHECK(got[0] == frame);
    CHECK(b.capabilities().max_frame == link.end_b().capabilities().max_frame);
    CHECK(b.name() == "memory-b");
  }

  TEST_CASE("drop p=0.2 over 10,000 frames, on transmit and on receive, within 20 % ± 3 %") {
    for (Direction d : {Direction::Tx, Direction::Rx}) {
      CAPTURE(drivers::to_string(d));
      FaultConfig fc;
      (d == Direction::Tx ? fc.tx : fc.rx).drop = 0.2;
      const auto arrived = arrivals_through(fc, d, 10'000);
      const auto lost = 10'000 - count_true(arrived);
      CHECK(lost >= 1700);
      CHECK(lost <= 2300);
    }
  }

  TEST_CASE("a dropped transmit returns false and is counted") {
    MemoryLink link(roomy_link());
    FaultConfig fc;
    fc.tx.drop = 1.0;
    FaultInjector a(link.end_a(), fc);
    CHECK_FALSE(a.transmit(t0, test::numbered_frame(0)));
    CHECK(a.counters(Direction::Tx).dropped == 1);
    CHECK(link.counters(true).sent == 0);
  }

  TEST_CASE("the same seed gives the same faults both ways, a different seed different ones") {
    for (Direction d : {Direction::Tx, Direction::Rx}) {
      CAPTURE(drivers::to_string(d));
      FaultConfig fc = FaultConfig::symmetric(0.3, 0.0, 7);
      const auto first = arrivals_through(fc, d, 1000);
      const auto again = arrivals_through(fc, d, 1000);
      fc.seed = 8;
      const auto other = arrivals_through(fc, d, 1000);
      CHECK(first == again);
      CHECK(first != other);
    }
  }

  TEST_CASE("receive-side faults do not depend on how much was transmitted in between") {
    // Each direction has its own random stream: sending frames must not shift the rx pattern.
    auto rx_pattern = [](bool interleave_transmits) {
      MemoryLink link(roomy_link());
      FaultInjector b(link.end_b(), FaultConfig::symmetric(0.5, 0.0, 3));
      for (std::uint32_t i = 0; i < 200; ++i) link.end_a().transmit(t0, test::numbered_frame(i));
      std::vector<std::uint32_t> got;
      stack::Bytes buf(1514);
      while (auto n = b.receive(t0 + kLatency, buf)) {
        got.push_back(test::frame_index(buf));
        if (interleave_transmits) b.transmit(t0 + kLatency, test::numbered_frame(999));
      }
      return got;
    };
    CHECK(rx_pattern(false) == rx_pattern(true));
  }

  TEST_CASE("duplication is visible at the far end and counted, both directions") {
    for (Direction d : {Direction::Tx, Direction::Rx}) {
      CAPTURE(drivers::to_string(d));
      MemoryLink link(roomy_link());
      FaultConfig fc;
      (d == Direction::Tx ? fc.tx : fc.rx).duplicate = 1.0;
      FaultInjector a(link.end_a(), fc);
      FaultInjector b(link.end_b(), fc);
      drivers::Device& tx = d == Direction::Tx ? static_cast<drivers::Device&>(a) : link.end_a();
      drivers::Device& rx = d == Direction::Rx ? static_cast<drivers::Device&>(b) : link.end_b();
      const auto frame = test::numbered_frame(1);
      REQUIRE(tx.transmit(t0, frame));
      const auto got = drain(rx, t0 + kLatency);
      REQUIRE(got.size() == 2);
      CHECK(got[0] == frame);
      CHECK(got[1] == frame);
      CHECK((d == Direction::Tx ? a : b).counters(d).duplicated == 1);
    }
  }

  TEST_CASE("corruption flips one bit past the Ethernet header and is counted, both directions") {
    for (Direction d : {Direction::Tx, Direction::Rx}) {
      CAPTURE(drivers::to_string(d));
      MemoryLink link(roomy_link());
      FaultConfig fc;
      (d == Direction::Tx ? fc.tx : fc.rx).corrupt = 1.0;
      FaultInjector a(link.end_a(), fc);
      FaultInjector b(link.end_b(), fc);
      drivers::Device& tx = d == Direction::Tx ? static_cast<drivers::Device&>(a) : link.end_a();
      drivers::Device& rx = d == Direction::Rx ? static_cast<drivers::Device&>(b) : link.end_b();
      const auto frame = test::numbered_frame(9, 80);
      REQUIRE(tx.transmit(t0, frame));
      const auto got = drain(rx, t0 + kLatency);
      REQUIRE(got.size() == 1);
      int flipped = 0;
      for (std::size_t k = 0; k < frame.size(); ++k) {
        const auto diff = static_cast<unsigned>(got[0][k] ^ frame[k]);
        flipped += __builtin_popcount(diff);
        if (diff != 0) CHECK(k >= 14);
      }
      CHECK(flipped == 1);
      CHECK((d == Direction::Tx ? a : b).counters(d).corrupted == 1);
    }
  }

  TEST_CASE("a transmit delay holds the frame in the injector until a call at or after its release") {
    MemoryLink link(roomy_link());
    FaultConfig fc;
    fc.tx.delay = Duration::from_millis(20);
    FaultInjector a(link.end_a(), fc);
    REQUIRE(a.transmit(t0, test::numbered_frame(0)));
    CHECK(link.in_flight(true) == 0);
    CHECK(a.poll_at() == t0 + Duration::from_millis(20));
    stack::Bytes buf(1514);
    CHECK_FALSE(a.receive(t0 + Duration::from_millis(19), buf).has_value());
    CHECK(link.in_flight(true) == 0);
    // The event loop wakes at poll_at() and polls the device: that hands the frame to the link.
    CHECK_FALSE(a.receive(*a.poll_at(), buf).has_value());
    CHECK(link.in_flight(true) == 1);
    CHECK(a.poll_at() == std::nullopt);
    CHECK(link.end_b().poll_at() == t0 + Duration::from_millis(20) + kLatency);
    CHECK(a.counters(Direction::Tx).delayed == 1);
  }

  TEST_CASE("a receive delay shows in poll_at and releases the frame on time") {
    MemoryLink link(roomy_link());
    FaultConfig fc;
    fc.rx.delay = Duration::from_millis(5);
    FaultInjector b(link.end_b(), fc);
    REQUIRE(link.end_a().transmit(t0, test::numbered_frame(0)));
    CHECK(b.poll_at() == t0 + kLatency);  // the link's delivery: receive() pulls it in
    stack::Bytes buf(1514);
    CHECK_FALSE(b.receive(t0 + kLatency, buf).has_value());
    CHECK(b.poll_at() == t0 + kLatency + Duration::from_millis(5));
    CHECK_FALSE(b.receive(t0 + kLatency + Duration::from_micros(4999), buf).has_value());
    CHECK(b.receive(t0 + kLatency + Duration::from_millis(5), buf).has_value());
  }

  TEST_CASE("reordering on receive delivers every frame, some out of order, both directions") {
    for (Direction d : {Direction::Tx, Direction::Rx}) {
      CAPTURE(drivers::to_string(d));
      MemoryLink link(roomy_link());
      FaultConfig fc;
      auto& s = d == Direction::Tx ? fc.tx : fc.rx;
      s.reorder = 0.5;
      s.reorder_max = Duration::from_millis(3);
      FaultInjector a(link.end_a(), fc);
      FaultInjector b(link.end_b(), fc);
      drivers::Device& tx = d == Direction::Tx ? static_cast<drivers::Device&>(a) : link.end_a();
      drivers::Device& rx = d == Direction::Rx ? static_cast<drivers::Device&>(b) : link.end_b();
      // A virtual event loop: step to the earliest poll_at of either side, poll both.
      std::vector<std::uint32_t> order;
      stack::Bytes buf(1514);
      Instant now = t0;
      std::uint32_t next = 0;
      while (order.size() < 100 && now < t0 + Duration::from_secs(5)) {
        if (next < 100) tx.transmit(now, test::numbered_frame(next++));
        tx.receive(now, buf);  // releases held transmissions
        while (auto n = rx.receive(now, buf)) order.push_back(test::frame_index(buf));
        now += Duration::from_micros(200);
      }
      REQUIRE(order.size() == 100);
      CHECK_FALSE(std::is_sorted(order.begin(), order.end()));
      std::sort(order.begin(), order.end());
      CHECK(std::adjacent_find(order.begin(), order.end()) == order.end());
      CHECK((d == Direction::Tx ? a : b).counters(d).reordered > 20);
    }
  }

  TEST_CASE("symmetric() fills both directions from --drop-chance --corrupt-chance --seed") {
    const auto fc = FaultConfig::symmetric(0.1, 0.05, 99);
    CHECK(fc.seed == 99);
    CHECK(fc.rx.drop == 0.1);
    CHECK(fc.tx.drop == 0.1);
    CHECK(fc.rx.corrupt == 0.05);
    CHECK(fc.tx.corrupt == 0.05);
  }

  TEST_CASE("stats list the wrapped device's counters, then one per fault and direction") {
    MemoryLink link(roomy_link());
    FaultConfig fc;
    fc.tx.drop = 1.0;
    FaultInjector a(link.end_a(), fc);
    a.transmit(t0, test::numbered_frame(0));
    const auto s = a.stats();
    REQUIRE_FALSE(s.empty());
    CHECK(s.front().first == "tx_sent");  // MemoryLink's first
    auto it = std::find_if(s.begin(), s.end(), [](const auto& p) { return p.first == "fault.tx_dropped"; });
    REQUIRE(it != s.end());
    CHECK(it->second == 1);
  }

  TEST_CASE("a corrupted transmission goes out alone: what a transmit offload holds is flushed before and after it") {
    // A device that joins frames into super-frames (drivers/tso.hpp) would have the kernel
    // compute fresh checksums over a corrupted frame's damaged bytes; flushed around it, the frame
    // is a batch of one and leaves with the checksums it was damaged under.
    struct Recorder final : drivers::Device {
      std::vector<std::string>* log;
      explicit Recorder(std::vector<std::string>* l) : log(l) {}
      drivers::Capabilities capabilities() const override { return {}; }
      std::string name() const override { return "recorder"; }
      std::optional<std::size_t> receive(Instant, std::span<std::byte>) override { return std::nullopt; }
      bool transmit(Instant, std::span<const std::byte>) override {
        log->push_back("tx");  // (a flipped bit may fall in the frame's number)
        return true;
      }
      void flush(Instant) override { log->push_back("flush"); }
    };
    for (const double corrupt : {0.0, 1.0}) {
      CAPTURE(corrupt);
      std::vector<std::string> log;
      Recorder inner(&log);
      FaultConfig fc;
      fc.tx.corrupt = corrupt;
      fc.tx.drop = 1e-12;  // a fault configured, so every frame takes the path that applies faults
      FaultInjector f(inner, fc);
      for (std::uint32_t i = 0; i < 3; ++i) REQUIRE(f.transmit(t0, test::numbered_frame(i, 80)));
      if (corrupt == 0.0) {
        CHECK(log == std::vector<std::string>{"tx", "tx", "tx"});  // untouched frames may be joined
      } else {
        CHECK(log == std::vector<std::string>{"flush", "tx", "flush", "flush", "tx", "flush", "flush", "tx", "flush"});
        CHECK(f.counters(Direction::Tx).corrupted == 3);
      }
    }
  }

  TEST_CASE("an owning injector keeps the wrapped device alive") {
    struct Sink final : drivers::Device {
      int* sent;
      explicit Sink(int* s) : sent(s) {}
      drivers::Capabilities capabilities() const override { return {}; }
      std::string name() const override { return "sink"; }
      std::optional<std::size_t> receive(Instant, std::span<std::byte>) override { return std::nullopt; }
      bool transmit(Instant, std::span<const std::byte>) override { return ++*sent > 0; }
    };
    int sent = 0;
    FaultInjector f(std::make_unique<Sink>(&sent), FaultConfig{});
    CHECK(f.transmit(t0, test::numbered_frame(0)));
    CHECK(sent == 1);
    CHECK(f.name() == "sink");
  }
}
