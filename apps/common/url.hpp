// URLs for the mini-browser: absolute http and https URLs, and references resolved against a base.
//
// Read first: RFC 3986 (URI generic syntax; §5.2 reference resolution, §5.4 its examples),
// RFC 9110 §4.2.1 (the http scheme: default port 80, empty path means "/"), §4.2.2 (https: 443).
//
// What is kept on purpose: percent-encoding is never decoded or re-encoded ("%2F" stays "%2F"),
// so the request-target we send is the one the page wrote. The fragment is dropped (it is never
// sent, RFC 9110 §7.1). The host is lower-cased (RFC 3986 §3.2.2: case-insensitive).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "apps/common/cli.hpp"
#include "stack/util/result.hpp"

namespace appkit {

enum class UrlError {
  Empty,              // nothing but whitespace
  TooLong,            // more than kMaxUrlLength bytes
  NoScheme,           // "www.x.com" where an absolute URL is required
  UnsupportedScheme,  // ftp:, mailto:, javascript:, ...
  MissingHost,        // "http://" or "http:/path"
  Credentials,        // "http://user:pass@host/": not supported (and a phishing habit)
  Ipv6NotSupported,   // "http://[::1]/"
  BadHost,            // characters a host name cannot have
  BadIpv4,            // looks like an IPv4 literal but is not a dotted quad of 0..255
  BadPort,            // not digits, 0, or > 65535
  BadCharacter,       // a control character in the path or query
};

// "bad port number", ... (one line, no trailing period).
const char* describe(UrlError error);

// curl's exit code for a URL that cannot be used: 1 for a scheme we do not speak (curl's
// CURLE_UNSUPPORTED_PROTOCOL), 3 for everything malformed (CURLE_URL_MALFORMAT).
ExitCode exit_code(UrlError error);

inline constexpr std::size_t kMaxUrlLength = 8192;

struct Url {
  std::string scheme = "http";          // "http" or "https" (lower case)
  std::string host;                     // lower case: a name or a dotted-quad IPv4 literal
  std::uint16_t port = 80;              // the scheme's default (80, 443) unless the URL names one
  std::string path = "/";               // starts with '/'; percent-encoding kept as is
  std::optional<std::string> query;     // without the '?'; may be empty ("/?")

  // An absolute http or https URL. Leading/trailing ASCII whitespace is ignored; the fragment is dropped;
  // dot segments are removed from the path (RFC 3986 §5.2.4); non-ASCII bytes, spaces and a few
  // characters no URL may contain ("<>\"`{}|^) are percent-encoded the way browsers do.
  static stack::Result<Url, UrlError> parse(std::string_view text);
  // What a user types: like parse(), but "www.domain.com/x" (no "://") means http://www.domain.com/x.
  static stack::Result<Url, UrlError> parse_user_input(std::string_view text);

  // The request-target in origin-form (RFC 9112 §3.2.1): path [ "?" query ].
  std::string target() const;
  // host[:port], the port only when it is not the scheme's default (the Host header, RFC 9110 §7.2).
  std::string authority() const;
  // scheme://authority/target
  std::string to_string() const;
  bool secure() const { return scheme == "https"; }
  // 80 for http, 443 for https (RFC 9110 §4.2.1, §4.2.2).
  static std::uint16_t default_port(std::string_view scheme) { return scheme == "https" ? 443 : 80; }
  bool port_is_default() const { return port == default_port(scheme); }
  // The four bytes when the host is an IPv4 literal (no DNS needed).
  std::optional<std::array<std::uint8_t, 4>> ipv4() const;
  // Same scheme, host and port (the pool's key, and "same-host" subresources; RFC 6454 §4).
  bool same_origin(const Url& other) const {
    return scheme == other.scheme && host == other.host && port == other.port;
  }

  bool operator==(const Url&) const = default;
};

// RFC 3986 §5.2.2 (with the §5.2.4 dot-segment removal): the target URL of `reference` (a Location
// header, an href, a src) seen from `base`. The fragment is dropped. "http:g" is read the
// backward-compatible way ("http://a/b/c/g", §5.4.2), as browsers do.
stack::Result<Url, UrlError> resolve(const Url& base, std::string_view reference);

// RFC 3986 §5.2.4.
std::string remove_dot_segments(std::string_view path);

}  // namespace appkit
