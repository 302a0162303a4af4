// Terminal width and progress line. See terminal.hpp.
#include "apps/common/terminal.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace appkit {

namespace {
constexpr std::size_t kMinWidth = 20;
constexpr std::size_t kMaxWidth = 1000;

std::size_t clamp_width(std::size_t w) { return std::clamp(w, kMinWidth, kMaxWidth); }
}  // namespace

std::size_t terminal_width(int fd, std::size_t fallback) {
  winsize ws{};
  if (::isatty(fd) == 1 && ::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return clamp_width(ws.ws_col);
  if (const char* env = std::getenv("COLUMNS")) {
    char* end = nullptr;
    const unsigned long v = std::strtoul(env, &end, 10);
    if (end != env && *end == '\0' && v > 0) return clamp_width(static_cast<std::size_t>(std::min(v, 100000UL)));
  }
  return clamp_width(fallback);
}

std::string human_bytes(std::uint64_t bytes) {
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double v = static_cast<double>(bytes) / 1024.0;
  std::size_t unit = 0;
  while (v >= 1024.0 && unit + 1 < std::size(kUnits)) {
    v /= 1024.0;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, kUnits[unit]);
  return buf;
}

std::string progress_line(std::uint64_t done, std::optional<std::uint64_t> total, std::size_t width) {
  const std::string amount = human_bytes(done);
  if (!total || *total == 0) return amount;
  const std::uint64_t capped = std::min(done, *total);
  const auto percent = static_cast<unsigned>(capped * 100 / *total);
  char tail[48];
  std::snprintf(tail, sizeof tail, " %3u%%  %s", percent, amount.c_str());
  const std::string suffix = tail;
  if (width < suffix.size() + 4) return suffix.substr(suffix.find_first_not_of(' '));
  const std::size_t bar = width - suffix.size() - 2;
  const auto filled = static_cast<std::size_t>(static_cast<double>(capped) / static_cast<double>(*total) * static_cast<double>(bar));
  return "[" + std::string(filled, '#') + std::string(bar - filled, ' ') + "]" + suffix;
}

}  // namespace appkit
