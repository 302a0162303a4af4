#include "apps/common/dns_trace.hpp"

#include <fstream>

namespace appkit {

namespace dns = stack::wire::dns;
using stack::Instant;
using stack::wire::Ipv4Address;

std::vector<RootHint> builtin_root_hints() {
  // IANA root hints (named.root, 2023 onwards: b.root-servers.net renumbered to 170.247.170.2).
  static const struct {
    const char* name;
    std::uint8_t a, b, c, d;
  } kRoots[] = {
      {"a.root-servers.net", 198, 41, 0, 4},     {"b.root-servers.net", 170, 247, 170, 2},
      {"c.root-servers.net", 192, 33, 4, 12},    {"d.root-servers.net", 199, 7, 91, 13},
      {"e.root-servers.net", 192, 203, 230, 10}, {"f.root-servers.net", 192, 5, 5, 241},
      {"g.root-servers.net", 192, 112, 36, 4},   {"h.root-servers.net", 198, 97, 190, 53},
      {"i.root-servers.net", 192, 36, 148, 17},  {"j.root-servers.net", 192, 58, 128, 30},
      {"k.root-servers.net", 193, 0, 14, 129},   {"l.root-servers.net", 199, 7, 83, 42},
      {"m.root-servers.net", 202, 12, 27, 33},
  };
  std::vector<RootHint> out;
  for (const auto& r : kRoots) out.push_back(RootHint{*dns::Name::parse(r.name), Ipv4Address::from_octets(r.a, r.b, r.c, r.d)});
  return out;
}

stack::Result<std::vector<RootHint>, RootHintsError> parse_root_hints(std::string_view text, const std::string& source) {
  std::vector<RootHint> out;
  std::size_t line_no = 0, start = 0;
  auto fail = [&](const std::string& what) -> stack::Result<std::vector<RootHint>, RootHintsError> {
    return stack::Err{RootHintsError{source + ":" + std::to_string(line_no) + ": " + what}};
  };
  while (start < text.size()) {
    std::size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(start, nl - start);
    start = nl + 1;
    ++line_no;
    if (const auto c = line.find_first_of(";#"); c != std::string_view::npos) line = line.substr(0, c);
    std::vector<std::string_view> tok;
    for (std::size_t i = 0; i < line.size();) {
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
      std::size_t j = i;
      while (j < line.size() && line[j] != ' ' && line[j] != '\t' && line[j] != '\r') ++j;
      if (j > i) tok.push_back(line.substr(i, j - i));
      i = j;
    }
    if (tok.empty()) continue;
    auto upper = [](std::string_view s) {
      std::string u(s);
      for (auto& ch : u) ch = (ch >= 'a' && ch <= 'z') ? static_cast<char>(ch - 32) : ch;
      return u;
    };
    // Zone-file form: NAME [TTL] [IN] TYPE RDATA. Only A lines give hints; NS/AAAA are skipped.
    if (tok.size() >= 3) {
      const std::string type = upper(tok[tok.size() - 2]);
      if (type == "NS" || type == "AAAA") continue;
      if (type != "A") return fail("expected 'NAME ADDRESS' or 'NAME [TTL] [IN] A ADDRESS'");
    } else if (tok.size() != 2) {
      return fail("expected 'NAME ADDRESS'");
    }
    auto name = dns::Name::parse(tok.front());
    auto addr = Ipv4Address::parse(tok.back());
    if (!name) return fail("bad server name '" + std::string(tok.front()) + "'");
    if (!addr) return fail("bad IPv4 address '" + std::string(tok.back()) + "'");
    out.push_back(RootHint{*name, *addr});
  }
  if (out.empty()) return stack::Err{RootHintsError{source + ": no root server with an IPv4 address"}};
  return out;
}

stack::Result<std::vector<RootHint>, RootHintsError> load_root_hints(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return stack::Err{RootHintsError{"cannot read root hints " + path}};
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.size() > 1024 * 1024) return stack::Err{RootHintsError{path + ": larger than 1 MiB; not a root hints file"}};
  return parse_root_hints(text, path);
}

std::string TraceResult::error_message() const {
  if (!error) return {};
  std::string s = to_string(*error);
  if (!detail.empty()) s += " (" + detail + ")";
  return s;
}

DnsTrace::DnsTrace(stack::iface::Interface& iface, DnsTraceOptions options, Clock clock, std::uint64_t seed)
    : iface_(iface), options_(std::move(options)), clock_(std::move(clock)), rng_(seed ^ 0x7472616365ull) {
  if (options_.roots.empty()) options_.roots = builtin_root_hints();
}

DnsTrace::~DnsTrace() { close_pending(); }

void DnsTrace::note(const std::string& text) {
  if (on_note) on_note(static_cast<int>(walks_.empty() ? 0 : walks_.size() - 1), text);
}

void DnsTrace::close_pending() {
  if (pending_) {
    iface_.udp().close(pending_->socket);
    if (pending_->tcp) {
      // Drain first: a close with unread octets is a RST (RFC 2525 §2.17); then a FIN.
      std::byte sink[1024];
      for (;;) {
        auto r = iface_.tcp().recv(*pending_->tcp, sink);
        if (!r || *r == 0) break;
      }
      iface_.tcp().close(*pending_->tcp);
      closed_tcp_.push_back(*pending_->tcp);
      if (closed_tcp_.size() > 16) closed_tcp_.erase(closed_tcp_.begin());
    }
  }
  pending_.reset();
}

void DnsTrace::restart_at_root(Walk& w) {
  w.zone = dns::Name{};
  w.servers.clear();
  for (const auto& r : options_.roots) w.servers.push_back(Server{r.name, r.address});
}

void DnsTrace::start(const std::string& name, Callback callback) {
  close_pending();
  walks_.clear();
  result_ = TraceResult{};
  result_.name = name;
  callback_ = std::move(callback);
  started_ = clock_();
  active_ = true;
  auto parsed = dns::Name::parse(name);
  if (!parsed || parsed->is_root()) {
    result_.error = DnsError::BadName;
    result_.detail = "'" + name + "'";
    active_ = false;
    deliver_ = true;
    return;
  }
  Walk w;
  w.target = *parsed;
  w.seen_names.push_back(parsed->key());
  restart_at_root(w);
  walks_.push_back(std::move(w));
  advance();
}

void DnsTrace::advance() {
  while (active_ && !walks_.empty() && !pending_) {
    Walk& w = walks_.back();
    if (result_.queries >= options_.max_queries) {
      walks_.resize(1);
      return finish_walk(DnsError::ReferralLoop, "gave up after " + std::to_string(result_.queries) + " queries");
    }
    // RFC 1034 §5.3.3 step 2: the servers of the closest known zone, those with addresses first.
    std::optional<std::size_t> with_address, without;
    for (std::size_t i = 0; i < w.servers.size(); ++i) {
      const Server& s = w.servers[i];
      if (s.tried || s.unusable || s.resolving) continue;
      if (s.address && !with_address) with_address = i;
      if (!s.address && !without) without = i;
    }
    if (with_address) return send(*with_address);
    if (without) {
      Server& s = w.servers[*without];
      if (static_cast<int>(walks_.size()) > options_.max_depth) {
        s.unusable = true;
        note("no glue for " + s.name.describe() + " and too many nested look-ups; skipping it");
        continue;
      }
      s.resolving = true;
      note("no glue for " + s.name.describe() + ": resolving it from the root first");
      Walk nested;
      nested.target = s.name;
      nested.seen_names.push_back(s.name.key());
      restart_at_root(nested);
      walks_.push_back(std::move(nested));
      continue;
    }
    return finish_walk(DnsError::TimedOut, "no server for " + w.zone.describe() + " answered " + w.target.describe());
  }
}

void DnsTrace::send(std::size_t server_index) {
  Walk& w = walks_.back();
  Server& s = w.servers[server_index];
  s.tried = true;
  auto sock = iface_.udp().bind(0);  // a fresh random port per query (RFC 5452 §9.2, RFC 6056)
  if (!sock) return finish_walk(DnsError::Internal, "no free UDP port");
  const auto id = static_cast<std::uint16_t>(rng_.next_u32());
  const dns::Question q{w.target, static_cast<std::uint16_t>(dns::Type::A), dns::kClassIn};
  // RFC 1035 §4.1.1 RD=0: we do the recursion ourselves (dig +trace sends +norecurse too).
  const auto query = dns::build_query(id, q.name, q.type, false, options_.edns_payload);
  (void)iface_.udp().send_to(*sock, stack::socket::UdpEndpoint{*s.address, options_.port}, query);
  const Instant now = clock_();
  pending_ = Pending{*sock, id, q, server_index, now, now + stack::Duration::from_millis(options_.timeout_ms), {}, {}, {}};
  ++result_.queries;
}

void DnsTrace::process() {
  if (deliver_) {
    deliver_ = false;
    result_.elapsed = clock_() - started_;
    auto cb = callback_;
    if (cb) cb(result_);
    return;
  }
  if (!pending_) return;
  if (pending_->tcp) return process_tcp();
  const Server& server = walks_.back().servers[pending_->server_index];
  while (pending_) {
    auto d = iface_.udp().recv_from(pending_->socket);
    if (!d) break;
    // RFC 5452 §9.1: the server we asked, port 53, our ID, a response, our question.
    auto msg = dns::parse(d->payload);
    if (!(d->from.addr == *server.address && d->from.port == options_.port) || !msg || !msg->header.qr ||
        msg->header.id != pending_->id || !dns::same_question(*msg, pending_->question)) {
      ++ignored_;
      std::string why = !msg ? std::string("malformed: ") + dns::to_string(msg.error()) : "not the reply we wait for";
      note("ignored a datagram from " + d->from.describe() + " (" + why + ")");
      continue;
    }
    if (msg->header.tc) return start_tcp();  // RFC 1035 §4.2.1: the rest needs TCP
    on_reply(*msg, d->payload.size());
    return;
  }
  while (iface_.udp().take_error(pending_->socket)) {
    // An ICMP error for our query: treat like a timeout, at once.
    return on_timeout();
  }
  if (pending_ && clock_() >= pending_->deadline) on_timeout();
}

std::optional<Instant> DnsTrace::next_deadline() const {
  if (deliver_) return clock_();
  if (pending_) return pending_->deadline;
  return std::nullopt;
}

bool DnsTrace::tcp_closed() const {
  using stack::socket::TcpState;
  for (auto id : closed_tcp_) {
    const auto st = iface_.tcp().state(id);  // still answers after the handle was released
    if (st && *st != TcpState::Closed && *st != TcpState::FinWait2 && *st != TcpState::TimeWait &&
        !iface_.tcp().error(id)) {
      return false;
    }
  }
  return true;
}

void DnsTrace::start_tcp() {
  const Server& server = walks_.back().servers[pending_->server_index];
  const std::string to = server.address->describe() + ":" + std::to_string(options_.port);
  note("truncated reply (TC=1) from " + server.address->describe() + "; asking again over TCP (RFC 7766)");
  if (!iface_.address()) return on_timeout("no address for a TCP connection to " + to);
  auto id = iface_.tcp().connect(iface_.address()->address, *server.address, options_.port, clock_());
  if (!id) return on_timeout("cannot open a TCP connection to " + to + ": " + stack::socket::to_string(id.error()));
  pending_->tcp = *id;
  // The same ID and question; RFC 1035 §4.2.2: the message preceded by its length.
  const auto query = dns::build_query(pending_->id, pending_->question.name, pending_->question.type, false,
                                      options_.edns_payload);
  pending_->tcp_out.push_back(static_cast<std::byte>(query.size() >> 8));
  pending_->tcp_out.push_back(static_cast<std::byte>(query.size() & 0xff));
  pending_->tcp_out.insert(pending_->tcp_out.end(), query.begin(), query.end());
  pending_->deadline = clock_() + stack::Duration::from_millis(options_.timeout_ms);
  ++result_.queries;
}

void DnsTrace::process_tcp() {
  auto& tcp = iface_.tcp();
  const auto id = *pending_->tcp;
  const Server& server = walks_.back().servers[pending_->server_index];
  const std::string to = "TCP to " + server.address->describe() + ":" + std::to_string(options_.port);
  if (!pending_->tcp_out.empty() && tcp.writable(id)) {
    if (auto n = tcp.send(id, pending_->tcp_out); n && *n > 0) {
      pending_->tcp_out.erase(pending_->tcp_out.begin(), pending_->tcp_out.begin() + static_cast<std::ptrdiff_t>(*n));
    }
  }
  bool eof = false;
  std::byte buf[2048];
  for (;;) {
    auto r = tcp.recv(id, buf);
    if (!r) break;
    if (*r == 0) {
      eof = true;
      break;
    }
    // Bounded: one message of at most 65535 octets plus its length is all we wait for.
    if (pending_->tcp_in.size() + *r > 65537) return on_timeout(to + ": more than one message");
    pending_->tcp_in.insert(pending_->tcp_in.end(), buf, buf + *r);
  }
  auto& in = pending_->tcp_in;
  if (in.size() >= 2) {
    const std::size_t len = (std::to_integer<std::size_t>(in[0]) << 8) | std::to_integer<std::size_t>(in[1]);
    if (in.size() >= 2 + len) {
      auto msg = dns::parse(std::span<const std::byte>(in).subspan(2, len));
      // The connection is the server's; the ID and question must still be ours (RFC 5452 §9.1).
      if (!msg || !msg->header.qr || msg->header.id != pending_->id || !dns::same_question(*msg, pending_->question)) {
        ++ignored_;
        return on_timeout(to + ": " + (msg ? "not the reply we wait for" : "malformed reply"));
      }
      return on_reply(*msg, len);
    }
  }
  if (auto e = tcp.error(id)) return on_timeout(to + ": " + stack::socket::to_string(*e));
  if (eof) return on_timeout(to + ": closed by the server before answering");
  if (clock_() >= pending_->deadline) on_timeout();
}

// The step for the query in flight: which walk, zone and server, and how long it has taken.
TraceStep DnsTrace::pending_step() const {
  const Walk& w = walks_.back();
  const Server& s = w.servers[pending_->server_index];
  TraceStep step;
  step.depth = static_cast<int>(walks_.size()) - 1;
  step.qname = w.target;
  step.zone = w.zone;
  step.server = *s.address;
  step.server_name = s.name;
  step.elapsed = clock_() - pending_->sent_at;
  step.id = pending_->id;
  step.over_tcp = pending_->tcp.has_value();
  return step;
}

void DnsTrace::on_timeout(std::string why) {
  TraceStep step = pending_step();
  step.outcome = TraceStep::Outcome::Timeout;
  step.note = why.empty() ? "no reply in " + std::to_string(options_.timeout_ms) + " ms" : std::move(why);
  close_pending();
  if (on_step) on_step(step);
  advance();
}

void DnsTrace::on_reply(const dns::Message& reply, std::size_t bytes) {
  Walk& w = walks_.back();
  const Server& s = w.servers[pending_->server_index];
  TraceStep step = pending_step();
  step.bytes = bytes;
  step.reply = reply;
  close_pending();
  const std::string from = s.address->describe() + "#53(" + s.name.describe_relative() + ")";
  auto emit = [&](TraceStep::Outcome o, std::string text) {
    step.outcome = o;
    step.note = std::move(text);
    if (on_step) on_step(step);
  };

  if (reply.rcode() == dns::Rcode::NxDomain) {
    // RFC 2308 §2.1: the name does not exist (the SOA in AUTHORITY says for how long).
    emit(TraceStep::Outcome::NoSuchDomain, "NXDOMAIN");
    return finish_walk(DnsError::NoSuchDomain, "NXDOMAIN for " + w.target.describe_relative() + " from " + from);
  }
  if (reply.header.rcode != 0) {
    emit(TraceStep::Outcome::ServerError, dns::rcode_name(reply.header.rcode) + "; trying the next server");
    return advance();
  }
  // RFC 1034 §5.3.3 step 4a/4c: the answer, perhaps through aliases.
  dns::Name name = w.target;
  std::vector<dns::Record> aliases;
  for (;;) {
    const dns::Record* alias = nullptr;
    for (const auto& rec : reply.answers) {
      if (rec.name == name && std::holds_alternative<dns::rdata::Cname>(rec.data)) alias = &rec;
    }
    if (!alias) break;
    aliases.push_back(*alias);
    name = std::get<dns::rdata::Cname>(alias->data).target;
    const std::string key = name.key();
    for (const auto& seen : w.seen_names) {
      if (seen == key) {
        emit(TraceStep::Outcome::Alias, "CNAME loop");
        return finish_walk(DnsError::CnameLoop, "at " + name.describe_relative() + ", from " + from);
      }
    }
    w.seen_names.push_back(key);
  }
  std::vector<DnsAddress> addresses;
  std::vector<dns::Record> a_records;
  for (const auto& rec : reply.answers) {
    if (rec.name == name && rec.cls == dns::kClassIn && std::holds_alternative<dns::rdata::A>(rec.data)) {
      addresses.push_back(DnsAddress{std::get<dns::rdata::A>(rec.data).address, rec.ttl});
      a_records.push_back(rec);
    }
  }
  w.records.insert(w.records.end(), aliases.begin(), aliases.end());
  if (!addresses.empty()) {
    emit(TraceStep::Outcome::Answer, "answer");
    w.records.insert(w.records.end(), a_records.begin(), a_records.end());
    if (walks_.size() == 1) result_.server = step.server;
    return finish_walk(std::nullopt, "", std::move(addresses));
  }
  if (!aliases.empty()) {
    // RFC 1034 §5.3.3 step 4c: "change SNAME to the canonical name in the CNAME RR and go back
    // to step 1" — from the root, as the alias may live in another zone.
    emit(TraceStep::Outcome::Alias, "alias for " + name.describe());
    if (++w.cname_restarts > options_.max_cname_restarts) {
      return finish_walk(DnsError::CnameLoop, "more than " + std::to_string(options_.max_cname_restarts) + " aliases");
    }
    w.target = name;
    restart_at_root(w);
    return advance();
  }
  // No data: a referral (NS in AUTHORITY, not authoritative), or NODATA (RFC 2308 §2.2).
  const dns::Record* first_ns = nullptr;
  for (const auto& rec : reply.authority) {
    if (std::holds_alternative<dns::rdata::Ns>(rec.data)) {
      first_ns = &rec;
      break;
    }
  }
  if (reply.header.aa || !first_ns) {
    bool soa = false;
    for (const auto& rec : reply.authority) soa = soa || std::holds_alternative<dns::rdata::Soa>(rec.data);
    if (reply.header.aa || soa) {
      emit(TraceStep::Outcome::NoData, "no A record");
      return finish_walk(DnsError::NoData, "NOERROR, no A record for " + w.target.describe_relative() + " from " + from);
    }
    emit(TraceStep::Outcome::Lame, "neither an answer nor a referral; trying the next server");
    return advance();
  }
  const dns::Name zone = first_ns->name;
  // A referral must lead towards the name and strictly below the zone we asked: anything else
  // (upward, sideways, the same zone again) would loop (RFC 1034 §5.3.3: "the resolver should
  // check that the referral is closer"; docs/hostile-inputs.md #85).
  if (!w.target.is_within(zone) || zone.labels().size() <= w.zone.labels().size()) {
    emit(TraceStep::Outcome::Lame, "referral to " + zone.describe() + " is not below " + w.zone.describe());
    return finish_walk(DnsError::ReferralLoop, from + " referred " + w.target.describe_relative() + " to " +
                                                   zone.describe() + ", not below " + w.zone.describe());
  }
  emit(TraceStep::Outcome::Referral, "referral to " + zone.describe());
  std::vector<Server> servers;
  for (const auto& rec : reply.authority) {
    const auto* ns = std::get_if<dns::rdata::Ns>(&rec.data);
    if (!ns || !(rec.name == zone)) continue;
    Server srv{ns->host, std::nullopt};
    // Glue: an A record for the server in ADDITIONAL (RFC 1034 §4.2.1). Trusted only for a
    // server inside the zone being delegated — otherwise it is out-of-bailiwick data that any
    // server could inject (RFC 5452 §6; the Kaminsky attack).
    if (ns->host.is_within(w.zone)) {
      for (const auto& add : reply.additional) {
        if (add.name == ns->host && add.cls == dns::kClassIn && std::holds_alternative<dns::rdata::A>(add.data)) {
          srv.address = std::get<dns::rdata::A>(add.data).address;
          break;
        }
      }
    }
    servers.push_back(std::move(srv));
    if (servers.size() >= 16) break;
  }
  w.zone = zone;
  w.servers = std::move(servers);
  advance();
}

void DnsTrace::finish_walk(std::optional<DnsError> error, std::string detail, std::vector<DnsAddress> addresses) {
  close_pending();
  if (walks_.empty()) return;
  Walk done = std::move(walks_.back());
  walks_.pop_back();
  if (walks_.empty()) {
    result_.error = error;
    result_.detail = std::move(detail);
    result_.addresses = std::move(addresses);
    result_.records = std::move(done.records);
    active_ = false;
    deliver_ = true;
    return;
  }
  // A nested walk for a glue-less server ended: give its address to the waiting walk.
  Walk& parent = walks_.back();
  for (auto& s : parent.servers) {
    if (!s.resolving || !(s.name == done.target || (!done.seen_names.empty() && s.name.key() == done.seen_names.front()))) {
      continue;
    }
    s.resolving = false;
    if (!error && !addresses.empty()) {
      s.address = addresses.front().address;
      note(s.name.describe() + " has address " + s.address->describe());
    } else {
      s.unusable = true;
      note("cannot find an address for " + s.name.describe() + ": " + std::string(to_string(error.value_or(DnsError::NoData))));
    }
    break;
  }
  advance();
}

}  // namespace appkit
