// minibrowser: type a URL, watch every step of docs/levels.md happen on our own stack, read the page.
//
//   minibrowser [options] [--level 1..7] URL
//
// The page goes to stdout (rendered like `w3m -dump`; --source for the HTML, -o FILE to save the
// body); the narration of level N goes to stderr, each line tagged with its level and the time
// since start, so `2>/dev/null` leaves just the page.
#include <langinfo.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <clocale>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <map>
#include <tuple>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "apps/common/charset.hpp"
#include "apps/common/cli.hpp"
#include "apps/common/dns_resolver.hpp"
#include "apps/common/dns_trace.hpp"
#include "apps/common/explain.hpp"
#include "apps/common/frame_cite.hpp"
#include "apps/common/host.hpp"
#include "apps/common/hosts_file.hpp"
#include "apps/common/html_render.hpp"
#include "apps/common/http_client.hpp"
#include "apps/common/interrupt.hpp"
#include "apps/common/nat_view.hpp"
#include "apps/common/ring_pool.hpp"
#include "apps/common/network_setup.hpp"
#include "apps/common/tls.hpp"
#include "apps/common/url.hpp"
#include "apps/common/version.hpp"
#include "apps/minibrowser/dns_walk.hpp"
#include "apps/minibrowser/pool.hpp"
#include "apps/minibrowser/segments.hpp"
#include "stack/events.hpp"
#include "stack/wire/describe.hpp"
#include "stack/wire/ipv4.hpp"
#include "stack/wire/tcp.hpp"

namespace {

using appkit::ExitCode;
using stack::Duration;
using stack::Instant;
namespace http = appkit::http;

// The media type of a Content-Type header, lower case, without parameters ("image/gif"), or "".
std::string media_type(const appkit::http::Header* content_type) {
  if (!content_type) return {};
  std::string mt = content_type->value.substr(0, content_type->value.find(';'));
  while (!mt.empty() && (mt.back() == ' ' || mt.back() == '\t')) mt.pop_back();
  while (!mt.empty() && (mt.front() == ' ' || mt.front() == '\t')) mt.erase(0, 1);
  for (auto& c : mt) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return mt;
}
bool is_html(const std::string& mt) { return mt == "text/html" || mt == "application/xhtml+xml"; }
// Bytes a terminal must not get: NUL or other C0 controls than TAB/LF/CR/FF/ESC (what curl checks).
template <typename Body>
bool looks_binary(const Body& body) {
  const std::size_t n = std::min<std::size_t>(body.size(), 2000);
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(body[i]);
    if (c == 0 || (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != 0x1b)) return true;
  }
  return false;
}

// Prints the narration of the chosen level to stderr: "[L6 +12.4 ms] TCP: …".
class Narrator {
 public:
  Narrator(int level, Instant start, bool colour) : level_(level), start_(start), last_(start), colour_(colour) {}
  bool wants(int level) const { return level <= level_; }
  // `now`: when the event happened (a frame's time, as the pcap has it). A line is never shown
  // with a time before the line above it: the stack reports some events a little after the
  // frames that follow them, and the narration keeps one clock, in order.
  // At levels 6-7 a line fits kColumns: a longer one goes on under the same tag, indented
  // kIndent, broken at a space (tests join such lines back: tools/sandbox.d/testlib.sh unwrap).
  // `wrap` false: the line as it is (-v's tcpdump lines, one record each).
  void say(int level, Instant now, const std::string& text, bool wrap = true) const {
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

  static constexpr std::size_t kColumns = 100;
  static constexpr std::size_t kIndent = 4;

  // Whether the space at `i` stands between a number and its unit ("5.3 ms", "3600 s", "80 %"):
  // no line starts with the unit.
  static bool before_unit(const std::string& text, std::size_t i) {
    std::size_t end = i + 1;
    while (end < text.size() && text[end] != ' ' && text[end] != ',' && text[end] != ';' && text[end] != ')' &&
           text[end] != ':') {
      ++end;
    }
    const std::string word = text.substr(i + 1, end - i - 1);
    return i > 0 && std::isdigit(static_cast<unsigned char>(text[i - 1])) &&
           (word == "ms" || word == "s" || word == "us" || word == "%" || word == "B");
  }

  // `text` in lines of at most `budget` columns (UTF-8: one column per code point), the second and
  // later `kIndent` narrower; broken at the last space that fits, inside a word only when none does.
  static std::vector<std::string> fit(const std::string& text, std::size_t budget) {
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

 private:
  int level_;
  Instant start_;
  mutable Instant last_;
  bool colour_;
};

std::string ms(Duration d) {
  const auto us = d.micros();
  return std::to_string(us / 1000) + "." + std::to_string((us % 1000) / 100) + " ms";
}

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

}  // namespace

int main(int argc, char** argv) {
  appkit::install_ring_pool();  // TCP rings whose pages go back to the kernel when free
  std::setlocale(LC_CTYPE, "");  // only to learn the terminal's codeset (nl_langinfo below)
  appkit::NetOptions net;
  int level = 1;
  std::size_t max_per_host = 6;
  Duration idle_timeout = Duration::from_secs(15);
  bool source = false;
  bool fail_on_error = false;
  bool head = false;
  bool subresources = true;
  std::optional<std::string> output;
  std::optional<std::string> root_hints;
  unsigned width = terminal_width();
  bool ascii = false;
  bool follow_refresh = false;
  // Colours on a terminal, unless NO_COLOR is set and not empty (https://no-color.org).
  const char* no_color = std::getenv("NO_COLOR");
  bool colour = isatty(STDERR_FILENO) != 0 && !(no_color && *no_color);
  Duration linger = Duration::zero();
  appkit::tls::Config tls_config;

  appkit::ArgParser parser("minibrowser", "minibrowser [options] URL");
  parser.set_summary("a text web browser on a user-space TCP/IP stack that narrates every step");
  parser.option("--level", "1..7", "narrate the steps of level N (1..7, default 1; see docs/levels.md)", [&](const std::string& v) {
    if (v.size() != 1 || v[0] < '1' || v[0] > '7') return false;
    level = v[0] - '0';
    return true;
  });
  parser.option("--max-per-host", "N", "connections kept per host (default 6)", [&](const std::string& v) {
    std::uint64_t n = 0;
    if (!appkit::parse_u64(v, n) || n == 0 || n > 64) return false;
    max_per_host = n;
    return true;
  });
  parser.option("--idle-timeout", "SECONDS", "close idle connections after this long (default 15)",
                [&](const std::string& v) { return parse_seconds(v, idle_timeout); });
  parser.flag("--source", "print the HTML instead of rendering it", [&] { source = true; });
  parser.option("-o", "FILE", "save the body to FILE instead of printing the page", [&](const std::string& v) {
    output = v;
    return !v.empty();
  });
  parser.flag("--fail", "exit 22 on an HTTP status of 400 or more (like curl --fail)", [&] { fail_on_error = true; });
  parser.flag("--head", "send HEAD instead of GET and print the headers", [&] { head = true; });
  parser.flag("--no-subresources", "do not fetch the page's images, stylesheets and scripts", [&] { subresources = false; });
  // `tools/sandbox exec` exports USTACK_ROOT_HINTS (the sandbox's own root); elsewhere IANA's roots.
  if (const char* env = std::getenv("USTACK_ROOT_HINTS"); env && *env) root_hints = env;
  parser.option("--root-hints", "FILE", "root servers for the level-5 walk (default: $USTACK_ROOT_HINTS, else IANA's)", [&](const std::string& v) {
    root_hints = v;
    return true;
  });
  parser.option("--width", "COLUMNS", "wrap the page to COLUMNS (default: the terminal's, or 80)", [&](const std::string& v) {
    std::uint64_t n = 0;
    if (!appkit::parse_u64(v, n) || n < 20 || n > 1000) return false;
    width = static_cast<unsigned>(n);
    return true;
  });
  parser.flag("--follow-refresh", "follow a page's <meta http-equiv=\"refresh\"> (at most 5 times)",
              [&] { follow_refresh = true; });
  parser.flag("--ascii", "draw table grids with +-| (default in a non-UTF-8 locale)", [&] { ascii = true; });
  parser.flag("--no-color", "no colours in the narration (default: colours when stderr is a terminal and NO_COLOR is unset)",
              [&] { colour = false; });
  std::string ladder_path, json_path;
  parser.option("--ladder", "FILE.svg", "draw this run's frames as a ladder diagram (SVG; FILE.html: a web page)",
                [&](const std::string& v) {
                  ladder_path = v;
                  return !v.empty();
                });
  parser.option("--json", "FILE", "write this run as one JSON record (README \"The JSON record\")", [&](const std::string& v) {
    json_path = v;
    return !v.empty();
  });
  parser.option("--linger", "SECONDS", "stay this long after the page: idle connections open (a tab left open), then TIME-WAIT shown to its end",
                [&](const std::string& v) { return parse_seconds(v, linger); });
  parser.option("--cacert", "FILE", "https: trust only the CA certificates in FILE (PEM) instead of the system store",
                [&](const std::string& v) {
                  tls_config.ca_file = v;
                  return !v.empty();
                });
  parser.flag("-k", "https: do not verify certificates (narrated as a warning each time)", [&] { tls_config.verify = false; });
  parser.flag("--insecure", "same as -k", [&] { tls_config.verify = false; });
  parser.option("--keylog", "FILE", "https: append the TLS secrets to FILE for Wireshark (default: $SSLKEYLOGFILE)",
                [&](const std::string& v) {
                  tls_config.keylog_file = v;
                  return !v.empty();
                });
  bool verbose = false;
  parser.flag("-v", "level 6-7: each TCP segment also as tcpdump prints it", [&] { verbose = true; });
  appkit::DhcpSetupOptions dhcp;
  dhcp.one_line_per_message = true;  // level 7: each message its own line, at its own time
  parser.flag("--fresh", "DHCP: no lease file (neither read nor written): DISCOVER, not INIT-REBOOT",
              [&] { dhcp.persist = false; });
  parser.flag("--no-rapid-commit", "DHCP: do not ask for Rapid Commit (RFC 4039): the classic four messages",
              [&] { dhcp.rapid_commit = false; });
  parser.add_net_options(net);
  const auto parsed = parser.parse({argv + 1, argv + argc});
  if (const auto rc = parser.early_exit(parsed)) return *rc;
  if (parsed.positional.size() != 1) {
    std::fprintf(stderr, "minibrowser: give exactly one URL, e.g. minibrowser http://www.domain.com/\n");
    return static_cast<int>(ExitCode::Usage);
  }
  auto url = appkit::Url::parse_user_input(parsed.positional[0]);
  if (!url) {
    std::fprintf(stderr, "minibrowser: %s: %s\n", parsed.positional[0].c_str(), appkit::describe(url.error()));
    return static_cast<int>(appkit::exit_code(url.error()));
  }

  // An explicit --hosts that cannot be read is an error (curl: a file given is a file needed);
  // only the default /etc/hosts may be missing, and the narration says so.
  if (net.hosts != appkit::NetOptions{}.hosts) {
    std::string error;
    if (!appkit::HostsFile::load(net.hosts, &error)) {
      std::fprintf(stderr, "minibrowser: --hosts: %s\n", error.c_str());
      return static_cast<int>(ExitCode::Usage);
    }
  }
  // --ladder / --json read this run's capture back (apps/common/explain.*): without --pcap, a
  // capture in a temporary file, removed at exit. The files are created now, so an unwritable one
  // fails before anything is sent (curl's 23).
  for (const auto* out : {&ladder_path, &json_path}) {
    if (out->empty()) continue;
    if (auto e = appkit::explain::write_file(*out, "")) {
      std::fprintf(stderr, "minibrowser: %s\n", e->c_str());
      return static_cast<int>(ExitCode::WriteError);
    }
  }
  struct RunOutputs {
    std::string pcap, ladder, json, title;
    bool temporary = false;
    ~RunOutputs() {
      if (!ladder.empty() || !json.empty()) {
        if (auto e = appkit::explain::write_outputs_from_pcap(pcap, ladder, json, title)) {
          std::fprintf(stderr, "minibrowser: --ladder/--json: %s\n", e->c_str());
        }
      }
      if (temporary) std::remove(pcap.c_str());
    }
  } outputs;
  // Levels 6-7 end with a table of the connections and the steps' times, read from the capture.
  if (!ladder_path.empty() || !json_path.empty() || level >= 6) {
    outputs.ladder = ladder_path;
    outputs.json = json_path;
    outputs.title = "minibrowser " + url->to_string();
    if (!net.pcap) {
      const char* tmp = std::getenv("TMPDIR");
      std::string path = std::string(tmp && *tmp ? tmp : "/tmp") + "/minibrowser-XXXXXX.pcap";
      const int fd = mkstemps(path.data(), 5);
      if (fd < 0) {
        std::fprintf(stderr, "minibrowser: --ladder/--json need a capture: cannot create %s: %s\n", path.c_str(), std::strerror(errno));
        return static_cast<int>(ExitCode::WriteError);
      }
      close(fd);
      net.pcap = path;
      outputs.temporary = true;
    }
    outputs.pcap = *net.pcap;
  }

  auto opened = appkit::Host::open(net);
  if (auto* err = std::get_if<appkit::HostError>(&opened)) {
    std::fprintf(stderr, "minibrowser: %s\n", err->message.c_str());
    return static_cast<int>(err->code);
  }
  auto& host = *std::get<0>(opened);
  auto& iface = host.iface();
  const Narrator narrator(level, host.now(), colour);
  auto say = [&](int l, const std::string& text) { narrator.say(l, host.now(), text); };
  appkit::install_interrupt_handlers();

  say(2, "you typed " + url->to_string());
  // Lines cite frames by number only when a capture is written (--pcap, or the temporary one that
  // --ladder, --json and levels 6-7 read back); from level 5 (DNS) on, the first says which one.
  if (net.pcap) {
    say(5, outputs.temporary ? "capture: a temporary file, removed at exit (--pcap FILE keeps it)"
                             : "capture: every frame goes to " + *net.pcap);
    say(5, "capture: [frame N] below is a frame's number in it, as Wireshark shows it");
  }
  // DHCP, ARP and DNS lines cite their frames as the TCP lines do; a line whose frame has not
  // left yet waits for it (frame_cite.hpp), and any still waiting are said at exit.
  appkit::FrameCiter citer(net.pcap.has_value(), host.frames_seen());
  struct FlushAtExit {
    appkit::FrameCiter& citer;
    ~FlushAtExit() { citer.flush(); }
  } flush_at_exit{citer};
  // "DNS: asking …" → "DNS [frame 9] asking …", as "TCP #1 [frame 12] → SYN: …" (the line's first
  // ": " gives way to the number).
  auto cited = [&](int l, Instant at, std::vector<appkit::FrameWant> frames, std::string text) {
    if (!narrator.wants(l)) return;
    citer.say(std::move(frames), at, [&narrator, l, text = std::move(text)](Instant when, const std::string& cite) {
      const auto colon = text.find(": ");
      narrator.say(l, when, cite.empty() || colon == std::string::npos ? text : text.substr(0, colon) + " " + cite + text.substr(colon + 2));
    });
  };

  // --- level 7: the wire as the narrator sees it ------------------------------------------------
  host.add_event_listener([&](Instant at, const stack::Event& e) {
    if (std::holds_alternative<stack::event::Dropped>(e)) return;  // --stats counts those
    cited(7, at, appkit::wants_of(e), stack::describe(e));
  });
  std::unique_ptr<minibrowser::ConnectionPool> pool;  // for naming connections in TCP events
  minibrowser::SegmentNarrator segments(host.frames_seen(), verbose);
  segments.number_of = [&](std::uint16_t local_port, stack::wire::Ipv4Address remote, std::uint16_t remote_port) {
    return pool ? pool->number_of(local_port, remote, remote_port) : 0;
  };
  appkit::NatView nat;
  host.add_frame_listener([&](bool outgoing, Instant at, std::span<const std::byte> frame) {
    citer.on_frame(outgoing, at, frame);  // counts it, and says the lines that waited for it
    if (narrator.wants(7)) {
      if (auto l = nat.on_frame(outgoing, frame, iface.address(), iface.gateway())) narrator.say(7, at, *l);
    }
    // Always: it counts frames for the pcap numbers.
    // -v's tcpdump line (after the gloss) stays one line, as tcpdump prints it.
    const auto lines = segments.on_frame(outgoing, at, frame);
    for (std::size_t i = 0; i < lines.size(); ++i) narrator.say(6, at, "TCP" + lines[i], i == 0);
  });
  iface.tcp().on_event = [&](const stack::socket::TcpEvent& e) {
    using namespace stack::socket::tcp_event;
    const Instant at = host.now();
    // "TCP #n": connection #n of the pool (the same number its pool, TLS and summary lines use).
    auto tcp_n = [&](stack::socket::SocketId id) {
      const int n = pool ? pool->number_of(id) : 0;
      return n ? "TCP #" + std::to_string(n) : std::string("TCP");
    };
    if (const auto* s = std::get_if<StateChanged>(&e)) {
      narrator.say(6, at, tcp_n(s->id) + ": " + stack::socket::to_string(s->from) + " → " +
                              stack::socket::to_string(s->to));
    } else if (const auto* f = std::get_if<FinSent>(&e)) {
      if (f->first) narrator.say(6, at, tcp_n(f->id) + ": we send the first FIN: we will be the side in TIME-WAIT");
    } else if (const auto* f2 = std::get_if<FinReceived>(&e)) {
      if (f2->first) narrator.say(6, at, tcp_n(f2->id) + ": the server sent the first FIN: it will be the side in TIME-WAIT");
    } else if (const auto* r = std::get_if<Retransmitted>(&e)) {
      // Said with the frame that carried it (SegmentNarrator), naming the frame it repeats and the
      // time that really passed. The event's rto is the timeout for the next time, already
      // doubled (RFC 6298 §5.5), not the one that fired.
      const char* why = r->cause == RetransmitCause::Timeout ? "no ACK came in time, the retransmission timer fired"
                        : r->cause == RetransmitCause::FastRetransmit ? "fast retransmit after three duplicate ACKs (RFC 5681 §3.2)"
                        : r->cause == RetransmitCause::SackRecovery ? "SACK loss recovery (RFC 6675)"
                        : r->cause == RetransmitCause::RackLoss ? "RACK: a segment sent after it arrived and a round trip passed (RFC 8985)"
                        : r->cause == RetransmitCause::TailLossProbe ? "a tail loss probe: no ACK for two round trips (RFC 8985 §7)"
                                                                    : "a partial ACK in recovery (RFC 6582)";
      std::string text = why;
      if (r->cause == RetransmitCause::Timeout) {
        // RFC 6298 §5.5 doubled the timeout as it fired, up to the 60 s ceiling (§2.5): below the
        // ceiling, the timer that fired was half the event's value, armed at the segment's last
        // transmission or at the last ACK that moved SND.UNA.
        constexpr Duration kCeiling = Duration::from_secs(60);
        text += r->rto < kCeiling ? " (RTO " + ms(Duration::from_micros(r->rto.micros() / 2)) +
                                        ", counted from the last transmission or the last ACK); the next timeout is doubled to " +
                                        ms(r->rto) + " (RFC 6298 §5.5)"
                                  : " (the RTO is at its 60 s ceiling, RFC 6298 §2.5)";
      }
      const auto* tcb = iface.tcp().tcb(r->id);
      if (auto line = tcb ? segments.retransmitted(tcb->local(), tcb->remote(), r->seq) : std::nullopt) {
        narrator.say(6, at, tcp_n(r->id) + " " + *line + ": " + text);
      } else {
        narrator.say(6, at, tcp_n(r->id) + ": retransmission of seq " + std::to_string(r->seq.raw) + ": " + text);
      }
    } else if (std::holds_alternative<RstReceived>(e) || std::holds_alternative<RstSent>(e)) {
      narrator.say(6, at, stack::socket::describe(e));
    }
  };

  // --- step 1: DHCP (level 7) -------------------------------------------------------------------
  say(7, net.ip ? "network: static address " + *net.ip + " (no DHCP)" : "DHCP: joining the network on " + net.tap);
  if (!net.ip && !dhcp.persist) say(7, "DHCP: --fresh: no lease file is read or written, so no INIT-REBOOT");
  dhcp.on_line = [&](Instant at, const stack::socket::DhcpEvent& e, const std::string& line) {
    cited(7, at, appkit::wants_of(e), "DHCP: " + line);
  };
  auto network = appkit::setup_network(host, net, [&](const std::string& text, bool) { say(7, "DHCP: " + text); }, dhcp);
  if (auto* err = std::get_if<appkit::HostError>(&network)) {
    std::fprintf(stderr, "minibrowser: %s\n", err->message.c_str());
    return static_cast<int>(err->code);
  }
  auto& setup = std::get<appkit::NetworkSetup>(network);
  if (setup.lease) {
    std::string dns;
    for (const auto& d : setup.lease->dns_servers) dns += (dns.empty() ? "" : ", ") + d.describe();
    say(7, "DHCP: we are " + setup.lease->address.describe() + ", router " +
               (setup.lease->router ? setup.lease->router->describe() : std::string("none")) + ", DNS " + dns +
               ", lease " + std::to_string(setup.lease->lease_time) + " s");
  }

  // The loop every stage uses: let the resolver, the walk and the pool work (their callbacks may
  // finish the stage), and only then wait for the stack — never sleep on a stage already done.
  std::unique_ptr<appkit::DnsResolver> resolver;
  std::unique_ptr<minibrowser::DnsWalk> walk;
  if (narrator.wants(5)) {
    walk = std::make_unique<minibrowser::DnsWalk>(host, root_hints, [&](const std::string& t, std::vector<appkit::FrameWant> f) {
      cited(5, host.now(), std::move(f), t);
    });
  }
  auto run_until = [&](const std::function<bool()>& done, Duration limit) {
    const Instant deadline = host.now() + limit;
    for (;;) {
      if (resolver) resolver->process();
      if (walk) walk->process();
      if (pool) pool->drive();
      if (done() || appkit::interrupted() || host.now() >= deadline) break;
      std::optional<Instant> wake = deadline;
      auto consider = [&wake](std::optional<Instant> t) {
        if (t && (!wake || *t < *wake)) wake = t;
      };
      if (resolver) consider(resolver->next_deadline());
      if (walk) consider(walk->next_deadline());
      if (pool) consider(pool->next_deadline());
      host.step(wake);
    }
    return done();
  };

  // --- steps 4-6: the name -------------------------------------------------------------------------
  std::map<std::string, stack::wire::Ipv4Address> resolved;  // host -> address, for this run
  int resolve_code = 0;
  auto resolve = [&](const std::string& name) -> std::optional<stack::wire::Ipv4Address> {
    if (auto it = resolved.find(name); it != resolved.end()) return it->second;
    if (auto literal = stack::wire::Ipv4Address::parse(name)) {
      say(2, name + " is already an IP address: no lookup");
      return resolved[name] = *literal;
    }
    std::string error;
    auto hosts = appkit::HostsFile::load(net.hosts, &error);
    if (hosts) {
      auto hit = hosts->lookup(name);
      if (!hit.empty()) {
        say(7, "hosts file: " + name + " is " + hit.front().describe() + " in " + net.hosts + " — DNS is not asked");
        say(2, name + " is " + hit.front().describe() + " (from " + net.hosts + ")");
        return resolved[name] = hit.front();
      }
      std::size_t names = 0;
      for (const auto& e : hosts->entries()) names += e.names.size();
      std::string what = std::to_string(names) + (names == 1 ? " name" : " names") + " on " + std::to_string(hosts->entries().size()) +
                         (hosts->entries().size() == 1 ? " IPv4 line" : " IPv4 lines");
      if (hosts->ipv6_lines_skipped()) what += ", " + std::to_string(hosts->ipv6_lines_skipped()) + " IPv6 line(s) skipped";
      say(7, "hosts file: " + name + " is not in " + net.hosts + " (" + what + "); asking DNS");
    } else {
      say(7, "hosts file: " + error + "; asking DNS");
    }
    if (setup.dns_servers.empty()) {
      std::fprintf(stderr, "minibrowser: cannot resolve %s: no DNS server (give --dns, or let DHCP provide one)\n",
                   name.c_str());
      resolve_code = static_cast<int>(ExitCode::CannotResolve);
      return std::nullopt;
    }
    if (auto reason = appkit::unreachable_reason(iface, setup.dns_servers.front())) {
      std::fprintf(stderr, "minibrowser: cannot resolve %s: DNS server %s: %s\n", name.c_str(),
                   setup.dns_servers.front().describe().c_str(), reason->c_str());
      resolve_code = static_cast<int>(ExitCode::CannotResolve);
      return std::nullopt;
    }
    if (!resolver) {
      appkit::DnsResolverOptions ro;
      ro.servers = setup.dns_servers;
      std::string why;
      resolver = appkit::DnsResolver::create(host, ro, &why);
      if (!resolver) {
        std::fprintf(stderr, "minibrowser: DNS resolver: %s\n", why.c_str());
        resolve_code = static_cast<int>(ExitCode::Failure);
        return std::nullopt;
      }
      resolver->on_event = [&](const appkit::DnsEvent& e) {
        std::vector<appkit::FrameWant> frames;
        // A datagram, or over TCP (a truncated answer asked again, RFC 7766) the segment: the
        // SYN, the SYN+ACK, the one that completes the query or the answer, our FIN.
        using Tcp = appkit::DnsEvent::Datagram::Tcp;
        using Segment = appkit::FrameFacts::Segment;
        if (e.datagram && e.datagram->tcp == Tcp::No) {
          frames.push_back(appkit::FrameWant::dns(e.datagram->outgoing, e.datagram->id, e.datagram->server));
        } else if (e.datagram) {
          const auto d = *e.datagram;
          const Segment segment = d.tcp == Tcp::Syn      ? Segment::Syn
                                  : d.tcp == Tcp::SynAck ? Segment::SynAck
                                  : d.tcp == Tcp::Fin    ? Segment::Fin
                                                         : Segment::Message;
          frames.push_back(appkit::FrameWant::dns_tcp(d.outgoing, segment, d.server,
                                                      d.tcp == Tcp::Message ? std::optional<std::uint16_t>(d.id) : std::nullopt));
        }
        cited(5, e.at, std::move(frames), e.text);
      };
    }
    say(5, "DNS: asking the resolver " + setup.dns_servers.front().describe() + " (" +
               (net.dns ? std::string("given with --dns") : std::string("learned from DHCP")) + "), which walks the hierarchy for us if it does not know");
    std::optional<appkit::DnsResult> result;
    resolver->resolve(name, [&](const appkit::DnsResult& r) { result = r; });
    run_until([&] { return result.has_value(); }, Duration::from_secs(30));
    if (!result && appkit::interrupted()) return std::nullopt;
    if (!result || !result->ok() || result->addresses.empty()) {
      // Level 5: where "no such name" comes from (the walk has no page to wait for here).
      if (walk && result && result->error == appkit::DnsError::NoSuchDomain) {
        walk->start(name, std::nullopt);
        walk->settle(run_until, /*nothing_else_to_do=*/true);
      }
      std::fprintf(stderr, "minibrowser: cannot resolve %s: %s\n", name.c_str(),
                   result ? result->error_message().c_str() : "no answer");
      resolve_code = static_cast<int>(ExitCode::CannotResolve);
      return std::nullopt;
    }
    const auto& a = result->addresses.front();
    say(2, name + " is " + a.address.describe() + " (DNS: TTL " + std::to_string(a.ttl) + " s, from " +
               (result->server ? result->server->describe() : std::string("?")) + " in " + ms(result->elapsed) + ")");
    // Level 5: the walk the resolver makes when it does not know, beside the fetch (dns_walk.hpp).
    if (walk) walk->start(name, a.ttl);
    return resolved[name] = a.address;
  };

  // SIGINT/SIGTERM at any stage: RST on every connection still open (sent now, so the pcap has
  // it), one last line, 130/143. A FIN that never left is never narrated.
  auto stop_interrupted = [&]() {
    if (pool) pool->abort_all(appkit::interrupt_description());
    std::fprintf(stderr, "minibrowser: %s\n", appkit::interrupt_description());
    if (net.stats) host.print_stats(stderr);
    return appkit::interrupt_exit_code();
  };

  auto address = resolve(url->host);
  if (!address && appkit::interrupted()) return stop_interrupted();
  if (!address) return resolve_code ? resolve_code : static_cast<int>(ExitCode::CannotResolve);

  if (narrator.wants(7) && iface.gateway() && !iface.address()->contains(*address)) {
    auto router_mac = iface.arp_cache().peek(*iface.gateway(), host.now());
    say(7, "route: " + address->describe() + " is not on our subnet " + iface.address()->describe() +
               ", so packets go to the router " + iface.gateway()->describe() +
               (router_mac ? " (" + router_mac->describe() + ", cached)" : std::string(" (its MAC via ARP)")));
  }

  // --- steps 8-10: fetch, following redirects -----------------------------------------------------------
  minibrowser::ConnectionPool::Options po;
  po.max_per_host = max_per_host;
  po.idle_timeout = idle_timeout;
  po.lingering = linger > Duration::zero();
  // TLS: one context for the run (the CA store, the key log, the sessions the pool resumes),
  // made at the first https URL.
  std::unique_ptr<appkit::tls::Context> tls_context;
  std::optional<appkit::tls::Failure> tls_setup_error;
  auto ensure_tls = [&]() -> bool {
    if (tls_context) return true;
    auto created = appkit::tls::Context::create(tls_config);
    if (auto* f = std::get_if<appkit::tls::Failure>(&created)) {
      tls_setup_error = *f;
      return false;
    }
    tls_context = std::move(std::get<std::unique_ptr<appkit::tls::Context>>(created));
    say(6, std::string("TLS: certificates are checked against ") + tls_context->trust_description() +
               (tls_config.verify ? "" : " — NOT ENFORCED (-k/--insecure)"));
    if (!tls_context->keylog_path().empty()) {
      say(6, "TLS: the session secrets go to " + tls_context->keylog_path() +
                 " (NSS key log): Wireshark/tshark can decrypt the pcap with it");
    }
    return true;
  };
  if (url->secure() && !ensure_tls()) {
    std::fprintf(stderr, "minibrowser: %s\n", tls_setup_error->message.c_str());
    return static_cast<int>(tls_setup_error->code);
  }
  po.tls = tls_context.get();
  pool = std::make_unique<minibrowser::ConnectionPool>(host, po, [&](int l, const std::string& t) { say(l, t); });
  pool->set_tls_hook([&](int number, stack::socket::SocketId sock, const appkit::tls::Session& t, Duration took) {
    const auto* tcb = iface.tcp().tcb(sock);
    auto frame = [&](const appkit::tls::HandshakeMessage& m) -> std::string {
      if (!tcb || (!m.outgoing && m.stream_offset == 0)) return "";
      // Outgoing: the record's first byte; incoming: its last (see tls::HandshakeMessage).
      const auto f = segments.frame_of(tcb->local(), tcb->remote(), m.outgoing,
                                       m.outgoing ? m.stream_offset : m.stream_offset - 1);
      return f ? "[frame " + std::to_string(f) + "] " : "";
    };
    const std::string conn = "TLS: connection #" + std::to_string(number) + ": ";
    const auto chain = t.peer_chain();
    for (const auto& m : t.messages()) {
      std::string what = std::string(m.outgoing ? "→ " : "← ") + appkit::tls::handshake_type_name(m.type);
      switch (m.type) {
        case 1:
          what += " (offers TLS 1.2 and 1.3" + (t.sni_sent() ? ", SNI " + t.host() : std::string(", no SNI: an IP address")) +
                  ", ALPN http/1.1" + (t.offered_session() ? ", a saved session to resume" : "") + ")";
          break;
        case 2: what += " (chooses " + t.version() + ", " + t.cipher() + ")"; break;
        case 8: what += " (ALPN " + (t.alpn().empty() ? std::string("none") : t.alpn()) + "; encrypted from here on)"; break;
        case 11:
          if (!m.outgoing) what += " (" + std::to_string(chain.size()) + " certificate(s), below)";
          break;
        case 4: what += " (a ticket for resuming later)"; break;
        default: break;
      }
      narrator.say(6, host.now(), conn + frame(m) + what);
    }
    if (!t.resumed()) {
      for (std::size_t i = 0; i < chain.size(); ++i) {
        const auto& c = chain[i];
        std::string sans;
        for (const auto& n : c.sans) sans += (sans.empty() ? "" : ", ") + n;
        narrator.say(6, host.now(), conn + "  certificate [" + std::to_string(i) + "] " + c.subject + ", issued by " +
                                        c.issuer + ", valid " + c.not_before + " to " + c.not_after +
                                        (sans.empty() ? "" : ", names " + sans));
      }
      if (tls_config.verify) {
        const auto anchor = t.trust_anchor();
        narrator.say(6, host.now(), conn + "  verified: " + t.matched_name() + " matches " + t.host() +
                                        ", and the chain ends at " + (anchor ? anchor->subject : std::string("?")) +
                                        " from " + tls_context->trust_description());
      } else {
        narrator.say(1, host.now(), "WARNING: --insecure: the certificate of " + t.host() + " is NOT verified" +
                                        (t.insecure_problem().empty() ? " (it would have passed)"
                                                                      : ": " + t.insecure_problem()));
      }
    }
    narrator.say(6, host.now(), conn + (t.resumed() ? "resumed handshake" : "full handshake") + " in " + ms(took) +
                                    ": " + t.version() + ", " + t.cipher() +
                                    (t.resumed() ? " (no Certificate: the saved session vouches for the server)" : ""));
  });
  const http::Method method = head ? http::Method::Head : http::Method::Get;
  http::RedirectFollower redirects(*url, method);
  constexpr int kMaxRefreshes = 5;
  int refreshes = 0;
  std::optional<minibrowser::FetchResult> page;
  int exit_code = 0;
  // Where the page's body goes, decided at its headers: with -o, streamed into the file (no size
  // limit: the sandbox's own 1 GiB link works); without, kept for rendering up to the parser's
  // 64 MiB, and refused at the headers when Content-Length already says more (curl's 63).
  std::FILE* out_file = nullptr;
  std::uint64_t streamed = 0;
  std::optional<std::string> write_error;
  std::optional<std::uint64_t> too_large;
  auto sink_for = [&](const http::Response& resp) -> http::ResponseParser::BodySink {
    if (http::is_redirect(resp.status) && resp.header("Location")) return nullptr;  // followed, not kept
    if (fail_on_error && resp.status >= 400) return nullptr;  // --fail: never written
    if (output && !head) {
      if (out_file && out_file != stdout) std::fclose(out_file);
      out_file = *output == "-" ? stdout : std::fopen(output->c_str(), "wb");
      streamed = 0;
      if (!out_file) write_error = "cannot write " + *output + ": " + std::strerror(errno);
      return [&](std::span<const std::byte> data) {
        if (!out_file) return false;
        if (std::fwrite(data.data(), 1, data.size(), out_file) != data.size()) {
          write_error = "writing " + *output + ": " + std::strerror(errno);
          return false;
        }
        streamed += data.size();
        return true;
      };
    }
    if (resp.content_length && *resp.content_length > http::Limits{}.max_body_bytes) {
      too_large = *resp.content_length;
      return [](std::span<const std::byte>) { return false; };
    }
    return nullptr;
  };
  for (;;) {
    const appkit::Url current = redirects.current();
    if (current.secure() && !ensure_tls()) {
      std::fprintf(stderr, "minibrowser: %s\n", tls_setup_error->message.c_str());
      return static_cast<int>(tls_setup_error->code);
    }
    pool->set_tls(tls_context.get());
    auto addr = resolve(current.host);
    if (!addr && appkit::interrupted()) return stop_interrupted();
    if (!addr) return resolve_code;
    // No route (or loopback): the kernel's connect() fails at once with ENETUNREACH; a SYN that
    // cannot leave must not be "retransmitted" for 20 s. curl: exit 7.
    if (auto reason = appkit::unreachable_reason(iface, *addr)) {
      std::fprintf(stderr, "minibrowser: Failed to connect to %s port %u: %s\n", addr->describe().c_str(),
                   static_cast<unsigned>(current.port), reason->c_str());
      return static_cast<int>(ExitCode::CannotConnect);
    }
    say(2, "fetching " + current.to_string() + " from " + addr->describe());
    std::optional<minibrowser::FetchResult> got;
    pool->set_detailed(true);
    pool->fetch(current, *addr, redirects.method(), [&](minibrowser::FetchResult r) { got = std::move(r); }, sink_for);
    pool->set_detailed(false);
    run_until([&] { return got.has_value(); }, Duration::from_secs(120));
    if (!got) {
      if (appkit::interrupted()) return stop_interrupted();
      std::fprintf(stderr, "minibrowser: %s: timed out\n", current.to_string().c_str());
      return static_cast<int>(ExitCode::TimedOut);
    }
    if (!got->response && write_error) {
      std::fprintf(stderr, "minibrowser: %s\n", write_error->c_str());
      exit_code = static_cast<int>(ExitCode::WriteError);
      break;
    }
    if (!got->response && too_large) {
      std::fprintf(stderr, "minibrowser: %s: the body is %llu bytes, more than the %zu MiB a page may have: save it with -o FILE\n",
                   current.to_string().c_str(), static_cast<unsigned long long>(*too_large),
                   http::Limits{}.max_body_bytes >> 20);
      exit_code = static_cast<int>(ExitCode::FileSizeExceeded);
      break;
    }
    if (!got->response) {
      std::fprintf(stderr, "minibrowser: %s: %s\n", current.to_string().c_str(), got->error.c_str());
      exit_code = static_cast<int>(got->code);
      break;
    }
    const auto step = redirects.on_response(*got->response);
    if (const auto* follow = std::get_if<http::RedirectFollower::Follow>(&step)) {
      say(3, "redirect " + std::to_string(got->response->status) + " → " + follow->url.to_string());
      continue;
    }
    if (const auto* failure = std::get_if<http::RedirectFailure>(&step)) {
      std::fprintf(stderr, "minibrowser: %s\n", failure->message().c_str());
      exit_code = static_cast<int>(http::exit_code(*failure));
      break;
    }
    // <meta http-equiv="refresh" content="N; url=U"> (HTML §4.2.5.3): shown in the page like w3m;
    // followed only with --follow-refresh (the user's consent, like curl's -L for redirects),
    // without waiting the N seconds, at most kMaxRefreshes times, never to the page itself.
    if (follow_refresh && !head && got->response->status < 400 && refreshes < kMaxRefreshes) {
      const auto* ct = got->response->header("Content-Type");
      const auto decoded = appkit::charset::decode_page(got->response->body, ct ? std::string_view(ct->value) : "");
      const auto r = appkit::html::render(decoded.decoded.utf8, current);
      if (r.refresh && r.refresh->url.to_string() != current.to_string()) {
        ++refreshes;
        say(3, "meta refresh (" + std::to_string(r.refresh->seconds) + " s) → " + r.refresh->url.to_string() +
                   ", followed at once (--follow-refresh)");
        redirects = http::RedirectFollower(r.refresh->url, redirects.method());
        continue;
      }
    }
    page = std::move(got);
    break;
  }

  if (page) {
    const auto& resp = *page->response;
    const auto* type = resp.header("Content-Type");
    say(3, "response: " + resp.status_line() + ", " + std::to_string(resp.body_bytes) + " bytes (" +
               http::describe(resp.framing) + ") in " + ms(page->elapsed) +
               (redirects.current().secure() ? " (the decrypted view: on the wire these were TLS records)" : ""));
    if (!resp.content_coding.empty()) {
      // RFC 9110 §8.4: the server compressed the body because we said we accept gzip/deflate.
      const double ratio = resp.decoded_bytes > 0 ? 100.0 * static_cast<double>(resp.body_bytes) /
                                                        static_cast<double>(resp.decoded_bytes)
                                                  : 100.0;
      char pct[32];
      std::snprintf(pct, sizeof pct, "%.0f", ratio);
      say(3, "content encoding: " + resp.content_coding + ", " + std::to_string(resp.body_bytes) +
                 " bytes on the wire became " + std::to_string(resp.decoded_bytes) + " bytes (" + pct + " %)");
    }
    say(4, "the browser takes the response: " + std::to_string(resp.body.size()) + " bytes of " +
               (type ? type->value : std::string("unknown type")) + " to render");
    // curl --fail: no body at all, one line on stderr, exit 22.
    const bool http_failed = fail_on_error && resp.status >= 400;
    if (http_failed) {
      exit_code = static_cast<int>(ExitCode::HttpError);
      std::fprintf(stderr, "minibrowser: The requested URL returned error: %d\n", resp.status);
    }

    // Same-host subresources, in parallel through the pool (level 6: the pool is really used).
    const std::string page_type = media_type(type);
    if (subresources && !head && resp.status < 400 && (page_type.empty() || is_html(page_type))) {
      const auto resources = appkit::html::subresources(resp.body, redirects.current());
      if (!resources.empty()) {
        say(4, "the page uses " + std::to_string(resources.size()) + " same-host subresources; fetching them through the pool");
        std::size_t done = 0, bytes = 0, failed = 0;
        const Instant start = host.now();
        for (const auto& r : resources) {
          auto addr = resolve(r.url.host);
          if (!addr) {
            ++done;
            ++failed;
            continue;
          }
          pool->fetch(r.url, *addr, http::Method::Get, [&, kind = r.kind](minibrowser::FetchResult fr) {
            ++done;
            if (fr.response) {
              bytes += fr.response->body_bytes;
              say(6, std::string("  ") + appkit::html::describe(kind) + " " + fr.url.target() + " → " +
                         std::to_string(fr.response->status) + ", " + std::to_string(fr.response->body_bytes) +
                         " bytes on connection #" + std::to_string(fr.connection) + (fr.reused ? " (reused)" : " (new)"));
            } else {
              ++failed;
              say(4, "  " + fr.url.target() + ": " + fr.error);
            }
          });
        }
        run_until([&] { return done == resources.size(); }, Duration::from_secs(120));
        if (appkit::interrupted()) return stop_interrupted();
        say(4, "subresources: " + std::to_string(done - failed) + " of " + std::to_string(resources.size()) + ", " +
                   std::to_string(bytes) + " bytes in " + ms(host.now() - start));
        say(6, "pool: " + std::to_string(pool->connections_opened()) + " connection(s) opened, at most " +
                   std::to_string(pool->max_concurrent()) + " at once (limit " + std::to_string(max_per_host) +
                   " per host), " + std::to_string(pool->reuses()) + " request(s) on reused connections");
        say(6, "pool: a limit per host is browser practice (6 in today's browsers; here --max-per-host, " +
                   std::to_string(max_per_host) + "), not a protocol rule: RFC 2616 §8.1.4 suggested 2, RFC 9112 §9.4 sets no number");
      }
    }

    // Steps 10-11: hand over and render.
    if (http_failed) {
      say(4, "--fail: the error page is not shown");
    } else if (output && !head) {
      // Streamed as it came (sink_for); an empty body never called the sink's writes but the
      // file was created at the headers, as curl does.
      const bool ok = out_file && std::fflush(out_file) == 0;
      if (out_file && out_file != stdout) std::fclose(out_file);
      out_file = nullptr;
      if (!ok) {
        std::fprintf(stderr, "minibrowser: %s\n", write_error ? write_error->c_str() : ("cannot write " + *output).c_str());
        exit_code = static_cast<int>(ExitCode::WriteError);
      } else {
        say(1, "saved " + std::to_string(streamed) + " bytes to " + *output);
      }
    } else if (head) {
      std::printf("%s\n", resp.status_line().c_str());
      for (const auto& h : resp.headers) std::printf("%s: %s\n", h.name.c_str(), h.value.c_str());
    } else if (source && (!looks_binary(resp.body) || !isatty(STDOUT_FILENO))) {
      std::fwrite(resp.body.data(), 1, resp.body.size(), stdout);
    } else if (source || (!media_type(type).empty() && !is_html(media_type(type)))) {
      // Not HTML: text as it is (text/plain, text/css); anything else as a one-line placeholder,
      // never raw bytes on a terminal (curl refuses binary output to a terminal the same way).
      const std::string mt = media_type(type);
      if (!source && mt.rfind("text/", 0) == 0 && !looks_binary(resp.body)) {
        say(4, "not HTML (" + mt + "): shown as it is");
        std::fwrite(resp.body.data(), 1, resp.body.size(), stdout);
      } else {
        say(4, "not text (" + (mt.empty() ? std::string("binary") : mt) + "): not shown; -o FILE saves it");
        std::printf("[%s, %zu bytes] (save it with -o FILE)\n", mt.empty() ? "binary data" : mt.c_str(),
                    resp.body.size());
      }
      std::fflush(stdout);
    } else {
      // HTML §13.2.3.2: the encoding from a BOM, the header's charset, a <meta>, or the bytes;
      // the text becomes UTF-8 before the parser sees it.
      const auto decoded = appkit::charset::decode_page(resp.body, type ? std::string_view(type->value) : std::string_view());
      say(4, "encoding: " + appkit::charset::describe(decoded.sniffed) + "; " + std::to_string(resp.body.size()) +
                 " bytes became " + std::to_string(decoded.decoded.utf8.size()) + " bytes of UTF-8" +
                 (decoded.decoded.replaced > 0 ? ", " + std::to_string(decoded.decoded.replaced) +
                                                     " invalid sequence(s) shown as U+FFFD"
                                               : std::string()));
      // The terminal's locale decides the output's encoding (UTF-8, and the plain C locale, as is).
      const char* codeset = nl_langinfo(CODESET);
      const bool utf8_out = appkit::charset::is_utf8_output(codeset ? codeset : "");
      appkit::html::RenderOptions ro;
      ro.width = width;
      ro.ascii = ascii || !utf8_out;
      const auto rendered = appkit::html::render(decoded.decoded.utf8, redirects.current(), ro);
      say(4, "rendered \"" + rendered.title + "\": " + std::to_string(rendered.text.size()) + " bytes of text, " +
                 std::to_string(rendered.links.size()) + " links" +
                 (utf8_out ? std::string() : std::string(", written in the locale's ") + codeset));
      say(1, "you typed " + url->to_string() + " → the page appears" +
                 (rendered.title.empty() ? std::string() : ": \"" + rendered.title + "\""));
      say(2, "the page appears:");
      const std::string text = utf8_out ? rendered.text : appkit::charset::from_utf8(rendered.text, codeset);
      std::fputs(text.c_str(), stdout);
      std::fflush(stdout);
    }
  }

  // The level-5 walk went on beside the page; it may finish now while it is getting answers.
  if (walk) walk->settle(run_until);
  if (appkit::interrupted()) return stop_interrupted();

  // --- step 13: close every connection with FIN/ACK ---------------------------------------------------------
  const Instant linger_end = host.now() + linger;
  if (pool && linger > Duration::zero()) {
    say(6, "pool: keeping idle connections open up to " + std::to_string(linger.secs()) +
               " s (--linger); whoever's idle timer runs out first sends the first FIN");
    run_until([&] { return pool->all_closed(); }, linger);
  }
  if (appkit::interrupted()) return stop_interrupted();
  if (pool) {
    pool->close_all();
    run_until([&] { return pool->all_closed(); }, Duration::from_secs(5));
    if (appkit::interrupted()) return stop_interrupted();
    // A connection that failed in the last turn was aborted there: one more turn of the stack so
    // that its RST leaves before we exit (the server would hold the connection otherwise).
    host.step(host.now());
    // --linger: the rest of it watches our TIME-WAIT records end (time_wait.hpp).
    if (linger > Duration::zero() && host.now() < linger_end) {
      run_until([&] { return !pool->time_wait_pending(); }, linger_end - host.now());
      if (appkit::interrupted()) return stop_interrupted();
    }
    if (linger > Duration::zero()) {
      for (const auto& line : pool->time_wait_at_exit()) say(6, line);
    }
  }
  citer.flush();
  if (narrator.wants(7)) {
    for (const auto& line : nat.mappings()) say(7, line);
  }
  if (level >= 6 && !outputs.pcap.empty()) {
    std::vector<std::byte> storage;
    auto read = appkit::pcap::read_file(outputs.pcap, storage);
    if (auto* cap = std::get_if<appkit::pcap::Capture>(&read)) {
      for (const auto& line : appkit::explain::summary(appkit::analysis::analyze(*cap))) say(6, line);
    }
  }
  if (net.stats) host.print_stats(stderr);
  return exit_code;
}
