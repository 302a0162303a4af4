// apps/url: absolute http URLs, named errors, and RFC 3986 §5.4 reference resolution.
#include <doctest/doctest.h>

#include <string>

#include "apps/common/url.hpp"

using appkit::resolve;
using appkit::Url;
using appkit::UrlError;

namespace {

std::string resolved(const Url& base, std::string_view ref) {
  auto r = resolve(base, ref);
  if (!r) return std::string("error: ") + appkit::describe(r.error());
  return r->to_string();
}

UrlError parse_error(std::string_view text) {
  auto r = Url::parse(text);
  REQUIRE_FALSE(r.ok());
  return r.error();
}

}  // namespace

TEST_SUITE("apps/url") {
  TEST_CASE("parse: host, default port, path and query") {
    auto u = Url::parse("http://www.domain.com/index.html?a=1&b=%20x");
    REQUIRE(u.ok());
    CHECK(u->host == "www.domain.com");
    CHECK(u->port == 80);
    CHECK(u->path == "/index.html");
    CHECK(u->query == "a=1&b=%20x");
    CHECK(u->target() == "/index.html?a=1&b=%20x");
    CHECK(u->authority() == "www.domain.com");
    CHECK(u->to_string() == "http://www.domain.com/index.html?a=1&b=%20x");
    CHECK_FALSE(u->ipv4().has_value());
  }

  TEST_CASE("parse: empty path is /, explicit port, case, fragment dropped") {
    auto u = Url::parse("HTTP://WWW.Domain.COM:8080#top");
    REQUIRE(u.ok());
    CHECK(u->host == "www.domain.com");
    CHECK(u->port == 8080);
    CHECK(u->target() == "/");
    CHECK(u->authority() == "www.domain.com:8080");
    CHECK(u->to_string() == "http://www.domain.com:8080/");
    CHECK(Url::parse("http://h:/x")->port == 80);  // empty port = default (RFC 3986 §3.2.3)
    CHECK(Url::parse("http://h:80/x")->to_string() == "http://h/x");
    CHECK(Url::parse("http://h/?")->target() == "/?");
  }

  TEST_CASE("parse: IPv4 literals") {
    auto u = Url::parse("http://203.0.113.80/");
    REQUIRE(u.ok());
    REQUIRE(u->ipv4().has_value());
    CHECK((*u->ipv4() == std::array<std::uint8_t, 4>{203, 0, 113, 80}));
    CHECK(parse_error("http://256.1.1.1/") == UrlError::BadIpv4);
    CHECK(parse_error("http://1.2.3/") == UrlError::BadIpv4);
    CHECK(parse_error("http://1.2.3.4.5/") == UrlError::BadIpv4);
    CHECK(parse_error("http://010.1.1.1/") == UrlError::BadIpv4);
    CHECK(Url::parse("http://1a.example/").ok());
  }

  TEST_CASE("parse: percent-encoding kept, dot segments removed, odd bytes encoded") {
    CHECK(Url::parse("http://h/a%2Fb/%7Euser")->path == "/a%2Fb/%7Euser");
    CHECK(Url::parse("http://h/a/./b/../c")->path == "/a/c");
    CHECK(Url::parse("http://h/a b")->path == "/a%20b");
    CHECK(Url::parse("http://h/caf\xc3\xa9")->path == "/caf%C3%A9");
    CHECK(Url::parse("  http://h/x \n")->path == "/x");
    CHECK(Url::parse("http://h/a\n\tb")->path == "/ab");  // WHATWG: tabs and newlines removed
  }

  TEST_CASE("parse: named errors") {
    CHECK(parse_error("") == UrlError::Empty);
    CHECK(parse_error("   ") == UrlError::Empty);
    CHECK(parse_error("ftp://h/") == UrlError::UnsupportedScheme);
    CHECK(parse_error("www.domain.com") == UrlError::NoScheme);
    CHECK(parse_error("/relative") == UrlError::NoScheme);
    CHECK(parse_error("http://") == UrlError::MissingHost);
    CHECK(parse_error("http:/x") == UrlError::MissingHost);
    CHECK(parse_error("http://:80/") == UrlError::MissingHost);
    CHECK(parse_error("http://u:p@h/") == UrlError::Credentials);
    CHECK(parse_error("http://[::1]/") == UrlError::Ipv6NotSupported);
    CHECK(parse_error("http://h:0/") == UrlError::BadPort);
    CHECK(parse_error("http://h:65536/") == UrlError::BadPort);
    CHECK(parse_error("http://h:99999999999999999999/") == UrlError::BadPort);
    CHECK(parse_error("http://h:8o/") == UrlError::BadPort);
    CHECK(parse_error("http://h\\evil/") == UrlError::BadHost);
    CHECK(parse_error("http://h%41/") == UrlError::BadHost);
    CHECK(parse_error("http://h/a\x01" "b") == UrlError::BadCharacter);
    CHECK(parse_error("http://h/a\x7f") == UrlError::BadCharacter);
    CHECK(parse_error("http://" + std::string(300, 'a') + "/") == UrlError::BadHost);
    CHECK(parse_error("http://h/" + std::string(appkit::kMaxUrlLength, 'a')) == UrlError::TooLong);
  }

  TEST_CASE("parse_user_input assumes http://") {
    CHECK(Url::parse_user_input("www.domain.com")->to_string() == "http://www.domain.com/");
    CHECK(Url::parse_user_input("localhost:8080/x")->to_string() == "http://localhost:8080/x");
    CHECK(Url::parse_user_input("https://x/")->to_string() == "https://x/");
  }

  TEST_CASE("https: default port 443, the origin includes the scheme") {
    const auto u = *Url::parse("HTTPS://www.domain.com/a?b");
    CHECK(u.scheme == "https");
    CHECK(u.port == 443);
    CHECK(u.secure());
    CHECK(u.authority() == "www.domain.com");
    CHECK(u.to_string() == "https://www.domain.com/a?b");
    CHECK(Url::parse("https://h:443/")->to_string() == "https://h/");
    CHECK(Url::parse("https://h:80/")->to_string() == "https://h:80/");
    CHECK(Url::parse("http://h:443/")->authority() == "h:443");
    CHECK_FALSE(Url::parse("http://h/")->same_origin(*Url::parse("https://h/")));
    CHECK_FALSE(Url::parse("http://h:443/")->same_origin(*Url::parse("https://h/")));
    CHECK(Url::parse("https://h/a")->same_origin(*Url::parse("https://h:443/b")));
    // References keep the base's scheme; an absolute one switches it.
    const auto page = *Url::parse("https://www.domain.com/dir/p.html");
    CHECK(resolved(page, "img/a.gif") == "https://www.domain.com/dir/img/a.gif");
    CHECK(resolved(page, "//cdn.domain.com/x") == "https://cdn.domain.com/x");
    CHECK(resolved(page, "http://www.domain.com/") == "http://www.domain.com/");
    CHECK(resolved(page, "https:g") == "https://www.domain.com/dir/g");
    CHECK(resolved(page, "http:g") == "error: no host name in URL");
  }

  TEST_CASE("RFC 3986 §5.4.1 normal examples") {
    const auto base = *Url::parse("http://a/b/c/d;p?q");
    CHECK(resolved(base, "g:h") == "error: only http and https URLs are supported");  // refused, named
    CHECK(resolved(base, "g") == "http://a/b/c/g");
    CHECK(resolved(base, "./g") == "http://a/b/c/g");
    CHECK(resolved(base, "g/") == "http://a/b/c/g/");
    CHECK(resolved(base, "/g") == "http://a/g");
    CHECK(resolved(base, "//g") == "http://g/");  // RFC: "http://g" - same resource, empty path is "/"
    CHECK(resolved(base, "?y") == "http://a/b/c/d;p?y");
    CHECK(resolved(base, "g?y") == "http://a/b/c/g?y");
    CHECK(resolved(base, "#s") == "http://a/b/c/d;p?q");  // fragment dropped
    CHECK(resolved(base, "g#s") == "http://a/b/c/g");
    CHECK(resolved(base, "g?y#s") == "http://a/b/c/g?y");
    CHECK(resolved(base, ";x") == "http://a/b/c/;x");
    CHECK(resolved(base, "g;x") == "http://a/b/c/g;x");
    CHECK(resolved(base, "g;x?y#s") == "http://a/b/c/g;x?y");
    CHECK(resolved(base, "") == "http://a/b/c/d;p?q");
    CHECK(resolved(base, ".") == "http://a/b/c/");
    CHECK(resolved(base, "./") == "http://a/b/c/");
    CHECK(resolved(base, "..") == "http://a/b/");
    CHECK(resolved(base, "../") == "http://a/b/");
    CHECK(resolved(base, "../g") == "http://a/b/g");
    CHECK(resolved(base, "../..") == "http://a/");
    CHECK(resolved(base, "../../") == "http://a/");
    CHECK(resolved(base, "../../g") == "http://a/g");
  }

  TEST_CASE("RFC 3986 §5.4.2 abnormal examples") {
    const auto base = *Url::parse("http://a/b/c/d;p?q");
    CHECK(resolved(base, "../../../g") == "http://a/g");
    CHECK(resolved(base, "../../../../g") == "http://a/g");
    CHECK(resolved(base, "/./g") == "http://a/g");
    CHECK(resolved(base, "/../g") == "http://a/g");
    CHECK(resolved(base, "g.") == "http://a/b/c/g.");
    CHECK(resolved(base, ".g") == "http://a/b/c/.g");
    CHECK(resolved(base, "g..") == "http://a/b/c/g..");
    CHECK(resolved(base, "..g") == "http://a/b/c/..g");
    CHECK(resolved(base, "./../g") == "http://a/b/g");
    CHECK(resolved(base, "./g/.") == "http://a/b/c/g/");
    CHECK(resolved(base, "g/./h") == "http://a/b/c/g/h");
    CHECK(resolved(base, "g/../h") == "http://a/b/c/h");
    CHECK(resolved(base, "g;x=1/./y") == "http://a/b/c/g;x=1/y");
    CHECK(resolved(base, "g;x=1/../y") == "http://a/b/c/y");
    CHECK(resolved(base, "g?y/./x") == "http://a/b/c/g?y/./x");
    CHECK(resolved(base, "g?y/../x") == "http://a/b/c/g?y/../x");
    CHECK(resolved(base, "g#s/./x") == "http://a/b/c/g");
    CHECK(resolved(base, "g#s/../x") == "http://a/b/c/g");
    CHECK(resolved(base, "http:g") == "http://a/b/c/g");  // the backward-compatible reading
  }

  TEST_CASE("resolve: what pages and Location headers do") {
    const auto page = *Url::parse("http://www.domain.com:8080/dir/page.html?x=1");
    CHECK(resolved(page, "/x") == "http://www.domain.com:8080/x");
    CHECK(resolved(page, "img/a.gif") == "http://www.domain.com:8080/dir/img/a.gif");
    CHECK(resolved(page, "//other.net/p") == "http://other.net/p");
    CHECK(resolved(page, "http://OTHER.net") == "http://other.net/");
    CHECK(resolved(page, "https://other.net/") == "https://other.net/");
    CHECK(resolved(page, "mailto:a@b") == "error: only http and https URLs are supported");
    CHECK(resolved(page, "javascript:void(0)") == "error: only http and https URLs are supported");
    CHECK(resolved(page, "  /spaced  ") == "http://www.domain.com:8080/spaced");
    CHECK(resolved(page, "a b.html") == "http://www.domain.com:8080/dir/a%20b.html");
    CHECK(resolved(page, "//") == "error: no host name in URL");
  }

  TEST_CASE("remove_dot_segments (RFC 3986 §5.2.4 walk-through)") {
    CHECK(appkit::remove_dot_segments("/a/b/c/./../../g") == "/a/g");
    CHECK(appkit::remove_dot_segments("mid/content=5/../6") == "mid/6");
    CHECK(appkit::remove_dot_segments("/..") == "/");
    CHECK(appkit::remove_dot_segments("/../../..") == "/");
    CHECK(appkit::remove_dot_segments("") == "");
  }
}
