// Command-line parsing shared by minibrowser and ustack.
//
// The common network options (one contract, kept by every program):
//   --tap NAME | --iface NAME  --mac MAC  --ip ADDR/PREFIX --gateway ADDR --dns ADDR  --hosts FILE  --pcap FILE
//   --drop-chance P --corrupt-chance P --reorder-chance P --seed N  --stats  --help  --version
// Options take their value as `--name value` or `--name=value`; a one-letter option also glued to
// it, `-c1` or `-m5`, as getopt(3) accepts (POSIX Utility Syntax Guideline 5 and 6).
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace appkit {

// Exit codes, in curl's habits where curl has one (docs/architecture.md "Errors").
enum class ExitCode : int {
  Ok = 0,
  Failure = 1,          // generic failure; curl: unsupported protocol (ftp://, ...)
  Usage = 2,            // bad command line, missing TAP device, no permission
  MalformedUrl = 3,     // curl: URL using bad/illegal format
  CannotResolve = 6,    // curl: couldn't resolve host
  CannotConnect = 7,    // curl: failed to connect
  PartialFile = 18,     // curl: transfer closed with outstanding data remaining
  HttpError = 22,       // curl: HTTP status >= 400 with --fail
  WriteError = 23,      // curl: failure writing the output (-o FILE unwritable, disk full)
  TimedOut = 28,        // curl: operation timed out
  SslConnect = 35,      // curl: SSL connect error (the TLS handshake failed)
  TooManyRedirects = 47,  // curl: maximum redirects followed (a loop included)
  EmptyReply = 52,      // curl: the server closed without sending anything
  SendError = 55,       // curl: failed sending network data
  RecvError = 56,       // curl: failure receiving network data (connection reset, TLS truncation)
  PeerFailedVerification = 60,  // curl: the server's certificate could not be verified
  BadContentEncoding = 61,  // curl: unrecognized or bad content encoding (gzip/deflate that does not decode)
  FileSizeExceeded = 63,    // curl: maximum file size exceeded (a body that decodes past the bound)
  SslCaCertBadFile = 77,  // curl: the --cacert file could not be read
};

// Which driver Host opens: a TAP device (--tap, the default) or an existing interface through an
// AF_PACKET socket (--iface, drivers/packet_device.hpp).
enum class LinkDriver { Tap, Packet };

struct NetOptions {
  // The link's name: the TAP's (--tap, default tap0) or, with driver Packet, the interface's
  // (--iface). Everything that names the link (lease files, messages) reads it from here.
  std::string tap = "tap0";
  LinkDriver driver = LinkDriver::Tap;
  bool tap_given = false;               // --tap appeared (with --iface: a usage error)
  // Attach to an existing TAP only: a mistyped --tap must not create a fresh, unconnected device
  // (as root TUNSETIFF would) and then wait for DHCP on it. --create-tap asks for one explicitly.
  bool create_tap = false;
  std::optional<std::string> mac;       // default: a stable locally administered address
  std::optional<std::string> ip;        // ADDR/PREFIX; without it the program runs DHCP
  std::optional<std::string> gateway;
  std::optional<std::string> dns;
  std::string hosts = "/etc/hosts";
  std::optional<std::string> pcap;
  double drop_chance = 0.0;
  double corrupt_chance = 0.0;
  double reorder_chance = 0.0;          // each frame held back 0..5 ms (drivers/fault_injector.hpp)
  std::uint64_t seed = 1;
  bool stats = false;
  // RFC 5227 §2.1: probe a static --ip before using it (about 0.45 s); --no-acd skips the probe.
  bool acd = true;
  // Receive offloads through the virtio-net header (TAP IFF_VNET_HDR, AF_PACKET PACKET_VNET_HDR):
  // the kernel hands over TCP super-frames (GRO/GSO) with checksums left for us to complete, so a
  // bulk download costs one read per ~64 KiB instead of per 1.5 KiB. --no-offload: one wire-sized
  // frame per read, as the frames were on the wire.
  bool offload = true;
  // How long a connection we closed first stays in TIME-WAIT (2·MSL, RFC 9293 §3.4.2), in
  // seconds; 0 keeps the stack's default (60 s, as Linux). Only `ustack serve --time-wait` sets it.
  std::uint64_t time_wait_seconds = 0;
};

// A tiny declarative parser: register options, then parse argv.
class ArgParser {
 public:
  explicit ArgParser(std::string program, std::string usage);

  void flag(const std::string& name, std::string help, std::function<void()> on_set);
  void option(const std::string& name, std::string metavar, std::string help,
              std::function<bool(const std::string&)> on_value);
  void add_net_options(NetOptions& net);

  // Parses; returns the positional arguments, or an error message.
  struct Result {
    std::vector<std::string> positional;
    std::optional<std::string> error;
    bool help = false;
    bool version = false;
    bool man = false;           // --help-man: the manual page (roff) on stdout
    bool list_options = false;  // --list-options: every option name, one a line (bash completion)
  };
  Result parse(const std::vector<std::string>& args) const;
  std::string help_text() const;
  // The one place that answers --help (usage on stdout), --version ("NAME VERSION" on stdout) and
  // a parse error ("PROGRAM: error" on stderr): the exit code to return at once (0, 0, 2), or
  // nothing when the program should go on. --help and --version win over every other argument
  // and never touch the network.
  // --help-man and --list-options too: the manual page and the completion words come from the
  // same table as --help, so none of the three can drift from the options.
  std::optional<int> early_exit(const Result& result, std::FILE* out = stdout, std::FILE* err = stderr) const;
  // The manual page (man(7) macros) of this program: NAME with `summary`, SYNOPSIS, every option
  // with its help, then the extra sections.
  std::string man_page() const;
  void set_summary(std::string summary) { summary_ = std::move(summary); }
  void add_man_section(std::string title, std::string text) { sections_.emplace_back(std::move(title), std::move(text)); }
  const std::string& program() const { return program_; }

 private:
  struct Spec {
    std::string metavar;  // empty for flags
    std::string help;
    std::function<void()> on_flag;
    std::function<bool(const std::string&)> on_value;
  };
  std::string program_;
  std::string usage_;
  std::string summary_;
  std::vector<std::pair<std::string, std::string>> sections_;
  std::map<std::string, Spec> specs_;
  std::vector<std::function<std::optional<std::string>()>> checks_;  // run after parsing: errors
  std::vector<std::string> order_;
};

bool parse_probability(const std::string& text, double& out);
bool parse_u64(const std::string& text, std::uint64_t& out);

}  // namespace appkit
