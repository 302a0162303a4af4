// The files made from this run's capture (apps/common/explain.*): --ladder's diagram, --json's
// record, and the table of connections and times that ends levels 6-7. Without --pcap, the
// capture is a temporary file, removed at exit.
#pragma once

#include <optional>
#include <string>

#include "apps/minibrowser/options.hpp"

namespace minibrowser {

class CaptureFiles {
 public:
  CaptureFiles() = default;
  CaptureFiles(const CaptureFiles&) = delete;
  CaptureFiles& operator=(const CaptureFiles&) = delete;
  // Writes --ladder/--json from the capture (the Host that wrote it is gone by then), and removes
  // a temporary capture.
  ~CaptureFiles();

  // Creates the --ladder/--json files now, so that an unwritable one fails before anything is sent
  // (curl's 23), and names a temporary capture in `options.net.pcap` when one is needed and --pcap
  // gave none. Returns the exit code when the program must stop, or nothing.
  std::optional<int> prepare(Options& options);

  // The capture's path ("" when this run keeps none).
  const std::string& pcap() const { return pcap_; }
  // Whether the capture is a temporary file, removed at exit.
  bool temporary() const { return temporary_; }

 private:
  std::string pcap_, ladder_, json_, title_;
  bool temporary_ = false;
};

}  // namespace minibrowser
