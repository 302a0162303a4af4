// libFuzzer target: table layout (grid placement, colspan/rowspan, width sharing, the box grid,
// nested tables). Input: first byte = width (bit 0: ASCII grid), the rest = markup placed inside
// <table border=1>. Properties: never crash, no hang, valid UTF-8 out, no line wider than the
// widest the layout allows (a table may overflow the page, but only by its cells' longest words).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

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
  options.ascii = (data[0] & 1) != 0;
  const std::string html = "<table border=1>" + std::string(reinterpret_cast<const char*>(data + 1), size - 1);
  static const appkit::Url base = *appkit::Url::parse("http://www.domain.com/dir/page.html");
  const auto page = appkit::html::render(html, base, options);
  if (appkit::html::sanitize_utf8(page.text) != page.text) std::abort();
  std::size_t start = 0;
  while (start < page.text.size()) {
    const auto end = page.text.find('\n', start);
    // Bounded output: every line is at most the input's size (plus grid and indent) wide.
    if (appkit::html::display_width(std::string_view(page.text).substr(start, end - start)) > 4 * size + 300) std::abort();
    start = end + 1;
  }
  return 0;
}
