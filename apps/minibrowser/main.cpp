// minibrowser: type a URL, watch every step of STEPS.md happen on our own stack, read the page.
//
//   minibrowser [options] [--level 1..7] URL
#include <cstdio>
#include <string>
#include <vector>

#include "apps/common/cli.hpp"
#include "apps/common/version.hpp"

int main(int argc, char** argv) {
  using appkit::ExitCode;
  appkit::NetOptions net;
  int level = 1;
  appkit::ArgParser parser("minibrowser", "minibrowser [options] URL");
  parser.option("--level", "N", "narrate the steps of STEPS.md level N (1..7, default 1)", [&](const std::string& v) {
    if (v.size() != 1 || v[0] < '1' || v[0] > '7') return false;
    level = v[0] - '0';
    return true;
  });
  parser.add_net_options(net);
  const auto parsed = parser.parse({argv + 1, argv + argc});
  if (parsed.help) {
    std::fputs(parser.help_text().c_str(), stdout);
    return 0;
  }
  if (parsed.version) {
    std::printf("minibrowser %s\n", appkit::kVersion);
    return 0;
  }
  if (parsed.error) {
    std::fprintf(stderr, "minibrowser: %s\n", parsed.error->c_str());
    return static_cast<int>(ExitCode::Usage);
  }
  if (parsed.positional.size() != 1) {
    std::fprintf(stderr, "minibrowser: give exactly one URL, e.g. minibrowser http://www.domain.com/\n");
    return static_cast<int>(ExitCode::Usage);
  }
  std::fprintf(stderr, "minibrowser: not built yet (issue #7); see README \"Features\"\n");
  (void)level;
  return static_cast<int>(ExitCode::NotBuilt);
}
