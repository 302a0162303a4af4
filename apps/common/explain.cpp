// Narration, ladder and JSON from the conversations of a capture: see explain.hpp.
#include "apps/common/explain.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <set>

namespace appkit::explain {

using analysis::Analysis;
using analysis::Role;
using analysis::ip_string;

namespace {

std::string ms(std::int64_t us) {
  char buf[48];
  if (us >= 0 && us < 10000) {  // short steps keep their microseconds: "0.046 ms"
    std::snprintf(buf, sizeof buf, "%lld.%03lld ms", static_cast<long long>(us / 1000), static_cast<long long>(us % 1000));
  } else {
    std::snprintf(buf, sizeof buf, "%lld.%01lld ms", static_cast<long long>(us / 1000), static_cast<long long>((us % 1000) / 100));
  }
  return buf;
}

// Text from a capture may hold any bytes: valid UTF-8 is kept, every other byte becomes '?', so
// the SVG and the JSON stay well-formed whatever the frames carried.
std::string clean_utf8(const std::string& in) {
  std::string out;
  std::size_t i = 0;
  while (i < in.size()) {
    const auto c = static_cast<unsigned char>(in[i]);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    bool ok = n != 0 && i + n <= in.size() && !(n == 2 && c < 0xc2);
    for (std::size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(in[i + k]) & 0xc0) == 0x80;
    if (ok && n == 1 && c < 0x20 && c != '\t') ok = false;
    if (ok) {
      out.append(in, i, n);
      i += n;
    } else {
      out += '?';
      ++i;
    }
  }
  return out;
}

struct Line {
  std::int64_t time_us;
  std::uint64_t frame;  // 0: a summary line (after the frames it sums up)
  int order;            // keeps lines of one frame in the order they were made
  int level;
  std::string text;
};

class Lines {
 public:
  explicit Lines(int level) : level_(level) {}
  void add(int level, std::int64_t t, std::uint64_t frame, std::string text) {
    if (level > level_) return;
    lines_.push_back({t, frame, next_++, level, std::move(text)});
  }
  // One clock, in capture order: a line about a frame goes with that frame (at its time); a
  // summary line goes after the last frame at or before its time.
  std::vector<std::string> done(const std::vector<analysis::Arrow>& frames) {
    auto key = [&](const Line& l) -> std::pair<std::uint64_t, int> {
      if (l.frame) return {l.frame * 2, 0};
      std::uint64_t last = 0;  // a scan, not a binary search: a capture's clock may step back
      for (const auto& f : frames) {
        if (f.time_us <= l.time_us) last = std::max(last, f.frame);
      }
      return {last * 2 + 1, 0};
    };
    std::stable_sort(lines_.begin(), lines_.end(), [&](const Line& x, const Line& y) {
      const auto kx = key(x), ky = key(y);
      return kx.first != ky.first ? kx.first < ky.first : x.order < y.order;
    });
    std::vector<std::string> out;
    for (const auto& l : lines_) {
      char head[48];
      std::snprintf(head, sizeof head, "[L%d %7lld.%01lld ms] ", l.level, static_cast<long long>(l.time_us / 1000),
                    static_cast<long long>((l.time_us % 1000) / 100));
      // Text from the capture (a request target, a reason phrase) may hold control bytes: a
      // line stays one line.
      out.push_back(head + (l.frame ? "[frame " + std::to_string(l.frame) + "] " : std::string()) + clean_utf8(l.text));
    }
    return out;
  }

 private:
  int level_;
  int next_ = 0;
  std::vector<Line> lines_;
};

std::string side(const analysis::TcpConnection& c, const std::string& who) {
  return who == "client" ? "the client " + ip_string(c.client_ip) : "the server " + ip_string(c.server_ip);
}

std::string port_reason(std::uint16_t port) {
  if (port == 80) return " (80 is http's default port; a port in the URL would override it)";
  if (port == 443) return " (443 is https's default port; a port in the URL would override it)";
  return " (not a default port: the URL named it)";
}

}  // namespace

std::vector<std::string> narrate(const Analysis& a, int level) {
  Lines L(level);
  const std::uint32_t us_ip = a.endpoints.empty() ? 0 : a.endpoints[a.us].ip;
  const std::int64_t end = a.end_us - a.start_us;

  // Level 1: one line — what was fetched, and that it came back.
  {
    std::string line;
    const analysis::HttpExchange* first = nullptr;
    int answered = 0;
    for (const auto& x : a.http) {
      if (x.method.empty()) continue;
      if (!first) first = &x;
      if (x.status) ++answered;
    }
    if (first) {
      const auto& c = a.tcp[static_cast<std::size_t>(first->connection - 1)];
      const std::string host = first->host.empty() ? ip_string(c.server_ip) : first->host;
      line = ip_string(c.client_ip) + " asked for " + (first->decrypted ? "https://" : "http://") + host + first->target +
             (first->decrypted ? " (read from the TLS records with the key log)" : "");
      if (first->status) {
        line += " → the page came back (" + std::to_string(first->status) + " " + first->reason + ", " +
                std::to_string(first->body_bytes) + " bytes)";
      } else {
        line += " → no response in the capture";
      }
      const auto more = static_cast<int>(a.http.size()) - 1;
      if (more > 0) line += ", and " + std::to_string(more) + " more request(s) (" + std::to_string(answered) + " answered in all)";
      L.add(1, first->status ? first->response_us : first->request_us, 0, line);
    } else {
      int tls = 0;
      for (const auto& c : a.tcp) tls += c.tls ? 1 : 0;
      if (tls) {
        L.add(1, 0, 0, std::to_string(tls) + " encrypted (TLS) connection(s): the pages inside cannot be read without the keys");
      } else {
        L.add(1, 0, 0, "no web page was fetched in this capture (" + std::to_string(a.frames) + " frames)");
      }
    }
  }

  // Level 7: DHCP, ARP, the route.
  std::optional<std::uint32_t> mask;
  for (const auto& m : a.dhcp) {
    std::string t = "DHCP: " + m.type + (m.from_client ? " from us" : " from " + ip_string(m.server_id ? m.server_id : 0));
    if (m.type == "DHCPDISCOVER") t += " (broadcast: who can give us an address?)";
    if (m.type == "DHCPREQUEST") {
      t += m.server_id ? " (we take the offer of " + ip_string(m.server_id) + ")" : " (INIT-REBOOT or renewal: may we keep " + ip_string(m.requested_ip) + "?)";
    }
    if (m.type == "DHCPOFFER" || m.type == "DHCPACK") t += ": " + ip_string(m.yiaddr);
    if (m.rapid_commit) t += " with rapid commit (RFC 4039: DISCOVER → ACK, two messages)";
    L.add(7, m.time_us, m.frame, t);
    if (!m.from_client && m.type == "DHCPACK") {
      std::string s = "DHCP: we are " + ip_string(m.yiaddr);
      if (m.subnet_mask) {
        mask = m.subnet_mask;
        s += "/" + std::to_string(std::popcount(*m.subnet_mask));
      }
      if (!m.routers.empty()) s += ", router " + ip_string(m.routers.front());
      if (!m.dns_servers.empty()) s += ", DNS " + ip_string(m.dns_servers.front());
      if (m.lease_s) s += ", lease " + std::to_string(*m.lease_s) + " s";
      L.add(7, m.time_us, m.frame, s);
    }
  }
  for (const auto& m : a.arp) {
    if (m.request) {
      std::string t = "ARP: who-has " + ip_string(m.target_ip) + "? tell " + (m.sender_ip ? ip_string(m.sender_ip) : "0.0.0.0");
      if (m.sender_ip == 0) t += " (a probe: is the address free? RFC 5227)";
      L.add(7, m.time_us, m.frame, t);
    } else {
      L.add(7, m.time_us, m.frame, "ARP: " + ip_string(m.sender_ip) + " is-at " + m.sender_mac);
    }
  }
  if (a.gateway_ip && !a.tcp.empty() && a.tcp.front().client_ip == us_ip) {
    const auto& c = a.tcp.front();
    const bool off_link = mask ? ((c.server_ip ^ us_ip) & *mask) != 0 : c.server_ip != a.gateway_ip;
    if (off_link) {
      L.add(7, c.first_us, c.first_frame,
            "route: " + ip_string(c.server_ip) + " is not on our subnet, so its packets go to the router " + ip_string(a.gateway_ip) +
                "; a router doing NAT (as home routers do) rewrites our source (" + ip_string(c.client_ip) + " port " +
                std::to_string(c.client_port) + ") on the way out — the router's side of the mapping is not in this capture");
    }
  }

  // Levels 2 and 5: DNS.
  for (const auto& q : a.dns) {
    std::string server;
    Role role = Role::Other;
    for (const auto& e : a.endpoints) {
      if (e.ip == q.server) {
        server = e.label();
        role = e.role;
      }
    }
    const bool walk = !q.rd;
    std::string t = walk ? "DNS walk: asked " + server + " (no recursion): " + q.type + "? " + q.name
                         : "DNS: asked " + server + " (recursion desired: it walks the hierarchy if it does not know): " + q.type + "? " + q.name;
    L.add(5, q.query_us, q.query_frame, t);
    if (!q.answered) {
      L.add(5, q.query_us, q.query_frame, "DNS: no answer to that question in the capture");
      continue;
    }
    std::string r = "DNS: " + std::string(to_string(role)) + " answered in " + ms(q.response_us - q.query_us) + ": " + q.rcode;
    if (!q.answers.empty()) {
      r += ", " + q.answers.front();
      if (q.answers.size() > 1) r += " (+" + std::to_string(q.answers.size() - 1) + " more)";
      if (q.ttl) r += ", TTL " + std::to_string(*q.ttl) + " s";
      if (q.aa) r += " (authoritative)";
    } else if (!q.referral.empty()) {
      r += ", a referral to " + q.referral + " (" + (q.referral_ns.empty() ? "" : q.referral_ns.front()) + ")";
    } else if (q.rcode == "NOERROR") {
      r += ", but no " + q.type + " record for that name (NODATA)";
    } else if (q.rcode == "NXDOMAIN") {
      r += " (no such name" + std::string(q.aa ? ", said by the zone's authoritative server" : "") + ")";
    }
    L.add(5, q.response_us, q.response_frame, r);
    if (q.rd && !q.answers.empty() && q.type == "A") {
      std::string n = q.name;
      if (n.size() > 1 && n.back() == '.') n.pop_back();
      L.add(2, q.response_us, q.response_frame,
            n + " is " + q.answers.front() + " (DNS: " + (q.ttl ? "TTL " + std::to_string(*q.ttl) + " s, " : "") + "from " +
                ip_string(q.server) + " in " + ms(q.response_us - q.query_us) + ")");
    }
  }

  // Levels 2, 3, 4, 6: connections and HTTP.
  for (const auto& c : a.tcp) {
    const std::string n = "TCP #" + std::to_string(c.number);
    L.add(3, c.first_us, c.first_frame,
          n + ": connecting from " + ip_string(c.client_ip) + " port " + std::to_string(c.client_port) + " to " + ip_string(c.server_ip) +
              " port " + std::to_string(c.server_port) + port_reason(c.server_port));
    for (const auto& s : c.handshake) {
      std::string t = n + " " + (s.from_client ? "→ " : "← ");
      if (s.flags == "S") {
        t += "SYN: client ISN " + std::to_string(c.client_isn);
        if (c.client_mss) t += ", MSS " + std::to_string(*c.client_mss);
        if (c.client_sack) t += ", SACK ok";
        if (c.client_wscale) t += ", window scale " + std::to_string(*c.client_wscale);
      } else if (s.flags == "S.") {
        t += "SYN+ACK: server ISN " + std::to_string(c.server_isn);
        if (c.server_mss) t += ", MSS " + std::to_string(*c.server_mss);
        if (c.server_sack) t += ", SACK ok";
        if (c.server_wscale) t += ", window scale " + std::to_string(*c.server_wscale);
      } else {
        t += "ACK: handshake complete" + (c.handshake_us >= 0 ? " in " + ms(c.handshake_us) : std::string());
      }
      L.add(6, s.time_us, s.frame, t);
    }
    for (const auto& r : c.retransmitted) {
      L.add(6, r.time_us, r.frame,
            n + " " + (r.from_client ? "→" : "←") + " retransmission: the " + (r.from_client ? "client" : "server") +
                (r.what == "data" ? " sends again data an earlier frame of the capture carried" : " sends " + r.what + " again"));
    }
    if (c.tls) L.add(3, c.first_us, c.first_frame, n + ": the client's first bytes are a TLS handshake: what follows is encrypted");
    if (c.tls_hello_frame) {
      L.add(3, c.tls_hello_us, c.tls_hello_frame,
            n + " ← ServerHello: " + c.tls_version + ", " + c.tls_cipher +
                (c.tls_decrypted ? ": decrypted with the key log" : ""));
    }
    if (!c.tls_problem.empty()) {
      const bool some = c.tls_records_client + c.tls_records_server > 0;
      L.add(3, c.tls_problem_us, c.tls_problem_frame,
            n + (some ? ": decryption stops after " + std::to_string(c.tls_records_client) + " record(s) from the client and " +
                            std::to_string(c.tls_records_server) + " from the server: "
                      : ": not decrypted: ") +
                c.tls_problem);
    }
    for (const int i : c.http) {
      const auto& x = a.http[static_cast<std::size_t>(i)];
      if (!x.method.empty()) {
        const std::string host = x.host.empty() ? ip_string(c.server_ip) : x.host;
        L.add(2, x.request_us, x.request_frame,
              std::string("fetching ") + (x.decrypted ? "https://" : "http://") + host + x.target + " from " + ip_string(c.server_ip));
        L.add(3, x.request_us, x.request_frame,
              n + " > " + x.method + " " + x.target + " HTTP/1.1" + (x.host.empty() ? "" : " (Host: " + x.host + ")") +
                  (x.decrypted ? " [decrypted]" : ""));
      }
      if (x.status) {
        L.add(3, x.response_us, x.response_frame, n + " < " + std::to_string(x.status) + " " + x.reason + (x.decrypted ? " [decrypted]" : ""));
        L.add(4, x.response_us, x.response_frame,
              "response: " + std::to_string(x.body_bytes) + " bytes" + (x.content_type.empty() ? "" : " of " + x.content_type) +
                  (x.complete ? (x.response_end_frame != x.response_frame ? ", last byte in frame " + std::to_string(x.response_end_frame) : "")
                              : ", incomplete in the capture"));
      }
    }
    // The close.
    if (!c.first_fin.empty()) {
      std::string frames;
      for (int k = 0; k < c.close_segments && k < static_cast<int>(c.close.size()); ++k) {
        const auto& s = c.close[static_cast<std::size_t>(k)];
        if (!frames.empty()) frames += ", ";
        frames += std::to_string(s.frame) + " " + (s.from_client ? "→" : "←") + " " + s.flags;
      }
      const auto& fin = c.close.front();
      L.add(6, fin.time_us, fin.frame, n + ": " + side(c, c.first_fin) + " sends the first FIN: it closes first");
      std::string t = n + ": " + c.close_kind + " in " + std::to_string(c.close_segments) + " segments (" + frames + ")";
      if (c.close_kind == "three-segment close") t += ": the second FIN rode on the ACK of the first";
      if (c.close_kind == "four-segment close") t += ": the first FIN was acknowledged before the second was sent";
      const auto& last = c.close[static_cast<std::size_t>(std::max(0, std::min(c.close_segments, static_cast<int>(c.close.size())) - 1))];
      L.add(6, last.time_us, last.frame, t);
      if (c.time_wait_from_frame) {
        L.add(6, last.time_us, last.frame,
              n + ": " + side(c, c.first_fin) + " is in TIME-WAIT from here (2·MSL; Linux holds it 60 s); the capture ends " +
                  ms(end - last.time_us) + " later, so its end is not in it");
      }
    } else if (c.rst_frame) {
      L.add(6, c.last_us, c.rst_frame, n + ": reset by " + side(c, c.rst_from) + " (RST): no TIME-WAIT on either side");
    } else {
      L.add(6, c.last_us, c.last_frame, n + ": still open when the capture ends");
    }
  }
  for (auto& line : summary(a)) L.add(6, end, 0, std::move(line));
  return L.done(a.arrows);
}

// "1 segment by the client (frame 14), 2 by the server (frames 30, 31)": the frames as far as the
// connection's list keeps them (its first 64).
static std::string retransmission_counts(const analysis::TcpConnection& c) {
  std::string out;
  for (const bool client : {true, false}) {
    const std::uint64_t n = client ? c.retransmissions_by_client : c.retransmissions_by_server;
    if (n == 0) continue;
    std::string frames;
    std::size_t listed = 0;
    for (const auto& r : c.retransmitted) {
      if (r.from_client != client) continue;
      if (listed == 8) {
        frames += ", …";
        break;
      }
      frames += (listed++ ? ", " : "") + std::to_string(r.frame);
    }
    if (!out.empty()) out += ", ";
    out += std::to_string(n) + (out.empty() ? (n == 1 ? " segment" : " segments") : "") + " by the " +
           (client ? "client" : "server") + (frames.empty() ? "" : (n == 1 ? " (frame " : " (frames ") + frames + ")");
  }
  return out;
}

std::vector<std::string> summary(const Analysis& a) {
  std::vector<std::string> out;
  if (a.tcp.empty()) return out;
  std::size_t most_open = 0;
  for (const auto& c : a.tcp) {
    std::size_t open = 0;
    for (const auto& o : a.tcp) {
      if (o.first_us <= c.first_us && o.last_us >= c.first_us) ++open;
    }
    most_open = std::max(most_open, open);
  }
  std::set<std::uint32_t> servers;
  for (const auto& c : a.tcp) servers.insert(c.server_ip);
  out.push_back("summary: " + std::to_string(a.tcp.size()) + " TCP connection(s) to " + std::to_string(servers.size()) +
                " server(s), at most " + std::to_string(most_open) + " open at once");
  for (const auto& c : a.tcp) {
    char row[200];
    // Within the 100 columns of a level-6 line: "  #1 port 59705: 5 req, 937 B up, 50035 B down, …".
    std::snprintf(row, sizeof row, "  #%d port %u: %zu req, %llu B up, %llu B down, first FIN: %s, %d-segment close",
                  c.number, c.client_port, c.http.size(), static_cast<unsigned long long>(c.bytes_to_server),
                  static_cast<unsigned long long>(c.bytes_to_client), c.first_fin.empty() ? "none" : c.first_fin.c_str(),
                  c.close_segments);
    out.emplace_back(row);
    // Which side sent each again, and in which frames: each has its own line above.
    if (c.retransmissions) out.push_back("  #" + std::to_string(c.number) + " retransmitted: " + retransmission_counts(c));
  }
  // The steps' times, each from the frames that start and end it.
  std::string times;
  auto add = [&](const std::string& t) { times += (times.empty() ? "" : ", ") + t; };
  const analysis::DhcpMessage* dhcp_first = a.dhcp.empty() ? nullptr : &a.dhcp.front();
  for (const auto& m : a.dhcp) {
    if (dhcp_first && !m.from_client && m.type == "DHCPACK") {
      add("DHCP " + ms(m.time_us - dhcp_first->time_us) + " (frames " + std::to_string(dhcp_first->frame) + "-" + std::to_string(m.frame) + ")");
      break;
    }
  }
  for (const auto& q : a.dns) {
    if (q.rd && q.answered) {
      add("DNS " + ms(q.response_us - q.query_us) + " (frames " + std::to_string(q.query_frame) + "-" + std::to_string(q.response_frame) + ")");
      break;
    }
  }
  const auto& first = a.tcp.front();
  if (first.handshake_us >= 0) add("handshake #1 " + ms(first.handshake_us));
  if (first.ttfb_us >= 0) add("request to first response byte #1 " + ms(first.ttfb_us));
  add("whole capture " + ms(a.end_us - a.start_us));
  out.push_back("times: " + times);
  return out;
}

// ------------------------------------------------------------------------------------------------
// The ladder.

namespace {

std::string xml(const std::string& raw) {
  std::string o;
  for (const char c : clean_utf8(raw)) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      default:
        o += c;
    }
  }
  return o;
}

int role_rank(Role r) {
  switch (r) {
    case Role::Us: return 0;
    case Role::Router: return 1;
    case Role::Resolver: return 2;
    case Role::Root: return 3;
    case Role::Tld: return 4;
    case Role::Authoritative: return 5;
    case Role::WebServer: return 6;
    case Role::Other: return 7;
  }
  return 7;
}

const char* kind_colour(analysis::Kind k) {
  switch (k) {
    case analysis::Kind::Dhcp: return "#8e44ad";
    case analysis::Kind::Arp: return "#d35400";
    case analysis::Kind::Dns: return "#16a085";
    case analysis::Kind::Tcp: return "#2c3e50";
    case analysis::Kind::Other: return "#7f8c8d";
  }
  return "#7f8c8d";
}

}  // namespace

std::string ladder_svg(const Analysis& a, const std::string& title) {
  // Columns: endpoints by role; a web server gets one lane per connection, side by side.
  struct Column {
    std::string heading, sub;
    std::size_t endpoint;
    int connection;  // 0: the endpoint's only column
  };
  std::vector<std::size_t> order(a.endpoints.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) { return role_rank(a.endpoints[x].role) < role_rank(a.endpoints[y].role); });
  std::vector<Column> cols;
  std::map<std::pair<std::size_t, int>, std::size_t> col_of;
  for (const std::size_t e : order) {
    const auto& ep = a.endpoints[e];
    std::string heading = analysis::to_string(ep.role);
    std::string sub = ep.ip ? ip_string(ep.ip) : ep.mac;
    if (!ep.name.empty()) sub = ep.name + " " + sub;
    bool lanes = false;
    if (ep.role == Role::WebServer || ep.role == Role::Other) {
      for (const auto& c : a.tcp) {
        if (c.server_ip != ep.ip || a.endpoints.empty()) continue;
        lanes = true;
        col_of[{e, c.number}] = cols.size();
        cols.push_back({heading + " #" + std::to_string(c.number), ip_string(ep.ip) + ":" + std::to_string(c.server_port) + " ← :" + std::to_string(c.client_port), e, c.number});
      }
    }
    if (!lanes) {
      col_of[{e, 0}] = cols.size();
      cols.push_back({heading, sub, e, 0});
    }
  }
  auto column = [&](std::size_t e, int conn) -> std::size_t {
    if (auto it = col_of.find({e, conn}); it != col_of.end()) return it->second;
    if (auto it = col_of.find({e, 0}); it != col_of.end()) return it->second;
    for (const auto& [k, v] : col_of) {
      if (k.first == e) return v;
    }
    return 0;
  };

  constexpr int kLeft = 150, kColW = 170, kTop = 70, kRow = 24;
  const int width = kLeft + static_cast<int>(std::max<std::size_t>(cols.size(), 1)) * kColW + 20;
  const int height = kTop + static_cast<int>(a.arrows.size()) * kRow + 40;
  auto cx = [&](std::size_t c) { return kLeft + static_cast<int>(c) * kColW + kColW / 2; };
  std::string s;
  s += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  s += "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" + std::to_string(width) + "\" height=\"" + std::to_string(height) +
       "\" viewBox=\"0 0 " + std::to_string(width) + " " + std::to_string(height) + "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  s += "<title>" + xml(title) + "</title>\n";
  s += "<defs><marker id=\"head\" markerWidth=\"8\" markerHeight=\"8\" refX=\"7\" refY=\"4\" orient=\"auto\"><path d=\"M0,0 L8,4 L0,8 z\" fill=\"#444\"/></marker></defs>\n";
  s += "<rect x=\"0\" y=\"0\" width=\"" + std::to_string(width) + "\" height=\"" + std::to_string(height) + "\" fill=\"#ffffff\"/>\n";
  s += "<text x=\"8\" y=\"18\" font-size=\"13\" font-weight=\"bold\">" + xml(title) + "</text>\n";
  s += "<text x=\"8\" y=\"" + std::to_string(kTop - 8) + "\" fill=\"#555\">frame  time</text>\n";
  // Lifelines.
  for (std::size_t c = 0; c < cols.size(); ++c) {
    const int x = cx(c);
    s += "<g class=\"column\"><text x=\"" + std::to_string(x) + "\" y=\"36\" text-anchor=\"middle\" font-weight=\"bold\">" + xml(cols[c].heading) +
         "</text><text x=\"" + std::to_string(x) + "\" y=\"50\" text-anchor=\"middle\" fill=\"#555\">" + xml(cols[c].sub) + "</text>";
    s += "<line x1=\"" + std::to_string(x) + "\" y1=\"" + std::to_string(kTop - 4) + "\" x2=\"" + std::to_string(x) + "\" y2=\"" +
         std::to_string(height - 20) + "\" stroke=\"#bbb\" stroke-dasharray=\"4 3\"/></g>\n";
  }
  // TIME-WAIT: a band on the first closer's column from the ACK that starts it to the end.
  std::map<std::uint64_t, std::size_t> row_of;
  for (std::size_t r = 0; r < a.arrows.size(); ++r) row_of[a.arrows[r].frame] = r;
  for (const auto& c : a.tcp) {
    if (!c.time_wait_from_frame) continue;
    const auto it = row_of.find(c.time_wait_from_frame);
    if (it == row_of.end()) continue;
    std::size_t e = 0;
    const std::uint32_t ip = c.first_fin == "client" ? c.client_ip : c.server_ip;
    for (std::size_t i = 0; i < a.endpoints.size(); ++i) {
      if (a.endpoints[i].ip == ip) e = i;
    }
    const int x = cx(column(e, c.first_fin == "client" ? 0 : c.number)) - 6 + (c.number % 4) * 3;
    const int y = kTop + static_cast<int>(it->second) * kRow + kRow / 2;
    s += "<g class=\"time-wait\"><title>" + xml("TCP #" + std::to_string(c.number) + ": TIME-WAIT on the side that closed first (" + c.first_fin +
                                                 "), from frame " + std::to_string(c.time_wait_from_frame) + " to the end of the capture") +
         "</title><rect x=\"" + std::to_string(x) + "\" y=\"" + std::to_string(y) + "\" width=\"5\" height=\"" + std::to_string(height - 20 - y) +
         "\" fill=\"#f1c40f\" fill-opacity=\"0.6\"/><text x=\"" + std::to_string(x + 7) + "\" y=\"" + std::to_string(y + 12) + "\" fill=\"#b7950b\">TIME-WAIT #" +
         std::to_string(c.number) + "</text></g>\n";
  }
  // The arrows, one per frame.
  for (std::size_t r = 0; r < a.arrows.size(); ++r) {
    const auto& ar = a.arrows[r];
    const int y = kTop + static_cast<int>(r) * kRow + kRow / 2;
    const std::size_t from = column(ar.from, ar.connection), to = column(ar.to, ar.connection);
    const int x1 = cx(from), x2 = cx(to);
    const std::string label = ar.connection ? "#" + std::to_string(ar.connection) + " " + ar.text : ar.text;
    const std::string colour = kind_colour(ar.kind);
    s += "<g class=\"arrow\" data-frame=\"" + std::to_string(ar.frame) + "\"><title>" +
         xml("frame " + std::to_string(ar.frame) + " at " + ms(ar.time_us) + ": " + a.endpoints[ar.from].label() + " → " + a.endpoints[ar.to].label() + ": " + label) +
         "</title>";
    s += "<text x=\"8\" y=\"" + std::to_string(y + 4) + "\" fill=\"#555\">" + std::to_string(ar.frame) + "  " + xml(ms(ar.time_us)) + "</text>";
    if (from == to) {
      s += "<path d=\"M" + std::to_string(x1) + "," + std::to_string(y - 6) + " h24 v12 h-20\" fill=\"none\" stroke=\"" + colour + "\" marker-end=\"url(#head)\"/>";
      s += "<text x=\"" + std::to_string(x1 + 28) + "\" y=\"" + std::to_string(y + 4) + "\" fill=\"" + colour + "\">" + xml(label) + "</text>";
    } else {
      const int dir = x2 > x1 ? 1 : -1;
      s += "<line x1=\"" + std::to_string(x1) + "\" y1=\"" + std::to_string(y) + "\" x2=\"" + std::to_string(x2 - dir * 2) + "\" y2=\"" + std::to_string(y) +
           "\" stroke=\"" + colour + "\" stroke-width=\"1.5\" marker-end=\"url(#head)\"/>";
      s += "<text x=\"" + std::to_string((x1 + x2) / 2) + "\" y=\"" + std::to_string(y - 3) + "\" text-anchor=\"middle\" fill=\"" + colour + "\">" + xml(label) + "</text>";
    }
    s += "</g>\n";
  }
  s += "</svg>\n";
  return s;
}

// ------------------------------------------------------------------------------------------------
// The JSON record.

namespace {

std::string js(const std::string& raw) {
  std::string o = "\"";
  for (const char c : clean_utf8(raw)) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      o += '\\';
      o += c;
    } else if (u < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      o += buf;
    } else {
      o += c;
    }
  }
  return o + "\"";
}
std::string num(std::uint64_t v) { return std::to_string(v); }
std::string inum(std::int64_t v) { return std::to_string(v); }
std::string boolean(bool b) { return b ? "true" : "false"; }
template <class T>
std::string opt(const std::optional<T>& v) { return v ? std::to_string(*v) : "null"; }
std::string ipj(std::uint32_t ip) { return ip ? js(ip_string(ip)) : "null"; }
std::string frame_or_null(std::uint64_t f) { return f ? num(f) : "null"; }

}  // namespace

std::string json_record(const Analysis& a) {
  std::string s = "{\n";
  s += "  \"format\": " + js(a.format) + ",\n";
  s += "  \"frames\": " + num(a.frames) + ",\n";
  s += "  \"undecoded_frames\": " + num(a.undecoded) + ",\n";
  s += "  \"start_unix_us\": " + inum(a.start_us) + ",\n";
  s += "  \"duration_us\": " + inum(a.end_us - a.start_us) + ",\n";
  s += "  \"us\": " + (a.endpoints.empty() ? std::string("null") : ipj(a.endpoints[a.us].ip)) + ",\n";
  s += "  \"router\": " + ipj(a.gateway_ip) + ",\n";
  s += "  \"endpoints\": [";
  for (std::size_t i = 0; i < a.endpoints.size(); ++i) {
    const auto& e = a.endpoints[i];
    s += std::string(i ? "," : "") + "\n    {\"role\": " + js(analysis::to_string(e.role)) + ", \"ip\": " + ipj(e.ip) + ", \"mac\": " +
         (e.mac.empty() ? "null" : js(e.mac)) + ", \"name\": " + (e.name.empty() ? "null" : js(e.name)) + "}";
  }
  s += "\n  ],\n  \"dhcp\": [";
  for (std::size_t i = 0; i < a.dhcp.size(); ++i) {
    const auto& m = a.dhcp[i];
    s += std::string(i ? "," : "") + "\n    {\"frame\": " + num(m.frame) + ", \"time_us\": " + inum(m.time_us) + ", \"type\": " + js(m.type) +
         ", \"from_client\": " + boolean(m.from_client) + ", \"xid\": " + num(m.xid) + ", \"yiaddr\": " + ipj(m.yiaddr) +
         ", \"server_id\": " + ipj(m.server_id) + ", \"requested_ip\": " + ipj(m.requested_ip) + ", \"lease_s\": " + opt(m.lease_s) +
         ", \"router\": " + (m.routers.empty() ? "null" : ipj(m.routers.front())) + ", \"dns\": " +
         (m.dns_servers.empty() ? "null" : ipj(m.dns_servers.front())) + ", \"rapid_commit\": " + boolean(m.rapid_commit) + "}";
  }
  s += "\n  ],\n  \"arp\": [";
  for (std::size_t i = 0; i < a.arp.size(); ++i) {
    const auto& m = a.arp[i];
    s += std::string(i ? "," : "") + "\n    {\"frame\": " + num(m.frame) + ", \"time_us\": " + inum(m.time_us) + ", \"op\": " +
         js(m.request ? "request" : "reply") + ", \"sender_ip\": " + js(ip_string(m.sender_ip)) + ", \"sender_mac\": " + js(m.sender_mac) +
         ", \"target_ip\": " + js(ip_string(m.target_ip)) + "}";
  }
  s += "\n  ],\n  \"dns\": [";
  for (std::size_t i = 0; i < a.dns.size(); ++i) {
    const auto& q = a.dns[i];
    std::string role = "other";
    for (const auto& e : a.endpoints) {
      if (e.ip == q.server) role = analysis::to_string(e.role);
    }
    std::string answers, ns;
    for (const auto& x : q.answers) answers += (answers.empty() ? "" : ", ") + js(x);
    for (const auto& x : q.referral_ns) ns += (ns.empty() ? "" : ", ") + js(x);
    s += std::string(i ? "," : "") + "\n    {\"query_frame\": " + num(q.query_frame) + ", \"response_frame\": " + frame_or_null(q.response_frame) +
         ", \"query_us\": " + inum(q.query_us) + ", \"response_us\": " + (q.answered ? inum(q.response_us) : "null") + ", \"client\": " +
         ipj(q.client) + ", \"server\": " + ipj(q.server) + ", \"server_role\": " + js(role) + ", \"transport\": " + js(q.tcp ? "tcp" : "udp") +
         ", \"name\": " + js(q.name) + ", \"type\": " + js(q.type) + ", \"recursion_desired\": " + boolean(q.rd) + ", \"rcode\": " +
         (q.answered ? js(q.rcode) : "null") + ", \"authoritative\": " + boolean(q.aa) + ", \"answers\": [" + answers + "], \"ttl\": " + opt(q.ttl) +
         ", \"referral\": " + (q.referral.empty() ? "null" : js(q.referral)) + ", \"referral_ns\": [" + ns + "]}";
  }
  s += "\n  ],\n  \"connections\": [";
  for (std::size_t i = 0; i < a.tcp.size(); ++i) {
    const auto& c = a.tcp[i];
    std::string close_frames;
    for (int k = 0; k < c.close_segments && k < static_cast<int>(c.close.size()); ++k) {
      const auto& seg = c.close[static_cast<std::size_t>(k)];
      close_frames += std::string(k ? ", " : "") + "{\"frame\": " + num(seg.frame) + ", \"from\": " + js(seg.from_client ? "client" : "server") +
                      ", \"flags\": " + js(seg.flags) + "}";
    }
    std::string requests;
    for (const int h : c.http) requests += (requests.empty() ? "" : ", ") + std::to_string(h);
    s += std::string(i ? "," : "") + "\n    {\"number\": " + std::to_string(c.number) + ", \"client\": " +
         js(ip_string(c.client_ip) + ":" + std::to_string(c.client_port)) + ", \"server\": " +
         js(ip_string(c.server_ip) + ":" + std::to_string(c.server_port)) + ", \"first_frame\": " + num(c.first_frame) +
         ", \"last_frame\": " + num(c.last_frame) + ",\n     \"handshake\": {\"syn_frame\": " + frame_or_null(c.syn_frame) +
         ", \"synack_frame\": " + frame_or_null(c.synack_frame) + ", \"ack_frame\": " + frame_or_null(c.ack_frame) + ", \"time_us\": " +
         (c.handshake_us >= 0 ? inum(c.handshake_us) : "null") + ", \"client_isn\": " + num(c.client_isn) + ", \"server_isn\": " +
         num(c.server_isn) + ", \"client_mss\": " + opt(c.client_mss) + ", \"server_mss\": " + opt(c.server_mss) +
         ", \"client_wscale\": " + opt(c.client_wscale) + ", \"server_wscale\": " + opt(c.server_wscale) + ", \"client_sack\": " +
         boolean(c.client_sack) + ", \"server_sack\": " + boolean(c.server_sack) + "},\n     \"tls\": " + boolean(c.tls) +
         ", \"tls_version\": " + (c.tls_version.empty() ? "null" : js(c.tls_version)) + ", \"tls_cipher\": " +
         (c.tls_cipher.empty() ? "null" : js(c.tls_cipher)) + ", \"tls_decrypted\": " + boolean(c.tls_decrypted) +
         ", \"tls_problem\": " + (c.tls_problem.empty() ? "null" : js(c.tls_problem)) +
         ", \"ttfb_us\": " + (c.ttfb_us >= 0 ? inum(c.ttfb_us) : "null") + ", \"bytes_to_server\": " + num(c.bytes_to_server) +
         ", \"bytes_to_client\": " + num(c.bytes_to_client) + ", \"segments\": " + num(c.segments) + ", \"retransmissions\": " +
         num(c.retransmissions) + ", \"retransmissions_by_client\": " + num(c.retransmissions_by_client) +
         ", \"retransmissions_by_server\": " + num(c.retransmissions_by_server) + ", \"http\": [" + requests + "],\n     \"close\": {\"first_fin\": " +
         (c.first_fin.empty() ? "null" : js(c.first_fin)) + ", \"kind\": " + (c.close_kind.empty() ? "null" : js(c.close_kind)) +
         ", \"segments\": " + std::to_string(c.close_segments) + ", \"frames\": [" + close_frames + "], \"time_wait\": " +
         (c.time_wait_from_frame ? js(c.first_fin) : "null") + ", \"time_wait_from_frame\": " + frame_or_null(c.time_wait_from_frame) +
         ", \"rst_frame\": " + frame_or_null(c.rst_frame) + "}}";
  }
  s += "\n  ],\n  \"http\": [";
  for (std::size_t i = 0; i < a.http.size(); ++i) {
    const auto& x = a.http[i];
    s += std::string(i ? "," : "") + "\n    {\"connection\": " + std::to_string(x.connection) + ", \"request_frame\": " +
         frame_or_null(x.request_frame) + ", \"response_frame\": " + frame_or_null(x.response_frame) + ", \"response_end_frame\": " +
         frame_or_null(x.response_end_frame) + ", \"method\": " + (x.method.empty() ? "null" : js(x.method)) + ", \"target\": " +
         (x.method.empty() ? "null" : js(x.target)) + ", \"host\": " + (x.host.empty() ? "null" : js(x.host)) + ", \"status\": " +
         (x.status ? std::to_string(x.status) : "null") + ", \"reason\": " + (x.status ? js(x.reason) : "null") + ", \"content_type\": " +
         (x.content_type.empty() ? "null" : js(x.content_type)) + ", \"body_bytes\": " + num(x.body_bytes) + ", \"complete\": " +
         boolean(x.complete) + ", \"decrypted\": " + boolean(x.decrypted) + "}";
  }
  s += "\n  ]\n}\n";
  return s;
}

std::string ladder_html(const Analysis& a, const std::string& title) {
  std::string svg = ladder_svg(a, title);
  svg.erase(0, svg.find("<svg"));  // inline SVG in HTML takes no XML declaration
  return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + xml(title) +
         "</title>\n<style>body{margin:0} g.arrow:hover line,g.arrow:hover path{stroke-width:3} g.arrow:hover text{font-weight:bold}</style>"
         "</head>\n<body>\n" + svg + "</body></html>\n";
}

stack::Result<void, std::string> write_outputs(const Analysis& a, const std::string& ladder_path,
                                               const std::string& json_path, const std::string& title) {
  if (!ladder_path.empty()) {
    const bool html = ladder_path.size() >= 5 && ladder_path.compare(ladder_path.size() - 5, 5, ".html") == 0;
    if (auto w = write_file(ladder_path, html ? ladder_html(a, title) : ladder_svg(a, title)); !w) return w;
  }
  if (!json_path.empty()) {
    if (auto w = write_file(json_path, json_record(a)); !w) return w;
  }
  return {};
}

stack::Result<void, std::string> write_outputs_from_pcap(const std::string& pcap_path, const std::string& ladder_path,
                                                         const std::string& json_path, const std::string& title) {
  std::vector<std::byte> storage;
  auto read = pcap::read_file(pcap_path, storage);
  if (!read) return stack::Err{read.error().message};
  return write_outputs(analysis::analyze(*read), ladder_path, json_path, title);
}

stack::Result<void, std::string> write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return stack::Err{path + ": cannot write: " + std::strerror(errno)};
  out << text;
  out.close();
  if (!out) return stack::Err{path + ": write failed"};
  return {};
}

}  // namespace appkit::explain
