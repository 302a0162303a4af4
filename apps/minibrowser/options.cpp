#include "apps/minibrowser/options.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "apps/common/hosts_file.hpp"

namespace minibrowser {
namespace {

using stack::Duration;

unsigned terminal_width() {
  winsize ws{};
  if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20) return ws.ws_col;
  return 80;
}

bool parse_seconds(const std::string& v, Duration& out) {
  std::uint64_t s = 0;
  if (!appkit::parse_u64(v, s) || s > 86400) return false;
  out = Duration::from_secs(static_cast<std::int64_t>(s));
  return true;
}

// The options are declared in the order --help lists them.
void add_page_options(appkit::ArgParser& parser, Options& o) {
  parser.option("--level", "1..7", "narrate the steps of level N (1..7, default 1; see docs/levels.md)", [&](const std::string& v) {
    if (v.size() != 1 || v[0] < '1' || v[0] > '7') return false;
    o.level = v[0] - '0';
    return true;
  });
  parser.option("--max-per-host", "N", "connections kept per host (default 6)", [&](const std::string& v) {
    std::uint64_t n = 0;
    if (!appkit::parse_u64(v, n) || n == 0 || n > 64) return false;
    o.max_per_host = n;
    return true;
  });
  parser.option("--idle-timeout", "SECONDS", "close idle connections after this long (default 15)",
                [&](const std::string& v) { return parse_seconds(v, o.idle_timeout); });
  parser.flag("--source", "print the HTML instead of rendering it", [&] { o.source = true; });
  parser.option("-o", "FILE", "save the body to FILE instead of printing the page", [&](const std::string& v) {
    o.output = v;
    return !v.empty();
  });
  parser.flag("--fail", "exit 22 on an HTTP status of 400 or more (like curl --fail)", [&] { o.fail_on_error = true; });
  parser.flag("--head", "send HEAD instead of GET and print the headers", [&] { o.head = true; });
  parser.flag("--no-subresources", "do not fetch the page's images, stylesheets and scripts", [&] { o.subresources = false; });
}

void add_display_options(appkit::ArgParser& parser, Options& o) {
  parser.option("--root-hints", "FILE", "root servers for the level-5 walk (default: $USTACK_ROOT_HINTS, else IANA's)", [&](const std::string& v) {
    o.root_hints = v;
    return true;
  });
  parser.option("--width", "COLUMNS", "wrap the page to COLUMNS (default: the terminal's, or 80)", [&](const std::string& v) {
    std::uint64_t n = 0;
    if (!appkit::parse_u64(v, n) || n < 20 || n > 1000) return false;
    o.width = static_cast<unsigned>(n);
    return true;
  });
  parser.flag("--follow-refresh", "follow a page's <meta http-equiv=\"refresh\"> (at most 5 times)",
              [&] { o.follow_refresh = true; });
  parser.flag("--ascii", "draw table grids with +-| (default in a non-UTF-8 locale)", [&] { o.ascii = true; });
  parser.flag("--no-color", "no colours in the narration (default: colours when stderr is a terminal and NO_COLOR is unset)",
              [&] { o.colour = false; });
}

void add_record_options(appkit::ArgParser& parser, Options& o) {
  parser.option("--ladder", "FILE.svg", "draw this run's frames as a ladder diagram (SVG; FILE.html: a web page)",
                [&](const std::string& v) {
                  o.ladder_path = v;
                  return !v.empty();
                });
  parser.option("--json", "FILE", "write this run as one JSON record (README \"The JSON record\")", [&](const std::string& v) {
    o.json_path = v;
    return !v.empty();
  });
  parser.option("--linger", "SECONDS", "stay this long after the page: idle connections open (a tab left open), then TIME-WAIT shown to its end",
                [&](const std::string& v) { return parse_seconds(v, o.linger); });
}

void add_tls_options(appkit::ArgParser& parser, Options& o) {
  parser.option("--cacert", "FILE", "https: trust only the CA certificates in FILE (PEM) instead of the system store",
                [&](const std::string& v) {
                  o.tls_config.ca_file = v;
                  return !v.empty();
                });
  parser.flag("-k", "https: do not verify certificates (narrated as a warning each time)", [&] { o.tls_config.verify = false; });
  parser.flag("--insecure", "same as -k", [&] { o.tls_config.verify = false; });
  parser.option("--keylog", "FILE", "https: append the TLS secrets to FILE for Wireshark (default: $SSLKEYLOGFILE)",
                [&](const std::string& v) {
                  o.tls_config.keylog_file = v;
                  return !v.empty();
                });
}

void add_wire_options(appkit::ArgParser& parser, Options& o) {
  parser.flag("-v", "level 6-7: each TCP segment also as tcpdump prints it", [&] { o.verbose = true; });
  parser.flag("--fresh", "DHCP: no lease file (neither read nor written): DISCOVER, not INIT-REBOOT",
              [&] { o.dhcp.persist = false; });
  parser.flag("--no-rapid-commit", "DHCP: do not ask for Rapid Commit (RFC 4039): the classic four messages",
              [&] { o.dhcp.rapid_commit = false; });
}

// An explicit --hosts that cannot be read is an error (curl: a file given is a file needed);
// only the default /etc/hosts may be missing, and the narration says so.
std::optional<int> check_hosts_file(const appkit::NetOptions& net) {
  if (net.hosts == appkit::NetOptions{}.hosts) return std::nullopt;
  if (auto hosts = appkit::HostsFile::load(net.hosts); !hosts) {
    std::fprintf(stderr, "minibrowser: --hosts: %s\n", hosts.error().message.c_str());
    return static_cast<int>(appkit::ExitCode::Usage);
  }
  return std::nullopt;
}

}  // namespace

std::optional<int> parse_options(int argc, char** argv, Options& options) {
  options.width = terminal_width();
  // Colours on a terminal, unless NO_COLOR is set and not empty (https://no-color.org).
  const char* no_color = std::getenv("NO_COLOR");
  options.colour = isatty(STDERR_FILENO) != 0 && !(no_color && *no_color);
  // `tools/sandbox exec` exports USTACK_ROOT_HINTS (the sandbox's own root); elsewhere IANA's roots.
  if (const char* env = std::getenv("USTACK_ROOT_HINTS"); env && *env) options.root_hints = env;
  options.dhcp.one_line_per_message = true;  // level 7: each message its own line, at its own time

  appkit::ArgParser parser("minibrowser", "minibrowser [options] URL");
  parser.set_summary("a text web browser on a user-space TCP/IP stack that narrates every step");
  add_page_options(parser, options);
  add_display_options(parser, options);
  add_record_options(parser, options);
  add_tls_options(parser, options);
  add_wire_options(parser, options);
  parser.add_net_options(options.net);
  const auto parsed = parser.parse({argv + 1, argv + argc});
  if (const auto rc = parser.early_exit(parsed)) return *rc;
  if (parsed.positional.size() != 1) {
    std::fprintf(stderr, "minibrowser: give exactly one URL, e.g. minibrowser http://www.domain.com/\n");
    return static_cast<int>(appkit::ExitCode::Usage);
  }
  auto url = appkit::Url::parse_user_input(parsed.positional[0]);
  if (!url) {
    std::fprintf(stderr, "minibrowser: %s: %s\n", parsed.positional[0].c_str(), appkit::describe(url.error()));
    return static_cast<int>(appkit::exit_code(url.error()));
  }
  options.url = *url;
  return check_hosts_file(options.net);
}

}  // namespace minibrowser
