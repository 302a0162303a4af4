// apps/http: the terminal helpers the download narration uses (width, progress line, sizes).
#include <doctest/doctest.h>

#include <cstdlib>

#include "apps/common/terminal.hpp"

using namespace appkit;

TEST_SUITE("apps/http") {
  TEST_CASE("human-readable sizes") {
    CHECK(human_bytes(0) == "0 B");
    CHECK(human_bytes(1023) == "1023 B");
    CHECK(human_bytes(12595) == "12.3 KiB");
    CHECK(human_bytes(1073741824) == "1.0 GiB");
  }

  TEST_CASE("progress line") {
    CHECK(progress_line(50, 100, 30) == "[########         ]  50%  50 B");
    CHECK(progress_line(50, 100, 30).size() == 30);
    CHECK(progress_line(100, 100, 30) == "[################] 100%  100 B");
    CHECK(progress_line(500, 100, 30) == "[################] 100%  500 B");  // never past 100 %
    CHECK(progress_line(2048, std::nullopt, 30) == "2.0 KiB");
    CHECK(progress_line(0, 0, 30) == "0 B");
    CHECK(progress_line(1, 2, 5) == "50%  1 B");
  }

  TEST_CASE("terminal width: not a tty -> $COLUMNS -> fallback, clamped") {
    const int not_a_tty = -1;
    ::unsetenv("COLUMNS");
    CHECK(terminal_width(not_a_tty) == 80);
    CHECK(terminal_width(not_a_tty, 5) == 20);
    ::setenv("COLUMNS", "132", 1);
    CHECK(terminal_width(not_a_tty) == 132);
    ::setenv("COLUMNS", "junk", 1);
    CHECK(terminal_width(not_a_tty) == 80);
    ::setenv("COLUMNS", "999999999", 1);
    CHECK(terminal_width(not_a_tty) == 1000);
    ::unsetenv("COLUMNS");
  }
}
