#include "apps/common/nat_view.hpp"

#include <fstream>
#include <map>
#include <sstream>

#include "stack/wire/ethernet.hpp"
#include "stack/wire/ipv4.hpp"
#include "stack/wire/tcp.hpp"

namespace appkit {

namespace {

std::string endpoint(std::uint32_t addr, std::uint16_t port) {
  return stack::wire::Ipv4Address{addr}.describe() + ":" + std::to_string(port);
}

// One /proc/net/nf_conntrack line: the original direction's tuple, then the reply direction's.
struct Tuples {
  std::string proto;
  std::vector<std::map<std::string, std::string>> dirs;  // [0] original, [1] reply
};
Tuples parse_line(const std::string& line) {
  Tuples t;
  std::istringstream in(line);
  std::string word;
  int field = 0;
  while (in >> word) {
    if (++field == 3) t.proto = word;
    const auto eq = word.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = word.substr(0, eq);
    if (key == "src") t.dirs.emplace_back();
    if (!t.dirs.empty() && t.dirs.back().count(key) == 0) t.dirs.back()[key] = word.substr(eq + 1);
  }
  return t;
}

}  // namespace

bool NatView::add(stack::wire::Ipv4Address src, std::uint16_t sport, stack::wire::Ipv4Address dst, std::uint16_t dport) {
  const Flow f{src.value, dst.value, sport, dport};
  for (const auto& g : flows_) {
    if (g.src == f.src && g.sport == f.sport && g.dst == f.dst && g.dport == f.dport) return false;
  }
  flows_.push_back(f);
  return true;
}

std::optional<std::string> NatView::on_frame(bool outgoing, std::span<const std::byte> frame,
                                             std::optional<stack::wire::Ipv4Cidr> ours,
                                             std::optional<stack::wire::Ipv4Address> router) {
  if (!outgoing || !ours || !router) return std::nullopt;
  auto eth = stack::wire::ethernet::View::checked(frame);
  if (!eth || eth->ethertype() != stack::wire::EtherType::Ipv4) return std::nullopt;
  auto ip = stack::wire::ipv4::View::checked(eth->payload());
  if (!ip || ip->protocol() != stack::wire::IpProtocol::Tcp) return std::nullopt;
  auto tcp = stack::wire::tcp::View::checked(ip->payload());
  if (!tcp) return std::nullopt;
  auto seg = stack::wire::tcp::Repr::parse(*tcp);
  if (!seg || !seg->flags.syn || seg->ack || ours->contains(ip->dst())) return std::nullopt;
  if (!add(ip->src(), seg->src_port, ip->dst(), seg->dst_port)) return std::nullopt;  // a retransmitted SYN
  return "NAT: the router " + router->describe() + " rewrites our source " + endpoint(ip->src().value, seg->src_port) +
         " (to " + endpoint(ip->dst().value, seg->dst_port) + ") to its public address and a port of its choosing, and back";
}

std::vector<std::string> NatView::mappings(const std::string& table_path) const {
  std::vector<std::string> out;
  if (flows_.empty()) return out;
  std::ifstream in(table_path);
  if (!in) {
    out.push_back("NAT: the router's side is in its connection table (" + table_path +
                  "), which this program cannot read (root only): `conntrack -L` there shows it");
    return out;
  }
  std::vector<Tuples> table;
  for (std::string line; std::getline(in, line);) {
    auto t = parse_line(line);
    if (t.proto == "tcp" && t.dirs.size() >= 2) table.push_back(std::move(t));
  }
  for (const auto& f : flows_) {
    const Tuples* hit = nullptr;
    for (const auto& t : table) {
      const auto& o = t.dirs[0];
      if (o.count("src") && o.at("src") == stack::wire::Ipv4Address{f.src}.describe() && o.count("sport") &&
          o.at("sport") == std::to_string(f.sport) && o.count("dst") && o.at("dst") == stack::wire::Ipv4Address{f.dst}.describe() &&
          o.count("dport") && o.at("dport") == std::to_string(f.dport)) {
        hit = &t;
        break;
      }
    }
    if (!hit) {
      out.push_back("NAT: " + endpoint(f.src, f.sport) + " is not in this namespace's connection table (" + table_path +
                    "): the NAT is on another machine");
      continue;
    }
    // The reply direction's destination is what the server saw as its client: the public side.
    const auto& r = hit->dirs[1];
    const std::string pub_addr = r.count("dst") ? r.at("dst") : "?";
    const std::string pub_port = r.count("dport") ? r.at("dport") : "?";
    const bool kept = pub_port == std::to_string(f.sport);
    out.push_back("NAT: " + endpoint(f.src, f.sport) + " → " + endpoint(f.dst, f.dport) + " left the router as " + pub_addr + ":" +
                  pub_port + " (its connection table, " + table_path + "): " +
                  (kept ? "Linux kept our source port" : "Linux gave it another source port"));
  }
  return out;
}

}  // namespace appkit
