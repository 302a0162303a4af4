#include "stack/socket/tcp_reassembly.hpp"

#include <algorithm>

namespace stack::socket {

std::optional<std::vector<TcpAssembler::Range>> TcpAssembler::add(std::uint32_t offset, std::uint32_t len) {
  if (len == 0) return std::vector<Range>{};
  const std::uint32_t begin = offset;
  const std::uint32_t end = offset + len;
  // The gaps of [begin, end) not yet covered are what is new.
  std::vector<Range> fresh;
  std::uint32_t cursor = begin;
  for (const Range& r : ranges_) {
    if (r.end <= cursor) continue;
    if (r.begin >= end) break;
    if (r.begin > cursor) fresh.push_back({cursor, r.begin});
    cursor = std::max(cursor, r.end);
  }
  if (cursor < end) fresh.push_back({cursor, end});
  // Merge [begin, end) with every range it overlaps or touches.
  std::vector<Range> merged;
  Range cur{begin, end};
  bool placed = false;
  for (const Range& r : ranges_) {
    if (r.end < cur.begin) {
      merged.push_back(r);
    } else if (r.begin > cur.end) {
      if (!placed) { merged.push_back(cur); placed = true; }
      merged.push_back(r);
    } else {
      cur.begin = std::min(cur.begin, r.begin);
      cur.end = std::max(cur.end, r.end);
    }
  }
  if (!placed) merged.push_back(cur);
  std::sort(merged.begin(), merged.end(), [](const Range& a, const Range& b) { return a.begin < b.begin; });
  // A range at offset 0 is in order: the receiver takes it at once (take_front), so it never
  // counts against the bound. Refused, a receiver holding max_ranges_ ranges would drop the one
  // segment that can move RCV.NXT, for ever, and the sender time out (found in the 20 % loss
  // simulation).
  if (merged.size() > max_ranges_ && merged.front().begin != 0) return std::nullopt;
  ranges_ = std::move(merged);
  last_ = begin;
  return fresh;
}

std::uint32_t TcpAssembler::take_front() {
  if (ranges_.empty() || ranges_.front().begin != 0) return 0;
  const std::uint32_t n = ranges_.front().end;
  ranges_.erase(ranges_.begin());
  for (Range& r : ranges_) { r.begin -= n; r.end -= n; }
  if (last_) last_ = *last_ >= n ? *last_ - n : 0;
  return n;
}

std::optional<TcpAssembler::Range> TcpAssembler::most_recent() const {
  if (!last_) return std::nullopt;
  for (const Range& r : ranges_)
    if (r.begin <= *last_ && *last_ < r.end) return r;
  return std::nullopt;
}

}  // namespace stack::socket
