#include "stack/iface/reassembly.hpp"

namespace stack::iface {

namespace {
constexpr std::size_t kMaxDatagramPayload = 65535 - wire::ipv4::kMinHeaderLen;
}

void Reassembler::release(std::map<Key, Datagram>::iterator it) {
  bytes_held_ -= it->second.data.size();
  datagrams_.erase(it);
}

Reassembler::Outcome Reassembler::add(const wire::ipv4::Repr& header, std::span<const std::byte> payload,
                                      Instant now) {
  Outcome out;
  const Key key{header.src.value, header.dst.value, static_cast<std::uint8_t>(header.protocol), header.ident};
  const std::size_t begin = header.frag_offset;
  const std::size_t end = begin + payload.size();

  // Non-last fragments must carry a multiple of 8 bytes (RFC 791: offsets count 8-octet units).
  // Checked before a slot is taken: a malformed first fragment must not hold one of the
  // max_datagrams slots until the timeout.
  if (header.more_frags && (payload.size() % 8 != 0 || payload.empty())) {
    out.dropped = DropReason::Ipv4Malformed;
    return out;
  }
  auto it = datagrams_.find(key);
  if (it == datagrams_.end()) {
    if (datagrams_.size() >= config_.max_datagrams) {
      out.dropped = DropReason::FragmentMemoryFull;
      return out;
    }
    it = datagrams_.emplace(key, Datagram{}).first;
    // RFC 791: the timer starts with the first fragment to arrive, whichever it is.
    it->second.expires_at = now + config_.timeout;
  }
  Datagram& d = it->second;
  if (d.poisoned) {
    out.dropped = DropReason::FragmentOverlap;
    return out;
  }
  if (end > kMaxDatagramPayload) {
    d.poisoned = true;  // ping of death: nothing of this datagram will ever be delivered
    bytes_held_ -= d.data.size();
    d.data.clear();
    d.data.shrink_to_fit();
    d.ranges.clear();
    out.dropped = DropReason::FragmentTooBig;
    return out;
  }
  // Overlap check against the ranges we hold.
  auto next = d.ranges.lower_bound(begin);
  if (next != d.ranges.end() && next->first == begin && next->second == end) {
    return out;  // exact duplicate: ignore quietly
  }
  const bool overlaps_next = next != d.ranges.end() && next->first < end;
  const bool overlaps_prev = next != d.ranges.begin() && std::prev(next)->second > begin;
  const bool beyond_known_end = d.total_len && end > *d.total_len;
  const bool conflicting_end = !header.more_frags && ((d.total_len && *d.total_len != end) ||
                                                      (!d.ranges.empty() && d.ranges.rbegin()->second > end));
  if (overlaps_next || overlaps_prev || beyond_known_end || conflicting_end) {
    d.poisoned = true;
    bytes_held_ -= d.data.size();
    d.data.clear();
    d.data.shrink_to_fit();
    d.ranges.clear();
    out.dropped = DropReason::FragmentOverlap;
    return out;
  }
  if (end > d.data.size()) {
    const std::size_t grow = end - d.data.size();
    if (bytes_held_ + grow > config_.max_bytes) {
      out.dropped = DropReason::FragmentMemoryFull;
      if (d.ranges.empty()) release(it);
      return out;
    }
    d.data.resize(end);
    bytes_held_ += grow;
  }
  std::copy(payload.begin(), payload.end(), d.data.begin() + static_cast<std::ptrdiff_t>(begin));
  d.ranges.emplace(begin, end);
  ++d.fragments;
  if (!header.more_frags) d.total_len = end;
  if (begin == 0) d.first_header = header;

  // Complete when the ranges cover [0, total_len) without a hole.
  if (!d.total_len || !d.first_header) return out;
  std::size_t covered = 0;
  for (const auto& [b, e] : d.ranges) {
    if (b != covered) return out;
    covered = e;
  }
  if (covered != *d.total_len) return out;

  wire::ipv4::Repr whole = *d.first_header;
  whole.more_frags = false;
  whole.frag_offset = 0;
  whole.payload_len = *d.total_len;
  Bytes data = std::move(d.data);
  out.fragments = d.fragments;
  bytes_held_ -= data.size();
  d.data.clear();
  datagrams_.erase(it);
  out.complete.emplace(whole, std::move(data));
  return out;
}

std::size_t Reassembler::poll(Instant now) {
  std::size_t expired = 0;
  for (auto it = datagrams_.begin(); it != datagrams_.end();) {
    if (now >= it->second.expires_at) {
      // A poisoned datagram expiring is not a timeout worth reporting: it was already dropped.
      if (!it->second.poisoned) ++expired;
      auto victim = it++;
      release(victim);
    } else {
      ++it;
    }
  }
  return expired;
}

std::optional<Instant> Reassembler::poll_at() const {
  std::optional<Instant> at;
  for (const auto& [key, d] : datagrams_) {
    if (!at || d.expires_at < *at) at = d.expires_at;
  }
  return at;
}

}  // namespace stack::iface
