// ustack: the stack's command-line tools — ping, dhcp, resolve, serve, get.
//
//   ustack ping [-c N] [-i SECONDS] [-s SIZE] HOST
//   ustack dhcp [--release] [--lease-file F] [--renew-test]
//   ustack resolve [--trace] NAME
//   ustack serve [--port 80] DIR
//   ustack get URL -o FILE
//   ustack up [--for SECONDS]
// Every subcommand takes the common network options (ustack SUBCOMMAND --help lists them).
#include <cstdio>
#include <string>
#include <vector>

#include "apps/common/cli.hpp"
#include "apps/common/version.hpp"
#include "apps/ustack/commands.hpp"

namespace {

using appkit::ExitCode;

struct Subcommand {
  const char* name;
  const char* summary;
  int (*run)(const std::vector<std::string>& args);
};

constexpr Subcommand kSubcommands[] = {
    {"ping", "ICMP echo, in the habits of iputils ping", ustack_cli::run_ping},
    {"dhcp", "get a DHCP lease and print it", ustack_cli::run_dhcp},
    {"resolve", "resolve a name: hosts file, then DNS (c-ares over the stack)", ustack_cli::run_resolve},
    {"serve", "a small static HTTP/1.1 file server on the stack", ustack_cli::run_serve},
    {"get", "download a URL over the stack without rendering", ustack_cli::run_get},
    {"up", "bring the stack up and answer ARP and ping until stopped", ustack_cli::run_up},
    {"explain", "narrate any capture by level; ladder diagram, JSON", ustack_cli::run_explain},
};

void print_usage(std::FILE* out) {
  std::fprintf(out, "usage: ustack SUBCOMMAND [options] ...\n\nsubcommands:\n");
  for (const auto& s : kSubcommands) std::fprintf(out, "  %-8s %s\n", s.name, s.summary);
  std::fprintf(out, "\nustack SUBCOMMAND --help shows each one's options.\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    print_usage(stderr);
    return static_cast<int>(ExitCode::Usage);
  }
  const std::string& first = args.front();
  if (first == "--help" || first == "-h" || first == "help") {
    print_usage(stdout);
    return 0;
  }
  if (first == "--version" || first == "-V") {
    std::printf("ustack %s\n", appkit::kVersion);
    return 0;
  }
  for (const auto& sub : kSubcommands) {
    if (first == sub.name) return sub.run({args.begin() + 1, args.end()});
  }
  std::fprintf(stderr, "ustack: unknown subcommand '%s' (try: ustack --help)\n", first.c_str());
  return static_cast<int>(ExitCode::Usage);
}
