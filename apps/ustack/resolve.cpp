// ustack resolve: a name to IPv4 addresses over our own stack — the hosts file first, then the DNS
// server (c-ares over our UDP sockets), or with --trace the whole walk from the root servers.
//
//   $ ustack resolve --ip 10.77.0.60/24 --gateway 10.77.0.1 --dns 198.51.100.53 www.domain.com
//   DNS: asking 198.51.100.53 for www.domain.com A
//   ;; ANSWER: www.domain.com. 3600 IN A 203.0.113.80
//   ;; from 198.51.100.53 in 3.2 ms
//   www.domain.com has address 203.0.113.80
//
//   $ ustack resolve --hosts my-hosts www.example.test
//   www.example.test has address 10.1.2.3 (from my-hosts; DNS not asked)
//
//   $ ustack resolve --trace --root-hints hints www.domain.com      (dig +trace habits)
//   com.                    86400   IN      NS      ns1.nic.com.
//   ns1.nic.com.            86400   IN      A       198.51.100.2
//   ;; Received 81 bytes from 198.51.100.1#53(a.root-servers.net) in 0.9 ms
//   ...
//
//   $ ustack resolve -t MX domain.com          (dig/host habits: -t TYPE, -x ADDR, +short)
//   domain.com mail is handled by 10 www.domain.com.
//   $ ustack resolve -x 203.0.113.80 +short
//   www.domain.com.
//
// Without --ip the address (and the DNS server, option 6) come from DHCP, as every program does.
// Exit 0 with an answer; 6 (curl's "could not resolve host") when the name cannot be resolved;
// 2 on usage or device errors.
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "apps/common/cli.hpp"
#include "apps/common/clock.hpp"
#include "apps/common/dns_resolver.hpp"
#include "apps/common/dns_trace.hpp"
#include "apps/common/host.hpp"
#include "apps/common/hosts_file.hpp"
#include "apps/common/network_setup.hpp"
#include "stack/events.hpp"
#include "stack/wire/dns.hpp"

namespace ustack_cli {

namespace {

using appkit::ExitCode;
using stack::Duration;
using stack::Instant;
namespace dns = stack::wire::dns;

constexpr const char* kDefaultHosts = "/etc/hosts";

int code(ExitCode c) { return static_cast<int>(c); }

std::string ms(Duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f ms", static_cast<double>(d.micros()) / 1000.0);
  return buf;
}

// dig's record line with single spaces: "www.domain.com. 3600 IN A 203.0.113.80".
std::string spaced(const dns::Record& r) {
  std::string s = r.describe();
  for (auto& c : s) c = c == '\t' ? ' ' : c;
  return s;
}

// dig's record line padded into columns (as dig +trace prints the referrals).
std::string columns(const dns::Record& r) {
  std::string owner = r.name.describe();
  std::string s = owner;
  s += owner.size() < 24 ? std::string(24 - owner.size(), ' ') : " ";
  std::string ttl = std::to_string(r.ttl);
  s += ttl + (ttl.size() < 8 ? std::string(8 - ttl.size(), ' ') : " ");
  std::string cls = dns::class_name(r.cls), type = dns::type_name(r.type);
  s += cls + (cls.size() < 4 ? std::string(4 - cls.size(), ' ') : " ");
  s += type + (type.size() < 8 ? std::string(8 - type.size(), ' ') : " ");
  s += r.describe_rdata();
  return s;
}

std::vector<stack::wire::Ipv4Address> parse_servers(const std::string& text, bool& ok) {
  std::vector<stack::wire::Ipv4Address> out;
  ok = true;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    auto a = stack::wire::Ipv4Address::parse(std::string_view(text).substr(start, comma - start));
    if (!a) ok = false;
    else out.push_back(*a);
    start = comma + 1;
  }
  return out;
}

void print_trace_step(const appkit::TraceStep& step) {
  const std::string indent(static_cast<std::size_t>(step.depth) * 2, ' ');
  const std::string server = step.server.describe() + "#53(" + step.server_name.describe_relative() + ")";
  if (!step.reply) {
    // The note says why when it is more than silence (a TCP retry refused or reset).
    const std::string why = step.note.rfind("no reply", 0) == 0 ? "" : " (" + step.note + ")";
    std::printf("%s;; no reply from %s in %s%s\n\n", indent.c_str(), server.c_str(), ms(step.elapsed).c_str(),
                why.c_str());
    return;
  }
  const dns::Message& m = *step.reply;
  using O = appkit::TraceStep::Outcome;
  switch (step.outcome) {
    case O::Referral: {
      // The delegation (AUTHORITY's NS set) and its glue (ADDITIONAL), as dig +trace +additional.
      std::vector<const dns::Record*> ns;
      for (const auto& r : m.authority) {
        if (std::holds_alternative<dns::rdata::Ns>(r.data)) ns.push_back(&r);
      }
      for (const auto* r : ns) std::printf("%s%s\n", indent.c_str(), columns(*r).c_str());
      for (const auto& r : m.additional) {
        if (r.type == static_cast<std::uint16_t>(dns::Type::Opt)) continue;
        bool glue = false;
        for (const auto* n : ns) glue = glue || std::get<dns::rdata::Ns>(n->data).host == r.name;
        if (glue) std::printf("%s%s\n", indent.c_str(), columns(r).c_str());
      }
      break;
    }
    case O::Answer:
    case O::Alias:
      for (const auto& r : m.answers) std::printf("%s%s\n", indent.c_str(), columns(r).c_str());
      break;
    case O::NoSuchDomain:
    case O::NoData:
      for (const auto& r : m.authority) {
        if (std::holds_alternative<dns::rdata::Soa>(r.data)) std::printf("%s%s\n", indent.c_str(), columns(r).c_str());
      }
      std::printf("%s;; %s\n", indent.c_str(),
                  step.outcome == O::NoSuchDomain ? "NXDOMAIN: no such name" : "NOERROR, but no A record");
      break;
    case O::ServerError:
    case O::Lame:
    case O::Timeout:
      std::printf("%s;; %s\n", indent.c_str(), step.note.c_str());
      break;
  }
  std::printf("%s;; Received %zu bytes from %s in %s\n\n", indent.c_str(), step.bytes, server.c_str(),
              ms(step.elapsed).c_str());
}

// -t TYPE: the types dig users ask for most (RFC 1035 §3.2.2, RFC 3596 for AAAA).
std::optional<std::uint16_t> parse_type(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const std::pair<const char*, dns::Type> known[] = {{"A", dns::Type::A},       {"AAAA", dns::Type::Aaaa},
                                                     {"MX", dns::Type::Mx},     {"NS", dns::Type::Ns},
                                                     {"TXT", dns::Type::Txt},   {"CNAME", dns::Type::Cname},
                                                     {"SOA", dns::Type::Soa},   {"PTR", dns::Type::Ptr}};
  for (const auto& [name, type] : known) {
    if (text == name) return static_cast<std::uint16_t>(type);
  }
  return std::nullopt;
}

// host(1)'s sentence for one answer: "domain.com mail is handled by 10 www.domain.com.".
std::string host_line(const std::string& owner, const dns::Record& r) {
  switch (static_cast<dns::Type>(r.type)) {
    case dns::Type::A: return owner + " has address " + r.describe_rdata();
    case dns::Type::Aaaa: return owner + " has IPv6 address " + r.describe_rdata();
    case dns::Type::Mx: return owner + " mail is handled by " + r.describe_rdata();
    case dns::Type::Ns: return owner + " name server " + r.describe_rdata();
    case dns::Type::Txt: return owner + " descriptive text " + r.describe_rdata();
    case dns::Type::Cname: return owner + " is an alias for " + r.describe_rdata();
    case dns::Type::Ptr: return owner + " domain name pointer " + r.describe_rdata();
    case dns::Type::Soa: return owner + " has SOA record " + r.describe_rdata();
    default: return owner + " has " + dns::type_name(r.type) + " record " + r.describe_rdata();
  }
}

}  // namespace

int run_resolve(const std::vector<std::string>& args) {
  appkit::NetOptions net;
  bool trace = false;
  std::uint16_t qtype = static_cast<std::uint16_t>(dns::Type::A);
  std::optional<stack::wire::Ipv4Address> reverse;
  bool short_output = false;
  bool verbose = false;
  std::optional<std::string> root_hints;
  std::uint64_t timeout_ms = 2000;
  std::uint64_t tries = 2;

  appkit::ArgParser parser("ustack resolve",
                           "ustack resolve [options] [-t TYPE] [+short] [--trace] [--root-hints FILE] [--timeout MS] [--tries N] NAME"
                           "   |   ustack resolve [options] -x ADDR [+short]");
  parser.set_summary("resolve a name over the user-space stack: hosts file, then DNS, in the habits of dig and host");
  parser.option("-t", "TYPE", "ask for TYPE records: A (default), AAAA, MX, NS, TXT, CNAME, SOA, PTR (dig -t)",
                [&](const std::string& v) {
                  const auto t = parse_type(v);
                  if (t) qtype = *t;
                  return t.has_value();
                });
  parser.option("-x", "ADDR", "reverse lookup: the PTR record of ADDR's in-addr.arpa name (RFC 1035 §3.5, dig -x)",
                [&](const std::string& v) {
                  reverse = stack::wire::Ipv4Address::parse(v);
                  return reverse.has_value();
                });
  parser.flag("--trace", "walk from the root servers, like dig +trace (no hosts file, no --dns)", [&] { trace = true; });
  // The same default as minibrowser's level-5 walk: `tools/sandbox exec` exports USTACK_ROOT_HINTS
  // (the sandbox's own root server, /run/ustack-sandbox/<inst>/unbound/root.hints); elsewhere IANA's.
  if (const char* env = std::getenv("USTACK_ROOT_HINTS"); env && *env) root_hints = env;
  parser.option("--root-hints", "FILE",
                "root servers for --trace: 'NAME ADDRESS' lines or named.root (default: $USTACK_ROOT_HINTS, which "
                "tools/sandbox exec sets to the sandbox's root; else IANA's)",
                [&](const std::string& v) { root_hints = v; return !v.empty(); });
  parser.option("--timeout", "MS", "wait per try (default 2000)", [&](const std::string& v) {
    return appkit::parse_u64(v, timeout_ms) && timeout_ms >= 10 && timeout_ms <= 60000;
  });
  parser.option("--tries", "N", "tries per server (default 2)", [&](const std::string& v) {
    return appkit::parse_u64(v, tries) && tries >= 1 && tries <= 10;
  });
  parser.flag("-v", "also print what the stack does (ARP, drops)", [&] { verbose = true; });
  parser.add_net_options(net);
  const auto parsed = parser.parse(args);
  if (const auto rc = parser.early_exit(parsed)) return *rc;
  // dig's query options are words after '+': +short is the one taken here.
  std::vector<std::string> positional;
  for (const auto& p : parsed.positional) {
    if (p == "+short") {
      short_output = true;
    } else if (p.size() > 1 && p[0] == '+') {
      std::fprintf(stderr, "ustack resolve: unknown query option %s (only +short is known)\n", p.c_str());
      return code(ExitCode::Usage);
    } else {
      positional.push_back(p);
    }
  }
  if (reverse) {
    if (!positional.empty()) {
      std::fprintf(stderr, "ustack resolve: -x ADDR takes no NAME\n");
      return code(ExitCode::Usage);
    }
    // RFC 1035 §3.5: the octets in reverse order under in-addr.arpa.
    const std::uint32_t v = reverse->value;
    positional.push_back(std::to_string(v & 0xff) + "." + std::to_string((v >> 8) & 0xff) + "." +
                         std::to_string((v >> 16) & 0xff) + "." + std::to_string(v >> 24) + ".in-addr.arpa");
    qtype = static_cast<std::uint16_t>(dns::Type::Ptr);
  }
  if (positional.size() != 1) {
    std::fprintf(stderr, "ustack resolve: give exactly one NAME (see ustack resolve --help)\n");
    return code(ExitCode::Usage);
  }
  const bool plain_a = qtype == static_cast<std::uint16_t>(dns::Type::A);
  if (trace && !plain_a) {
    std::fprintf(stderr, "ustack resolve: --trace walks to A records only; drop -t/-x\n");
    return code(ExitCode::Usage);
  }
  const std::string name = positional[0];
  // +short: the answers alone on stdout, as dig +short; the rest of the talk goes nowhere.
  std::FILE* talk = short_output ? nullptr : stdout;

  // 1. The hosts file (docs/levels.md step 4): when it answers, DNS is not asked. --trace shows
  //    the DNS walk itself, so it skips this step (as dig does).
  if (!trace && plain_a) {
    auto hosts = appkit::HostsFile::load(net.hosts);
    if (!hosts) {
      if (net.hosts != kDefaultHosts) {
        std::fprintf(stderr, "ustack resolve: --hosts: %s\n", hosts.error().message.c_str());
        return code(ExitCode::Usage);
      }
      std::fprintf(stderr, "ustack resolve: warning: %s; asking DNS only\n", hosts.error().message.c_str());
    } else {
      for (const auto& w : hosts->warnings()) {
        std::fprintf(stderr, "ustack resolve: warning: %s:%zu: %s\n", net.hosts.c_str(), w.line, w.text.c_str());
      }
      const auto found = hosts->lookup(name);
      if (!found.empty()) {
        for (const auto& a : found) {
          if (short_output) std::printf("%s\n", a.describe().c_str());
          else std::printf("%s has address %s (from %s)\n", name.c_str(), a.describe().c_str(), net.hosts.c_str());
        }
        if (!short_output) std::printf(";; found in %s: DNS not asked\n", net.hosts.c_str());
        return 0;
      }
    }
  }

  // 2. Configuration: --ip/--gateway/--dns, or DHCP (its option 6 gives the DNS servers).
  if (auto numeric = stack::wire::Ipv4Address::parse(name); numeric && !trace && plain_a) {
    if (short_output) std::printf("%s\n", numeric->describe().c_str());
    else std::printf("%s has address %s (numeric: nothing to resolve)\n", name.c_str(), numeric->describe().c_str());
    return 0;
  }
  std::vector<stack::wire::Ipv4Address> servers;
  if (net.dns) {
    bool ok = false;
    servers = parse_servers(*net.dns, ok);
    if (!ok) {
      std::fprintf(stderr, "ustack resolve: bad --dns '%s': expected ADDR[,ADDR...]\n", net.dns->c_str());
      return code(ExitCode::Usage);
    }
  } else if (net.ip && !trace) {
    std::fprintf(stderr, "ustack resolve: with --ip, give --dns ADDR too (without --ip, DHCP supplies it)\n");
    return code(ExitCode::Usage);
  }
  std::vector<appkit::RootHint> roots;
  if (trace && root_hints) {
    auto loaded = appkit::load_root_hints(*root_hints);
    if (!loaded) {
      std::fprintf(stderr, "ustack resolve: --root-hints: %s\n", loaded.error().message.c_str());
      return code(ExitCode::Usage);
    }
    roots = std::move(*loaded);
  }

  auto opened = appkit::Host::open(net);
  if (!opened) {
    std::fprintf(stderr, "ustack resolve: %s\n", opened.error().message.c_str());
    return code(ExitCode::Usage);
  }
  auto& host = **opened;
  {
    appkit::NetOptions setup_options = net;
    setup_options.dns.reset();  // parsed above (a list); setup_network takes one
    auto network = appkit::setup_network(host, setup_options, [talk](const std::string& text, bool eol) {
      if (!talk) return;
      std::fputs(text.c_str(), talk);
      if (eol) std::fputc('\n', talk);
    });
    if (!network) {
      std::fprintf(stderr, "ustack resolve: %s\n", network.error().message.c_str());
      return code(network.error().code == ExitCode::Usage ? ExitCode::Usage : ExitCode::CannotResolve);
    }
    for (const auto& d : network->dns_servers) {
      bool seen = false;
      for (const auto& s2 : servers) seen = seen || s2 == d;
      if (!seen) servers.push_back(d);
    }
  }
  if (verbose) {
    host.add_event_listener([](Instant, const stack::Event& e) { std::printf("  [stack] %s\n", stack::describe(e).c_str()); });
  }
  // The first server we would ask must be reachable: without a route the kernel's resolver fails
  // at once (ENETUNREACH), it does not time out.
  {
    const auto& first = trace ? (roots.empty() ? appkit::builtin_root_hints() : roots).front().address
                              : (servers.empty() ? stack::wire::Ipv4Address{} : servers.front());
    if (!servers.empty() || trace) {
      if (auto reason = appkit::unreachable_reason(host.iface(), first)) {
        std::fprintf(stderr, "ustack resolve: cannot resolve %s: DNS server %s#53: %s\n", name.c_str(),
                     first.describe().c_str(), reason->c_str());
        return code(ExitCode::CannotResolve);
      }
    }
  }

  // 3a. The iterative walk.
  if (trace) {
    appkit::DnsTraceOptions options;
    options.roots = roots;
    options.timeout_ms = static_cast<int>(timeout_ms);
    appkit::DnsTrace walker(host.iface(), options, [] { return appkit::monotonic_now(); }, appkit::os_random_u64());
    const auto& used = roots.empty() ? appkit::builtin_root_hints() : roots;
    std::printf(";; root hints (%s):", root_hints ? root_hints->c_str() : "built in");
    for (std::size_t i = 0; i < used.size() && i < 3; ++i) {
      std::printf(" %s %s", used[i].name.describe().c_str(), used[i].address.describe().c_str());
    }
    if (used.size() > 3) std::printf(" and %zu more", used.size() - 3);
    std::printf("\n\n");
    walker.on_step = [](const appkit::TraceStep& s) {
      print_trace_step(s);
      std::fflush(stdout);
    };
    walker.on_note = [](int depth, const std::string& text) {
      std::printf("%s;; %s\n", std::string(static_cast<std::size_t>(depth) * 2, ' ').c_str(), text.c_str());
    };
    std::optional<appkit::TraceResult> result;
    walker.start(name, [&](const appkit::TraceResult& r) { result = r; });
    while (!result) {
      walker.process();
      if (result) break;
      host.step(walker.next_deadline());
    }
    // A TC=1 retry over TCP leaves a connection closing: let our FIN be acknowledged (bounded).
    host.run_until([&] { return walker.tcp_closed(); }, host.now() + stack::Duration::from_millis(500));
    if (net.stats) host.print_stats(stdout);
    if (!result->ok()) {
      std::fprintf(stderr, "ustack resolve: cannot resolve %s: %s\n", name.c_str(), result->error_message().c_str());
      return code(ExitCode::CannotResolve);
    }
    for (const auto& r : result->records) std::printf(";; ANSWER: %s\n", spaced(r).c_str());
    std::printf(";; from %s in %s, %d queries\n", result->server ? result->server->describe().c_str() : "?",
                ms(result->elapsed).c_str(), result->queries);
    return 0;
  }

  // 3b. The stub: c-ares over our UDP sockets, asking the configured server.
  appkit::DnsResolverOptions options;
  options.servers = servers;
  options.timeout_ms = static_cast<int>(timeout_ms);
  options.tries = static_cast<int>(tries);
  auto created = appkit::DnsResolver::create(host, options);
  if (!created) {
    std::fprintf(stderr, "ustack resolve: %s\n", created.error().message.c_str());
    return code(ExitCode::Failure);
  }
  std::unique_ptr<appkit::DnsResolver> resolver = std::move(*created);
  resolver->on_event = [talk](const appkit::DnsEvent& e) {
    if (!talk) return;
    if (e.kind == appkit::DnsEvent::Kind::Answer) return;  // printed below, dig-style
    if (e.kind == appkit::DnsEvent::Kind::Failure && e.text.rfind("DNS: cannot resolve", 0) == 0) return;
    std::printf("%s\n", e.text.c_str());
    std::fflush(stdout);
  };
  std::optional<appkit::DnsResult> result;
  resolver->resolve(name, [&](const appkit::DnsResult& r) { result = r; }, qtype);
  while (!result) {
    resolver->process();
    if (result) break;
    host.step(resolver->next_deadline());
  }
  // A TCP fallback (RFC 7766) leaves a connection closing: let our FIN be acknowledged before the
  // process exits, so the server sees a graceful close (bounded: a dead server does not hold us).
  host.run_until([&] { return resolver->tcp_closed(); }, host.now() + stack::Duration::from_millis(500));
  if (net.stats) {
    host.print_stats(stdout);
    const auto& c = resolver->counters();
    const std::pair<const char*, std::uint64_t> rows[] = {
        {"dns.datagrams_sent", c.datagrams_sent},       {"dns.datagrams_received", c.datagrams_received},
        {"dns.foreign_datagrams", c.foreign_datagrams}, {"dns.truncated", c.truncated},
        {"dns.tcp_connections", c.tcp_connections},     {"dns.tcp_failures", c.tcp_failures},
        {"dns.tcp_bytes_sent", c.tcp_bytes_sent},       {"dns.tcp_bytes_received", c.tcp_bytes_received},
    };
    for (const auto& [label, value] : rows) std::printf("%-40s %llu\n", label, static_cast<unsigned long long>(value));
  }
  if (!result->ok()) {
    std::fprintf(stderr, "ustack resolve: cannot resolve %s: %s\n", name.c_str(), result->error_message().c_str());
    return code(ExitCode::CannotResolve);
  }
  if (short_output) {
    // dig +short: each answer's data, the aliases of the chain first.
    for (const auto& r : result->records) std::printf("%s\n", r.describe_rdata().c_str());
    return 0;
  }
  for (const auto& r : result->records) std::printf(";; ANSWER: %s\n", spaced(r).c_str());
  std::printf(";; from %s in %s%s\n", result->server ? result->server->describe().c_str() : "?",
              ms(result->elapsed).c_str(), result->over_tcp ? " over TCP" : "");
  for (std::size_t i = 0; i + 1 < result->cname_chain.size(); ++i) {
    std::printf("%s is an alias for %s.\n", result->cname_chain[i].c_str(), result->cname_chain[i + 1].c_str());
  }
  const std::string& canonical = result->cname_chain.empty() ? name : result->cname_chain.back();
  for (const auto& r : result->records) {
    if (r.type == qtype) std::printf("%s\n", host_line(canonical, r).c_str());
  }
  return 0;
}

}  // namespace ustack_cli
