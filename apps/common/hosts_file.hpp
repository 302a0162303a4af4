// The hosts file (hosts(5)): the first place a name is looked up, before DNS (docs/levels.md
// step 4; RFC 952 for the old format, RFC 1123 §2.1 for names that may start with a digit).
//
//   # comment                      everything after '#' is ignored, on any line
//   127.0.0.1   localhost
//   10.1.2.3    www.example.test  www   <- canonical name, then aliases
//   ::1         localhost ip6-localhost <- IPv6: parsed and skipped for now (no IPv6 in the stack)
//
// Names compare case-insensitively (RFC 4343) and a trailing dot is ignored. A line that is not
// "ADDRESS NAME..." is ignored with a warning naming the line, never an error: a hosts file with
// one bad line still answers for the others, as glibc's does.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "stack/util/result.hpp"
#include "stack/wire/ip_address.hpp"

namespace appkit {

struct HostsEntry {
  stack::wire::Ipv4Address address;
  std::vector<std::string> names;  // canonical name first, then aliases, as written
  std::size_t line = 0;
};

// Why a hosts file could not be loaded at all (a bad line is a warning, never this).
struct HostsFileError {
  std::string message;  // one line: "cannot read /etc/hosts"
};

struct HostsWarning {
  std::size_t line = 0;
  std::string text;  // "ignored: 'not-an-address' is not an IPv4 or IPv6 address"
};

class HostsFile {
 public:
  // `source` names the file in messages ("/etc/hosts").
  static HostsFile parse(std::string_view text, std::string source = "hosts");
  // Reads and parses `path`; the error when the file cannot be read or is too large.
  static stack::Result<HostsFile, HostsFileError> load(const std::string& path);

  // Every IPv4 address listed for `name` (canonical or alias), in file order, without repeats.
  // One hash lookup: the index is built at parse time, so a file that lists thousands of
  // addresses for one name costs linear time, not quadratic.
  std::vector<stack::wire::Ipv4Address> lookup(std::string_view name) const;

  const std::vector<HostsEntry>& entries() const { return entries_; }
  const std::vector<HostsWarning>& warnings() const { return warnings_; }
  std::size_t ipv6_lines_skipped() const { return ipv6_skipped_; }
  const std::string& source() const { return source_; }

  // "www.Example.TEST." -> "www.example.test"; nullopt when it is not a usable host name.
  static std::optional<std::string> normalise(std::string_view name);

 private:
  std::string source_;
  std::vector<HostsEntry> entries_;
  std::vector<HostsWarning> warnings_;
  std::size_t ipv6_skipped_ = 0;
  struct Addresses {
    std::vector<stack::wire::Ipv4Address> in_order;
    std::unordered_set<std::uint32_t> seen;
  };
  std::unordered_map<std::string, Addresses> by_name_;  // normalised name -> its addresses
};

}  // namespace appkit
