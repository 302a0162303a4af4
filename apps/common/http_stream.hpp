// HttpStream: the byte stream an HTTP client reads and writes, plain TCP or TLS over our TCP
// behind one interface (ustack get). The TLS engine (tls.hpp) is sans-I/O; this class moves its
// ciphertext to and from the TcpStream and turns the Host's loop while it waits, so TLS adds no
// file descriptor and no thread.
//
//   auto s = appkit::HttpStream::open(std::move(tcp), tls_context, url);   // nullptr context: plain
//   if (auto h = s.handshake(deadline); !h) { ...h.error().code (35, 60), h.error().message... }
//   s.write_all(request, deadline); s.read(buf, deadline) ...; s.close(); s.wait_closed(...);
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>

#include "apps/common/tcp_stream.hpp"
#include "apps/common/tls.hpp"
#include "apps/common/url.hpp"
#include "stack/util/result.hpp"

namespace appkit {

// Why a transfer on an HttpStream failed: curl's exit code and one line.
struct HttpStreamError {
  ExitCode code = ExitCode::Failure;
  std::string message;
  bool timed_out = false;
  // TLS: the server's FIN came without close_notify (tls::Failure::truncated). The caller ends the
  // response as at an EOF and lets the HTTP framing judge, as curl does: a body whose length is
  // known and not reached is "transfer closed with N bytes remaining" (18, like a plain EOF); a body
  // read until the close cannot be known whole without close_notify, so that stays this error (56;
  // curl takes it as complete).
  bool truncated = false;
  bool interrupted = false;  // SIGINT/SIGTERM (interrupt.hpp); `code` is then 130/143
};

struct HttpIo {
  IoStatus status = IoStatus::Ok;  // Ok, Eof (clean end: FIN, or close_notify then FIN), Error
  std::size_t bytes = 0;
  std::optional<HttpStreamError> error;
};

class HttpStream {
 public:
  // `tls` null: plain HTTP. Otherwise a TLS session for the URL's host (SNI, host check) and port.
  HttpStream(TcpStream tcp, tls::Context* tls, const Url& url);

  // The TLS handshake (nothing for plain): turns the loop until done, a failure, or the deadline.
  stack::Result<void, HttpStreamError> handshake(std::optional<stack::Instant> deadline);
  HttpIo read(std::span<std::byte> out, std::optional<stack::Instant> deadline);
  HttpIo write_all(std::span<const std::byte> data, std::optional<stack::Instant> deadline);
  // TLS: our close_notify first; then the FIN (TcpStream::close).
  void close();
  // RST at once (TLS: no close_notify), as a kernel does on close with unread data.
  void abort() { tcp_.abort(); }
  bool wait_closed(stack::Instant deadline) { return tcp_.wait_closed(deadline); }

  TcpStream& tcp() { return tcp_; }
  tls::Session* tls() { return tls_.get(); }
  bool secure() const { return tls_ != nullptr; }

 private:
  // Moves ciphertext: the session's output into the TCP send buffer, TCP's received bytes into
  // the session. False when TCP failed (error_ says why).
  bool pump();
  HttpStreamError tcp_error(StreamError e) const;

  TcpStream tcp_;
  std::unique_ptr<tls::Session> tls_;
  bool tcp_eof_ = false;
  std::optional<HttpStreamError> error_;
};

}  // namespace appkit
