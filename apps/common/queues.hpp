// Several stacks in one process, one per queue of a multi-queue TAP and one per thread
// (`ustack serve --queues N`, drivers/tap_device.hpp "Multi-queue"): the little they need from
// each other, all of it messages or read-only, never a stack's own state.
//
//   NeighbourBoard   ARP learnt by one stack, handed to the others. The kernel sends an ARP frame
//                    to one queue only (its flow hash picks it), so only that queue's stack would
//                    learn the neighbour: it posts (IP, MAC) here, and each other stack, in its own
//                    thread, takes the post and receives it as the ARP reply it would have had
//                    (arp_seed_frame), through its own RFC 826 reception path.
//   CounterSum       the --stats counters of every queue, added up by name.
//   per_queue_path   --pcap FILE with several queues: one file per queue.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "stack/wire/ip_address.hpp"
#include "stack/wire/ethernet.hpp"

namespace appkit {

// --queues N: 1 to kMaxQueues (the tun driver's limit), nothing else.
bool parse_queue_count(const std::string& text, std::size_t& out);

// "cap.pcap" for queue 1 -> "cap.q1.pcap"; without an extension, "cap" -> "cap.q1".
std::string per_queue_path(const std::string& path, std::size_t queue);

struct Neighbour {
  stack::wire::Ipv4Address ip;
  stack::wire::MacAddress mac;
  bool operator==(const Neighbour&) const = default;
};

class NeighbourBoard {
 public:
  // `wake_fds[k]`: an eventfd written when queue k has a post (-1: none).
  explicit NeighbourBoard(std::vector<int> wake_fds);
  // Queue `from` learnt `n`: every other queue gets it.
  void post(std::size_t from, const Neighbour& n);
  // What was posted for `queue` since its last take, oldest first.
  std::vector<Neighbour> take(std::size_t queue);
  std::size_t queues() const { return inboxes_.size(); }

 private:
  struct Inbox {
    std::mutex mu;
    std::vector<Neighbour> posts;
  };
  std::vector<int> wake_fds_;
  std::vector<Inbox> inboxes_;
};

// The Ethernet frame of the ARP reply `n` would have sent to us (RFC 826): `n` as sender, `us` as
// target, addressed to our MAC.
std::vector<std::byte> arp_seed_frame(const Neighbour& n, const Neighbour& us);

// Counters by name, in the order first seen: a name holding a high-water mark or a wait ("max" in
// its name, link_wait_ms) keeps the largest value of any queue, every other is added up.
class CounterSum {
 public:
  void add(const std::vector<std::pair<std::string, std::uint64_t>>& counters);
  const std::vector<std::pair<std::string, std::uint64_t>>& counters() const { return sum_; }
  static bool is_maximum(const std::string& name);

 private:
  std::vector<std::pair<std::string, std::uint64_t>> sum_;
};

}  // namespace appkit
