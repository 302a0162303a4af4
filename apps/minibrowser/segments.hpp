// The TCP segments worth showing at level 6 (docs/levels.md): the three-way handshake (SYN;
// SYN+ACK; ACK) and the close (FIN; ACK; FIN; ACK — or three segments when a FIN rides on an ACK),
// plus any RST, and every segment the server sends again (a retransmission: data we already had,
// a SYN+ACK or FIN seen before; ours are said by the stack's own event, with the reason). Each line names its frame number in the --pcap capture (the tracer sees frames in
// the order the pcap does) and says in plain words what the segment carries, short enough for a
// 100-column terminal ("SYN: our ISN 268684781, MSS 1460, SACK ok, window scale 2"); with -v the
// tcpdump-format line follows it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "stack/socket/tcp_socket.hpp"
#include "stack/time.hpp"
#include "stack/wire/tcp.hpp"

namespace minibrowser {

class SegmentNarrator {
 public:
  // The narrator's lines start with "[L6 1234567.8 ms] TCP" (21 columns), then " #n" when the
  // connection is one of the pool's; glosses fit in 100.
  static constexpr std::size_t kColumns = 100;
  static constexpr std::size_t kPrefix = 21;
  // The pool's number for a connection (its local port, the remote end), or 0: lines start " #n ".
  std::function<int(std::uint16_t local_port, stack::wire::Ipv4Address remote, std::uint16_t remote_port)> number_of;

  // `frames_before`: frames the pcap already holds (so the numbers match Wireshark's).
  explicit SegmentNarrator(std::uint64_t frames_before = 0, bool verbose = false)
      : frame_number_(frames_before), verbose_(verbose) {}

  // The lines for one frame (the gloss, then with -v the tcpdump line), or none; each starts with
  // " #n " (the connection's number) or " ".
  std::vector<std::string> on_frame(bool outgoing, stack::Instant at, std::span<const std::byte> frame);

  // The stack reports a retransmission (tcp_event::Retransmitted) just after its frame left: the
  // line names that frame, the frame it repeats and the time that really passed in between.
  std::optional<std::string> retransmitted(const stack::socket::TcpEndpoint& local, const stack::socket::TcpEndpoint& remote,
                                           stack::wire::tcp::SeqNum seq) const;

  // The pcap frame that carried byte `offset` of the connection's byte stream in one direction
  // (its first transmission), or 0 when unknown.
  std::uint64_t frame_of(const stack::socket::TcpEndpoint& local, const stack::socket::TcpEndpoint& remote, bool outgoing,
                         std::uint64_t offset) const;

 private:
  using Key = std::tuple<std::uint16_t, std::uint32_t, std::uint16_t>;
  struct DataSegment {
    std::uint64_t begin, end;  // offsets in the direction's byte stream
    std::uint64_t frame;
    stack::Instant at;
  };
  // What one direction has sent, as the capture shows it, to tell a retransmission: the bytes in
  // order so far, the ranges beyond a gap, and its SYN and FIN. The rule is the capture analysis's
  // (apps/common/conversations.hpp: TcpConnection::Retransmission), so that the level-6 summary
  // counts exactly the retransmissions narrated.
  struct Stream {
    std::uint64_t next = 0;                        // offset after the bytes received in order
    std::map<std::uint64_t, std::uint64_t> ahead;  // out of order: begin -> end (the first 1024)
    std::uint64_t syn_frame = 0, fin_frame = 0;
    stack::Instant syn_at, fin_at;
  };
  struct Flow {
    bool synack_in = false;
    bool handshake_done = false;
    bool fin[2] = {false, false};  // [0] ours, [1] theirs
    bool fin_unacked[2] = {false, false};
    std::optional<stack::wire::tcp::SeqNum> fin_seq[2];  // each FIN's own sequence number
    std::optional<stack::wire::tcp::SeqNum> isn[2];
    struct Sent {
      std::uint64_t frame = 0, prev_frame = 0;  // the latest transmission and the one before
      stack::Instant at, prev_at;
      std::string kind;
    };
    std::map<std::uint32_t, Sent> sent;  // our segments by sequence number
    std::vector<DataSegment> data[2];
    Stream stream[2];
  };
  // Whether this segment repeats what its sender sent before (updating the stream), and if so
  // the frame of the first transmission and its time (frame 0: not known).
  struct Repeat {
    bool again = false;
    bool in_part = false;  // some of its data is new
    std::uint64_t frame = 0;
    stack::Instant at;
  };
  static Repeat track(Flow& flow, int dir, const stack::wire::tcp::Repr& seg, std::uint64_t frame, stack::Instant at);

  std::uint64_t frame_number_ = 0;
  bool verbose_ = false;
  std::map<Key, Flow> flows_;
};

}  // namespace minibrowser
