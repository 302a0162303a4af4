// The narration's voice (docs/levels.md): the lines of the chosen level on stderr, each tagged with
// its level and the time since start, "[L6 +12.4 ms] TCP: …", so `2>/dev/null` leaves just the page.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "stack/time.hpp"

namespace minibrowser {

// Prints the narration of the chosen level to stderr: "[L6 +12.4 ms] TCP: …".
class Narrator {
 public:
  Narrator(int level, stack::Instant start, bool colour) : level_(level), start_(start), last_(start), colour_(colour) {}
  bool wants(int level) const { return level <= level_; }
  // `now`: when the event happened (a frame's time, as the pcap has it). A line is never shown
  // with a time before the line above it: the stack reports some events a little after the
  // frames that follow them, and the narration keeps one clock, in order.
  // At levels 6-7 a line fits kColumns: a longer one goes on under the same tag, indented
  // kIndent, broken at a space (tests join such lines back: tools/sandbox.d/testlib.sh unwrap).
  // `wrap` false: the line as it is (-v's tcpdump lines, one record each).
  void say(int level, stack::Instant now, const std::string& text, bool wrap = true) const;

  static constexpr std::size_t kColumns = 100;
  static constexpr std::size_t kIndent = 4;

  // Whether the space at `i` stands between a number and its unit ("5.3 ms", "3600 s", "80 %"):
  // no line starts with the unit.
  static bool before_unit(const std::string& text, std::size_t i);

  // `text` in lines of at most `budget` columns (UTF-8: one column per code point), the second and
  // later `kIndent` narrower; broken at the last space that fits, inside a word only when none does.
  static std::vector<std::string> fit(const std::string& text, std::size_t budget);

 private:
  int level_;
  stack::Instant start_;
  mutable stack::Instant last_;
  bool colour_;
};

// A line of the narration at level `level` (docs/levels.md), said at the host's current time.
using Say = std::function<void(int level, const std::string& text)>;

// A duration as the narration writes it: "12.4 ms".
std::string ms(stack::Duration d);

}  // namespace minibrowser
