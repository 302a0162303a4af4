#include "apps/minibrowser/capture_files.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "apps/common/explain.hpp"

namespace minibrowser {

CaptureFiles::~CaptureFiles() {
  if (!ladder_.empty() || !json_.empty()) {
    if (auto w = appkit::explain::write_outputs_from_pcap(pcap_, ladder_, json_, title_); !w) {
      std::fprintf(stderr, "minibrowser: --ladder/--json: %s\n", w.error().c_str());
    }
  }
  if (temporary_) std::remove(pcap_.c_str());
}

std::optional<int> CaptureFiles::prepare(Options& options) {
  for (const auto* out : {&options.ladder_path, &options.json_path}) {
    if (out->empty()) continue;
    if (auto w = appkit::explain::write_file(*out, ""); !w) {
      std::fprintf(stderr, "minibrowser: %s\n", w.error().c_str());
      return static_cast<int>(appkit::ExitCode::WriteError);
    }
  }
  // Levels 6-7 end with a table of the connections and the steps' times, read from the capture.
  if (options.ladder_path.empty() && options.json_path.empty() && options.level < 6) return std::nullopt;
  ladder_ = options.ladder_path;
  json_ = options.json_path;
  title_ = "minibrowser " + options.url.to_string();
  if (!options.net.pcap) {
    const char* tmp = std::getenv("TMPDIR");
    std::string path = std::string(tmp && *tmp ? tmp : "/tmp") + "/minibrowser-XXXXXX.pcap";
    const int fd = mkstemps(path.data(), 5);
    if (fd < 0) {
      std::fprintf(stderr, "minibrowser: --ladder/--json need a capture: cannot create %s: %s\n", path.c_str(), std::strerror(errno));
      return static_cast<int>(appkit::ExitCode::WriteError);
    }
    close(fd);
    options.net.pcap = path;
    temporary_ = true;
  }
  pcap_ = *options.net.pcap;
  return std::nullopt;
}

}  // namespace minibrowser
