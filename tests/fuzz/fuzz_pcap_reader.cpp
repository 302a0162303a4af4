// libFuzzer target: any bytes as a capture file (classic pcap or pcapng), then the whole analysis
// and every output of `ustack explain`. Must never crash or read out of bounds; a file is either
// one error line or frames whose spans lie inside the input, and the ladder has one arrow per frame.
#include <cstdlib>
#include <span>
#include <string>

#include "apps/common/conversations.hpp"
#include "apps/common/explain.hpp"
#include "apps/common/pcap_reader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  const auto r = appkit::pcap::parse(bytes);
  if (!r) {
    if (r.error().message.empty() || r.error().message.find('\n') != std::string::npos) std::abort();
    return 0;
  }
  const auto& cap = *r;
  for (const auto& f : cap.frames) {
    if (f.link.data() < bytes.data() || f.link.data() + f.link.size() > bytes.data() + bytes.size()) std::abort();
    if (!f.network.empty() && (f.network.data() < f.link.data() || f.network.data() + f.network.size() > f.link.data() + f.link.size())) std::abort();
  }
  const auto a = appkit::analysis::analyze(cap);
  if (a.arrows.size() != cap.frames.size()) std::abort();
  for (const auto& ar : a.arrows) {
    if (ar.from >= a.endpoints.size() || ar.to >= a.endpoints.size()) std::abort();
  }
  for (const auto& line : appkit::explain::narrate(a, 7)) {
    if (line.find('\n') != std::string::npos) std::abort();
  }
  const auto svg = appkit::explain::ladder_svg(a, "fuzz");
  std::size_t arrows = 0;
  for (auto p = svg.find("class=\"arrow\""); p != std::string::npos; p = svg.find("class=\"arrow\"", p + 1)) ++arrows;
  if (arrows != cap.frames.size()) std::abort();
  (void)appkit::explain::json_record(a);
  return 0;
}
