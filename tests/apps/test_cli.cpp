// apps/cli: the option parser every program shares — glued one-letter options (getopt's "-c1"),
// --help/--version answered in one place before anything else, curl's exit codes for URLs and
// redirects.
#include <doctest/doctest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "apps/common/cli.hpp"
#include "apps/common/http_client.hpp"
#include "apps/common/url.hpp"

using appkit::ArgParser;
using appkit::ExitCode;

namespace {

struct PingLike {
  std::uint64_t count = 0;
  std::string wait;
  bool quiet = false;
  appkit::NetOptions net;
  ArgParser parser{"ustack ping", "ustack ping [options] HOST"};
  PingLike() {
    parser.option("-c", "N", "count", [this](const std::string& v) { return appkit::parse_u64(v, count); });
    parser.option("-W", "SECONDS", "wait", [this](const std::string& v) {
      wait = v;
      return !v.empty();
    });
    parser.flag("-q", "quiet", [this] { quiet = true; });
    parser.add_net_options(net);
  }
};

}  // namespace

TEST_SUITE("apps/cli") {
  TEST_CASE("a one-letter option takes its value glued on, as getopt does (-c1, -W1)") {
    PingLike p;
    const auto r = p.parser.parse({"-c1", "-W0.5", "-q", "10.77.0.1"});
    REQUIRE_FALSE(r.error.has_value());
    CHECK(p.count == 1);
    CHECK(p.wait == "0.5");
    CHECK(p.quiet);
    REQUIRE(r.positional.size() == 1);
    CHECK(r.positional[0] == "10.77.0.1");
  }

  TEST_CASE("the separate and = forms still work, and a glued value is checked like any other") {
    PingLike p;
    CHECK_FALSE(p.parser.parse({"-c", "3", "x"}).error.has_value());
    CHECK(p.count == 3);
    const auto bad = p.parser.parse({"-cx", "host"});
    REQUIRE(bad.error.has_value());
    CHECK(bad.error->find("bad value for -c: 'x'") != std::string::npos);
    // A flag cannot take a glued value: "-qx" is not "-q" with "x".
    const auto flag = p.parser.parse({"-qx", "host"});
    REQUIRE(flag.error.has_value());
    CHECK(flag.error->find("unknown option -qx") != std::string::npos);
    // Long options never glue: "--tapx" is unknown, not "--tap" + "x".
    CHECK(p.parser.parse({"--tapx"}).error.has_value());
  }

  TEST_CASE("--version and --help win over a missing argument and over the checks") {
    PingLike p;
    // No HOST, and --tap with --iface (a check that fails): --version still answers.
    const auto r = p.parser.parse({"--tap", "t", "--iface", "e", "--version"});
    CHECK(r.version);
    CHECK_FALSE(r.error.has_value());
    char buffer[256] = {};
    std::FILE* out = fmemopen(buffer, sizeof buffer - 1, "w");
    const auto rc = p.parser.early_exit(r, out, out);
    std::fclose(out);
    REQUIRE(rc.has_value());
    CHECK(*rc == 0);
    CHECK(std::string(buffer) == std::string("ustack ping ") + USTACK_VERSION + "\n");
  }

  TEST_CASE("a parse error is exit 2 from early_exit; a clean parse goes on") {
    PingLike p;
    char buffer[256] = {};
    std::FILE* err = fmemopen(buffer, sizeof buffer - 1, "w");
    const auto rc = p.parser.early_exit(p.parser.parse({"--nope"}), err, err);
    std::fclose(err);
    REQUIRE(rc.has_value());
    CHECK(*rc == 2);
    CHECK(std::string(buffer).rfind("ustack ping: unknown option --nope", 0) == 0);
    CHECK_FALSE(p.parser.early_exit(p.parser.parse({"10.77.0.1"})).has_value());
  }

  TEST_CASE("--create-tap is off unless asked for") {
    PingLike p;
    CHECK_FALSE(p.parser.parse({"x"}).error.has_value());
    CHECK_FALSE(p.net.create_tap);
    CHECK_FALSE(p.parser.parse({"--create-tap", "x"}).error.has_value());
    CHECK(p.net.create_tap);
  }

  TEST_CASE("curl's exit codes: 3 malformed URL, 1 unsupported scheme, 47 redirects") {
    CHECK(appkit::exit_code(appkit::Url::parse_user_input("ftp://x/").error()) == ExitCode::Failure);
    CHECK(appkit::exit_code(appkit::Url::parse_user_input("http://x:99999/").error()) == ExitCode::MalformedUrl);
    CHECK(appkit::exit_code(appkit::Url::parse_user_input("http://").error()) == ExitCode::MalformedUrl);
    // No scheme means http://, as curl reads it.
    auto u = appkit::Url::parse_user_input("www.domain.com/a");
    REQUIRE(u.ok());
    CHECK(u->to_string() == "http://www.domain.com/a");
    using appkit::http::RedirectError;
    using appkit::http::RedirectFailure;
    CHECK(appkit::http::exit_code(RedirectFailure{RedirectError::TooMany, std::nullopt, "/x"}) ==
          ExitCode::TooManyRedirects);
    CHECK(appkit::http::exit_code(RedirectFailure{RedirectError::Loop, std::nullopt, "/x"}) == ExitCode::TooManyRedirects);
    CHECK(appkit::http::exit_code(RedirectFailure{RedirectError::BadLocation, appkit::UrlError::UnsupportedScheme,
                                                  "ftp://x/"}) == ExitCode::Failure);
  }
}
