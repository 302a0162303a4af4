// Telling a capture: the narration by level (docs/levels.md), the ladder diagram (SVG) and the
// JSON record, all from apps/common/conversations.* — shared by `ustack explain FILE.pcap` and the
// mini-browser's `--ladder` / `--json` on its own run's pcap.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "apps/common/conversations.hpp"
#include "stack/util/result.hpp"

namespace appkit::explain {

// The lines of levels 1..`level`, in frame order: "[L6     12.4 ms] [frame 9] TCP #1 → SYN …".
// Every line is about a frame of the capture, or sums up frames it names.
std::vector<std::string> narrate(const analysis::Analysis& a, int level);
// The table of connections (number, local port, requests, bytes each way, who sent the first FIN,
// segments in the close) and the steps' times; the end of narrate() at level 6.
std::vector<std::string> summary(const analysis::Analysis& a);

// A sequence diagram: one column per endpoint (us, router, resolver, root, TLD, authoritative,
// then one lane per TCP connection of each web server, side by side), one arrow per frame with
// its number and time, TIME-WAIT drawn on the side that closed first. Plain SVG 1.1, no script;
// each arrow is a <g class="arrow"> whose <title> is the hover text.
std::string ladder_svg(const analysis::Analysis& a, const std::string& title);
// The same diagram inside an HTML page (for FILE.html): the hover details need no script either.
std::string ladder_html(const analysis::Analysis& a, const std::string& title);

// One JSON object (RFC 8259) with everything the analysis found; its fields are documented in the
// README ("The JSON record").
std::string json_record(const analysis::Analysis& a);

// Writes `text` to `path` (created or truncated); the error is one line naming the file.
stack::Result<void, std::string> write_file(const std::string& path, const std::string& text);

// Writes the ladder (SVG, or HTML when `ladder_path` ends in ".html") and the JSON record of an
// analysis; an empty path skips that output. The error is one line.
stack::Result<void, std::string> write_outputs(const analysis::Analysis& a, const std::string& ladder_path,
                                               const std::string& json_path, const std::string& title);
// The same for a capture file on disk (the mini-browser's own --pcap, once it is complete).
stack::Result<void, std::string> write_outputs_from_pcap(const std::string& pcap_path, const std::string& ladder_path,
                                                         const std::string& json_path, const std::string& title);

}  // namespace appkit::explain
