// What a capture holds, told as conversations: the DHCP exchange, ARP, each DNS question and its
// answer (and which server in the hierarchy gave it), each TCP connection (handshake, bytes, the
// HTTP exchanges inside, who closed first and the segments of the close) — for `ustack explain`,
// the ladder diagram and the JSON record (apps/common/explain.*).
//
// Read first: RFC 2131 §3.1 (the DHCP exchange) and RFC 4039 (rapid commit); RFC 826 (ARP);
// RFC 1034 §4.3.2 and RFC 1035 §4.1.1 (recursive and iterative questions, referrals, the AA bit);
// RFC 9293 §3.5 and §3.6 (the handshake, the close, TIME-WAIT, Figures 12 and 13); RFC 9112 §6
// (how an HTTP/1.1 message's length is found).
//
// Everything here comes from the frames alone. The analysis is a pure function of the capture:
// hostile frames are counted as undecoded and skipped, never trusted (docs/architecture.md "Errors").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "apps/common/pcap_reader.hpp"
#include "apps/common/tls_decrypt.hpp"

namespace appkit::analysis {

// Who a column of the ladder stands for.
enum class Role { Us, Router, Resolver, Root, Tld, Authoritative, WebServer, Other };
const char* to_string(Role r);  // "us", "router", "resolver", "root", "TLD", "authoritative", "web server", "other"

struct Endpoint {
  std::uint32_t ip = 0;  // host order; 0 when only a MAC is known
  std::string mac;       // "02:…" when seen in an Ethernet header
  Role role = Role::Other;
  std::string name;      // a server's name from the DNS walk ("a.root-servers.net."), else empty
  std::string label() const;  // "us 10.77.0.123", "root a.root-servers.net. 198.51.100.1"
};

// One frame as an arrow of the ladder.
enum class Kind { Dhcp, Arp, Dns, Tcp, Other };
struct Arrow {
  std::uint64_t frame = 0;
  std::int64_t time_us = 0;  // since the capture's first frame
  std::size_t from = 0, to = 0;  // indexes into Analysis::endpoints
  Kind kind = Kind::Other;
  int connection = 0;  // TCP: the connection's number (1-based), else 0
  std::string text;    // short: "DHCPDISCOVER", "SYN", "GET /", "A? www.domain.com."
};

struct DhcpMessage {
  std::uint64_t frame = 0;
  std::int64_t time_us = 0;
  std::string type;  // "DHCPDISCOVER"
  bool from_client = false;
  std::uint32_t xid = 0;
  std::uint32_t yiaddr = 0, server_id = 0, requested_ip = 0;
  std::optional<std::uint32_t> lease_s;
  std::vector<std::uint32_t> routers, dns_servers;
  std::optional<std::uint32_t> subnet_mask;
  bool rapid_commit = false;
};

struct ArpMessage {
  std::uint64_t frame = 0;
  std::int64_t time_us = 0;
  bool request = true;
  std::uint32_t sender_ip = 0, target_ip = 0;
  std::string sender_mac;
};

struct DnsQuery {
  std::uint64_t query_frame = 0, response_frame = 0;  // 0: not in the capture
  std::int64_t query_us = 0, response_us = 0;
  std::uint32_t client = 0, server = 0;
  std::uint16_t id = 0;
  bool tcp = false;
  std::string name, type;  // "www.domain.com.", "A"
  bool rd = false;         // recursion desired: a question for a resolver (RFC 1035 §4.1.1)
  bool answered = false;
  std::string rcode;       // "NOERROR", "NXDOMAIN"
  bool aa = false;
  std::vector<std::string> answers;  // "203.0.113.80" for A, else the record's RDATA
  std::optional<std::uint32_t> ttl;  // the smallest answer TTL
  std::string referral;              // a referral's zone ("com.") when no answer came
  std::vector<std::string> referral_ns;
};

struct HttpExchange {
  int connection = 0;
  std::uint64_t request_frame = 0, response_frame = 0, response_end_frame = 0;
  std::int64_t request_us = 0, response_us = 0;
  std::string method, target, host;
  int status = 0;  // 0: no response in the capture
  std::string reason, content_type;
  std::uint64_t body_bytes = 0;  // as sent (before any content coding is undone)
  bool complete = false;         // the whole response is in the capture
  bool decrypted = false;        // read from TLS records opened with the key log (https)
};

struct Segment {
  std::uint64_t frame = 0;
  std::int64_t time_us = 0;
  bool from_client = false;
  std::string flags;  // tcpdump's letters: "S", "S.", ".", "P.", "F.", "R"
  std::uint32_t rel_seq = 0, rel_ack = 0;  // relative to each side's ISN, like Wireshark
  std::uint32_t len = 0;                   // payload bytes
};

struct TcpConnection {
  int number = 0;
  std::uint32_t client_ip = 0, server_ip = 0;
  std::uint16_t client_port = 0, server_port = 0;
  std::uint64_t first_frame = 0, last_frame = 0;
  std::int64_t first_us = 0, last_us = 0;
  std::uint64_t syn_frame = 0, synack_frame = 0, ack_frame = 0;  // 0: not seen
  std::int64_t handshake_us = -1;  // SYN to the ACK completing it
  std::uint32_t client_isn = 0, server_isn = 0;
  std::optional<std::uint16_t> client_mss, server_mss;
  std::optional<std::uint8_t> client_wscale, server_wscale;
  bool client_sack = false, server_sack = false;
  std::uint64_t bytes_to_server = 0, bytes_to_client = 0;  // payload, each byte once
  std::uint64_t segments = 0, retransmissions = 0;
  // A retransmission, as the capture shows it: a segment whose data starts before the bytes this
  // side had already sent in order (all or part of it seen before), or a SYN or a FIN (without
  // data) seen before. `retransmissions` counts them all; the list keeps the first 64.
  struct Retransmission {
    std::uint64_t frame = 0;
    std::int64_t time_us = 0;
    bool from_client = false;
    std::string what;  // "data", "the SYN", "the SYN+ACK", "the FIN"
  };
  std::uint64_t retransmissions_by_client = 0, retransmissions_by_server = 0;
  std::vector<Retransmission> retransmitted;
  bool tls = false;  // the client's first bytes are a TLS handshake record
  // With a key log (analyze()'s `keys`): what the ServerHello chose, whether the records were
  // opened, and if not, why (one line), with the frame where that became clear.
  std::string tls_version;  // "TLS 1.3", "TLS 1.2", "" (no ServerHello in the capture)
  std::string tls_cipher;   // "TLS_AES_128_GCM_SHA256"
  std::uint64_t tls_hello_frame = 0;  // the frame that completed the ServerHello
  std::int64_t tls_hello_us = 0;
  bool tls_decrypted = false;         // the keys were found and every record so far opened
  std::uint64_t tls_records_client = 0, tls_records_server = 0;  // records opened each way
  std::string tls_problem;            // "" or why the records were not (or no longer) decrypted
  std::uint64_t tls_problem_frame = 0;
  std::int64_t tls_problem_us = 0;
  std::int64_t ttfb_us = -1;  // the first request byte to the first response byte
  // The close: who sent the first FIN, the segments from it to the ACK of the last FIN.
  std::string first_fin;  // "client", "server", "" (none)
  std::uint64_t rst_frame = 0;
  std::string rst_from;   // "client", "server"
  std::vector<Segment> close;  // every segment from the first FIN on
  int close_segments = 0;      // from the first FIN to the ACK of the second, inclusive
  std::string close_kind;      // "three-segment close", "four-segment close", "simultaneous close", "reset", "" (open)
  std::uint64_t time_wait_from_frame = 0;  // the frame after which the first closer is in TIME-WAIT
  std::vector<int> http;  // indexes into Analysis::http
  std::vector<Segment> handshake;  // SYN, SYN+ACK, ACK as seen
};

struct Analysis {
  std::string format;
  std::uint64_t frames = 0, undecoded = 0, ipv6 = 0, skipped_other_links = 0;
  std::int64_t start_us = 0, end_us = 0;  // absolute, microseconds since the epoch
  std::vector<Endpoint> endpoints;
  std::size_t us = 0;  // index of "us" in endpoints (valid when !endpoints.empty())
  std::vector<Arrow> arrows;
  std::vector<DhcpMessage> dhcp;
  std::vector<ArpMessage> arp;
  std::vector<DnsQuery> dns;
  std::vector<TcpConnection> tcp;
  std::vector<HttpExchange> http;
  std::uint32_t gateway_ip = 0;  // the router, when the capture shows it
};

// `keys`: a key log (apps/common/tls_decrypt.hpp) to open the TLS connections with; their HTTP is
// then told like plain http's, each exchange marked `decrypted`.
Analysis analyze(const pcap::Capture& capture, const tlsdec::KeyLog* keys = nullptr);

std::string ip_string(std::uint32_t ip);

}  // namespace appkit::analysis
