// DnsResolver: a DNS stub resolver — c-ares 1.18 over the stack's own UDP sockets.
//
// Read first: RFC 1034 §5.3.1 (stub resolvers), §3.6.2 (CNAME chains), §5.3.3 step 3c (restart
// at the canonical name); RFC 1035 §4.2.1 (UDP, 512 octets), §7.3 (matching replies); RFC 2308 §2
// (NXDOMAIN / NODATA); RFC 5452 §9.1 (accept a reply only from the server asked, with the same
// ID and question — c-ares checks this, so `arecvfrom` reports the true source address);
// RFC 6891 (EDNS payload size); RFC 7766 (TCP for truncated answers).
// ares_set_socket_functions(3) is the custom-socket contract this follows.
//
// How it is wired (one c-ares channel per resolver, one resolver per program):
//   - `ares_set_socket_functions` maps c-ares' socket calls onto UdpLayer sockets: asocket binds
//     an ephemeral port, aconnect remembers the server, asendv queues the datagram (never EAGAIN:
//     c-ares 1.18 skips the server on any send error), arecvfrom returns one datagram per call
//     with its true source, then -1/EAGAIN. No kernel socket is ever opened.
//   - a truncated answer (TC=1, RFC 1035 §4.2.1) makes c-ares ask again over TCP (RFC 7766 §5):
//     asocket(SOCK_STREAM) is a TcpLayer socket, aconnect a non-blocking active open (-1/
//     EINPROGRESS), asendv moves what the send buffer takes (partial writes; -1/EAGAIN while
//     connecting or full), arecvfrom returns what is queued (-1/EAGAIN when empty, 0 at the
//     peer's FIN), aclose drains and closes with a FIN (the connection may then sit in TIME-WAIT
//     inside the TCP layer). c-ares does the 2-octet length framing (RFC 1035 §4.2.2) itself.
//   - the socket-state callback tells which handles c-ares reads and writes; `process()` feeds it
//     with `ares_process_fd` while our socket holds datagrams or stream bytes (c-ares 1.18 reads a
//     TCP socket once per call: the length, then the body), while a TCP socket c-ares wants to
//     write is writable, and once with (BAD, BAD) for timeouts;
//   - `next_deadline()` is c-ares' own timeout (`ares_timeout`), for the Host loop's step().
//   - configuration is explicit (every ARES_OPT_* that `ARES_CONFIG_CHECK` wants), so c-ares
//     never reads /etc/resolv.conf; the hosts file is ours (hosts_file.hpp), never c-ares'.
//   - queries are `ares_query(name, IN, A)`; `ares_gethostbyname`/`ares_getaddrinfo` would open a
//     sort probe and call the real getsockname() on our fake handle (reference §1.2).
// Answers are parsed with stack/wire/dns (TTLs, the CNAME chain). c-ares' clock is the real
// CLOCK_MONOTONIC, so tests use small real timeouts.
//
// EDNS with a 1232-octet payload (the DNS flag day 2020 value) makes truncation rare; when it
// happens the retry goes over our own TCP (lookups that overlap share one connection per server,
// pipelined). NOT IMPLEMENTED(RFC 7766 §6.2.1): keeping the connection open for later lookups
// (c-ares 1.18 closes every socket once no query is pending; ARES_FLAG_STAYOPEN is not set).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "stack/iface/interface.hpp"
#include "stack/time.hpp"
#include "stack/util/bytes.hpp"
#include "stack/util/result.hpp"
#include "stack/wire/dns.hpp"
#include "stack/wire/ip_address.hpp"

struct sockaddr;
struct iovec;

namespace appkit {

class Host;

// Application-level DNS failures (docs/architecture.md "Errors"): each maps to exit code 6 in the programs.
enum class DnsError {
  NoSuchDomain,     // NXDOMAIN (RFC 2308 §2.1)
  NoData,           // the name exists but has no A record (RFC 2308 §2.2)
  ServerFailure,    // SERVFAIL from every server
  Refused,          // REFUSED from every server
  NotImplemented,   // NOTIMP from the server
  FormatError,      // FORMERR from the server
  TimedOut,         // no reply after every try
  Unreachable,      // ICMP port unreachable from the server
  TcpFailed,        // TC=1, then the retry over TCP failed (refused, reset, unreachable)
  NoServers,        // no DNS server configured (no --dns, no DHCP option 6)
  BadName,          // not a valid domain name
  Malformed,        // a reply we could not parse
  CnameLoop,        // an alias chain that loops or is too long
  ReferralLoop,     // the iterative walk was referred sideways/upwards, or took too many steps
  Cancelled,
  Internal,         // c-ares out of memory and the like
};
const char* to_string(DnsError e);  // "no such domain"

struct DnsAddress {
  stack::wire::Ipv4Address address;
  std::uint32_t ttl = 0;  // seconds, as the answer carried it
};

struct DnsResult {
  std::string name;                               // as asked
  std::vector<DnsAddress> addresses;              // A records of the canonical name
  std::vector<stack::wire::dns::Record> records;  // the chain: CNAMEs in order, then the records asked for
  std::vector<std::string> cname_chain;           // names from the one asked to the canonical one
  std::optional<stack::wire::Ipv4Address> server;  // who answered (or the last one asked)
  bool over_tcp = false;                           // the answer came over TCP (RFC 7766 fallback)
  std::optional<std::uint16_t> message_id;         // the ID of the answer's message (names its frame)
  stack::Duration elapsed;
  int timeouts = 0;
  std::optional<DnsError> error;
  std::string detail;  // "NXDOMAIN from 198.51.100.53"

  bool ok() const { return !error.has_value(); }
  // "no such domain (NXDOMAIN from 198.51.100.53)"
  std::string error_message() const;
};

// One line for the narrator: "DNS: asking 198.51.100.53 for www.domain.com A".
struct DnsEvent {
  enum class Kind { Query, Retry, Answer, Failure, Ignored, Tcp };  // Tcp: the RFC 7766 connection
  Kind kind;
  stack::Instant at;
  std::string text;
  // The UDP datagram the line is about, when it is one (a narrator cites its frame): the message
  // ID, the server, and whether we sent it. Over TCP (RFC 7766), `tcp` says which segment: the
  // SYN, the SYN+ACK, the one that completes a message (`id` is that message's ID), our FIN.
  // Lines about no datagram or segment have none.
  struct Datagram {
    std::uint16_t id;
    stack::wire::Ipv4Address server;
    bool outgoing;
    enum class Tcp : std::uint8_t { No, Syn, SynAck, Message, Fin } tcp = Tcp::No;
  };
  std::optional<Datagram> datagram;
};

struct DnsResolverOptions {
  std::vector<stack::wire::Ipv4Address> servers;  // from DHCP option 6 or --dns
  std::uint16_t port = stack::wire::dns::kPort;
  int timeout_ms = 2000;           // first try; c-ares doubles it on each pass over the servers
  int tries = 2;                   // per server
  std::uint16_t edns_payload = 1232;  // 0: no EDNS (512-octet answers)
  int max_cname_restarts = 8;      // RFC 1034 §5.3.3 restarts at a CNAME target
};

// Why a resolver could not be made: c-ares would not initialise or refused the server list.
struct DnsResolverError {
  std::string message;  // one line: "c-ares init: ..."
};

class DnsResolver {
 public:
  using Clock = std::function<stack::Instant()>;
  using Callback = std::function<void(const DnsResult&)>;

  // The error when c-ares cannot be initialised.
  static stack::Result<std::unique_ptr<DnsResolver>, DnsResolverError> create(stack::iface::Interface& iface,
                                                                             DnsResolverOptions options, Clock clock);
  static stack::Result<std::unique_ptr<DnsResolver>, DnsResolverError> create(Host& host, DnsResolverOptions options);
  ~DnsResolver();
  DnsResolver(const DnsResolver&) = delete;
  DnsResolver& operator=(const DnsResolver&) = delete;

  // Starts a lookup of `name`'s A records (or of another `type`: MX, NS, TXT, …, for ustack
  // resolve -t). The callback runs later, from process(), never from inside resolve(). A
  // dotted-quad name asked for A answers at once (no DNS).
  void resolve(const std::string& name, Callback callback,
               std::uint16_t type = static_cast<std::uint16_t>(stack::wire::dns::Type::A));

  // Each turn of the loop: feed c-ares what our sockets hold, run its timers, deliver results.
  void process();
  // When process() next has work without a new frame (c-ares' timeout); nullopt when idle.
  std::optional<stack::Instant> next_deadline() const;
  bool idle() const { return queries_.empty() && finished_.empty(); }
  // Every TCP connection c-ares closed has sent its FIN and had it acknowledged (FIN-WAIT-2,
  // TIME-WAIT or gone): a program that exits right after its lookup turns the loop until this
  // holds (or a short deadline) so the server sees a graceful close, not silence.
  bool tcp_closed() const;

  std::function<void(const DnsEvent&)> on_event;

  // Counters for --stats and tests.
  struct Counters {
    std::uint64_t sockets_opened = 0;
    std::uint64_t datagrams_sent = 0;
    std::uint64_t datagrams_received = 0;
    std::uint64_t empty_datagrams = 0;      // zero-length: dropped here, never handed to c-ares
    std::uint64_t foreign_datagrams = 0;    // not from the server's address and port: dropped
    std::uint64_t truncated = 0;            // TC=1 answers to our queries (RFC 1035 §4.2.1)
    std::uint64_t tcp_connections = 0;      // TCP connections opened for the fallback (RFC 7766)
    std::uint64_t tcp_failures = 0;         // of those: refused, reset, unreachable, or no route
    std::uint64_t tcp_bytes_sent = 0;       // stream octets c-ares wrote (length prefixes included)
    std::uint64_t tcp_bytes_received = 0;   // stream octets handed to c-ares
    std::uint64_t icmp_errors = 0;
  };
  const Counters& counters() const { return counters_; }
  const DnsResolverOptions& options() const { return options_; }

 private:
  struct Query;
  struct Ticket {
    DnsResolver* resolver;
    std::uint64_t query;
  };
  struct FakeSocket {
    bool stream = false;                    // SOCK_STREAM: a TcpLayer socket (RFC 7766 fallback)
    stack::socket::UdpLayer::SocketId udp = 0;
    std::optional<stack::socket::SocketId> tcp;  // set by aconnect (the active open)
    std::optional<stack::socket::UdpEndpoint> peer;
    std::optional<std::string> icmp_error;  // pending: arecvfrom reports ECONNREFUSED
    bool connecting = false;                // TCP: SYN sent, establishment not yet narrated
    stack::Instant connect_started;
    stack::Bytes sent_stream;               // TCP: octets written, until a whole framed message
    stack::Bytes received_stream;           // TCP: octets read, until a whole framed message
  };
  struct Rejected {
    stack::wire::Ipv4Address server;
    std::uint8_t rcode;
  };
  struct Finished {
    std::uint64_t query;
    int status;
    int timeouts;
    std::vector<unsigned char> answer;
    std::optional<stack::wire::Ipv4Address> from;
    bool tcp = false;
  };

  DnsResolver(stack::iface::Interface& iface, DnsResolverOptions options, Clock clock);
  stack::Result<void, DnsResolverError> init();
  void start_query(Query& q);
  void handle(Finished& f);
  void complete(std::uint64_t id, DnsResult result);
  void narrate(DnsEvent::Kind kind, std::string text, std::optional<DnsEvent::Datagram> datagram = std::nullopt);
  // A reply c-ares is about to see (UDP datagram or framed TCP message): TC=1 and error rcodes.
  void inspect_reply(const stack::wire::dns::Message& m, stack::wire::Ipv4Address from, bool tcp);
  void tcp_failed(FakeSocket& s, const std::string& why);
  std::string servers_text() const;

  // c-ares callbacks (user_data / arg is `this` or a query id).
  static int a_socket(int domain, int type, int protocol, void* self);
  static int a_close(int fd, void* self);
  static int a_connect(int fd, const ::sockaddr* addr, unsigned addrlen, void* self);
  static long a_recvfrom(int fd, void* buf, std::size_t len, int flags, ::sockaddr* from, unsigned* fromlen,
                         void* self);
  static long a_sendv(int fd, const ::iovec* iov, int iovcnt, void* self);
  static void on_sock_state(void* self, int fd, int readable, int writable);
  static void on_answer(void* arg, int status, int timeouts, unsigned char* abuf, int alen);

  stack::iface::Interface& iface_;
  DnsResolverOptions options_;
  Clock clock_;
  void* channel_ = nullptr;  // ares_channel (kept opaque here so callers need not include ares.h)
  std::map<int, FakeSocket> sockets_;
  std::set<int> want_read_;
  std::set<int> want_write_;                          // TCP sockets with queued data in c-ares
  std::vector<stack::socket::SocketId> closed_tcp_;   // closed by c-ares, finishing their close
  int next_handle_;
  std::uint64_t next_query_ = 1;
  std::map<std::uint64_t, std::unique_ptr<Query>> queries_;
  std::vector<Finished> finished_;
  std::map<std::string, Rejected> rejected_;          // qname key -> the last error rcode seen
  std::map<std::uint16_t, int> sends_per_id_;         // DNS ID -> datagrams sent (retries)
  std::optional<stack::wire::Ipv4Address> last_from_;  // source of the datagram c-ares is reading
  bool last_tcp_ = false;                              // ... and whether it came over TCP
  std::string last_tcp_failure_;                       // "TCP to 198.51.100.53:53: connection refused"
  bool destroying_ = false;
  Counters counters_;
};

}  // namespace appkit
