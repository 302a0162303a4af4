// The terminal the mini-browser prints to: how wide it is, and a one-line progress bar for
// downloads (curl's "-#" habit). Only for apps/: it reads the environment and ioctl(2).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace appkit {

// Columns for rendering: the tty's width (TIOCGWINSZ on `fd`), else $COLUMNS, else `fallback`.
// Clamped to [20, 1000].
std::size_t terminal_width(int fd, std::size_t fallback = 80);

// "[#########               ]  37%  12.3 KiB" in `width` columns; without a total (chunked or
// read-until-close bodies) just the byte count. No escape sequences: the caller prints it after
// "\r" on a tty, or not at all.
std::string progress_line(std::uint64_t done, std::optional<std::uint64_t> total, std::size_t width);

// 1023 -> "1023 B", 12595 -> "12.3 KiB", 1073741824 -> "1.0 GiB".
std::string human_bytes(std::uint64_t bytes);

}  // namespace appkit
