// A fixed-capacity byte ring: TCP's send and receive buffers.
//
// Besides the usual push/pop it lets the receiver write bytes *beyond* the readable end
// (out-of-order segments, RFC 9293 §3.10.7.4 "seventh") and make them readable later, so the
// reassembly queue needs no memory of its own: the receive window is the buffer's free space.
//
// The storage is taken on the first write and can be given back with release() when the ring
// holds nothing (readable or written ahead): an idle connection then costs no buffer memory, as
// in the kernel, which allocates socket buffers only while data is queued. It comes from the
// process's ring allocator (ring_storage.hpp); the programs install one that gives a freed
// block's pages back to the kernel instead of keeping them in the heap as malloc would.
#pragma once

#include <algorithm>
#include <cstddef>
#include <span>
#include <utility>
#include <vector>

#include "stack/util/ring_storage.hpp"

namespace stack {

class RingBuffer {
 public:
  explicit RingBuffer(std::size_t capacity) : cap_(capacity) {}
  ~RingBuffer() { RingStorage::release(block_, cap_, touched_); }
  RingBuffer(const RingBuffer&) = delete;
  RingBuffer& operator=(const RingBuffer&) = delete;
  RingBuffer(RingBuffer&& o) noexcept
      : cap_(o.cap_), block_(std::exchange(o.block_, RingBlock{})), touched_(std::exchange(o.touched_, 0)),
        head_(std::exchange(o.head_, 0)), len_(std::exchange(o.len_, 0)) {}
  RingBuffer& operator=(RingBuffer&& o) noexcept {
    if (this != &o) {
      RingStorage::release(block_, cap_, touched_);
      cap_ = o.cap_;
      block_ = std::exchange(o.block_, RingBlock{});
      touched_ = std::exchange(o.touched_, 0);
      head_ = std::exchange(o.head_, 0);
      len_ = std::exchange(o.len_, 0);
    }
    return *this;
  }

  std::size_t capacity() const { return cap_; }
  std::size_t size() const { return len_; }
  std::size_t free() const { return cap_ - len_; }
  bool allocated() const { return block_.data != nullptr; }
  // Frees the storage. Only when nothing is readable and the caller has nothing written ahead
  // (write_unallocated beyond the readable end) that it still needs.
  void release() {
    if (len_ != 0) return;
    RingStorage::release(block_, cap_, touched_);
    block_ = RingBlock{};
    touched_ = 0;
    head_ = 0;
  }
  bool empty() const { return len_ == 0; }
  // Empty, and the caller holds nothing written ahead: the next byte goes to the front again. A
  // connection that exchanges small messages then keeps touching the same first pages instead of
  // walking through the whole buffer (each page it touches stays resident).
  void rewind() {
    if (len_ == 0) head_ = 0;
  }
  // A larger capacity (receive buffer auto-tuning, a send buffer sized to the congestion
  // window). Every byte stays where its reader expects it: the whole old ring, readable bytes
  // and whatever was written ahead of them, moves to the front of the new storage in order.
  void grow(std::size_t capacity) {
    if (capacity <= cap_) return;
    if (block_.data) {
      RingBlock bigger = RingStorage::acquire(capacity);
      copy_out(head_, std::span(bigger.data, cap_));
      RingStorage::release(block_, cap_, touched_);
      block_ = bigger;
      touched_ = cap_;
    }
    head_ = 0;
    cap_ = capacity;
  }
  // Where the first readable byte sits in the storage (for tests).
  std::size_t position() const { return head_; }

  // Appends as much of `data` as fits; returns the number of bytes taken.
  std::size_t push(std::span<const std::byte> data) {
    const std::size_t n = write_unallocated(0, data);
    commit(n);
    return n;
  }
  // Copies readable bytes starting `offset` bytes after the read position; returns the count.
  std::size_t peek(std::size_t offset, std::span<std::byte> out) const {
    if (offset >= len_) return 0;
    const std::size_t n = std::min(out.size(), len_ - offset);
    copy_out(wrap(head_ + offset), out.first(n));
    return n;
  }
  // The readable bytes from `offset` on, up to `max` of them, where they lie in the storage:
  // at most up to the end of the storage (a run that wraps comes back shorter than asked). For
  // a reader that can use the bytes in place instead of copying them out.
  std::span<const std::byte> contiguous(std::size_t offset, std::size_t max) const {
    if (offset >= len_) return {};
    const std::size_t pos = wrap(head_ + offset);
    return {block_.data + pos, std::min({max, len_ - offset, cap_ - pos})};
  }
  // Drops `n` readable bytes from the front.
  void consume(std::size_t n) {
    n = std::min(n, len_);
    head_ = wrap(head_ + n);
    len_ -= n;
  }
  std::size_t pop(std::span<std::byte> out) {
    const std::size_t n = peek(0, out);
    consume(n);
    return n;
  }
  // Writes into the free space, `offset` bytes after the readable end, without making the bytes
  // readable. Returns how many bytes fitted.
  std::size_t write_unallocated(std::size_t offset, std::span<const std::byte> data) {
    if (offset >= free()) return 0;
    const std::size_t n = std::min(data.size(), free() - offset);
    if (n == 0) return 0;
    if (!block_.data) block_ = RingStorage::acquire(cap_);  // not zeroed: untouched pages stay unbacked
    copy_in(wrap(head_ + len_ + offset), data.first(n));
    return n;
  }
  // Makes `n` bytes after the readable end readable (they were written by write_unallocated).
  void commit(std::size_t n) { len_ += std::min(n, free()); }

 private:
  std::size_t wrap(std::size_t i) const { return cap_ == 0 ? 0 : i % cap_; }
  // A run of bytes starting at ring position `pos` is at most two contiguous pieces: up to the
  // end of the storage, then from its start. Two block copies, not a division per byte (the
  // byte loop was half of the CPU time of a bulk download).
  void copy_out(std::size_t pos, std::span<std::byte> out) const {
    const std::size_t first = std::min(out.size(), cap_ - pos);
    std::copy_n(block_.data + pos, first, out.begin());
    std::copy_n(block_.data, out.size() - first, out.begin() + static_cast<std::ptrdiff_t>(first));
  }
  void copy_in(std::size_t pos, std::span<const std::byte> data) {
    const std::size_t first = std::min(data.size(), cap_ - pos);
    std::copy_n(data.begin(), first, block_.data + pos);
    std::copy_n(data.begin() + static_cast<std::ptrdiff_t>(first), data.size() - first, block_.data);
    touched_ = data.size() > first ? cap_ : std::max(touched_, pos + first);
  }
  std::size_t cap_;
  RingBlock block_;          // null until the first write, and after release()
  std::size_t touched_ = 0;  // bytes from the start of the block written since it was taken
  std::size_t head_ = 0;
  std::size_t len_ = 0;
};

}  // namespace stack
