// URLs: RFC 3986 parsing and §5.2 reference resolution for the http and https schemes (RFC 9110 §4.2).
#include "apps/common/url.hpp"

#include <algorithm>

namespace appkit {

using stack::Err;
using stack::Result;

const char* describe(UrlError error) {
  switch (error) {
    case UrlError::Empty: return "empty URL";
    case UrlError::TooLong: return "URL too long";
    case UrlError::NoScheme: return "not an absolute URL (it needs http://)";
    case UrlError::UnsupportedScheme: return "only http and https URLs are supported";
    case UrlError::MissingHost: return "no host name in URL";
    case UrlError::Credentials: return "user names and passwords in URLs are not supported";
    case UrlError::Ipv6NotSupported: return "IPv6 addresses are not supported";
    case UrlError::BadHost: return "bad character in host name";
    case UrlError::BadIpv4: return "bad IPv4 address";
    case UrlError::BadPort: return "bad port number";
    case UrlError::BadCharacter: return "control character in URL";
  }
  return "bad URL";
}

namespace {

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = to_lower(c);
  return out;
}

// WHATWG URL habits that HTML attributes rely on: trim C0 controls and spaces at both ends and
// drop every tab, CR and LF inside.
std::string sanitize(std::string_view text) {
  auto is_trim = [](char c) { return static_cast<unsigned char>(c) <= 0x20; };
  while (!text.empty() && is_trim(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_trim(text.back())) text.remove_suffix(1);
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c != '\t' && c != '\n' && c != '\r') out.push_back(c);
  }
  return out;
}

// The five components of a reference (RFC 3986 Appendix B), fragment left out.
struct Parts {
  std::optional<std::string_view> scheme;
  std::optional<std::string_view> authority;
  std::string_view path;
  std::optional<std::string_view> query;
};

Parts split(std::string_view s) {
  Parts p;
  if (auto hash = s.find('#'); hash != std::string_view::npos) s = s.substr(0, hash);
  // scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), before any of "/?#".
  if (!s.empty() && is_alpha(s[0])) {
    std::size_t i = 1;
    while (i < s.size() && (is_alpha(s[i]) || is_digit(s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.')) ++i;
    if (i < s.size() && s[i] == ':') {
      p.scheme = s.substr(0, i);
      s = s.substr(i + 1);
    }
  }
  if (s.size() >= 2 && s[0] == '/' && s[1] == '/') {
    s = s.substr(2);
    const auto end = std::min(s.find('/'), s.find('?'));
    p.authority = s.substr(0, end);
    s = end == std::string_view::npos ? std::string_view{} : s.substr(end);
  }
  if (auto q = s.find('?'); q != std::string_view::npos) {
    p.query = s.substr(q + 1);
    s = s.substr(0, q);
  }
  p.path = s;
  return p;
}

// Bytes a browser percent-encodes in a path or query instead of refusing the URL.
bool needs_encoding(unsigned char c) {
  return c >= 0x80 || c == ' ' || c == '"' || c == '<' || c == '>' || c == '`' || c == '{' || c == '}' ||
         c == '|' || c == '\\' || c == '^';
}

Result<std::string, UrlError> encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) return Err{UrlError::BadCharacter};
    if (needs_encoding(c)) {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

// A dotted quad of 0..255 without leading zeros (which some resolvers read as octal).
std::optional<std::array<std::uint8_t, 4>> parse_ipv4(std::string_view host) {
  std::array<std::uint8_t, 4> out{};
  std::size_t part = 0;
  std::size_t i = 0;
  while (true) {
    if (part == 4) return std::nullopt;
    std::size_t start = i;
    unsigned value = 0;
    while (i < host.size() && is_digit(host[i]) && i - start < 4) {
      value = value * 10 + static_cast<unsigned>(host[i] - '0');
      ++i;
    }
    const std::size_t len = i - start;
    if (len == 0 || len > 3 || value > 255 || (len > 1 && host[start] == '0')) return std::nullopt;
    out[part++] = static_cast<std::uint8_t>(value);
    if (i == host.size()) break;
    if (host[i] != '.') return std::nullopt;
    ++i;
  }
  if (part != 4) return std::nullopt;
  return out;
}

Result<Url, UrlError> parse_authority(std::string_view authority, Url url) {
  if (authority.find('@') != std::string_view::npos) return Err{UrlError::Credentials};
  if (!authority.empty() && authority[0] == '[') return Err{UrlError::Ipv6NotSupported};
  std::string_view host = authority;
  if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    const auto port = authority.substr(colon + 1);
    if (!port.empty()) {  // "host:" means the default port (RFC 3986 §3.2.3)
      unsigned long value = 0;
      for (char c : port) {
        if (!is_digit(c) || value > 65535) return Err{UrlError::BadPort};
        value = value * 10 + static_cast<unsigned long>(c - '0');
      }
      if (value == 0 || value > 65535) return Err{UrlError::BadPort};
      url.port = static_cast<std::uint16_t>(value);
    }
  }
  if (host.empty()) return Err{UrlError::MissingHost};
  if (host.size() > 253) return Err{UrlError::BadHost};
  for (char c : host) {
    if (!(is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~')) return Err{UrlError::BadHost};
  }
  url.host = lower(host);
  // A host whose last label is all digits is meant as an IPv4 literal (WHATWG "ends in a number").
  std::string_view last = url.host;
  if (!last.empty() && last.back() == '.') last.remove_suffix(1);
  if (auto dot = last.rfind('.'); dot != std::string_view::npos) last = last.substr(dot + 1);
  if (!last.empty() && std::all_of(last.begin(), last.end(), is_digit)) {
    if (!parse_ipv4(url.host)) return Err{UrlError::BadIpv4};
  }
  return url;
}

Result<Url, UrlError> parse_http(std::string_view scheme, std::string_view authority, std::string_view path,
                                 std::optional<std::string_view> query) {
  Url base;
  base.scheme = std::string(scheme);
  base.port = Url::default_port(scheme);
  auto url = parse_authority(authority, base);
  if (!url) return url;
  auto encoded_path = encode(path);
  if (!encoded_path) return Err{encoded_path.error()};
  url->path = encoded_path->empty() ? std::string("/") : remove_dot_segments(*encoded_path);
  // (Not `insert(0, "/")`: g++ 12 at -O3 warns, a -Wrestrict false positive.)
  if (url->path.empty() || url->path[0] != '/') url->path = '/' + url->path;
  if (query) {
    auto encoded_query = encode(*query);
    if (!encoded_query) return Err{encoded_query.error()};
    url->query = std::move(*encoded_query);
  }
  return url;
}

bool supported_scheme(std::string_view lowered) { return lowered == "http" || lowered == "https"; }

}  // namespace

std::string remove_dot_segments(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  auto remove_last_segment = [&out] {
    const auto slash = out.rfind('/');
    out.erase(slash == std::string::npos ? 0 : slash);
  };
  std::size_t i = 0;
  while (i < in.size()) {
    const auto rest = in.substr(i);
    if (rest.starts_with("../")) {                 // A
      i += 3;
    } else if (rest.starts_with("./")) {           // A
      i += 2;
    } else if (rest.starts_with("/./")) {          // B: "/./" -> "/"
      i += 2;
    } else if (rest == "/.") {                     // B
      out.push_back('/');
      break;
    } else if (rest.starts_with("/../")) {         // C: "/../" -> "/", drop the last output segment
      i += 3;
      remove_last_segment();
    } else if (rest == "/..") {                    // C
      remove_last_segment();
      out.push_back('/');
      break;
    } else if (rest == "." || rest == "..") {      // D
      break;
    } else {                                       // E: move the first segment to the output
      const auto next = rest.find('/', 1);
      const auto seg = rest.substr(0, next);
      out.append(seg);
      i += seg.size();
    }
  }
  return out;
}

Result<Url, UrlError> Url::parse(std::string_view text) {
  if (text.size() > kMaxUrlLength) return Err{UrlError::TooLong};
  const auto clean = sanitize(text);
  if (clean.empty()) return Err{UrlError::Empty};
  const auto parts = split(clean);
  if (!parts.scheme) return Err{UrlError::NoScheme};
  const auto scheme = lower(*parts.scheme);
  if (!supported_scheme(scheme)) return Err{UrlError::UnsupportedScheme};
  if (!parts.authority) return Err{UrlError::MissingHost};
  return parse_http(scheme, *parts.authority, parts.path, parts.query);
}

ExitCode exit_code(UrlError error) {
  switch (error) {
    case UrlError::UnsupportedScheme: return ExitCode::Failure;
    default: return ExitCode::MalformedUrl;
  }
}

Result<Url, UrlError> Url::parse_user_input(std::string_view text) {
  if (text.size() > kMaxUrlLength) return Err{UrlError::TooLong};
  const auto clean = sanitize(text);
  if (clean.empty()) return Err{UrlError::Empty};
  if (clean.find("://") == std::string::npos) return parse("http://" + clean);
  return parse(clean);
}

std::string Url::target() const {
  std::string out = path;
  if (query) {
    out.push_back('?');
    out.append(*query);
  }
  return out;
}

std::string Url::authority() const {
  if (port_is_default()) return host;
  return host + ":" + std::to_string(port);
}

std::string Url::to_string() const { return scheme + "://" + authority() + target(); }

std::optional<std::array<std::uint8_t, 4>> Url::ipv4() const { return parse_ipv4(host); }

Result<Url, UrlError> resolve(const Url& base, std::string_view reference) {
  if (reference.size() > kMaxUrlLength) return Err{UrlError::TooLong};
  const auto clean = sanitize(reference);
  auto parts = split(clean);
  std::string scheme = base.scheme;
  if (parts.scheme) {
    scheme = lower(*parts.scheme);
    if (!supported_scheme(scheme)) return Err{UrlError::UnsupportedScheme};
    if (parts.authority) return parse_http(scheme, *parts.authority, parts.path, parts.query);
    // "http:g": RFC 3986 §5.2.2's backward-compatible reading, for the base's own scheme only
    // (the base's authority belongs to its scheme).
    if (scheme != base.scheme) return Err{UrlError::MissingHost};
    parts.scheme.reset();
  }
  if (parts.authority) return parse_http(scheme, *parts.authority, parts.path, parts.query);
  const std::string authority = base.authority();
  if (parts.path.empty()) {
    if (parts.query) return parse_http(scheme, authority, base.path, parts.query);
    return parse_http(scheme, authority, base.path, base.query ? std::optional<std::string_view>(*base.query) : std::nullopt);
  }
  if (parts.path[0] == '/') return parse_http(scheme, authority, parts.path, parts.query);
  // §5.2.3 merge: the base path up to and including its last '/', then the reference.
  const auto slash = base.path.rfind('/');
  std::string merged = slash == std::string::npos ? std::string("/") : base.path.substr(0, slash + 1);
  merged.append(parts.path);
  return parse_http(scheme, authority, merged, parts.query);
}

}  // namespace appkit
