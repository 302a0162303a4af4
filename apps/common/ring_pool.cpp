// The ring block pool (ring_pool.hpp): mmap(2) for address space, madvise(2) MADV_DONTNEED to give
// a free block's pages back.
#include "apps/common/ring_pool.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <new>

// AddressSanitizer does not see inside a pool: a free block is poisoned by hand, so a ring that
// reads or writes storage it no longer holds is still caught.
#if defined(__SANITIZE_ADDRESS__)
#define USTACK_RING_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define USTACK_RING_ASAN 1
#endif
#endif
#ifdef USTACK_RING_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace appkit {

namespace {

void poison(std::byte* p, std::size_t n) {
#ifdef USTACK_RING_ASAN
  ASAN_POISON_MEMORY_REGION(p, n);
#else
  (void)p, (void)n;
#endif
}
void unpoison(std::byte* p, std::size_t n) {
#ifdef USTACK_RING_ASAN
  ASAN_UNPOISON_MEMORY_REGION(p, n);
#else
  (void)p, (void)n;
#endif
}

std::byte* map_anonymous(std::size_t n) {
  void* p = ::mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  return static_cast<std::byte*>(p);
}

std::size_t round_to_pages(std::size_t n) {
  static const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return (n + page - 1) / page * page;
}

std::size_t class_of(std::size_t size) {
  const std::size_t block = std::bit_ceil(std::max(size, RingPool::kMinBlock));
  return static_cast<std::size_t>(std::countr_zero(block / RingPool::kMinBlock));
}
std::size_t block_size(std::size_t cls) { return RingPool::kMinBlock << cls; }

}  // namespace

std::byte* RingPool::acquire(std::size_t size) {
  if (size > kMaxPooledBlock) {
    std::byte* b = map_anonymous(round_to_pages(size));
    std::lock_guard lock(mu_);
    ++stats_.blocks_in_use;
    return b;
  }
  const std::size_t cls = class_of(size);
  const std::size_t bs = block_size(cls);
  std::lock_guard lock(mu_);
  std::byte* b = nullptr;
  if (auto& list = free_[cls]; !list.empty()) {
    // The most recently freed first: the likeliest to have its pages and cache lines warm.
    b = list.back().at;
    stats_.free_resident_bytes -= list.back().resident;
    list.pop_back();
  } else {
    if (carve_left_[cls] < bs) {
      carve_at_[cls] = map_anonymous(kRegion);
      carve_left_[cls] = kRegion;
      stats_.mapped_bytes += kRegion;
    }
    b = carve_at_[cls];
    carve_at_[cls] += bs;
    carve_left_[cls] -= bs;
  }
  ++stats_.blocks_in_use;
  unpoison(b, bs);
  return b;
}

void RingPool::release(std::byte* block, std::size_t size, std::size_t touched) {
  if (block == nullptr) return;
  if (size > kMaxPooledBlock) {
    ::munmap(block, round_to_pages(size));
    std::lock_guard lock(mu_);
    --stats_.blocks_in_use;
    ++stats_.returned;
    return;
  }
  const std::size_t cls = class_of(size);
  const std::size_t bs = block_size(cls);
  std::size_t resident = round_to_pages(std::min(touched, bs));
  std::lock_guard lock(mu_);
  --stats_.blocks_in_use;
  if (resident > 0 && stats_.free_resident_bytes + resident > kResidentBudget) {
    // MADV_DONTNEED on a private anonymous mapping frees the pages now; it cannot fail on a
    // range we mapped ourselves, and if it did the pages would merely stay.
    (void)::madvise(block, resident, MADV_DONTNEED);
    resident = 0;
    ++stats_.returned;
  }
  stats_.free_resident_bytes += resident;
  poison(block, bs);
  free_[cls].push_back(FreeBlock{block, resident});
}

RingPool::Stats RingPool::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

namespace {
std::atomic<std::uint64_t> g_next_pools_id{1};
}  // namespace

ThreadRingPools::ThreadRingPools() : id_(g_next_pools_id.fetch_add(1, std::memory_order_relaxed)) {}

ThreadRingPools::~ThreadRingPools() {
  for (RingPool* p : pools_) delete p;
}

RingPool& ThreadRingPools::mine() {
  // This thread's pool of each instance (the programs have one instance; tests make more).
  thread_local std::vector<std::pair<std::uint64_t, RingPool*>> mine;
  for (const auto& [id, pool] : mine) {
    if (id == id_) return *pool;
  }
  auto* pool = new RingPool;  // owned by pools_
  {
    std::lock_guard lock(mu_);
    pools_.push_back(pool);
  }
  mine.emplace_back(id_, pool);
  return *pool;
}

RingPool::Stats ThreadRingPools::stats() const {
  std::lock_guard lock(mu_);
  RingPool::Stats sum;
  for (const RingPool* p : pools_) {
    const RingPool::Stats s = p->stats();
    sum.blocks_in_use += s.blocks_in_use;
    sum.free_resident_bytes += s.free_resident_bytes;
    sum.mapped_bytes += s.mapped_bytes;
    sum.returned += s.returned;
  }
  return sum;
}

std::size_t ThreadRingPools::pools() const {
  std::lock_guard lock(mu_);
  return pools_.size();
}

ThreadRingPools& install_ring_pool() {
  static ThreadRingPools* pool = [] {
    auto* p = new ThreadRingPools;
    stack::set_ring_allocator(p);
    return p;
  }();
  return *pool;
}

}  // namespace appkit
