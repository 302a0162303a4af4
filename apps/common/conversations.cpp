// The conversations in a capture: see conversations.hpp for what is found and where it is defined.
#include "apps/common/conversations.hpp"

#include <algorithm>
#include <cctype>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <tuple>

#include "stack/wire/arp.hpp"
#include "stack/wire/dhcpv4.hpp"
#include "stack/wire/dns.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/ipv4.hpp"
#include "stack/wire/tcp.hpp"
#include "stack/wire/udp.hpp"

namespace appkit::analysis {

namespace wire = stack::wire;

const char* to_string(Role r) {
  switch (r) {
    case Role::Us: return "us";
    case Role::Router: return "router";
    case Role::Resolver: return "resolver";
    case Role::Root: return "root";
    case Role::Tld: return "TLD";
    case Role::Authoritative: return "authoritative";
    case Role::WebServer: return "web server";
    case Role::Other: return "other";
  }
  return "other";
}

std::string ip_string(std::uint32_t ip) { return wire::Ipv4Address{ip}.describe(); }

std::string Endpoint::label() const {
  std::string s = to_string(role);
  if (!name.empty()) s += " " + name;
  if (ip != 0) {
    s += " " + ip_string(ip);
  } else if (!mac.empty()) {
    s += " " + mac;
  }
  return s;
}

namespace {

std::string mac_string(const std::array<std::uint8_t, 6>& m) {
  wire::MacAddress a;
  a.octets = m;
  return a.describe();
}

bool seq_ge(std::uint32_t a, std::uint32_t b) { return static_cast<std::int32_t>(a - b) >= 0; }

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// RFC 9112 §6.3: the length of an HTTP/1.1 message's body, found from its head; one of these per
// direction of a connection, fed the bytes in order. It never holds more than one head (64 KiB).
class HttpFramer {
 public:
  struct Head {
    std::string first_line;
    std::map<std::string, std::string> fields;  // lower-case names; a repeated field keeps the last
    std::uint64_t frame = 0;
    std::int64_t time_us = 0;
  };
  enum class BodyKind { None, Length, Chunked, UntilClose };

  // Called when a head is complete: returns how its body is framed (and its length, for Length).
  std::function<std::pair<BodyKind, std::uint64_t>(const Head&)> on_head;
  std::function<void(std::uint64_t bytes)> on_body;  // body bytes (chunk framing excluded)
  std::function<void(std::uint64_t frame)> on_end;    // the message is complete

  bool dead() const { return state_ == State::Dead; }

  void feed(std::span<const std::byte> data, std::uint64_t frame, std::int64_t time_us) {
    std::size_t i = 0;
    while (i < data.size() && state_ != State::Dead) {
      const auto c = static_cast<char>(data[i]);
      switch (state_) {
        case State::Head: {
          if (head_.empty()) {
            pending_.frame = frame;
            pending_.time_us = time_us;
            if (c == '\r' || c == '\n') {  // RFC 9112 §2.2: stray CRLF before a message is ignored
              ++i;
              break;
            }
          }
          head_ += c;
          ++i;
          if (head_.size() > 65536) {
            state_ = State::Dead;
          } else if (head_.size() >= 4 && head_.compare(head_.size() - 4, 4, "\r\n\r\n") == 0) {
            finish_head(frame);
          }
          break;
        }
        case State::Body:
        case State::ChunkData: {
          const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, data.size() - i));
          i += n;
          remaining_ -= n;
          if (on_body) on_body(n);
          if (remaining_ == 0) {
            if (state_ == State::Body) {
              end(frame);
            } else {
              state_ = State::ChunkCrlf;
              line_.clear();
            }
          }
          break;
        }
        case State::UntilClose:
          if (on_body) on_body(data.size() - i);
          i = data.size();
          break;
        case State::ChunkSize:
        case State::ChunkCrlf:
        case State::Trailer: {
          line_ += c;
          ++i;
          if (line_.size() > 4096) {
            state_ = State::Dead;
            break;
          }
          if (c != '\n') break;
          if (state_ == State::ChunkCrlf) {
            state_ = line_ == "\r\n" ? State::ChunkSize : State::Dead;
          } else if (state_ == State::Trailer) {
            if (line_ == "\r\n") end(frame);
          } else {
            // chunk-size [ chunk-ext ] CRLF (RFC 9112 §7.1): hex digits, at most 15 of them.
            std::uint64_t size = 0;
            std::size_t digits = 0;
            while (digits < line_.size() && std::isxdigit(static_cast<unsigned char>(line_[digits]))) {
              const char h = line_[digits];
              size = size * 16 + static_cast<std::uint64_t>(std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (std::tolower(h) - 'a' + 10));
              ++digits;
            }
            if (digits == 0 || digits > 15) {
              state_ = State::Dead;
            } else if (size == 0) {
              state_ = State::Trailer;
            } else {
              remaining_ = size;
              state_ = State::ChunkData;
            }
          }
          line_.clear();
          break;
        }
        case State::Dead:
          break;
      }
    }
  }

  // The sender closed: a body that runs until the close is complete now.
  void close(std::uint64_t frame) {
    if (state_ == State::UntilClose) end(frame);
    state_ = State::Dead;
  }

 private:
  enum class State { Head, Body, ChunkSize, ChunkData, ChunkCrlf, Trailer, UntilClose, Dead };

  void finish_head(std::uint64_t frame) {
    Head h = pending_;
    std::size_t pos = head_.find("\r\n");
    h.first_line = head_.substr(0, pos);
    while (pos + 2 < head_.size()) {
      const std::size_t next = head_.find("\r\n", pos + 2);
      const std::string line = head_.substr(pos + 2, next - pos - 2);
      pos = next;
      const auto colon = line.find(':');
      if (colon == std::string::npos || colon == 0) continue;
      std::string value = line.substr(colon + 1);
      const auto b = value.find_first_not_of(" \t"), e = value.find_last_not_of(" \t");
      value = b == std::string::npos ? "" : value.substr(b, e - b + 1);
      h.fields[lower(line.substr(0, colon))] = value;
    }
    head_.clear();
    const auto [kind, length] = on_head ? on_head(h) : std::pair{BodyKind::None, std::uint64_t{0}};
    switch (kind) {
      case BodyKind::None: end(frame); break;
      case BodyKind::Length:
        if (length == 0) {
          end(frame);
        } else {
          remaining_ = length;
          state_ = State::Body;
        }
        break;
      case BodyKind::Chunked: state_ = State::ChunkSize; line_.clear(); break;
      case BodyKind::UntilClose: state_ = State::UntilClose; break;
    }
  }
  void end(std::uint64_t frame) {
    state_ = State::Head;
    if (on_end) on_end(frame);
  }
  void kill() { state_ = State::Dead; }

  State state_ = State::Head;
  std::string head_, line_;
  Head pending_;
  std::uint64_t remaining_ = 0;

 public:
  void stop() { kill(); }
};

// One direction of a TCP connection: the sequence space and the in-order byte stream.
struct Direction {
  bool have_isn = false;
  std::uint32_t isn = 0;
  std::uint64_t next = 0;  // bytes delivered so far (the next expected offset after ISN + 1)
  std::map<std::uint64_t, std::vector<std::byte>> out_of_order;
  std::size_t out_of_order_bytes = 0;
  bool syn = false;  // this side's SYN was seen
  bool fin = false;
  std::uint32_t fin_seq = 0;  // the FIN's own sequence number
  std::uint64_t fin_frame = 0;
  HttpFramer http;
};

struct ConnState {
  std::size_t index = 0;  // into Analysis::tcp
  Direction dir[2];       // [0] client -> server, [1] server -> client
  std::deque<int> awaiting;  // exchanges whose response has not begun (pipelining keeps order)
  int responding = -1;       // the exchange whose response is being read
  bool first_payload_seen = false;
  std::int64_t first_request_us = -1;
  std::unique_ptr<tlsdec::Decryptor> tls;  // with a key log, for a TLS connection
};

// Parses "GET /x HTTP/1.1" / "HTTP/1.1 200 OK"; false when the line is not HTTP/1.
bool parse_request_line(const std::string& line, std::string& method, std::string& target) {
  const auto sp1 = line.find(' ');
  if (sp1 == std::string::npos || sp1 == 0 || sp1 > 20) return false;
  const auto sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string::npos || line.compare(sp2 + 1, 7, "HTTP/1.") != 0) return false;
  method = line.substr(0, sp1);
  for (char c : method) {
    if (!std::isupper(static_cast<unsigned char>(c))) return false;
  }
  target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  return true;
}
bool parse_status_line(const std::string& line, int& status, std::string& reason) {
  if (line.size() < 12 || line.compare(0, 7, "HTTP/1.") != 0 || line[8] != ' ') return false;
  for (std::size_t k = 9; k < 12; ++k) {
    if (!std::isdigit(static_cast<unsigned char>(line[k]))) return false;
  }
  status = std::stoi(line.substr(9, 3));
  reason = line.size() > 13 ? line.substr(13) : "";
  return true;
}
std::optional<std::uint64_t> content_length(const std::map<std::string, std::string>& f) {
  const auto it = f.find("content-length");
  if (it == f.end() || it->second.empty() || it->second.size() > 18) return std::nullopt;
  for (char c : it->second) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  return std::stoull(it->second);
}
bool is_chunked(const std::map<std::string, std::string>& f) {
  const auto it = f.find("transfer-encoding");
  return it != f.end() && lower(it->second).find("chunked") != std::string::npos;
}

// What one frame was, before the endpoints are known.
struct Decoded {
  std::uint64_t frame = 0;
  std::int64_t time_us = 0;
  Kind kind = Kind::Other;
  std::uint32_t src = 0, dst = 0;
  std::string src_mac, dst_mac;
  int connection = 0;
  std::string text;
};

class Analyzer {
 public:
  Analyzer(const pcap::Capture& cap, const tlsdec::KeyLog* keys) : cap_(cap), keys_(keys) {}

  Analysis run() {
    a_.format = cap_.format;
    a_.frames = cap_.frames.size();
    a_.skipped_other_links = cap_.skipped_other_links;
    if (!cap_.frames.empty()) {
      a_.start_us = cap_.frames.front().time_us;
      a_.end_us = cap_.frames.back().time_us;
    }
    for (const auto& f : cap_.frames) decode(f);
    finish_connections();
    place_endpoints();
    return std::move(a_);
  }

 private:
  void decode(const pcap::Frame& f) {
    Decoded d;
    d.frame = f.number;
    d.time_us = f.time_us - a_.start_us;
    if (f.src_mac) d.src_mac = mac_string(*f.src_mac);
    if (f.dst_mac) d.dst_mac = mac_string(*f.dst_mac);
    if (f.ethertype == 0x0806) {
      decode_arp(f, d);
    } else if (f.ethertype == 0x0800) {
      decode_ipv4(f, d);
    } else if (f.ethertype == 0x86dd) {
      ++a_.ipv6;
      d.text = "IPv6";
    } else {
      ++a_.undecoded;
      d.text = f.network.empty() && f.link.size() < 14 ? "truncated frame" : "EtherType " + std::to_string(f.ethertype);
    }
    decoded_.push_back(std::move(d));
  }

  void decode_arp(const pcap::Frame& f, Decoded& d) {
    const auto view = wire::arp::View::checked(f.network);
    const auto repr = view ? wire::arp::Repr::parse(*view) : std::nullopt;
    if (!repr) {
      ++a_.undecoded;
      d.text = "ARP (malformed)";
      return;
    }
    d.kind = Kind::Arp;
    ArpMessage m;
    m.frame = f.number;
    m.time_us = d.time_us;
    m.request = repr->operation == wire::arp::Operation::Request;
    m.sender_ip = repr->sender_ip.value;
    m.target_ip = repr->target_ip.value;
    m.sender_mac = repr->sender_mac.describe();
    d.src = m.sender_ip;
    d.dst = m.target_ip;
    d.text = m.request ? "ARP who-has " + ip_string(m.target_ip) + "?" : "ARP " + ip_string(m.sender_ip) + " is-at " + m.sender_mac;
    a_.arp.push_back(m);
  }

  void decode_ipv4(const pcap::Frame& f, Decoded& d) {
    const auto ip = wire::ipv4::View::checked(f.network);
    if (!ip) {
      ++a_.undecoded;
      d.text = "IPv4 (truncated or malformed)";
      return;
    }
    d.src = ip->src().value;
    d.dst = ip->dst().value;
    if (ip->more_frags() || ip->frag_offset() != 0) {
      d.text = "IPv4 fragment";
      return;
    }
    const auto payload = ip->payload();
    switch (ip->protocol()) {
      case wire::IpProtocol::Udp: decode_udp(f, d, payload); break;
      case wire::IpProtocol::Tcp: decode_tcp(f, d, payload); break;
      case wire::IpProtocol::Icmp: d.text = "ICMP"; break;
      default: d.text = "IP protocol " + std::to_string(static_cast<unsigned>(ip->protocol())); break;
    }
  }

  void decode_udp(const pcap::Frame& f, Decoded& d, std::span<const std::byte> payload) {
    const auto udp = wire::udp::View::checked(payload);
    if (!udp) {
      ++a_.undecoded;
      d.text = "UDP (malformed)";
      return;
    }
    const auto body = udp->payload();
    const auto sp = udp->src_port(), dp = udp->dst_port();
    d.text = "UDP " + std::to_string(sp) + " > " + std::to_string(dp);
    if ((sp == 68 && dp == 67) || (sp == 67 && dp == 68)) {
      decode_dhcp(f, d, body);
    } else if (sp == 53 || dp == 53) {
      decode_dns(d, body, dp == 53, false);
    }
  }

  void decode_dhcp(const pcap::Frame& f, Decoded& d, std::span<const std::byte> body) {
    const auto r = wire::dhcpv4::Repr::parse(body);
    if (!r) {
      d.text = "DHCP (malformed)";
      ++a_.undecoded;
      return;
    }
    d.kind = Kind::Dhcp;
    DhcpMessage m;
    m.frame = f.number;
    m.time_us = d.time_us;
    m.type = wire::dhcpv4::to_string(r->message_type);
    m.from_client = r->op == wire::dhcpv4::Op::BootRequest;
    m.xid = r->xid;
    m.yiaddr = r->yiaddr.value;
    if (r->server_id) m.server_id = r->server_id->value;
    if (r->requested_ip) m.requested_ip = r->requested_ip->value;
    m.lease_s = r->lease_time;
    for (const auto& x : r->routers) m.routers.push_back(x.value);
    for (const auto& x : r->dns_servers) m.dns_servers.push_back(x.value);
    if (r->subnet_mask) m.subnet_mask = r->subnet_mask->value;
    m.rapid_commit = r->rapid_commit;
    if (m.from_client && client_mac_.empty()) client_mac_ = r->chaddr.describe();
    d.text = m.type;
    a_.dhcp.push_back(m);
  }

  void decode_dns(Decoded& d, std::span<const std::byte> body, bool query, bool tcp) {
    const auto m = wire::dns::parse(body);
    if (!m || m->questions.empty()) {
      d.text = "DNS (malformed)";
      if (!m) ++a_.undecoded;
      return;
    }
    d.kind = Kind::Dns;
    const auto& q = m->questions.front();
    const std::string qname = q.name.describe(), qtype = wire::dns::type_name(q.type);
    // Glue: every A record seen names a server the walk may ask next.
    for (const auto* section : {&m->answers, &m->additional}) {
      for (const auto& rec : *section) {
        if (const auto* a = std::get_if<wire::dns::rdata::A>(&rec.data)) names_.emplace(a->address.value, rec.name.describe());
      }
    }
    if (query && !m->header.qr) {
      DnsQuery dq;
      dq.client = d.src;
      dq.server = d.dst;
      dq.id = m->header.id;
      dq.tcp = tcp;
      dq.name = qname;
      dq.type = qtype;
      dq.rd = m->header.rd;
      dq.query_frame = d.frame;
      dq.query_us = d.time_us;
      d.text = qtype + "? " + qname;
      // A retransmitted query (same id, client, server, name) is one question.
      for (auto& old : a_.dns) {
        if (!old.answered && old.id == dq.id && old.client == dq.client && old.server == dq.server && old.name == dq.name) {
          d.text += " (again)";
          return;
        }
      }
      a_.dns.push_back(dq);
      return;
    }
    // A response: the oldest open question with the same id, name and endpoints.
    d.text = wire::dns::rcode_name(m->header.rcode);
    for (auto& dq : a_.dns) {
      if (dq.answered || dq.id != m->header.id || dq.client != d.dst || dq.server != d.src || lower(dq.name) != lower(qname)) continue;
      dq.answered = true;
      dq.response_frame = d.frame;
      dq.response_us = d.time_us;
      dq.rcode = wire::dns::rcode_name(m->header.rcode);
      dq.aa = m->header.aa;
      for (const auto& rec : m->answers) {
        if (const auto* a = std::get_if<wire::dns::rdata::A>(&rec.data)) {
          dq.answers.push_back(ip_string(a->address.value));
        } else {
          dq.answers.push_back(wire::dns::type_name(rec.type) + " " + rec.describe_rdata());
        }
        dq.ttl = dq.ttl ? std::min(*dq.ttl, rec.ttl) : rec.ttl;
      }
      if (m->answers.empty()) {
        for (const auto& rec : m->authority) {
          if (const auto* ns = std::get_if<wire::dns::rdata::Ns>(&rec.data)) {
            dq.referral = rec.name.describe();
            dq.referral_ns.push_back(ns->host.describe());
          }
        }
      }
      if (dq.rcode == "NOERROR" && !dq.answers.empty()) {
        d.text = dq.answers.front();
        if (dq.answers.size() > 1) d.text += " (+" + std::to_string(dq.answers.size() - 1) + ")";
      } else if (!dq.referral.empty()) {
        d.text = "referral to " + dq.referral;
      }
      break;
    }
  }

  void decode_tcp(const pcap::Frame& f, Decoded& d, std::span<const std::byte> payload) {
    const auto seg = wire::tcp::View::checked(payload);
    if (!seg) {
      ++a_.undecoded;
      d.text = "TCP (malformed)";
      return;
    }
    d.kind = Kind::Tcp;
    const auto repr = wire::tcp::Repr::parse(*seg);
    const bool syn = seg->syn(), ack = seg->ack(), fin = seg->fin(), rst = seg->rst();
    const std::uint32_t seq = seg->seq().raw, ackno = seg->ack_number().raw;
    const auto data = seg->payload();
    const auto sp = seg->src_port(), dp = seg->dst_port();

    // The connection: a 4-tuple, or a new one when a fresh SYN reuses a closed 4-tuple.
    const auto key = d.src < d.dst || (d.src == d.dst && sp < dp) ? std::tuple{d.src, sp, d.dst, dp} : std::tuple{d.dst, dp, d.src, sp};
    auto it = conns_.find(key);
    if (it != conns_.end() && syn && !ack) {
      const auto& c = a_.tcp[it->second.index];
      const auto& st = it->second;
      if (!st.dir[0].have_isn || c.client_isn != seq || st.dir[0].fin || st.dir[1].fin || c.rst_frame != 0) {
        conns_.erase(it);
        it = conns_.end();
      }
    }
    if (it == conns_.end()) {
      TcpConnection c;
      c.number = static_cast<int>(a_.tcp.size()) + 1;
      const bool src_is_client = syn ? !ack : sp > dp;
      c.client_ip = src_is_client ? d.src : d.dst;
      c.server_ip = src_is_client ? d.dst : d.src;
      c.client_port = src_is_client ? sp : dp;
      c.server_port = src_is_client ? dp : sp;
      c.first_frame = f.number;
      c.first_us = d.time_us;
      ConnState st;
      st.index = a_.tcp.size();
      a_.tcp.push_back(c);
      it = conns_.emplace(key, std::move(st)).first;
      setup_http(it->second);
    }
    ConnState& st = it->second;
    TcpConnection& c = a_.tcp[st.index];
    const bool from_client = d.src == c.client_ip && sp == c.client_port;
    Direction& me = st.dir[from_client ? 0 : 1];
    Direction& peer = st.dir[from_client ? 1 : 0];
    d.connection = c.number;
    c.last_frame = f.number;
    c.last_us = d.time_us;
    ++c.segments;

    Segment s;
    s.frame = f.number;
    s.time_us = d.time_us;
    s.from_client = from_client;
    if (repr) {
      s.flags = wire::tcp::describe_flags(*repr);
      s.flags = s.flags.substr(1, s.flags.size() - 2);
    }
    s.len = static_cast<std::uint32_t>(data.size());

    // A retransmission (TcpConnection::Retransmission): counted once per segment.
    bool again = false;
    if (syn) {
      again = me.syn && me.have_isn && me.isn == seq;
      me.syn = true;
      if (!me.have_isn || me.isn != seq) {
        me.have_isn = true;
        me.isn = seq;
        me.next = 0;
      }
      if (from_client) {
        c.client_isn = seq;
        if (!c.syn_frame) c.syn_frame = f.number;
        if (repr) {
          c.client_mss = repr->mss;
          c.client_wscale = repr->window_scale;
          c.client_sack = repr->sack_permitted;
        }
      } else {
        c.server_isn = seq;
        if (!c.synack_frame) c.synack_frame = f.number;
        if (repr) {
          c.server_mss = repr->mss;
          c.server_wscale = repr->window_scale;
          c.server_sack = repr->sack_permitted;
        }
      }
      if (c.handshake.size() < 8) c.handshake.push_back(s);
    } else if (!me.have_isn) {  // the capture began after this side's SYN
      me.have_isn = true;
      me.isn = seq - 1;
    }
    s.rel_seq = seq - me.isn;
    s.rel_ack = ack && peer.have_isn ? ackno - peer.isn : 0;
    if (from_client && ack && !syn && !c.ack_frame && c.synack_frame && ackno == c.server_isn + 1) {
      c.ack_frame = f.number;
      if (c.handshake.size() < 8) c.handshake.push_back(s);
      if (c.handshake.front().frame == c.syn_frame) c.handshake_us = d.time_us - c.handshake.front().time_us;
    }

    // Payload: in order into the stream, once; what was already delivered is a retransmission.
    if (!data.empty()) {
      const std::uint32_t rel = (syn ? seq + 1 : seq) - (me.isn + 1);  // data after a SYN starts at ISN + 1
      const auto delta = static_cast<std::int32_t>(rel - static_cast<std::uint32_t>(me.next));
      const std::int64_t at = static_cast<std::int64_t>(me.next) + delta;
      const std::int64_t end = at + static_cast<std::int64_t>(data.size());
      if (end <= static_cast<std::int64_t>(me.next)) {
        again = true;
      } else if (at <= static_cast<std::int64_t>(me.next)) {
        if (at < static_cast<std::int64_t>(me.next)) again = true;
        deliver(st, c, from_client, data.subspan(static_cast<std::size_t>(static_cast<std::int64_t>(me.next) - at)), f.number, d.time_us);
        drain(st, c, from_client, f.number, d.time_us);
      } else if (me.out_of_order.size() < 1024 && me.out_of_order_bytes < (8u << 20)) {
        auto& slot = me.out_of_order[static_cast<std::uint64_t>(at)];
        if (slot.size() < data.size()) {
          me.out_of_order_bytes += data.size() - slot.size();
          slot.assign(data.begin(), data.end());
        }
      }
    }
    if (fin && me.fin && data.empty() && seq == me.fin_seq) again = true;
    if (again) {
      ++c.retransmissions;
      ++(from_client ? c.retransmissions_by_client : c.retransmissions_by_server);
      if (c.retransmitted.size() < 64) {
        c.retransmitted.push_back({f.number, d.time_us, from_client,
                                   syn ? (ack ? "the SYN+ACK" : "the SYN") : !data.empty() ? "data" : "the FIN"});
      }
    }
    if (fin && !me.fin) {
      me.fin = true;
      me.fin_seq = seq + static_cast<std::uint32_t>(data.size()) + (syn ? 1u : 0u);
      me.fin_frame = f.number;
      if (c.first_fin.empty()) c.first_fin = from_client ? "client" : "server";
      me.http.close(f.number);
    }
    if (rst && !c.rst_frame) {
      c.rst_frame = f.number;
      c.rst_from = from_client ? "client" : "server";
    }
    if (!c.first_fin.empty() || c.rst_frame) {
      if (c.close.size() < 64) c.close.push_back(s);
    }

    d.text = s.flags.empty() ? "TCP" : s.flags;
    if (syn && !ack) d.text = "SYN";
    else if (syn) d.text = "SYN+ACK";
    else if (rst) d.text = "RST";
    else if (fin) d.text = data.empty() ? "FIN" : "FIN (" + std::to_string(data.size()) + " bytes)";
    else if (!data.empty()) d.text = std::to_string(data.size()) + " bytes";
    else d.text = "ACK";
    if (!http_label_.empty()) d.text = http_label_;
    http_label_.clear();
  }

  void deliver(ConnState& st, TcpConnection& c, bool from_client, std::span<const std::byte> bytes, std::uint64_t frame, std::int64_t t) {
    Direction& me = st.dir[from_client ? 0 : 1];
    me.next += bytes.size();
    (from_client ? c.bytes_to_server : c.bytes_to_client) += bytes.size();
    if (!st.first_payload_seen && from_client) {
      st.first_payload_seen = true;
      if (static_cast<unsigned>(bytes[0]) == 0x16) {  // TLS handshake record (RFC 8446 §5.1)
        c.tls = true;
        if (keys_) {
          st.tls = std::make_unique<tlsdec::Decryptor>(*keys_);  // the HTTP framers read what it opens
        } else {
          st.dir[0].http.stop();
          st.dir[1].http.stop();
        }
      }
    }
    if (from_client && st.first_request_us < 0) st.first_request_us = t;
    if (!from_client && c.ttfb_us < 0 && st.first_request_us >= 0) c.ttfb_us = t - st.first_request_us;
    if (st.tls) {
      decrypt(st, c, from_client, bytes, frame, t);
    } else {
      me.http.feed(bytes, frame, t);
    }
  }

  // The TLS records of one direction through the key log's keys; what they carry goes to the
  // HTTP framers as plain http's bytes would, at the frame that completed the record.
  void decrypt(ConnState& st, TcpConnection& c, bool from_client, std::span<const std::byte> bytes, std::uint64_t frame, std::int64_t t) {
    auto& d = *st.tls;
    const bool had_hello = d.server_hello_seen(), had_problem = d.stopped();
    auto outs = d.feed(from_client, std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
    if (!had_hello && d.server_hello_seen()) {
      c.tls_hello_frame = frame;
      c.tls_hello_us = t;
      c.tls_version = d.version();
      c.tls_cipher = tlsdec::suite_name(d.cipher());
    }
    c.tls_decrypted = d.keys_found();
    c.tls_records_client = d.records_opened(true);
    c.tls_records_server = d.records_opened(false);
    if (!had_problem && d.stopped()) {
      c.tls_problem = d.problem();
      c.tls_problem_frame = frame;
      c.tls_problem_us = t;
    }
    for (const auto& o : outs) st.dir[o.from_client ? 0 : 1].http.feed(std::as_bytes(std::span(o.data)), frame, t);
  }

  void drain(ConnState& st, TcpConnection& c, bool from_client, std::uint64_t frame, std::int64_t t) {
    Direction& me = st.dir[from_client ? 0 : 1];
    while (!me.out_of_order.empty()) {
      auto first = me.out_of_order.begin();
      if (first->first > me.next) break;
      std::vector<std::byte> bytes = std::move(first->second);
      const std::uint64_t at = first->first;
      me.out_of_order_bytes -= bytes.size();
      me.out_of_order.erase(first);
      if (at + bytes.size() <= me.next) continue;
      deliver(st, c, from_client, std::span<const std::byte>(bytes).subspan(static_cast<std::size_t>(me.next - at)), frame, t);
    }
  }

  void setup_http(ConnState& st) {
    ConnState* sp = &st;
    const std::size_t index = st.index;
    auto& req = st.dir[0].http;
    auto& resp = st.dir[1].http;
    req.on_head = [this, sp, index](const HttpFramer::Head& h) -> std::pair<HttpFramer::BodyKind, std::uint64_t> {
      HttpExchange x;
      if (!parse_request_line(h.first_line, x.method, x.target)) {
        sp->dir[0].http.stop();
        sp->dir[1].http.stop();
        return {HttpFramer::BodyKind::None, 0};
      }
      TcpConnection& c = a_.tcp[index];
      x.connection = c.number;
      x.decrypted = sp->tls != nullptr;
      x.request_frame = h.frame;
      x.request_us = h.time_us;
      if (auto it = h.fields.find("host"); it != h.fields.end()) x.host = it->second;
      c.http.push_back(static_cast<int>(a_.http.size()));
      sp->awaiting.push_back(static_cast<int>(a_.http.size()));
      if (h.frame == current_frame()) http_label_ = x.method + " " + x.target;
      a_.http.push_back(std::move(x));
      if (is_chunked(h.fields)) return {HttpFramer::BodyKind::Chunked, 0};
      return {HttpFramer::BodyKind::Length, content_length(h.fields).value_or(0)};
    };
    resp.on_head = [this, sp, index](const HttpFramer::Head& h) -> std::pair<HttpFramer::BodyKind, std::uint64_t> {
      int status = 0;
      std::string reason;
      if (!parse_status_line(h.first_line, status, reason)) {
        sp->dir[1].http.stop();
        return {HttpFramer::BodyKind::None, 0};
      }
      if (status >= 100 && status < 200 && status != 101) return {HttpFramer::BodyKind::None, 0};  // interim
      if (sp->awaiting.empty()) {  // a response to a request the capture does not hold
        HttpExchange x;
        x.connection = a_.tcp[index].number;
        x.decrypted = sp->tls != nullptr;
        a_.tcp[index].http.push_back(static_cast<int>(a_.http.size()));
        sp->awaiting.push_back(static_cast<int>(a_.http.size()));
        a_.http.push_back(std::move(x));
      }
      sp->responding = sp->awaiting.front();
      sp->awaiting.pop_front();
      HttpExchange& x = a_.http[static_cast<std::size_t>(sp->responding)];
      x.status = status;
      x.reason = reason;
      x.response_frame = h.frame;
      x.response_us = h.time_us;
      if (auto it = h.fields.find("content-type"); it != h.fields.end()) x.content_type = it->second;
      if (h.frame == current_frame()) http_label_ = std::to_string(status) + " " + reason;
      if (x.method == "HEAD" || status == 204 || status == 304 || status == 101) return {HttpFramer::BodyKind::None, 0};
      if (is_chunked(h.fields)) return {HttpFramer::BodyKind::Chunked, 0};
      if (const auto n = content_length(h.fields)) return {HttpFramer::BodyKind::Length, *n};
      return {HttpFramer::BodyKind::UntilClose, 0};
    };
    resp.on_body = [this, sp](std::uint64_t n) {
      if (sp->responding >= 0) a_.http[static_cast<std::size_t>(sp->responding)].body_bytes += n;
    };
    resp.on_end = [this, sp](std::uint64_t frame) {
      if (sp->responding < 0) return;
      HttpExchange& x = a_.http[static_cast<std::size_t>(sp->responding)];
      x.complete = true;
      x.response_end_frame = frame;
      sp->responding = -1;
    };
  }

  std::uint64_t current_frame() const { return decoded_.size() + 1 <= cap_.frames.size() ? cap_.frames[decoded_.size()].number : 0; }

  // The close of each connection, from its segments: RFC 9293 §3.6 Figures 12 (one side first)
  // and 13 (simultaneous).
  void finish_connections() {
    for (auto& [key, st] : conns_) {
      TcpConnection& c = a_.tcp[st.index];
      if (c.first_fin.empty()) {
        if (c.rst_frame) c.close_kind = "reset";
        continue;
      }
      const bool a_is_client = c.first_fin == "client";
      const Direction& A = st.dir[a_is_client ? 0 : 1];
      const Direction& B = st.dir[a_is_client ? 1 : 0];
      // The frame in which B first acknowledged A's FIN, and whether it carried B's FIN.
      std::uint64_t b_ack_frame = 0, end_frame = 0;
      bool b_ack_has_fin = false;
      for (const auto& s : c.close) {
        if (s.from_client == a_is_client) continue;
        const std::uint32_t abs_ack = s.rel_ack + A.isn;
        if (s.flags.find('.') != std::string::npos && seq_ge(abs_ack, A.fin_seq + 1)) {
          b_ack_frame = s.frame;
          b_ack_has_fin = s.flags.find('F') != std::string::npos;
          break;
        }
      }
      if (B.fin) {
        for (const auto& s : c.close) {
          if (s.from_client != a_is_client || s.frame < B.fin_frame) continue;
          const std::uint32_t abs_ack = s.rel_ack + B.isn;
          if (s.flags.find('.') != std::string::npos && seq_ge(abs_ack, B.fin_seq + 1)) {
            end_frame = s.frame;
            break;
          }
        }
      }
      if (B.fin && (b_ack_frame == 0 || B.fin_frame < b_ack_frame)) {
        c.close_kind = "simultaneous close";
      } else if (B.fin && b_ack_frame == B.fin_frame && b_ack_has_fin) {
        c.close_kind = "three-segment close";
      } else if (B.fin) {
        c.close_kind = "four-segment close";
      } else if (c.rst_frame) {
        c.close_kind = "reset";
      } else {
        c.close_kind = "half-closed";
      }
      if (c.rst_frame && c.close_kind != "reset" && !end_frame) c.close_kind = "reset";
      for (const auto& s : c.close) {
        ++c.close_segments;
        if (s.frame == end_frame) break;
      }
      if (end_frame) c.time_wait_from_frame = end_frame;
    }
  }

  // Who is who: us, the router, the resolver, the servers of the walk, the web servers.
  void place_endpoints() {
    // Us: the DHCP client, else whoever sent the first SYN, else the first DNS question.
    std::uint32_t us_ip = 0;
    for (const auto& m : a_.dhcp) {
      if (!m.from_client && m.type == "DHCPACK" && m.yiaddr) us_ip = m.yiaddr;
    }
    if (!us_ip) {
      for (const auto& c : a_.tcp) {
        if (c.syn_frame) {
          us_ip = c.client_ip;
          break;
        }
      }
    }
    if (!us_ip && !a_.dns.empty()) us_ip = a_.dns.front().client;
    if (!us_ip && !a_.tcp.empty()) us_ip = a_.tcp.front().client_ip;
    std::string us_mac = client_mac_;
    if (us_mac.empty()) {
      for (const auto& d : decoded_) {
        if (d.src == us_ip && !d.src_mac.empty() && d.kind != Kind::Arp) {
          us_mac = d.src_mac;
          break;
        }
      }
    }
    // The router: DHCP's router option, else the address we asked ARP for whose MAC our
    // off-link packets go to.
    std::string gw_mac;
    for (const auto& m : a_.dhcp) {
      if (!m.from_client && !m.routers.empty()) a_.gateway_ip = m.routers.front();
    }
    for (const auto& d : decoded_) {
      if (d.src == us_ip && d.kind == Kind::Tcp && !d.dst_mac.empty()) {
        gw_mac = d.dst_mac;
        break;
      }
    }
    if (!a_.gateway_ip) {
      for (const auto& m : a_.arp) {
        if (!m.request && m.sender_mac == gw_mac) a_.gateway_ip = m.sender_ip;
      }
    }
    if (!a_.gateway_ip && !a_.arp.empty()) {
      for (const auto& m : a_.arp) {
        if (m.request && m.sender_ip == us_ip && m.target_ip != us_ip) {
          a_.gateway_ip = m.target_ip;
          break;
        }
      }
    }
    const std::size_t us = endpoint(us_ip, us_mac);
    a_.endpoints[us].role = Role::Us;
    if (!us_mac.empty()) a_.endpoints[us].mac = us_mac;
    a_.us = us;
    if (a_.gateway_ip) a_.endpoints[endpoint(a_.gateway_ip, "")].role = Role::Router;
    for (const auto& m : a_.dhcp) {
      if (!m.from_client && m.server_id && m.server_id != a_.gateway_ip) {
        auto& e = a_.endpoints[endpoint(m.server_id, "")];
        if (e.role == Role::Other) e.name = "DHCP server";
      }
    }
    // DNS servers: a recursive question goes to a resolver; an iterative one's referral names
    // the zone below the asked server's (a referral to "com." comes from the root).
    for (const auto& q : a_.dns) {
      auto& e = a_.endpoints[endpoint(q.server, "")];
      if (e.role != Role::Other && e.role != Role::Router) continue;
      if (e.role == Role::Router && !q.rd) continue;
      if (q.rd) {
        if (e.role == Role::Other) e.role = Role::Resolver;
        continue;
      }
      if (!q.referral.empty()) {
        const auto dots = std::count(q.referral.begin(), q.referral.end(), '.');
        e.role = dots <= 1 ? Role::Root : dots == 2 ? Role::Tld : Role::Authoritative;
      } else if (q.answered && q.aa) {
        e.role = Role::Authoritative;
      }
      if (auto n = names_.find(q.server); n != names_.end()) e.name = n->second;
    }
    for (const auto& c : a_.tcp) {
      auto& e = a_.endpoints[endpoint(c.server_ip, "")];
      if (e.role == Role::Other) e.role = Role::WebServer;
      if (c.client_ip != us_ip) endpoint(c.client_ip, "");
    }
    // One arrow per frame.
    for (const auto& d : decoded_) {
      Arrow ar;
      ar.frame = d.frame;
      ar.time_us = d.time_us;
      ar.kind = d.kind;
      ar.connection = d.connection;
      ar.text = d.text;
      ar.from = d.src ? endpoint(d.src, d.src_mac) : endpoint_by_mac(d.src_mac, us);
      if (d.dst == 0xffffffffu || (d.dst == 0 && d.kind != Kind::Other)) {
        // A broadcast: to the DHCP server or router when the capture shows one.
        ar.to = ar.from == us ? (a_.gateway_ip ? endpoint(a_.gateway_ip, "") : dhcp_server_or(us)) : us;
      } else if (d.dst) {
        ar.to = endpoint(d.dst, d.kind == Kind::Arp ? "" : d.dst_mac);
      } else {
        ar.to = endpoint_by_mac(d.dst_mac, us);
      }
      // An ARP probe asks about our own (offered) address: it is aimed at the link, drawn to the router.
      if (ar.to == ar.from && a_.gateway_ip) ar.to = endpoint(a_.gateway_ip, "");
      a_.arrows.push_back(std::move(ar));
    }
  }

  std::size_t dhcp_server_or(std::size_t fallback) {
    for (const auto& m : a_.dhcp) {
      if (!m.from_client && m.server_id) return endpoint(m.server_id, "");
    }
    return fallback;
  }

  // The endpoint for an address (created on first sight). On the local link the MAC is recorded;
  // an address behind the router arrives with the router's MAC, which is not its own.
  std::size_t endpoint(std::uint32_t ip, const std::string& mac) {
    for (std::size_t i = 0; i < a_.endpoints.size(); ++i) {
      if (a_.endpoints[i].ip == ip && ip != 0) return i;
    }
    if (ip == 0) return endpoint_by_mac(mac, 0);
    Endpoint e;
    e.ip = ip;
    a_.endpoints.push_back(e);
    return a_.endpoints.size() - 1;
  }
  std::size_t endpoint_by_mac(const std::string& mac, std::size_t fallback) {
    if (mac.empty() || mac == "ff:ff:ff:ff:ff:ff") {
      if (a_.endpoints.empty()) {
        a_.endpoints.push_back(Endpoint{});
        return 0;
      }
      return fallback;
    }
    for (std::size_t i = 0; i < a_.endpoints.size(); ++i) {
      if (a_.endpoints[i].mac == mac) return i;
    }
    if (!a_.endpoints.empty() && a_.endpoints[a_.us].role == Role::Us && a_.endpoints[a_.us].mac.empty() && mac == client_mac_) {
      a_.endpoints[a_.us].mac = mac;
      return a_.us;
    }
    Endpoint e;
    e.mac = mac;
    a_.endpoints.push_back(e);
    return a_.endpoints.size() - 1;
  }

  const pcap::Capture& cap_;
  const tlsdec::KeyLog* keys_ = nullptr;
  Analysis a_;
  std::vector<Decoded> decoded_;
  std::map<std::tuple<std::uint32_t, std::uint16_t, std::uint32_t, std::uint16_t>, ConnState> conns_;
  std::map<std::uint32_t, std::string> names_;  // an address and the first name seen for it
  std::string client_mac_;
  std::string http_label_;
};

}  // namespace

Analysis analyze(const pcap::Capture& capture, const tlsdec::KeyLog* keys) { return Analyzer(capture, keys).run(); }

}  // namespace appkit::analysis
