// socket/tcp_sack: the sender's SACK scoreboard on its own, table-driven (RFC 2018 §3 for what is
// believed, RFC 6675 §4 for IsLost, pipe and NextSeg). Sequence numbers in the tables are offsets
// from a base close to the 2^32 wrap, so every row also checks the modular arithmetic.
#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "stack/socket/tcp_sack.hpp"

using stack::socket::SackScoreboard;
using stack::wire::tcp::SackBlock;
using stack::wire::tcp::SeqNum;

namespace {
constexpr std::uint32_t kBase = 0xfffff000u;  // 4096 bytes before the wrap
SeqNum at(std::uint32_t offset) { return SeqNum{kBase} + offset; }

struct Span { std::uint32_t left, right; };

std::array<std::optional<SackBlock>, 4> option(std::vector<Span> spans) {
  std::array<std::optional<SackBlock>, 4> out{};
  for (std::size_t i = 0; i < spans.size() && i < out.size(); ++i) out[i] = SackBlock{at(spans[i].left), at(spans[i].right)};
  return out;
}

std::vector<Span> held(const SackScoreboard& sb) {
  std::vector<Span> out;
  for (const auto& b : sb.blocks()) out.push_back({b.left.raw - kBase, b.right.raw - kBase});
  return out;
}

bool same(const std::vector<Span>& a, const std::vector<Span>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].left != b[i].left || a[i].right != b[i].right) return false;
  return true;
}
}  // namespace

TEST_SUITE("socket/tcp_sack") {
  TEST_CASE("which blocks are believed, and how they merge") {
    // SND.UNA = 1000, SND.MAX = 9000 for every row.
    struct Row { const char* what; std::vector<std::vector<Span>> acks; std::vector<Span> expect; };
    const std::vector<Row> rows = {
        {"one block", {{{2000, 3000}}}, {{2000, 3000}}},
        {"disjoint blocks are kept sorted", {{{5000, 6000}, {2000, 3000}}}, {{2000, 3000}, {5000, 6000}}},
        {"overlapping blocks merge", {{{2000, 3000}}, {{2500, 4000}}}, {{2000, 4000}}},
        {"touching blocks merge", {{{2000, 3000}}, {{3000, 4000}}}, {{2000, 4000}}},
        {"a block bridging two merges all three", {{{2000, 3000}, {4000, 5000}}, {{2900, 4100}}}, {{2000, 5000}}},
        {"a block reaching below SND.UNA is cut at SND.UNA", {{{500, 1500}}}, {{1000, 1500}}},
        {"a block wholly below SND.UNA (a D-SACK) is not a SACK", {{{200, 900}}}, {}},
        {"a block ending at SND.UNA is not a SACK", {{{500, 1000}}}, {}},
        {"a block for data never sent is ignored", {{{8000, 9500}}}, {}},
        {"a block ending exactly at SND.MAX is believed", {{{8000, 9000}}}, {{8000, 9000}}},
        {"an inverted block is ignored", {{{3000, 2000}}}, {}},
        {"an empty block is ignored", {{{3000, 3000}}}, {}},
    };
    for (const auto& row : rows) {
      CAPTURE(row.what);
      SackScoreboard sb;
      for (const auto& ack : row.acks) sb.update(option(ack), at(1000), at(9000));
      CHECK(same(held(sb), row.expect));
    }
  }

  TEST_CASE("the scoreboard is bounded however many blocks the peer reports") {
    SackScoreboard sb;
    for (std::uint32_t i = 0; i < 200; ++i) sb.update(option({{2000 + 20 * i, 2010 + 20 * i}}), at(1000), at(9000));
    CHECK(sb.blocks().size() == SackScoreboard::kMaxBlocks);
    CHECK(sb.blocks().front().left == at(2000));  // the lowest blocks are the ones kept
  }

  TEST_CASE("advance forgets what the cumulative ACK covers") {
    SackScoreboard sb;
    sb.update(option({{2000, 3000}, {4000, 5000}}), at(1000), at(9000));
    sb.advance(at(2500));
    CHECK(same(held(sb), {{2500, 3000}, {4000, 5000}}));
    sb.advance(at(4000));
    CHECK(same(held(sb), {{4000, 5000}}));
    sb.advance(at(5000));
    CHECK(sb.empty());
    CHECK(sb.sacked_bytes() == 0);
  }

  TEST_CASE("IsLost, pipe and the next hole (RFC 6675 §4), SMSS 1000, DupThresh 3") {
    const SackScoreboard::LossRule rule{3, 1000};  // lost once more than 2000 bytes above are SACKed
    struct Row {
      const char* what;
      std::vector<Span> sacked;
      std::uint32_t high_rxt;
      bool una_lost;                       // IsLost(SND.UNA)
      std::uint32_t pipe;
      std::optional<std::pair<std::uint32_t, std::uint32_t>> hole;  // (offset, length)
    };
    // SND.UNA = 0, SND.MAX = 10000 (ten segments).
    const std::vector<Row> rows = {
        {"nothing SACKed: all in flight, nothing lost", {}, 0, false, 10000, std::nullopt},
        {"2000 bytes above: not yet lost (needs more than 2000)", {{1000, 3000}}, 0, false, 8000, std::nullopt},
        {"3000 bytes above the first hole: lost", {{1000, 4000}}, 0, true, 6000, std::pair{0u, 1000u}},
        {"a lost hole longer than SMSS is sent one SMSS at a time", {{3000, 6000}}, 0, true, 4000, std::pair{0u, 1000u}},
        {"the part of the hole below HighRxt is back in flight", {{3000, 6000}}, 1000, true, 5000, std::pair{1000u, 1000u}},
        {"the second hole has too little above it: not lost, not sent", {{1000, 2000}, {3000, 3500}, {4000, 4600}}, 1000,
         true, 7900, std::nullopt},
        {"two lost holes: the first after HighRxt", {{1000, 2000}, {3000, 6000}}, 1000, true, 5000, std::pair{2000u, 1000u}},
        {"everything above SND.UNA SACKed", {{1000, 10000}}, 0, true, 0, std::pair{0u, 1000u}},
        {"retransmitted up to the last hole's end: nothing left to send", {{1000, 4000}}, 1000, true, 7000, std::nullopt},
    };
    for (const auto& row : rows) {
      CAPTURE(row.what);
      SackScoreboard sb;
      std::vector<std::optional<SackBlock>> blocks;
      for (const auto& s : row.sacked) blocks.push_back(SackBlock{at(s.left), at(s.right)});
      sb.update(blocks, at(0), at(10000));
      CHECK(sb.is_lost(at(0), rule) == row.una_lost);
      CHECK(sb.pipe(at(0), at(10000), at(row.high_rxt), rule) == row.pipe);
      const auto hole = sb.next_hole(at(0), at(row.high_rxt), rule, 1000);
      REQUIRE(hole.has_value() == row.hole.has_value());
      if (hole) {
        CHECK(hole->first == at(row.hole->first));
        CHECK(hole->second == row.hole->second);
      }
    }
  }
}
