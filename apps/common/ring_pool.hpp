// The ring allocator the programs install (stack/util/ring_storage.hpp): blocks of a few fixed
// sizes, carved from large anonymous mappings, reused, and given back to the kernel when free.
//
// A freed block's pages go back with madvise(MADV_DONTNEED): the mapping stays, its pages are
// gone, and they come back zero-filled on the next touch. Only a small budget of recently freed
// blocks keeps its pages, so that a connection exchanging small messages does not pay a system
// call and a page fault per message. Blocks are powers of two from 4 KiB to 1 MiB, one free list
// each, the most recently freed taken first; larger rings get a mapping of their own, unmapped
// when freed. The pooled sizes' mappings are never unmapped: what stays is address space, not
// memory. One mutex: a ring may be freed on another thread than the one that took it.
//
// Per thread (ThreadRingPools, what install_ring_pool() installs): every thread takes its blocks
// from a pool of its own, so stacks running one per thread (`ustack serve --queues N`) share no
// free list and never wait on each other's mutex. A block goes back to the pool of the thread
// that frees it (a block is only memory: any pool can hand it out again). The resident budget
// is per pool, so per thread.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

#include "stack/util/ring_storage.hpp"

namespace appkit {

class RingPool final : public stack::RingAllocator {
 public:
  static constexpr std::size_t kResidentBudget = 1024 * 1024;  // pages of free blocks kept
  static constexpr std::size_t kMinBlock = 4096;
  static constexpr std::size_t kMaxPooledBlock = 1024 * 1024;
  static constexpr std::size_t kRegion = 4 * 1024 * 1024;  // one mapping, cut into blocks

  RingPool() = default;
  RingPool(const RingPool&) = delete;
  RingPool& operator=(const RingPool&) = delete;

  std::byte* acquire(std::size_t size) override;
  void release(std::byte* block, std::size_t size, std::size_t touched) override;

  struct Stats {
    std::uint64_t blocks_in_use = 0;        // acquired and not released
    std::uint64_t free_resident_bytes = 0;  // pages of free blocks kept (within the budget)
    std::uint64_t mapped_bytes = 0;         // address space of the pooled sizes' mappings
    std::uint64_t returned = 0;             // blocks whose pages went back to the kernel
  };
  Stats stats() const;

 private:
  static constexpr std::size_t kClasses = std::countr_zero(kMaxPooledBlock / kMinBlock) + 1;
  struct FreeBlock {
    std::byte* at;
    std::size_t resident;  // bytes from its start that may still have pages (0 once given back)
  };
  mutable std::mutex mu_;
  std::array<std::vector<FreeBlock>, kClasses> free_;
  std::array<std::byte*, kClasses> carve_at_{};  // the unused rest of each size's latest mapping
  std::array<std::size_t, kClasses> carve_left_{};
  Stats stats_;
};

// One RingPool per thread, created on a thread's first block and kept (reachable from here, never
// destroyed: a ring may outlive its thread's objects, and its block's pool must stay).
class ThreadRingPools final : public stack::RingAllocator {
 public:
  ThreadRingPools();
  ~ThreadRingPools() override;  // frees the pools (the installed one is never destroyed)
  ThreadRingPools(const ThreadRingPools&) = delete;
  ThreadRingPools& operator=(const ThreadRingPools&) = delete;
  std::byte* acquire(std::size_t size) override { return mine().acquire(size); }
  void release(std::byte* block, std::size_t size, std::size_t touched) override {
    mine().release(block, size, touched);
  }
  // Every thread's counters, summed.
  RingPool::Stats stats() const;
  std::size_t pools() const;

 private:
  RingPool& mine();
  std::uint64_t id_;       // which instance a thread's cached pool belongs to
  mutable std::mutex mu_;  // guards pools_ only (taken once per thread, and by stats())
  std::vector<RingPool*> pools_;
};

// The process's per-thread pools, installed as the ring allocator on the first call (and never
// destroyed: rings may outlive any static object). The programs call it first thing in main().
ThreadRingPools& install_ring_pool();

}  // namespace appkit
