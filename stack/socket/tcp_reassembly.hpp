// Out-of-order bookkeeping for the TCP receiver (RFC 9293 §3.10.7.4 "seventh, process the
// segment text"; RFC 2018 §4 for the SACK blocks it reports).
//
// The bytes themselves live in the receive ring buffer beyond its readable end; this class only
// remembers which ranges (offsets from RCV.NXT) have arrived. The number of ranges is bounded
// (docs/hostile-inputs.md #58: a peer sending one byte in every other position must not make us
// allocate per segment); a segment that would need one range too many is dropped, and the peer
// retransmits it later.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace stack::socket {

class TcpAssembler {
 public:
  struct Range {
    std::uint32_t begin;  // offset from RCV.NXT
    std::uint32_t end;
    bool operator==(const Range&) const = default;
  };

  explicit TcpAssembler(std::size_t max_ranges = 32) : max_ranges_(max_ranges) {}

  // Records [offset, offset+len). Returns the sub-ranges that were not already held (the caller
  // copies only those: bytes already accepted win, docs/hostile-inputs.md #52), or nullopt when the
  // range limit would be exceeded (nothing recorded). A range at offset 0 is always recorded: the
  // caller takes it at once with take_front(), which brings the count back within the limit.
  std::optional<std::vector<Range>> add(std::uint32_t offset, std::uint32_t len);
  // Removes and returns the length of the range starting at offset 0 (now in order), shifting
  // the others down by that length.
  std::uint32_t take_front();
  bool empty() const { return ranges_.empty(); }
  const std::vector<Range>& ranges() const { return ranges_; }
  // The range that the most recent add() touched, for the first SACK block (RFC 2018 §4).
  std::optional<Range> most_recent() const;
  void clear() { ranges_.clear(); last_ = std::nullopt; }

 private:
  std::size_t max_ranges_;
  std::vector<Range> ranges_;  // sorted, disjoint, non-adjacent
  std::optional<std::uint32_t> last_;
};

}  // namespace stack::socket
