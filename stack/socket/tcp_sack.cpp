// The sender's SACK scoreboard: RFC 2018 §3, RFC 6675 §4. See tcp_sack.hpp.
#include "stack/socket/tcp_sack.hpp"

#include <algorithm>

namespace stack::socket {

void SackScoreboard::update(std::span<const std::optional<SackBlock>> blocks, SeqNum una, SeqNum max) {
  for (const auto& block : blocks) {
    if (!block) continue;
    // Believed only inside (SND.UNA, SND.MAX]: the right edge must be there, and the block must
    // not be empty or inverted.
    if (!(block->right.in_range(una + 1, max + 1) && block->left < block->right)) continue;
    SackBlock b{seq_max(block->left, una), block->right};
    // Insert and merge, keeping the blocks sorted and disjoint (touching blocks merge too).
    std::vector<SackBlock> merged;
    merged.reserve(blocks_.size() + 1);
    bool placed = false;
    for (const auto& cur : blocks_) {
      if (cur.right < b.left) {
        merged.push_back(cur);
      } else if (b.right < cur.left) {
        if (!placed) {
          merged.push_back(b);
          placed = true;
        }
        merged.push_back(cur);
      } else {
        b.left = seq_min(b.left, cur.left);
        b.right = seq_max(b.right, cur.right);
      }
    }
    if (!placed) merged.push_back(b);
    std::sort(merged.begin(), merged.end(), [](const SackBlock& x, const SackBlock& y) { return x.left < y.left; });
    // Bounded: the highest blocks are the ones dropped (they matter least to the holes just
    // above SND.UNA, which are retransmitted first).
    if (merged.size() > kMaxBlocks) merged.resize(kMaxBlocks);
    blocks_ = std::move(merged);
  }
}

void SackScoreboard::advance(SeqNum una) {
  std::erase_if(blocks_, [&](const SackBlock& b) { return b.right <= una; });
  for (auto& b : blocks_) b.left = seq_max(b.left, una);
}

std::uint32_t SackScoreboard::sacked_bytes() const {
  std::uint32_t n = 0;
  for (const auto& b : blocks_) n += seq_len(b.left, b.right);
  return n;
}

bool SackScoreboard::is_lost(SeqNum seq, LossRule rule) const {
  std::uint32_t above = 0;
  for (const auto& b : blocks_)
    if (seq < b.right) above += seq_len(seq_max(b.left, seq), b.right);
  return above > rule.threshold();
}

std::uint32_t SackScoreboard::pipe(SeqNum una, SeqNum max, SeqNum high_rxt, LossRule rule) const {
  const std::uint32_t outstanding = seq_len(una, max);
  std::uint32_t lost = 0;
  SeqNum cursor = seq_max(una, high_rxt);
  for (const auto& b : blocks_) {
    if (cursor < b.left && is_lost(cursor, rule)) lost += seq_len(cursor, b.left);
    cursor = seq_max(cursor, b.right);
  }
  const std::uint32_t gone = sacked_bytes() + lost;
  return outstanding > gone ? outstanding - gone : 0;
}

std::optional<std::pair<SackScoreboard::SeqNum, std::uint32_t>> SackScoreboard::next_hole(SeqNum una, SeqNum high_rxt, LossRule rule,
                                                                          std::uint32_t max_len) const {
  SeqNum cursor = seq_max(una, high_rxt);
  for (const auto& b : blocks_) {
    if (cursor < b.left) {
      if (!is_lost(cursor, rule)) return std::nullopt;
      return std::pair{cursor, std::min(seq_len(cursor, b.left), max_len)};
    }
    cursor = seq_max(cursor, b.right);
  }
  return std::nullopt;
}

}  // namespace stack::socket
