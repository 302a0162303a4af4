// What the user asked the mini-browser for: the command line, parsed (`minibrowser --help`).
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "apps/common/cli.hpp"
#include "apps/common/network_setup.hpp"
#include "apps/common/tls.hpp"
#include "apps/common/url.hpp"
#include "stack/time.hpp"

namespace minibrowser {

struct Options {
  appkit::Url url;                 // the one URL given
  appkit::NetOptions net;          // --tap, --ip, --dns, --pcap, --hosts, --stats, ...
  int level = 1;                   // --level: the narration's level (docs/levels.md)
  std::size_t max_per_host = 6;    // --max-per-host
  stack::Duration idle_timeout = stack::Duration::from_secs(15);
  bool source = false;             // --source: the HTML, not rendered
  bool fail_on_error = false;      // --fail
  bool head = false;               // --head
  bool subresources = true;        // not --no-subresources
  std::optional<std::string> output;      // -o FILE
  std::optional<std::string> root_hints;  // --root-hints, else $USTACK_ROOT_HINTS
  unsigned width = 80;             // --width, else the terminal's
  bool ascii = false;              // --ascii
  bool follow_refresh = false;     // --follow-refresh
  bool colour = false;             // colours in the narration (see parse_options)
  stack::Duration linger = stack::Duration::zero();  // --linger
  appkit::tls::Config tls_config;  // --cacert, -k/--insecure, --keylog
  std::string ladder_path;         // --ladder
  std::string json_path;           // --json
  bool verbose = false;            // -v
  appkit::DhcpSetupOptions dhcp;   // --fresh, --no-rapid-commit
};

// Fills `options` from the command line. Returns the exit code when the program must stop at once
// (--help, --version, a usage error, a URL that cannot be parsed, a --hosts file that cannot be
// read), or nothing.
std::optional<int> parse_options(int argc, char** argv, Options& options);

}  // namespace minibrowser
