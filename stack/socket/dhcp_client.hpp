// The DHCP client (RFC 2131), with Rapid Commit (RFC 4039) and address conflict detection
// (RFC 5227).
//
// Read first: RFC 2131 §3.1 (allocation: INIT → SELECTING → REQUESTING → BOUND), §3.2 (reuse of
// an address: INIT-REBOOT → REBOOTING), §4.1 (retransmission: 4, 8, 16 … 64 s ± 1 s), §4.3.2 and
// §4.4 (what each state sends, Table 5; T1/T2 and RENEWING/REBINDING in §4.4.5), Figure 5 (the
// state diagram); RFC 4039 §4 (Rapid Commit on the client); RFC 5227 §2.1–2.3 (probe, then
// announce); docs/hostile-inputs.md §I (what a hostile or broken server sends).
//
// Two layers:
//   DhcpClient  the pure state machine. Fed messages (process), ARP packets (process_arp) and the
//               time (poll); hands back actions (take_actions: send this, probe that, configure
//               the lease) and reports events. It never sees a frame, an Interface or a clock:
//               tests drive it in virtual time.
//   DhcpAgent   runs a DhcpClient on an iface::Interface: a UDP port 68 binding, the Interface's
//               ARP observer (chained), and the actions carried out (UDP sends, ARP probes,
//               set_address / clear_address).
//
// Per-state data lives in a std::variant; every timer is an absolute deadline reported by
// poll_at(). DHCP's own names win: xid, ciaddr, yiaddr, chaddr, t1_renew_at, t2_rebind_at.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "stack/iface/interface.hpp"
#include "stack/socket/udp.hpp"
#include "stack/time.hpp"
#include "stack/util/bytes.hpp"
#include "stack/util/random.hpp"
#include "stack/util/result.hpp"
#include "stack/wire/arp.hpp"
#include "stack/wire/dhcpv4.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/ip_address.hpp"

namespace stack::socket {

struct DhcpConfig {
  wire::MacAddress chaddr;
  std::optional<std::string> hostname;      // option 12 (RFC 2132 §3.14)
  std::optional<Bytes> client_id;           // option 61; default: type 1 (Ethernet) + chaddr (RFC 2132 §9.14)
  bool rapid_commit = true;                 // ask for it in DISCOVER (RFC 4039 §4)
  std::optional<std::uint32_t> requested_lease_time;  // option 51 in DISCOVER/REQUEST (RFC 2131 §4.4.1 MAY)
  // Option 55: subnet mask, router, DNS, domain name, MTU, broadcast address.
  std::vector<std::uint8_t> parameter_request_list{1, 3, 6, 15, 26, 28};

  // RFC 2131 §4.1: "the delay before the first retransmission SHOULD be 4 seconds randomized by
  // the value of a uniform random number chosen from the range -1 to +1 … The delay before the
  // next retransmission SHOULD be 8 seconds … up to a maximum of 64 seconds."
  Duration first_retransmit = Duration::from_secs(4);
  Duration max_retransmit = Duration::from_secs(64);
  Duration retransmit_jitter = Duration::from_secs(1);
  // DHCPREQUESTs in REQUESTING/REBOOTING before giving up on that server (RFC 2131 §3.1 step 5,
  // §3.2 step 3: "the client reverts to INIT state and restarts").
  int request_attempts = 4;
  // Stop (state FAILED) when no lease after this long; nullopt: keep trying for ever.
  std::optional<Duration> overall_timeout;
  // RFC 2131 §4.4.5: in RENEWING/REBINDING wait half the remaining time, "down to a minimum of
  // 60 seconds, before retransmitting".
  Duration renew_min_retransmit = Duration::from_secs(60);
  // RFC 2131 §3.1 step 5: after DHCPDECLINE, "The client SHOULD wait a minimum of ten seconds
  // before restarting the configuration process".
  Duration decline_wait = Duration::from_secs(10);

  // RFC 5227 §2.1.1 and §1.1 constants: probe the offered address before using it.
  bool address_conflict_detection = true;
  Duration probe_wait = Duration::from_secs(1);   // PROBE_WAIT: initial random delay
  int probe_num = 3;                              // PROBE_NUM
  Duration probe_min = Duration::from_secs(1);    // PROBE_MIN
  Duration probe_max = Duration::from_secs(2);    // PROBE_MAX
  Duration announce_wait = Duration::from_secs(2);  // ANNOUNCE_WAIT: after the last probe
  int announce_num = 2;                           // ANNOUNCE_NUM (the first is set_address's)
  Duration announce_interval = Duration::from_secs(2);  // ANNOUNCE_INTERVAL

  std::uint64_t seed = 1;  // xids, jitter and probe delays
};

// What the client remembers across restarts (the app persists it) for INIT-REBOOT (RFC 2131 §3.2).
struct DhcpStoredLease {
  wire::Ipv4Cidr address;
  std::optional<wire::Ipv4Address> server_id;  // lets `release` work from a stored lease
};

// A lease in use, with the deadlines it implies.
struct DhcpLease {
  wire::Ipv4Cidr address;                      // yiaddr / prefix from option 1
  std::optional<wire::Ipv4Address> router;     // the first of option 3
  std::vector<wire::Ipv4Address> dns_servers;  // option 6
  std::optional<std::string> domain_name;      // option 15
  std::optional<std::uint16_t> mtu;            // option 26
  wire::Ipv4Address server_id;                 // option 54
  std::uint32_t lease_time = 0;                // seconds; 0xffffffff: infinite
  std::uint32_t t1 = 0;                        // seconds after the start (defaults applied)
  std::uint32_t t2 = 0;
  Instant started_at;                          // RFC 2131 §4.4.1: when the REQUEST was sent
  std::optional<Instant> t1_renew_at;          // nullopt: an infinite lease has no timers
  std::optional<Instant> t2_rebind_at;
  std::optional<Instant> lease_expires_at;
  bool rapid_commit = false;                   // obtained by a two-message exchange
  bool infinite() const { return lease_time == 0xffffffffu; }
  bool operator==(const DhcpLease&) const = default;
};

// States in RFC 2131 Figure 5's spelling, plus PROBING (RFC 5227 checking between the ACK and
// BOUND), RELEASED and FAILED (gave up after overall_timeout).
enum class DhcpState { Init, Selecting, Requesting, Probing, Bound, Renewing, Rebinding, InitReboot, Rebooting, Released, Failed };
const char* to_string(DhcpState s);  // "INIT-REBOOT"

// Why a received message was not used. Counted under "dhcp.ignored.<name>".
enum class DhcpIgnore : std::uint8_t {
  Malformed,        // see the ParseError counters
  NotReply,         // op BOOTREQUEST (another client's broadcast) or type DISCOVER/REQUEST/…
  WrongXid,         // not our exchange (RFC 2131 §4.1 "xid")
  WrongChaddr,      // another client's reply with our xid
  NoServerId,       // RFC 2131 Table 3: OFFER/ACK/NAK MUST carry option 54
  WrongServer,      // REQUESTING: the ACK/NAK of a server we did not select
  Unexpected,       // right xid, wrong moment (an OFFER while REQUESTING, an ACK while BOUND)
  NoRapidCommit,    // ACK straight after DISCOVER without option 80 (RFC 4039 §4)
  BadYiaddr,        // 0.0.0.0, broadcast, multicast, loopback, class E
  BadSubnetMask,    // missing, or not contiguous (255.0.255.0)
  NoLeaseTime,      // ACK without option 51, or a lease of 0 s
  Count_
};
inline constexpr std::size_t kDhcpIgnoreCount = static_cast<std::size_t>(DhcpIgnore::Count_);
const char* to_string(DhcpIgnore r);     // "wrong xid"
const char* counter_name(DhcpIgnore r);  // "wrong_xid"

// --- actions: what the client asks its driver to do -------------------------------------------
struct DhcpTransmit {
  UdpEndpoint to;                           // 255.255.255.255:67, or the server:67 (RENEWING, RELEASE)
  std::optional<wire::Ipv4Address> source;  // 0.0.0.0 before we have an address; nullopt: ours
  wire::dhcpv4::Repr message;
};
struct DhcpArpProbe { wire::Ipv4Address target; };    // RFC 5227 §2.1.1
struct DhcpArpAnnounce { wire::Ipv4Address ip; };     // RFC 5227 §2.3 (the second and later ones)
struct DhcpConfigure { DhcpLease lease; bool renewed = false; };
struct DhcpDeconfigure { wire::Ipv4Cidr address; };   // stop using it (NAK, expiry, release)
using DhcpAction = std::variant<DhcpTransmit, DhcpArpProbe, DhcpArpAnnounce, DhcpConfigure, DhcpDeconfigure>;

// --- events: what happened, for narration --------------------------------------------------------
namespace dhcp_event {
struct Sent { wire::dhcpv4::Repr message; UdpEndpoint to; int attempt; };  // attempt 1: first transmission
struct Received { wire::dhcpv4::Repr message; wire::Ipv4Address from; };   // accepted and acted on
struct Ignored { DhcpIgnore reason; std::optional<wire::dhcpv4::ParseError> parse_error; wire::Ipv4Address from; std::string detail; };
struct StateChanged { DhcpState from; DhcpState to; };
struct ProbeSent { wire::Ipv4Address ip; int probe; };
struct Conflict { wire::Ipv4Address ip; wire::MacAddress mac; };
struct Bound { DhcpLease lease; bool renewed; };
struct LeaseLost { wire::Ipv4Cidr address; std::string why; };  // "NAK", "lease expired"
struct GaveUp { Duration after; };
}  // namespace dhcp_event
using DhcpEvent = std::variant<dhcp_event::Sent, dhcp_event::Received, dhcp_event::Ignored, dhcp_event::StateChanged,
                               dhcp_event::ProbeSent, dhcp_event::Conflict, dhcp_event::Bound, dhcp_event::LeaseLost,
                               dhcp_event::GaveUp>;
using DhcpEventSink = std::function<void(Instant, const DhcpEvent&)>;
std::string describe(const DhcpEvent& e);  // one line for -v

class DhcpClient {
 public:
  // Starts in INIT, or in INIT-REBOOT when a stored lease is given (RFC 2131 §3.2). Nothing is
  // sent until the first poll(now).
  DhcpClient(DhcpConfig config, Instant now, std::optional<DhcpStoredLease> stored = std::nullopt);

  // One UDP payload received on port 68 from `from`.
  void process(Instant now, std::span<const std::byte> payload, wire::Ipv4Address from);
  // Every ARP packet seen while probing (RFC 5227 §2.1.1 conflict rules).
  void process_arp(Instant now, const wire::arp::Repr& arp);
  // Runs the timers due at `now`.
  void poll(Instant now);
  // The earliest deadline; nullopt when only a message can change anything.
  std::optional<Instant> poll_at() const;
  // The actions accumulated since the last call, oldest first.
  std::vector<DhcpAction> take_actions();

  // RENEWING now instead of at T1, like udhcpc's SIGUSR1 (a real renewal: unicast to the server).
  // False unless BOUND.
  bool renew(Instant now);
  // RFC 2131 §4.4.6: "The client may choose to relinquish its lease on a network address by
  // sending a DHCPRELEASE message to the server." Works in BOUND/RENEWING/REBINDING, and in
  // INIT-REBOOT from a stored lease that names its server. False when there is nothing to release.
  bool release(Instant now);

  DhcpState state() const;
  const DhcpLease* lease() const;  // BOUND, RENEWING, REBINDING; else nullptr
  void set_event_sink(DhcpEventSink sink) { events_ = std::move(sink); }
  std::vector<std::pair<std::string, std::uint64_t>> stats() const;
  std::uint64_t ignored(DhcpIgnore r) const { return ignored_[static_cast<std::size_t>(r)]; }
  std::uint64_t malformed(wire::dhcpv4::ParseError e) const { return malformed_[static_cast<std::size_t>(e)]; }

 private:
  // A retransmission timer (RFC 2131 §4.1).
  struct Retransmit {
    Instant at;
    int attempt = 1;  // transmissions so far
  };
  struct Init { Instant start_at; };
  struct InitReboot { DhcpStoredLease stored; Instant created_at; };
  struct Selecting { std::uint32_t xid; Instant started_at; Retransmit rt; };
  struct Requesting { std::uint32_t xid; Instant started_at; Retransmit rt; wire::dhcpv4::Repr offer; Instant requested_at; };
  struct Rebooting { std::uint32_t xid; Instant started_at; Retransmit rt; wire::Ipv4Cidr address; };
  struct Probing { DhcpLease lease; int probes_sent; Instant next_at; };
  struct Bound { DhcpLease lease; int announcements; std::optional<Instant> announce_at; };
  struct Renewing { DhcpLease lease; std::uint32_t xid; Instant started_at; Instant retransmit_at; int attempt; };
  struct Rebinding { DhcpLease lease; std::uint32_t xid; Instant started_at; Instant retransmit_at; int attempt; };
  struct Released {};
  struct Failed {};
  using State = std::variant<Init, Selecting, Requesting, Probing, Bound, Renewing, Rebinding, InitReboot, Rebooting,
                             Released, Failed>;

  void enter(Instant now, State next);
  void emit(Instant now, DhcpEvent e) {
    if (events_) events_(now, e);
  }
  void ignore(Instant now, DhcpIgnore reason, wire::Ipv4Address from, std::string detail = {},
              std::optional<wire::dhcpv4::ParseError> parse_error = std::nullopt);

  // Message construction (RFC 2131 §4.4.1 and Table 5).
  wire::dhcpv4::Repr base_message(wire::dhcpv4::MessageType type, std::uint32_t xid, Instant started_at, Instant now) const;
  void transmit(Instant now, wire::dhcpv4::Repr msg, UdpEndpoint to, std::optional<wire::Ipv4Address> source, int attempt);
  void send_discover(Instant now, const Selecting& s);
  void send_select_request(Instant now, const Requesting& s);
  void send_reboot_request(Instant now, const Rebooting& s);
  void send_renew_request(Instant now, const DhcpLease& lease, std::uint32_t xid, Instant started_at, bool broadcast, int attempt);
  void send_decline(Instant now, const DhcpLease& lease);

  Instant next_retransmit(Instant now, int attempt);  // attempt: transmissions so far
  Instant renew_retransmit(Instant now, Instant limit) const;
  std::uint32_t new_xid() { return rng_.next_u32(); }
  Duration random_between(Duration lo, Duration hi);
  void poll_once(Instant now);
  void start_discovery(Instant now);
  void enter_renewing(Instant now);
  // ACK accepted: probe the address first (RFC 5227) unless disabled, then bind.
  void start_bind(Instant now, DhcpLease lease);
  void bind(Instant now, DhcpLease lease, bool renewed);

  // Shared reply checks: op, xid, chaddr, a reply type, server identifier. nullopt: ignored.
  std::optional<wire::dhcpv4::Repr> accept_reply(Instant now, std::span<const std::byte> payload,
                                                 wire::Ipv4Address from, std::uint32_t xid);
  // ACK → lease (RFC 2131 §4.4.5 T1/T2 defaults); nullopt (and counted) when unusable.
  std::optional<DhcpLease> lease_from_ack(Instant now, const wire::dhcpv4::Repr& ack, Instant started_at,
                                          wire::Ipv4Address from);
  void lose_lease(Instant now, const DhcpLease& lease, const std::string& why);

  DhcpConfig config_;
  Rng rng_;
  State state_;
  std::optional<Instant> acquire_started_at_;  // for overall_timeout
  std::vector<DhcpAction> actions_;
  DhcpEventSink events_;
  std::array<std::uint64_t, kDhcpIgnoreCount> ignored_{};
  std::array<std::uint64_t, wire::dhcpv4::kParseErrorCount> malformed_{};
  std::uint64_t sent_ = 0;
  std::uint64_t accepted_ = 0;
};

enum class DhcpAgentError { PortInUse };

// Runs a DhcpClient on an Interface. Owns a UDP binding on port 68 and chains itself into the
// Interface's arp_observer (restoring the previous observer on destruction: destroy agents in
// the reverse order of creation).
class DhcpAgent {
 public:
  static Result<std::unique_ptr<DhcpAgent>, DhcpAgentError> create(iface::Interface& iface, DhcpConfig config,
                                                                  Instant now,
                                                                  std::optional<DhcpStoredLease> stored = std::nullopt);
  ~DhcpAgent();
  DhcpAgent(const DhcpAgent&) = delete;
  DhcpAgent& operator=(const DhcpAgent&) = delete;

  // Feeds the datagrams received on port 68, runs the client's timers and carries out its actions.
  void poll(Instant now);
  std::optional<Instant> poll_at() const;

  // Sends DHCPRELEASE; the address is removed once the RELEASE has left (the server's MAC is
  // known, so the frame was not left waiting for ARP) or after `linger`.
  bool release(Instant now, Duration linger = Duration::from_secs(2));
  // True once a release has completed (the address is gone).
  bool released() const { return released_; }

  DhcpClient& client() { return client_; }
  const DhcpClient& client() const { return client_; }

 private:
  DhcpAgent(iface::Interface& iface, DhcpConfig config, Instant now, std::optional<DhcpStoredLease> stored,
            UdpLayer::SocketId sock);
  void carry_out(Instant now);

  iface::Interface& iface_;
  DhcpClient client_;
  UdpLayer::SocketId sock_;
  std::function<void(Instant, const wire::arp::Repr&)> previous_observer_;
  std::optional<Instant> deconfigure_at_;  // pending release: remove the address by then at the latest
  std::optional<wire::Ipv4Address> release_next_hop_;
  bool releasing_ = false;
  Duration linger_;
  bool released_ = false;
};

}  // namespace stack::socket
