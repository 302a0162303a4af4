// libFuzzer target: URL parsing and RFC 3986 reference resolution. Input: "base\nreference".
// Properties: never crash; every URL we produce parses back to itself (to_string is canonical).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

// Fuzz targets link `drivers` only; until they link `appkit` (which brings llhttp and its include
// path), the sources under test are compiled into this translation unit.
#if __has_include(<llhttp.h>)
#include "apps/common/url.hpp"
#else
#include "apps/common/url.cpp"
#endif

namespace {

void check_canonical(const appkit::Url& u) {
  auto again = appkit::Url::parse(u.to_string());
  if (!again || !(*again == u)) std::abort();
  if (u.path.empty() || u.path[0] != '/') std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto nl = in.find('\n');
  const auto base_text = in.substr(0, nl);
  const auto ref = nl == std::string_view::npos ? in : in.substr(nl + 1);
  auto base = appkit::Url::parse(base_text);
  if (base) check_canonical(*base);
  if (auto u = appkit::Url::parse_user_input(base_text)) check_canonical(*u);
  const appkit::Url fallback = *appkit::Url::parse("http://a/b/c/d;p?q");
  if (auto r = appkit::resolve(base ? *base : fallback, ref)) {
    check_canonical(*r);
    (void)r->ipv4();
  } else {
    (void)appkit::describe(r.error());
  }
  (void)appkit::remove_dot_segments(ref);
  return 0;
}
