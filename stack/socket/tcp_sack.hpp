// The sender's SACK scoreboard (RFC 2018 §3 for what the peer reports; RFC 6675 §4 for how the
// sender uses it: IsLost, the pipe estimate and the next hole to retransmit).
//
// The scoreboard holds the ranges above SND.UNA that the peer has SACKed, sorted and disjoint.
// It is bounded (kMaxBlocks): a peer that reports many scattered blocks cannot make it grow.
// Only blocks inside (SND.UNA, SND.MAX] are believed (docs/hostile-inputs.md #41): a block for
// data never sent, or below the cumulative ACK (a D-SACK, RFC 2883), is not a SACK of new data.
//
// Every query takes the sender's variables as arguments, so the scoreboard can be tested on its
// own with tables of blocks (tests/socket/test_tcp_sack.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "stack/wire/tcp.hpp"

namespace stack::socket {

class SackScoreboard {
 public:
  using SackBlock = wire::tcp::SackBlock;
  using SeqNum = wire::tcp::SeqNum;
  static constexpr std::size_t kMaxBlocks = 16;

  // RFC 6675 §4 "DupThresh" and "SMSS" as IsLost() needs them: a byte is lost once more than
  // (DupThresh - 1) * SMSS bytes above it are SACKed.
  struct LossRule {
    int dupthresh = 3;
    std::uint32_t smss = 536;
    std::uint32_t threshold() const { return static_cast<std::uint32_t>(dupthresh - 1) * smss; }
  };

  // Adds the blocks of one ACK, believing only those inside (una, max]; the part of a block
  // below `una` is cut off.
  void update(std::span<const std::optional<SackBlock>> blocks, SeqNum una, SeqNum max);
  // The cumulative ACK moved to `una`: forget what it covers.
  void advance(SeqNum una);
  void clear() { blocks_.clear(); }

  bool empty() const { return blocks_.empty(); }
  std::span<const SackBlock> blocks() const { return blocks_; }
  std::uint32_t sacked_bytes() const;

  // RFC 6675 §4 IsLost(SeqNum) in its byte form. Every byte of one hole has the same SACKed
  // bytes above it, so the answer holds for the whole hole.
  bool is_lost(SeqNum seq, LossRule rule) const;
  // RFC 6675 §4 "pipe": bytes outstanding in [una, max), not counting what the peer SACKed nor
  // the holes IsLost() declares lost that were not yet retransmitted (below `high_rxt` they were).
  std::uint32_t pipe(SeqNum una, SeqNum max, SeqNum high_rxt, LossRule rule) const;
  // RFC 6675 §4 NextSeg() rule 1: the first lost hole at or above max(una, high_rxt), as (start,
  // length up to `max_len`). A hole with too little SACKed above it may just be reordered: it is
  // left alone, and so are the later ones (they have even less above them).
  std::optional<std::pair<SeqNum, std::uint32_t>> next_hole(SeqNum una, SeqNum high_rxt, LossRule rule,
                                                            std::uint32_t max_len) const;

 private:
  std::vector<SackBlock> blocks_;  // above SND.UNA, sorted by left edge, disjoint, non-adjacent
};

}  // namespace stack::socket
