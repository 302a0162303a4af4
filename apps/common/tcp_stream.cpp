#include "apps/common/tcp_stream.hpp"

#include <array>
#include <utility>

#include "apps/common/interrupt.hpp"
#include "apps/common/network_setup.hpp"
#include "stack/events.hpp"

namespace appkit {

using stack::Instant;
using stack::socket::TcpError;
using stack::socket::TcpState;

const char* describe(StreamError e) {
  switch (e) {
    case StreamError::Refused: return "Connection refused";
    case StreamError::Unreachable: return "No route to host (host unreachable)";
    case StreamError::NoRoute: return "Network is unreachable (no route)";
    case StreamError::TimedOut: return "Connection timed out";
    case StreamError::Reset: return "Connection reset by peer";
    case StreamError::Closed: return "Stream closed";
    case StreamError::Local: return "No local port or socket available";
    case StreamError::Interrupted: return interrupt_description();
  }
  return "?";
}

ExitCode exit_code(StreamError e) {
  switch (e) {
    case StreamError::TimedOut: return ExitCode::TimedOut;
    case StreamError::Reset: return ExitCode::RecvError;
    case StreamError::Closed: return ExitCode::SendError;
    case StreamError::Refused:
    case StreamError::Unreachable:
    case StreamError::NoRoute:
    case StreamError::Local: return ExitCode::CannotConnect;
    case StreamError::Interrupted: return static_cast<ExitCode>(interrupt_exit_code());
  }
  return ExitCode::Failure;
}

namespace {

StreamError from_tcp(TcpError e) {
  switch (e) {
    case TcpError::Refused: return StreamError::Refused;
    case TcpError::Reset: return StreamError::Reset;
    case TcpError::TimedOut: return StreamError::TimedOut;
    case TcpError::Unreachable: return StreamError::Unreachable;
  }
  return StreamError::Reset;
}

std::string connect_message(stack::wire::Ipv4Address remote, std::uint16_t port, stack::Duration after,
                            const std::string& why) {
  return "Failed to connect to " + remote.describe() + " port " + std::to_string(port) + " after " +
         std::to_string(after.millis()) + " ms: " + why;
}

}  // namespace

// The watch listens to the Host's events while the stream connects; its subscription ends when
// the handshake is decided or the stream goes, so a program that opens many connections does not
// leave a dead listener behind for each.
struct TcpStream::ArpWatch {
  stack::wire::Ipv4Address next_hop;
  bool failed = false;
  Host::EventSubscription subscription;
};

TcpStream::TcpStream(Host& host, SocketId id) : host_(&host), id_(id), open_(true), started_(host.now()) {
  if (const auto* t = host.iface().tcp().tcb(id)) {
    local_ = t->local();
    remote_ = t->remote();
  }
}

TcpStream::TcpStream(TcpStream&& o) noexcept
    : host_(o.host_),
      id_(o.id_),
      open_(std::exchange(o.open_, false)),
      write_shut_(o.write_shut_),
      started_(o.started_),
      local_(o.local_),
      remote_(o.remote_),
      bytes_read_(o.bytes_read_),
      bytes_written_(o.bytes_written_),
      arp_watch_(std::move(o.arp_watch_)) {}

TcpStream& TcpStream::operator=(TcpStream&& o) noexcept {
  if (this != &o) {
    if (open_) close();
    host_ = o.host_;
    id_ = o.id_;
    open_ = std::exchange(o.open_, false);
    write_shut_ = o.write_shut_;
    started_ = o.started_;
    local_ = o.local_;
    remote_ = o.remote_;
    bytes_read_ = o.bytes_read_;
    bytes_written_ = o.bytes_written_;
    arp_watch_ = std::move(o.arp_watch_);
  }
  return *this;
}

TcpStream::~TcpStream() {
  if (open_) close();
}

stack::socket::TcpLayer& TcpStream::tcp() const { return host_->iface().tcp(); }

stack::Result<TcpStream, StreamFailure> TcpStream::start_connect(Host& host, stack::wire::Ipv4Address remote,
                                                                 std::uint16_t port) {
  auto& iface = host.iface();
  const Instant now = host.now();
  // No route, no address, or loopback: refused at once, as the kernel's connect() does (ENETUNREACH).
  if (auto reason = unreachable_reason(iface, remote)) {
    return stack::Err{StreamFailure{StreamError::NoRoute, connect_message(remote, port, {}, *reason)}};
  }
  const auto hop = iface.next_hop(remote);
  auto id = iface.tcp().connect(iface.address()->address, remote, port, now);
  if (!id) {
    const bool bad = id.error() == stack::socket::ConnectError::InvalidAddress;
    return stack::Err{StreamFailure{bad ? StreamError::NoRoute : StreamError::Local,
                                    connect_message(remote, port, {}, stack::socket::to_string(id.error()))}};
  }
  TcpStream s(host, *id);
  s.started_ = now;
  // TCP itself would retransmit its SYN for two minutes into an ARP void; the kernel reports
  // EHOSTUNREACH as soon as the neighbour fails (curl: "No route to host"), and so do we.
  s.arp_watch_ = std::make_shared<ArpWatch>();
  s.arp_watch_->next_hop = *hop;
  std::weak_ptr<ArpWatch> weak = s.arp_watch_;
  s.arp_watch_->subscription = host.subscribe_events([weak](Instant, const stack::Event& e) {
    const auto* f = std::get_if<stack::event::ArpFailed>(&e);
    if (!f) return;
    if (auto w = weak.lock(); w && f->ip == w->next_hop) w->failed = true;
  });
  return s;
}

std::optional<StreamFailure> TcpStream::connect_status() const {
  if (!open_) return StreamFailure{StreamError::Closed, "stream closed"};
  const stack::Duration after = host_->now() - started_;
  if (auto e = error()) return StreamFailure{*e, connect_message(remote_.addr, remote_.port, after, describe(*e))};
  const auto st = state();
  if (!st) return StreamFailure{StreamError::Closed, connect_message(remote_.addr, remote_.port, after, "socket gone")};
  if (*st == TcpState::SynSent && arp_watch_ && arp_watch_->failed) {
    return StreamFailure{StreamError::Unreachable,
                         connect_message(remote_.addr, remote_.port, after,
                                         "No route to host (no ARP reply from " + arp_watch_->next_hop.describe() + ")")};
  }
  return std::nullopt;
}

bool TcpStream::connected() const {
  const auto st = state();
  return open_ && st && *st != TcpState::SynSent && *st != TcpState::SynReceived && *st != TcpState::Closed;
}

stack::Result<TcpStream, StreamFailure> TcpStream::connect(Host& host, stack::wire::Ipv4Address remote,
                                                           std::uint16_t port, Instant deadline) {
  auto started = start_connect(host, remote, port);
  if (!started) return stack::Err{started.error()};
  auto& s = *started;
  std::optional<StreamFailure> failure;
  const bool done = host.run_until(
      [&] {
        failure = s.connect_status();
        return failure.has_value() || s.connected();
      },
      deadline);
  if (s.arp_watch_) s.arp_watch_->subscription.reset();
  if (!done && interrupted()) {
    s.abort();
    host.flush();
    return stack::Err{StreamFailure{StreamError::Interrupted,
                                    connect_message(remote, port, host.now() - s.started_, describe(StreamError::Interrupted))}};
  }
  if (!done) {
    s.abort();
    return stack::Err{StreamFailure{StreamError::TimedOut,
                                    connect_message(remote, port, host.now() - s.started_, describe(StreamError::TimedOut))}};
  }
  if (failure) {
    s.abort();
    return stack::Err{std::move(*failure)};
  }
  return std::move(s);
}

TcpStream TcpStream::adopt(Host& host, SocketId id) { return TcpStream(host, id); }

IoResult TcpStream::read_some(std::span<std::byte> out) {
  if (!open_) return {IoStatus::Error, 0, StreamError::Closed};
  if (out.empty()) return {IoStatus::Ok, 0, {}};
  auto r = tcp().recv(id_, out);
  if (r) {
    if (*r == 0) return {IoStatus::Eof, 0, {}};
    bytes_read_ += *r;
    return {IoStatus::Ok, *r, {}};
  }
  switch (r.error()) {
    case stack::socket::RecvError::WouldBlock: return {IoStatus::WouldBlock, 0, {}};
    case stack::socket::RecvError::ConnectionFailed:
      return {IoStatus::Error, 0, error().value_or(StreamError::Reset)};
    case stack::socket::RecvError::InvalidState:
      // CLOSE-WAIT after EOF was read is reported as Eof above; anything else is a dead socket.
      if (auto e = error()) return {IoStatus::Error, 0, e};
      return {IoStatus::Eof, 0, {}};
    case stack::socket::RecvError::BadSocket: return {IoStatus::Error, 0, StreamError::Closed};
  }
  return {IoStatus::Error, 0, StreamError::Closed};
}

IoResult TcpStream::write_some(std::span<const std::byte> data) {
  if (!open_ || write_shut_) return {IoStatus::Error, 0, StreamError::Closed};
  if (data.empty()) return {IoStatus::Ok, 0, {}};
  auto r = tcp().send(id_, data);
  if (r) {
    if (*r == 0) return {IoStatus::WouldBlock, 0, {}};
    bytes_written_ += *r;
    return {IoStatus::Ok, *r, {}};
  }
  switch (r.error()) {
    case stack::socket::SendError::ConnectionFailed: return {IoStatus::Error, 0, error().value_or(StreamError::Reset)};
    case stack::socket::SendError::InvalidState:
      // Still connecting is WouldBlock for the caller; after the peer reset or closed, an error.
      if (auto st = state(); st && *st == TcpState::SynSent) return {IoStatus::WouldBlock, 0, {}};
      return {IoStatus::Error, 0, error().value_or(StreamError::Closed)};
    case stack::socket::SendError::BadSocket: return {IoStatus::Error, 0, StreamError::Closed};
  }
  return {IoStatus::Error, 0, StreamError::Closed};
}

IoResult TcpStream::read(std::span<std::byte> out, std::optional<Instant> deadline) {
  for (;;) {
    IoResult r = read_some(out);
    if (r.status != IoStatus::WouldBlock) return r;
    if (interrupted()) return {IoStatus::Error, 0, StreamError::Interrupted};
    if (deadline && host_->now() >= *deadline) return {IoStatus::Error, 0, StreamError::TimedOut};
    host_->step(deadline);
  }
}

IoResult TcpStream::write_all(std::span<const std::byte> data, std::optional<Instant> deadline) {
  std::size_t done = 0;
  while (done < data.size()) {
    IoResult r = write_some(data.subspan(done));
    if (r.status == IoStatus::Error) return {IoStatus::Error, done, r.error};
    done += r.bytes;
    if (done == data.size()) break;
    if (interrupted()) return {IoStatus::Error, done, StreamError::Interrupted};
    if (deadline && host_->now() >= *deadline) return {IoStatus::Error, done, StreamError::TimedOut};
    host_->step(deadline);
  }
  return {IoStatus::Ok, done, {}};
}

void TcpStream::shutdown_write() {
  if (!open_ || write_shut_) return;
  write_shut_ = true;
  tcp().shutdown(id_);
}

void TcpStream::close() {
  if (!open_) return;
  // Drain: a close with unread bytes would be a RST (see the header).
  std::array<std::byte, 4096> sink;
  while (true) {
    auto r = tcp().recv(id_, sink);
    if (!r || *r == 0) break;
  }
  tcp().close(id_);
  release();
}

void TcpStream::abort() {
  if (!open_) return;
  tcp().abort(id_);
  release();
}

void TcpStream::release() {
  open_ = false;
  if (arp_watch_) arp_watch_->subscription.reset();
}

bool TcpStream::wait_closed(Instant deadline) {
  return host_->run_until(
      [&] {
        const auto st = tcp().state(id_);  // still answers after the handle was released
        return !st || *st == TcpState::Closed || *st == TcpState::FinWait2 || *st == TcpState::TimeWait ||
               (open_ && error().has_value());
      },
      deadline);
}

bool TcpStream::wait_sent(Instant deadline) {
  return host_->run_until([&] { return unacked() == 0 || error().has_value() || !state(); }, deadline);
}

bool TcpStream::readable() const { return open_ && tcp().readable(id_); }
bool TcpStream::writable() const { return open_ && !write_shut_ && tcp().writable(id_); }

bool TcpStream::eof() const {
  const auto* t = tcp().tcb(id_);
  return !t || t->at_eof();
}

std::optional<StreamError> TcpStream::error() const {
  if (auto e = tcp().error(id_)) return from_tcp(*e);
  return std::nullopt;
}

std::optional<TcpState> TcpStream::state() const { return tcp().state(id_); }

std::size_t TcpStream::unacked() const {
  const auto* t = tcp().tcb(id_);
  if (!t) return 0;
  return t->send_queued();  // written and not yet acknowledged (the buffer may have grown)
}

// --- TcpListener ----------------------------------------------------------------------------------

stack::Result<TcpListener, std::string> TcpListener::listen(Host& host, std::uint16_t port, std::size_t backlog,
                                                            stack::wire::Ipv4Address local) {
  auto id = host.iface().tcp().listen(local, port, backlog);
  if (!id) return stack::Err{"cannot listen on port " + std::to_string(port) + ": " + stack::socket::to_string(id.error())};
  return TcpListener(host, *id, port);
}

TcpListener::TcpListener(TcpListener&& o) noexcept
    : host_(o.host_), id_(o.id_), port_(o.port_), open_(std::exchange(o.open_, false)) {}

TcpListener& TcpListener::operator=(TcpListener&& o) noexcept {
  if (this != &o) {
    close();
    host_ = o.host_;
    id_ = o.id_;
    port_ = o.port_;
    open_ = std::exchange(o.open_, false);
  }
  return *this;
}

TcpListener::~TcpListener() { close(); }

std::optional<TcpStream> TcpListener::accept() {
  if (!open_) return std::nullopt;
  auto id = host_->iface().tcp().accept(id_);
  if (!id) return std::nullopt;
  return TcpStream::adopt(*host_, *id);
}

bool TcpListener::pending() const { return open_ && host_->iface().tcp().readable(id_); }

void TcpListener::close() {
  if (!open_) return;
  open_ = false;
  host_->iface().tcp().close(id_);
}

}  // namespace appkit
