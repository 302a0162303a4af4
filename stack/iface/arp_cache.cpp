#include "stack/iface/arp_cache.hpp"

namespace stack::iface {

std::optional<ArpCache::Hit> ArpCache::lookup(wire::Ipv4Address ip, Instant now) {
  auto it = entries_.find(ip);
  if (it == entries_.end() || !it->second.mac || now >= it->second.expires_at) return std::nullopt;
  Entry& e = it->second;
  bool refresh = false;
  if (!e.refresh_sent && now >= e.expires_at - config_.refresh_before) {
    e.refresh_sent = true;  // one unicast re-ask; a reply calls learn() and extends the entry
    refresh = true;
  }
  return Hit{*e.mac, refresh};
}

std::optional<wire::MacAddress> ArpCache::peek(wire::Ipv4Address ip, Instant now) const {
  auto it = entries_.find(ip);
  if (it == entries_.end() || !it->second.mac || now >= it->second.expires_at) return std::nullopt;
  return it->second.mac;
}

ArpCache::Learned ArpCache::learn(wire::Ipv4Address ip, const wire::MacAddress& mac, Instant now) {
  auto it = entries_.find(ip);
  if (it == entries_.end()) {
    if (entries_.size() >= config_.max_entries) evict_one(now);
    it = entries_.emplace(ip, Entry{}).first;
  }
  Entry& e = it->second;
  Learned out;
  if (!e.mac && e.tries > 0) out.resolution_time = now - e.started_at;
  out.released.assign(std::make_move_iterator(e.waiting.begin()), std::make_move_iterator(e.waiting.end()));
  e.waiting.clear();
  e.waiting_bytes = 0;
  e.mac = mac;
  e.expires_at = now + config_.entry_lifetime;
  e.refresh_sent = false;
  e.tries = 0;
  return out;
}

std::optional<ArpCache::Learned> ArpCache::update_if_present(wire::Ipv4Address ip, const wire::MacAddress& mac,
                                                            Instant now) {
  if (!entries_.count(ip)) return std::nullopt;
  return learn(ip, mac, now);
}

ArpCache::QueueResult ArpCache::enqueue(wire::Ipv4Address ip, Bytes packet, Instant now, std::size_t* evicted) {
  if (evicted) *evicted = 0;
  if (packet.size() > config_.max_queued_bytes_per_neighbour) return QueueResult::QueueFull;
  auto it = entries_.find(ip);
  if (it != entries_.end() && it->second.mac && now >= it->second.expires_at) {
    entries_.erase(it);  // expired: resolve afresh
    it = entries_.end();
  }
  if (it == entries_.end()) {
    if (entries_.size() >= config_.max_entries) {
      evict_one(now);
      if (entries_.size() >= config_.max_entries) return QueueResult::TableFull;
    }
    Entry e;
    e.started_at = now;
    e.next_try_at = now + config_.retry_interval;
    e.tries = 1;
    e.waiting_bytes = packet.size();
    e.waiting.push_back(std::move(packet));
    entries_.emplace(ip, std::move(e));
    return QueueResult::StartedResolution;
  }
  Entry& e = it->second;
  // Linux (__neigh_event_send): drop from the head until the new packet fits.
  while (!e.waiting.empty() && e.waiting_bytes + packet.size() > config_.max_queued_bytes_per_neighbour) {
    e.waiting_bytes -= e.waiting.front().size();
    e.waiting.pop_front();
    if (evicted) ++*evicted;
  }
  e.waiting_bytes += packet.size();
  e.waiting.push_back(std::move(packet));
  return QueueResult::Queued;
}

ArpCache::Due ArpCache::poll(Instant now) {
  Due due;
  for (auto it = entries_.begin(); it != entries_.end();) {
    Entry& e = it->second;
    if (e.mac) {
      // Resolved entries simply age out; nothing is sent for them unless they are used.
      if (now >= e.expires_at) {
        it = entries_.erase(it);
        continue;
      }
    } else if (now >= e.next_try_at) {
      if (e.tries >= config_.max_tries) {
        due.failed.emplace_back(it->first, e.waiting.size());
        it = entries_.erase(it);
        continue;
      }
      ++e.tries;
      e.next_try_at = now + config_.retry_interval;
      due.retry.emplace_back(it->first, e.tries);
    }
    ++it;
  }
  return due;
}

std::optional<Instant> ArpCache::poll_at() const {
  std::optional<Instant> at;
  for (const auto& [ip, e] : entries_) {
    const Instant t = e.mac ? e.expires_at : e.next_try_at;
    if (!at || t < *at) at = t;
  }
  return at;
}

void ArpCache::evict_one(Instant now) {
  // Evict the resolved entry closest to expiry; never an entry with packets waiting.
  auto victim = entries_.end();
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (!it->second.mac) continue;
    if (victim == entries_.end() || it->second.expires_at < victim->second.expires_at) victim = it;
  }
  (void)now;
  if (victim != entries_.end()) entries_.erase(victim);
}

}  // namespace stack::iface
