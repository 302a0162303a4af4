// RingBuffer's storage: the installed allocator, or operator new[] (ring_storage.hpp).
#include "stack/util/ring_storage.hpp"

namespace stack {

namespace {

class NewDelete final : public RingAllocator {
 public:
  std::byte* acquire(std::size_t size) override { return new std::byte[size]; }  // not zeroed
  void release(std::byte* block, std::size_t, std::size_t) override { delete[] block; }
};

// Never destroyed: a ring in an object with static storage duration may give its block back
// after this file's statics are gone.
RingAllocator& default_allocator() {
  static NewDelete* d = new NewDelete;
  return *d;
}
std::atomic<RingAllocator*> g_installed{nullptr};

}  // namespace

void set_ring_allocator(RingAllocator* a) { g_installed.store(a, std::memory_order_release); }

RingBlock RingStorage::acquire(std::size_t size) {
  RingAllocator* a = g_installed.load(std::memory_order_acquire);
  if (a == nullptr) a = &default_allocator();
  RingBlock b{a->acquire(size), a};
  in_use_.fetch_add(1, std::memory_order_relaxed);
  return b;
}

void RingStorage::release(RingBlock block, std::size_t size, std::size_t touched) {
  if (block.data == nullptr) return;
  block.from->release(block.data, size, touched);
  in_use_.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace stack
