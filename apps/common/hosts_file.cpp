#include "apps/common/hosts_file.hpp"

#include <fstream>

namespace appkit {

namespace {

constexpr std::size_t kMaxFileBytes = 16 * 1024 * 1024;  // a hosts file is small; refuse a runaway one

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && is_space(line[i])) ++i;
    std::size_t j = i;
    while (j < line.size() && !is_space(line[j])) ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

// RFC 4291 §2.2 text forms, checked loosely: hex groups and colons, at most one "::", an optional
// trailing dotted quad and an optional %zone. Enough to tell an IPv6 line from junk.
bool looks_like_ipv6(std::string_view s) {
  if (const auto pct = s.find('%'); pct != std::string_view::npos) {
    if (pct + 1 >= s.size()) return false;
    s = s.substr(0, pct);
  }
  if (s.find(':') == std::string_view::npos || s.size() > 45) return false;
  if (const auto dc = s.find("::"); dc != std::string_view::npos && s.find("::", dc + 1) != std::string_view::npos) {
    return false;
  }
  // An embedded IPv4 tail ("::ffff:10.1.2.3").
  if (const auto last = s.rfind(':'); s.find('.', last) != std::string_view::npos) {
    if (!stack::wire::Ipv4Address::parse(s.substr(last + 1))) return false;
    s = s.substr(0, last + 1);
  }
  int groups = 0, run = 0;
  for (char c : s) {
    if (c == ':') {
      if (run) ++groups;
      run = 0;
      continue;
    }
    const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!hex || ++run > 4) return false;
  }
  if (run) ++groups;
  return groups <= 8;
}

}  // namespace

std::optional<std::string> HostsFile::normalise(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  // RFC 1035 §2.3.4 / §3.1: 253 characters of text (255 octets on the wire), labels of 1–63.
  if (name.empty() || name.size() > 253) return std::nullopt;
  std::string out;
  out.reserve(name.size());
  std::size_t label = 0;
  for (char c : name) {
    if (c == '.') {
      if (label == 0) return std::nullopt;
      label = 0;
      out += c;
      continue;
    }
    // RFC 952/1123 letters, digits and hyphens; underscores too, as glibc accepts them.
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok || ++label > 63) return std::nullopt;
    out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  if (label == 0) return std::nullopt;
  return out;
}

HostsFile HostsFile::parse(std::string_view text, std::string source) {
  HostsFile f;
  f.source_ = std::move(source);
  std::size_t line_no = 0;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(start, nl - start);
    ++line_no;
    start = nl + 1;
    if (const auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    const auto fields = split_fields(line);
    if (fields.empty()) {
      if (nl == text.size()) break;
      continue;
    }
    auto warn = [&](std::string what) { f.warnings_.push_back(HostsWarning{line_no, std::move(what)}); };
    auto printable = [](std::string_view s) {
      std::string out;
      for (char c : s.substr(0, 64)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
      return out;
    };
    const auto address = stack::wire::Ipv4Address::parse(fields[0]);
    if (!address) {
      if (looks_like_ipv6(fields[0])) {
        ++f.ipv6_skipped_;  // NOT IMPLEMENTED(RFC 8200): no IPv6 in the stack yet; the line is skipped.
      } else {
        warn("ignored: '" + printable(fields[0]) + "' is not an IPv4 or IPv6 address");
      }
    } else if (fields.size() < 2) {
      warn("ignored: address " + address->describe() + " has no host name");
    } else {
      HostsEntry e{*address, {}, line_no};
      for (std::size_t i = 1; i < fields.size(); ++i) {
        if (auto n = normalise(fields[i])) {
          e.names.push_back(std::string(fields[i]));
          auto& slot = f.by_name_[*n];
          if (slot.seen.insert(address->value).second) slot.in_order.push_back(*address);
        } else {
          warn("ignored name '" + printable(fields[i]) + "': not a valid host name");
        }
      }
      if (!e.names.empty()) f.entries_.push_back(std::move(e));
    }
    if (nl == text.size()) break;
  }
  return f;
}

stack::Result<HostsFile, HostsFileError> HostsFile::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return stack::Err{HostsFileError{"cannot read " + path}};
  std::string text;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxFileBytes) {
      return stack::Err{HostsFileError{path + " is larger than 16 MiB; not a hosts file"}};
    }
  }
  return parse(text, path);
}

std::vector<stack::wire::Ipv4Address> HostsFile::lookup(std::string_view name) const {
  const auto want = normalise(name);
  if (!want) return {};
  const auto it = by_name_.find(*want);
  return it == by_name_.end() ? std::vector<stack::wire::Ipv4Address>{} : it->second.in_order;
}

}  // namespace appkit
