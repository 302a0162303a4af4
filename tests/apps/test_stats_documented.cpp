// Every counter that --stats can print is documented in README.md's "--stats" section, and
// every counter documented there exists. The names come from the code itself: the stack's and
// the fault injector's and pcap writer's stats() (run here), every drop reason's counter_name(),
// and, for what cannot run in a unit test (the TAP and AF_PACKET devices need a kernel, the
// programs' own counters live in their executables), the name literals of their stats printers.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>
#include <cctype>

#include "drivers/fault_injector.hpp"
#include "drivers/memory_link.hpp"
#include "drivers/pcap_writer.hpp"
#include "stack/events.hpp"
#include "stack/iface/interface.hpp"
#include "stack/socket/dhcp_client.hpp"
#include "stack/wire/dhcpv4.hpp"

namespace {

const std::filesystem::path kRoot = USTACK_SOURCE_DIR;  // tests/CMakeLists.txt

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  REQUIRE_MESSAGE(in.good(), "cannot read " << p.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Every name that follows `open` in `text` (letters, digits, '_' and '.') and is followed by `close`.
std::vector<std::string> between(const std::string& text, const std::string& open, const std::string& close) {
  std::vector<std::string> out;
  for (auto at = text.find(open); at != std::string::npos; at = text.find(open, at + 1)) {
    auto end = at + open.size();
    while (end < text.size() && (std::isalnum(static_cast<unsigned char>(text[end])) || text[end] == '_' || text[end] == '.')) ++end;
    if (end > at + open.size() && text.compare(end, close.size(), close) == 0) out.push_back(text.substr(at + open.size(), end - at - open.size()));
  }
  return out;
}

// Every name between `open` and `close` in the file, mapped through `name`; at least `min` of
// them, so a printer rewritten beyond the pattern fails here instead of going unchecked.
template <class F>
void literals(std::set<std::string>& out, const char* file, const char* open, const char* close, std::size_t min, F name) {
  const auto found = between(slurp(kRoot / file), open, close);
  const std::string where = std::string(file) + ": names between " + open + " and " + close;
  INFO(where);
  CHECK(found.size() >= min);
  for (const auto& n : found) out.insert(name(n));
}

std::set<std::string> counters_in_code() {
  std::set<std::string> names;
  // The stack: every counter of a fresh Interface (eth, icmp, arp, udp, tcp, tcp.drop.*), and
  // the drops below TCP, which it prints only when not zero.
  stack::iface::InterfaceConfig config;
  stack::iface::Interface iface(config, [](std::span<const std::byte>) {});
  for (const auto& [name, value] : iface.stats()) names.insert(name);
  for (std::size_t i = 0; i < stack::kDropReasonCount; ++i) {
    names.insert("drop." + std::string(stack::counter_name(static_cast<stack::DropReason>(i))));
  }
  // The device chain, prefixed with the link's name (DEV in the README): the fault injector and
  // the pcap writer over a memory link, whose own counters (tests only) are left out.
  drivers::MemoryLink link;
  std::set<std::string> inner;
  for (const auto& [name, value] : link.end_a().stats()) inner.insert(name);
  drivers::FaultInjector faults(link.end_a(), drivers::FaultConfig::symmetric(0.1, 0.1, 1));
  const auto path = std::filesystem::temp_directory_path() / "ustack-stats-documented.pcap";
  auto file = drivers::PcapFile::open(path.string());
  REQUIRE(file.ok());
  drivers::PcapWriter pcap(faults, std::move(*file),
                           drivers::wall_clock_from_epoch(0));
  for (const auto& [name, value] : pcap.stats()) {
    if (!inner.count(name)) names.insert("DEV." + name);
  }
  std::filesystem::remove(path);
  // The TAP and AF_PACKET devices: `{"rx_frames", rx_.frames}` (FdDevice's shared counters) and
  // `{"link_wait_ms", counters_.link_wait_ms}` (the driver's own) in their stats().
  const auto dev = [](const std::string& n) { return "DEV." + n; };
  literals(names, "drivers/tap_device.cpp", "{\"", "\", ", 10, dev);
  literals(names, "drivers/packet_device.cpp", "{\"", "\", ", 12, dev);
  // The DHCP client: its two totals, and one counter per reason a reply is ignored or malformed.
  literals(names, "stack/socket/dhcp_client.cpp", "{\"dhcp.", "\", ", 2, [](const std::string& n) { return "dhcp." + n; });
  for (std::size_t i = 0; i < stack::socket::kDhcpIgnoreCount; ++i) {
    names.insert(std::string("dhcp.ignored.") + stack::socket::counter_name(static_cast<stack::socket::DhcpIgnore>(i)));
  }
  for (std::size_t i = 0; i < stack::wire::dhcpv4::kParseErrorCount; ++i) {
    names.insert(std::string("dhcp.malformed.") + stack::wire::dhcpv4::counter_name(static_cast<stack::wire::dhcpv4::ParseError>(i)));
  }
  // The programs' own: Host::print_stats, ustack serve ("serve.status_" + the status: NNN),
  // ustack resolve.
  literals(names, "apps/common/host.cpp", "\"host.", "\"", 1, [](const std::string& n) { return "host." + n; });
  literals(names, "apps/ustack/serve.cpp", "\"serve.", "\"", 11,
           [](const std::string& n) { return "serve." + n + (n.back() == '_' ? "NNN" : ""); });
  // ustack serve --queues N: serve.queueK.NAME for each queue K.
  literals(names, "apps/ustack/serve.cpp", "queue_counter(q.index, \"", "\"", 4,
           [](const std::string& n) { return "serve.queueK." + n; });
  literals(names, "apps/ustack/resolve.cpp", "{\"dns.", "\", ", 8, [](const std::string& n) { return "dns." + n; });
  return names;
}

// The counters named in the first column of the tables of README.md's "--stats" section.
std::set<std::string> counters_in_readme() {
  const std::string readme = slurp(kRoot / "README.md");
  const auto start = readme.find("\n### `--stats`");
  REQUIRE_MESSAGE(start != std::string::npos, "README.md has no \"### `--stats`\" section");
  const auto end = readme.find("\n## ", start + 1);
  const std::string section = readme.substr(start, end == std::string::npos ? std::string::npos : end - start);
  const auto rows = between(section, "\n| `", "` |");
  return {rows.begin(), rows.end()};
}

}  // namespace

TEST_CASE("stats_documented: every --stats counter has its row in README.md, and every row a counter") {
  const auto code = counters_in_code();
  const auto readme = counters_in_readme();
  // The names the whole section hinges on are really collected (the checks above cannot pass empty).
  for (const char* must : {"tcp.drop.accept_queue_full", "tcp.drop.syn_queue_full", "tcp.drop.socket_table_full",
                           "tcp.time_wait_evicted", "tcp.time_wait_records", "tcp.sockets", "drop.ipv4.bad_checksum",
                           "DEV.rx_frames", "DEV.fault.tx_dropped", "DEV.pcap.records", "serve.status_NNN"}) {
    CHECK_MESSAGE(code.count(must), must << " was not found in the code");
  }
  for (const auto& name : code) CHECK_MESSAGE(readme.count(name), name << " is printed by --stats but not documented in README.md");
  for (const auto& name : readme) CHECK_MESSAGE(code.count(name), name << " is documented in README.md but no --stats prints it");
}
