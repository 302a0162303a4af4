// The connection pool: at most N TCP connections per host (docs/levels.md level 6: "a pool
// of at most 6 connections per host, reused while alive"), HTTP/1.1 requests queued onto them, idle ones
// closed after a timeout or at exit — always with a FIN, never a RST unless the user interrupts.
//
// "6 per host" is browser practice, not a protocol rule (RFC 9112 §9.4 sets no number; RFC 2616
// §8.1.4 suggested 2): it is `--max-per-host`, and the pool reports how many it really used.
//
// Event-driven over the stack's TcpLayer: call drive() every loop turn; it moves each connection
// along (connect → [TLS handshake] → send → read → parse → idle → close) and calls the request's
// callback when its response is complete or has failed. Connections are keyed by (scheme, host,
// port): an https connection carries TLS (apps/common/tls.hpp, memory BIOs over our TCP), and
// later connections to the same origin resume the TLS session the first one was given.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "apps/common/cli.hpp"
#include "apps/common/host.hpp"
#include "apps/common/http_client.hpp"
#include "apps/common/tls.hpp"
#include "apps/common/url.hpp"
#include "apps/minibrowser/time_wait.hpp"
#include "stack/util/result.hpp"

namespace minibrowser {

struct FetchResult {
  appkit::Url url;
  std::optional<appkit::http::Response> response;  // set on success
  std::string error;                               // one line, when !response
  appkit::ExitCode code = appkit::ExitCode::Ok;
  int connection = 0;                              // which pooled connection (1-based)
  bool reused = false;                             // the connection had served a request before
  bool tls_resumed = false;                        // https: the connection's TLS session was resumed
  stack::Duration elapsed;                         // request queued -> response complete
};

// What the pool tells the narrator; `level` is the docs/levels.md level the line belongs to.
using PoolNarrate = std::function<void(int level, const std::string& text)>;

class ConnectionPool {
 public:
  struct Options {
    std::size_t max_per_host = 6;
    stack::Duration idle_timeout = stack::Duration::from_secs(15);
    stack::Duration connect_timeout = stack::Duration::from_secs(20);
    stack::Duration response_timeout = stack::Duration::from_secs(30);  // first byte and idle reads
    appkit::tls::Context* tls = nullptr;  // for https URLs (none: https requests fail with exit 1)
    bool lingering = false;               // --linger: TIME-WAIT may end while the program runs
  };
  // After each TLS handshake (for the level-6 narration): the pooled connection's number, its
  // TCP socket, the session, and how long the handshake took.
  using TlsHook = std::function<void(int number, stack::socket::SocketId sock, const appkit::tls::Session&, stack::Duration)>;
  void set_tls_hook(TlsHook hook) { tls_hook_ = std::move(hook); }
  // The TLS context for https connections opened from now on (made when the first https URL comes).
  void set_tls(appkit::tls::Context* tls) { options_.tls = tls; }
  using Callback = std::function<void(FetchResult)>;
  // Asked once the response's headers are in: where its body goes. nullptr keeps it in
  // Response::body (bounded by the parser's 64 MiB); a sink streams it (minibrowser -o), and a sink
  // that returns false stops the transfer (the connection is reset).
  using SinkFor = std::function<appkit::http::ResponseParser::BodySink(const appkit::http::Response&)>;

  ConnectionPool(appkit::Host& host, Options options, PoolNarrate narrate);
  ~ConnectionPool();

  // Queues a request for `url` to the server at `address` (the host name was resolved already).
  void fetch(const appkit::Url& url, stack::wire::Ipv4Address address, appkit::http::Method method, Callback callback,
             SinkFor sink_for = nullptr);

  // Moves every connection along; callbacks run from here.
  void drive();
  std::optional<stack::Instant> next_deadline() const;
  bool busy() const;  // requests queued or in flight

  // Closes every connection with a FIN (our side closes first: we enter TIME-WAIT).
  void close_all();
  // Interrupted (SIGINT/SIGTERM): aborts every connection still open (RFC 9293 §3.10.5 ABORT: a
  // RST where the state calls for one) and sends it at once. The narration names the abort; the
  // RST itself is narrated from the wire, so nothing is claimed that did not leave.
  void abort_all(const std::string& why);
  // True once every connection has finished its close handshake (TIME-WAIT or CLOSED).
  bool all_closed() const;
  // The number of the connection with these ends (the frames' view), or 0.
  int number_of(std::uint16_t local_port, stack::wire::Ipv4Address remote, std::uint16_t remote_port) const;
  // Connections of ours still in the stack's TIME-WAIT table, and what to say of them at exit.
  bool time_wait_pending() const { return time_wait_.pending(); }
  std::vector<std::string> time_wait_at_exit() const { return time_wait_.at_exit(host_.iface().tcp(), host_.now()); }

  std::size_t connections_opened() const { return opened_; }
  std::size_t max_concurrent() const { return max_concurrent_; }
  std::size_t requests_done() const { return done_; }
  std::size_t reuses() const { return reuses_; }
  // The pool's number for a TCP socket (1-based), or 0: lets TCP events name "connection #2".
  int number_of(stack::socket::SocketId sock) const;
  // Full request/response headers ("> " / "< " lines) for this fetch, or a one-line summary.
  void set_detailed(bool detailed) { detailed_next_ = detailed; }

 private:
  struct Request {
    appkit::Url url;
    stack::wire::Ipv4Address address;
    appkit::http::Method method;
    Callback callback;
    stack::Instant queued_at;
    int attempts = 0;
    bool detailed = false;
    SinkFor sink_for;
  };
  enum class ConnState { Connecting, Handshaking, Idle, Busy, Closing, Closed };
  struct Conn {
    int number = 0;
    std::string key;  // scheme://host:port
    stack::wire::Ipv4Address address;
    std::uint16_t port = 80;
    stack::socket::SocketId sock{};
    ConnState state = ConnState::Connecting;
    std::optional<Request> request;
    std::string out;
    std::size_t out_sent = 0;
    std::unique_ptr<appkit::http::ResponseParser> parser;
    bool got_bytes = false;   // any response byte for the current request
    int served = 0;
    stack::Instant since;     // state entered (connect start, idle start, request start)
    stack::Instant last_io;
    bool peer_closed_first = false;
    bool we_closed_first = false;
    std::unique_ptr<appkit::tls::Session> tls;  // https only
    bool tcp_eof = false;                        // the peer's FIN was handed to the TLS session
    stack::Instant handshake_started;
    // The handshake's narration waits one turn of the loop, so that our last flight (Finished)
    // has left and has a frame number.
    std::optional<stack::Duration> tls_report;
    std::uint64_t tls_done_turn = 0;
  };
  // Reads plaintext (through TLS on https connections).
  enum class RecvKind { Data, WouldBlock, Eof, Error };
  struct Received {
    RecvKind kind = RecvKind::WouldBlock;
    std::size_t bytes = 0;
    appkit::ExitCode code = appkit::ExitCode::Ok;
    std::string error;
  };
  Received receive(Conn& c, std::span<std::byte> out);
  // Sends the TLS session's pending ciphertext; the error says why TCP refused.
  stack::Result<void, std::string> flush_tls(Conn& c);

  void start_request(Conn& c, Request r);
  void pump_connection(Conn& c);
  void finish(Conn& c, FetchResult result);
  void fail(Conn& c, appkit::ExitCode code, const std::string& error);
  void begin_close(Conn& c, const std::string& why);
  void show_progress(const Conn& c, bool complete);
  Conn* open_connection(const Request& r);
  std::size_t live_for(const std::string& key) const;
  void say(int level, const std::string& text) {
    if (narrate_) narrate_(level, text);
  }

  appkit::Host& host_;
  Options options_;
  PoolNarrate narrate_;
  std::deque<Request> pending_;
  std::vector<std::unique_ptr<Conn>> conns_;
  TimeWaitWatch time_wait_;
  int next_number_ = 1;
  int connecting_number_ = 0;  // the number of the connection inside tcp.connect(), else 0
  std::size_t opened_ = 0;
  std::size_t max_concurrent_ = 0;
  std::size_t done_ = 0;
  std::size_t reuses_ = 0;
  bool detailed_next_ = false;
  bool progress_tty_ = false;
  TlsHook tls_hook_;
  std::uint64_t turn_ = 0;  // drive() calls
};

}  // namespace minibrowser
