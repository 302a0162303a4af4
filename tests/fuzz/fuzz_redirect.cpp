// libFuzzer target: the redirect follower (apps/common/http_client.hpp RedirectFollower) over
// whole chains: status codes and Location headers chosen by the input, the Location either raw
// bytes or built from URL pieces (schemes, "//", dot segments, ports, IP literals, queries,
// fragments, whitespace, percent-escapes), through both entry points (status + location, and a
// parsed Response with any number of Location fields). RFC 9110 §15.4 (which codes redirect, 303
// turns GET into GET and keeps HEAD), RFC 3986 §5.2 (resolving the reference).
//
// Invariants, after every response:
//   - Final leaves the chain as it was; Follow appends exactly the URL it returns, which becomes
//     current(), with the method it returns;
//   - the chain never exceeds the limit, and TooMany comes only at the limit;
//   - every URL in the chain is http or https, has a host, a non-zero port and a path that starts
//     with '/', and survives to_string() -> parse() unchanged;
//   - no (URL, method) pair is followed twice (a loop is reported instead);
//   - a failure has a message.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "apps/common/http_client.hpp"
#include "apps/common/url.hpp"
#include "fuzz_input.hpp"

using namespace appkit;
using namespace appkit::http;

namespace {

void trap_unless(bool ok) {
  if (!ok) __builtin_trap();
}

constexpr const char* kStarts[] = {
    "http://www.domain.com/",         "https://www.domain.com/a/b/c?q=1", "http://203.0.113.80:8080/x/y",
    "https://www.domain.com:4413/",   "http://a/b/c/d;p?q",               "http://www.domain.com/%7Euser/./x/../y",
};

constexpr const char* kPieces[] = {
    "http://", "https://", "//",  "/",  "..", ".",  "?",   "#",   "www.domain.com", "203.0.113.80", ":8080",
    ":0",      ":65536",   ":",   "a",  "b/", "%2e", "%2E%2E", " ",  "\t",           "@",            "[::1]",
    "http:",   "HTTPS://", "ftp://", "\\", "x=1&y", "%", "\xc3\xa9", "\r\n", "..;/",   "0x7f.1",       "999.1.1.1",
};

constexpr int kStatuses[] = {200, 300, 301, 302, 303, 304, 305, 307, 308, 399, 100};

std::string location(fuzz::Input& in) {
  std::string s;
  const std::uint8_t how = in.u8();
  const std::size_t n = 1 + in.u8() % 12;
  if (how & 1) {  // raw bytes
    for (std::size_t i = 0; i < n * 4 && !in.empty(); ++i) s.push_back(static_cast<char>(in.u8()));
  } else {        // URL pieces
    for (std::size_t i = 0; i < n; ++i) s += kPieces[in.u8() % std::size(kPieces)];
  }
  return s;
}

void check_url(const Url& u) {
  trap_unless(u.scheme == "http" || u.scheme == "https");
  trap_unless(!u.host.empty());
  trap_unless(u.port != 0);
  trap_unless(!u.path.empty() && u.path[0] == '/');
  const std::string text = u.to_string();
  auto again = Url::parse(text);
  trap_unless(again.ok() && *again == u);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Input in{data, size};
  const std::uint8_t setup = in.u8();
  const std::size_t max = setup % 12;
  const Method method = (setup & 0x80) ? Method::Head : Method::Get;
  auto start = Url::parse(kStarts[in.u8() % std::size(kStarts)]);
  trap_unless(start.ok());
  RedirectFollower f(*start, method, max);

  for (int steps = 0; steps < 64 && !in.empty(); ++steps) {
    const std::uint8_t op = in.u8();
    const int status = (op & 0x80) ? static_cast<int>(in.u16() % 1000) : kStatuses[op % std::size(kStatuses)];
    const std::size_t before = f.chain().size();
    const Method before_method = f.method();
    RedirectFollower::Step step;
    if (op & 0x40) {
      // A parsed response: zero, one or several Location fields (the first one counts).
      Response r;
      r.status = status;
      const std::size_t fields = in.u8() % 4;
      for (std::size_t i = 0; i < fields; ++i) {
        r.headers.push_back({(in.u8() & 1) ? "location" : "Location", location(in)});
      }
      if (in.u8() & 1) r.headers.push_back({"Content-Type", "text/html"});
      step = f.on_response(r);
    } else {
      std::optional<std::string> loc;
      if (!(op & 0x20)) loc = location(in);
      step = f.on_response(status, loc);
    }

    if (std::holds_alternative<RedirectFollower::Final>(step)) {
      trap_unless(f.chain().size() == before && f.method() == before_method);
    } else if (const auto* follow = std::get_if<RedirectFollower::Follow>(&step)) {
      trap_unless(is_redirect(status));
      trap_unless(f.chain().size() == before + 1 && f.redirects() <= max);
      trap_unless(follow->url == f.current() && follow->method == f.method());
      // RFC 9110 §15.4.4: 303 makes a GET of anything but HEAD; the others keep the method.
      trap_unless(follow->method == (status == 303 && before_method != Method::Head ? Method::Get : before_method));
      check_url(follow->url);
    } else {
      const auto& failure = std::get<RedirectFailure>(step);
      trap_unless(is_redirect(status));
      trap_unless(f.chain().size() == before);
      if (failure.kind == RedirectError::TooMany) trap_unless(f.redirects() == max);
      const std::string m = failure.message();
      trap_unless(!m.empty());
    }
  }
  for (const auto& u : f.chain()) check_url(u);
  for (std::size_t i = 0; i < f.chain().size(); ++i) {
    for (std::size_t j = i + 1; j < f.chain().size(); ++j) {
      // The same URL may come back only with another method (HEAD after GET cannot happen here,
      // so a repeat is a loop the follower should have refused).
      trap_unless(!(f.chain()[i] == f.chain()[j]));
    }
  }
  return 0;
}
