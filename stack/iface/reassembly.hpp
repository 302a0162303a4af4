// IPv4 fragment reassembly (RFC 791 §3.2 "Fragmentation and reassembly"; RFC 1122 §3.3.2).
//
// Hostile-input rules (see docs/hostile-inputs.md §C):
// - a datagram is identified by (source, destination, protocol, identification) — RFC 791;
// - overlapping fragments discard the whole datagram and every later fragment of it until the
//   timeout (the spirit of RFC 5722, written for IPv6: overlaps are how the teardrop and
//   policy-evasion attacks of RFC 1858/3128 work). An exact duplicate of a fragment we hold is
//   ignored: duplicating links produce those innocently;
// - a reassembled length beyond 65535 is discarded (the "ping of death");
// - a timeout (RFC 1122 §3.3.2: 60 s to 120 s recommended; we use 30 s like Linux's ipfrag_time)
//   and a hard memory bound across all datagrams.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <tuple>
#include <vector>

#include "stack/events.hpp"
#include "stack/time.hpp"
#include "stack/util/bytes.hpp"
#include "stack/wire/ipv4.hpp"

namespace stack::iface {

struct ReassemblyConfig {
  Duration timeout = Duration::from_secs(30);
  std::size_t max_bytes = 256 * 1024;  // payload bytes held across all datagrams
  std::size_t max_datagrams = 64;
};

class Reassembler {
 public:
  explicit Reassembler(ReassemblyConfig config = {}) : config_(config) {}

  struct Outcome {
    // Set when this fragment completed a datagram: the header of the first fragment with
    // payload_len set to the whole payload, and the payload itself.
    std::optional<std::pair<wire::ipv4::Repr, Bytes>> complete;
    std::size_t fragments = 0;
    std::optional<DropReason> dropped;  // this fragment (and possibly its datagram) was discarded
  };
  // `header` describes one fragment (more_frags or frag_offset != 0); `payload` is its data.
  Outcome add(const wire::ipv4::Repr& header, std::span<const std::byte> payload, Instant now);

  // Datagrams whose timer ran out are discarded; returns how many.
  std::size_t poll(Instant now);
  std::optional<Instant> poll_at() const;

  std::size_t datagrams_in_progress() const { return datagrams_.size(); }
  std::size_t bytes_held() const { return bytes_held_; }

 private:
  using Key = std::tuple<std::uint32_t, std::uint32_t, std::uint8_t, std::uint16_t>;
  struct Datagram {
    Instant expires_at;
    bool poisoned = false;                           // overlap seen: swallow the rest
    std::optional<wire::ipv4::Repr> first_header;    // from the fragment at offset 0
    std::optional<std::size_t> total_len;            // known once the last fragment (MF=0) arrived
    std::map<std::size_t, std::size_t> ranges;       // begin -> end, non-overlapping
    Bytes data;
    std::size_t fragments = 0;
  };
  void release(std::map<Key, Datagram>::iterator it);

  ReassemblyConfig config_;
  std::map<Key, Datagram> datagrams_;
  std::size_t bytes_held_ = 0;
};

}  // namespace stack::iface
