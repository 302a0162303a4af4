// libFuzzer target: encoding sniffing (BOM, Content-Type charset, the <meta> prescan) and the
// iconv conversion to UTF-8. Input: up to the first '\n' = a Content-Type value, the rest = the
// body. Properties: never crash, no hang, the result is valid UTF-8 (RFC 3629), and the sniffed
// encoding is one the label table names.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#if __has_include(<llhttp.h>)
#include "apps/common/charset.hpp"
#else
#include "apps/common/charset.cpp"
#endif

namespace {

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    std::size_t len = b0 < 0x80 ? 1 : (b0 >= 0xC2 && b0 <= 0xDF) ? 2 : (b0 >= 0xE0 && b0 <= 0xEF) ? 3 : (b0 >= 0xF0 && b0 <= 0xF4) ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    char32_t cp = len == 1 ? b0 : b0 & (0x7F >> len);
    for (std::size_t k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3F);
    }
    static constexpr char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto nl = in.find('\n');
  const std::string_view content_type = nl == std::string_view::npos ? std::string_view() : in.substr(0, nl);
  const std::string_view body = nl == std::string_view::npos ? in : in.substr(nl + 1);
  const auto page = appkit::charset::decode_page(body, content_type);
  if (appkit::charset::iconv_name(page.sniffed.encoding).empty() && page.sniffed.encoding != "replacement" &&
      page.sniffed.encoding != "x-user-defined") {
    std::abort();
  }
  if (!valid_utf8(page.decoded.utf8)) std::abort();
  if (page.decoded.utf8.size() > body.size() * 4 + 4) std::abort();  // bounded growth
  (void)appkit::charset::from_utf8(page.decoded.utf8.substr(0, 4096), "ISO-8859-1");
  return 0;
}
