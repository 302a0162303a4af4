// util/ring_buffer: the byte ring behind TCP's send and receive buffers, checked against a plain
// std::deque model across every wrap-around position.
#include <doctest/doctest.h>

#include <algorithm>
#include <deque>
#include <vector>

#include "stack/util/random.hpp"
#include "stack/util/ring_buffer.hpp"

using stack::RingBuffer;

namespace {
std::vector<std::byte> bytes(std::size_t n, std::uint8_t first) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>(first + i);
  return v;
}
}  // namespace

TEST_SUITE("util/ring_buffer") {
  TEST_CASE("push, peek and pop across the wrap point keep the byte order") {
    for (std::size_t start = 0; start < 8; ++start) {
      CAPTURE(start);
      RingBuffer r(8);
      std::vector<std::byte> sink(8);
      REQUIRE(r.push(bytes(start, 0)) == start);  // move the read position to `start`
      r.consume(start);
      CHECK(r.push(bytes(10, 100)) == 8);  // only the capacity fits
      CHECK(r.free() == 0);
      std::vector<std::byte> out(5);
      CHECK(r.peek(2, out) == 5);
      CHECK(out == bytes(5, 102));
      CHECK(r.pop(sink) == 8);
      CHECK(sink == bytes(8, 100));
      CHECK(r.empty());
    }
  }

  TEST_CASE("contiguous() shows readable bytes in place, cut short only at the end of the storage") {
    for (std::size_t start = 0; start < 8; ++start) {
      CAPTURE(start);
      RingBuffer r(8);
      REQUIRE(r.push(bytes(start, 0)) == start);
      r.consume(start);
      REQUIRE(r.push(bytes(6, 50)) == 6);
      for (std::size_t offset = 0; offset <= 6; ++offset) {
        CAPTURE(offset);
        const auto piece = r.contiguous(offset, 4);
        const std::size_t to_end = 8 - (start + offset) % 8;
        CHECK(piece.size() == std::min({std::size_t{4}, 6 - offset, to_end}));
        for (std::size_t i = 0; i < piece.size(); ++i) CHECK(piece[i] == static_cast<std::byte>(50 + offset + i));
      }
      CHECK(r.contiguous(6, 4).empty());  // nothing readable there
    }
  }

  TEST_CASE("rewind() brings an empty ring back to the front of its storage, and leaves a non-empty one alone") {
    RingBuffer r(8);
    std::vector<std::byte> sink(8);
    REQUIRE(r.push(bytes(5, 0)) == 5);
    REQUIRE(r.pop(std::span(sink).first(3)) == 3);
    r.rewind();
    CHECK(r.position() == 3);  // two bytes still readable: nothing moves
    REQUIRE(r.pop(sink) == 2);
    CHECK(sink[0] == std::byte{3});
    r.rewind();
    CHECK(r.position() == 0);
    REQUIRE(r.push(bytes(8, 50)) == 8);  // the whole capacity again, from the front
    REQUIRE(r.pop(sink) == 8);
    CHECK(sink == bytes(8, 50));
  }

  TEST_CASE("write_unallocated beyond the readable end becomes readable only on commit") {
    RingBuffer r(10);
    REQUIRE(r.push(bytes(7, 0)) == 7);
    r.consume(6);                                   // read position 6, one byte readable
    CHECK(r.write_unallocated(3, bytes(4, 50)) == 4);  // lands at ring positions 0..3 (wrapped)
    CHECK(r.size() == 1);
    CHECK(r.write_unallocated(0, bytes(3, 40)) == 3);  // the gap before it
    r.commit(7);
    std::vector<std::byte> out(8);
    CHECK(r.pop(out) == 8);
    CHECK(out == std::vector<std::byte>{std::byte{6}, std::byte{40}, std::byte{41}, std::byte{42},
                                        std::byte{50}, std::byte{51}, std::byte{52}, std::byte{53}});
    CHECK(r.write_unallocated(10, bytes(1, 0)) == 0);  // beyond the free space: nothing
    CHECK(r.write_unallocated(8, bytes(5, 0)) == 2);   // clipped to the free space
  }

  TEST_CASE("random operations agree with a deque model") {
    stack::Rng rng(7);
    RingBuffer r(97);  // a capacity that is not a power of two
    std::deque<std::byte> model;
    std::uint8_t next = 0;
    for (int step = 0; step < 20000; ++step) {
      const std::uint32_t n = rng.below(130);
      if (rng.below(2) == 0) {
        std::vector<std::byte> in(n);
        for (auto& b : in) b = static_cast<std::byte>(next++);
        const std::size_t took = r.push(in);
        CHECK(took == std::min<std::size_t>(n, 97 - model.size()));
        model.insert(model.end(), in.begin(), in.begin() + static_cast<std::ptrdiff_t>(took));
      } else {
        std::vector<std::byte> out(n);
        const std::size_t got = r.pop(out);
        REQUIRE(got == std::min<std::size_t>(n, model.size()));
        for (std::size_t i = 0; i < got; ++i) {
          CHECK(out[i] == model.front());
          model.pop_front();
        }
      }
      REQUIRE(r.size() == model.size());
    }
  }

  TEST_CASE("storage is allocated on the first write and given back by release() only when empty") {
    RingBuffer r(16);
    CHECK_FALSE(r.allocated());
    std::vector<std::byte> out(16);
    CHECK(r.pop(out) == 0);  // reading an empty, unallocated ring is fine
    CHECK(r.push({}) == 0);
    CHECK_FALSE(r.allocated());
    REQUIRE(r.push(bytes(10, 1)) == 10);
    CHECK(r.allocated());
    r.consume(4);
    r.release();  // six bytes still readable: kept
    CHECK(r.allocated());
    CHECK(r.pop(out) == 6);
    CHECK(std::vector<std::byte>(out.begin(), out.begin() + 6) == bytes(6, 5));
    r.release();
    CHECK_FALSE(r.allocated());
    REQUIRE(r.push(bytes(16, 30)) == 16);  // a fresh start at position 0, full capacity
    CHECK(r.pop(out) == 16);
    CHECK(out == bytes(16, 30));
  }

  TEST_CASE("grow() keeps readable bytes and bytes written ahead, across the wrap, and adds free space") {
    RingBuffer r(16);
    REQUIRE(r.push(bytes(12, 1)) == 12);
    r.consume(10);                       // the readable end sits at 12: the next bytes wrap
    REQUIRE(r.push(bytes(8, 50)) == 8);  // readable: 2 old + 8 new, across the end of storage
    REQUIRE(r.write_unallocated(2, bytes(4, 90)) == 4);  // ahead of the readable end, a gap of 2
    r.grow(64);
    CHECK(r.capacity() == 64);
    CHECK(r.size() == 10);
    CHECK(r.free() == 54);
    CHECK(r.position() == 0);
    std::vector<std::byte> out(10);
    REQUIRE(r.peek(0, out) == 10);
    CHECK(std::vector<std::byte>(out.begin(), out.begin() + 2) == std::vector<std::byte>{std::byte{11}, std::byte{12}});
    CHECK(std::vector<std::byte>(out.begin() + 2, out.end()) == bytes(8, 50));
    REQUIRE(r.write_unallocated(0, bytes(2, 70)) == 2);  // fill the gap: the bytes ahead were kept
    r.commit(6);
    std::vector<std::byte> tail(6);
    REQUIRE(r.peek(10, tail) == 6);
    CHECK(std::vector<std::byte>(tail.begin() + 2, tail.end()) == bytes(4, 90));
    r.grow(8);  // never shrinks
    CHECK(r.capacity() == 64);
    RingBuffer idle(16);
    idle.grow(32);  // no storage yet: only the capacity changes
    CHECK_FALSE(idle.allocated());
    CHECK(idle.free() == 32);
  }
}
