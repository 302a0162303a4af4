// Where RingBuffer's storage comes from: one allocator for the process, plain operator new[] by
// default; an application installs another with set_ring_allocator() before it makes any ring.
//
// Why it is pluggable: a ring is 64 KiB by default, and a server holds one or two per
// connection only while data is queued. Through malloc, a freed ring stays in the heap (glibc
// serves a 64 KiB request from the top of the heap when it has room there, and the heap only
// shrinks from the top), so the process's memory followed the most connections it ever had busy
// at once, not the ones busy now. The programs install apps/common/ring_pool.hpp, which gives a
// free block's pages back to the kernel; stack/ itself stays sans-I/O (docs/architecture.md).
//
// The allocator holds memory, not protocol state: any number of stacks in one process share it,
// and it must be safe to call from any thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace stack {

class RingAllocator {
 public:
  virtual ~RingAllocator() = default;
  // A block of at least `size` bytes (size > 0), contents unspecified; throws std::bad_alloc.
  virtual std::byte* acquire(std::size_t size) = 0;
  // Gives back a block from acquire(size). `touched`: how many bytes from its start may have
  // been written (the pages that may be resident).
  virtual void release(std::byte* block, std::size_t size, std::size_t touched) = 0;
};

// The allocator for blocks taken from now on; nullptr restores the default (operator new[]).
// A block always goes back to the allocator it came from, so this may be called at any time.
void set_ring_allocator(RingAllocator* a);

struct RingBlock {
  std::byte* data = nullptr;
  RingAllocator* from = nullptr;
};

class RingStorage {
 public:
  static RingBlock acquire(std::size_t size);
  static void release(RingBlock block, std::size_t size, std::size_t touched);
  // Blocks taken and not given back, whatever the allocator (for tests: an idle connection holds
  // none).
  static std::uint64_t blocks_in_use() { return in_use_.load(std::memory_order_relaxed); }

 private:
  static inline std::atomic<std::uint64_t> in_use_{0};
};

}  // namespace stack
