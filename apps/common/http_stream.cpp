#include "apps/common/http_stream.hpp"

#include <array>

#include "apps/common/interrupt.hpp"

namespace appkit {

using stack::Instant;

namespace {
// Ciphertext waiting in the session beyond this is not added to: the TCP send buffer is the
// backpressure, as for plain writes.
constexpr std::size_t kMaxPendingCiphertext = 256 * 1024;
}  // namespace

HttpStream::HttpStream(TcpStream tcp, tls::Context* tls, const Url& url) : tcp_(std::move(tcp)) {
  if (tls) tls_ = std::make_unique<tls::Session>(*tls, url.host, url.port);
}

namespace {
HttpStreamError tls_error(const tls::Failure& f) {
  HttpStreamError e{f.code, f.message};
  e.truncated = f.truncated;
  return e;
}
}  // namespace

HttpStreamError HttpStream::tcp_error(StreamError e) const {
  HttpStreamError error{exit_code(e), describe(e), e == StreamError::TimedOut};
  error.interrupted = e == StreamError::Interrupted;
  return error;
}

namespace {
// The TLS loops below wait in Host::step themselves: a signal ends the wait like TcpStream's.
std::optional<HttpStreamError> interrupt_error() {
  if (!interrupted()) return std::nullopt;
  HttpStreamError error{static_cast<ExitCode>(interrupt_exit_code()), interrupt_description()};
  error.interrupted = true;
  return error;
}
}  // namespace

bool HttpStream::pump() {
  // Out: whatever the session has for the peer, as far as the send buffer takes it.
  while (!tls_->output().empty()) {
    auto w = tcp_.write_some(tls_->output());
    if (w.status == IoStatus::Error) {
      error_ = tcp_error(*w.error);
      return false;
    }
    if (w.status != IoStatus::Ok || w.bytes == 0) break;
    tls_->consume_output(w.bytes);
  }
  // In: every received byte goes to the session (its memory BIO holds what it cannot use yet).
  std::array<std::byte, 64 * 1024> buf;
  while (!tcp_eof_) {
    auto r = tcp_.read_some(buf);
    if (r.status == IoStatus::Ok) {
      tls_->receive(std::span<const std::byte>(buf).first(r.bytes));
    } else if (r.status == IoStatus::Eof) {
      tcp_eof_ = true;
      tls_->receive_eof();
    } else if (r.status == IoStatus::Error) {
      error_ = tcp_error(*r.error);
      return false;
    } else {
      break;
    }
  }
  return true;
}

stack::Result<void, HttpStreamError> HttpStream::handshake(std::optional<Instant> deadline) {
  if (!tls_) return {};
  for (;;) {
    const auto status = tls_->handshake();
    if (!pump()) return stack::Err{*error_};
    if (status == tls::HandshakeStatus::Done) return {};
    if (status == tls::HandshakeStatus::Failed) {
      // The alert (if any) is on its way; the caller closes.
      return stack::Err{HttpStreamError{tls_->failure()->code, tls_->failure()->message}};
    }
    if (tls_->bytes_in() == 0 && tcp_eof_) {
      return stack::Err{HttpStreamError{ExitCode::SslConnect, "TLS handshake: the server closed the connection before the handshake was complete"}};
    }
    if (auto e = interrupt_error()) return stack::Err{*e};
    if (deadline && tcp_.host().now() >= *deadline) {
      return stack::Err{HttpStreamError{ExitCode::TimedOut, "TLS handshake timed out after " +
                                                                std::to_string(tls_->bytes_in()) + " bytes from the server", true}};
    }
    // More ciphertext may already be in (pump took it): try again before sleeping.
    const auto again = tls_->handshake();
    if (!pump()) return stack::Err{*error_};
    if (again != tls::HandshakeStatus::NeedMore) continue;
    tcp_.host().step(deadline);
  }
}

HttpIo HttpStream::read(std::span<std::byte> out, std::optional<Instant> deadline) {
  if (!tls_) {
    auto r = tcp_.read(out, deadline);
    if (r.status == IoStatus::Error) return {IoStatus::Error, 0, tcp_error(*r.error)};
    return {r.status, r.bytes, std::nullopt};
  }
  for (;;) {
    auto r = tls_->read(out);
    if (!pump()) return {IoStatus::Error, 0, error_};
    switch (r.status) {
      case tls::ReadStatus::Ok: return {IoStatus::Ok, r.bytes, std::nullopt};
      case tls::ReadStatus::Closed: return {IoStatus::Eof, 0, std::nullopt};
      case tls::ReadStatus::Error:
        return {IoStatus::Error, 0, tls_error(*tls_->failure())};
      case tls::ReadStatus::WouldBlock: break;
    }
    // pump() may have brought ciphertext in: read again before sleeping.
    r = tls_->read(out);
    if (r.status != tls::ReadStatus::WouldBlock) {
      if (r.status == tls::ReadStatus::Ok) return {IoStatus::Ok, r.bytes, std::nullopt};
      if (r.status == tls::ReadStatus::Closed) return {IoStatus::Eof, 0, std::nullopt};
      return {IoStatus::Error, 0, tls_error(*tls_->failure())};
    }
    if (auto e = interrupt_error()) return {IoStatus::Error, 0, e};
    if (deadline && tcp_.host().now() >= *deadline) {
      return {IoStatus::Error, 0, HttpStreamError{ExitCode::TimedOut, describe(StreamError::TimedOut), true}};
    }
    tcp_.host().step(deadline);
  }
}

HttpIo HttpStream::write_all(std::span<const std::byte> data, std::optional<Instant> deadline) {
  if (!tls_) {
    auto w = tcp_.write_all(data, deadline);
    if (w.status == IoStatus::Error) return {IoStatus::Error, w.bytes, tcp_error(*w.error)};
    return {w.status, w.bytes, std::nullopt};
  }
  std::size_t done = 0;
  while (done < data.size() || !tls_->output().empty()) {
    if (done < data.size() && tls_->output().size() < kMaxPendingCiphertext) {
      const std::size_t n = std::min<std::size_t>(data.size() - done, 16 * 1024);  // one record
      if (!tls_->write(data.subspan(done, n))) {
        return {IoStatus::Error, done, HttpStreamError{tls_->failure()->code, tls_->failure()->message}};
      }
      done += n;
      continue;
    }
    const std::size_t before = tls_->output().size();
    if (!pump()) return {IoStatus::Error, done, error_};
    if (tls_->output().empty()) continue;
    if (tls_->output().size() < before) continue;
    if (auto e = interrupt_error()) return {IoStatus::Error, done, e};
    if (deadline && tcp_.host().now() >= *deadline) {
      return {IoStatus::Error, done, HttpStreamError{ExitCode::TimedOut, describe(StreamError::TimedOut), true}};
    }
    tcp_.host().step(deadline);
  }
  return {IoStatus::Ok, done, std::nullopt};
}

void HttpStream::close() {
  if (tls_ && tcp_.is_open()) {
    tls_->close();
    // The close_notify fits in the send buffer unless it is full; what does not fit is dropped
    // (the FIN still ends the connection).
    while (!tls_->output().empty()) {
      auto w = tcp_.write_some(tls_->output());
      if (w.status != IoStatus::Ok || w.bytes == 0) break;
      tls_->consume_output(w.bytes);
    }
  }
  tcp_.close();
}

}  // namespace appkit
