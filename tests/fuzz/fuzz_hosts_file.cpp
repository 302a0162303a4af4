// libFuzzer target: any bytes as a hosts file. Must never crash; every entry it keeps must have
// valid names that look themselves up.
//
// The fuzz build links the stack and drivers only (tests/CMakeLists.txt), not appkit, so the
// parser's one translation unit is compiled in here; it needs nothing beyond stack/ and std.
#include "apps/common/hosts_file.cpp"

#include <cstdlib>
#include <set>
#include <string>
#include <utility>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto f = appkit::HostsFile::parse(text, "fuzz");
  for (const auto& w : f.warnings()) {
    if (w.line == 0 || w.text.empty()) std::abort();
  }
  // Every (name, address) pair kept must be found by lookup. Each distinct pair is checked once:
  // checking every occurrence made this target cubic on files that repeat one name.
  std::set<std::pair<std::string, std::uint32_t>> checked;
  for (const auto& e : f.entries()) {
    if (e.names.empty()) std::abort();
    for (const auto& n : e.names) {
      const auto norm = appkit::HostsFile::normalise(n);
      if (!norm) std::abort();
      if (!checked.insert({*norm, e.address.value}).second) continue;
      bool found = false;
      for (const auto& a : f.lookup(n)) found = found || a == e.address;
      if (!found) std::abort();
    }
  }
  (void)f.lookup(text.substr(0, 300));
  return 0;
}
