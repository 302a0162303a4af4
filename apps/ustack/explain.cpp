// ustack explain: narrate any capture (ours, tcpdump's, Wireshark's) at the seven levels of
// docs/levels.md, and draw it as a ladder diagram and a JSON record (apps/common/explain.hpp).
//
//   ustack explain FILE.pcap [--level N] [--ladder FILE.svg] [--json FILE] [--keylog KEYS]
//
// --keylog: an NSS key log (SSLKEYLOGFILE, as curl, browsers and `ustack get --keylog` write it)
// opens the https connections, whose HTTP is then told like plain http's (apps/common/tls_decrypt.hpp).
#include <cstdio>
#include <string>
#include <vector>

#include "apps/common/cli.hpp"
#include "apps/common/conversations.hpp"
#include "apps/common/explain.hpp"
#include "apps/common/pcap_reader.hpp"
#include "apps/common/tls_decrypt.hpp"
#include "apps/ustack/commands.hpp"

namespace ustack_cli {

int run_explain(const std::vector<std::string>& args) {
  using appkit::ExitCode;
  std::uint64_t level = 7;
  std::string ladder, json, keylog;
  appkit::ArgParser parser("ustack explain", "ustack explain FILE.pcap [--level N] [--ladder FILE.svg] [--json FILE] [--keylog KEYS]");
  parser.set_summary("narrate any packet capture by the seven levels; ladder diagram and JSON record; https read with a key log");
  parser.option("--level", "N", "narrate levels 1..N (docs/levels.md; default 7)", [&](const std::string& v) {
    return appkit::parse_u64(v, level) && level >= 1 && level <= 7;
  });
  parser.option("--ladder", "FILE.svg", "draw the capture as a ladder diagram (SVG, one arrow per frame; FILE.html: in a web page)",
                [&](const std::string& v) { ladder = v; return !v.empty(); });
  parser.option("--json", "FILE", "write what the capture holds as one JSON record (README \"The JSON record\")",
                [&](const std::string& v) { json = v; return !v.empty(); });
  parser.option("--keylog", "KEYS",
                "decrypt the https connections with this key log (SSLKEYLOGFILE format: TLS 1.2 and 1.3, AES-GCM and "
                "ChaCha20-Poly1305 suites) and tell the HTTP inside",
                [&](const std::string& v) { keylog = v; return !v.empty(); });
  const auto parsed = parser.parse(args);
  if (const auto rc = parser.early_exit(parsed)) return *rc;
  if (parsed.positional.size() != 1) {
    std::fprintf(stderr, "ustack explain: needs exactly one capture file (pcap or pcapng)\n");
    return static_cast<int>(ExitCode::Usage);
  }
  const std::string& path = parsed.positional.front();
  std::vector<std::byte> storage;
  auto read = appkit::pcap::read_file(path, storage);
  if (!read) {
    std::fprintf(stderr, "ustack explain: %s\n", read.error().message.c_str());
    return static_cast<int>(ExitCode::Failure);
  }
  appkit::tlsdec::KeyLog keys;
  if (!keylog.empty()) {
    auto read_keys = appkit::tlsdec::read_keylog(keylog);
    if (!read_keys) {
      std::fprintf(stderr, "ustack explain: %s\n", read_keys.error().c_str());
      return static_cast<int>(ExitCode::Failure);
    }
    keys = std::move(*read_keys);
  }
  const auto a = appkit::analysis::analyze(*read, keylog.empty() ? nullptr : &keys);
  std::printf("%s: %llu frames (%s)\n", path.c_str(), static_cast<unsigned long long>(a.frames), a.format.c_str());
  if (!keylog.empty()) {
    std::printf("key log %s: %llu secret(s) for %zu TLS session(s)", keylog.c_str(), static_cast<unsigned long long>(keys.used),
                keys.by_client_random.size());
    if (keys.malformed) std::printf(", %llu malformed line(s) skipped", static_cast<unsigned long long>(keys.malformed));
    std::printf("\n");
  }
  for (const auto& line : appkit::explain::narrate(a, static_cast<int>(level))) std::printf("%s\n", line.c_str());
  if (auto w = appkit::explain::write_outputs(a, ladder, json, "ladder of " + path); !w) {
    std::fprintf(stderr, "ustack explain: %s\n", w.error().c_str());
    return static_cast<int>(ExitCode::Failure);
  }
  return 0;
}

}  // namespace ustack_cli
