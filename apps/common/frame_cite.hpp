// Narration lines that cite the frames they tell of ("DHCP: [frame 3] ← OFFER from 10.77.0.1 …"),
// as the level-6 TCP lines do: a line about a DHCP message, an ARP packet or a DNS datagram names
// the number that frame has in the run's capture (Wireshark's "No." column), and only once the
// frame has been counted, so the number is the true one.
//
// The stack reports some of these events before their frame leaves (the DHCP client's Sent event
// comes before its datagram; a DNS query to a router whose MAC is not known yet waits for ARP) and
// others after it (the interface's ARP events, anything received). So a line is matched against
// the frames already counted, and when its frame is not among them it is held and said when the
// frame comes, at that frame's time. A line whose frame never comes (an address that never
// resolved) is said without a number when the same want is asked again, after kHoldLimit, or at
// flush() (which the program calls before it exits: held lines are never said by a destructor).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "stack/events.hpp"
#include "stack/socket/dhcp_client.hpp"
#include "stack/time.hpp"
#include "stack/wire/ip_address.hpp"

namespace appkit {

// What a frame is, as far as citing goes; also what a line asks for.
struct FrameFacts {
  // DnsTcp: a TCP segment to or from port 53 (RFC 7766, a truncated answer asked again).
  enum class Kind : std::uint8_t { Other, Dhcp, Arp, Dns, DnsTcp };
  // DnsTcp: which segment. Message: the one that completes a DNS message of the stream (its
  // 2-octet length says where the message ends, RFC 1035 §4.2.2), so `id` and `response` are that
  // message's; only FrameCiter, which follows the stream, can tell (of() says None for data).
  enum class Segment : std::uint8_t { None, Syn, SynAck, Message, Fin };
  Kind kind = Kind::Other;
  Segment segment = Segment::None;
  bool outgoing = false;
  std::uint32_t id = 0;                 // DHCP: xid; DNS: the message ID
  std::uint8_t dhcp_type = 0;           // DHCP: option 53
  std::uint16_t arp_op = 0;             // ARP: 1 request, 2 reply
  stack::wire::Ipv4Address sender;      // ARP: sender IP
  stack::wire::Ipv4Address target;      // ARP: target IP
  stack::wire::Ipv4Address peer;        // DNS: the server (the destination of a query, the source of a reply)
  std::uint16_t local_port = 0;         // DnsTcp: our end's port
  bool broadcast = false;               // ARP: sent to ff:ff:ff:ff:ff:ff
  bool response = false;                // DNS: QR

  // A frame as these facts, or Kind::Other (TCP, ICMP, malformed: nothing to cite here).
  static FrameFacts of(bool outgoing, std::span<const std::byte> frame);
};

// What a line tells of: the facts its frame must have (an unset field matches anything).
struct FrameWant {
  FrameFacts::Kind kind = FrameFacts::Kind::Other;
  bool outgoing = false;
  std::optional<std::uint32_t> id;
  std::optional<std::uint8_t> dhcp_type;
  std::optional<std::uint16_t> arp_op;
  std::optional<stack::wire::Ipv4Address> sender, target, peer;
  std::optional<bool> broadcast, response;
  std::optional<FrameFacts::Segment> segment;

  bool matches(const FrameFacts& f) const;
  bool operator==(const FrameWant&) const = default;

  // A DHCP message (`server`: the source of an incoming one).
  static FrameWant dhcp(bool outgoing, std::uint32_t xid, std::uint8_t type,
                        std::optional<stack::wire::Ipv4Address> server = std::nullopt);
  static FrameWant arp(bool outgoing, std::uint16_t op, std::optional<stack::wire::Ipv4Address> sender,
                       std::optional<stack::wire::Ipv4Address> target);
  // A DNS query we sent to `server` (outgoing) or its reply from `server`.
  static FrameWant dns(bool outgoing, std::uint16_t id, stack::wire::Ipv4Address server);
  // A segment of a DNS connection over TCP with `server`: our SYN, its SYN+ACK, our FIN, or the
  // segment that completes the message `id` (a query we sent, or the reply).
  static FrameWant dns_tcp(bool outgoing, FrameFacts::Segment segment, stack::wire::Ipv4Address server,
                           std::optional<std::uint16_t> id = std::nullopt);
};

// The frames a DHCP event tells of (none for the events that are no message), and a stack event's
// (ARP; the rest none).
std::vector<FrameWant> wants_of(const stack::socket::DhcpEvent& e);
std::vector<FrameWant> wants_of(const stack::Event& e);

class FrameCiter {
 public:
  static constexpr stack::Duration kHoldLimit = stack::Duration::from_secs(5);
  static constexpr std::size_t kRemembered = 1024;  // DHCP, ARP and DNS frames kept to match

  // `cite`: whether lines get numbers at all (only when a capture is written); `frames_before`:
  // frames the capture already holds.
  FrameCiter(bool cite, std::uint64_t frames_before) : cite_(cite), count_(frames_before) {}

  // Says the line: `cite` is "[frame 7] " or "[frames 7, 9] " (empty when no frame is known, or
  // when citing is off); `at`: the latest of the line's frames' times (or the line's own).
  using Emit = std::function<void(stack::Instant at, const std::string& cite)>;

  // A line about `wants` (empty: says it now, uncited). Incoming frames are looked for among those
  // counted (the first not yet cited, else the last cited: two lines about one reply), outgoing
  // ones among those counted and not yet cited, else the line waits for them.
  void say(std::vector<FrameWant> wants, stack::Instant at, Emit emit);

  // Every frame, in capture order (Host::add_frame_listener): counts it and says the lines waiting for it.
  void on_frame(bool outgoing, stack::Instant at, std::span<const std::byte> frame);

  // Says every line still waiting, without the numbers of the frames that never came.
  void flush();

  std::uint64_t frames() const { return count_; }
  std::size_t held() const { return held_.size(); }

  static std::string cite_text(const std::vector<std::uint64_t>& numbers);

 private:
  struct Seen {
    std::uint64_t number;
    stack::Instant at;
    FrameFacts facts;
    bool cited = false;
  };
  struct Held {
    std::vector<FrameWant> wants;
    std::vector<std::uint64_t> numbers;  // 0: not yet
    stack::Instant at, since;
    Emit emit;
  };
  // The frame for `w` among those counted, or nullptr.
  Seen* find(const FrameWant& w);
  // DNS over TCP: where each message of a stream ends (Segment::Message), from the segments in
  // order; a stream that skips ahead (a segment missing from the capture) is followed no further.
  void follow_dns_stream(FrameFacts& facts, std::span<const std::byte> frame);
  struct DnsStream {
    std::uint32_t next_seq = 0;
    bool known = false;
    std::vector<std::byte> head;  // the length and the header's first octets of the message under way
    std::uint32_t left = 0;       // octets of that message still to come once `head` is whole
  };
  std::map<std::tuple<bool, std::uint32_t, std::uint16_t>, DnsStream> dns_streams_;  // (outgoing, server, our port)
  void release(Held& h);

  bool cite_;
  std::uint64_t count_;
  std::deque<Seen> seen_;
  std::deque<Held> held_;
};

}  // namespace appkit
