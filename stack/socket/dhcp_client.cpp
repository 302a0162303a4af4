#include "stack/socket/dhcp_client.hpp"

#include <algorithm>

namespace stack::socket {

namespace dhcp = wire::dhcpv4;
using dhcp::MessageType;
using wire::Ipv4Address;
using wire::Ipv4Cidr;

namespace {

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

const UdpEndpoint kAllServers{Ipv4Address::broadcast(), dhcp::kServerPort};

// An address a server may give us: not 0/8, broadcast, multicast, loopback or class E
// (RFC 1122 §3.2.1.3; docs/hostile-inputs.md #67, smoltcp's "your_ip is not unicast").
bool assignable(Ipv4Address a) {
  const std::uint32_t first = a.value >> 24;
  return first != 0 && !a.is_loopback() && !a.is_multicast() && first < 240;
}

}  // namespace

const char* to_string(DhcpState s) {
  switch (s) {
    case DhcpState::Init: return "INIT";
    case DhcpState::Selecting: return "SELECTING";
    case DhcpState::Requesting: return "REQUESTING";
    case DhcpState::Probing: return "PROBING";
    case DhcpState::Bound: return "BOUND";
    case DhcpState::Renewing: return "RENEWING";
    case DhcpState::Rebinding: return "REBINDING";
    case DhcpState::InitReboot: return "INIT-REBOOT";
    case DhcpState::Rebooting: return "REBOOTING";
    case DhcpState::Released: return "RELEASED";
    case DhcpState::Failed: return "FAILED";
  }
  return "?";
}

const char* to_string(DhcpIgnore r) {
  switch (r) {
    case DhcpIgnore::Malformed: return "malformed";
    case DhcpIgnore::NotReply: return "not a server reply";
    case DhcpIgnore::WrongXid: return "wrong xid";
    case DhcpIgnore::WrongChaddr: return "wrong chaddr";
    case DhcpIgnore::NoServerId: return "no server identifier";
    case DhcpIgnore::WrongServer: return "not the selected server";
    case DhcpIgnore::Unexpected: return "unexpected in this state";
    case DhcpIgnore::NoRapidCommit: return "ACK to DISCOVER without rapid commit";
    case DhcpIgnore::BadYiaddr: return "unusable yiaddr";
    case DhcpIgnore::BadSubnetMask: return "missing or non-contiguous subnet mask";
    case DhcpIgnore::NoLeaseTime: return "no lease time";
    case DhcpIgnore::Count_: break;
  }
  return "?";
}

const char* counter_name(DhcpIgnore r) {
  switch (r) {
    case DhcpIgnore::Malformed: return "malformed";
    case DhcpIgnore::NotReply: return "not_reply";
    case DhcpIgnore::WrongXid: return "wrong_xid";
    case DhcpIgnore::WrongChaddr: return "wrong_chaddr";
    case DhcpIgnore::NoServerId: return "no_server_id";
    case DhcpIgnore::WrongServer: return "wrong_server";
    case DhcpIgnore::Unexpected: return "unexpected";
    case DhcpIgnore::NoRapidCommit: return "no_rapid_commit";
    case DhcpIgnore::BadYiaddr: return "bad_yiaddr";
    case DhcpIgnore::BadSubnetMask: return "bad_subnet_mask";
    case DhcpIgnore::NoLeaseTime: return "no_lease_time";
    case DhcpIgnore::Count_: break;
  }
  return "?";
}

std::string describe(const DhcpEvent& e) {
  return std::visit(
      Overloaded{
          [](const dhcp_event::Sent& s) {
            return "DHCP: sent " + s.message.describe() + " to " + s.to.describe() +
                   (s.attempt > 1 ? " (attempt " + std::to_string(s.attempt) + ")" : "");
          },
          [](const dhcp_event::Received& r) {
            return "DHCP: received " + r.message.describe() + " from " + r.from.describe();
          },
          [](const dhcp_event::Ignored& i) {
            return "DHCP: ignored a message from " + i.from.describe() + ": " + to_string(i.reason) +
                   (i.detail.empty() ? "" : " (" + i.detail + ")");
          },
          [](const dhcp_event::StateChanged& s) {
            return std::string("DHCP: ") + to_string(s.from) + " -> " + to_string(s.to);
          },
          [](const dhcp_event::ProbeSent& p) {
            return "DHCP: ARP probe " + std::to_string(p.probe) + " for " + p.ip.describe();
          },
          [](const dhcp_event::Conflict& c) {
            return "DHCP: " + c.ip.describe() + " is in use by " + c.mac.describe() + " (RFC 5227 conflict)";
          },
          [](const dhcp_event::Bound& b) {
            return std::string("DHCP: ") + (b.renewed ? "renewed " : "bound to ") + b.lease.address.describe() +
                   ", lease " + std::to_string(b.lease.lease_time) + " s";
          },
          [](const dhcp_event::LeaseLost& l) { return "DHCP: lost " + l.address.describe() + ": " + l.why; },
          [](const dhcp_event::GaveUp& g) { return "DHCP: no lease after " + g.after.describe() + ", giving up"; },
      },
      e);
}

// =============================================================================================
// DhcpClient
// =============================================================================================

DhcpClient::DhcpClient(DhcpConfig config, Instant now, std::optional<DhcpStoredLease> stored)
    : config_(std::move(config)), rng_(config_.seed ^ 0xd4c9'0000'0000'0001ull), state_(Init{now}) {
  if (!config_.client_id) {
    // RFC 2132 §9.14: type 1 (Ethernet, the ARP hardware type) followed by the MAC.
    Bytes id{std::byte{1}};
    for (std::uint8_t o : config_.chaddr.octets) id.push_back(std::byte{o});
    config_.client_id = std::move(id);
  }
  if (stored) state_ = InitReboot{*stored, now};
}

// The variant's alternatives are declared in DhcpState's order.
static_assert(static_cast<int>(DhcpState::Failed) == 10);
DhcpState DhcpClient::state() const { return static_cast<DhcpState>(state_.index()); }

const DhcpLease* DhcpClient::lease() const {
  if (auto* b = std::get_if<Bound>(&state_)) return &b->lease;
  if (auto* r = std::get_if<Renewing>(&state_)) return &r->lease;
  if (auto* r = std::get_if<Rebinding>(&state_)) return &r->lease;
  return nullptr;
}

std::vector<DhcpAction> DhcpClient::take_actions() { return std::exchange(actions_, {}); }

void DhcpClient::enter(Instant now, State next) {
  const DhcpState from = state();
  state_ = std::move(next);
  if (state() != from) emit(now, dhcp_event::StateChanged{from, state()});
}

void DhcpClient::ignore(Instant now, DhcpIgnore reason, Ipv4Address from, std::string detail,
                        std::optional<dhcp::ParseError> parse_error) {
  ++ignored_[static_cast<std::size_t>(reason)];
  if (parse_error) ++malformed_[static_cast<std::size_t>(*parse_error)];
  emit(now, dhcp_event::Ignored{reason, parse_error, from, std::move(detail)});
}

std::vector<std::pair<std::string, std::uint64_t>> DhcpClient::stats() const {
  std::vector<std::pair<std::string, std::uint64_t>> out{{"dhcp.messages_sent", sent_}, {"dhcp.messages_accepted", accepted_}};
  for (std::size_t i = 0; i < kDhcpIgnoreCount; ++i) {
    if (ignored_[i]) out.emplace_back(std::string("dhcp.ignored.") + counter_name(static_cast<DhcpIgnore>(i)), ignored_[i]);
  }
  for (std::size_t i = 0; i < dhcp::kParseErrorCount; ++i) {
    if (malformed_[i]) {
      out.emplace_back(std::string("dhcp.malformed.") + dhcp::counter_name(static_cast<dhcp::ParseError>(i)), malformed_[i]);
    }
  }
  return out;
}

// --- timers ----------------------------------------------------------------------------------

Duration DhcpClient::random_between(Duration lo, Duration hi) {
  if (hi <= lo) return lo;
  const std::int64_t span = std::min<std::int64_t>((hi - lo).micros(), 0x7fffffff);
  return lo + Duration::from_micros(rng_.below(static_cast<std::uint32_t>(span) + 1));
}

Instant DhcpClient::next_retransmit(Instant now, int attempt) {
  // RFC 2131 §4.1: 4 s, 8 s, 16 s, … doubling up to 64 s, each "randomized by the value of a
  // uniform random number chosen from the range -1 to +1".
  Duration base = config_.first_retransmit;
  for (int i = 1; i < attempt && base < config_.max_retransmit; ++i) base = base * 2;
  base = std::min(base, config_.max_retransmit);
  const Duration jitter = random_between(Duration::zero(), config_.retransmit_jitter * 2) - config_.retransmit_jitter;
  const Duration wait = std::max(base + jitter, Duration::from_millis(10));
  return now + wait;
}

Instant DhcpClient::renew_retransmit(Instant now, Instant limit) const {
  // RFC 2131 §4.4.5: "the client SHOULD wait one-half of the remaining time until T2 (in
  // RENEWING state) and one-half of the remaining lease time (in REBINDING state), down to a
  // minimum of 60 seconds, before retransmitting the DHCPREQUEST message."
  const Instant at = now + std::max(config_.renew_min_retransmit, (limit - now) / 2);
  return std::min(at, limit);
}

std::optional<Instant> DhcpClient::poll_at() const {
  std::optional<Instant> at;
  auto consider = [&at](std::optional<Instant> t) {
    if (t && (!at || *t < *at)) at = t;
  };
  std::visit(Overloaded{
                 [&](const Init& s) { consider(s.start_at); },
                 [&](const InitReboot& s) { consider(s.created_at); },
                 [&](const Selecting& s) { consider(s.rt.at); },
                 [&](const Requesting& s) { consider(s.rt.at); },
                 [&](const Rebooting& s) { consider(s.rt.at); },
                 [&](const Probing& s) { consider(s.next_at); },
                 [&](const Bound& s) {
                   consider(s.announce_at);
                   consider(s.lease.t1_renew_at);
                   consider(s.lease.t2_rebind_at);
                   consider(s.lease.lease_expires_at);
                 },
                 [&](const Renewing& s) {
                   consider(s.retransmit_at);
                   consider(s.lease.t2_rebind_at);
                   consider(s.lease.lease_expires_at);
                 },
                 [&](const Rebinding& s) {
                   consider(s.retransmit_at);
                   consider(s.lease.lease_expires_at);
                 },
                 [](const Released&) {},
                 [](const Failed&) {},
             },
             state_);
  if (acquire_started_at_ && config_.overall_timeout) consider(*acquire_started_at_ + *config_.overall_timeout);
  return at;
}

void DhcpClient::poll(Instant now) {
  // A late poll may cross several deadlines at once (BOUND past T1 and T2): step until stable.
  for (int guard = 0; guard < 8; ++guard) {
    const std::size_t before = state_.index();
    const std::uint64_t sent_before = sent_;
    poll_once(now);
    if (state_.index() == before && sent_ == sent_before) break;
  }
}

void DhcpClient::poll_once(Instant now) {
  if (config_.overall_timeout && acquire_started_at_ && now >= *acquire_started_at_ + *config_.overall_timeout) {
    const Duration after = now - *acquire_started_at_;
    acquire_started_at_.reset();
    emit(now, dhcp_event::GaveUp{after});
    enter(now, Failed{});
    return;
  }
  if (auto* s = std::get_if<Init>(&state_)) {
    if (now >= s->start_at) start_discovery(now);
    return;
  }
  if (auto* s = std::get_if<InitReboot>(&state_)) {
    // RFC 2131 §3.2 step 1: broadcast a DHCPREQUEST with the remembered address in option 50.
    if (!acquire_started_at_) acquire_started_at_ = now;
    Rebooting r{new_xid(), now, Retransmit{now, 1}, s->stored.address};
    send_reboot_request(now, r);
    r.rt.at = next_retransmit(now, 1);
    enter(now, std::move(r));
    return;
  }
  if (auto* s = std::get_if<Selecting>(&state_)) {
    if (now < s->rt.at) return;
    ++s->rt.attempt;
    send_discover(now, *s);  // RFC 2131 §4.4.1: the same xid for retransmissions (a late OFFER still counts)
    s->rt.at = next_retransmit(now, s->rt.attempt);
    return;
  }
  if (auto* s = std::get_if<Requesting>(&state_)) {
    if (now < s->rt.at) return;
    // RFC 2131 §3.1 step 5: no ACK or NAK after the retransmissions: back to INIT.
    if (s->rt.attempt >= config_.request_attempts) return start_discovery(now);
    ++s->rt.attempt;
    send_select_request(now, *s);
    s->rt.at = next_retransmit(now, s->rt.attempt);
    return;
  }
  if (auto* s = std::get_if<Rebooting>(&state_)) {
    if (now < s->rt.at) return;
    // RFC 2131 §3.2 step 3 lets the client keep using an unexpired address when nobody answers
    // ("MAY"); we do not know the lease's remaining time reliably after a restart, so we start over.
    if (s->rt.attempt >= config_.request_attempts) return start_discovery(now);
    ++s->rt.attempt;
    send_reboot_request(now, *s);
    s->rt.at = next_retransmit(now, s->rt.attempt);
    return;
  }
  if (auto* s = std::get_if<Probing>(&state_)) {
    if (now < s->next_at) return;
    if (s->probes_sent < config_.probe_num) {
      // RFC 5227 §2.1.1: "PROBE_NUM probe packets, each of these probe packets spaced randomly
      // and uniformly, PROBE_MIN to PROBE_MAX seconds apart".
      ++s->probes_sent;
      actions_.push_back(DhcpArpProbe{s->lease.address.address});
      emit(now, dhcp_event::ProbeSent{s->lease.address.address, s->probes_sent});
      s->next_at = s->probes_sent < config_.probe_num ? now + random_between(config_.probe_min, config_.probe_max)
                                                      : now + config_.announce_wait;
      ++sent_;  // counts as progress for poll()'s loop
      return;
    }
    // "If, by ANNOUNCE_WAIT seconds after the transmission of the last ARP Probe no conflicting
    // ARP Reply or ARP Probe has been received, then the host has successfully determined that
    // the desired IP address may be used."
    DhcpLease lease = s->lease;
    return bind(now, std::move(lease), false);
  }
  if (auto* s = std::get_if<Bound>(&state_)) {
    const DhcpLease& l = s->lease;
    if (l.lease_expires_at && now >= *l.lease_expires_at) {
      DhcpLease lost = l;
      lose_lease(now, lost, "lease expired");
      return start_discovery(now);
    }
    if (l.t2_rebind_at && now >= *l.t2_rebind_at) {
      Rebinding r{l, new_xid(), now, now, 1};
      r.retransmit_at =
          l.lease_expires_at ? renew_retransmit(now, *l.lease_expires_at) : now + config_.renew_min_retransmit;
      send_renew_request(now, r.lease, r.xid, r.started_at, true, 1);
      enter(now, std::move(r));
      return;
    }
    if (l.t1_renew_at && now >= *l.t1_renew_at) {
      enter_renewing(now);
      return;
    }
    if (s->announce_at && now >= *s->announce_at) {
      // RFC 5227 §2.3: "ANNOUNCE_NUM ARP Announcements, spaced ANNOUNCE_INTERVAL seconds apart".
      actions_.push_back(DhcpArpAnnounce{l.address.address});
      ++s->announcements;
      s->announce_at = s->announcements < config_.announce_num ? std::optional{now + config_.announce_interval} : std::nullopt;
      ++sent_;
    }
    return;
  }
  if (auto* s = std::get_if<Renewing>(&state_)) {
    const DhcpLease& l = s->lease;
    if (l.lease_expires_at && now >= *l.lease_expires_at) {
      DhcpLease lost = l;
      lose_lease(now, lost, "lease expired");
      return start_discovery(now);
    }
    if (l.t2_rebind_at && now >= *l.t2_rebind_at) {
      // RFC 2131 §4.4.5: "If no DHCPACK arrives before time T2, the client moves to REBINDING
      // state and sends (via broadcast) a DHCPREQUEST message to extend its lease."
      Rebinding r{l, new_xid(), now, now, 1};
      r.retransmit_at =
          l.lease_expires_at ? renew_retransmit(now, *l.lease_expires_at) : now + config_.renew_min_retransmit;
      send_renew_request(now, r.lease, r.xid, r.started_at, true, 1);
      enter(now, std::move(r));
      return;
    }
    if (now < s->retransmit_at) return;
    ++s->attempt;
    send_renew_request(now, s->lease, s->xid, s->started_at, false, s->attempt);
    // An infinite lease has no T2 (a renewal the user asked for): retry at the RFC's minimum.
    s->retransmit_at = l.t2_rebind_at ? renew_retransmit(now, *l.t2_rebind_at) : now + config_.renew_min_retransmit;
    return;
  }
  if (auto* s = std::get_if<Rebinding>(&state_)) {
    const DhcpLease& l = s->lease;
    if (l.lease_expires_at && now >= *l.lease_expires_at) {
      // RFC 2131 §4.4.5: "If the lease expires before the client receives a DHCPACK, the client
      // moves to INIT state, MUST immediately stop any other network processing and requests
      // network initialization parameters as if the client were uninitialized."
      DhcpLease lost = l;
      lose_lease(now, lost, "lease expired");
      return start_discovery(now);
    }
    if (now < s->retransmit_at) return;
    ++s->attempt;
    send_renew_request(now, s->lease, s->xid, s->started_at, true, s->attempt);
    s->retransmit_at =
        l.lease_expires_at ? renew_retransmit(now, *l.lease_expires_at) : now + config_.renew_min_retransmit;
    return;
  }
}

void DhcpClient::start_discovery(Instant now) {
  if (!acquire_started_at_) acquire_started_at_ = now;
  Selecting s{new_xid(), now, Retransmit{now, 1}};
  send_discover(now, s);
  s.rt.at = next_retransmit(now, 1);
  enter(now, std::move(s));
}

void DhcpClient::enter_renewing(Instant now) {
  auto* b = std::get_if<Bound>(&state_);
  if (!b) return;
  // RFC 2131 §4.4.5: "At time T1 the client moves to RENEWING state and sends (via unicast) a
  // DHCPREQUEST message to the server to extend its lease."
  Renewing r{b->lease, new_xid(), now, now, 1};
  r.retransmit_at = r.lease.t2_rebind_at ? renew_retransmit(now, *r.lease.t2_rebind_at) : now + config_.renew_min_retransmit;
  send_renew_request(now, r.lease, r.xid, r.started_at, false, 1);
  enter(now, std::move(r));
}

bool DhcpClient::renew(Instant now) {
  if (!std::holds_alternative<Bound>(state_)) return false;
  enter_renewing(now);
  return true;
}

void DhcpClient::start_bind(Instant now, DhcpLease lease) {
  if (!config_.address_conflict_detection) return bind(now, std::move(lease), false);
  // RFC 5227 §2.1.1: "the host should first wait for a random time interval selected uniformly
  // in the range zero to PROBE_WAIT seconds".
  const Instant first = now + random_between(Duration::zero(), config_.probe_wait);
  enter(now, Probing{std::move(lease), 0, first});
}

void DhcpClient::bind(Instant now, DhcpLease lease, bool renewed) {
  actions_.push_back(DhcpConfigure{lease, renewed});
  emit(now, dhcp_event::Bound{lease, renewed});
  acquire_started_at_.reset();
  std::optional<Instant> announce_at;
  // The announcements after the first (set_address's) belong to RFC 5227's procedure.
  if (!renewed && config_.address_conflict_detection && config_.announce_num > 1) {
    announce_at = now + config_.announce_interval;
  }
  enter(now, Bound{std::move(lease), 1, announce_at});
}

void DhcpClient::lose_lease(Instant now, const DhcpLease& lease, const std::string& why) {
  actions_.push_back(DhcpDeconfigure{lease.address});
  emit(now, dhcp_event::LeaseLost{lease.address, why});
}

// --- messages (RFC 2131 §4.4.1, Table 5) -----------------------------------------------------

dhcp::Repr DhcpClient::base_message(MessageType type, std::uint32_t xid, Instant started_at, Instant now) const {
  dhcp::Repr m;
  m.op = dhcp::Op::BootRequest;
  m.message_type = type;
  m.xid = xid;
  // RFC 2131 §2: "secs: seconds elapsed since client began address acquisition or renewal process".
  m.secs = static_cast<std::uint16_t>(std::clamp<std::int64_t>((now - started_at).secs(), 0, 0xffff));
  m.chaddr = config_.chaddr;
  m.client_id = config_.client_id;
  return m;
}

void DhcpClient::transmit(Instant now, dhcp::Repr msg, UdpEndpoint to, std::optional<Ipv4Address> source, int attempt) {
  ++sent_;
  emit(now, dhcp_event::Sent{msg, to, attempt});
  actions_.push_back(DhcpTransmit{to, source, std::move(msg)});
}

void DhcpClient::send_discover(Instant now, const Selecting& s) {
  dhcp::Repr m = base_message(MessageType::Discover, s.xid, s.started_at, now);
  // RFC 2131 §4.1: a client that cannot receive unicast before it has an address "SHOULD set
  // the BROADCAST bit". Ours could (the Interface takes UDP to any address while unconfigured),
  // but a server that unicasts to an address nobody has yet ARPs for it first and stalls
  // (dnsmasq 2.90 held its OFFER ~3 s for an ARP reply that never came), so the flag is always
  // set until bound.
  m.broadcast = true;
  m.parameter_request_list = config_.parameter_request_list;
  m.host_name = config_.hostname;
  m.lease_time = config_.requested_lease_time;
  m.rapid_commit = config_.rapid_commit;  // RFC 4039 §4: "the client MUST include a Rapid Commit option"
  transmit(now, std::move(m), kAllServers, Ipv4Address::any(), s.rt.attempt);
}

void DhcpClient::send_select_request(Instant now, const Requesting& s) {
  // RFC 2131 §4.3.2 "DHCPREQUEST generated during SELECTING state": ciaddr 0, option 54 the
  // selected server, option 50 its yiaddr; broadcast, same xid as the OFFER.
  dhcp::Repr m = base_message(MessageType::Request, s.xid, s.started_at, now);
  m.broadcast = true;
  m.requested_ip = s.offer.yiaddr;
  m.server_id = s.offer.server_id;
  m.parameter_request_list = config_.parameter_request_list;
  m.host_name = config_.hostname;
  m.lease_time = config_.requested_lease_time;
  transmit(now, std::move(m), kAllServers, Ipv4Address::any(), s.rt.attempt);
}

void DhcpClient::send_reboot_request(Instant now, const Rebooting& s) {
  // RFC 2131 §4.3.2 "DHCPREQUEST generated during INIT-REBOOT state": "'server identifier' MUST
  // NOT be filled in, 'requested IP address' option MUST be filled in with client's notion of
  // its previously assigned address. 'ciaddr' MUST be zero."
  dhcp::Repr m = base_message(MessageType::Request, s.xid, s.started_at, now);
  m.broadcast = true;
  m.requested_ip = s.address.address;
  m.parameter_request_list = config_.parameter_request_list;
  m.host_name = config_.hostname;
  m.lease_time = config_.requested_lease_time;
  transmit(now, std::move(m), kAllServers, Ipv4Address::any(), s.rt.attempt);
}

void DhcpClient::send_renew_request(Instant now, const DhcpLease& lease, std::uint32_t xid, Instant started_at,
                                    bool rebinding, int attempt) {
  // RFC 2131 §4.3.2 "DHCPREQUEST generated during RENEWING state": "'server identifier' MUST
  // NOT be filled in, 'requested IP address' option MUST NOT be filled in, 'ciaddr' MUST be
  // filled in with client's IP address"; unicast to the server. REBINDING: the same, broadcast.
  dhcp::Repr m = base_message(MessageType::Request, xid, started_at, now);
  m.ciaddr = lease.address.address;
  m.parameter_request_list = config_.parameter_request_list;
  m.host_name = config_.hostname;
  m.lease_time = config_.requested_lease_time;
  const UdpEndpoint to = rebinding ? kAllServers : UdpEndpoint{lease.server_id, dhcp::kServerPort};
  transmit(now, std::move(m), to, std::nullopt, attempt);
}

void DhcpClient::send_decline(Instant now, const DhcpLease& lease) {
  // RFC 2131 §4.4.1 Table 5, DHCPDECLINE: ciaddr 0, option 50 the address, option 54 MUST.
  dhcp::Repr m = base_message(MessageType::Decline, new_xid(), now, now);
  m.requested_ip = lease.address.address;
  m.server_id = lease.server_id;
  m.message = "address in use (RFC 5227 conflict)";
  transmit(now, std::move(m), kAllServers, Ipv4Address::any(), 1);
}

bool DhcpClient::release(Instant now) {
  std::optional<Ipv4Cidr> address;
  std::optional<Ipv4Address> server;
  if (const DhcpLease* l = lease()) {
    address = l->address;
    server = l->server_id;
  } else if (auto* r = std::get_if<InitReboot>(&state_)) {
    address = r->stored.address;
    server = r->stored.server_id;
  }
  if (!address || !server) return false;
  // RFC 2131 §4.4.6 and Table 5, DHCPRELEASE: ciaddr our address, option 54 MUST, unicast to
  // the server; "The client SHOULD NOT retransmit" it (no reply comes).
  dhcp::Repr m = base_message(MessageType::Release, new_xid(), now, now);
  m.ciaddr = address->address;
  m.server_id = server;
  transmit(now, std::move(m), UdpEndpoint{*server, dhcp::kServerPort}, address->address, 1);
  actions_.push_back(DhcpDeconfigure{*address});
  acquire_started_at_.reset();
  enter(now, Released{});
  return true;
}

// --- input -----------------------------------------------------------------------------------

std::optional<dhcp::Repr> DhcpClient::accept_reply(Instant now, std::span<const std::byte> payload, Ipv4Address from,
                                                   std::uint32_t xid) {
  auto parsed = dhcp::Repr::parse(payload);
  if (!parsed) {
    ignore(now, DhcpIgnore::Malformed, from, dhcp::to_string(parsed.error()), parsed.error());
    return std::nullopt;
  }
  dhcp::Repr& m = *parsed;
  if (m.op != dhcp::Op::BootReply || !dhcp::is_reply(m.message_type)) {
    ignore(now, DhcpIgnore::NotReply, from, dhcp::to_string(m.message_type));
    return std::nullopt;
  }
  // RFC 2131 §4.1: "the client … uses the 'xid' field to match replies with requests".
  if (m.xid != xid) {
    ignore(now, DhcpIgnore::WrongXid, from, m.describe());
    return std::nullopt;
  }
  if (m.chaddr != config_.chaddr) {
    ignore(now, DhcpIgnore::WrongChaddr, from, m.chaddr.describe());
    return std::nullopt;
  }
  // RFC 2131 Table 3: option 54 is MUST in DHCPOFFER, DHCPACK and DHCPNAK.
  if (!m.server_id) {
    ignore(now, DhcpIgnore::NoServerId, from, to_string(m.message_type));
    return std::nullopt;
  }
  return std::move(m);
}

std::optional<DhcpLease> DhcpClient::lease_from_ack(Instant now, const dhcp::Repr& ack, Instant started_at,
                                                    Ipv4Address from) {
  if (!assignable(ack.yiaddr)) {
    ignore(now, DhcpIgnore::BadYiaddr, from, ack.yiaddr.describe());
    return std::nullopt;
  }
  // docs/hostile-inputs.md #67 (smoltcp parse_ack): an ACK without a usable subnet mask is ignored.
  std::optional<std::uint8_t> prefix;
  if (ack.subnet_mask) prefix = Ipv4Cidr::prefix_from_mask(*ack.subnet_mask);
  if (!prefix || *prefix == 0 || *prefix > 30) {
    ignore(now, DhcpIgnore::BadSubnetMask, from, ack.subnet_mask ? ack.subnet_mask->describe() : "none");
    return std::nullopt;
  }
  // RFC 2131 Table 3: option 51 is MUST in a DHCPACK to a DHCPREQUEST.
  if (!ack.lease_time || *ack.lease_time == 0) {
    ignore(now, DhcpIgnore::NoLeaseTime, from, ack.lease_time ? "0 s" : "absent");
    return std::nullopt;
  }
  DhcpLease l;
  l.address = Ipv4Cidr{ack.yiaddr, *prefix};
  for (Ipv4Address r : ack.routers) {
    // A router must be reachable on-link and be a host address (docs/hostile-inputs.md #70 spirit).
    if (assignable(r) && l.address.contains(r) && r != ack.yiaddr) {
      l.router = r;
      break;
    }
  }
  for (Ipv4Address d : ack.dns_servers) {
    if (assignable(d)) l.dns_servers.push_back(d);
  }
  l.domain_name = ack.domain_name;
  l.mtu = ack.mtu;
  l.server_id = *ack.server_id;
  l.lease_time = *ack.lease_time;
  l.started_at = started_at;
  l.rapid_commit = ack.rapid_commit;
  if (l.infinite()) {
    l.t1 = l.t2 = 0xffffffffu;  // no timers: the lease never ends
    return l;
  }
  // RFC 2131 §4.4.5: "T1 defaults to (0.5 * duration_of_lease). T2 defaults to (0.875 *
  // duration_of_lease)." Values from the server are used only when T1 < T2 < lease holds
  // (docs/hostile-inputs.md #71; smoltcp e77d02ba fixed a panic on the opposite).
  const std::uint64_t lease_s = l.lease_time;
  const auto default_t1 = static_cast<std::uint32_t>(lease_s / 2);
  const auto default_t2 = static_cast<std::uint32_t>(lease_s * 7 / 8);
  std::uint32_t t2 = (ack.rebinding_time && *ack.rebinding_time > 0 && *ack.rebinding_time < lease_s) ? *ack.rebinding_time : default_t2;
  std::uint32_t t1 = (ack.renewal_time && *ack.renewal_time > 0 && *ack.renewal_time < t2) ? *ack.renewal_time : default_t1;
  if (t1 >= t2) {
    t1 = default_t1;
    t2 = default_t2;
  }
  l.t1 = t1;
  l.t2 = t2;
  l.t1_renew_at = started_at + Duration::from_secs(t1);
  l.t2_rebind_at = started_at + Duration::from_secs(t2);
  l.lease_expires_at = started_at + Duration::from_secs(static_cast<std::int64_t>(lease_s));
  return l;
}

void DhcpClient::process(Instant now, std::span<const std::byte> payload, Ipv4Address from) {
  // Each state names the xid it waits for; replies outside an exchange are only counted.
  auto unexpected = [&](const dhcp::Repr& m) { ignore(now, DhcpIgnore::Unexpected, from, m.describe()); };
  auto accepted = [&](const dhcp::Repr& m) {
    ++accepted_;
    emit(now, dhcp_event::Received{m, from});
  };

  if (auto* s = std::get_if<Selecting>(&state_)) {
    auto m = accept_reply(now, payload, from, s->xid);
    if (!m) return;
    if (m->message_type == MessageType::Offer) {
      if (!assignable(m->yiaddr)) return ignore(now, DhcpIgnore::BadYiaddr, from, m->yiaddr.describe());
      // NOT IMPLEMENTED(RFC 2131 §4.4.1 "collect several offers"): the first valid OFFER wins.
      accepted(*m);
      Requesting r{s->xid, s->started_at, Retransmit{now, 1}, std::move(*m), now};
      send_select_request(now, r);
      r.rt.at = next_retransmit(now, 1);
      return enter(now, std::move(r));
    }
    if (m->message_type == MessageType::Ack) {
      // RFC 4039 §4: "If the client receives a DHCPACK message with a Rapid Commit option it
      // SHOULD process the DHCPACK immediately"; a plain ACK to a DISCOVER is not ours to take.
      if (!m->rapid_commit) return ignore(now, DhcpIgnore::NoRapidCommit, from, m->describe());
      auto lease = lease_from_ack(now, *m, s->started_at, from);
      if (!lease) return;
      accepted(*m);
      return start_bind(now, std::move(*lease));
    }
    return unexpected(*m);  // a NAK answers a REQUEST, never a DISCOVER
  }

  if (auto* s = std::get_if<Requesting>(&state_)) {
    auto m = accept_reply(now, payload, from, s->xid);
    if (!m) return;
    if (m->message_type == MessageType::Offer) return unexpected(*m);  // a slower server's offer
    // RFC 2131 §4.4.1: only the selected server's answer counts (docs/hostile-inputs.md #72).
    if (m->server_id != s->offer.server_id) return ignore(now, DhcpIgnore::WrongServer, from, m->server_id->describe());
    if (m->message_type == MessageType::Nak) {
      accepted(*m);
      // RFC 2131 §3.1 step 5: "If the client receives a DHCPNAK message, the client restarts
      // the configuration process."
      return start_discovery(now);
    }
    auto lease = lease_from_ack(now, *m, s->requested_at, from);
    if (!lease) return;
    accepted(*m);
    return start_bind(now, std::move(*lease));
  }

  if (auto* s = std::get_if<Rebooting>(&state_)) {
    auto m = accept_reply(now, payload, from, s->xid);
    if (!m) return;
    if (m->message_type == MessageType::Offer) return unexpected(*m);
    if (m->message_type == MessageType::Nak) {
      // RFC 2131 §3.2 step 3: "If the client receives a DHCPNAK message, it cannot reuse its
      // remembered network address. It must instead request a new address by restarting the
      // configuration process".
      accepted(*m);
      return start_discovery(now);
    }
    auto lease = lease_from_ack(now, *m, s->started_at, from);
    if (!lease) return;
    accepted(*m);
    return start_bind(now, std::move(*lease));
  }

  auto extend = [&](DhcpLease& current, std::uint32_t xid, Instant started_at, bool must_be_server) {
    auto m = accept_reply(now, payload, from, xid);
    if (!m) return;
    if (m->message_type == MessageType::Offer) return unexpected(*m);
    if (must_be_server && *m->server_id != current.server_id) {
      return ignore(now, DhcpIgnore::WrongServer, from, m->server_id->describe());
    }
    if (m->message_type == MessageType::Nak) {
      accepted(*m);
      DhcpLease lost = current;
      lose_lease(now, lost, "DHCPNAK");
      return start_discovery(now);
    }
    auto lease = lease_from_ack(now, *m, started_at, from);
    if (!lease) return;
    accepted(*m);
    if (lease->address != current.address) {
      // A different address: stop using the old one, and check the new one like any other.
      DhcpLease old = current;
      lose_lease(now, old, "server moved us to " + lease->address.describe());
      return start_bind(now, std::move(*lease));
    }
    bind(now, std::move(*lease), true);
  };
  if (auto* s = std::get_if<Renewing>(&state_)) return extend(s->lease, s->xid, s->started_at, true);
  if (auto* s = std::get_if<Rebinding>(&state_)) return extend(s->lease, s->xid, s->started_at, false);

  // INIT, PROBING, BOUND, RELEASED, FAILED: no exchange in progress. Still parse, so malformed
  // input is counted under its reason.
  auto parsed = dhcp::Repr::parse(payload);
  if (!parsed) return ignore(now, DhcpIgnore::Malformed, from, dhcp::to_string(parsed.error()), parsed.error());
  unexpected(*parsed);
}

void DhcpClient::process_arp(Instant now, const wire::arp::Repr& arp) {
  auto* p = std::get_if<Probing>(&state_);
  if (!p) return;
  const Ipv4Address ip = p->lease.address.address;
  // RFC 5227 §2.1.1: a conflict is "any ARP packet (Request or Reply) … where the packet's
  // 'sender IP address' is the address being probed for", or "any ARP Probe where the packet's
  // 'target IP address' is the address being probed for, and the packet's 'sender hardware
  // address' is not the hardware address of any of the host's interfaces".
  const bool sender_conflict = arp.sender_ip == ip;
  const bool probe_conflict = arp.operation == wire::arp::Operation::Request && arp.sender_ip.is_unspecified() &&
                              arp.target_ip == ip && arp.sender_mac != config_.chaddr;
  if (!sender_conflict && !probe_conflict) return;
  const DhcpLease lease = p->lease;
  emit(now, dhcp_event::Conflict{ip, arp.sender_mac});
  // RFC 2131 §3.1 step 5: "If the client detects that the address is already in use … the
  // client MUST send a DHCPDECLINE message to the server and restarts the configuration process."
  send_decline(now, lease);
  enter(now, Init{now + config_.decline_wait});
}

// =============================================================================================
// DhcpAgent
// =============================================================================================

Result<std::unique_ptr<DhcpAgent>, DhcpAgentError> DhcpAgent::create(iface::Interface& iface, DhcpConfig config,
                                                                     Instant now, std::optional<DhcpStoredLease> stored) {
  auto bound = iface.udp().bind(dhcp::kClientPort);
  if (!bound) return Err{DhcpAgentError::PortInUse};
  return std::unique_ptr<DhcpAgent>(new DhcpAgent(iface, std::move(config), now, stored, *bound));
}

DhcpAgent::DhcpAgent(iface::Interface& iface, DhcpConfig config, Instant now, std::optional<DhcpStoredLease> stored,
                     UdpLayer::SocketId sock)
    : iface_(iface), client_(std::move(config), now, stored), sock_(sock), previous_observer_(iface.arp_observer) {
  // The Interface has one observer: keep the previous one working behind us.
  iface_.arp_observer = [this](Instant t, const wire::arp::Repr& a) {
    client_.process_arp(t, a);
    if (previous_observer_) previous_observer_(t, a);
  };
}

DhcpAgent::~DhcpAgent() {
  iface_.arp_observer = previous_observer_;
  iface_.udp().close(sock_);
}

void DhcpAgent::poll(Instant now) {
  while (auto d = iface_.udp().recv_from(sock_)) client_.process(now, d->payload, d->from.addr);
  while (iface_.udp().take_error(sock_)) {
  }
  client_.poll(now);
  carry_out(now);
  if (deconfigure_at_) {
    // The RELEASE has left once the UDP queue is empty and the next hop is resolved (a frame
    // waiting for ARP is sent the moment the reply arrives).
    const bool gone = !iface_.udp().has_pending_output() && release_next_hop_ &&
                      iface_.arp_cache().peek(*release_next_hop_, now).has_value();
    if (gone || now >= *deconfigure_at_) {
      iface_.clear_address(now);
      deconfigure_at_.reset();
      released_ = true;
    }
  }
}

std::optional<Instant> DhcpAgent::poll_at() const {
  std::optional<Instant> at = client_.poll_at();
  if (deconfigure_at_ && (!at || *deconfigure_at_ < *at)) at = deconfigure_at_;
  return at;
}

bool DhcpAgent::release(Instant now, Duration linger) {
  releasing_ = true;
  linger_ = linger;
  if (!client_.release(now)) {
    releasing_ = false;
    return false;
  }
  carry_out(now);
  return true;
}

void DhcpAgent::carry_out(Instant now) {
  for (DhcpAction& action : client_.take_actions()) {
    std::visit(Overloaded{
                   [&](const DhcpTransmit& t) {
                     const Bytes payload = t.message.to_bytes();
                     if (t.message.message_type == MessageType::Release) release_next_hop_ = iface_.next_hop(t.to.addr);
                     // A full send queue loses this transmission; the client's retransmission
                     // timer covers it like a lost frame.
                     (void)iface_.udp().send_to(sock_, t.to, payload, t.source);
                   },
                   [&](const DhcpArpProbe& p) { iface_.send_arp_probe(now, p.target); },
                   [&](const DhcpArpAnnounce& a) { iface_.send_arp_announcement(now, a.ip); },
                   [&](const DhcpConfigure& c) {
                     // A renewal that changes nothing needs no reconfiguration (nor announcement).
                     if (c.renewed && iface_.address() == c.lease.address && iface_.gateway() == c.lease.router) return;
                     iface_.set_address(now, c.lease.address, c.lease.router, /*announce=*/true);
                   },
                   [&](const DhcpDeconfigure&) {
                     if (releasing_) {
                       deconfigure_at_ = now + linger_;
                     } else {
                       iface_.clear_address(now);
                     }
                   },
               },
               action);
  }
}

}  // namespace stack::socket
