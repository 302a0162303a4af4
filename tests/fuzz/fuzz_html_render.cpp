// libFuzzer target: the HTML tokenizer, the text renderer and the subresource extractor.
// Input: first byte = width, the rest = the page. Properties: never crash, no hang (-timeout),
// and the output is valid UTF-8 without control characters other than '\n'.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

// Fuzz targets link `drivers` only; until they link `appkit`, the sources under test are compiled
// into this translation unit (see fuzz_url.cpp).
#if __has_include(<llhttp.h>)
#include "apps/common/html_render.hpp"
#else
#include "apps/common/html_render.cpp"
#include "apps/common/url.cpp"
#endif

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  appkit::html::RenderOptions options;
  options.width = data[0];
  options.underline_headings = (data[0] & 1) != 0;
  const std::string_view html(reinterpret_cast<const char*>(data + 1), size - 1);
  static const appkit::Url base = *appkit::Url::parse("http://www.domain.com/dir/page.html");
  const auto page = appkit::html::render(html, base, options);
  if (appkit::html::sanitize_utf8(page.text) != page.text) std::abort();
  for (char c : page.text) {
    if (static_cast<unsigned char>(c) < 0x20 && c != '\n') std::abort();
  }
  if (appkit::html::sanitize_utf8(page.title) != page.title) std::abort();
  const auto subs = appkit::html::subresources(html, base);
  for (const auto& s : subs) {
    if (!s.url.same_origin(base)) std::abort();
  }
  return 0;
}
