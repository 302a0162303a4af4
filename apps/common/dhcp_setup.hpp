// DHCP for the programs: runs the stack's DhcpClient (stack/socket/dhcp_client) on a Host until it
// has a lease, configures the interface, persists the lease for INIT-REBOOT next time, and narrates
// the exchange in the habits of udhcpc/dhclient:
//
//   DISCOVER → OFFER from 10.77.0.1 → REQUEST → ACK
//   DISCOVER → ACK (rapid commit)
//   REQUEST 10.77.0.135 (INIT-REBOOT) → ACK
//
// Every program that is not given --ip calls acquire_address(); `ustack dhcp` uses DhcpSession
// directly to renew and release too.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "apps/common/dhcp_lines.hpp"
#include "apps/common/host.hpp"
#include "stack/socket/dhcp_client.hpp"
#include "stack/time.hpp"
#include "stack/wire/ip_address.hpp"

namespace appkit {

struct DhcpSetupOptions {
  std::string tap = "tap0";                // names the default lease file (Host does not expose it)
  std::optional<std::string> hostname;     // option 12
  std::optional<std::string> lease_file;   // default: default_lease_path(tap)
  bool persist = true;                     // read the lease file (INIT-REBOOT) and write it when bound
  stack::Duration timeout = stack::Duration::from_secs(30);  // no lease by then: give up
  bool rapid_commit = true;                // RFC 4039
  // false: the LAN schedule (1 s first retransmission, ACD shortened to ~0.5 s), marked DEVIATION
  // in dhcp_setup.cpp; true: RFC 2131 §4.1 and RFC 5227 §1.1 constants exactly.
  bool rfc_timers = false;
  std::optional<std::uint32_t> requested_lease_time;  // option 51 in DISCOVER/REQUEST
  bool verbose = false;                    // narrate every client event on its own line
  bool one_line_per_message = false;       // each message its own line, explained (dhcp_lines.hpp)
  // With one_line_per_message: each such line goes here with the event it tells of (a narrator
  // that cites the message's frame), instead of to the Narrate callback.
  std::function<void(stack::Instant, const stack::socket::DhcpEvent&, const std::string&)> on_line;
};

// What a program needs from the lease.
struct LeaseInfo {
  stack::wire::Ipv4Cidr address;
  std::optional<stack::wire::Ipv4Address> router;
  std::vector<stack::wire::Ipv4Address> dns_servers;
  std::optional<std::string> domain_name;
  std::optional<std::uint16_t> mtu;
  stack::wire::Ipv4Address server_id;
  std::uint32_t lease_time = 0;  // seconds (0xffffffff: infinite)
  std::uint32_t t1 = 0;
  std::uint32_t t2 = 0;
  bool rapid_commit = false;     // two-message exchange (RFC 4039)
  bool init_reboot = false;      // the stored address was asked for again (RFC 2131 §3.2)
  stack::Duration took;          // from start to BOUND
};

// Narration: `text` is a fragment of the current line ("DISCOVER", " → OFFER from 10.77.0.1");
// `end_of_line` closes it. A program that wants whole lines buffers until end_of_line.
using Narrate = std::function<void(const std::string& text, bool end_of_line)>;

// $XDG_STATE_HOME/ustack/lease-<tap>-net<N>, else $HOME/.local/state/ustack/lease-<tap>-net<N>:
// keyed by the interface and by the network namespace it lives in (N, the namespace's inode, as
// /proc/self/ns/net names it), so that two networks with an interface of the same name — two
// sandbox instances, each with its tap0 — never share a lease.
std::string default_lease_path(const std::string& tap);

// The lease file: "key=value" lines (address, router, dns, server, mac, lease_time, expires).
struct StoredLeaseFile {
  stack::socket::DhcpStoredLease lease;
  std::optional<stack::wire::Ipv4Address> router;
  std::string mac;             // the MAC it was obtained with: another MAC does not reuse it
  std::int64_t expires_unix = 0;  // 0: infinite
};
std::optional<StoredLeaseFile> load_lease_file(const std::string& path);
// Writes atomically (temporary file + rename), creating the directory; false with errno set on failure.
bool save_lease_file(const std::string& path, const LeaseInfo& lease, const stack::wire::MacAddress& mac,
                     stack::Instant bound_at);

// The lease in dhclient/udhcpc habits, one line per item (no trailing newlines).
std::vector<std::string> format_lease(const LeaseInfo& lease);

class DhcpSession {
 public:
  // Binds port 68 on the host's interface; nullptr when another DHCP client holds it.
  static std::unique_ptr<DhcpSession> start(Host& host, DhcpSetupOptions options, Narrate narrate);
  ~DhcpSession();

  // Turns the host's loop until BOUND (the interface is then configured and the lease file
  // written), or nullopt after options.timeout.
  std::optional<LeaseInfo> run_until_bound();
  // Forces a renewal now (RENEWING: unicast to the server) and waits for its ACK; nullopt on
  // NAK, loss of the lease or `timeout`.
  std::optional<LeaseInfo> renew_now(stack::Duration timeout);
  // DHCPRELEASE, wait until it has left (at most 2 s), forget the lease file. False when there
  // is no lease to release.
  bool release();
  // Releases the lease stored in the lease file (`ustack dhcp --release` in a fresh process):
  // configures the stored address briefly so the RELEASE can be unicast from it.
  static bool release_stored(Host& host, const DhcpSetupOptions& options, const Narrate& narrate);

  // For programs that keep running: call poll() every loop turn, and wake by poll_at().
  void poll();
  std::optional<stack::Instant> poll_at() const;
  stack::socket::DhcpAgent& agent() { return *agent_; }
  const std::string& lease_path() const { return lease_path_; }

 private:
  DhcpSession(Host& host, DhcpSetupOptions options, Narrate narrate);
  void on_event(stack::Instant at, const stack::socket::DhcpEvent& e);
  void say(const std::string& text, bool end_of_line = false);
  LeaseInfo info_from(const stack::socket::DhcpLease& lease) const;

  Host& host_;
  DhcpSetupOptions options_;
  Narrate narrate_;
  std::string lease_path_;
  std::unique_ptr<stack::socket::DhcpAgent> agent_;
  std::unique_ptr<DhcpLines> lines_;  // options.one_line_per_message
  stack::Instant started_at_;
  bool init_reboot_ = false;
  bool line_open_ = false;
  int bound_count_ = 0;                 // BOUND events so far (renewals included)
  std::optional<stack::socket::DhcpLease> last_lease_;
  bool lost_ = false;
};

// The one call for programs without --ip: runs DHCP on the host until bound and returns the lease
// (the interface is configured). The client stops afterwards: a program that runs past T1
// should keep a DhcpSession and poll it instead.
std::optional<LeaseInfo> acquire_address(Host& host, const DhcpSetupOptions& options, const Narrate& narrate);

}  // namespace appkit
