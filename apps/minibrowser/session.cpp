#include "apps/minibrowser/session.hpp"

#include <cstdio>
#include <memory>
#include <utility>
#include <variant>

#include "apps/common/charset.hpp"
#include "apps/common/explain.hpp"
#include "apps/common/hosts_file.hpp"
#include "apps/common/interrupt.hpp"
#include "apps/common/pcap_reader.hpp"
#include "apps/minibrowser/page.hpp"

namespace minibrowser {

using appkit::ExitCode;
using stack::Duration;
using stack::Instant;
using stack::wire::Ipv4Address;
namespace http = appkit::http;

Session::Session(appkit::Host& host, const Options& options, const CaptureFiles& capture)
    : host_(host),
      options_(options),
      capture_(capture),
      narration_(host, options),
      body_(options),
      redirects_(options.url, options.head ? http::Method::Head : http::Method::Get) {}

// The steps of docs/levels.md, in the order they happen.
int Session::run() {
  appkit::install_interrupt_handlers();
  say_what_was_typed();                                // step 2
  narration_.listen();                                 // levels 6-7: the wire, from here on
  if (const auto rc = join_network()) return *rc;      // step 1: DHCP
  start_dns_walk();                                    // level 5: beside the fetch
  const auto address = resolve(options_.url.host);     // steps 4-6: hosts file, DNS
  if (!address && appkit::interrupted()) return stop_interrupted();
  if (!address) return resolve_code_ ? resolve_code_ : static_cast<int>(ExitCode::CannotResolve);
  say_route(*address);                                 // step 7
  if (const auto rc = open_pool()) return *rc;
  const Fetched fetched = fetch_page();                // steps 8-10, following redirects
  if (fetched.quit) return fetched.exit_code;
  int exit_code = fetched.exit_code;
  if (fetched.page) {
    // Steps 10-11: the browser takes the response, fetches what the page uses, and shows it.
    Page page(*fetched.page, redirects_.current(), options_, body_, [this](int l, const std::string& t) { say(l, t); });
    page.describe();
    if (const auto rc = fetch_subresources(page.subresources())) return *rc;
    page.show();
    exit_code = page.exit_code();
  }
  return finish(exit_code);
}

void Session::say_what_was_typed() {
  say(2, "you typed " + options_.url.to_string());
  // Lines cite frames by number only when a capture is written (--pcap, or the temporary one that
  // --ladder, --json and levels 6-7 read back); from level 5 (DNS) on, the first says which one.
  if (options_.net.pcap) {
    say(5, capture_.temporary() ? "capture: a temporary file, removed at exit (--pcap FILE keeps it)"
                                : "capture: every frame goes to " + *options_.net.pcap);
    say(5, "capture: [frame N] below is a frame's number in it, as Wireshark shows it");
  }
}

// --- step 1: DHCP (level 7) -------------------------------------------------------------------
std::optional<int> Session::join_network() {
  const auto& net = options_.net;
  say(7, net.ip ? "network: static address " + *net.ip + " (no DHCP)" : "DHCP: joining the network on " + net.tap);
  if (!net.ip && !options_.dhcp.persist) say(7, "DHCP: --fresh: no lease file is read or written, so no INIT-REBOOT");
  appkit::DhcpSetupOptions dhcp = options_.dhcp;
  dhcp.on_line = [this](Instant at, const stack::socket::DhcpEvent& e, const std::string& line) {
    narration_.cited(7, at, appkit::wants_of(e), "DHCP: " + line);
  };
  auto network = appkit::setup_network(host_, net, [this](const std::string& text, bool) { say(7, "DHCP: " + text); }, dhcp);
  if (!network) {
    std::fprintf(stderr, "minibrowser: %s\n", network.error().message.c_str());
    return static_cast<int>(network.error().code);
  }
  setup_ = std::move(*network);
  if (const auto& lease = setup_.lease) {
    std::string dns;
    for (const auto& d : lease->dns_servers) dns += (dns.empty() ? "" : ", ") + d.describe();
    say(7, "DHCP: we are " + lease->address.describe() + ", router " +
               (lease->router ? lease->router->describe() : std::string("none")) + ", DNS " + dns + ", lease " +
               std::to_string(lease->lease_time) + " s");
  }
  return std::nullopt;
}

void Session::start_dns_walk() {
  if (!narration_.wants(5)) return;
  walk_ = std::make_unique<DnsWalk>(host_, options_.root_hints, [this](const std::string& t, std::vector<appkit::FrameWant> f) {
    narration_.cited(5, host_.now(), std::move(f), t);
  });
}

// The loop every stage uses: let the resolver, the walk and the pool work (their callbacks may
// finish the stage), and only then wait for the stack — never sleep on a stage already done.
bool Session::run_until(const std::function<bool()>& done, Duration limit) {
  const Instant deadline = host_.now() + limit;
  for (;;) {
    if (resolver_) resolver_->process();
    if (walk_) walk_->process();
    if (pool_) pool_->drive();
    if (done() || appkit::interrupted() || host_.now() >= deadline) break;
    std::optional<Instant> wake = deadline;
    auto consider = [&wake](std::optional<Instant> t) {
      if (t && (!wake || *t < *wake)) wake = t;
    };
    if (resolver_) consider(resolver_->next_deadline());
    if (walk_) consider(walk_->next_deadline());
    if (pool_) consider(pool_->next_deadline());
    host_.step(wake);
  }
  return done();
}

// --- steps 4-6: the name -------------------------------------------------------------------------
std::optional<Ipv4Address> Session::resolve(const std::string& name) {
  if (auto it = resolved_.find(name); it != resolved_.end()) return it->second;
  if (auto literal = Ipv4Address::parse(name)) {
    say(2, name + " is already an IP address: no lookup");
    return resolved_[name] = *literal;
  }
  if (auto listed = from_hosts_file(name)) return resolved_[name] = *listed;
  if (!dns_server_usable(name) || !ensure_resolver()) return std::nullopt;
  auto answer = ask_dns(name);
  if (answer) resolved_[name] = *answer;
  return answer;
}

// The hosts file first (its lines are level 7); nothing when the name is not in it.
std::optional<Ipv4Address> Session::from_hosts_file(const std::string& name) {
  const std::string& path = options_.net.hosts;
  auto hosts = appkit::HostsFile::load(path);
  if (!hosts) {
    say(7, "hosts file: " + hosts.error().message + "; asking DNS");
    return std::nullopt;
  }
  auto hit = hosts->lookup(name);
  if (!hit.empty()) {
    say(7, "hosts file: " + name + " is " + hit.front().describe() + " in " + path + " — DNS is not asked");
    say(2, name + " is " + hit.front().describe() + " (from " + path + ")");
    return hit.front();
  }
  std::size_t names = 0;
  for (const auto& e : hosts->entries()) names += e.names.size();
  std::string what = std::to_string(names) + (names == 1 ? " name" : " names") + " on " + std::to_string(hosts->entries().size()) +
                     (hosts->entries().size() == 1 ? " IPv4 line" : " IPv4 lines");
  if (hosts->ipv6_lines_skipped()) what += ", " + std::to_string(hosts->ipv6_lines_skipped()) + " IPv6 line(s) skipped";
  say(7, "hosts file: " + name + " is not in " + path + " (" + what + "); asking DNS");
  return std::nullopt;
}

// A DNS server is known and can be reached; else one line on stderr (curl's 6).
bool Session::dns_server_usable(const std::string& name) {
  if (setup_.dns_servers.empty()) {
    std::fprintf(stderr, "minibrowser: cannot resolve %s: no DNS server (give --dns, or let DHCP provide one)\n",
                 name.c_str());
    resolve_code_ = static_cast<int>(ExitCode::CannotResolve);
    return false;
  }
  if (auto reason = appkit::unreachable_reason(host_.iface(), setup_.dns_servers.front())) {
    std::fprintf(stderr, "minibrowser: cannot resolve %s: DNS server %s: %s\n", name.c_str(),
                 setup_.dns_servers.front().describe().c_str(), reason->c_str());
    resolve_code_ = static_cast<int>(ExitCode::CannotResolve);
    return false;
  }
  return true;
}

// The resolver, made at the first name the hosts file does not have.
bool Session::ensure_resolver() {
  if (resolver_) return true;
  appkit::DnsResolverOptions ro;
  ro.servers = setup_.dns_servers;
  auto created = appkit::DnsResolver::create(host_, ro);
  if (!created) {
    std::fprintf(stderr, "minibrowser: DNS resolver: %s\n", created.error().message.c_str());
    resolve_code_ = static_cast<int>(ExitCode::Failure);
    return false;
  }
  resolver_ = std::move(*created);
  resolver_->on_event = [this](const appkit::DnsEvent& e) { narration_.dns_event(e); };
  return true;
}

std::optional<Ipv4Address> Session::ask_dns(const std::string& name) {
  const auto& server = setup_.dns_servers.front();
  say(5, "DNS: asking the resolver " + server.describe() + " (" +
             (options_.net.dns ? std::string("given with --dns") : std::string("learned from DHCP")) +
             "), which walks the hierarchy for us if it does not know");
  // Shared with the callback, which may run after the 30 s wait (a later stage's loop).
  const auto answered = std::make_shared<std::optional<appkit::DnsResult>>();
  resolver_->resolve(name, [answered](const appkit::DnsResult& r) { *answered = r; });
  run_until([answered] { return answered->has_value(); }, Duration::from_secs(30));
  const std::optional<appkit::DnsResult> result = *answered;
  if (!result && appkit::interrupted()) return std::nullopt;
  if (!result || !result->ok() || result->addresses.empty()) {
    // Level 5: where "no such name" comes from (the walk has no page to wait for here).
    if (walk_ && result && result->error == appkit::DnsError::NoSuchDomain) {
      walk_->start(name, std::nullopt);
      walk_->settle(loop(), /*nothing_else_to_do=*/true);
    }
    std::fprintf(stderr, "minibrowser: cannot resolve %s: %s\n", name.c_str(),
                 result ? result->error_message().c_str() : "no answer");
    resolve_code_ = static_cast<int>(ExitCode::CannotResolve);
    return std::nullopt;
  }
  const auto& a = result->addresses.front();
  say(2, name + " is " + a.address.describe() + " (DNS: TTL " + std::to_string(a.ttl) + " s, from " +
             (result->server ? result->server->describe() : std::string("?")) + " in " + ms(result->elapsed) + ")");
  // Level 5: the walk the resolver makes when it does not know, beside the fetch (dns_walk.hpp).
  if (walk_) walk_->start(name, a.ttl);
  return a.address;
}

void Session::say_route(Ipv4Address address) {
  auto& iface = host_.iface();
  if (!narration_.wants(7) || !iface.gateway() || iface.address()->contains(address)) return;
  auto router_mac = iface.arp_cache().peek(*iface.gateway(), host_.now());
  say(7, "route: " + address.describe() + " is not on our subnet " + iface.address()->describe() +
             ", so packets go to the router " + iface.gateway()->describe() +
             (router_mac ? " (" + router_mac->describe() + ", cached)" : std::string(" (its MAC via ARP)")));
}

// --- steps 8-10: fetch, following redirects -----------------------------------------------------------
bool Session::ensure_tls() {
  if (tls_context_) return true;
  auto created = appkit::tls::Context::create(options_.tls_config);
  if (!created) {
    tls_setup_error_ = created.error();
    return false;
  }
  tls_context_ = std::move(*created);
  say(6, std::string("TLS: certificates are checked against ") + tls_context_->trust_description() +
             (options_.tls_config.verify ? "" : " — NOT ENFORCED (-k/--insecure)"));
  if (!tls_context_->keylog_path().empty()) {
    say(6, "TLS: the session secrets go to " + tls_context_->keylog_path() +
               " (NSS key log): Wireshark/tshark can decrypt the pcap with it");
  }
  return true;
}

int Session::tls_failure() const {
  std::fprintf(stderr, "minibrowser: %s\n", tls_setup_error_->message.c_str());
  return static_cast<int>(tls_setup_error_->code);
}

std::optional<int> Session::open_pool() {
  ConnectionPool::Options po;
  po.max_per_host = options_.max_per_host;
  po.idle_timeout = options_.idle_timeout;
  po.lingering = options_.linger > Duration::zero();
  if (options_.url.secure() && !ensure_tls()) return tls_failure();
  po.tls = tls_context_.get();
  pool_ = std::make_unique<ConnectionPool>(host_, po, [this](int l, const std::string& t) { say(l, t); });
  narration_.name_connections_by(pool_.get());
  pool_->set_tls_hook([this](int number, stack::socket::SocketId sock, const appkit::tls::Session& t, Duration took) {
    narration_.tls_handshake(number, sock, t, took, *tls_context_, options_.tls_config.verify);
  });
  return std::nullopt;
}

Session::Fetched Session::fetch_page() {
  for (;;) {
    const appkit::Url current = redirects_.current();
    if (current.secure() && !ensure_tls()) return Fetched::stop_now(tls_failure());
    pool_->set_tls(tls_context_.get());
    auto addr = resolve(current.host);
    if (!addr && appkit::interrupted()) return Fetched::stop_now(stop_interrupted());
    if (!addr) return Fetched::stop_now(resolve_code_);
    // No route (or loopback): the kernel's connect() fails at once with ENETUNREACH; a SYN that
    // cannot leave must not be "retransmitted" for 20 s. curl: exit 7.
    if (auto reason = appkit::unreachable_reason(host_.iface(), *addr)) {
      std::fprintf(stderr, "minibrowser: Failed to connect to %s port %u: %s\n", addr->describe().c_str(),
                   static_cast<unsigned>(current.port), reason->c_str());
      return Fetched::stop_now(static_cast<int>(ExitCode::CannotConnect));
    }
    say(2, "fetching " + current.to_string() + " from " + addr->describe());
    auto got = request(current, *addr);
    if (!got && appkit::interrupted()) return Fetched::stop_now(stop_interrupted());
    if (!got) {
      std::fprintf(stderr, "minibrowser: %s: timed out\n", current.to_string().c_str());
      return Fetched::stop_now(static_cast<int>(ExitCode::TimedOut));
    }
    if (!got->response) return Fetched::failed(fetch_failed(current, *got));
    const auto step = redirects_.on_response(*got->response);
    if (const auto* follow = std::get_if<http::RedirectFollower::Follow>(&step)) {
      say(3, "redirect " + std::to_string(got->response->status) + " → " + follow->url.to_string());
      continue;
    }
    if (const auto* failure = std::get_if<http::RedirectFailure>(&step)) {
      std::fprintf(stderr, "minibrowser: %s\n", failure->message().c_str());
      return Fetched::failed(static_cast<int>(http::exit_code(*failure)));
    }
    if (follow_refresh(current, *got->response)) continue;
    return {std::move(got), 0, false};  // the page
  }
}

// One request through the pool (its headers narrated in full), waited for up to 120 s.
// The result lives in a slot the callback shares: a response that completes after the wait gave
// up writes there, never into this function's stack frame.
std::optional<FetchResult> Session::request(const appkit::Url& url, Ipv4Address address) {
  auto got = std::make_shared<std::optional<FetchResult>>();
  pool_->set_detailed(true);
  pool_->fetch(url, address, redirects_.method(), [got](FetchResult r) { *got = std::move(r); },
               [this](const http::Response& resp) { return body_.sink_for(resp); });
  pool_->set_detailed(false);
  run_until([got] { return got->has_value(); }, Duration::from_secs(120));
  return std::move(*got);
}

// A fetch that ended without a response: one line on stderr, and its exit code.
int Session::fetch_failed(const appkit::Url& url, const FetchResult& got) const {
  if (body_.write_error()) {
    std::fprintf(stderr, "minibrowser: %s\n", body_.write_error()->c_str());
    return static_cast<int>(ExitCode::WriteError);
  }
  if (body_.too_large()) {
    std::fprintf(stderr, "minibrowser: %s: the body is %llu bytes, more than the %zu MiB a page may have: save it with -o FILE\n",
                 url.to_string().c_str(), static_cast<unsigned long long>(*body_.too_large()),
                 http::Limits{}.max_body_bytes >> 20);
    return static_cast<int>(ExitCode::FileSizeExceeded);
  }
  std::fprintf(stderr, "minibrowser: %s: %s\n", url.to_string().c_str(), got.error.c_str());
  return static_cast<int>(got.code);
}

// <meta http-equiv="refresh" content="N; url=U"> (HTML §4.2.5.3): shown in the page like w3m;
// followed only with --follow-refresh (the user's consent, like curl's -L for redirects),
// without waiting the N seconds, at most kMaxRefreshes times, never to the page itself.
bool Session::follow_refresh(const appkit::Url& url, const http::Response& resp) {
  if (!options_.follow_refresh || options_.head || resp.status >= 400 || refreshes_ >= kMaxRefreshes) return false;
  const auto* ct = resp.header("Content-Type");
  const auto decoded = appkit::charset::decode_page(resp.body, ct ? std::string_view(ct->value) : "");
  const auto r = appkit::html::render(decoded.decoded.utf8, url);
  if (!r.refresh || r.refresh->url.to_string() == url.to_string()) return false;
  ++refreshes_;
  say(3, "meta refresh (" + std::to_string(r.refresh->seconds) + " s) → " + r.refresh->url.to_string() +
             ", followed at once (--follow-refresh)");
  redirects_ = http::RedirectFollower(r.refresh->url, redirects_.method());
  return true;
}

// Same-host subresources, in parallel through the pool (level 6: the pool is really used). The
// tally is shared with the callbacks: one that completes after the 120 s wait (while the
// connections close) counts there and says it came late, and writes to no dead stack frame.
std::optional<int> Session::fetch_subresources(const std::vector<appkit::html::Subresource>& resources) {
  if (resources.empty()) return std::nullopt;
  say(4, "the page uses " + std::to_string(resources.size()) + " same-host subresources; fetching them through the pool");
  struct Tally {
    std::size_t done = 0, bytes = 0, failed = 0;
    bool waiting = true;  // false once the summary below is said
  };
  const auto tally = std::make_shared<Tally>();
  const Instant start = host_.now();
  for (const auto& r : resources) {
    auto addr = resolve(r.url.host);
    if (!addr) {
      ++tally->done;
      ++tally->failed;
      continue;
    }
    pool_->fetch(r.url, *addr, http::Method::Get, [this, tally, kind = r.kind](FetchResult fr) {
      ++tally->done;
      const std::string late = tally->waiting ? "" : " (after the wait for the subresources had ended)";
      if (fr.response) {
        tally->bytes += fr.response->body_bytes;
        say(6, std::string("  ") + appkit::html::describe(kind) + " " + fr.url.target() + " → " +
                   std::to_string(fr.response->status) + ", " + std::to_string(fr.response->body_bytes) +
                   " bytes on connection #" + std::to_string(fr.connection) + (fr.reused ? " (reused)" : " (new)") + late);
      } else {
        ++tally->failed;
        say(4, "  " + fr.url.target() + ": " + fr.error + late);
      }
    });
  }
  constexpr Duration kWait = Duration::from_secs(120);
  run_until([&resources, tally] { return tally->done == resources.size(); }, kWait);
  tally->waiting = false;
  if (appkit::interrupted()) return stop_interrupted();
  const std::size_t pending = resources.size() - tally->done;
  say(4, "subresources: " + std::to_string(tally->done - tally->failed) + " of " + std::to_string(resources.size()) + ", " +
             std::to_string(tally->bytes) + " bytes in " + ms(host_.now() - start) +
             (pending ? "; " + std::to_string(pending) + " not complete after " + std::to_string(kWait.secs()) +
                            " s: the page is shown without waiting longer"
                      : std::string()));
  const std::string limit = std::to_string(options_.max_per_host);
  say(6, "pool: " + std::to_string(pool_->connections_opened()) + " connection(s) opened, at most " +
             std::to_string(pool_->max_concurrent()) + " at once (limit " + limit + " per host), " +
             std::to_string(pool_->reuses()) + " request(s) on reused connections");
  say(6, "pool: a limit per host is browser practice (6 in today's browsers; here --max-per-host, " + limit +
             "), not a protocol rule: RFC 2616 §8.1.4 suggested 2, RFC 9112 §9.4 sets no number");
  return std::nullopt;
}

// --- the end: the walk's last answers, every connection closed (step 13), the summary ---------------
int Session::finish(int exit_code) {
  // The level-5 walk went on beside the page; it may finish now while it is getting answers.
  if (walk_) walk_->settle(loop());
  if (appkit::interrupted()) return stop_interrupted();
  if (const auto rc = close_connections()) return *rc;
  narration_.flush();
  narration_.nat_mappings();
  if (options_.level >= 6 && !capture_.pcap().empty()) {
    std::vector<std::byte> storage;
    auto read = appkit::pcap::read_file(capture_.pcap(), storage);
    if (read) {
      for (const auto& line : appkit::explain::summary(appkit::analysis::analyze(*read))) say(6, line);
    }
  }
  if (options_.net.stats) host_.print_stats(stderr);
  return exit_code;
}

// Step 13: close every connection with FIN/ACK; --linger first keeps idle ones open, and then
// watches our TIME-WAIT records end (time_wait.hpp).
std::optional<int> Session::close_connections() {
  const Duration linger = options_.linger;
  const Instant linger_end = host_.now() + linger;
  if (linger > Duration::zero()) {
    say(6, "pool: keeping idle connections open up to " + std::to_string(linger.secs()) +
               " s (--linger); whoever's idle timer runs out first sends the first FIN");
    run_until([this] { return pool_->all_closed(); }, linger);
  }
  if (appkit::interrupted()) return stop_interrupted();
  // A response still arriving now (a subresource past its wait) leaves its connection idle
  // later: that one is closed with a FIN too, when it gets there.
  pool_->close_all();
  run_until(
      [this] {
        pool_->close_all();
        return pool_->all_closed();
      },
      Duration::from_secs(5));
  if (appkit::interrupted()) return stop_interrupted();
  // A connection that failed in the last turn was aborted there: one more turn of the stack so
  // that its RST leaves before we exit (the server would hold the connection otherwise).
  host_.step(host_.now());
  if (linger > Duration::zero() && host_.now() < linger_end) {
    run_until([this] { return !pool_->time_wait_pending(); }, linger_end - host_.now());
    if (appkit::interrupted()) return stop_interrupted();
  }
  if (linger > Duration::zero()) {
    for (const auto& line : pool_->time_wait_at_exit()) say(6, line);
  }
  return std::nullopt;
}

// SIGINT/SIGTERM at any stage: RST on every connection still open (sent now, so the pcap has
// it), one last line, 130/143. A FIN that never left is never narrated.
int Session::stop_interrupted() {
  if (pool_) pool_->abort_all(appkit::interrupt_description());
  std::fprintf(stderr, "minibrowser: %s\n", appkit::interrupt_description());
  if (options_.net.stats) host_.print_stats(stderr);
  return appkit::interrupt_exit_code();
}

}  // namespace minibrowser
