#include "apps/common/dhcp_setup.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <type_traits>

#include "apps/common/clock.hpp"
#include "apps/common/interrupt.hpp"

namespace appkit {

using stack::Duration;
using stack::Instant;
using stack::wire::Ipv4Address;
using stack::wire::Ipv4Cidr;
namespace sock = stack::socket;
namespace dhcp = stack::wire::dhcpv4;
using dhcp::MessageType;

// --- the lease file ----------------------------------------------------------------------------

std::string default_lease_path(const std::string& tap) {
  std::string dir;
  if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg && *xdg == '/') {
    dir = std::string(xdg) + "/ustack";
  } else if (const char* home = std::getenv("HOME"); home && *home) {
    dir = std::string(home) + "/.local/state/ustack";
  } else {
    dir = "/tmp/ustack-" + std::to_string(getuid());
  }
  // "net:[4026531840]" -> "-net4026531840"; without /proc, the interface's name alone.
  std::string netns;
  char link[64] = {};
  const ssize_t n = ::readlink("/proc/self/ns/net", link, sizeof link - 1);
  if (n > 0) {
    for (ssize_t i = 0; i < n; ++i) {
      if (link[i] >= '0' && link[i] <= '9') netns += link[i];
    }
  }
  return dir + "/lease-" + tap + (netns.empty() ? "" : "-net" + netns);
}

namespace {

bool make_dirs(const std::string& path) {
  // mkdir -p of every parent of `path`.
  for (std::size_t at = 1; (at = path.find('/', at)) != std::string::npos; ++at) {
    const std::string dir = path.substr(0, at);
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return false;
  }
  return true;
}

std::string join(const std::vector<Ipv4Address>& list, const char* sep) {
  std::string out;
  for (const auto& a : list) out += (out.empty() ? "" : sep) + a.describe();
  return out;
}

std::string human(std::uint32_t secs) {
  // dnsmasq's style: 1h, 30m, 52m30s.
  if (secs == 0xffffffffu) return "infinite";
  std::string out;
  if (secs >= 86400) out += std::to_string(secs / 86400) + "d", secs %= 86400;
  if (secs >= 3600) out += std::to_string(secs / 3600) + "h", secs %= 3600;
  if (secs >= 60) out += std::to_string(secs / 60) + "m", secs %= 60;
  if (secs || out.empty()) out += std::to_string(secs) + "s";
  return out;
}

}  // namespace

std::optional<StoredLeaseFile> load_lease_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::map<std::string, std::string> kv;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    kv[line.substr(0, eq)] = line.substr(eq + 1);
  }
  StoredLeaseFile f;
  auto address = Ipv4Cidr::parse(kv["address"]);
  if (!address) return std::nullopt;
  f.lease.address = *address;
  f.lease.server_id = Ipv4Address::parse(kv["server"]);
  f.router = Ipv4Address::parse(kv["router"]);
  f.mac = kv["mac"];
  std::uint64_t expires = 0;
  if (!kv["expires"].empty() && !parse_u64(kv["expires"], expires)) return std::nullopt;
  f.expires_unix = static_cast<std::int64_t>(expires);
  return f;
}

bool save_lease_file(const std::string& path, const LeaseInfo& lease, const stack::wire::MacAddress& mac,
                     Instant bound_at) {
  if (!make_dirs(path)) return false;
  const auto [now_unix, us] = wall_time(bound_at);
  (void)us;
  std::ostringstream out;
  out << "# ustack DHCP lease: INIT-REBOOT asks for this address again (RFC 2131 §3.2)\n";
  out << "address=" << lease.address.describe() << "\n";
  if (lease.router) out << "router=" << lease.router->describe() << "\n";
  if (!lease.dns_servers.empty()) out << "dns=" << join(lease.dns_servers, ",") << "\n";
  if (lease.domain_name) out << "domain=" << *lease.domain_name << "\n";
  out << "server=" << lease.server_id.describe() << "\n";
  out << "mac=" << mac.describe() << "\n";
  out << "lease_time=" << lease.lease_time << "\n";
  out << "obtained=" << now_unix << "\n";
  out << "expires=" << (lease.lease_time == 0xffffffffu ? 0 : now_unix + lease.lease_time) << "\n";
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    if (!f) return false;
    f << out.str();
    if (!f.flush()) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

std::vector<std::string> format_lease(const LeaseInfo& l) {
  std::vector<std::string> out;
  // udhcpc: "lease of 10.77.0.74 obtained from 10.77.0.1, lease time 43200"
  out.push_back("lease of " + l.address.address.describe() + " obtained from " + l.server_id.describe() +
                ", lease time " + (l.lease_time == 0xffffffffu ? std::string("infinite") : std::to_string(l.lease_time)));
  out.push_back("  address   " + l.address.describe());
  out.push_back("  router    " + (l.router ? l.router->describe() : std::string("(none)")));
  out.push_back("  dns       " + (l.dns_servers.empty() ? std::string("(none)") : join(l.dns_servers, " ")));
  if (l.domain_name) out.push_back("  domain    " + *l.domain_name);
  if (l.mtu) out.push_back("  mtu       " + std::to_string(*l.mtu));
  out.push_back("  lease     " + std::to_string(l.lease_time) + " s (" + human(l.lease_time) + ")");
  out.push_back("  T1        " + std::to_string(l.t1) + " s (" + human(l.t1) + ", renewal)");
  out.push_back("  T2        " + std::to_string(l.t2) + " s (" + human(l.t2) + ", rebinding)");
  out.push_back("  server    " + l.server_id.describe());
  // dhclient: "bound to 10.77.0.74 -- renewal in 21308 seconds."
  if (l.lease_time != 0xffffffffu) {
    out.push_back("bound to " + l.address.address.describe() + " -- renewal in " + std::to_string(l.t1) + " seconds.");
  }
  return out;
}

// --- the session -------------------------------------------------------------------------------

namespace {

sock::DhcpConfig make_config(Host& host, const DhcpSetupOptions& o) {
  sock::DhcpConfig c;
  c.chaddr = host.iface().mac();
  c.hostname = o.hostname;
  c.rapid_commit = o.rapid_commit;
  c.requested_lease_time = o.requested_lease_time;
  c.seed = os_random_u64();
  c.overall_timeout = o.timeout;
  if (!o.rfc_timers) {
    // DEVIATION(RFC 2131 §4.1): first retransmission after 1 s ± 0.25 s instead of 4 s ± 1 s. On
    // the one-hop LAN the programs use, a lost DISCOVER should not cost the user 4 s.
    c.first_retransmit = Duration::from_secs(1);
    c.retransmit_jitter = Duration::from_millis(250);
    // DEVIATION(RFC 5227 §1.1): PROBE_WAIT 100 ms, 2 probes 100–200 ms apart, ANNOUNCE_WAIT
    // 200 ms instead of 1 s / 3 / 1–2 s / 2 s: the check still runs before the address is used,
    // in about 0.5 s instead of up to 7 s. A TAP link answers ARP within a millisecond.
    c.probe_wait = Duration::from_millis(100);
    c.probe_num = 2;
    c.probe_min = Duration::from_millis(100);
    c.probe_max = Duration::from_millis(200);
    c.announce_wait = Duration::from_millis(200);
    c.announce_interval = Duration::from_millis(500);
  }
  return c;
}

std::string short_name(MessageType t) {
  // "DHCPDISCOVER" -> "DISCOVER"
  return std::string(dhcp::to_string(t)).substr(4);
}

}  // namespace

DhcpSession::DhcpSession(Host& host, DhcpSetupOptions options, Narrate narrate)
    : host_(host), options_(std::move(options)), narrate_(std::move(narrate)) {
  lease_path_ = options_.lease_file ? *options_.lease_file : default_lease_path(options_.tap);
  if (options_.one_line_per_message) lines_ = std::make_unique<DhcpLines>(lease_path_, options_.rfc_timers);
}

std::unique_ptr<DhcpSession> DhcpSession::start(Host& host, DhcpSetupOptions options, Narrate narrate) {
  std::unique_ptr<DhcpSession> s(new DhcpSession(host, std::move(options), std::move(narrate)));
  s->started_at_ = host.now();
  std::optional<sock::DhcpStoredLease> stored;
  if (s->options_.persist) {
    if (auto f = load_lease_file(s->lease_path_)) {
      const auto [now_unix, us] = wall_time(s->started_at_);
      (void)us;
      if (f->mac != host.iface().mac().describe()) {
        s->say("stored lease in " + s->lease_path_ + " is for another MAC: not reused", true);
      } else if (f->expires_unix != 0 && f->expires_unix <= now_unix) {
        s->say("stored lease for " + f->lease.address.address.describe() + " has expired: not reused", true);
      } else {
        stored = f->lease;
        s->init_reboot_ = true;
      }
    }
  }
  auto agent = sock::DhcpAgent::create(host.iface(), make_config(host, s->options_), s->started_at_, stored);
  if (!agent) return nullptr;
  s->agent_ = std::move(*agent);
  DhcpSession* raw = s.get();
  s->agent_->client().set_event_sink([raw](Instant at, const sock::DhcpEvent& e) { raw->on_event(at, e); });
  return s;
}

DhcpSession::~DhcpSession() {
  if (line_open_) say("", true);
}

void DhcpSession::say(const std::string& text, bool end_of_line) {
  if (!narrate_) return;
  if (text.empty() && end_of_line && !line_open_) return;
  narrate_(text, end_of_line);
  line_open_ = !end_of_line;
}

void DhcpSession::on_event(Instant at, const sock::DhcpEvent& e) {
  // What the session counts (a bind, a lost lease) is counted whatever the narration's style:
  // -v once returned before counting, and `ustack dhcp -v` waited for its timeout with a lease.
  if (const auto* bound = std::get_if<sock::dhcp_event::Bound>(&e)) {
    ++bound_count_;
    last_lease_ = bound->lease;
  } else if (std::holds_alternative<sock::dhcp_event::LeaseLost>(e)) {
    lost_ = true;
  }
  if (lines_) {
    if (auto line = lines_->line(at, e)) {
      if (options_.on_line) {
        options_.on_line(at, e, *line);
      } else {
        say(*line, true);
      }
    }
    return;
  }
  if (options_.verbose) {
    if (line_open_) say("", true);
    say(sock::describe(e), true);
    return;
  }
  const char* arrow = line_open_ ? " → " : "";
  std::visit(
      [&](const auto& ev) {
        using T = std::decay_t<decltype(ev)>;
        if constexpr (std::is_same_v<T, sock::dhcp_event::Sent>) {
          const auto type = ev.message.message_type;
          std::string text = short_name(type);
          if (type == MessageType::Request && ev.message.requested_ip && !ev.message.server_id) {
            text += " " + ev.message.requested_ip->describe() + " (INIT-REBOOT)";
          } else if (type == MessageType::Request && !ev.message.ciaddr.is_unspecified()) {
            text = ev.to.addr.is_broadcast() ? "REBIND (broadcast)" : "RENEW (unicast to " + ev.to.addr.describe() + ")";
          } else if (type == MessageType::Release) {
            text += " of " + ev.message.ciaddr.describe() + " to " + ev.to.addr.describe();
          }
          if (ev.attempt > 1) text += " (retry " + std::to_string(ev.attempt) + ")";
          say(arrow + text);
          if (type == MessageType::Release || type == MessageType::Decline) say("", true);
        } else if constexpr (std::is_same_v<T, sock::dhcp_event::Received>) {
          const auto type = ev.message.message_type;
          if (type == MessageType::Offer) {
            say(std::string(arrow) + "OFFER from " + ev.from.describe());
          } else if (type == MessageType::Ack) {
            say(std::string(arrow) + "ACK" + (ev.message.rapid_commit ? " (rapid commit)" : ""));
          } else {
            say(std::string(arrow) + "NAK" + (ev.message.message ? " \"" + *ev.message.message + "\"" : ""), true);
          }
        } else if constexpr (std::is_same_v<T, sock::dhcp_event::ProbeSent>) {
          if (ev.probe == 1) say(std::string(arrow) + "ARP probe " + ev.ip.describe());
        } else if constexpr (std::is_same_v<T, sock::dhcp_event::Conflict>) {
          say(std::string(arrow) + "in use by " + ev.mac.describe());
        } else if constexpr (std::is_same_v<T, sock::dhcp_event::Bound>) {
          say("", true);
        } else if constexpr (std::is_same_v<T, sock::dhcp_event::LeaseLost>) {
          if (line_open_) say("", true);
          say("lease of " + ev.address.describe() + " lost: " + ev.why, true);
        } else if constexpr (std::is_same_v<T, sock::dhcp_event::GaveUp>) {
          if (line_open_) say("", true);
          say("no lease after " + ev.after.describe() + ", failing", true);  // udhcpc: "no lease, failing"
        } else if constexpr (std::is_same_v<T, sock::dhcp_event::StateChanged>) {
          if (ev.to == sock::DhcpState::Init && ev.from == sock::DhcpState::Probing) {
            say("", true);
          }
        }
        (void)at;
      },
      e);
}

LeaseInfo DhcpSession::info_from(const sock::DhcpLease& l) const {
  LeaseInfo info;
  info.address = l.address;
  info.router = l.router;
  info.dns_servers = l.dns_servers;
  info.domain_name = l.domain_name;
  info.mtu = l.mtu;
  info.server_id = l.server_id;
  info.lease_time = l.lease_time;
  info.t1 = l.t1;
  info.t2 = l.t2;
  info.rapid_commit = l.rapid_commit;
  info.init_reboot = init_reboot_;
  return info;
}

void DhcpSession::poll() { agent_->poll(host_.now()); }

std::optional<Instant> DhcpSession::poll_at() const { return agent_->poll_at(); }

std::optional<LeaseInfo> DhcpSession::run_until_bound() {
  const int before = bound_count_;
  const Instant deadline = started_at_ + options_.timeout + Duration::from_millis(100);
  for (;;) {
    const Instant now = host_.now();
    agent_->poll(now);
    if (bound_count_ > before) break;
    if (agent_->client().state() == sock::DhcpState::Failed || now >= deadline) return std::nullopt;
    if (interrupted()) {
      if (line_open_) say("", true);  // the narration line ends cleanly, not mid-word
      return std::nullopt;
    }
    std::optional<Instant> wake = agent_->poll_at();
    if (!wake || deadline < *wake) wake = deadline;
    host_.step(wake);
  }
  LeaseInfo info = info_from(*last_lease_);
  info.took = host_.now() - started_at_;
  if (options_.persist && !save_lease_file(lease_path_, info, host_.iface().mac(), host_.now())) {
    say("cannot write the lease file " + lease_path_ + ": " + std::strerror(errno), true);
  }
  return info;
}

std::optional<LeaseInfo> DhcpSession::renew_now(Duration timeout) {
  const int before = bound_count_;
  const Instant start = host_.now();
  if (!agent_->client().renew(start)) return std::nullopt;
  lost_ = false;
  const Instant deadline = start + timeout;
  for (;;) {
    const Instant now = host_.now();
    agent_->poll(now);
    if (bound_count_ > before) break;
    if (lost_ || now >= deadline) return std::nullopt;
    std::optional<Instant> wake = agent_->poll_at();
    if (!wake || deadline < *wake) wake = deadline;
    host_.step(wake);
  }
  LeaseInfo info = info_from(*last_lease_);
  info.took = host_.now() - start;
  if (options_.persist) (void)save_lease_file(lease_path_, info, host_.iface().mac(), host_.now());
  return info;
}

bool DhcpSession::release() {
  if (!agent_->release(host_.now())) return false;
  const Instant deadline = host_.now() + Duration::from_secs(3);
  while (!agent_->released() && host_.now() < deadline) {
    agent_->poll(host_.now());
    if (agent_->released()) break;
    std::optional<Instant> wake = agent_->poll_at();
    if (!wake || deadline < *wake) wake = deadline;
    host_.step(wake);
  }
  if (options_.persist) std::remove(lease_path_.c_str());
  return true;
}

bool DhcpSession::release_stored(Host& host, const DhcpSetupOptions& options, const Narrate& narrate) {
  const std::string path = options.lease_file ? *options.lease_file : default_lease_path(options.tap);
  auto f = load_lease_file(path);
  if (!f || !f->lease.server_id) {
    if (narrate) narrate("no lease to release in " + path, true);
    return false;
  }
  // The RELEASE is unicast from ciaddr (RFC 2131 §4.4.6): use the address for that moment only,
  // without announcing it.
  host.iface().set_address(host.now(), f->lease.address, f->router, /*announce=*/false);
  DhcpSetupOptions o = options;
  o.lease_file = path;
  auto s = std::unique_ptr<DhcpSession>(new DhcpSession(host, o, narrate));
  s->started_at_ = host.now();
  auto agent = sock::DhcpAgent::create(host.iface(), make_config(host, o), s->started_at_, f->lease);
  if (!agent) return false;
  s->agent_ = std::move(*agent);
  DhcpSession* raw = s.get();
  s->agent_->client().set_event_sink([raw](Instant at, const sock::DhcpEvent& e) { raw->on_event(at, e); });
  return s->release();
}

std::optional<LeaseInfo> acquire_address(Host& host, const DhcpSetupOptions& options, const Narrate& narrate) {
  auto session = DhcpSession::start(host, options, narrate);
  if (!session) {
    if (narrate) narrate("DHCP: UDP port 68 is already in use on this interface", true);
    return std::nullopt;
  }
  return session->run_until_bound();
}

}  // namespace appkit
