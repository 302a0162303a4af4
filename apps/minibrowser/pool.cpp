#include "apps/minibrowser/pool.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "apps/common/terminal.hpp"

namespace minibrowser {

using appkit::ExitCode;
using stack::Duration;
using stack::Instant;
using stack::socket::TcpState;
namespace http = appkit::http;

namespace {
std::string ms(Duration d) {
  const auto us = d.micros();
  return std::to_string(us / 1000) + "." + std::to_string((us % 1000) / 100) + " ms";
}
// The pool's key: the origin (RFC 6454 §4), so http and https to one host never share a connection.
std::string key_of(const appkit::Url& url) { return url.scheme + "://" + url.host + ":" + std::to_string(url.port); }
}  // namespace

ConnectionPool::ConnectionPool(appkit::Host& host, Options options, PoolNarrate narrate)
    : host_(host), options_(options), narrate_(std::move(narrate)), progress_tty_(isatty(STDERR_FILENO) != 0) {}

ConnectionPool::~ConnectionPool() = default;

int ConnectionPool::number_of(stack::socket::SocketId sock) const {
  for (const auto& c : conns_) {
    if (c->sock == sock) return c->number;
  }
  if (const int n = time_wait_.number_of(sock)) return n;  // let go of by the pool, in TIME-WAIT
  return connecting_number_;  // inside connect(): the connection being opened
}

int ConnectionPool::number_of(std::uint16_t local_port, stack::wire::Ipv4Address remote, std::uint16_t remote_port) const {
  const auto& tcp = host_.iface().tcp();
  for (const auto& c : conns_) {
    if (const auto* tcb = tcp.tcb(c->sock);
        tcb && tcb->local().port == local_port && tcb->remote().addr == remote && tcb->remote().port == remote_port) {
      return c->number;
    }
  }
  return time_wait_.number_of(local_port, remote, remote_port);
}

void ConnectionPool::fetch(const appkit::Url& url, stack::wire::Ipv4Address address, http::Method method,
                           Callback callback, SinkFor sink_for) {
  Request r{url, address, method, std::move(callback), host_.now(), 0, detailed_next_, std::move(sink_for)};
  pending_.push_back(std::move(r));
}

std::size_t ConnectionPool::live_for(const std::string& key) const {
  return static_cast<std::size_t>(std::count_if(conns_.begin(), conns_.end(), [&](const auto& c) {
    return c->key == key && c->state != ConnState::Closed && c->state != ConnState::Closing;
  }));
}

bool ConnectionPool::busy() const {
  if (!pending_.empty()) return true;
  return std::any_of(conns_.begin(), conns_.end(), [](const auto& c) {
    return c->state == ConnState::Busy ||
           ((c->state == ConnState::Connecting || c->state == ConnState::Handshaking) && c->request);
  });
}

ConnectionPool::Conn* ConnectionPool::open_connection(const Request& r) {
  auto& tcp = host_.iface().tcp();
  const auto& addr = host_.iface().address();
  if (!addr) return nullptr;
  const std::string key = key_of(r.url);
  const std::size_t live = live_for(key) + 1;
  // Said before connect(), whose first state change (CLOSED → SYN-SENT) already carries the number.
  // Level 3: why this port (RFC 9110 §4.2.1 http → 80, §4.2.2 https → 443; the URL may name another).
  std::string why_port;
  if (r.url.port_is_default()) {
    why_port = " (" + r.url.scheme + "'s default port is " + std::to_string(r.url.port) + "; " +
               (r.url.secure() ? "http's is 80" : "https's is 443") + "; a port in the URL would override it" +
               (r.url.secure() ? ". TLS first, then HTTP inside it" : "") + ")";
  } else {
    why_port = " (the URL names port " + std::to_string(r.url.port) + ", overriding " + r.url.scheme + "'s default " +
               std::to_string(appkit::Url::default_port(r.url.scheme)) + ")";
  }
  say(3, "connecting to " + r.address.describe() + " port " + std::to_string(r.url.port) + why_port);
  say(6, "pool: opening connection #" + std::to_string(next_number_) + " to " + r.url.host + " (" + std::to_string(live) +
             " of at most " + std::to_string(options_.max_per_host) + " for this host)");
  connecting_number_ = next_number_;
  auto sock = tcp.connect(addr->address, r.address, r.url.port, host_.now());
  connecting_number_ = 0;
  if (!sock) {
    say(6, "pool: connection #" + std::to_string(next_number_) + " could not be opened: " + stack::socket::to_string(sock.error()));
    return nullptr;
  }
  auto c = std::make_unique<Conn>();
  c->number = next_number_++;
  c->key = key;
  c->address = r.address;
  c->port = r.url.port;
  c->sock = *sock;
  c->state = ConnState::Connecting;
  c->since = host_.now();
  c->last_io = c->since;
  ++opened_;
  if (r.url.secure() && options_.tls) {
    c->tls = std::make_unique<appkit::tls::Session>(*options_.tls, r.url.host, r.url.port);
  }
  conns_.push_back(std::move(c));
  max_concurrent_ = std::max(max_concurrent_, live);
  return conns_.back().get();
}

void ConnectionPool::start_request(Conn& c, Request r) {
  const Instant now = host_.now();
  const bool reused = c.served > 0;
  if (reused) ++reuses_;
  http::RequestOptions request_options;
  request_options.method = r.method;
  c.out = http::build_request(r.url, request_options);
  c.out_sent = 0;
  if (c.tls) {
    // The request becomes TLS records at once (a few hundred bytes); flush_tls sends them.
    c.tls->write(std::as_bytes(std::span(c.out)));
    c.out_sent = c.out.size();
  }
  if (!c.parser) {
    // gzip/deflate are asked for (RequestOptions' default) and decoded as they arrive; the
    // decoded body is bounded by Limits::max_body_bytes (a compression bomb is an error).
    http::Limits limits;
    limits.decode_content = true;
    c.parser = std::make_unique<http::ResponseParser>(limits);
  }
  const bool detailed = r.detailed;
  const int number = c.number;
  c.parser->set_body_sink(nullptr);
  http::ResponseParser* parser = c.parser.get();
  c.parser->set_headers_hook([this, detailed, number, parser, sink_for = r.sink_for](const http::Response& resp) {
    if (sink_for) {
      if (auto sink = sink_for(resp)) parser->set_body_sink(std::move(sink));
    }
    if (!detailed) return;
    say(3, "< " + resp.status_line());
    for (const auto& h : resp.headers) say(3, "< " + h.name + ": " + h.value);
    (void)number;
  });
  c.parser->start(r.method);
  c.got_bytes = false;
  c.state = ConnState::Busy;
  c.since = now;
  c.last_io = now;
  if (reused) {
    say(6, "pool: reusing connection #" + std::to_string(c.number) + " (keep-alive) for " + r.url.target());
  }
  if (detailed) {
    for (const auto& line : http::request_lines(c.out)) say(3, "> " + line);
  }
  c.request = std::move(r);
}

// A progress bar on stderr for bodies over 1 MiB, when stderr is a terminal (curl's habit).
void ConnectionPool::show_progress(const Conn& c, bool complete) {
  if (!c.request || !c.request->detailed || !progress_tty_) return;
  const auto& resp = c.parser->response();
  const bool big = resp.content_length ? *resp.content_length > (1u << 20) : resp.body_bytes > (1u << 20);
  if (!big || resp.body_bytes == 0) return;
  const std::string line = appkit::progress_line(resp.body_bytes, resp.content_length, appkit::terminal_width(STDERR_FILENO));
  std::fprintf(stderr, "\r%s%s", line.c_str(), complete ? "\n" : "");
  std::fflush(stderr);
}

void ConnectionPool::finish(Conn& c, FetchResult result) {
  Request r = std::move(*c.request);
  c.request.reset();
  result.url = r.url;
  result.connection = c.number;
  result.reused = c.served > 0;
  result.tls_resumed = c.tls && c.tls->resumed();
  result.elapsed = host_.now() - r.queued_at;
  ++done_;
  ++c.served;
  if (result.response) {
    if (c.parser->reusable()) {
      c.state = ConnState::Idle;
      c.since = host_.now();
    } else {
      begin_close(c, result.response->keep_alive ? "extra bytes after the response" : "the server said Connection: close");
    }
  }
  r.callback(std::move(result));
}

void ConnectionPool::fail(Conn& c, ExitCode code, const std::string& error) {
  if (c.request) {
    Request r = std::move(*c.request);
    c.request.reset();
    // A kept-alive connection the server had already closed: retry once on a fresh one (what
    // browsers do; RFC 9112 §9.3.1 allows retrying an idempotent request).
    if (c.served > 0 && !c.got_bytes && r.attempts == 0) {
      ++r.attempts;
      say(6, "pool: connection #" + std::to_string(c.number) + " went away before answering; retrying " + r.url.target());
      pending_.push_front(std::move(r));
    } else {
      FetchResult result;
      result.url = r.url;
      result.error = error;
      result.code = code;
      result.connection = c.number;
      result.elapsed = host_.now() - r.queued_at;
      ++done_;
      r.callback(std::move(result));
    }
  }
  auto& tcp = host_.iface().tcp();
  const auto st = tcp.state(c.sock);
  if (st && *st != TcpState::Closed && *st != TcpState::TimeWait) {
    tcp.abort(c.sock);  // the exchange is broken: a RST, not a FIN (nothing more will be said)
  }
  tcp.close(c.sock);
  c.state = ConnState::Closed;
}

void ConnectionPool::begin_close(Conn& c, const std::string& why) {
  if (c.state == ConnState::Closing || c.state == ConnState::Closed) return;
  auto& tcp = host_.iface().tcp();
  if (!c.peer_closed_first) c.we_closed_first = true;
  // The FIN itself is narrated when it leaves (the segment narrator reads the wire): said here, it
  // would be claimed even when an interrupt stops us before it is sent.
  if (c.tls && c.tls->established()) {
    // RFC 8446 §6.1: close_notify before the FIN, so the server knows nothing was cut off.
    c.tls->close();
    (void)flush_tls(c);
    say(6, "pool: closing connection #" + std::to_string(c.number) + " (" + why +
               "): TLS close_notify, then FIN, queued");
  } else {
    say(6, "pool: closing connection #" + std::to_string(c.number) + " (" + why + ")");
  }
  tcp.shutdown(c.sock);
  c.state = ConnState::Closing;
  c.since = host_.now();
}

stack::Result<void, std::string> ConnectionPool::flush_tls(Conn& c) {
  if (!c.tls) return {};
  auto& tcp = host_.iface().tcp();
  while (!c.tls->output().empty()) {
    auto sent = tcp.send(c.sock, c.tls->output());
    if (!sent) return stack::Err{std::string("connection lost while sending: ") + stack::socket::to_string(sent.error())};
    if (*sent == 0) break;  // the send buffer is full: the rest goes on a later turn
    c.tls->consume_output(*sent);
    c.last_io = host_.now();
  }
  return {};
}

ConnectionPool::Received ConnectionPool::receive(Conn& c, std::span<std::byte> out) {
  auto& tcp = host_.iface().tcp();
  auto tcp_failure = [&] {
    const auto e = tcp.error(c.sock);
    return Received{RecvKind::Error, 0, ExitCode::CannotConnect,
                    std::string("connection failed: ") + (e ? stack::socket::to_string(*e) : "closed")};
  };
  if (!c.tls) {
    auto got = tcp.recv(c.sock, out);
    if (!got) {
      if (got.error() == stack::socket::RecvError::WouldBlock) return {};
      return tcp_failure();
    }
    if (*got == 0) return {RecvKind::Eof, 0, ExitCode::Ok, {}};
    return {RecvKind::Data, *got, ExitCode::Ok, {}};
  }
  // TLS: every ciphertext byte TCP has goes into the session, then plaintext comes out.
  std::array<std::byte, 16384> cipher;
  while (!c.tcp_eof) {
    auto got = tcp.recv(c.sock, cipher);
    if (!got) {
      if (got.error() == stack::socket::RecvError::WouldBlock) break;
      return tcp_failure();
    }
    if (*got == 0) {
      c.tcp_eof = true;
      c.tls->receive_eof();
    } else {
      c.tls->receive(std::span<const std::byte>(cipher.data(), *got));
    }
  }
  const auto r = c.tls->read(out);
  if (auto flushed = flush_tls(c); !flushed) return {RecvKind::Error, 0, ExitCode::SendError, flushed.error()};
  switch (r.status) {
    case appkit::tls::ReadStatus::Ok: return {RecvKind::Data, r.bytes, ExitCode::Ok, {}};
    case appkit::tls::ReadStatus::Closed: return {RecvKind::Eof, 0, ExitCode::Ok, {}};
    case appkit::tls::ReadStatus::WouldBlock: return {};
    case appkit::tls::ReadStatus::Error: return {RecvKind::Error, 0, c.tls->failure()->code, c.tls->failure()->message};
  }
  return {};
}

void ConnectionPool::pump_connection(Conn& c) {
  auto& tcp = host_.iface().tcp();
  const Instant now = host_.now();
  const auto st = tcp.state(c.sock);
  const auto err = tcp.error(c.sock);

  switch (c.state) {
    case ConnState::Connecting: {
      if (err) {
        const bool timed_out = *err == stack::socket::TcpError::TimedOut;
        return fail(c, timed_out ? ExitCode::TimedOut : ExitCode::CannotConnect,
                    "cannot connect to " + c.address.describe() + " port " + std::to_string(c.port) + ": " +
                        stack::socket::to_string(*err));
      }
      if (st == TcpState::Established || st == TcpState::CloseWait) {
        say(6, "TCP #" + std::to_string(c.number) + ": established — three-way handshake took " +
                   ms(now - c.since));
        if (c.tls) {
          c.state = ConnState::Handshaking;
          c.since = now;
          c.handshake_started = now;
          c.tls->handshake();  // the ClientHello
          if (auto flushed = flush_tls(c); !flushed) return fail(c, ExitCode::SslConnect, flushed.error());
          return;
        }
        c.state = ConnState::Idle;
        c.since = now;
        if (c.request) {
          Request r = std::move(*c.request);
          c.request.reset();
          start_request(c, std::move(r));
          pump_connection(c);  // send the request now, not on the next turn
        }
        return;
      }
      if (now - c.since >= options_.connect_timeout) {
        return fail(c, ExitCode::TimedOut, "connection to " + c.address.describe() + " timed out");
      }
      return;
    }
    case ConnState::Handshaking: {
      std::array<std::byte, 1> none;
      const auto got = receive(c, std::span(none).first(0));  // moves ciphertext in (and out)
      if (got.kind == RecvKind::Error && !c.tls->failure()) return fail(c, got.code, got.error);
      const auto status = c.tls->handshake();
      if (auto flushed = flush_tls(c); !flushed) return fail(c, ExitCode::SslConnect, flushed.error());
      if (status == appkit::tls::HandshakeStatus::Failed) {
        // The alert is on its way; the exchange is over.
        return fail(c, c.tls->failure()->code, c.tls->failure()->message);
      }
      if (status == appkit::tls::HandshakeStatus::NeedMore) {
        if (c.tcp_eof) {
          return fail(c, ExitCode::SslConnect,
                      "TLS handshake: the server closed the connection before the handshake was complete");
        }
        if (now - c.since >= options_.connect_timeout) {
          return fail(c, ExitCode::TimedOut, "TLS handshake with " + c.address.describe() + " timed out after " +
                                                 std::to_string(options_.connect_timeout.secs()) + " s");
        }
        return;
      }
      c.tls_report = now - c.handshake_started;
      c.tls_done_turn = turn_;
      c.state = ConnState::Idle;
      c.since = now;
      if (c.request) {
        Request r = std::move(*c.request);
        c.request.reset();
        start_request(c, std::move(r));
        pump_connection(c);
      }
      return;
    }
    case ConnState::Busy: {
      if (c.tls) {
        if (auto flushed = flush_tls(c); !flushed) return fail(c, ExitCode::SendError, flushed.error());
      }
      while (c.out_sent < c.out.size()) {
        auto sent = tcp.send(c.sock, std::as_bytes(std::span(c.out).subspan(c.out_sent)));
        if (!sent) {
          return fail(c, ExitCode::CannotConnect,
                      std::string("connection lost while sending: ") + stack::socket::to_string(sent.error()));
        }
        if (*sent == 0) break;
        c.out_sent += *sent;
        c.last_io = now;
      }
      std::array<std::byte, 16384> buf;
      for (;;) {
        const auto got = receive(c, buf);
        if (got.kind == RecvKind::WouldBlock) break;
        http::ResponseParser::State ps;
        if (got.kind == RecvKind::Error) {
          // TLS without close_notify: the HTTP framing judges, as at a plain EOF (http_stream.hpp).
          const bool truncated = c.tls && c.tls->failure() && c.tls->failure()->truncated;
          if (!truncated) return fail(c, got.code, got.error);
          ps = c.parser->finish();
          if (ps != http::ResponseParser::State::Error) return fail(c, got.code, got.error);
        } else if (got.kind == RecvKind::Eof) {
          c.peer_closed_first = !c.we_closed_first;
          ps = c.parser->finish();
        } else {
          c.got_bytes = true;
          c.last_io = now;
          ps = c.parser->feed(std::span<const std::byte>(buf.data(), got.bytes));
          show_progress(c, ps == http::ResponseParser::State::Complete);
        }
        if (ps == http::ResponseParser::State::Error) {
          const auto kind = c.parser->error().kind;
          return fail(c,
                      kind == http::ParseError::BadContentEncoding ? ExitCode::BadContentEncoding
                      : kind == http::ParseError::DecodedTooLarge  ? ExitCode::FileSizeExceeded
                      : kind == http::ParseError::Truncated        ? ExitCode::PartialFile
                      : kind == http::ParseError::EmptyReply       ? ExitCode::EmptyReply
                                                                   : ExitCode::Failure,
                      c.parser->error().message());
        }
        if (ps == http::ResponseParser::State::Complete) {
          FetchResult result;
          result.response = c.parser->take_response();
          const bool eof = got.kind == RecvKind::Eof;
          finish(c, std::move(result));
          if (eof && c.state != ConnState::Closing) begin_close(c, "the server closed after the response");
          return;
        }
        if (got.kind == RecvKind::Eof) return fail(c, ExitCode::Failure, "connection closed before the response was complete");
      }
      if (now - c.last_io >= options_.response_timeout) {
        return fail(c, ExitCode::TimedOut, "no response from " + c.address.describe() + " in " +
                                               std::to_string(options_.response_timeout.secs()) + " s");
      }
      return;
    }
    case ConnState::Idle: {
      if (err) {
        c.state = ConnState::Closed;
        tcp.close(c.sock);
        return;
      }
      if (tcp.readable(c.sock)) {
        std::array<std::byte, 512> buf;
        const auto got = receive(c, buf);
        // A TLS server that closes an idle connection sends close_notify then FIN (Eof); one that
        // only sends a FIN reads as an error here, and means the same for an idle connection.
        if (got.kind == RecvKind::Eof || (got.kind == RecvKind::Error && c.tcp_eof)) {
          // The server's keep-alive timer ran out before ours: it sent the first FIN, so it is the
          // side that will sit in TIME-WAIT (docs/levels.md "Who closes first").
          c.peer_closed_first = true;
          say(6, "pool: the server closed idle connection #" + std::to_string(c.number) + " first (its FIN arrived)");
          return begin_close(c, "answering the server's FIN");
        }
        if (got.kind == RecvKind::Data) return begin_close(c, "unexpected bytes on an idle connection");
        if (got.kind == RecvKind::Error) {
          c.state = ConnState::Closed;
          tcp.abort(c.sock);
          tcp.close(c.sock);
          return;
        }
      }
      if (now - c.since >= options_.idle_timeout) {
        return begin_close(c, "idle for " + std::to_string(options_.idle_timeout.secs()) + " s");
      }
      return;
    }
    case ConnState::Closing: {
      // Drain anything the peer still sends, so its FIN is seen.
      std::array<std::byte, 2048> buf;
      for (;;) {
        auto got = tcp.recv(c.sock, buf);
        if (!got || *got == 0) break;
      }
      if (!st || *st == TcpState::Closed || *st == TcpState::TimeWait) {
        if (st == TcpState::TimeWait) {
          // RFC 9293 §3.6.1: the side that closed first keeps the 4-tuple for 2·MSL. Our stack lives
          // in this process: when it exits, so does the entry (a kernel would keep it) — unless
          // --linger keeps the program, and then time_wait_ shows the expiry (time_wait.hpp).
          say(6, "TCP #" + std::to_string(c.number) +
                     " is in TIME-WAIT (we sent the first FIN): RFC 9293 keeps the 4-tuple for 2·MSL, 60 s in this "
                     "stack as in Linux, against late segments; " +
                     (options_.lingering ? std::string("--linger keeps this program running, so its end is shown below")
                                         : std::string("this program exits when the page is done, so its TIME-WAIT ends "
                                                       "with it (the kernel's would last the 60 s)")));
          if (const auto* tcb = tcp.tcb(c.sock)) time_wait_.entered(c.number, c.sock, tcb->local(), tcb->remote(), now);
        } else {
          say(6, "TCP #" + std::to_string(c.number) + ": closed" +
                     (c.peer_closed_first ? " (the server closed first, so the server is the one in TIME-WAIT)" : ""));
        }
        tcp.close(c.sock);
        c.state = ConnState::Closed;
      } else if (now - c.since >= Duration::from_secs(10)) {
        say(6, "TCP #" + std::to_string(c.number) + ": stuck in " + stack::socket::to_string(*st) +
                   " for 10 s; aborting");
        tcp.abort(c.sock);
        tcp.close(c.sock);
        c.state = ConnState::Closed;
      }
      return;
    }
    case ConnState::Closed: return;
  }
}

void ConnectionPool::drive() {
  ++turn_;
  for (auto& c : conns_) {
    if (c->tls_report && turn_ > c->tls_done_turn) {
      if (tls_hook_) tls_hook_(c->number, c->sock, *c->tls, *c->tls_report);
      c->tls_report.reset();
    }
  }
  for (std::size_t i = 0; i < conns_.size(); ++i) pump_connection(*conns_[i]);
  for (const auto& line : time_wait_.poll(host_.iface().tcp(), host_.now())) say(6, line);
  // Hand queued requests to idle connections of their host, or open new ones up to the limit.
  for (auto it = pending_.begin(); it != pending_.end();) {
    const std::string key = key_of(it->url);
    Conn* idle = nullptr;
    for (auto& c : conns_) {
      if (c->key == key && c->state == ConnState::Idle && !c->request) {
        idle = c.get();
        break;
      }
    }
    if (idle) {
      Request r = std::move(*it);
      it = pending_.erase(it);
      start_request(*idle, std::move(r));
      pump_connection(*idle);
      continue;
    }
    // A connection still connecting for this host, without a request, takes it.
    Conn* waiting = nullptr;
    for (auto& c : conns_) {
      if (c->key == key && (c->state == ConnState::Connecting || c->state == ConnState::Handshaking) && !c->request) {
        waiting = c.get();
      }
    }
    if (waiting) {
      waiting->request = std::move(*it);
      it = pending_.erase(it);
      continue;
    }
    if (live_for(key) < options_.max_per_host) {
      Conn* c = open_connection(*it);
      if (!c) {
        Request r = std::move(*it);
        it = pending_.erase(it);
        FetchResult result;
        result.url = r.url;
        result.error = "cannot open a connection to " + r.address.describe() + " (no address or no free port)";
        result.code = ExitCode::CannotConnect;
        ++done_;
        r.callback(std::move(result));
        continue;
      }
      c->request = std::move(*it);
      it = pending_.erase(it);
      continue;
    }
    ++it;  // every connection of this host is busy: wait for one
  }
  // Forget connections that are done with.
  std::erase_if(conns_, [](const auto& c) { return c->state == ConnState::Closed; });
}

std::optional<Instant> ConnectionPool::next_deadline() const {
  std::optional<Instant> at;
  auto consider = [&at](Instant t) {
    if (!at || t < *at) at = t;
  };
  if (auto t = time_wait_.next_deadline(host_.iface().tcp())) consider(*t);
  for (const auto& c : conns_) {
    switch (c->state) {
      case ConnState::Connecting:
      case ConnState::Handshaking: consider(c->since + options_.connect_timeout); break;
      case ConnState::Busy: consider(c->last_io + options_.response_timeout); break;
      case ConnState::Idle: consider(c->since + options_.idle_timeout); break;
      case ConnState::Closing: consider(c->since + Duration::from_secs(10)); break;
      case ConnState::Closed: break;
    }
  }
  return at;
}

void ConnectionPool::close_all() {
  for (auto& c : conns_) {
    if (c->state == ConnState::Idle || c->state == ConnState::Connecting || c->state == ConnState::Handshaking) {
      begin_close(*c, "the browser is done");
    }
  }
}

void ConnectionPool::abort_all(const std::string& why) {
  auto& tcp = host_.iface().tcp();
  for (auto& c : conns_) {
    if (c->state == ConnState::Closed) continue;
    const auto st = tcp.state(c->sock);
    // Closing ones too: their FIN may not have left yet, and the program is about to exit.
    if (st && *st != stack::socket::TcpState::Closed && *st != stack::socket::TcpState::TimeWait) {
      say(6, "pool: aborting connection #" + std::to_string(c->number) + " (" + why + ") in " +
                 stack::socket::to_string(*st));
      tcp.abort(c->sock);
    }
    tcp.close(c->sock);
    c->state = ConnState::Closed;
  }
  host_.flush();
}

bool ConnectionPool::all_closed() const {
  return std::all_of(conns_.begin(), conns_.end(), [](const auto& c) { return c->state == ConnState::Closed; });
}

}  // namespace minibrowser
