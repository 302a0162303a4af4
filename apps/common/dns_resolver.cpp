#include "apps/common/dns_resolver.hpp"

#include <ares.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <span>
#include <type_traits>

#include "apps/common/clock.hpp"
#include "apps/common/host.hpp"

namespace appkit {

namespace dns = stack::wire::dns;
using stack::Instant;
using stack::wire::Ipv4Address;

// The private callback declarations avoid <ares.h> in the header; check they are the same types.
static_assert(std::is_same_v<ares_socklen_t, unsigned>);
static_assert(std::is_same_v<ares_ssize_t, long>);
static_assert(std::is_same_v<ares_socket_t, int>);

namespace {

// Fake handles start far above any real descriptor this process has, so a stray kernel call on
// one (c-ares 1.18's sort probe, which we avoid by using ares_query) could never hit a real fd.
constexpr int kFirstHandle = 1 << 24;
constexpr int kMaxReadsPerTurn = 1024;  // bound the feed loop even if c-ares stops consuming

std::once_flag g_library_once;
int g_library_status = ARES_SUCCESS;

std::string ms_text(stack::Duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f ms", static_cast<double>(d.micros()) / 1000.0);
  return buf;
}

ares_channel as_channel(void* p) { return static_cast<ares_channel>(p); }

}  // namespace

struct DnsResolver::Query {
  std::uint64_t id;
  std::string asked;          // as the caller wrote it
  dns::Name current;          // the name being asked now (moves along the CNAME chain)
  std::uint16_t type = static_cast<std::uint16_t>(dns::Type::A);  // the QTYPE asked for
  Callback callback;
  Instant started;
  DnsResult partial;          // chain so far (across CNAME restarts)
  int restarts = 0;
  std::uint64_t truncated_at_start = 0;
  std::uint64_t tcp_failures_at_start = 0;
  std::uint64_t icmp_errors_at_start = 0;
};

const char* to_string(DnsError e) {
  switch (e) {
    case DnsError::NoSuchDomain: return "no such domain";
    case DnsError::NoData: return "no address for this name";
    case DnsError::ServerFailure: return "server failure";
    case DnsError::Refused: return "query refused";
    case DnsError::NotImplemented: return "query not implemented by the server";
    case DnsError::FormatError: return "the server could not understand the query";
    case DnsError::TimedOut: return "timed out";
    case DnsError::Unreachable: return "DNS server unreachable";
    case DnsError::TcpFailed: return "answer truncated and the retry over TCP failed";
    case DnsError::NoServers: return "no DNS server configured";
    case DnsError::BadName: return "not a valid domain name";
    case DnsError::Malformed: return "malformed answer";
    case DnsError::CnameLoop: return "alias (CNAME) chain loops or is too long";
    case DnsError::ReferralLoop: return "referral loop or too many referrals";
    case DnsError::Cancelled: return "cancelled";
    case DnsError::Internal: return "internal resolver error";
  }
  return "DNS error";
}

std::string DnsResult::error_message() const {
  if (!error) return {};
  std::string s = to_string(*error);
  if (!detail.empty()) s += " (" + detail + ")";
  return s;
}

// --- set-up --------------------------------------------------------------------------------------

DnsResolver::DnsResolver(stack::iface::Interface& iface, DnsResolverOptions options, Clock clock)
    : iface_(iface), options_(std::move(options)), clock_(std::move(clock)), next_handle_(kFirstHandle) {}

stack::Result<std::unique_ptr<DnsResolver>, DnsResolverError> DnsResolver::create(stack::iface::Interface& iface,
                                                                                  DnsResolverOptions options,
                                                                                  Clock clock) {
  std::unique_ptr<DnsResolver> r(new DnsResolver(iface, std::move(options), std::move(clock)));
  if (auto done = r->init(); !done) return stack::Err{done.error()};
  return r;
}

stack::Result<std::unique_ptr<DnsResolver>, DnsResolverError> DnsResolver::create(Host& host,
                                                                                  DnsResolverOptions options) {
  return create(host.iface(), std::move(options), [] { return monotonic_now(); });
}

stack::Result<void, DnsResolverError> DnsResolver::init() {
  std::call_once(g_library_once, [] { g_library_status = ares_library_init(ARES_LIB_INIT_ALL); });
  if (g_library_status != ARES_SUCCESS) {
    return stack::Err{DnsResolverError{std::string("c-ares: ") + ares_strerror(g_library_status)}};
  }
  // c-ares 1.18 (init_by_resolv_conf) skips /etc/resolv.conf only when every option that
  // ARES_CONFIG_CHECK looks at is set (lookups, nsort, nservers, ndomains, ndots, timeout, tries).
  ares_options o{};
  o.flags = ARES_FLAG_NOSEARCH | (options_.edns_payload ? ARES_FLAG_EDNS : 0);
  o.timeout = options_.timeout_ms;  // milliseconds, with ARES_OPT_TIMEOUTMS
  o.tries = options_.tries;
  o.ndots = 1;
  o.lookups = const_cast<char*>("b");  // DNS only: our hosts parser already had its turn
  o.nservers = 0;                       // set below with ports
  o.ndomains = 0;                       // no search list (else derived from gethostname())
  o.nsort = 0;
  o.ednspsz = options_.edns_payload ? options_.edns_payload : 1280;
  o.sock_state_cb = &DnsResolver::on_sock_state;
  o.sock_state_cb_data = this;
  const int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_NDOTS | ARES_OPT_LOOKUPS |
                   ARES_OPT_SERVERS | ARES_OPT_DOMAINS | ARES_OPT_SORTLIST | ARES_OPT_SOCK_STATE_CB |
                   ARES_OPT_NOROTATE | ARES_OPT_EDNSPSZ;
  ares_channel ch = nullptr;
  int rc = ares_init_options(&ch, &o, mask);
  if (rc != ARES_SUCCESS) return stack::Err{DnsResolverError{std::string("c-ares init: ") + ares_strerror(rc)}};
  channel_ = ch;
  // Stored by pointer, not copied (ares_init.c 1.18.1): static storage.
  static const ares_socket_functions kFuncs = {&DnsResolver::a_socket, &DnsResolver::a_close, &DnsResolver::a_connect,
                                               &DnsResolver::a_recvfrom, &DnsResolver::a_sendv};
  ares_set_socket_functions(ch, &kFuncs, this);
  if (!options_.servers.empty()) {
    std::string csv;
    for (const auto& s : options_.servers) {
      if (!csv.empty()) csv += ",";
      csv += s.describe() + ":" + std::to_string(options_.port);
    }
    rc = ares_set_servers_ports_csv(ch, csv.c_str());
    if (rc != ARES_SUCCESS) {
      return stack::Err{DnsResolverError{std::string("c-ares servers '") + csv + "': " + ares_strerror(rc)}};
    }
  }
  return {};
}

DnsResolver::~DnsResolver() {
  destroying_ = true;
  if (channel_) ares_destroy(as_channel(channel_));  // pending callbacks get ARES_EDESTRUCTION
  // ares_destroy closes what c-ares had open (aclose); anything left is released here.
  for (const auto& [fd, s] : sockets_) {
    if (!s.stream) iface_.udp().close(s.udp);
    else if (s.tcp) iface_.tcp().close(*s.tcp);
  }
}

bool DnsResolver::tcp_closed() const {
  for (auto id : closed_tcp_) {
    const auto st = iface_.tcp().state(id);  // still answers after the handle was released
    if (st && *st != stack::socket::TcpState::Closed && *st != stack::socket::TcpState::FinWait2 &&
        *st != stack::socket::TcpState::TimeWait && !iface_.tcp().error(id)) {
      return false;
    }
  }
  return true;
}

void DnsResolver::narrate(DnsEvent::Kind kind, std::string text, std::optional<DnsEvent::Datagram> datagram) {
  if (on_event) on_event(DnsEvent{kind, clock_(), "DNS: " + std::move(text), datagram});
}

std::string DnsResolver::servers_text() const {
  std::string s;
  for (const auto& a : options_.servers) s += (s.empty() ? "" : ", ") + a.describe();
  return s;
}

// --- the API -------------------------------------------------------------------------------------

void DnsResolver::resolve(const std::string& name, Callback callback, std::uint16_t type) {
  const std::uint64_t id = next_query_++;
  auto q = std::make_unique<Query>();
  q->id = id;
  q->type = type;
  q->asked = name;
  q->callback = std::move(callback);
  q->started = clock_();
  q->partial.name = name;
  Query& ref = *q;
  queries_[id] = std::move(q);

  auto fail_now = [&](DnsError e, std::string detail) {
    DnsResult r = ref.partial;
    r.error = e;
    r.detail = std::move(detail);
    finished_.push_back(Finished{id, ARES_SUCCESS, 0, {}, {}});
    ref.partial = std::move(r);  // handle() sees the error already set
  };
  // A numeric address is its own answer (as getaddrinfo does); nothing is sent.
  if (auto numeric = Ipv4Address::parse(name); numeric && type == static_cast<std::uint16_t>(dns::Type::A)) {
    ref.partial.addresses.push_back(DnsAddress{*numeric, 0});
    finished_.push_back(Finished{id, ARES_SUCCESS, 0, {}, {}});
    return;
  }
  auto parsed = dns::Name::parse(name);
  if (!parsed || parsed->is_root()) return fail_now(DnsError::BadName, "'" + name + "'");
  if (options_.servers.empty()) return fail_now(DnsError::NoServers, "give --dns ADDR, or get one from DHCP");
  ref.current = *parsed;
  ref.partial.cname_chain.push_back(parsed->describe_relative());
  start_query(ref);
}

void DnsResolver::start_query(Query& q) {
  q.truncated_at_start = counters_.truncated;
  q.tcp_failures_at_start = counters_.tcp_failures;
  q.icmp_errors_at_start = counters_.icmp_errors;
  rejected_.erase(q.current.key());
  // ares_query, not ares_gethostbyname/getaddrinfo: no RFC 6724 sort probe (reference §1.2).
  // The callback may run before ares_query returns (every server failed at once): on_answer only
  // queues, so that is safe.
  ares_query(as_channel(channel_), q.current.describe_relative().c_str(), dns::kClassIn, static_cast<int>(q.type), &DnsResolver::on_answer,
             new Ticket{this, q.id});
}

void DnsResolver::process() {
  if (!channel_) return;
  ares_channel ch = as_channel(channel_);
  // ICMP errors for our sockets (RFC 1122 §4.1.3.3): like a connected kernel UDP socket, the next
  // read fails with ECONNREFUSED, and c-ares moves on to the next server.
  for (auto& [fd, s] : sockets_) {
    if (s.stream) continue;
    while (auto err = iface_.udp().take_error(s.udp)) {
      if (s.peer && err->remote.addr == s.peer->addr && err->remote.port == s.peer->port) {
        s.icmp_error = err->what;
        ++counters_.icmp_errors;
        narrate(DnsEvent::Kind::Failure, err->what);
      }
    }
  }
  // TCP (RFC 7766 fallback): say when the handshake completed; a failure is reported to c-ares
  // by the next read (the socket turns readable with the error) and narrated there.
  for (auto& [fd, s] : sockets_) {
    if (!s.stream || !s.tcp || !s.connecting) continue;
    const auto st = iface_.tcp().state(*s.tcp);
    if (st && *st != stack::socket::TcpState::SynSent && *st != stack::socket::TcpState::Closed) {
      s.connecting = false;
      narrate(DnsEvent::Kind::Tcp, "TCP connection to " + s.peer->describe() + " established in " +
                                       ms_text(clock_() - s.connect_started),
              DnsEvent::Datagram{0, s.peer->addr, false, DnsEvent::Datagram::Tcp::SynAck});
    }
  }
  auto has_input = [&](const FakeSocket& s) {
    if (!s.stream) return iface_.udp().readable(s.udp) || s.icmp_error.has_value();
    return s.tcp && iface_.tcp().readable(*s.tcp);  // bytes, the peer's FIN, or an error
  };
  // Feed every socket c-ares reads while ours holds something: c-ares 1.18 reads a UDP socket
  // until EAGAIN, later versions once per call with custom sockets; a TCP socket is read once per
  // call in 1.18 (the 2-octet length, then the message), so the whole answer may need several
  // calls with no new frame in between (reference §1.4). This loop suits all of them.
  const std::set<int> wanted = want_read_;
  for (int fd : wanted) {
    for (int i = 0; i < kMaxReadsPerTurn; ++i) {
      auto it = sockets_.find(fd);
      if (it == sockets_.end() || !want_read_.count(fd)) break;
      if (!has_input(it->second)) break;
      ares_process_fd(ch, fd, ARES_SOCKET_BAD);
    }
  }
  // TCP sockets c-ares has queued a query for: let it write while the send buffer has room (the
  // handshake done), or once with the error so it gives up on the connection.
  const std::set<int> writers = want_write_;
  for (int fd : writers) {
    for (int i = 0; i < kMaxReadsPerTurn; ++i) {
      auto it = sockets_.find(fd);
      if (it == sockets_.end() || !want_write_.count(fd) || !it->second.tcp) break;
      const auto id = *it->second.tcp;
      if (!iface_.tcp().writable(id) && !iface_.tcp().error(id)) break;
      const auto before = counters_.tcp_bytes_sent;
      ares_process_fd(ch, ARES_SOCKET_BAD, fd);
      if (counters_.tcp_bytes_sent == before) break;  // nothing taken: wait for the next turn
    }
  }
  // Timers: every ares_process_fd call also runs process_timeouts (reference §1.4).
  if (!queries_.empty()) ares_process_fd(ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
  // Results, outside c-ares: callbacks may start new lookups.
  while (!finished_.empty()) {
    std::vector<Finished> batch;
    batch.swap(finished_);
    for (auto& f : batch) handle(f);
  }
}

std::optional<Instant> DnsResolver::next_deadline() const {
  if (!finished_.empty()) return clock_();
  if (!channel_ || queries_.empty()) return std::nullopt;
  timeval tv{};
  if (!ares_timeout(as_channel(channel_), nullptr, &tv)) return std::nullopt;
  const std::int64_t us = static_cast<std::int64_t>(tv.tv_sec) * 1000000 + tv.tv_usec;
  return clock_() + stack::Duration::from_micros(us);
}

// --- results -------------------------------------------------------------------------------------

void DnsResolver::on_answer(void* arg, int status, int timeouts, unsigned char* abuf, int alen) {
  // c-ares calls this exactly once per ares_query (ARES_EDESTRUCTION from ares_destroy), so the
  // ticket is freed here. Nothing else happens inside c-ares: the result is queued for process().
  std::unique_ptr<Ticket> ticket(static_cast<Ticket*>(arg));
  DnsResolver* self = ticket->resolver;
  if (self->destroying_ || status == ARES_EDESTRUCTION) return;
  Finished f{ticket->query, status, timeouts, {}, {}};
  if (abuf && alen > 0) f.answer.assign(abuf, abuf + alen);
  // The answer is processed synchronously inside the arecvfrom that delivered it.
  if (f.answer.size() > 0) {
    f.from = self->last_from_;
    f.tcp = self->last_tcp_;
  }
  self->finished_.push_back(std::move(f));
}

void DnsResolver::complete(std::uint64_t id, DnsResult result) {
  auto it = queries_.find(id);
  if (it == queries_.end()) return;
  std::unique_ptr<Query> q = std::move(it->second);
  queries_.erase(it);
  result.elapsed = clock_() - q->started;
  if (result.ok()) {
    std::string text = result.name;
    for (std::size_t i = 1; i < result.cname_chain.size(); ++i) text += " -> " + result.cname_chain[i];
    text += " " + dns::type_name(q->type);
    if (q->type == static_cast<std::uint16_t>(dns::Type::A)) {
      // The first few; a long answer (a truncated one asked again over TCP) is counted, not listed.
      constexpr std::size_t kListed = 4;
      for (std::size_t i = 0; i < result.addresses.size() && i < kListed; ++i) {
        text += " " + result.addresses[i].address.describe() + " (TTL " + std::to_string(result.addresses[i].ttl) + ")";
      }
      if (result.addresses.size() > kListed) {
        text += " and " + std::to_string(result.addresses.size() - kListed) + " more (" + std::to_string(result.addresses.size()) +
                " addresses)";
      }
    } else {
      for (const auto& rec : result.records) {
        if (rec.type == q->type) text += " " + rec.describe_rdata() + " (TTL " + std::to_string(rec.ttl) + ")";
      }
    }
    if (result.server) text += " from " + result.server->describe();
    if (result.over_tcp) text += " over TCP";
    text += " in " + ms_text(result.elapsed);
    std::optional<DnsEvent::Datagram> d;
    if (result.message_id && result.server) {
      d = DnsEvent::Datagram{*result.message_id, *result.server, false,
                             result.over_tcp ? DnsEvent::Datagram::Tcp::Message : DnsEvent::Datagram::Tcp::No};
    }
    narrate(DnsEvent::Kind::Answer, std::move(text), d);
  } else {
    narrate(DnsEvent::Kind::Failure, "cannot resolve " + result.name + ": " + result.error_message());
  }
  if (q->callback) q->callback(result);
}

void DnsResolver::handle(Finished& f) {
  auto it = queries_.find(f.query);
  if (it == queries_.end()) return;
  Query& q = *it->second;
  DnsResult r = q.partial;
  r.timeouts += f.timeouts;
  if (r.error || (f.answer.empty() && f.status == ARES_SUCCESS)) return complete(f.query, std::move(r));
  if (f.from) r.server = f.from;
  else if (!r.server && !options_.servers.empty()) r.server = options_.servers.front();
  r.over_tcp = f.tcp;
  if (f.from && f.answer.size() >= 2) r.message_id = static_cast<std::uint16_t>((f.answer[0] << 8) | f.answer[1]);
  const std::string who = r.server ? r.server->describe() : servers_text();
  auto fail = [&](DnsError e, std::string detail) {
    r.error = e;
    r.detail = std::move(detail);
    complete(f.query, std::move(r));
  };

  if (f.answer.empty()) {
    switch (f.status) {
      case ARES_ETIMEOUT: {
        std::string d = "no reply from " + servers_text() + " after " + std::to_string(options_.tries) +
                        (options_.tries == 1 ? " try" : " tries") +
                        (options_.servers.size() > 1 ? " each" : "");
        // A truncated answer came, then nothing over TCP: say so, it is not a silent server.
        // (c-ares 1.18 does not send a query twice on one TCP connection: a connection that
        // stays up but silent ends the lookup at that try's timeout.)
        if (counters_.truncated > q.truncated_at_start) {
          d = "TC=1 from " + who + ", then no reply over TCP";
          if (counters_.tcp_failures > q.tcp_failures_at_start) d += "; " + last_tcp_failure_;
        }
        return fail(DnsError::TimedOut, d);
      }
      case ARES_ECONNREFUSED: {
        // c-ares ends with its initial ECONNREFUSED when every attempt was skipped: find out why.
        if (counters_.tcp_failures > q.tcp_failures_at_start) {
          const std::string tc = counters_.truncated > q.truncated_at_start ? "TC=1 from " + who + ", then " : "";
          return fail(DnsError::TcpFailed, tc + last_tcp_failure_);
        }
        if (auto rj = rejected_.find(q.current.key()); rj != rejected_.end()) {
          const std::string d = dns::rcode_name(rj->second.rcode) + " from " + rj->second.server.describe();
          r.server = rj->second.server;
          switch (static_cast<dns::Rcode>(rj->second.rcode)) {
            case dns::Rcode::ServFail: return fail(DnsError::ServerFailure, d);
            case dns::Rcode::Refused: return fail(DnsError::Refused, d);
            case dns::Rcode::NotImp: return fail(DnsError::NotImplemented, d);
            case dns::Rcode::FormErr: return fail(DnsError::FormatError, d);
            default: break;
          }
        }
        if (counters_.icmp_errors > q.icmp_errors_at_start) {
          return fail(DnsError::Unreachable, "port unreachable from " + servers_text());
        }
        return fail(DnsError::Unreachable, "could not contact " + servers_text());
      }
      case ARES_ESERVFAIL: return fail(DnsError::ServerFailure, "SERVFAIL from " + who);
      case ARES_EREFUSED: return fail(DnsError::Refused, "REFUSED from " + who);
      case ARES_ENOTIMP: return fail(DnsError::NotImplemented, "NOTIMP from " + who);
      case ARES_EFORMERR: return fail(DnsError::FormatError, "FORMERR from " + who);
      case ARES_ENOTFOUND: return fail(DnsError::NoSuchDomain, "NXDOMAIN from " + who);
      case ARES_ENODATA: return fail(DnsError::NoData, "NOERROR, no answer from " + who);
      case ARES_EBADNAME: return fail(DnsError::BadName, "'" + q.asked + "'");
      case ARES_ECANCELLED: return fail(DnsError::Cancelled, "");
      case ARES_EBADRESP: return fail(DnsError::Malformed, "from " + who);
      default: return fail(DnsError::Internal, std::string("c-ares: ") + ares_strerror(f.status));
    }
  }

  const auto bytes = std::as_bytes(std::span(f.answer));
  auto msg = dns::parse(bytes);
  if (!msg) return fail(DnsError::Malformed, std::string(dns::to_string(msg.error())) + ", from " + who);
  // RFC 1034 §3.6.2 / §5.3.3: follow the CNAME chain inside the answer section from the name we
  // asked; the addresses are the A records owned by the last name of the chain.
  dns::Name name = q.current;
  std::set<std::string> seen{name.key()};
  const bool want_cname = q.type == static_cast<std::uint16_t>(dns::Type::Cname);
  for (; !want_cname;) {  // asked for the alias itself (-t CNAME): it is the answer, not followed
    const dns::Record* alias = nullptr;
    for (const auto& rec : msg->answers) {
      if (rec.name == name && std::holds_alternative<dns::rdata::Cname>(rec.data)) alias = &rec;
    }
    if (!alias) break;
    r.records.push_back(*alias);
    name = std::get<dns::rdata::Cname>(alias->data).target;
    if (!seen.insert(name.key()).second || r.cname_chain.size() > 16) {
      return fail(DnsError::CnameLoop, "at " + name.describe_relative() + ", from " + who);
    }
    r.cname_chain.push_back(name.describe_relative());
  }
  std::size_t found = 0;
  for (const auto& rec : msg->answers) {
    if (!(rec.name == name) || rec.cls != dns::kClassIn || rec.type != q.type) continue;
    r.records.push_back(rec);
    ++found;
    if (const auto* a = std::get_if<dns::rdata::A>(&rec.data)) r.addresses.push_back(DnsAddress{a->address, rec.ttl});
  }
  if (msg->rcode() == dns::Rcode::NxDomain) {
    const std::string target = name == q.current ? "" : " for " + name.describe_relative();
    return fail(DnsError::NoSuchDomain, "NXDOMAIN" + target + " from " + who);
  }
  if (found > 0) return complete(f.query, std::move(r));
  if (!(name == q.current)) {
    // The answer ended at an alias whose target it does not hold: ask again for the target.
    if (q.restarts >= options_.max_cname_restarts) {
      return fail(DnsError::CnameLoop, "more than " + std::to_string(options_.max_cname_restarts) + " restarts");
    }
    ++q.restarts;
    q.partial = std::move(r);
    q.current = name;
    narrate(DnsEvent::Kind::Query, q.partial.cname_chain.back() + " is an alias; asking for its address");
    start_query(q);
    return;
  }
  return fail(DnsError::NoData, "NOERROR, no " + dns::type_name(q.type) + " record from " + who);
}

// --- c-ares socket functions ---------------------------------------------------------------------

namespace {

// errno for a TCP connection that failed, as a kernel socket would report it.
int errno_of(stack::socket::TcpError e) {
  switch (e) {
    case stack::socket::TcpError::Refused: return ECONNREFUSED;
    case stack::socket::TcpError::Reset: return ECONNRESET;
    case stack::socket::TcpError::TimedOut: return ETIMEDOUT;
    case stack::socket::TcpError::Unreachable: return EHOSTUNREACH;
  }
  return EIO;
}

// Takes every whole DNS-over-TCP message (RFC 1035 §4.2.2: a 2-octet length, then the message)
// off the front of `stream`. The buffer never holds more than one message plus its prefix.
template <typename Fn>
void take_framed(stack::Bytes& stream, Fn&& on_message) {
  std::size_t at = 0;
  while (stream.size() - at >= 2) {
    const std::size_t len = (std::to_integer<std::size_t>(stream[at]) << 8) | std::to_integer<std::size_t>(stream[at + 1]);
    if (stream.size() - at - 2 < len) break;
    on_message(std::span<const std::byte>(stream).subspan(at + 2, len));
    at += 2 + len;
  }
  stream.erase(stream.begin(), stream.begin() + static_cast<std::ptrdiff_t>(at));
}

}  // namespace

void DnsResolver::inspect_reply(const dns::Message& m, Ipv4Address from, bool tcp) {
  if (!m.header.qr || m.questions.size() != 1) return;
  const auto& question = m.questions[0];
  // RFC 1035 §4.2.1 / RFC 7766 §5: a truncated UDP answer to a query of ours is asked again over
  // TCP by c-ares (ARES_FLAG_IGNTC is not set). A TC=1 datagram whose ID we never sent is
  // ignored by c-ares (RFC 5452 §9.1), so it is not announced.
  if (!tcp && m.header.tc && sends_per_id_.count(m.header.id)) {
    ++counters_.truncated;
    narrate(DnsEvent::Kind::Retry, "answer truncated (TC=1) from " + from.describe() + " for " +
                                       question.name.describe_relative() + ": retrying over TCP",
            DnsEvent::Datagram{m.header.id, from, false});
  }
  // Remember error rcodes: c-ares discards SERVFAIL/REFUSED/NOTIMP/FORMERR answers and tries
  // the next server, ending with a bare ECONNREFUSED; handle() names the real cause.
  if (m.header.rcode != 0 && m.rcode() != dns::Rcode::NxDomain) {
    rejected_[question.name.key()] = Rejected{from, m.header.rcode};
    const auto over = tcp ? DnsEvent::Datagram::Tcp::Message : DnsEvent::Datagram::Tcp::No;
    const DnsEvent::Datagram d{m.header.id, from, false, over};
    narrate(DnsEvent::Kind::Failure, dns::rcode_name(m.header.rcode) + " from " + from.describe() + " for " +
                                         question.name.describe_relative() + (tcp ? " (over TCP)" : ""), d);
  }
}

void DnsResolver::tcp_failed(FakeSocket& s, const std::string& why) {
  ++counters_.tcp_failures;
  last_tcp_failure_ = "TCP to " + (s.peer ? s.peer->describe() : std::string("?")) + ": " + why;
  s.connecting = false;
  narrate(DnsEvent::Kind::Failure, last_tcp_failure_);
}

int DnsResolver::a_socket(int domain, int type, int, void* self_ptr) {
  auto* self = static_cast<DnsResolver*>(self_ptr);
  if (domain != AF_INET) {
    errno = EAFNOSUPPORT;  // NOT IMPLEMENTED(RFC 8200): no IPv6 in the stack
    return -1;
  }
  if (type == SOCK_STREAM) {
    // c-ares wants TCP because an answer came back truncated (RFC 1035 §4.2.1, RFC 7766 §5).
    // The TcpLayer socket itself is made by aconnect, which is when we learn the server.
    const int fd = self->next_handle_++;
    FakeSocket s;
    s.stream = true;
    self->sockets_[fd] = std::move(s);
    ++self->counters_.sockets_opened;
    return fd;
  }
  if (type != SOCK_DGRAM) {
    errno = EPROTONOSUPPORT;
    return -1;
  }
  auto bound = self->iface_.udp().bind(0);
  if (!bound) {
    errno = EMFILE;
    return -1;
  }
  const int fd = self->next_handle_++;
  FakeSocket s;
  s.udp = *bound;
  self->sockets_[fd] = std::move(s);
  ++self->counters_.sockets_opened;
  return fd;
}

int DnsResolver::a_close(int fd, void* self_ptr) {
  auto* self = static_cast<DnsResolver*>(self_ptr);
  auto it = self->sockets_.find(fd);
  if (it == self->sockets_.end()) {
    errno = EBADF;
    return -1;
  }
  FakeSocket& s = it->second;
  if (!s.stream) {
    self->iface_.udp().close(s.udp);
  } else if (s.tcp) {
    auto& tcp = self->iface_.tcp();
    // RFC 7766 §6.2.3: the client closes when it has its answers. Unread octets would turn the
    // close into a RST (RFC 2525 §2.17): drain them, then CLOSE (a FIN after what is queued).
    std::array<std::byte, 2048> sink;
    for (;;) {
      auto r = tcp.recv(*s.tcp, sink);
      if (!r || *r == 0) break;
    }
    const bool was_open = !tcp.error(*s.tcp) && tcp.state(*s.tcp) != stack::socket::TcpState::SynSent;
    tcp.close(*s.tcp);
    self->closed_tcp_.push_back(*s.tcp);
    if (self->closed_tcp_.size() > 64) self->closed_tcp_.erase(self->closed_tcp_.begin());
    if (was_open) {
      self->narrate(DnsEvent::Kind::Tcp, "closing the TCP connection to " + s.peer->describe(),
                    DnsEvent::Datagram{0, s.peer->addr, true, DnsEvent::Datagram::Tcp::Fin});
    }
  }
  self->sockets_.erase(it);
  self->want_read_.erase(fd);
  self->want_write_.erase(fd);
  return 0;
}

int DnsResolver::a_connect(int fd, const sockaddr* addr, unsigned addrlen, void* self_ptr) {
  auto* self = static_cast<DnsResolver*>(self_ptr);
  auto it = self->sockets_.find(fd);
  if (it == self->sockets_.end()) {
    errno = EBADF;
    return -1;
  }
  if (!addr || addrlen < sizeof(sockaddr_in) || addr->sa_family != AF_INET) {
    errno = EAFNOSUPPORT;
    return -1;
  }
  sockaddr_in sin{};
  std::memcpy(&sin, addr, sizeof sin);
  FakeSocket& s = it->second;
  // Connected-UDP model: later sends go to this peer (reference §1.3).
  s.peer = stack::socket::UdpEndpoint{Ipv4Address{ntohl(sin.sin_addr.s_addr)}, ntohs(sin.sin_port)};
  if (!s.stream) return 0;
  if (s.tcp) {
    errno = EISCONN;
    return -1;
  }
  // TCP: a non-blocking active open (RFC 9293 §3.10.1). c-ares queues its query and waits for
  // the socket to turn writable (the socket-state callback), which is ESTABLISHED here.
  auto& iface = self->iface_;
  if (!iface.address() || !iface.next_hop(s.peer->addr)) {
    self->tcp_failed(s, "no route (no address configured)");
    errno = ENETUNREACH;
    return -1;
  }
  auto id = iface.tcp().connect(iface.address()->address, s.peer->addr, s.peer->port, self->clock_());
  if (!id) {
    self->tcp_failed(s, stack::socket::to_string(id.error()));
    // Not EAGAIN: c-ares would wait for a connection that never comes.
    errno = id.error() == stack::socket::ConnectError::InvalidAddress ? EADDRNOTAVAIL : EMFILE;
    return -1;
  }
  s.tcp = *id;
  s.connecting = true;
  s.connect_started = self->clock_();
  ++self->counters_.tcp_connections;
  self->narrate(DnsEvent::Kind::Tcp, "connecting to " + s.peer->describe() + " over TCP (RFC 7766)",
                DnsEvent::Datagram{0, s.peer->addr, true, DnsEvent::Datagram::Tcp::Syn});
  errno = EINPROGRESS;
  return -1;
}

long DnsResolver::a_sendv(int fd, const iovec* iov, int iovcnt, void* self_ptr) {
  auto* self = static_cast<DnsResolver*>(self_ptr);
  auto it = self->sockets_.find(fd);
  if (it == self->sockets_.end() || !it->second.peer) {
    errno = it == self->sockets_.end() ? EBADF : EDESTADDRREQ;
    return -1;
  }
  FakeSocket& s = it->second;
  stack::Bytes datagram;
  for (int i = 0; i < iovcnt; ++i) {
    const auto* p = static_cast<const std::byte*>(iov[i].iov_base);
    datagram.insert(datagram.end(), p, p + iov[i].iov_len);
  }
  if (s.stream) {
    if (!s.tcp) {
      errno = ENOTCONN;
      return -1;
    }
    auto& tcp = self->iface_.tcp();
    if (auto e = tcp.error(*s.tcp)) {
      self->tcp_failed(s, stack::socket::to_string(*e));
      errno = errno_of(*e);
      return -1;
    }
    // Still connecting, or the send buffer full: c-ares keeps the bytes and waits for writable.
    if (!tcp.writable(*s.tcp)) {
      const auto st = tcp.state(*s.tcp);
      if (st && (*st == stack::socket::TcpState::SynSent || *st == stack::socket::TcpState::Established ||
                 *st == stack::socket::TcpState::CloseWait)) {
        errno = EAGAIN;
        return -1;
      }
      self->tcp_failed(s, "connection closed by the server");
      errno = EPIPE;
      return -1;
    }
    auto sent = tcp.send(*s.tcp, datagram);
    if (!sent) {
      self->tcp_failed(s, stack::socket::to_string(sent.error()));
      errno = EPIPE;
      return -1;
    }
    if (*sent == 0) {
      errno = EAGAIN;
      return -1;
    }
    self->counters_.tcp_bytes_sent += *sent;
    // Narration: the queries inside the stream, once each is whole (a partial write leaves the
    // rest for c-ares' next call).
    s.sent_stream.insert(s.sent_stream.end(), datagram.begin(), datagram.begin() + static_cast<std::ptrdiff_t>(*sent));
    take_framed(s.sent_stream, [&](std::span<const std::byte> message) {
      if (auto q = dns::parse(message); q && q->questions.size() == 1) {
        const auto& question = q->questions[0];
        self->narrate(DnsEvent::Kind::Query,
                      "asking " + s.peer->addr.describe() + " for " + question.name.describe_relative() + " " +
                          dns::type_name(question.type) + " over TCP",
                      DnsEvent::Datagram{q->header.id, s.peer->addr, true, DnsEvent::Datagram::Tcp::Message});
      }
    });
    return static_cast<long>(*sent);
  }
  // UDP: never EAGAIN (c-ares 1.18 skips the server on any -1): the layer queues the datagram.
  if (!self->iface_.udp().send_to(s.udp, *s.peer, datagram)) {
    errno = ENOBUFS;
    return -1;
  }
  ++self->counters_.datagrams_sent;
  if (auto q = dns::parse(datagram); q && q->questions.size() == 1) {
    const int n = ++self->sends_per_id_[q->header.id];
    const auto& question = q->questions[0];
    std::string text = "asking " + s.peer->addr.describe() + " for " + question.name.describe_relative() + " " +
                       dns::type_name(question.type);
    if (n > 1) text += " (try " + std::to_string(n) + ")";
    self->narrate(n > 1 ? DnsEvent::Kind::Retry : DnsEvent::Kind::Query, std::move(text),
                  DnsEvent::Datagram{q->header.id, s.peer->addr, true});
    if (self->sends_per_id_.size() > 4096) self->sends_per_id_.clear();
  }
  return static_cast<long>(datagram.size());
}

long DnsResolver::a_recvfrom(int fd, void* buf, std::size_t len, int, sockaddr* from, unsigned* fromlen,
                             void* self_ptr) {
  auto* self = static_cast<DnsResolver*>(self_ptr);
  auto it = self->sockets_.find(fd);
  if (it == self->sockets_.end()) {
    errno = EBADF;
    return -1;
  }
  FakeSocket& s = it->second;
  if (s.stream) {
    // c-ares 1.18 reads a stream with from == NULL: the 2-octet length, then the message.
    if (!s.tcp) {
      errno = ENOTCONN;
      return -1;
    }
    auto& tcp = self->iface_.tcp();
    auto r = tcp.recv(*s.tcp, std::span(static_cast<std::byte*>(buf), len));
    if (r && *r > 0) {
      self->counters_.tcp_bytes_received += *r;
      const auto* p = static_cast<const std::byte*>(buf);
      s.received_stream.insert(s.received_stream.end(), p, p + *r);
      take_framed(s.received_stream, [&](std::span<const std::byte> message) {
        if (auto m = dns::parse(message)) self->inspect_reply(*m, s.peer->addr, true);
      });
      self->last_from_ = s.peer->addr;
      self->last_tcp_ = true;
      return static_cast<long>(*r);
    }
    if (r) {
      // End of stream (the server's FIN): 0, as recv(2) says it. c-ares drops the connection and
      // asks again (a fresh connection) while a query is waiting; it reads only then, because it
      // closes its sockets as soon as nothing is pending (no ARES_FLAG_STAYOPEN).
      if (len > 0) self->tcp_failed(s, "closed by the server before answering");
      return 0;
    }
    switch (r.error()) {
      case stack::socket::RecvError::WouldBlock: errno = EAGAIN; return -1;
      case stack::socket::RecvError::BadSocket: errno = EBADF; return -1;
      case stack::socket::RecvError::ConnectionFailed:
      case stack::socket::RecvError::InvalidState:
        if (auto e = tcp.error(*s.tcp)) {
          self->tcp_failed(s, stack::socket::to_string(*e));
          errno = errno_of(*e);
          return -1;
        }
        return 0;
    }
    errno = EIO;
    return -1;
  }
  for (;;) {
    auto d = self->iface_.udp().recv_from(s.udp);
    if (!d) break;
    ++self->counters_.datagrams_received;
    // A zero-length datagram is data on a datagram socket, but 0 is "connection closed" to some
    // c-ares versions (1.18.1 before the CVE-2023-32067 fix): it cannot be DNS, so drop it here.
    if (d->payload.empty()) {
      ++self->counters_.empty_datagrams;
      continue;
    }
    if (s.peer && !(d->from.addr == s.peer->addr && d->from.port == s.peer->port)) {
      // A connected kernel UDP socket (c-ares' model) only receives from its peer's address and
      // port; c-ares 1.18's own same_address() checks the address only. RFC 5452 §9.1 wants both.
      ++self->counters_.foreign_datagrams;
      self->narrate(DnsEvent::Kind::Ignored, "ignoring a datagram from " + d->from.describe() + " (asked " +
                                                 s.peer->describe() + ")");
      continue;
    }
    if (auto m = dns::parse(d->payload)) self->inspect_reply(*m, d->from.addr, false);
    const std::size_t n = std::min(len, d->payload.size());  // like recvfrom(2): the rest is cut
    std::memcpy(buf, d->payload.data(), n);
    if (from && fromlen) {
      // The true source (RFC 5452 §9.1): c-ares' same_address() compares it with the server.
      sockaddr_in sin{};
      sin.sin_family = AF_INET;
      sin.sin_port = htons(d->from.port);
      sin.sin_addr.s_addr = htonl(d->from.addr.value);
      const unsigned copy = std::min<unsigned>(*fromlen, sizeof sin);
      std::memcpy(from, &sin, copy);
      *fromlen = sizeof sin;
    }
    self->last_from_ = d->from.addr;
    self->last_tcp_ = false;
    return static_cast<long>(n);
  }
  if (s.icmp_error) {
    s.icmp_error.reset();
    errno = ECONNREFUSED;
    return -1;
  }
  errno = EAGAIN;
  return -1;
}

void DnsResolver::on_sock_state(void* self_ptr, int fd, int readable, int writable) {
  auto* self = static_cast<DnsResolver*>(self_ptr);
  if (readable) self->want_read_.insert(fd);
  else self->want_read_.erase(fd);
  // Only TCP sockets ask for writability (c-ares has a query queued for the connection).
  if (writable) self->want_write_.insert(fd);
  else self->want_write_.erase(fd);
}

}  // namespace appkit
