#include "apps/common/cli.hpp"

#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstdlib>

#include "apps/common/version.hpp"

namespace appkit {

ArgParser::ArgParser(std::string program, std::string usage)
    : program_(std::move(program)), usage_(std::move(usage)) {}

void ArgParser::flag(const std::string& name, std::string help, std::function<void()> on_set) {
  specs_[name] = Spec{"", std::move(help), std::move(on_set), nullptr};
  order_.push_back(name);
}

void ArgParser::option(const std::string& name, std::string metavar, std::string help,
                       std::function<bool(const std::string&)> on_value) {
  specs_[name] = Spec{std::move(metavar), std::move(help), nullptr, std::move(on_value)};
  order_.push_back(name);
}

bool parse_probability(const std::string& text, double& out) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !(v >= 0.0 && v <= 1.0)) return false;
  out = v;
  return true;
}

bool parse_u64(const std::string& text, std::uint64_t& out) {
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && ptr == text.data() + text.size() && !text.empty();
}

void ArgParser::add_net_options(NetOptions& net) {
  auto set = [](auto& field) {
    return [&field](const std::string& v) { field = v; return !v.empty(); };
  };
  option("--tap", "NAME", "TAP device to attach to (default tap0)", [&net](const std::string& v) {
    net.tap = v;
    net.tap_given = true;
    return !v.empty();
  });
  flag("--create-tap", "create the TAP device if it does not exist (needs CAP_NET_ADMIN; it goes away at exit)",
       [&net] { net.create_tap = true; });
  option("--iface", "NAME", "use an existing Ethernet interface (veth, NIC) via AF_PACKET, own MAC (needs CAP_NET_RAW)",
         [&net](const std::string& v) {
           net.tap = v;
           net.driver = LinkDriver::Packet;
           return !v.empty();
         });
  checks_.push_back([&net]() -> std::optional<std::string> {
    if (net.tap_given && net.driver == LinkDriver::Packet) return "--tap and --iface exclude each other: pick one link";
    return std::nullopt;
  });
  option("--mac", "MAC", "our MAC address (default: a stable locally administered one)", set(net.mac));
  option("--ip", "ADDR/PREFIX", "static address; without it the program runs DHCP", set(net.ip));
  flag("--no-acd", "use --ip at once, without first probing that nobody else has it (RFC 5227)",
       [&net] { net.acd = false; });
  option("--gateway", "ADDR", "default router (with --ip)", set(net.gateway));
  option("--dns", "ADDR", "DNS server (with --ip, or to override DHCP's)", set(net.dns));
  option("--hosts", "FILE", "hosts file consulted before DNS (default /etc/hosts)", set(net.hosts));
  option("--pcap", "FILE", "write every frame, both directions, to a pcap file", set(net.pcap));
  option("--drop-chance", "P", "drop each frame with probability P (fault injection)",
         [&net](const std::string& v) { return parse_probability(v, net.drop_chance); });
  option("--corrupt-chance", "P", "corrupt each frame with probability P (fault injection)",
         [&net](const std::string& v) { return parse_probability(v, net.corrupt_chance); });
  option("--reorder-chance", "P", "delay each frame by 0..5 ms with probability P, reordering it (fault injection)",
         [&net](const std::string& v) { return parse_probability(v, net.reorder_chance); });
  option("--seed", "N", "seed for fault injection and randomness",
         [&net](const std::string& v) { return parse_u64(v, net.seed); });
  flag("--stats", "print the stack's counters (every drop reason) at exit", [&net] { net.stats = true; });
  flag("--no-offload", "no offloads: one wire-sized frame per read and per write, no TCP super-frames",
       [&net] { net.offload = false; });
}

ArgParser::Result ArgParser::parse(const std::vector<std::string>& args) const {
  Result r;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") { r.help = true; continue; }
    if (a == "--version" || a == "-V") { r.version = true; continue; }
    if (a == "--help-man") { r.man = true; continue; }
    if (a == "--list-options") { r.list_options = true; continue; }
    if (a == "--") {
      r.positional.insert(r.positional.end(), args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
    if (a.size() > 1 && a[0] == '-') {
      std::string name = a;
      std::optional<std::string> value;
      if (const auto eq = a.find('='); eq != std::string::npos) {
        name = a.substr(0, eq);
        value = a.substr(eq + 1);
      }
      auto it = specs_.find(name);
      // A one-letter option with its value glued on ("-c1", "-W1", "-m5"), as getopt(3) reads it.
      if (it == specs_.end() && !value && a[1] != '-' && a.size() > 2) {
        if (const auto short_it = specs_.find(a.substr(0, 2)); short_it != specs_.end() && !short_it->second.metavar.empty()) {
          it = short_it;
          name = a.substr(0, 2);
          value = a.substr(2);
        }
      }
      if (it == specs_.end()) {
        r.error = "unknown option " + name + " (see " + program_ + " --help)";
        return r;
      }
      const Spec& spec = it->second;
      if (spec.metavar.empty()) {
        if (value) { r.error = name + " takes no value"; return r; }
        spec.on_flag();
        continue;
      }
      if (!value) {
        if (i + 1 >= args.size()) { r.error = name + " needs a value (" + spec.metavar + ")"; return r; }
        value = args[++i];
      }
      if (!spec.on_value(*value)) {
        r.error = "bad value for " + name + ": '" + *value + "' (expected " + spec.metavar + ")";
        return r;
      }
      continue;
    }
    r.positional.push_back(a);
  }
  if (r.help || r.version || r.man || r.list_options) return r;  // nothing else matters, not even a missing argument
  for (const auto& check : checks_) {
    if (auto e = check()) {
      r.error = *e;
      return r;
    }
  }
  return r;
}

std::optional<int> ArgParser::early_exit(const Result& result, std::FILE* out, std::FILE* err) const {
  if (result.man) {
    std::fputs(man_page().c_str(), out);
    return 0;
  }
  if (result.list_options) {
    for (const auto& name : order_) std::fprintf(out, "%s\n", name.c_str());
    std::fputs("--help\n--version\n", out);
    return 0;
  }
  if (result.help) {
    std::fputs(help_text().c_str(), out);
    return 0;
  }
  if (result.version) {
    std::fprintf(out, "%s %s\n", program_.c_str(), kVersion);
    return 0;
  }
  if (result.error) {
    std::fprintf(err, "%s: %s\n", program_.c_str(), result.error->c_str());
    return static_cast<int>(ExitCode::Usage);
  }
  return std::nullopt;
}

std::string ArgParser::help_text() const {
  std::string out = "usage: " + usage_ + "\n\noptions:\n";
  for (const auto& name : order_) {
    const Spec& s = specs_.at(name);
    std::string left = "  " + name + (s.metavar.empty() ? "" : " " + s.metavar);
    if (left.size() < 28) left.resize(28, ' ');
    else left += "  ";
    out += left + s.help + "\n";
  }
  out += "  --help                    show this help\n  --version                 show the version\n";
  return out;
}

namespace {

// Text for a man(7) page: backslashes doubled, '-' as the minus sign, and no line starting with
// a control character ('.' or '\'').
std::string roff(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == '\\') out += "\\e";
    else if (c == '-') out += "\\-";
    else out += c;
  }
  std::string safe;
  bool line_start = true;
  for (const char c : out) {
    if (line_start && (c == '.' || c == '\'')) safe += "\\&";
    safe += c;
    line_start = c == '\n';
  }
  return safe;
}

}  // namespace

std::string ArgParser::man_page() const {
  std::string page_name = program_;
  for (auto& c : page_name) c = c == ' ' ? '-' : c;
  std::string upper = page_name;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string m = ".\\\" generated by " + program_ + " --help-man from its option table; do not edit\n";
  m += ".TH \"" + upper + "\" \"1\" \"\" \"ustack " + std::string(kVersion) + "\" \"User Commands\"\n";
  m += ".SH NAME\n" + roff(page_name) + " \\- " + roff(summary_.empty() ? program_ : summary_) + "\n";
  m += ".SH SYNOPSIS\n.nf\n" + roff(usage_) + "\n.fi\n";
  m += ".SH OPTIONS\n";
  for (const auto& name : order_) {
    const Spec& spec = specs_.at(name);
    m += ".TP\n.B " + roff(name) + (spec.metavar.empty() ? "" : " \\fI" + roff(spec.metavar) + "\\fR") + "\n";
    m += roff(spec.help) + "\n";
  }
  m += ".TP\n.BR \\-h \", \" \\-\\-help\nthis list of options, and exit 0\n";
  m += ".TP\n.BR \\-V \", \" \\-\\-version\n\"" + roff(program_) + " VERSION\" on stdout, and exit 0\n";
  for (const auto& [title, text] : sections_) {
    std::string upper_title = title;
    for (auto& c : upper_title) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    m += ".SH " + upper_title + "\n";
    // Paragraphs: blank lines in `text`.
    std::size_t at = 0;
    while (at <= text.size()) {
      auto end = text.find("\n\n", at);
      if (end == std::string::npos) end = text.size();
      m += ".PP\n" + roff(text.substr(at, end - at)) + "\n";
      at = end + 2;
    }
  }
  m += ".SH SEE ALSO\n.BR ustack (1),\n.BR minibrowser (1),\nthe README of the ustack repository\n";
  return m;
}

}  // namespace appkit
