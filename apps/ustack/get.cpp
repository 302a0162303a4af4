// ustack get: a plain download over our own stack — no rendering — for bulk tests and benchmarks,
// in curl's habits (exit codes, -o, -f, -L, -r, --connect-timeout, -m, -k, --cacert).
//
//   ustack get --ip 10.77.0.70/24 --gateway 10.77.0.1 http://203.0.113.80/big.bin -o big.bin
//   ustack get ... https://www.domain.com/big.bin -o big.bin   (TLS over our TCP, verified like curl:
//                                 the system store or $SSL_CERT_FILE, --cacert FILE, -k to skip)
//   ustack get ... -r 0-104857599 http://203.0.113.80/big.bin -o part.bin     (a Range, like curl -r)
//   ustack get ... --repeat 500 -o /dev/null http://203.0.113.80/   (connection set-up rate)
//   ustack get ... -T FILE tcp://10.77.0.1:9000        (upload: send FILE raw, FIN, read until the
//                                                      peer's FIN; what comes back goes to -o)
//
// Names: an IPv4 literal, else the hosts file (--hosts, default /etc/hosts), else DNS over our
// stack (c-ares, apps/common/dns_resolver.hpp) with --dns or DHCP's servers.
// stderr gets "* " progress lines with -v (curl -v habits: "> " request, "< " response headers) and
// always a one-line summary: status, bytes, time, MB/s. -s silences everything but errors.
//
// Exit codes (curl's): 0 ok; 6 cannot resolve; 7 cannot connect (refused, unreachable); 18 the
// body ended early; 22 HTTP status >= 400 with --fail; 23 cannot write -o; 28 timed out; 35 TLS
// handshake failed; 47 too many redirects (a loop too); 52 empty reply; 55/56 send/receive failure
// (reset, a TLS close without close_notify); 60 certificate not verified; 77 bad --cacert file;
// 3 malformed URL; 1 unsupported scheme (ftp://) and anything else; 2 usage; 130/143 SIGINT/SIGTERM.
// A URL without a scheme is http://.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "apps/common/cli.hpp"
#include "apps/common/dns_resolver.hpp"
#include "apps/common/host.hpp"
#include "apps/common/hosts_file.hpp"
#include "apps/common/http_client.hpp"
#include "apps/common/http_stream.hpp"
#include "apps/common/interrupt.hpp"
#include "apps/common/network_setup.hpp"
#include "apps/common/tcp_stream.hpp"
#include "apps/common/tls.hpp"
#include "apps/common/transfer_report.hpp"
#include "apps/common/url.hpp"
#include "apps/common/version.hpp"
#include "apps/ustack/commands.hpp"

namespace ustack_cli {

namespace {

using appkit::ExitCode;
using appkit::IoStatus;
using stack::Duration;
using stack::Instant;
namespace http = appkit::http;

int code(ExitCode c) { return static_cast<int>(c); }

bool parse_seconds(const std::string& text, Duration& out) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !(v >= 0.0) || v > 86400.0) return false;
  out = Duration::from_micros(static_cast<std::int64_t>(v * 1e6));
  return true;
}

double secs(Duration d) { return static_cast<double>(d.micros()) / 1e6; }
double mbps(std::uint64_t bytes, Duration d) { return d.micros() > 0 ? static_cast<double>(bytes) / static_cast<double>(d.micros()) : 0.0; }

struct Options {
  std::string url;
  std::string output = "-";
  bool fail = false;
  bool follow = false;
  std::uint64_t max_redirs = 10;
  std::optional<std::string> range;
  std::optional<std::string> upload;
  std::vector<http::Header> headers;
  Duration connect_timeout = Duration::from_secs(30);
  std::optional<Duration> max_time;
  bool head = false;
  bool silent = false;
  bool verbose = false;
  std::uint64_t repeat = 1;
  bool compressed = false;             // --compressed: ask for gzip/deflate and decode (curl's option)
  std::uint64_t max_filesize = 0;      // --max-filesize: bound on the decoded body (0: none)
  appkit::tls::Config tls;
  std::optional<std::string> write_out;  // -w FORMAT (curl's variables), printed on stdout
  bool progress_bar = false;             // -#: a bar instead of the meter
};

// Where the program's messages go: "* " lines with -v, the summary unless -s.
struct Say {
  const Options& o;
  std::string* last_error = nullptr;                       // for -w's %{errormsg}
  std::optional<appkit::ProgressMeter>* meter = nullptr;   // its line is ended before an error
  void info(const std::string& s) const {
    if (o.verbose) std::fprintf(stderr, "* %s\n", s.c_str());
  }
  void error(const std::string& s) const {
    if (meter && *meter) (*meter)->close();
    if (last_error) *last_error = s;
    std::fprintf(stderr, "ustack get: %s\n", s.c_str());
  }
};

// The output file, opened lazily so that a failed connect leaves no empty file (curl does the same).
class Output {
 public:
  explicit Output(std::string path) : path_(std::move(path)) {}
  ~Output() {
    if (file_ && file_ != stdout) std::fclose(file_);
  }
  bool write(std::span<const std::byte> data) {
    if (!file_ && !open()) return false;
    if (std::fwrite(data.data(), 1, data.size(), file_) != data.size()) {
      error_ = path_ + ": " + std::strerror(errno);
      return false;
    }
    return true;
  }
  bool finish() {
    if (!file_ && !open()) return false;  // an empty body still makes the (empty) file
    if (std::fflush(file_) != 0) {
      error_ = path_ + ": " + std::strerror(errno);
      return false;
    }
    return true;
  }
  const std::string& error() const { return error_; }

 private:
  bool open() {
    if (path_ == "-") {
      file_ = stdout;
    } else {
      file_ = std::fopen(path_.c_str(), "wb");
      if (!file_) {
        error_ = "cannot write " + path_ + ": " + std::strerror(errno);
        return false;
      }
    }
    buffer_.resize(1 << 20);
    std::setvbuf(file_, buffer_.data(), _IOFBF, buffer_.size());
    return true;
  }
  std::string path_;
  std::FILE* file_ = nullptr;
  std::vector<char> buffer_;
  std::string error_;
};

struct Resolved {
  std::optional<stack::wire::Ipv4Address> address;
  ExitCode code = ExitCode::Ok;
  std::string message;
};

Resolved resolve_name(appkit::Host& host, const appkit::NetOptions& net, const appkit::NetworkSetup& setup,
                      const std::string& name, const Say& say) {
  auto r = appkit::resolve_host(host, net, setup, name);
  if (!r.address) return {std::nullopt, ExitCode::CannotResolve, r.error};
  if (r.how != "literal") say.info("Host " + name + " is " + r.address->describe() + " (" + r.how + ")");
  return {r.address, ExitCode::Ok, {}};
}

// --- upload: tcp://HOST:PORT ------------------------------------------------------------------------

int run_upload(appkit::Host& host, const appkit::NetOptions& net, const appkit::NetworkSetup& setup,
               const Options& o, const Say& say, std::optional<Instant> deadline) {
  const std::string rest = o.url.substr(6);
  const auto colon = rest.rfind(':');
  std::uint64_t port = 0;
  if (colon == std::string::npos || !appkit::parse_u64(rest.substr(colon + 1), port) || port == 0 || port > 65535) {
    say.error("bad URL '" + o.url + "': expected tcp://HOST:PORT");
    return code(ExitCode::Usage);
  }
  std::FILE* in = std::fopen(o.upload->c_str(), "rb");
  if (!in) {
    say.error("cannot read " + *o.upload + ": " + std::strerror(errno));
    return code(ExitCode::Failure);
  }
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> in_guard(in, std::fclose);
  const auto resolved = resolve_name(host, net, setup, rest.substr(0, colon), say);
  if (!resolved.address) {
    say.error(resolved.message);
    return code(resolved.code);
  }
  const Instant start = host.now();
  Instant connect_deadline = start + o.connect_timeout;
  if (deadline) connect_deadline = std::min(connect_deadline, *deadline);
  auto connected = appkit::TcpStream::connect(host, *resolved.address, static_cast<std::uint16_t>(port), connect_deadline);
  if (!connected) {
    say.error(connected.error().message);
    return code(exit_code(connected.error().error));
  }
  auto& s = *connected;
  say.info("Connected to " + resolved.address->describe() + " port " + std::to_string(port) + " from " +
           s.local().addr.describe() + ":" + std::to_string(s.local().port));
  const Instant established = host.now();
  std::vector<std::byte> buf(256 * 1024);
  for (;;) {
    const std::size_t n = std::fread(buf.data(), 1, buf.size(), in);
    if (n == 0) break;
    auto w = s.write_all(std::span(buf).first(n), deadline);
    if (w.status != IoStatus::Ok) {
      say.error("upload failed after " + std::to_string(s.bytes_written()) + " bytes: " + describe(*w.error));
      s.abort();
      host.flush();
      return code(exit_code(*w.error));
    }
  }
  if (std::ferror(in)) {
    say.error("reading " + *o.upload + ": " + std::strerror(errno));
    s.abort();
    return code(ExitCode::Failure);
  }
  s.shutdown_write();
  // The peer's answer (if any) goes to -o; its FIN ends the exchange.
  Output out(o.output);
  for (;;) {
    auto r = s.read(buf, deadline);
    if (r.status == IoStatus::Eof) break;
    if (r.status == IoStatus::Error) {
      say.error("after sending " + std::to_string(s.bytes_written()) + " bytes: " + describe(*r.error));
      s.abort();
      host.flush();
      return code(exit_code(*r.error));
    }
    if (!out.write(std::span(buf).first(r.bytes))) {
      say.error(out.error());
      return code(ExitCode::WriteError);
    }
  }
  const bool acked = s.wait_sent(host.now() + Duration::from_secs(5));
  const Instant done = host.now();
  const std::uint64_t sent = s.bytes_written();
  s.close();
  s.wait_closed(host.now() + Duration::from_secs(1));
  if (!acked) {
    say.error("the peer did not acknowledge all " + std::to_string(sent) + " bytes");
    return code(ExitCode::SendError);
  }
  if (!o.silent) {
    std::fprintf(stderr, "ustack get: sent %llu bytes to %s in %.3f s (%.2f MB/s), received %llu\n",
                 static_cast<unsigned long long>(sent), o.url.c_str(), secs(done - established),
                 mbps(sent, done - established), static_cast<unsigned long long>(s.bytes_read()));
  }
  return 0;
}

}  // namespace

int run_get(const std::vector<std::string>& args) {
  appkit::NetOptions net;
  Options o;
  appkit::ArgParser parser("ustack get", "ustack get [options] URL [-o FILE]   |   ustack get [options] -T FILE tcp://HOST:PORT");
  parser.set_summary("download a URL over the user-space stack, in the habits of curl");
  parser.add_man_section("Exit status",
                         "curl's codes: 0 success; 1 unsupported scheme or another failure; 2 usage, a missing TAP "
                         "device or no permission; 3 malformed URL; 6 cannot resolve; 7 cannot connect (refused, no "
                         "route); 18 body cut short; 22 HTTP status >= 400 with -f; 23 cannot write -o; 28 timed out; "
                         "35 TLS handshake failed; 47 too many redirects; 52 empty reply; 55/56 send/receive failure; "
                         "60 certificate not verified; 61 bad content encoding; 63 decoded past --max-filesize; 77 "
                         "unreadable --cacert; 130/143 SIGINT/SIGTERM (the connection is reset first).");
  parser.option("-o", "FILE", "write the body to FILE ('-': stdout, the default)", [&](const std::string& v) {
    o.output = v;
    return !v.empty();
  });
  parser.flag("-f", "fail (exit 22) on HTTP status >= 400, writing no body (curl -f)", [&] { o.fail = true; });
  parser.flag("--fail", "same as -f", [&] { o.fail = true; });
  parser.flag("-L", "follow redirects (301, 302, 303, 307, 308)", [&] { o.follow = true; });
  parser.flag("--compressed", "ask for gzip or deflate and write the body decoded (curl --compressed)",
              [&] { o.compressed = true; });
  parser.option("--max-filesize", "BYTES", "refuse a compressed body that decodes to more than BYTES (exit 63)",
                [&](const std::string& v) { return appkit::parse_u64(v, o.max_filesize) && o.max_filesize > 0; });
  parser.option("--max-redirs", "N", "at most N redirects with -L (default 10)",
                [&](const std::string& v) { return appkit::parse_u64(v, o.max_redirs); });
  parser.option("-r", "RANGE", "ask for bytes A-B only (a Range: bytes=A-B header, like curl -r)", [&](const std::string& v) {
    o.range = v;
    return !v.empty() && v.find_first_not_of("0123456789-,") == std::string::npos;
  });
  parser.option("-H", "'NAME: VALUE'", "add a request header", [&](const std::string& v) {
    const auto colon = v.find(':');
    if (colon == std::string::npos || colon == 0) return false;
    std::string value = v.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    o.headers.push_back({v.substr(0, colon), value});
    return true;
  });
  parser.flag("-I", "HEAD instead of GET: print the response headers", [&] { o.head = true; });
  parser.option("-T", "FILE", "upload FILE raw to a tcp://HOST:PORT URL, then half-close", [&](const std::string& v) {
    o.upload = v;
    return !v.empty();
  });
  parser.option("--connect-timeout", "SECONDS", "give up connecting after SECONDS (default 30; exit 28)",
                [&](const std::string& v) { return parse_seconds(v, o.connect_timeout); });
  parser.option("-m", "SECONDS", "give up the whole transfer after SECONDS (exit 28)", [&](const std::string& v) {
    Duration d;
    if (!parse_seconds(v, d)) return false;
    o.max_time = d;
    return true;
  });
  parser.option("--repeat", "N", "do the transfer N times, each on a new connection (Connection: close), and print the rate",
                [&](const std::string& v) { return appkit::parse_u64(v, o.repeat) && o.repeat > 0; });
  parser.flag("-k", "https: do not verify the server's certificate (a warning says what was wrong)",
              [&] { o.tls.verify = false; });
  parser.flag("--insecure", "same as -k", [&] { o.tls.verify = false; });
  parser.option("--cacert", "FILE", "https: trust only the CA certificates in FILE (PEM) instead of the system store",
                [&](const std::string& v) {
                  o.tls.ca_file = v;
                  return !v.empty();
                });
  parser.option("--keylog", "FILE", "https: append the TLS secrets to FILE for Wireshark (default: $SSLKEYLOGFILE)",
                [&](const std::string& v) {
                  o.tls.keylog_file = v;
                  return !v.empty();
                });
  parser.flag("--no-sessionid", "https: never resume a TLS session (every --repeat connection a full handshake)",
              [&] { o.tls.resume = false; });
  auto set_write_out = [&](const std::string& v) {
    if (v.size() > 1 && v[0] == '@') {  // curl: -w @FILE reads the format from FILE ('-': stdin)
      std::FILE* f = v == "@-" ? stdin : std::fopen(v.c_str() + 1, "rb");
      if (!f) return false;
      std::string text;
      char chunk[4096];
      std::size_t n = 0;
      while ((n = std::fread(chunk, 1, sizeof chunk, f)) > 0) text.append(chunk, n);
      if (f != stdin) std::fclose(f);
      o.write_out = text;
      return true;
    }
    o.write_out = v;
    return true;
  };
  parser.option("-w", "FORMAT",
                "after the transfer print FORMAT on stdout with curl's %{variables}: time_namelookup, time_connect, "
                "time_appconnect, time_pretransfer, time_starttransfer, time_redirect, time_total, speed_download, "
                "http_code, size_download, size_header, size_request, num_redirects, num_connects, url_effective, "
                "content_type, remote_ip, remote_port, local_ip, local_port, scheme, exitcode, errormsg; \\n, \\t "
                "and %% as in curl; @FILE reads FORMAT from FILE",
                set_write_out);
  parser.option("--write-out", "FORMAT", "same as -w", set_write_out);
  parser.flag("-#", "a bar of '#' instead of the progress meter (curl -#)", [&] { o.progress_bar = true; });
  parser.flag("--progress-bar", "same as -#", [&] { o.progress_bar = true; });
  parser.flag("-s", "silent: no summary and no progress meter (errors are still printed); the meter shows only "
              "when stderr is a terminal and the body does not go to it",
              [&] { o.silent = true; });
  parser.flag("-v", "verbose: connection steps and the request and response headers", [&] { o.verbose = true; });
  parser.add_net_options(net);
  const auto parsed = parser.parse(args);
  if (const auto rc = parser.early_exit(parsed)) return *rc;
  std::string last_error;
  std::optional<appkit::ProgressMeter> meter;
  const Say say{o, &last_error, &meter};
  if (parsed.positional.size() != 1) {
    say.error("give exactly one URL (see ustack get --help)");
    return code(ExitCode::Usage);
  }
  o.url = parsed.positional[0];
  const bool tcp_url = o.url.rfind("tcp://", 0) == 0;
  if (tcp_url != o.upload.has_value()) {
    say.error(tcp_url ? "a tcp:// URL needs -T FILE" : "-T FILE needs a tcp://HOST:PORT URL");
    return code(ExitCode::Usage);
  }
  std::optional<appkit::Url> first_url;
  if (!tcp_url) {
    // As curl: a URL without a scheme means http:// ("www.domain.com/x").
    auto u = appkit::Url::parse_user_input(o.url);
    if (!u) {
      say.error("bad URL '" + o.url + "': " + appkit::describe(u.error()));
      return code(appkit::exit_code(u.error()));
    }
    first_url = *u;
  }

  appkit::install_interrupt_handlers();
  auto opened = appkit::Host::open(net);
  if (!opened) {
    say.error(opened.error().message);
    return code(opened.error().code);
  }
  auto& host = **opened;
  auto network = appkit::setup_network(host, net, [&](const std::string& text, bool eol) {
    if (o.verbose) {
      std::fputs(text.c_str(), stderr);
      if (eol) std::fputc('\n', stderr);
    }
  });
  if (!network) {
    say.error(network.error().message);
    return code(network.error().code);
  }
  const auto& setup = *network;
  const Instant start = host.now();
  const std::optional<Instant> deadline = o.max_time ? std::optional(start + *o.max_time) : std::nullopt;
  auto finish = [&](int rc) {
    if (rc != 0 && appkit::interrupted()) rc = appkit::interrupt_exit_code();
    if (net.stats) host.print_stats(stderr);
    return rc;
  };
  if (tcp_url) return finish(run_upload(host, net, setup, o, say, deadline));

  Output out(o.output);
  std::vector<std::byte> buf(64 * 1024);
  Duration connect_total;
  std::uint64_t tls_handshakes = 0, tls_resumed = 0;  // for the --repeat summary
  // One TLS context for the whole run (created at the first https URL): its session cache lets
  // --repeat and redirects resume.
  std::unique_ptr<appkit::tls::Context> tls_context;
  // Null for plain http; the error is the line to print.
  auto tls_for = [&](const appkit::Url& url) -> stack::Result<appkit::tls::Context*, std::string> {
    if (!url.secure()) return nullptr;
    if (!tls_context) {
      auto created = appkit::tls::Context::create(o.tls);
      if (!created) return stack::Err{created.error().message};
      tls_context = std::move(*created);
      if (!tls_context->keylog_path().empty()) say.info("TLS key log: " + tls_context->keylog_path());
    }
    return tls_context.get();
  };
  // The connection of the current transfer, kept alive across redirects to the same origin. It
  // outlives fetch_once so that every way out of it ends the connection on the wire: a FIN that is
  // only queued when the process exits never leaves (nginx would keep the connection).
  std::optional<appkit::HttpStream> stream;
  std::optional<appkit::Url> stream_origin;
  auto end_stream = [&]() {
    if (!stream) return;
    stream->close();  // close_notify (TLS), then FIN; a no-op after an abort (the RST already left)
    stream->wait_closed(host.now() + Duration::from_millis(500));
    stream.reset();
    stream_origin.reset();
  };
  // -w and the progress meter (curl's): what the current transfer did, and when.
  appkit::TransferInfo info;
  const bool meter_wanted = !o.silent && !o.verbose && o.repeat == 1 && isatty(STDERR_FILENO) &&
                            !(o.output == "-" && isatty(STDOUT_FILENO));
  Instant fetch_start = start;
  // One transfer (with its redirects); 0 or the exit code (the stats already printed).
  auto fetch_once = [&]() -> int {
    info = appkit::TransferInfo{};
    last_error.clear();
    fetch_start = host.now();
    auto since = [&](Instant t) { return secs(t - fetch_start); };
    if (meter_wanted) meter.emplace(stderr, o.progress_bar);
    std::optional<std::uint64_t> expected_length;
    http::RedirectFollower follower(*first_url, o.head ? http::Method::Head : http::Method::Get,
                                    static_cast<std::size_t>(o.max_redirs));
    std::uint64_t body_written = 0;
    Duration connect_time;
    Instant transfer_start = start;
    // A response that failed half-way: the connection ends with a RST, so the server stops at once
    // (a FIN would only ask it to finish), and the loop turns briefly so that the RST leaves before
    // we exit.
    auto abandon = [&] {
      if (!stream || !stream->tcp().is_open()) return;
      stream->abort();
      host.flush();  // at once: after SIGINT/SIGTERM run_until returns without a turn
      host.run_until([] { return false; }, host.now() + Duration::from_millis(20));
    };

    for (;;) {
      const appkit::Url url = follower.current();
      const http::Method method = follower.method();
      if (!stream || !stream_origin || !stream_origin->same_origin(url)) {
        stream.reset();
        const auto resolved = resolve_name(host, net, setup, url.host, say);
        if (!resolved.address) {
          say.error(resolved.message);
          return finish(code(resolved.code));
        }
        info.time_namelookup = since(host.now());
        info.remote_ip = resolved.address->describe();
        info.remote_port = url.port;
        say.info("Trying " + resolved.address->describe() + ":" + std::to_string(url.port) + "...");
        const Instant t0 = host.now();
        Instant connect_deadline = t0 + o.connect_timeout;
        if (deadline) connect_deadline = std::min(connect_deadline, *deadline);
        auto context = tls_for(url);
        if (!context) {
          say.error(context.error());
          return finish(code(ExitCode::SslCaCertBadFile));
        }
        appkit::tls::Context* tls = *context;
        auto connected = appkit::TcpStream::connect(host, *resolved.address, url.port, connect_deadline);
        if (!connected) {
          say.error(connected.error().message);
          return finish(code(exit_code(connected.error().error)));
        }
        stream.emplace(std::move(*connected), tls, url);
        stream_origin = url;
        info.time_connect = since(host.now());
        ++info.num_connects;
        info.local_ip = stream->tcp().local().addr.describe();
        info.local_port = stream->tcp().local().port;
        connect_time = host.now() - t0;
        connect_total += connect_time;
        say.info("Connected to " + url.host + " (" + resolved.address->describe() + ") port " + std::to_string(url.port) +
                 " from " + stream->tcp().local().addr.describe() + ":" + std::to_string(stream->tcp().local().port) +
                 " in " + std::to_string(connect_time.micros() / 1000) + " ms");
        if (tls) {
          const Instant h0 = host.now();
          if (auto shaken = stream->handshake(deadline); !shaken) {
            const auto& failed = shaken.error();
            say.error(failed.timed_out ? "Operation timed out during the TLS handshake with " + url.host
                                       : failed.message);
            if (failed.timed_out || failed.interrupted) {
              abandon();  // -m, SIGINT or SIGTERM: RST, as everywhere else
            } else {
              stream->tcp().close();
              stream->wait_closed(host.now() + Duration::from_millis(200));
            }
            stream.reset();
            stream_origin.reset();
            return finish(code(failed.code));
          }
          info.time_appconnect = since(host.now());
          const auto* t = stream->tls();
          ++tls_handshakes;
          if (t->resumed()) ++tls_resumed;
          say.info("TLS handshake in " + std::to_string((host.now() - h0).micros() / 1000) + " ms: " + t->version() +
                   " / " + t->cipher() + (t->resumed() ? " (session resumed)" : "") +
                   (t->alpn().empty() ? ", no ALPN" : ", ALPN " + t->alpn()));
          const auto chain = t->peer_chain();
          if (!chain.empty()) {
            say.info("Server certificate: subject " + chain[0].subject + ", issuer " + chain[0].issuer + ", valid " +
                     chain[0].not_before + " to " + chain[0].not_after);
          }
          if (o.tls.verify) {
            const auto anchor = t->trust_anchor();
            say.info("SSL certificate verify ok: " + t->matched_name() + " matches " + url.host + ", chain ends at " +
                     (anchor ? anchor->subject : std::string("?")) + " from " + tls_context->trust_description());
          } else if (!o.silent) {
            std::fprintf(stderr, "ustack get: warning: --insecure: the certificate of %s is not verified%s\n",
                         url.host.c_str(), t->insecure_problem().empty() ? "" : (" (" + t->insecure_problem() + ")").c_str());
          }
        }
      } else {
        say.info("Re-using existing connection with host " + url.host);
      }

      http::RequestOptions ro;
      ro.method = method;
      ro.keep_alive = o.repeat == 1;
      ro.accept = "*/*";
      ro.accept_encoding = o.compressed ? "gzip, deflate" : "identity";
      ro.extra = o.headers;
      if (o.range) ro.extra.push_back({"Range", "bytes=" + *o.range});
      std::string request = http::build_request(url, ro);
      if (auto at = request.find("User-Agent: minibrowser/"); at != std::string::npos) {
        request.replace(at, std::strlen("User-Agent: minibrowser"), "User-Agent: ustack-get");
      }
      if (o.verbose) {
        for (const auto& line : http::request_lines(request)) std::fprintf(stderr, "> %s\n", line.c_str());
        std::fprintf(stderr, ">\n");
      }

      // The body goes to the file unless this response is a redirect we follow or a failure with -f.
      bool to_file = true;
      http::Limits limits;
      limits.decode_content = o.compressed;
      limits.max_decoded_bytes = o.max_filesize;
      http::ResponseParser response_parser(limits);
      response_parser.set_headers_hook([&](const http::Response& r) {
        info.http_code = r.status;
        info.size_header += r.status_line().size() + 4;  // the CRLF after it and the empty line
        for (const auto& h : r.headers) info.size_header += h.name.size() + h.value.size() + 4;
        if (const auto* ct = r.header("Content-Type")) info.content_type = ct->value;
        if (o.verbose) {
          std::fprintf(stderr, "< %s\n", r.status_line().c_str());
          for (const auto& h : r.headers) std::fprintf(stderr, "< %s: %s\n", h.name.c_str(), h.value.c_str());
          std::fprintf(stderr, "<\n");
        }
        const bool redirect = o.follow && http::is_redirect(r.status) && r.header("Location");
        to_file = !redirect && !(o.fail && r.status >= 400);
        expected_length = to_file && !o.compressed ? r.content_length : std::nullopt;
        if (o.head && to_file) {
          // -I: the headers are the output.
          std::string text = r.status_line() + "\r\n";
          for (const auto& h : r.headers) text += h.name + ": " + h.value + "\r\n";
          text += "\r\n";
          out.write(std::as_bytes(std::span(text.data(), text.size())));
        }
      });
      bool write_failed = false;
      response_parser.set_body_sink([&](std::span<const std::byte> data) {
        if (!to_file) return true;
        if (!out.write(data)) {
          write_failed = true;
          return false;
        }
        body_written += data.size();
        info.size_download = body_written;
        return true;
      });
      response_parser.start(method);
      transfer_start = host.now();
      info.url_effective = url.to_string();
      info.scheme = url.secure() ? "HTTPS" : "HTTP";
      info.time_pretransfer = since(transfer_start);
      info.size_request += request.size();
      bool first_byte = true;
      auto w = stream->write_all(std::as_bytes(std::span(request.data(), request.size())), deadline);
      if (w.status != IoStatus::Ok) {
        say.error("sending the request: " + w.error->message);
        abandon();
        return finish(code(w.error->code));
      }
      auto state = http::ResponseParser::State::NeedMore;
      while (state == http::ResponseParser::State::NeedMore) {
        auto r = stream->read(buf, deadline);
        if (r.status == IoStatus::Ok) {
          if (first_byte) info.time_starttransfer = since(host.now());
          first_byte = false;
          state = response_parser.feed(std::span<const std::byte>(buf).first(r.bytes));
          if (meter) meter->update(secs(host.now() - transfer_start), body_written, expected_length);
        } else if (r.status == IoStatus::Eof) {
          state = response_parser.finish();
        } else if (r.error->truncated && response_parser.finish() != http::ResponseParser::State::Complete) {
          state = http::ResponseParser::State::Error;  // the framing says what is missing (18, 52)
        } else {
          // -m, SIGINT or SIGTERM with the response still coming: RST, as a kernel does when the
          // process closes with unread data, so the server stops sending at once (a FIN would
          // leave it retransmitting into a port nobody reads, and a later run on the same
          // address would receive the strays).
          if (r.error->interrupted) {
            say.error(std::string(appkit::interrupt_description()) + " after " + std::to_string(body_written) +
                      " bytes: connection reset (RST sent)");
          } else if (r.error->timed_out) {
            say.error("Operation timed out after " + std::to_string((host.now() - start).millis()) + " ms with " +
                      std::to_string(body_written) + " bytes received");
          } else {
            say.error("Recv failure: " + r.error->message + " after " + std::to_string(body_written) + " bytes");
          }
          abandon();
          return finish(code(r.error->code));
        }
      }
      if (write_failed) {
        abandon();  // the rest of the body will not be read: RST, as a kernel does
        say.error(out.error());
        return finish(code(ExitCode::WriteError));
      }
      if (state == http::ResponseParser::State::Error) {
        const auto& e = response_parser.error();
        say.error(e.message());
        stream->close();  // the server has usually closed already (18, 52): our FIN answers it
        stream->wait_closed(host.now() + Duration::from_millis(200));
        if (e.kind == http::ParseError::Truncated) return finish(code(ExitCode::PartialFile));
        if (e.kind == http::ParseError::EmptyReply) return finish(code(ExitCode::EmptyReply));
        if (e.kind == http::ParseError::BadContentEncoding) return finish(code(ExitCode::BadContentEncoding));
        if (e.kind == http::ParseError::DecodedTooLarge) return finish(code(ExitCode::FileSizeExceeded));
        return finish(code(ExitCode::Failure));
      }
      const http::Response& response = response_parser.response();
      if (!response_parser.reusable()) end_stream();  // close_notify (TLS), then FIN, and it leaves before we go on

      if (o.follow) {
        auto step = follower.on_response(response);
        if (auto* f = std::get_if<http::RedirectFollower::Follow>(&step)) {
          say.info("Following redirect to " + f->url.to_string());
          ++info.num_redirects;
          info.time_redirect = since(host.now());
          continue;
        }
        if (auto* rf = std::get_if<http::RedirectFailure>(&step)) {
          say.error(rf->message());
          return finish(code(http::exit_code(*rf)));
        }
      }
      if (!out.finish()) {
        say.error(out.error());
        return finish(code(ExitCode::WriteError));
      }
      const Instant end = host.now();
      info.time_total = since(end);
      if (meter) meter->finish(secs(end - transfer_start), body_written, expected_length);
      if (stream) {
        stream->close();
        stream->wait_closed(end + Duration::from_millis(500));
      }
      if (!o.silent && o.repeat == 1) {
        const std::string coded = response.content_coding.empty()
                                      ? std::string()
                                      : " (" + response.content_coding + ": " + std::to_string(response.body_bytes) +
                                            " bytes on the wire)";
        std::fprintf(stderr, "ustack get: %s %s: %llu bytes%s in %.3f s (%.2f MB/s), connect %.1f ms%s\n",
                     url.to_string().c_str(), response.status_line().c_str(),
                     static_cast<unsigned long long>(body_written), coded.c_str(), secs(end - transfer_start),
                     mbps(body_written, end - transfer_start), static_cast<double>(connect_time.micros()) / 1000.0,
                     follower.redirects() ? (", " + std::to_string(follower.redirects()) + " redirect(s)").c_str() : "");
      }
      if (o.fail && response.status >= 400) {
        say.error("The requested URL returned error: " + std::to_string(response.status));
        return finish(code(ExitCode::HttpError));
      }
      return 0;
    }
  };

  // --repeat: the same transfer on a new connection each time — the connection set-up rate.
  for (std::uint64_t i = 0; i < o.repeat; ++i) {
    const int rc = fetch_once();
    end_stream();
    if (meter) meter->close();
    if (o.write_out) {
      // curl prints the write-out after failures too (http_code 000 when no response came).
      info.exitcode = rc;
      info.errormsg = rc ? last_error : std::string();
      if (info.time_total <= 0) info.time_total = secs(host.now() - fetch_start);
      info.speed_download = info.time_total > 0 ? static_cast<double>(info.size_download) / info.time_total : 0;
      std::string warning;
      const std::string text = appkit::format_write_out(*o.write_out, info, &warning);
      if (!warning.empty()) say.error("warning: " + warning);
      std::fwrite(text.data(), 1, text.size(), stdout);
      std::fflush(stdout);
    }
    if (rc != 0) return rc;
  }
  if (o.repeat > 1 && !o.silent) {
    const Duration took = host.now() - start;
    const std::string tls_note = tls_handshakes == 0 ? std::string()
                                                     : ", TLS handshakes " + std::to_string(tls_handshakes) + " (" +
                                                           std::to_string(tls_resumed) + " resumed)";
    std::fprintf(stderr, "ustack get: %llu connections (connect, request, response, close) in %.3f s: %.1f per second, connect %.2f ms on average%s\n",
                 static_cast<unsigned long long>(o.repeat), secs(took),
                 static_cast<double>(o.repeat) / std::max(secs(took), 1e-9),
                 static_cast<double>(connect_total.micros()) / 1000.0 / static_cast<double>(o.repeat), tls_note.c_str());
  }
  return finish(0);
}

}  // namespace ustack_cli
