#include "apps/minibrowser/narrator.hpp"

#include <cctype>
#include <cstdio>

namespace minibrowser {

void Narrator::say(int level, stack::Instant now, const std::string& text, bool wrap) const {
  if (!wants(level)) return;
  if (now < last_) now = last_;
  last_ = now;
  const auto us = (now - start_).micros();
  char tag[48];
  std::snprintf(tag, sizeof tag, "[L%d %7lld.%01lld ms] ", level, static_cast<long long>(us / 1000),
                static_cast<long long>((us % 1000) / 100));
  const std::string prefix = tag;
  std::vector<std::string> lines{text};
  if (wrap && level_ >= 6) lines = fit(text, kColumns > prefix.size() + 20 ? kColumns - prefix.size() : 20);
  // One colour per level, so the layers stand apart on a terminal (--no-color turns it off).
  static constexpr const char* kColour[] = {"", "1", "32", "36", "35", "33", "34", "31"};
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (colour_) std::fprintf(stderr, "\033[%sm", kColour[level]);
    std::fprintf(stderr, "%s%s%s", prefix.c_str(), i ? std::string(kIndent, ' ').c_str() : "", lines[i].c_str());
    std::fputs(colour_ ? "\033[0m\n" : "\n", stderr);
  }
  std::fflush(stderr);
}

bool Narrator::before_unit(const std::string& text, std::size_t i) {
  std::size_t end = i + 1;
  while (end < text.size() && text[end] != ' ' && text[end] != ',' && text[end] != ';' && text[end] != ')' &&
         text[end] != ':') {
    ++end;
  }
  const std::string word = text.substr(i + 1, end - i - 1);
  return i > 0 && std::isdigit(static_cast<unsigned char>(text[i - 1])) &&
         (word == "ms" || word == "s" || word == "us" || word == "%" || word == "B");
}

std::vector<std::string> Narrator::fit(const std::string& text, std::size_t budget) {
  std::vector<std::string> out;
  std::string rest = text;
  for (std::size_t width = budget;; width = budget - kIndent) {
    std::size_t cols = 0, i = 0, cut = std::string::npos;
    for (; i < rest.size(); ++i) {
      if ((static_cast<unsigned char>(rest[i]) & 0xc0) == 0x80) continue;  // inside a code point
      if (cols == width) break;
      if (rest[i] == ' ' && cols > 0 && !before_unit(rest, i)) cut = i;
      ++cols;
    }
    if (i >= rest.size()) {
      out.push_back(rest);
      return out;
    }
    if (rest[i] == ' ' && !before_unit(rest, i)) cut = i;  // the text breaks right at the edge
    if (cut == std::string::npos) {
      out.push_back(rest.substr(0, i));
      rest = rest.substr(i);
    } else {
      out.push_back(rest.substr(0, cut));
      rest = rest.substr(cut + 1);
    }
  }
}

std::string ms(stack::Duration d) {
  const auto us = d.micros();
  return std::to_string(us / 1000) + "." + std::to_string((us % 1000) / 100) + " ms";
}

}  // namespace minibrowser
