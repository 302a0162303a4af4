// The neighbour table: IPv4 address -> Ethernet address (RFC 826), with expiry, refresh, and a
// bounded queue of packets waiting while a neighbour resolves.
//
// Read first: RFC 826 ("Packet reception" — the merge rule); RFC 1122 §2.3.2.1 (prevent ARP
// flooding: at most one request per second per destination) and §2.3.2.2 (SHOULD save at least
// one packet per unresolved destination — we keep a bounded queue, so the first ping is answered).
// The queue is bounded in bytes, like Linux's neighbour queue (net.ipv4.neigh.*.unres_qlen_bytes,
// ip-sysctl.rst): a large datagram leaves as many fragments as it has, and a bound in packets
// dropped the tail of the first `ping -s 30000` (21 fragments) while the router's MAC resolved.
// When a packet does not fit, the oldest ones make room, as Linux does: the newest datagram is kept whole.
//
// Pure logic: every timer is an absolute deadline; the interface asks what to do at `now`.
#pragma once

#include <cstddef>
#include <deque>
#include <map>
#include <optional>
#include <vector>

#include "stack/time.hpp"
#include "stack/util/bytes.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/ip_address.hpp"

namespace stack::iface {

struct ArpConfig {
  Duration entry_lifetime = Duration::from_secs(60);  // a resolved entry is trusted this long
  Duration refresh_before = Duration::from_secs(5);   // used within this much of expiry: re-ask (unicast)
  Duration retry_interval = Duration::from_secs(1);   // RFC 1122 §2.3.2.1: ≤ 1 request/s/destination
  int max_tries = 3;
  // Linux's default unres_qlen_bytes (SK_WMEM_MAX, 212992): a 65507-byte ping (45 fragments,
  // ~67 KB of frames) fits three times over.
  std::size_t max_queued_bytes_per_neighbour = 212992;
  std::size_t max_entries = 256;
};

class ArpCache {
 public:
  explicit ArpCache(ArpConfig config = {}) : config_(config) {}

  struct Hit {
    wire::MacAddress mac;
    bool needs_refresh;  // caller sends a unicast request now (once per entry lifetime)
  };
  // A usable, unexpired mapping. Marks the entry as refreshing when it is close to expiry.
  std::optional<Hit> lookup(wire::Ipv4Address ip, Instant now);
  // Non-mutating look (for narration and tests).
  std::optional<wire::MacAddress> peek(wire::Ipv4Address ip, Instant now) const;
  bool contains(wire::Ipv4Address ip) const { return entries_.count(ip) != 0; }

  // Learns or refreshes a mapping. Returns the packets that were waiting for it (to send now)
  // and how long the resolution took, if one was pending.
  struct Learned {
    std::vector<Bytes> released;
    std::optional<Duration> resolution_time;
  };
  Learned learn(wire::Ipv4Address ip, const wire::MacAddress& mac, Instant now);
  // RFC 826 merge: update the mapping only if we already hold an entry (resolved or pending).
  std::optional<Learned> update_if_present(wire::Ipv4Address ip, const wire::MacAddress& mac, Instant now);

  // Queues an IPv4 packet for an unresolved neighbour. Returns whether a request must be sent
  // now (the first packet starts resolution); QueueFull when the packet alone exceeds the byte
  // bound (dropped). Older packets dropped to make room are counted in `*evicted`.
  enum class QueueResult { StartedResolution, Queued, QueueFull, TableFull };
  QueueResult enqueue(wire::Ipv4Address ip, Bytes packet, Instant now, std::size_t* evicted = nullptr);

  // Timer work at `now`: neighbours to ask again, and neighbours that gave up (their packets dropped).
  struct Due {
    std::vector<std::pair<wire::Ipv4Address, int>> retry;  // (ip, attempt number)
    std::vector<std::pair<wire::Ipv4Address, std::size_t>> failed;  // (ip, packets dropped)
  };
  Due poll(Instant now);
  std::optional<Instant> poll_at() const;

  void flush() { entries_.clear(); }
  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::optional<wire::MacAddress> mac;  // nullopt while resolving
    Instant expires_at;                   // resolved: end of trust; resolving: unused
    bool refresh_sent = false;
    // Resolution state.
    Instant started_at;
    Instant next_try_at;
    int tries = 0;
    std::deque<Bytes> waiting;
    std::size_t waiting_bytes = 0;
  };
  void evict_one(Instant now);

  ArpConfig config_;
  std::map<wire::Ipv4Address, Entry> entries_;
};

}  // namespace stack::iface
