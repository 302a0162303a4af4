// minibrowser: type a URL, watch every step of docs/levels.md happen on our own stack, read the page.
//
//   minibrowser [options] [--level 1..7] URL
//
// The page goes to stdout (rendered like `w3m -dump`; --source for the HTML, -o FILE to save the
// body); the narration of level N goes to stderr, each line tagged with its level and the time
// since start, so `2>/dev/null` leaves just the page.
//
// The parts: options.* (the command line), capture_files.* (--ladder, --json and the capture they
// read), session.* (the steps, on the stack), page.* (what the browser shows), narration.* and
// narrator.* (what is told, and how), pool.*, dns_walk.*, segments.*, time_wait.*, body_output.*.
#include <clocale>
#include <cstdio>

#include "apps/common/host.hpp"
#include "apps/common/ring_pool.hpp"
#include "apps/minibrowser/capture_files.hpp"
#include "apps/minibrowser/options.hpp"
#include "apps/minibrowser/session.hpp"

int main(int argc, char** argv) {
  appkit::install_ring_pool();  // TCP rings whose pages go back to the kernel when free
  std::setlocale(LC_CTYPE, "");  // only to learn the terminal's codeset (nl_langinfo, page.cpp)
  minibrowser::Options options;
  if (const auto rc = minibrowser::parse_options(argc, argv, options)) return *rc;
  // Declared before the Host: its files are written from the capture once the Host has closed it.
  minibrowser::CaptureFiles capture;
  if (const auto rc = capture.prepare(options)) return *rc;
  auto opened = appkit::Host::open(options.net);
  if (!opened) {
    std::fprintf(stderr, "minibrowser: %s\n", opened.error().message.c_str());
    return static_cast<int>(opened.error().code);
  }
  minibrowser::Session session(**opened, options, capture);
  return session.run();
}
