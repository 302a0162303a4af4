// apps/ring_pool: the block pool the programs install under RingBuffer. A freed block is reused,
// and its pages go back to the kernel (seen with mincore(2)) once the resident budget of free
// blocks is spent.
#include <doctest/doctest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <deque>
#include <thread>
#include <vector>

#include "apps/common/ring_pool.hpp"
#include "stack/util/random.hpp"
#include "stack/util/ring_buffer.hpp"

using appkit::RingPool;
using stack::RingBuffer;
using stack::RingStorage;

namespace {
// How many of the pages of [p, p + n) are resident.
std::size_t resident_pages(const std::byte* p, std::size_t n) {
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> v((n + page - 1) / page);
  REQUIRE(::mincore(const_cast<std::byte*>(p), n, v.data()) == 0);
  std::size_t count = 0;
  for (unsigned char c : v) count += c & 1;
  return count;
}
}  // namespace

TEST_SUITE("apps/ring_pool") {
  TEST_CASE("freed blocks beyond the resident budget give their pages back to the kernel") {
    constexpr std::size_t kBlock = 64 * 1024;
    RingPool pool;
    const std::size_t n = RingPool::kResidentBudget / kBlock + 8;  // more than the budget holds
    const auto before = pool.stats();
    std::vector<std::byte*> blocks;
    for (std::size_t i = 0; i < n; ++i) {
      std::byte* b = pool.acquire(kBlock);
      for (std::size_t j = 0; j < kBlock; ++j) b[j] = static_cast<std::byte>(i + j);  // every page touched
      CHECK(resident_pages(b, kBlock) == kBlock / 4096);
      blocks.push_back(b);
    }
    CHECK(pool.stats().blocks_in_use == before.blocks_in_use + n);
    for (std::byte* b : blocks) pool.release(b, kBlock, kBlock);
    const auto after = pool.stats();
    CHECK(after.blocks_in_use == before.blocks_in_use);
    CHECK(after.free_resident_bytes <= RingPool::kResidentBudget);
    CHECK(after.returned >= before.returned + 8);
    std::size_t given_back = 0, pages = 0;
    for (std::byte* b : blocks) {
      const std::size_t r = resident_pages(b, kBlock);
      pages += r;
      if (r == 0) ++given_back;
    }
    // At most the budget stays resident; every block past it holds no page at all.
    CHECK(pages * 4096 <= RingPool::kResidentBudget);
    CHECK(given_back >= 8);
  }

  TEST_CASE("a freed block is taken again before any new mapping is made") {
    RingPool pool;
    std::byte* a = pool.acquire(8192);
    a[0] = std::byte{1};
    pool.release(a, 8192, 1);
    const auto mapped = pool.stats().mapped_bytes;
    std::byte* b = pool.acquire(5000);  // the same block size (8 KiB)
    CHECK(b == a);
    CHECK(pool.stats().mapped_bytes == mapped);
    pool.release(b, 5000, 0);
  }

  TEST_CASE("sizes above the pooled ones get a mapping of their own, unmapped when freed") {
    RingPool pool;
    const std::size_t big = 2 * RingPool::kMaxPooledBlock + 100;
    std::byte* b = pool.acquire(big);
    b[0] = std::byte{7};
    b[big - 1] = std::byte{9};
    CHECK(pool.stats().mapped_bytes == 0);  // not from the pool's mappings
    CHECK(pool.stats().blocks_in_use == 1);
    pool.release(b, big, big);
    CHECK(pool.stats().blocks_in_use == 0);
    CHECK(pool.stats().returned == 1);
  }

  TEST_CASE("rings released and taken again, thousands of times over, keep every byte in order") {
    // A model (std::deque) against many rings of several sizes, each written and read in random
    // pieces and released whenever it runs empty, so blocks move between rings all the time. The
    // pool is installed for the rings made here; a ring that took its block before keeps
    // giving it back to where it came from.
    RingBuffer older(64);
    REQUIRE(older.push(std::vector<std::byte>(10)) == 10);  // a block from operator new[]
    RingPool pool;
    stack::set_ring_allocator(&pool);
    stack::Rng rng(2024);
    std::vector<RingBuffer> rings;
    std::vector<std::deque<std::uint8_t>> model;
    std::vector<std::uint8_t> next;
    for (std::size_t cap : {100u, 4096u, 5000u, 65536u, 70000u, 1u << 20, (1u << 20) + 1}) {
      for (int k = 0; k < 3; ++k) {
        rings.emplace_back(cap);
        model.emplace_back();
        next.push_back(static_cast<std::uint8_t>(rings.size() * 17));
      }
    }
    const auto before = RingStorage::blocks_in_use();
    std::vector<std::byte> buf;
    for (int step = 0; step < 20000; ++step) {
      const std::size_t i = rng.below(static_cast<std::uint32_t>(rings.size()));
      RingBuffer& r = rings[i];
      const std::size_t len = rng.below(static_cast<std::uint32_t>(std::min<std::size_t>(r.capacity(), 9000))) + 1;
      buf.resize(len);
      if (rng.below(2) == 0) {
        for (auto& b : buf) b = static_cast<std::byte>(next[i]++);
        const std::size_t took = r.push(buf);
        CHECK(took == std::min(len, r.capacity() - model[i].size()));
        for (std::size_t j = 0; j < took; ++j) model[i].push_back(static_cast<std::uint8_t>(buf[j]));
        next[i] = static_cast<std::uint8_t>(next[i] - (len - took));  // the bytes not taken come again
      } else {
        const std::size_t got = r.pop(buf);
        REQUIRE(got == std::min(len, model[i].size()));
        for (std::size_t j = 0; j < got; ++j) {
          REQUIRE(static_cast<std::uint8_t>(buf[j]) == model[i].front());
          model[i].pop_front();
        }
        if (r.empty()) {
          r.release();
          CHECK_FALSE(r.allocated());
        }
      }
    }
    // Every block the rings hold is the pool's.
    CHECK(pool.stats().blocks_in_use == RingStorage::blocks_in_use() - before);
    for (auto& r : rings) {
      buf.resize(r.size());
      r.pop(buf);
      r.release();
    }
    CHECK(RingStorage::blocks_in_use() == before);
    CHECK(pool.stats().blocks_in_use == 0);
    stack::set_ring_allocator(nullptr);
    older.consume(10);
    older.release();  // back to operator delete[], not to the pool
    CHECK(pool.stats().blocks_in_use == 0);
  }

  TEST_CASE("one pool per thread: two threads take blocks from pools of their own") {
    appkit::ThreadRingPools pools;
    std::byte* a = pools.acquire(4096);
    CHECK(pools.pools() == 1);
    std::byte* b = nullptr;
    std::thread([&] {
      b = pools.acquire(4096);
      CHECK(pools.pools() == 2);
      pools.release(b, 4096, 4096);
    }).join();
    CHECK(pools.pools() == 2);
    // The other thread's free block is not in this thread's free list: a fresh block here.
    std::byte* c = pools.acquire(4096);
    CHECK(c != b);
    CHECK(pools.stats().blocks_in_use == 2);
    pools.release(a, 4096, 4096);
    pools.release(c, 4096, 4096);
    CHECK(pools.stats().blocks_in_use == 0);
    // This thread's freed block comes back to this thread first.
    CHECK(pools.acquire(4096) == c);
    pools.release(c, 4096, 0);
    CHECK(pools.pools() == 2);
  }
}
