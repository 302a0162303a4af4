// DnsTrace: the iterative walk a recursive resolver does, step by step, for `ustack resolve
// --trace` (docs/levels.md level 5) — in the habits of `dig +trace`.
//
// Read first: RFC 1034 §5.3.3 (the resolver algorithm: start from the best servers known — here
// the root hints —, send a query, and on a referral "cache the delegation information and go to
// step 2"; on a CNAME "change SNAME to the canonical name and go back to step 1"), §4.3.2 (what a
// server answers: the data, a referral with NS in AUTHORITY and glue in ADDITIONAL, or a name
// error), §5.3.3 step 2 (a server name without an address is itself resolved first); RFC 1035
// §4.1.1 (RD: off here, as dig +trace does); RFC 2308 §2 (NXDOMAIN / NODATA); RFC 5452 §9.1
// (accept only the reply from the server asked, to our port, with our ID and question).
//
// Queries go over our own stack: one fresh UDP socket (random port, RFC 6056) and a random ID per
// query, built and parsed with stack/wire/dns — c-ares' single-server-list channel is the wrong
// shape for asking a different server at every step.
//
// A truncated reply (TC=1, RFC 1035 §4.2.1) is asked again of the same server over our own TCP
// (RFC 7766 §5: 2-octet length framing, one connection per query, closed with a FIN after the
// reply); a refused/reset/closed connection counts as that server not answering.
//
// Bounds: each referral must go strictly deeper (towards the name), or the walk stops with a
// "referral loop" error; CNAME restarts, nested walks for glue-less servers and the total number
// of queries are capped.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "apps/common/dns_resolver.hpp"
#include "stack/iface/interface.hpp"
#include "stack/time.hpp"
#include "stack/util/bytes.hpp"
#include "stack/util/random.hpp"
#include "stack/util/result.hpp"
#include "stack/wire/dns.hpp"

namespace appkit {

struct RootHint {
  stack::wire::dns::Name name;
  stack::wire::Ipv4Address address;
};

// The IANA root servers' IPv4 addresses (https://www.iana.org/domains/root/servers).
std::vector<RootHint> builtin_root_hints();
// A hints file: "NAME ADDRESS" lines, or zone-file lines as in IANA's named.root
// ("A.ROOT-SERVERS.NET. 3600000 A 198.41.0.4"; NS and AAAA lines are skipped). ';' and '#'
// start comments. The error ("FILE:3: ...") when a line makes no sense or none is usable.
struct RootHintsError {
  std::string message;  // one line: "named.root:3: bad IPv4 address '1.2.3'"
};
stack::Result<std::vector<RootHint>, RootHintsError> parse_root_hints(std::string_view text, const std::string& source);
stack::Result<std::vector<RootHint>, RootHintsError> load_root_hints(const std::string& path);

// One query of the walk and what came back.
struct TraceStep {
  int depth = 0;                     // 0: the walk for the name; 1+: walks for servers without glue
  stack::wire::dns::Name qname;      // the name asked
  stack::wire::dns::Name zone;       // the zone the server was chosen for ("." for the roots)
  stack::wire::Ipv4Address server;
  stack::wire::dns::Name server_name;
  stack::Duration elapsed;
  std::size_t bytes = 0;             // size of the reply
  std::optional<stack::wire::dns::Message> reply;  // nullopt: no reply in time
  enum class Outcome { Referral, Answer, Alias, NoSuchDomain, NoData, ServerError, Timeout, Lame } outcome{};
  std::string note;                  // "referral to com.", "no reply in 2000 ms"
  std::uint16_t id = 0;              // the query's message ID (its UDP datagram and the reply carry it)
  bool over_tcp = false;             // asked again over TCP after TC=1: the reply came in the stream
};

struct TraceResult {
  std::string name;
  std::vector<DnsAddress> addresses;
  std::vector<stack::wire::dns::Record> records;  // the CNAMEs followed and the final A records
  std::optional<stack::wire::Ipv4Address> server;  // the authoritative server that answered
  int queries = 0;
  stack::Duration elapsed;
  std::optional<DnsError> error;
  std::string detail;
  bool ok() const { return !error.has_value(); }
  std::string error_message() const;
};

struct DnsTraceOptions {
  std::vector<RootHint> roots;  // empty: builtin_root_hints()
  std::uint16_t port = stack::wire::dns::kPort;
  int timeout_ms = 2000;        // per query; then the next server of the zone
  int max_queries = 40;
  int max_depth = 4;            // nested walks for glue-less name servers
  int max_cname_restarts = 8;
  std::uint16_t edns_payload = 1232;
};

class DnsTrace {
 public:
  using Clock = std::function<stack::Instant()>;
  using Callback = std::function<void(const TraceResult&)>;

  DnsTrace(stack::iface::Interface& iface, DnsTraceOptions options, Clock clock, std::uint64_t seed);
  ~DnsTrace();
  DnsTrace(const DnsTrace&) = delete;
  DnsTrace& operator=(const DnsTrace&) = delete;

  // One walk at a time. The callback runs from process().
  void start(const std::string& name, Callback callback);
  void process();
  std::optional<stack::Instant> next_deadline() const;
  bool busy() const { return active_; }
  // The TCP connections of TC=1 retries have had their FIN acknowledged (or are gone): a program
  // exiting right after the walk waits for this briefly so the server sees a graceful close.
  bool tcp_closed() const;

  // Each step as it completes, and other remarks ("(no glue for ns1.x.; resolving it)").
  std::function<void(const TraceStep&)> on_step;
  std::function<void(int depth, const std::string&)> on_note;

  std::uint64_t ignored_replies() const { return ignored_; }

 private:
  struct Server {
    stack::wire::dns::Name name;
    std::optional<stack::wire::Ipv4Address> address;
    bool tried = false;
    bool resolving = false;  // a nested walk is finding its address
    bool unusable = false;
  };
  struct Walk {
    stack::wire::dns::Name target;
    stack::wire::dns::Name zone;
    std::vector<Server> servers;
    int cname_restarts = 0;
    std::vector<stack::wire::dns::Record> records;
    std::vector<std::string> seen_names;  // CNAME loop detection
  };
  struct Pending {
    stack::socket::UdpLayer::SocketId socket;
    std::uint16_t id;
    stack::wire::dns::Question question;
    std::size_t server_index;
    stack::Instant sent_at;
    stack::Instant deadline;
    std::optional<stack::socket::SocketId> tcp;  // asking again over TCP after TC=1 (RFC 7766)
    stack::Bytes tcp_out;                        // the framed query the send buffer has not taken
    stack::Bytes tcp_in;                         // the framed reply so far
  };

  void advance();
  void send(std::size_t server_index);
  void on_reply(const stack::wire::dns::Message& reply, std::size_t bytes);
  void on_timeout(std::string why = {});
  TraceStep pending_step() const;
  void start_tcp();
  void process_tcp();
  void finish_walk(std::optional<DnsError> error, std::string detail, std::vector<DnsAddress> addresses = {});
  void restart_at_root(Walk& w);
  void close_pending();
  void note(const std::string& text);

  stack::iface::Interface& iface_;
  DnsTraceOptions options_;
  Clock clock_;
  stack::Rng rng_;
  bool active_ = false;
  Callback callback_;
  std::vector<Walk> walks_;  // back(): the walk in progress; below it the walks waiting for it
  std::optional<Pending> pending_;
  std::vector<stack::socket::SocketId> closed_tcp_;  // closed by us, finishing their close
  TraceResult result_;
  stack::Instant started_;
  bool deliver_ = false;
  std::uint64_t ignored_ = 0;
};

}  // namespace appkit
