// ustack: the stack's command-line tools — ping, dhcp, resolve, serve, get.
//
//   ustack ping [-c N] [-i SECONDS] [-s SIZE] HOST
//   ustack dhcp [--release] [--lease-file F] [--renew-test]
//   ustack resolve [--trace] NAME
//   ustack serve [--port 80] DIR
//   ustack get URL -o FILE
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
  const char* usage;
  const char* summary;
  const char* issue;  // where the behaviour is specified, while it is not built yet
};

constexpr Subcommand kSubcommands[] = {
    {"ping", "ustack ping [options] [-c N] [-i SECONDS] [-s SIZE] HOST", "ICMP echo, in the habits of iputils ping", "#3"},
    {"dhcp", "ustack dhcp [options] [--release] [--lease-file F] [--renew-test]", "get a DHCP lease and print it", "#4"},
    {"resolve", "ustack resolve [options] [--trace] NAME", "resolve a name: hosts file, then DNS (c-ares over the stack)", "#6"},
    {"serve", "ustack serve [options] [--port 80] DIR", "a small static HTTP/1.1 file server on the stack", "#5"},
    {"get", "ustack get [options] URL -o FILE", "download a URL over the stack without rendering", "#5"},
    {"up", "ustack up [options] [--for SECONDS] [-v]", "bring the stack up and answer ARP and ping until stopped", ""},
    {"explain", "ustack explain FILE.pcap [--level N] [--ladder F.svg] [--json F]", "narrate any capture by level; ladder diagram, JSON", ""},
};

void print_usage(std::FILE* out) {
  std::fprintf(out, "usage: ustack SUBCOMMAND [options] ...\n\nsubcommands:\n");
  for (const auto& s : kSubcommands) std::fprintf(out, "  %-8s %s\n", s.name, s.summary);
  std::fprintf(out, "\nustack SUBCOMMAND --help shows each one's options.\n");
}

int run_subcommand(const Subcommand& sub, const std::vector<std::string>& args) {
  appkit::NetOptions net;
  appkit::ArgParser parser(std::string("ustack ") + sub.name, sub.usage);
  parser.add_net_options(net);
  const auto parsed = parser.parse(args);
  if (parsed.help) {
    std::fputs(parser.help_text().c_str(), stdout);
    return 0;
  }
  if (parsed.version) {
    std::printf("ustack %s\n", appkit::kVersion);
    return 0;
  }
  // Not built yet: say so first, whatever options were given (their parsing is part of the issue).
  std::fprintf(stderr, "ustack %s: not built yet (issue %s); see README \"Features\"\n", sub.name, sub.issue);
  return static_cast<int>(ExitCode::NotBuilt);
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
  if (first == "ping") return ustack_cli::run_ping({args.begin() + 1, args.end()});
  if (first == "up") return ustack_cli::run_up({args.begin() + 1, args.end()});
  if (first == "dhcp") return ustack_cli::run_dhcp({args.begin() + 1, args.end()});
  if (first == "serve") return ustack_cli::run_serve({args.begin() + 1, args.end()});
  if (first == "get") return ustack_cli::run_get({args.begin() + 1, args.end()});
  if (first == "resolve") return ustack_cli::run_resolve({args.begin() + 1, args.end()});
  if (first == "explain") return ustack_cli::run_explain({args.begin() + 1, args.end()});
  for (const auto& sub : kSubcommands) {
    if (first == sub.name) return run_subcommand(sub, {args.begin() + 1, args.end()});
  }
  std::fprintf(stderr, "ustack: unknown subcommand '%s' (try: ustack --help)\n", first.c_str());
  return static_cast<int>(ExitCode::Usage);
}
