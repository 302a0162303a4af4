// TcpStream: a small byte-stream handle over the stack's TCP layer for programs (ustack get/serve,
// the mini-browser). It adds to TcpLayer's socket calls what every program otherwise rewrites:
//   - connect with a deadline, ending in a named error with curl's exit code (refused / unreachable
//     / no route → 7, timed out → 28);
//   - non-blocking read_some/write_some for event loops that juggle many streams (the server), and
//     blocking read/write_all that turn the Host's loop until progress, EOF, error or a deadline
//     (write_all is the backpressure: it waits for ACKs to free the send buffer);
//   - close() that always ends with a FIN: unread bytes are drained first, because TcpLayer answers
//     a close with unread data by a RST (RFC 2525 §2.17), which makes the peer throw away the
//     response it has not read yet. abort() is the RST.
//
// Read first: RFC 9293 §3.10 (the user calls OPEN/SEND/RECEIVE/CLOSE/ABORT), §3.6 (closing);
// tcp_layer.hpp for the calls underneath. Nothing here blocks except the functions that take a
// deadline, and those block only by turning Host::step().
//
//   auto c = appkit::TcpStream::connect(host, addr, 80, host.now() + 10_s);
//   if (!c) { fputs(c.error().message.c_str(), stderr); return exit_code(c.error().error); }
//   auto& s = *c;
//   s.write_all(request_bytes, deadline);       // IoStatus::Ok when all of it is queued
//   for (;;) { auto r = s.read(buf, deadline); if (r.status != IoStatus::Ok) break; use(buf, r.bytes); }
//   s.close(); s.wait_closed(host.now() + 1_s);  // let the FIN leave before the process exits
//
// Server side: TcpListener::listen(host, port, backlog), then accept() each turn of the loop.
// Streams are move-only and close themselves (FIN) when destroyed; the Host must outlive them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "apps/common/cli.hpp"
#include "apps/common/host.hpp"
#include "stack/socket/tcp_layer.hpp"
#include "stack/time.hpp"
#include "stack/util/result.hpp"
#include "stack/wire/ip_address.hpp"

namespace appkit {

// Why a stream could not be opened or broke, in the words curl uses.
enum class StreamError {
  Refused,      // RST in answer to our SYN (RFC 9293 §3.10.7.3)               curl 7
  Unreachable,  // ICMP unreachable, or the next hop never answered ARP       curl 7
  NoRoute,      // no address configured, or no route to the destination      curl 7
  TimedOut,     // our deadline passed, or TCP's retransmissions gave up      curl 28
  Reset,        // RST on an established connection (ECONNRESET)              curl 56
  Closed,       // write after shutdown, or the stream is already closed      curl 55
  Local,        // no ephemeral port or too many sockets                      curl 7
  Interrupted,  // SIGINT/SIGTERM arrived while waiting (interrupt.hpp)       130/143
};
const char* describe(StreamError e);  // "Connection refused", in curl's / strerror's words
ExitCode exit_code(StreamError e);

struct StreamFailure {
  StreamError error;
  std::string message;  // "Failed to connect to 10.77.0.1 port 9 after 2 ms: Connection refused"
};

enum class IoStatus {
  Ok,          // `bytes` moved (> 0 for reads; for writes, possibly less than asked by write_some)
  WouldBlock,  // nothing now (non-blocking calls only)
  Eof,         // the peer's FIN: no more bytes will come (reads only)
  Error,       // `error` says why; the stream is dead
};
struct IoResult {
  IoStatus status = IoStatus::Ok;
  std::size_t bytes = 0;
  std::optional<StreamError> error;
};

class TcpStream {
 public:
  using SocketId = stack::socket::SocketId;

  // Active open that turns the loop until ESTABLISHED, a failure, or `deadline`.
  static stack::Result<TcpStream, StreamFailure> connect(Host& host, stack::wire::Ipv4Address remote, std::uint16_t port,
                                                         stack::Instant deadline);
  // Active open that returns at once (SYN-SENT); check connect_status() after steps of the loop.
  static stack::Result<TcpStream, StreamFailure> start_connect(Host& host, stack::wire::Ipv4Address remote,
                                                               std::uint16_t port);
  // Takes ownership of a connection from TcpListener::accept().
  static TcpStream adopt(Host& host, SocketId id);

  TcpStream(TcpStream&& other) noexcept;
  TcpStream& operator=(TcpStream&& other) noexcept;
  TcpStream(const TcpStream&) = delete;
  TcpStream& operator=(const TcpStream&) = delete;
  ~TcpStream();  // close() if still open

  // For start_connect(): nullopt while the handshake is in progress or done; connected() says which.
  std::optional<StreamFailure> connect_status() const;
  bool connected() const;

  // --- non-blocking ---
  IoResult read_some(std::span<std::byte> out);
  IoResult write_some(std::span<const std::byte> data);
  // --- blocking (turn Host::step until progress); nullopt deadline: no limit ---
  // At least one byte, EOF, an error, or TimedOut at the deadline.
  IoResult read(std::span<std::byte> out, std::optional<stack::Instant> deadline);
  // All of `data` queued (Ok, bytes == size), or an error / TimedOut with `bytes` queued so far.
  IoResult write_all(std::span<const std::byte> data, std::optional<stack::Instant> deadline);

  // FIN after the queued data; reading goes on (half-close, RFC 9293 §3.10.4).
  void shutdown_write();
  // Reads and drops what is unread, then FIN and releases the handle. The stack finishes the
  // close (retransmits the FIN, TIME-WAIT) by itself.
  void close();
  // RST now (RFC 9293 §3.10.5 ABORT).
  void abort();
  // After close(): turns the loop until our FIN is acknowledged (or the connection is gone), or the
  // deadline. A program that exits right after close() calls this so the peer sees the FIN.
  bool wait_closed(stack::Instant deadline);
  // Turns the loop until everything written has been acknowledged by the peer (or error/deadline).
  bool wait_sent(stack::Instant deadline);

  // --- observers ---
  bool is_open() const { return open_; }  // the handle is ours (not yet closed/aborted)
  bool readable() const;                  // data, EOF, or an error to report: read_some will not block
  bool writable() const;                  // room in the send buffer
  bool eof() const;                       // the peer's FIN has been read past
  std::optional<StreamError> error() const;
  std::optional<stack::socket::TcpState> state() const;
  std::size_t unacked() const;            // bytes written that the peer has not acknowledged
  SocketId id() const { return id_; }
  stack::socket::TcpEndpoint local() const { return local_; }
  stack::socket::TcpEndpoint remote() const { return remote_; }
  std::uint64_t bytes_read() const { return bytes_read_; }
  std::uint64_t bytes_written() const { return bytes_written_; }
  Host& host() const { return *host_; }

 private:
  struct ArpWatch;  // set when the next hop of a connecting stream fails ARP

  TcpStream(Host& host, SocketId id);
  stack::socket::TcpLayer& tcp() const;
  void release();

  Host* host_ = nullptr;
  SocketId id_ = 0;
  bool open_ = false;
  bool write_shut_ = false;
  stack::Instant started_;
  stack::socket::TcpEndpoint local_;
  stack::socket::TcpEndpoint remote_;
  std::uint64_t bytes_read_ = 0;
  std::uint64_t bytes_written_ = 0;
  std::shared_ptr<ArpWatch> arp_watch_;
};

// A passive open: SYNs to `port` complete handshakes on their own (up to `backlog` half-open plus
// not-yet-accepted connections; more SYNs are dropped, the client retries, RFC 9293 §3.10.7.2).
class TcpListener {
 public:
  static stack::Result<TcpListener, std::string> listen(Host& host, std::uint16_t port, std::size_t backlog,
                                                        stack::wire::Ipv4Address local = stack::wire::Ipv4Address::any());
  TcpListener(TcpListener&& other) noexcept;
  TcpListener& operator=(TcpListener&& other) noexcept;
  TcpListener(const TcpListener&) = delete;
  TcpListener& operator=(const TcpListener&) = delete;
  ~TcpListener();

  // The next established connection, or nullopt. Never blocks.
  std::optional<TcpStream> accept();
  bool pending() const;  // accept() would return a stream
  // Stops listening: connections not yet accepted are reset (RFC 9293 §3.10.4, CLOSE of LISTEN).
  void close();
  bool is_open() const { return open_; }
  std::uint16_t port() const { return port_; }

 private:
  TcpListener(Host& host, stack::socket::SocketId id, std::uint16_t port) : host_(&host), id_(id), port_(port), open_(true) {}
  Host* host_ = nullptr;
  stack::socket::SocketId id_ = 0;
  std::uint16_t port_ = 0;
  bool open_ = false;
};

}  // namespace appkit
