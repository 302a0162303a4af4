// ustack serve: a small static HTTP/1.1 file server on our own stack.
//
//   ustack serve --ip 10.77.0.70/24 --gateway 10.77.0.1 [--port 80] [--idle-timeout 15] DIR
//
// What it does (RFC 9112 for the message syntax and persistence, RFC 9110 for the semantics):
//   - GET and HEAD of regular files under DIR; `/` and any directory serve its index.html; a
//     directory without its trailing slash is redirected (301) to it, as nginx does;
//   - keep-alive by default in HTTP/1.1 (RFC 9112 §9.3), on request in HTTP/1.0; pipelined
//     requests are answered in order; "Connection: close" is honoured after the response;
//   - Content-Length always (no chunked output: files have a size), Content-Type by extension,
//     Last-Modified and Date (RFC 9110 §5.6.7 IMF-fixdate);
//   - conditional and partial GET as nginx answers them: If-Modified-Since (RFC 9110 §13.1.3) gives
//     304 when the file is not newer; a single Range "bytes=A-B", "A-" or "-N" (RFC 9110 §14.1.2)
//     gives 206 with Content-Range, an unsatisfiable one 416 with "Content-Range: bytes */SIZE";
//     several ranges at once are answered with the whole file (200), which §14.2 allows;
//   - errors: 400 (malformed request, missing Host in 1.1 — RFC 9112 §3.2 MUST, a path that climbs
//     above DIR), 403 (a symlink out of DIR, unreadable, not a regular file), 404, 405 with Allow
//     (other methods), 414 (target over 8 KiB), 431 (header section over 16 KiB), 501 (a
//     Transfer-Encoding in a request: bodies are not accepted), 505 (HTTP/2+ in a 1.x line);
//   - no directory traversal: the path is percent-decoded, dot segments are resolved and may not
//     climb above DIR (400), and the file is opened only if it resolves inside DIR (403 otherwise:
//     openat2() with RESOLVE_BENEATH, which refuses symlinks that point out, absolute symlinks
//     included; where openat2 is missing, the file's realpath() must lie inside realpath(DIR));
//   - many connections at once: the listen backlog holds handshakes in progress, the accept loop
//     takes every ready connection each turn (up to --max-connections), each connection is a
//     small state machine fed by the one event loop; idle connections are closed after
//     --idle-timeout seconds (with a FIN);
//   - one access-log line per request on stdout in the Common Log Format
//       10.77.0.1 - - [21/May/2025:10:00:00 +0000] "GET /index.html HTTP/1.1" 200 1234
//   - SIGINT/SIGTERM: stop accepting, finish the responses in flight (5 s at most), close every
//     connection with a FIN, wait for the FINs to be acknowledged (2 s at most), print --stats, exit
//     128 + the signal (130, 143) as a shell reports it; --for running out exits 0.
//   - SIGUSR1: print the --stats counters now (with or without --stats) and go on serving, as dd
//     prints its progress; a load test reads the TIME-WAIT records and live sockets this way.
//   - --time-wait SECONDS shortens TIME-WAIT (2·MSL, 60 s by default as Linux) so a test can watch
//     every record expire; RFC 9293 §3.4.2 wants 2·MSL, so it is for tests on a private link.
//   - --queues N (default 1): N queues of a multi-queue TAP (drivers/tap_device.hpp), one thread
//     and one whole stack per queue — its own Host, ARP cache, TCP layer, listener, timers and
//     ring pool (apps/common/ring_pool.hpp), shared-nothing: the kernel spreads the connections
//     over the queues by flow hash and keeps each on the queue that answers it. The stacks share
//     the address and MAC, as one host. What they exchange is messages: the neighbours one of them
//     learns by ARP (an ARP frame reaches one queue only), handed to the others
//     (apps/common/queues.hpp NeighbourBoard), and the signals. Needs a static --ip (no DHCP) and
//     a TAP (not --iface); --pcap FILE writes one file per queue (FILE.q0.pcap, ...). --stats adds
//     the queues' counters up, then says how many connections and requests each queue served.
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sys/eventfd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "apps/common/cli.hpp"
#include "apps/common/host.hpp"
#include "apps/common/network_setup.hpp"
#include "apps/common/queues.hpp"
#include "apps/common/tcp_stream.hpp"
#include "apps/common/version.hpp"
#include "apps/ustack/commands.hpp"
#include "drivers/tap_device.hpp"

namespace ustack_cli {

namespace {

using appkit::ExitCode;
using appkit::IoStatus;
using stack::Duration;
using stack::Instant;

// The signal that stopped us (SIGINT 2, SIGTERM 15), or 1 when --for ran out. Atomics (lock-free,
// so usable in a handler): every queue's thread reads them.
std::atomic<int> g_stop{0};
static_assert(std::atomic<int>::is_always_lock_free);
// SIGUSR1: print the counters at the next turn of the loop (each queue's loop compares the count
// with the last it answered).
std::atomic<unsigned> g_print_stats{0};
// With several queues, a signal reaches one thread: the handler wakes every queue's loop through
// its eventfd (write(2) is async-signal-safe).
std::array<int, drivers::TapDevice::kMaxQueues> g_wake_fds{};
std::atomic<std::size_t> g_wake_count{0};
void wake_all() {
  const std::size_t n = g_wake_count.load();
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t one = 1;
    (void)!::write(g_wake_fds[i], &one, sizeof one);
  }
}
void on_signal(int sig) {
  g_stop.store(sig);
  wake_all();
}
void on_usr1(int) {
  g_print_stats.fetch_add(1);
  wake_all();
}

constexpr std::size_t kMaxHeaderBytes = 16 * 1024;
constexpr std::size_t kMaxTargetBytes = 8 * 1024;
constexpr std::size_t kChunk = 64 * 1024;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Does the comma-separated header value contain `token` (case-insensitive)? (Connection: a, b)
bool has_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const auto comma = value.find(',');
    if (iequals(trim(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

std::string http_date(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

std::string log_date() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%d/%b/%Y:%H:%M:%S +0000", &tm);
  return buf;
}

const char* reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 414: return "URI Too Long";
    case 416: return "Range Not Satisfiable";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 505: return "HTTP Version Not Supported";
  }
  return "Unknown";
}

const char* content_type(std::string_view path) {
  static const std::map<std::string, const char*, std::less<>> kTypes = {
      {"html", "text/html; charset=utf-8"}, {"htm", "text/html; charset=utf-8"}, {"shtml", "text/html; charset=utf-8"},
      {"css", "text/css"},                  {"js", "text/javascript"},          {"mjs", "text/javascript"},
      {"json", "application/json"},         {"txt", "text/plain; charset=utf-8"}, {"xml", "application/xml"},
      {"svg", "image/svg+xml"},             {"png", "image/png"},               {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},               {"gif", "image/gif"},               {"webp", "image/webp"},
      {"ico", "image/x-icon"},              {"pdf", "application/pdf"},         {"wasm", "application/wasm"},
      {"mp4", "video/mp4"},                 {"woff2", "font/woff2"},            {"gz", "application/gzip"},
      {"zip", "application/zip"},           {"tar", "application/x-tar"},       {"md", "text/markdown; charset=utf-8"},
  };
  const auto slash = path.rfind('/');
  const auto dot = path.rfind('.');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) return "application/octet-stream";
  std::string ext(path.substr(dot + 1));
  for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const auto it = kTypes.find(ext);
  return it == kTypes.end() ? "application/octet-stream" : it->second;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The request-target's path, percent-decoded, with dot segments resolved (RFC 3986 §5.2.4), as
// a list of segments; nullopt when it is malformed or climbs above the root.
struct CleanPath {
  std::vector<std::string> segments;
  bool trailing_slash = false;
};
std::optional<CleanPath> clean_path(std::string_view target) {
  // absolute-form (RFC 9112 §3.2.2): "http://host/path" -> "/path"
  if (target.size() > 7 && iequals(target.substr(0, 7), "http://")) {
    const auto slash = target.find('/', 7);
    target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
  }
  if (target.empty() || target.front() != '/') return std::nullopt;
  target = target.substr(0, target.find_first_of("?#"));
  std::string decoded;
  for (std::size_t i = 0; i < target.size(); ++i) {
    char c = target[i];
    if (c == '%') {
      if (i + 2 >= target.size()) return std::nullopt;
      const int hi = hex_value(target[i + 1]), lo = hex_value(target[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == '\\') return std::nullopt;  // NUL, CR, LF, ...
    decoded += c;
  }
  CleanPath out;
  out.trailing_slash = decoded.back() == '/';
  std::size_t start = 1;
  while (start <= decoded.size()) {
    auto end = decoded.find('/', start);
    if (end == std::string::npos) end = decoded.size();
    const std::string seg = decoded.substr(start, end - start);
    if (seg == "..") {
      if (out.segments.empty()) return std::nullopt;  // above the root
      out.segments.pop_back();
    } else if (!seg.empty() && seg != ".") {
      out.segments.push_back(seg);
    }
    start = end + 1;
  }
  return out;
}

struct Request {
  std::string method;
  std::string target;
  std::string version;  // "HTTP/1.1"
  std::string line;     // the request line as received, for the log
  int minor = 1;
  bool keep_alive = true;
  bool has_host = false;
  bool transfer_encoding = false;
  std::uint64_t content_length = 0;
  std::optional<std::string> range;               // the Range header's value
  std::optional<std::string> if_modified_since;   // the If-Modified-Since header's value
};

// RFC 9110 §5.6.7: an HTTP-date; only IMF-fixdate is accepted (the obsolete forms are a MAY),
// and an invalid date means the condition is ignored (§13.1.3).
std::optional<std::time_t> parse_http_date(const std::string& text) {
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!end || *end != '\0') return std::nullopt;
  return timegm(&tm);
}

// RFC 9110 §14.1.2 byte ranges against a file of `size` bytes.
struct ByteRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // inclusive
};
enum class RangeAnswer { Whole, Partial, Unsatisfiable };
RangeAnswer parse_range(const std::string& value, std::uint64_t size, ByteRange& out) {
  // "bytes=" then one range-spec; a list (several ranges) or another unit: the whole file.
  if (value.size() < 7 || !iequals(std::string_view(value).substr(0, 6), "bytes=")) return RangeAnswer::Whole;
  const std::string spec(trim(std::string_view(value).substr(6)));
  if (spec.find(',') != std::string::npos) return RangeAnswer::Whole;
  const auto dash = spec.find('-');
  if (dash == std::string::npos) return RangeAnswer::Whole;  // invalid: ignored (§14.2)
  const std::string a = spec.substr(0, dash), b = spec.substr(dash + 1);
  std::uint64_t first = 0, last = 0;
  if (a.empty()) {
    // suffix-range "-N": the last N bytes
    if (!appkit::parse_u64(b, last)) return RangeAnswer::Whole;
    if (last == 0 || size == 0) return RangeAnswer::Unsatisfiable;
    out.first = last >= size ? 0 : size - last;
    out.last = size - 1;
    return RangeAnswer::Partial;
  }
  if (!appkit::parse_u64(a, first)) return RangeAnswer::Whole;
  if (b.empty()) {
    last = size ? size - 1 : 0;
  } else if (!appkit::parse_u64(b, last) || last < first) {
    return RangeAnswer::Whole;  // invalid range-spec: ignored
  }
  if (first >= size) return RangeAnswer::Unsatisfiable;
  out.first = first;
  out.last = std::min(last, size - 1);
  return RangeAnswer::Partial;
}

// Parses the header section (without the final CRLF CRLF). Returns 0 or an error status.
int parse_request(std::string_view head, Request& r) {
  auto eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  // For the log: control characters shown as '?' so a request cannot forge log lines.
  r.line.clear();
  for (char c : line.substr(0, 1024)) r.line.push_back(static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? '?' : c);
  const auto sp1 = line.find(' ');
  const auto sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) return 400;
  r.method = std::string(line.substr(0, sp1));
  r.target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
  r.version = std::string(line.substr(sp2 + 1));
  if (r.method.empty() || r.target.empty() || r.target.find(' ') != std::string::npos) return 400;
  for (char c : r.method) {
    if (!std::isupper(static_cast<unsigned char>(c))) return 400;
  }
  if (r.version.size() != 8 || r.version.compare(0, 5, "HTTP/") != 0 || !std::isdigit(static_cast<unsigned char>(r.version[5])) ||
      r.version[6] != '.' || !std::isdigit(static_cast<unsigned char>(r.version[7]))) {
    return 400;
  }
  if (r.version[5] != '1') return r.version[5] == '0' ? 400 : 505;
  r.minor = r.version[7] - '0';
  r.keep_alive = r.minor >= 1;
  if (r.target.size() > kMaxTargetBytes) return 414;
  std::optional<std::string_view> connection;
  head = eol == std::string_view::npos ? std::string_view() : head.substr(eol + 2);
  while (!head.empty()) {
    eol = head.find("\r\n");
    line = head.substr(0, eol);
    head = eol == std::string_view::npos ? std::string_view() : head.substr(eol + 2);
    if (line.empty()) continue;
    if (line.front() == ' ' || line.front() == '\t') return 400;  // obs-fold (RFC 9112 §5.2)
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return 400;
    const std::string_view name = line.substr(0, colon);
    if (name.find_first_of(" \t") != std::string_view::npos) return 400;  // RFC 9112 §5.1 MUST reject
    const std::string_view value = trim(line.substr(colon + 1));
    if (iequals(name, "host")) {
      if (r.has_host) return 400;  // RFC 9112 §3.2: more than one Host
      r.has_host = true;
    } else if (iequals(name, "connection")) {
      connection = value;
    } else if (iequals(name, "transfer-encoding")) {
      r.transfer_encoding = true;
    } else if (iequals(name, "range")) {
      r.range = std::string(value);
    } else if (iequals(name, "if-modified-since")) {
      r.if_modified_since = std::string(value);
    } else if (iequals(name, "content-length")) {
      std::uint64_t n = 0;
      if (!appkit::parse_u64(std::string(value), n)) return 400;
      if (r.content_length && n != r.content_length) return 400;
      r.content_length = n;
    }
  }
  if (connection) {
    if (has_token(*connection, "close")) r.keep_alive = false;
    else if (has_token(*connection, "keep-alive")) r.keep_alive = true;
  }
  if (r.minor >= 1 && !r.has_host) return 400;
  if (r.transfer_encoding) return 501;
  return 0;
}

struct Stats {
  std::uint64_t accepted = 0;
  std::uint64_t requests = 0;
  std::uint64_t reused = 0;  // requests after the first on a connection
  std::map<int, std::uint64_t> by_status;
  std::uint64_t body_bytes = 0;
  std::uint64_t idle_closed = 0;
  std::uint64_t stalled_aborted = 0;  // a response that made no progress for the idle timeout
  std::uint64_t peer_closed = 0;
  std::uint64_t errors = 0;  // reset / timed out
  std::size_t max_concurrent = 0;
};

struct Conn {
  explicit Conn(appkit::TcpStream s, Instant now) : stream(std::move(s)), last_activity(now) {
    peer = stream.remote().addr.describe();
  }
  ~Conn() {
    if (fd >= 0) ::close(fd);
  }
  appkit::TcpStream stream;
  std::string peer;
  std::string in;               // received bytes not yet parsed
  std::uint64_t discard = 0;    // request body bytes to skip (Content-Length on a GET)
  // The response in progress: header bytes, then `file_left` bytes of `fd` from `file_off`.
  std::string head;
  std::size_t head_off = 0;
  int fd = -1;
  std::uint64_t file_off = 0;
  std::uint64_t file_left = 0;
  // The file-read buffer of the response in progress: sized for the file (at most kChunk) and
  // never zero-filled, since pread() overwrites what is used of it. (A 64 KiB zeroed vector per
  // response cost a fresh mapping, 16 page faults and an unmap for every 20 KiB file served.)
  std::unique_ptr<std::byte[]> chunk;
  std::size_t chunk_cap = 0;
  std::size_t chunk_off = 0;
  std::size_t chunk_len = 0;
  bool close_after = false;     // Connection: close (ours or theirs): FIN when the response is out
  bool peer_eof = false;
  std::uint64_t requests = 0;
  Instant last_activity;

  bool responding() const { return head_off < head.size() || chunk_off < chunk_len || file_left > 0; }
};

class Server {
 public:
  Server(appkit::Host& host, std::string root, std::string root_real, Duration idle, bool quiet)
      : host_(host), root_(std::move(root)), root_real_(std::move(root_real)), idle_(idle), quiet_(quiet) {
    root_fd_ = ::open(root_real_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root_fd_ < 0) openat2_works_ = false;
  }
  ~Server() {
    if (root_fd_ >= 0) ::close(root_fd_);
  }
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  Stats stats;
  // Connections closed after the stop signal: the exit waits for their FINs to be acknowledged.
  std::vector<appkit::TcpStream::SocketId> closed_while_stopping;

  // One turn over every connection: write what can be written, read and answer what came.
  // Returns the earliest idle deadline.
  std::optional<Instant> service(std::list<Conn>& conns, bool stopping) {
    const Instant now = host_.now();
    std::optional<Instant> next;
    for (auto it = conns.begin(); it != conns.end();) {
      Conn& c = *it;
      const bool keep = service_one(c, now, stopping);
      if (!keep) {
        if (stopping) closed_while_stopping.push_back(c.stream.id());
        it = conns.erase(it);
        continue;
      }
      const Instant idle_at = c.last_activity + idle_;
      if (!next || idle_at < *next) next = idle_at;
      ++it;
    }
    return next;
  }

 private:
  // false: the connection is finished (closed or failed) and can be forgotten.
  bool service_one(Conn& c, Instant now, bool stopping) {
    for (int round = 0; round < 64; ++round) {
      if (auto e = c.stream.error()) {
        (void)e;
        ++stats.errors;
        c.stream.abort();
        return false;
      }
      if (c.responding()) {
        const std::uint64_t before = c.stream.bytes_written();
        if (!flush(c)) {
          ++stats.errors;
          c.stream.abort();
          return false;
        }
        if (c.stream.bytes_written() != before) c.last_activity = now;
        if (c.responding()) {
          // The send buffer is full: wait for ACKs — but not for ever. A client that stops
          // reading (a zero or tiny window, never opened) would hold the connection and its
          // buffers for good; like nginx's send_timeout, no progress for the idle timeout ends it
          // (with RST: the unsent response is thrown away, RFC 9293 §3.10.5 ABORT).
          if (now >= c.last_activity + idle_) {
            ++stats.stalled_aborted;
            c.stream.abort();
            return false;
          }
          return true;
        }
        continue;
      }
      if (c.close_after || (stopping && c.in.empty())) {
        c.stream.close();  // FIN after the queued response
        return false;
      }
      // Read what is there (bounded: a client that sends headers forever gets 431).
      bool got = false;
      while (c.in.size() < kMaxHeaderBytes + 4 && !c.peer_eof) {
        std::array<std::byte, 16 * 1024> buf;
        const auto r = c.stream.read_some(buf);
        if (r.status == IoStatus::Ok) {
          got = true;
          std::size_t n = r.bytes;
          std::size_t skip = static_cast<std::size_t>(std::min<std::uint64_t>(c.discard, n));
          c.discard -= skip;
          c.in.append(reinterpret_cast<const char*>(buf.data()) + skip, n - skip);
          continue;
        }
        if (r.status == IoStatus::Eof) c.peer_eof = true;
        if (r.status == IoStatus::Error) {
          ++stats.errors;
          c.stream.abort();
          return false;
        }
        break;
      }
      if (got) c.last_activity = now;
      const auto end = c.in.find("\r\n\r\n");
      if (end == std::string::npos) {
        if (c.in.size() > kMaxHeaderBytes) {
          Request r;
          r.line = "-";
          respond_error(c, r, 431, false);
          continue;
        }
        if (c.peer_eof) {
          // The client is done (a partial request is dropped, RFC 9112 §9.6 allows closing).
          ++stats.peer_closed;
          c.stream.close();
          return false;
        }
        if (now >= c.last_activity + idle_ || stopping) {
          ++stats.idle_closed;
          c.stream.close();
          return false;
        }
        return true;
      }
      std::string head = c.in.substr(0, end);
      // Leading empty lines before a request line are ignored (RFC 9112 §2.2 SHOULD).
      while (head.rfind("\r\n", 0) == 0) head.erase(0, 2);
      c.in.erase(0, end + 4);
      handle(c, head);
    }
    return true;
  }

  // Moves response bytes into the send buffer until it is full. false on a broken connection.
  bool flush(Conn& c) {
    while (c.head_off < c.head.size()) {
      const auto r = c.stream.write_some(std::as_bytes(std::span(c.head).subspan(c.head_off)));
      if (r.status == IoStatus::Error) return false;
      if (r.status == IoStatus::WouldBlock) return true;
      c.head_off += r.bytes;
    }
    for (;;) {
      if (c.chunk_off == c.chunk_len) {
        if (c.file_left == 0) {
          // The response is out: an idle keep-alive connection keeps no 64 KiB read buffer, no
          // response header and no request bytes (the strings would keep their capacity).
          c.chunk.reset();
          c.chunk_cap = c.chunk_off = c.chunk_len = 0;
          std::string().swap(c.head);
          c.head_off = 0;
          if (c.in.empty()) std::string().swap(c.in);
          return true;
        }
        const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, c.file_left));
        if (c.chunk_cap < want) {
          c.chunk.reset(new std::byte[want]);  // default-initialised: not zeroed
          c.chunk_cap = want;
        }
        const ssize_t n = ::pread(c.fd, c.chunk.get(), want, static_cast<off_t>(c.file_off));
        if (n <= 0) return false;  // the file shrank under us: the length we promised is a lie now
        c.chunk_off = 0;
        c.chunk_len = static_cast<std::size_t>(n);
        c.file_off += static_cast<std::uint64_t>(n);
        c.file_left -= static_cast<std::uint64_t>(n);
        if (c.file_left == 0) {
          ::close(c.fd);
          c.fd = -1;
        }
      }
      const auto r = c.stream.write_some(std::span<const std::byte>(c.chunk.get() + c.chunk_off, c.chunk_len - c.chunk_off));
      if (r.status == IoStatus::Error) return false;
      if (r.status == IoStatus::WouldBlock) return true;
      c.chunk_off += r.bytes;
    }
  }

  // Opens `rel` (a cleaned path, "./a/b") for reading only if it resolves inside the root,
  // symlinks included: openat2(2) with RESOLVE_BENEATH does it in one system call (Linux 5.6;
  // an absolute symlink is refused too, EXDEV). Where openat2 is missing, realpath(3) of the
  // file must lie inside realpath(DIR) — the same rule, at a readlink per path component.
  // -1 with `err` set when it cannot be opened.
  int open_beneath(const std::string& rel, int& err) const {
#ifdef SYS_openat2
    if (openat2_works_) {
      open_how how{};
      how.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK;  // a FIFO must not block the server: refused below
      how.resolve = RESOLVE_BENEATH;
      const long fd = ::syscall(SYS_openat2, root_fd_, rel.c_str(), &how, sizeof how);
      if (fd >= 0) return static_cast<int>(fd);
      err = errno == EXDEV ? EACCES : errno;
      if (err != ENOSYS && err != EPERM) return -1;
      openat2_works_ = false;  // an old kernel, or a seccomp filter that refuses it
    }
#endif
    const std::string fs = root_real_ + "/" + rel;
    char resolved[PATH_MAX];
    if (!::realpath(fs.c_str(), resolved)) {
      err = errno;
      return -1;
    }
    if (!(std::string_view(resolved) == root_real_ ||
          std::string_view(resolved).rfind(root_real_ + (root_real_ == "/" ? "" : "/"), 0) == 0)) {
      err = EACCES;
      return -1;
    }
    const int fd = ::open(resolved, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) err = errno;
    return fd;
  }

  void log(const Conn& c, const Request& r, int status, std::uint64_t bytes) {
    ++stats.by_status[status];
    stats.body_bytes += bytes;
    if (quiet_) return;
    std::printf("%s - - [%s] \"%s\" %d %llu\n", c.peer.c_str(), log_date().c_str(), r.line.c_str(), status,
                static_cast<unsigned long long>(bytes));
  }

  std::string common_headers(int status, bool keep_alive) const {
    std::string h = "HTTP/1.1 " + std::to_string(status) + " " + reason_phrase(status) + "\r\n";
    h += std::string("Server: ustack/") + appkit::kVersion + "\r\n";
    h += "Date: " + http_date(std::time(nullptr)) + "\r\n";
    if (keep_alive) {
      h += "Connection: keep-alive\r\nKeep-Alive: timeout=" + std::to_string(idle_.micros() / 1000000) + "\r\n";
    } else {
      h += "Connection: close\r\n";
    }
    return h;
  }

  void respond_error(Conn& c, const Request& r, int status, bool keep_alive, const std::string& extra = {}) {
    // After a malformed request we cannot know where the next one starts: close (RFC 9112 §9.6).
    if (status == 400 || status == 414 || status == 431 || status == 501 || status == 505) keep_alive = false;
    const std::string body = "<html><head><title>" + std::to_string(status) + " " + reason_phrase(status) +
                             "</title></head><body><h1>" + std::to_string(status) + " " + reason_phrase(status) +
                             "</h1><hr>ustack</body></html>\n";
    const bool head_only = r.method == "HEAD";
    c.head = common_headers(status, keep_alive) + extra + "Content-Type: text/html; charset=utf-8\r\nContent-Length: " +
             std::to_string(body.size()) + "\r\n\r\n";
    if (!head_only) c.head += body;
    c.head_off = 0;
    c.close_after = !keep_alive;
    log(c, r, status, head_only ? 0 : body.size());
  }

  void handle(Conn& c, const std::string& head) {
    ++stats.requests;
    if (c.requests++ > 0) ++stats.reused;
    Request r;
    if (const int status = parse_request(head, r)) {
      respond_error(c, r, status, false);
      return;
    }
    c.discard = r.content_length;  // a body on a GET/HEAD is allowed and means nothing to us
    if (c.discard) {
      const std::size_t now_in = static_cast<std::size_t>(std::min<std::uint64_t>(c.discard, c.in.size()));
      c.in.erase(0, now_in);
      c.discard -= now_in;
    }
    const bool keep_alive = r.keep_alive && g_stop.load() == 0;
    if (r.method != "GET" && r.method != "HEAD") {
      respond_error(c, r, 405, keep_alive, "Allow: GET, HEAD\r\n");
      return;
    }
    const auto path = clean_path(r.target);
    if (!path) {
      respond_error(c, r, 400, false);
      return;
    }
    std::string rel = ".";
    std::string url_path;
    for (const auto& s : path->segments) {
      rel += "/" + s;
      url_path += "/" + s;
    }
    std::string file = rel;  // what is served: the type comes from its name
    int err = 0;
    int fd = open_beneath(file, err);
    struct stat fst {};
    if (fd >= 0 && ::fstat(fd, &fst) == 0 && S_ISDIR(fst.st_mode)) {
      ::close(fd);
      if (!path->trailing_slash && !path->segments.empty()) {
        respond_error(c, r, 301, keep_alive, "Location: " + url_path + "/\r\n");
        return;
      }
      file += "/index.html";
      fd = open_beneath(file, err);
      if (fd < 0) err = EACCES;  // no index.html, and no listing of directories: 403
    }
    if (fd < 0) {
      // Not there: 404. Unreadable, or a symlink that leads out of the root: 403.
      respond_error(c, r, err == ENOENT || err == ENOTDIR ? 404 : 403, keep_alive);
      return;
    }
    if (::fstat(fd, &fst) != 0 || !S_ISREG(fst.st_mode)) {
      ::close(fd);
      respond_error(c, r, 403, keep_alive);
      return;
    }
    const auto size = static_cast<std::uint64_t>(fst.st_size);
    // RFC 9110 §13.1.3: not modified since the client's copy -> 304, no body (§15.4.5).
    if (r.if_modified_since) {
      if (const auto since = parse_http_date(*r.if_modified_since); since && fst.st_mtime <= *since) {
        ::close(fd);
        c.head = common_headers(304, keep_alive) + "Last-Modified: " + http_date(fst.st_mtime) + "\r\n\r\n";
        c.head_off = 0;
        c.close_after = !keep_alive;
        log(c, r, 304, 0);
        return;
      }
    }
    int status = 200;
    std::uint64_t first = 0, length = size;
    std::string range_header;
    if (r.range && r.method == "GET") {  // §14.2: Range is for GET only
      ByteRange br;
      switch (parse_range(*r.range, size, br)) {
        case RangeAnswer::Whole: break;
        case RangeAnswer::Unsatisfiable:
          ::close(fd);
          respond_error(c, r, 416, keep_alive, "Content-Range: bytes */" + std::to_string(size) + "\r\n");
          return;
        case RangeAnswer::Partial:
          status = 206;
          first = br.first;
          length = br.last - br.first + 1;
          range_header = "Content-Range: bytes " + std::to_string(br.first) + "-" + std::to_string(br.last) + "/" +
                         std::to_string(size) + "\r\n";
          break;
      }
    }
    c.head = common_headers(status, keep_alive) + "Content-Type: " + content_type(file) +
             "\r\nContent-Length: " + std::to_string(length) + "\r\nLast-Modified: " + http_date(fst.st_mtime) +
             "\r\nAccept-Ranges: bytes\r\n" + range_header + "\r\n";
    c.head_off = 0;
    c.close_after = !keep_alive;
    if (r.method == "HEAD" || length == 0) {
      ::close(fd);
    } else {
      if (c.fd >= 0) ::close(c.fd);
      c.fd = fd;
      c.file_off = first;
      c.file_left = length;
      c.chunk_off = c.chunk_len = 0;
    }
    log(c, r, status, r.method == "HEAD" ? 0 : length);
  }

  appkit::Host& host_;
  std::string root_;
  std::string root_real_;
  int root_fd_ = -1;                    // the root directory, for openat2()
  mutable bool openat2_works_ = true;
  Duration idle_;
  bool quiet_;
};

// The server's counters (the "--- server ---" block without its title line).
void print_server_counters(std::FILE* out, const Stats& s, std::size_t open) {
  auto line = [out](const std::string& name, unsigned long long v) { std::fprintf(out, "%-40s %llu\n", name.c_str(), v); };
  line("serve.connections_accepted", s.accepted);
  line("serve.connections_open", open);
  line("serve.max_concurrent", s.max_concurrent);
  line("serve.requests", s.requests);
  line("serve.requests_reusing_connection", s.reused);
  for (const auto& [status, n] : s.by_status) line("serve.status_" + std::to_string(status), n);
  line("serve.body_bytes", s.body_bytes);
  line("serve.closed_idle", s.idle_closed);
  line("serve.aborted_stalled", s.stalled_aborted);
  line("serve.closed_by_peer", s.peer_closed);
  line("serve.connection_errors", s.errors);
}

// The --stats block: the server's counters, then every counter of the stack (README "--stats").
void print_stats(std::FILE* out, const Stats& s, std::size_t open, appkit::Host& host) {
  std::fprintf(out, "--- server ---\n");
  print_server_counters(out, s, open);
  host.print_stats(out);
}

// Everything one queue's stack is: built on the main thread, then run by its own thread alone.
struct Queue {
  std::size_t index = 0;
  std::unique_ptr<appkit::Host> host;
  std::optional<appkit::TcpListener> listener;
  int wake_fd = -1;
  // After the run:
  Stats stats;
  std::uint64_t arp_seeds_sent = 0;      // neighbours this queue learnt and handed to the others
  std::uint64_t arp_seeds_received = 0;  // neighbours the others handed to this queue
};

struct ServeConfig {
  std::string root;
  std::string root_real;
  Duration idle;
  bool quiet = false;
  std::uint64_t max_conns = 0;
  std::uint64_t for_seconds = 0;
  std::size_t queues = 1;
};

// One queue's loop: accept, serve, stop on a signal or --for, close with FINs. Runs on the main
// thread with one queue, on a thread of its own with several; touches nothing of another queue's
// but the board (messages).
void serve_queue(Queue& q, const ServeConfig& cfg, appkit::NeighbourBoard* board) {
  appkit::Host& host = *q.host;
  appkit::TcpListener& listener = *q.listener;
  const appkit::Neighbour us{host.iface().address()->address, host.iface().mac()};
  bool seeding = false;  // receiving a post: not to be posted again
  if (board) {
    // A neighbour this stack learns from an ARP frame addressed to it (RFC 826: "Am I the target
    // protocol address?" — the only case that adds an entry): the other queues cannot see that
    // frame, so they get it by post.
    host.iface().arp_observer = [&](Instant, const stack::wire::arp::Repr& a) {
      if (seeding || a.target_ip != us.ip || a.sender_ip == us.ip || a.sender_ip.is_unspecified()) return;
      board->post(q.index, appkit::Neighbour{a.sender_ip, a.sender_mac});
      ++q.arp_seeds_sent;
    };
  }
  auto take_posts = [&] {
    if (!board) return;
    const auto posts = board->take(q.index);
    if (posts.empty()) return;
    seeding = true;
    for (const auto& n : posts) {
      const auto frame = appkit::arp_seed_frame(n, us);
      host.iface().receive(host.now(), frame);
      ++q.arp_seeds_received;
    }
    seeding = false;
    host.send_pending();  // what waited for that neighbour's MAC leaves now
  };
  unsigned stats_seen = g_print_stats.load();

  Server server(host, cfg.root, cfg.root_real, cfg.idle, cfg.quiet);
  std::list<Conn> conns;
  const Instant start = host.now();
  const Instant until = start + Duration::from_secs(static_cast<std::int64_t>(cfg.for_seconds));
  std::optional<Instant> stop_deadline;  // grace for the responses in flight
  for (;;) {
    take_posts();
    const Instant now = host.now();
    if (cfg.for_seconds && now >= until) {
      int none = 0;
      g_stop.compare_exchange_strong(none, 1);
    }
    const bool stopping = g_stop.load() != 0;
    if (stopping && !stop_deadline) {
      stop_deadline = now + Duration::from_secs(5);
      // Stop accepting: take what already completed its handshake (to close it with a FIN),
      // then close the listener (handshakes still in progress are reset).
      while (auto s = listener.accept()) {
        ++server.stats.accepted;
        conns.emplace_back(std::move(*s), now);
      }
      listener.close();
    }
    while (!stopping && conns.size() < cfg.max_conns) {
      auto s = listener.accept();
      if (!s) break;
      ++server.stats.accepted;
      conns.emplace_back(std::move(*s), now);
    }
    server.stats.max_concurrent = std::max(server.stats.max_concurrent, conns.size());
    if (const unsigned asked = g_print_stats.load(); asked != stats_seen) {
      stats_seen = asked;
      if (cfg.queues == 1) {
        print_stats(stdout, server.stats, conns.size(), host);
      } else {
        // One block per queue, written whole (one fputs: stdio locks the stream for it), so the
        // queues' blocks do not interleave.
        char* text = nullptr;
        std::size_t len = 0;
        if (std::FILE* mem = ::open_memstream(&text, &len)) {
          std::fprintf(mem, "--- queue %zu ---\n", q.index);
          print_stats(mem, server.stats, conns.size(), host);
          std::fclose(mem);
          std::fputs(text, stdout);
          std::fflush(stdout);
        }
        std::free(text);
      }
    }
    const auto idle_at = server.service(conns, stopping);
    if (stopping && (conns.empty() || now >= *stop_deadline)) break;
    Instant wake = now + Duration::from_millis(500);  // also bounds the wait for a signal
    if (idle_at && *idle_at < wake) wake = *idle_at;
    host.step(wake);
  }
  // Connections still sending after the grace period are closed with a FIN anyway.
  std::vector<appkit::TcpStream::SocketId> closing = server.closed_while_stopping;
  for (auto& c : conns) {
    closing.push_back(c.stream.id());
    c.stream.close();
  }
  conns.clear();
  // Let the FINs be acknowledged so clients see an orderly close, not our process vanishing.
  const Instant fin_deadline = host.now() + Duration::from_secs(2);
  host.run_until(
      [&] {
        take_posts();
        auto& tcp = host.iface().tcp();
        // Any connection of ours still waiting for the ACK of its FIN (or still sending)?
        return std::none_of(closing.begin(), closing.end(), [&](auto id) {
          const auto state = tcp.state(id);
          using stack::socket::TcpState;
          return state && (*state == TcpState::FinWait1 || *state == TcpState::Closing || *state == TcpState::LastAck ||
                           *state == TcpState::Established || *state == TcpState::CloseWait);
        });
      },
      fin_deadline);
  host.send_pending();  // the ACKs of the clients' last FINs
  host.iface().arp_observer = nullptr;
  q.stats = server.stats;
}

// Several queues' server counters as one (max_concurrent: the most any one queue held at once).
Stats sum_stats(const std::vector<Queue>& queues) {
  Stats sum;
  for (const auto& q : queues) {
    const Stats& s = q.stats;
    sum.accepted += s.accepted;
    sum.requests += s.requests;
    sum.reused += s.reused;
    for (const auto& [status, n] : s.by_status) sum.by_status[status] += n;
    sum.body_bytes += s.body_bytes;
    sum.idle_closed += s.idle_closed;
    sum.stalled_aborted += s.stalled_aborted;
    sum.peer_closed += s.peer_closed;
    sum.errors += s.errors;
    sum.max_concurrent = std::max(sum.max_concurrent, s.max_concurrent);
  }
  return sum;
}

}  // namespace

int run_serve(const std::vector<std::string>& args) {
  appkit::NetOptions net;
  std::uint64_t port = 80;
  std::uint64_t backlog = 512;
  std::uint64_t max_conns = 16384;
  std::uint64_t idle_seconds = 15;
  std::uint64_t for_seconds = 0;
  std::size_t queues = 1;
  bool quiet = false;
  appkit::ArgParser parser("ustack serve", "ustack serve [options] [--port 80] DIR");
  parser.set_summary("a static HTTP/1.1 file server on the user-space stack");
  parser.option("--port", "N", "TCP port to listen on (default 80)",
                [&](const std::string& v) { return appkit::parse_u64(v, port) && port > 0 && port < 65536; });
  parser.option("--backlog", "N", "connections in handshake or waiting to be accepted (default 512)",
                [&](const std::string& v) { return appkit::parse_u64(v, backlog) && backlog > 0; });
  parser.option("--max-connections", "N", "connections served at once; more wait in the backlog (default 16384)",
                [&](const std::string& v) { return appkit::parse_u64(v, max_conns) && max_conns > 0; });
  parser.option("--idle-timeout", "SECONDS", "close a connection idle this long (default 15)",
                [&](const std::string& v) { return appkit::parse_u64(v, idle_seconds) && idle_seconds > 0; });
  parser.option("--for", "SECONDS", "serve this long, then stop as on SIGTERM (default: until signalled)",
                [&](const std::string& v) { return appkit::parse_u64(v, for_seconds); });
  parser.option("--time-wait", "SECONDS",
                "TIME-WAIT of the connections we close first (default 60, 2*MSL as Linux; shorter only for tests)",
                [&](const std::string& v) { return appkit::parse_u64(v, net.time_wait_seconds) && net.time_wait_seconds > 0; });
  parser.option("--queues", "N",
                "queues of a multi-queue TAP, one thread and one stack each (default 1; needs --ip and a TAP made "
                "with multi_queue; --pcap writes FILE.qK per queue)",
                [&](const std::string& v) { return appkit::parse_queue_count(v, queues); });
  parser.flag("-q", "no access log", [&] { quiet = true; });
  parser.add_net_options(net);
  const auto parsed = parser.parse(args);
  if (const auto rc = parser.early_exit(parsed)) return *rc;
  if (parsed.error || parsed.positional.size() != 1) {
    std::fprintf(stderr, "ustack serve: %s\n", parsed.error ? parsed.error->c_str() : "give exactly one DIR to serve");
    return static_cast<int>(ExitCode::Usage);
  }
  if (queues > 1 && !net.ip) {
    std::fprintf(stderr, "ustack serve: --queues %zu needs a static --ip (and --gateway): one DHCP lease cannot be "
                         "shared by several stacks\n", queues);
    return static_cast<int>(ExitCode::Usage);
  }
  if (queues > 1 && net.driver != appkit::LinkDriver::Tap) {
    std::fprintf(stderr, "ustack serve: --queues needs a multi-queue TAP (--tap), not --iface\n");
    return static_cast<int>(ExitCode::Usage);
  }
  std::string root = parsed.positional[0];
  char root_real[PATH_MAX];
  struct stat st {};
  if (!::realpath(root.c_str(), root_real) || ::stat(root_real, &st) != 0 || !S_ISDIR(st.st_mode)) {
    std::fprintf(stderr, "ustack serve: %s is not a readable directory\n", root.c_str());
    return static_cast<int>(ExitCode::Usage);
  }
  while (root.size() > 1 && root.back() == '/') root.pop_back();

  std::vector<Queue> qs(queues);
  if (queues == 1) {
    auto opened = appkit::Host::open(net);
    if (!opened) {
      std::fprintf(stderr, "ustack serve: %s\n", opened.error().message.c_str());
      return static_cast<int>(opened.error().code);
    }
    qs[0].host = std::move(*opened);
  } else {
    auto links = drivers::TapDevice::open_queues(
        drivers::TapOptions{.name = net.tap, .create = net.create_tap, .vnet_hdr = net.offload}, queues);
    if (!links) {
      std::fprintf(stderr, "ustack serve: %s\n", links.error().message.c_str());
      return static_cast<int>(ExitCode::Usage);
    }
    for (std::size_t k = 0; k < queues; ++k) {
      appkit::NetOptions mine = net;
      if (net.pcap) mine.pcap = appkit::per_queue_path(*net.pcap, k);
      mine.seed = net.seed + k;  // the fault injector's: each queue its own sequence
      // One address probe (RFC 5227) is enough for one host: the first queue's.
      if (k > 0) mine.acd = false;
      auto opened = appkit::Host::open(mine, std::move((*links)[k]));
      if (!opened) {
        std::fprintf(stderr, "ustack serve: %s\n", opened.error().message.c_str());
        return static_cast<int>(opened.error().code);
      }
      qs[k].host = std::move(*opened);
      qs[k].index = k;
      qs[k].wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
      if (qs[k].wake_fd < 0) {
        std::fprintf(stderr, "ustack serve: eventfd: %s\n", std::strerror(errno));
        return static_cast<int>(ExitCode::Failure);
      }
      qs[k].host->set_wake_fd(qs[k].wake_fd);
      g_wake_fds[k] = qs[k].wake_fd;
    }
  }
  for (auto& q : qs) {
    auto network = appkit::setup_network(*q.host, net, [](const std::string& text, bool eol) {
      std::fputs(text.c_str(), stderr);
      if (eol) std::fputc('\n', stderr);
    });
    if (!network) {
      std::fprintf(stderr, "ustack serve: %s\n", network.error().message.c_str());
      return static_cast<int>(network.error().code);
    }
    auto listening = appkit::TcpListener::listen(*q.host, static_cast<std::uint16_t>(port), backlog);
    if (!listening) {
      std::fprintf(stderr, "ustack serve: %s\n", listening.error().c_str());
      return static_cast<int>(ExitCode::Failure);
    }
    q.listener.emplace(std::move(*listening));
    // A request's ACK goes out with the response to it, not on its own just before.
    q.host->set_ack_after_application(true);
  }

  g_wake_count.store(queues > 1 ? queues : 0);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGUSR1, on_usr1);
  // The per-connection buffers (the socket's two 64 KiB rings, our file-read chunk of up to 64 KiB) live
  // only while a response is in flight. Served from the heap, their pages stay resident after
  // free() and the heap's high-water mark only ever grows; from mmap (glibc's threshold, 128 KiB
  // by default, lowered to their size) they go back to the system when freed, so the process's
  // RSS follows the connections it holds now. glibc's malloc only (mallopt(3)).
  ::mallopt(M_MMAP_THRESHOLD, static_cast<int>(kChunk));
  std::signal(SIGPIPE, SIG_IGN);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  auto& host0 = *qs[0].host;
  std::printf("ustack serve: http://%s:%llu/ -> %s (keep-alive, idle timeout %llu s)%s\n",
              host0.iface().address()->address.describe().c_str(), static_cast<unsigned long long>(port), root_real,
              static_cast<unsigned long long>(idle_seconds),
              queues > 1 ? (", " + std::to_string(queues) + " queues of " + host0.tap_name() + ", one thread each").c_str()
                         : "");

  const ServeConfig cfg{.root = root,
                        .root_real = root_real,
                        .idle = Duration::from_secs(static_cast<std::int64_t>(idle_seconds)),
                        .quiet = quiet,
                        .max_conns = max_conns,
                        .for_seconds = for_seconds,
                        .queues = queues};
  if (queues == 1) {
    serve_queue(qs[0], cfg, nullptr);
  } else {
    std::vector<int> fds;
    for (const auto& q : qs) fds.push_back(q.wake_fd);
    appkit::NeighbourBoard board(fds);
    std::vector<std::thread> threads;
    threads.reserve(queues);
    for (auto& q : qs) threads.emplace_back([&q, &cfg, &board] { serve_queue(q, cfg, &board); });
    for (auto& t : threads) t.join();
  }
  g_wake_count.store(0);

  const Stats s = sum_stats(qs);
  std::fprintf(stderr, "ustack serve: stopped; %llu connections, %llu requests (%llu on kept-alive connections), %llu body bytes",
               static_cast<unsigned long long>(s.accepted), static_cast<unsigned long long>(s.requests),
               static_cast<unsigned long long>(s.reused), static_cast<unsigned long long>(s.body_bytes));
  if (queues > 1) {
    std::fprintf(stderr, "; connections by queue:");
    for (const auto& q : qs) std::fprintf(stderr, " %llu", static_cast<unsigned long long>(q.stats.accepted));
  }
  std::fprintf(stderr, "\n");
  if (net.stats) {
    if (queues == 1) {
      print_stats(stdout, s, 0, host0);
    } else {
      std::printf("--- server ---\n");
      print_server_counters(stdout, s, 0);
      std::printf("%-40s %zu\n", "serve.queues", queues);
      // serve.queueK.NAME: what queue K did (README "--stats"; the unit test reads these names).
      auto queue_counter = [](std::size_t k, const char* name, std::uint64_t v) {
        char full[96];
        std::snprintf(full, sizeof full, "serve.queue%zu.%s", k, name);
        std::printf("%-40s %llu\n", full, static_cast<unsigned long long>(v));
      };
      for (const auto& q : qs) {
        queue_counter(q.index, "connections_accepted", q.stats.accepted);
        queue_counter(q.index, "requests", q.stats.requests);
        queue_counter(q.index, "arp_seeds_sent", q.arp_seeds_sent);
        queue_counter(q.index, "arp_seeds_received", q.arp_seeds_received);
      }
      // The stacks' counters, every queue's added up (high-water marks: the largest).
      appkit::CounterSum sum;
      for (const auto& q : qs) sum.add(q.host->counters());
      std::printf("--- statistics ---\n");
      for (const auto& [name, value] : sum.counters()) {
        std::printf("%-40s %llu\n", name.c_str(), static_cast<unsigned long long>(value));
      }
    }
  }
  for (auto& q : qs) {
    q.listener.reset();
    q.host.reset();
    if (q.wake_fd >= 0) ::close(q.wake_fd);
  }
  // Stopped by a signal: 128 + its number, as a shell reports it (and as the other programs do);
  // --for running out is a normal end.
  const int stop = g_stop.load();
  return stop > 1 ? 128 + stop : 0;
}

}  // namespace ustack_cli
