// Encoding sniffing (HTML §13.2.3.2) and conversion to UTF-8 with glibc iconv. See charset.hpp.
#include "apps/common/charset.hpp"

#include <iconv.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

namespace appkit::charset {

namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
// ASCII whitespace as the Encoding standard trims it (TAB, LF, FF, CR, SPACE).
bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ws(s.back())) s.remove_suffix(1);
  return s;
}

struct Label {
  const char* label;
  const char* encoding;
};

// WHATWG Encoding §4.2, every label of every encoding, sorted by encoding as the standard lists them.
constexpr Label kLabels[] = {
    // The Encoding (UTF-8)
    {"unicode-1-1-utf-8", "UTF-8"}, {"unicode11utf8", "UTF-8"}, {"unicode20utf8", "UTF-8"}, {"utf-8", "UTF-8"},
    {"utf8", "UTF-8"}, {"x-unicode20utf8", "UTF-8"},
    // Legacy single-byte encodings
    {"866", "IBM866"}, {"cp866", "IBM866"}, {"csibm866", "IBM866"}, {"ibm866", "IBM866"},
    {"csisolatin2", "ISO-8859-2"}, {"iso-8859-2", "ISO-8859-2"}, {"iso-ir-101", "ISO-8859-2"},
    {"iso8859-2", "ISO-8859-2"}, {"iso88592", "ISO-8859-2"}, {"iso_8859-2", "ISO-8859-2"},
    {"iso_8859-2:1987", "ISO-8859-2"}, {"l2", "ISO-8859-2"}, {"latin2", "ISO-8859-2"},
    {"csisolatin3", "ISO-8859-3"}, {"iso-8859-3", "ISO-8859-3"}, {"iso-ir-109", "ISO-8859-3"},
    {"iso8859-3", "ISO-8859-3"}, {"iso88593", "ISO-8859-3"}, {"iso_8859-3", "ISO-8859-3"},
    {"iso_8859-3:1988", "ISO-8859-3"}, {"l3", "ISO-8859-3"}, {"latin3", "ISO-8859-3"},
    {"csisolatin4", "ISO-8859-4"}, {"iso-8859-4", "ISO-8859-4"}, {"iso-ir-110", "ISO-8859-4"},
    {"iso8859-4", "ISO-8859-4"}, {"iso88594", "ISO-8859-4"}, {"iso_8859-4", "ISO-8859-4"},
    {"iso_8859-4:1988", "ISO-8859-4"}, {"l4", "ISO-8859-4"}, {"latin4", "ISO-8859-4"},
    {"csisolatincyrillic", "ISO-8859-5"}, {"cyrillic", "ISO-8859-5"}, {"iso-8859-5", "ISO-8859-5"},
    {"iso-ir-144", "ISO-8859-5"}, {"iso8859-5", "ISO-8859-5"}, {"iso88595", "ISO-8859-5"},
    {"iso_8859-5", "ISO-8859-5"}, {"iso_8859-5:1988", "ISO-8859-5"},
    {"arabic", "ISO-8859-6"}, {"asmo-708", "ISO-8859-6"}, {"csiso88596e", "ISO-8859-6"},
    {"csiso88596i", "ISO-8859-6"}, {"csisolatinarabic", "ISO-8859-6"}, {"ecma-114", "ISO-8859-6"},
    {"iso-8859-6", "ISO-8859-6"}, {"iso-8859-6-e", "ISO-8859-6"}, {"iso-8859-6-i", "ISO-8859-6"},
    {"iso-ir-127", "ISO-8859-6"}, {"iso8859-6", "ISO-8859-6"}, {"iso88596", "ISO-8859-6"},
    {"iso_8859-6", "ISO-8859-6"}, {"iso_8859-6:1987", "ISO-8859-6"},
    {"csisolatingreek", "ISO-8859-7"}, {"ecma-118", "ISO-8859-7"}, {"elot_928", "ISO-8859-7"},
    {"greek", "ISO-8859-7"}, {"greek8", "ISO-8859-7"}, {"iso-8859-7", "ISO-8859-7"}, {"iso-ir-126", "ISO-8859-7"},
    {"iso8859-7", "ISO-8859-7"}, {"iso88597", "ISO-8859-7"}, {"iso_8859-7", "ISO-8859-7"},
    {"iso_8859-7:1987", "ISO-8859-7"}, {"sun_eu_greek", "ISO-8859-7"},
    {"csiso88598e", "ISO-8859-8"}, {"csisolatinhebrew", "ISO-8859-8"}, {"hebrew", "ISO-8859-8"},
    {"iso-8859-8", "ISO-8859-8"}, {"iso-8859-8-e", "ISO-8859-8"}, {"iso-ir-138", "ISO-8859-8"},
    {"iso8859-8", "ISO-8859-8"}, {"iso88598", "ISO-8859-8"}, {"iso_8859-8", "ISO-8859-8"},
    {"iso_8859-8:1988", "ISO-8859-8"}, {"visual", "ISO-8859-8"},
    {"csiso88598i", "ISO-8859-8-I"}, {"iso-8859-8-i", "ISO-8859-8-I"}, {"logical", "ISO-8859-8-I"},
    {"csisolatin6", "ISO-8859-10"}, {"iso-8859-10", "ISO-8859-10"}, {"iso-ir-157", "ISO-8859-10"},
    {"iso8859-10", "ISO-8859-10"}, {"iso885910", "ISO-8859-10"}, {"l6", "ISO-8859-10"}, {"latin6", "ISO-8859-10"},
    {"iso-8859-13", "ISO-8859-13"}, {"iso8859-13", "ISO-8859-13"}, {"iso885913", "ISO-8859-13"},
    {"iso-8859-14", "ISO-8859-14"}, {"iso8859-14", "ISO-8859-14"}, {"iso885914", "ISO-8859-14"},
    {"csisolatin9", "ISO-8859-15"}, {"iso-8859-15", "ISO-8859-15"}, {"iso8859-15", "ISO-8859-15"},
    {"iso885915", "ISO-8859-15"}, {"iso_8859-15", "ISO-8859-15"}, {"l9", "ISO-8859-15"},
    {"iso-8859-16", "ISO-8859-16"},
    {"cskoi8r", "KOI8-R"}, {"koi", "KOI8-R"}, {"koi8", "KOI8-R"}, {"koi8-r", "KOI8-R"}, {"koi8_r", "KOI8-R"},
    {"koi8-ru", "KOI8-U"}, {"koi8-u", "KOI8-U"},
    {"csmacintosh", "macintosh"}, {"mac", "macintosh"}, {"macintosh", "macintosh"}, {"x-mac-roman", "macintosh"},
    {"dos-874", "windows-874"}, {"iso-8859-11", "windows-874"}, {"iso8859-11", "windows-874"},
    {"iso885911", "windows-874"}, {"tis-620", "windows-874"}, {"windows-874", "windows-874"},
    {"cp1250", "windows-1250"}, {"windows-1250", "windows-1250"}, {"x-cp1250", "windows-1250"},
    {"cp1251", "windows-1251"}, {"windows-1251", "windows-1251"}, {"x-cp1251", "windows-1251"},
    {"ansi_x3.4-1968", "windows-1252"}, {"ascii", "windows-1252"}, {"cp1252", "windows-1252"},
    {"cp819", "windows-1252"}, {"csisolatin1", "windows-1252"}, {"ibm819", "windows-1252"},
    {"iso-8859-1", "windows-1252"}, {"iso-ir-100", "windows-1252"}, {"iso8859-1", "windows-1252"},
    {"iso88591", "windows-1252"}, {"iso_8859-1", "windows-1252"}, {"iso_8859-1:1987", "windows-1252"},
    {"l1", "windows-1252"}, {"latin1", "windows-1252"}, {"us-ascii", "windows-1252"},
    {"windows-1252", "windows-1252"}, {"x-cp1252", "windows-1252"},
    {"cp1253", "windows-1253"}, {"windows-1253", "windows-1253"}, {"x-cp1253", "windows-1253"},
    {"cp1254", "windows-1254"}, {"csisolatin5", "windows-1254"}, {"iso-8859-9", "windows-1254"},
    {"iso-ir-148", "windows-1254"}, {"iso8859-9", "windows-1254"}, {"iso88599", "windows-1254"},
    {"iso_8859-9", "windows-1254"}, {"iso_8859-9:1989", "windows-1254"}, {"l5", "windows-1254"},
    {"latin5", "windows-1254"}, {"windows-1254", "windows-1254"}, {"x-cp1254", "windows-1254"},
    {"cp1255", "windows-1255"}, {"windows-1255", "windows-1255"}, {"x-cp1255", "windows-1255"},
    {"cp1256", "windows-1256"}, {"windows-1256", "windows-1256"}, {"x-cp1256", "windows-1256"},
    {"cp1257", "windows-1257"}, {"windows-1257", "windows-1257"}, {"x-cp1257", "windows-1257"},
    {"cp1258", "windows-1258"}, {"windows-1258", "windows-1258"}, {"x-cp1258", "windows-1258"},
    {"x-mac-cyrillic", "x-mac-cyrillic"}, {"x-mac-ukrainian", "x-mac-cyrillic"},
    // Legacy multi-byte Chinese (simplified) encodings
    {"chinese", "GBK"}, {"csgb2312", "GBK"}, {"csiso58gb231280", "GBK"}, {"gb2312", "GBK"}, {"gb_2312", "GBK"},
    {"gb_2312-80", "GBK"}, {"gbk", "GBK"}, {"iso-ir-58", "GBK"}, {"x-gbk", "GBK"},
    {"gb18030", "gb18030"},
    // Legacy multi-byte Chinese (traditional) encodings
    {"big5", "Big5"}, {"big5-hkscs", "Big5"}, {"cn-big5", "Big5"}, {"csbig5", "Big5"}, {"x-x-big5", "Big5"},
    // Legacy multi-byte Japanese encodings
    {"cseucpkdfmtjapanese", "EUC-JP"}, {"euc-jp", "EUC-JP"}, {"x-euc-jp", "EUC-JP"},
    {"csiso2022jp", "ISO-2022-JP"}, {"iso-2022-jp", "ISO-2022-JP"},
    {"csshiftjis", "Shift_JIS"}, {"ms932", "Shift_JIS"}, {"ms_kanji", "Shift_JIS"}, {"shift-jis", "Shift_JIS"},
    {"shift_jis", "Shift_JIS"}, {"sjis", "Shift_JIS"}, {"windows-31j", "Shift_JIS"}, {"x-sjis", "Shift_JIS"},
    // Legacy multi-byte Korean encodings
    {"cseuckr", "EUC-KR"}, {"csksc56011987", "EUC-KR"}, {"euc-kr", "EUC-KR"}, {"iso-ir-149", "EUC-KR"},
    {"korean", "EUC-KR"}, {"ks_c_5601-1987", "EUC-KR"}, {"ks_c_5601-1989", "EUC-KR"}, {"ksc5601", "EUC-KR"},
    {"ksc_5601", "EUC-KR"}, {"windows-949", "EUC-KR"},
    // Legacy miscellaneous encodings
    {"csiso2022kr", "replacement"}, {"hz-gb-2312", "replacement"}, {"iso-2022-cn", "replacement"},
    {"iso-2022-cn-ext", "replacement"}, {"iso-2022-kr", "replacement"}, {"replacement", "replacement"},
    {"unicodefffe", "UTF-16BE"}, {"utf-16be", "UTF-16BE"},
    {"csunicode", "UTF-16LE"}, {"iso-10646-ucs-2", "UTF-16LE"}, {"ucs-2", "UTF-16LE"}, {"unicode", "UTF-16LE"},
    {"unicodefeff", "UTF-16LE"}, {"utf-16", "UTF-16LE"}, {"utf-16le", "UTF-16LE"},
    {"x-user-defined", "x-user-defined"},
};

// Encoding name -> glibc converter. Where the standard's encoding is a superset of the registered
// charset of the same name, the superset's converter is the right one (Encoding §10.1.1: EUC-KR
// is windows-949; §11.1: Shift_JIS is windows-31j; §9.1: GBK decodes as gb18030; §12.1: Big5
// includes HKSCS).
struct Converter {
  const char* encoding;
  const char* iconv;
};
constexpr Converter kConverters[] = {
    {"UTF-8", "UTF-8"}, {"IBM866", "IBM866"}, {"ISO-8859-2", "ISO-8859-2"}, {"ISO-8859-3", "ISO-8859-3"},
    {"ISO-8859-4", "ISO-8859-4"}, {"ISO-8859-5", "ISO-8859-5"}, {"ISO-8859-6", "ISO-8859-6"},
    {"ISO-8859-7", "ISO-8859-7"}, {"ISO-8859-8", "ISO-8859-8"}, {"ISO-8859-8-I", "ISO-8859-8"},
    {"ISO-8859-10", "ISO-8859-10"}, {"ISO-8859-13", "ISO-8859-13"}, {"ISO-8859-14", "ISO-8859-14"},
    {"ISO-8859-15", "ISO-8859-15"}, {"ISO-8859-16", "ISO-8859-16"}, {"KOI8-R", "KOI8-R"}, {"KOI8-U", "KOI8-U"},
    {"macintosh", "MACINTOSH"}, {"windows-874", "CP874"}, {"windows-1250", "CP1250"},
    {"windows-1251", "CP1251"}, {"windows-1252", "CP1252"}, {"windows-1253", "CP1253"},
    {"windows-1254", "CP1254"}, {"windows-1255", "CP1255"}, {"windows-1256", "CP1256"},
    {"windows-1257", "CP1257"}, {"windows-1258", "CP1258"}, {"x-mac-cyrillic", "MAC-CYRILLIC"},
    {"GBK", "GB18030"}, {"gb18030", "GB18030"}, {"Big5", "BIG5-HKSCS"}, {"EUC-JP", "EUC-JP"},
    {"ISO-2022-JP", "ISO-2022-JP"}, {"Shift_JIS", "CP932"}, {"EUC-KR", "CP949"},
    {"UTF-16BE", "UTF-16BE"}, {"UTF-16LE", "UTF-16LE"},
};

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// The length of the well-formed UTF-8 sequence at s[i] (RFC 3629 §4), or 0 when the bytes there
// are not one; `*bad` gets how many bytes form the maximal ill-formed subpart (at least 1), the
// unit the Encoding standard replaces with one U+FFFD.
std::size_t utf8_sequence(std::string_view s, std::size_t i, std::size_t* bad = nullptr) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return 1;
  std::size_t len = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  }
  std::size_t k = 1;
  if (len > 0) {
    for (; k < len && i + k < s.size(); ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) break;
    }
    if (k == len) return len;
  }
  if (bad) *bad = k;
  return 0;
}

bool is_valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8_sequence(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

// One iconv run over `in`; rejected bytes become `bad` (one per rejected byte for EILSEQ, one for
// a truncated tail). Returns false when there is no such converter.
bool run_iconv(const char* to, const char* from, std::string_view in, std::string& out, std::size_t& rejected,
               std::string_view bad) {
  iconv_t cd = iconv_open(to, from);
  if (cd == reinterpret_cast<iconv_t>(-1)) return false;
  out.reserve(out.size() + in.size() * 3 / 2 + 16);
  std::array<char, 16384> buf{};
  // iconv's interface takes char** for its input although it never writes through it.
  char* src = const_cast<char*>(in.data());
  std::size_t src_left = in.size();
  while (src_left > 0) {
    char* dst = buf.data();
    std::size_t dst_left = buf.size();
    const std::size_t r = iconv(cd, &src, &src_left, &dst, &dst_left);
    out.append(buf.data(), buf.size() - dst_left);
    if (r != static_cast<std::size_t>(-1)) continue;
    if (errno == E2BIG) continue;
    if (errno == EILSEQ) {  // an invalid (or unconvertible) sequence: one replacement, skip a byte
      out.append(bad);
      ++rejected;
      ++src;
      --src_left;
      if (std::string_view(from) == "UTF-8") {  // the rest of a character the target cannot show
        while (src_left > 0 && (static_cast<unsigned char>(*src) & 0xC0) == 0x80) {
          ++src;
          --src_left;
        }
      }
      continue;
    }
    // EINVAL: an incomplete sequence at the end of the input.
    out.append(bad);
    ++rejected;
    break;
  }
  // Flush the shift state (ISO-2022-JP back to ASCII).
  char* dst = buf.data();
  std::size_t dst_left = buf.size();
  iconv(cd, nullptr, nullptr, &dst, &dst_left);
  out.append(buf.data(), buf.size() - dst_left);
  iconv_close(cd);
  return true;
}

// --- the <meta> prescan: HTML §13.2.3.2, over bytes -------------------------------------------------

struct PrescanAttr {
  std::string name;
  std::string value;
};

// "Get an attribute" (HTML §13.2.3.2): at `i`, returns false at '>' or the end (no attribute).
bool get_attribute(std::string_view s, std::size_t& i, PrescanAttr& attr) {
  attr = {};
  while (i < s.size() && (is_ws(s[i]) || s[i] == '/')) ++i;
  if (i >= s.size() || s[i] == '>') return false;
  // The name: up to '=', whitespace, '/' or '>' (a leading '=' is part of it).
  do {
    attr.name.push_back(lower(s[i]));
    ++i;
  } while (i < s.size() && s[i] != '=' && !is_ws(s[i]) && s[i] != '/' && s[i] != '>');
  while (i < s.size() && is_ws(s[i])) ++i;
  if (i >= s.size() || s[i] != '=') return true;
  ++i;
  while (i < s.size() && is_ws(s[i])) ++i;
  if (i >= s.size()) return true;
  if (s[i] == '"' || s[i] == '\'') {
    const char q = s[i++];
    while (i < s.size() && s[i] != q) attr.value.push_back(lower(s[i++]));
    if (i < s.size()) ++i;
    return true;
  }
  while (i < s.size() && !is_ws(s[i]) && s[i] != '>') attr.value.push_back(lower(s[i++]));
  return true;
}

// HTML §2.4 "algorithm for extracting a character encoding from a meta element" over `content`.
std::optional<std::string> charset_from_content(std::string_view content) {
  std::size_t pos = 0;
  for (;;) {
    std::size_t at = std::string_view::npos;
    for (std::size_t k = pos; k + 7 <= content.size(); ++k) {
      if (to_lower(content.substr(k, 7)) == "charset") {
        at = k;
        break;
      }
    }
    if (at == std::string_view::npos) return std::nullopt;
    std::size_t i = at + 7;
    while (i < content.size() && is_ws(content[i])) ++i;
    if (i >= content.size() || content[i] != '=') {
      pos = at + 7;  // "charset" not followed by '=': look further
      continue;
    }
    ++i;
    while (i < content.size() && is_ws(content[i])) ++i;
    if (i >= content.size()) return std::nullopt;
    if (content[i] == '"' || content[i] == '\'') {
      const char q = content[i];
      const auto close = content.find(q, i + 1);
      if (close == std::string_view::npos) return std::nullopt;
      return std::string(content.substr(i + 1, close - i - 1));
    }
    std::size_t j = i;
    while (j < content.size() && !is_ws(content[j]) && content[j] != ';') ++j;
    return std::string(content.substr(i, j - i));
  }
}

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

}  // namespace

const char* describe(Source source) {
  switch (source) {
    case Source::Bom: return "a byte order mark";
    case Source::HttpHeader: return "the Content-Type header";
    case Source::MetaCharset: return "<meta charset>";
    case Source::MetaHttpEquiv: return "<meta http-equiv=\"Content-Type\">";
    case Source::ValidUtf8: return "nothing declared, the bytes are valid UTF-8";
    case Source::Fallback: return "nothing declared and not UTF-8, so the default windows-1252";
  }
  return "?";
}

std::optional<std::string> encoding_for_label(std::string_view label) {
  const std::string l = to_lower(trim(label));
  for (const auto& e : kLabels) {
    if (l == e.label) return std::string(e.encoding);
  }
  return std::nullopt;
}

std::vector<std::string_view> all_labels() {
  std::vector<std::string_view> out;
  for (const auto& e : kLabels) out.emplace_back(e.label);
  return out;
}

std::string iconv_name(std::string_view encoding) {
  for (const auto& c : kConverters) {
    if (encoding == c.encoding) return c.iconv;
  }
  return {};
}

std::optional<std::string> content_type_charset(std::string_view content_type) {
  // RFC 9110 §5.6.6 parameters: ;-separated name=value, the value a token or a quoted-string.
  std::size_t i = content_type.find(';');
  while (i != std::string_view::npos && i < content_type.size()) {
    ++i;
    while (i < content_type.size() && is_ws(content_type[i])) ++i;
    std::size_t eq = i;
    while (eq < content_type.size() && content_type[eq] != '=' && content_type[eq] != ';') ++eq;
    const std::string name = to_lower(trim(content_type.substr(i, eq - i)));
    if (eq >= content_type.size() || content_type[eq] == ';') {
      i = eq;
      continue;
    }
    std::size_t v = eq + 1;
    while (v < content_type.size() && is_ws(content_type[v])) ++v;
    std::string value;
    std::size_t end = v;
    if (v < content_type.size() && content_type[v] == '"') {
      end = v + 1;
      while (end < content_type.size() && content_type[end] != '"') {
        if (content_type[end] == '\\' && end + 1 < content_type.size()) ++end;  // quoted-pair
        value.push_back(content_type[end++]);
      }
      end = content_type.find(';', end);
    } else {
      end = content_type.find(';', v);
      value = std::string(trim(content_type.substr(v, end == std::string_view::npos ? std::string_view::npos : end - v)));
    }
    if (name == "charset") return value;
    i = end;
  }
  return std::nullopt;
}

std::optional<MetaDeclaration> prescan(std::string_view bytes) {
  const std::string_view s = bytes.substr(0, std::min<std::size_t>(bytes.size(), 1024));
  std::size_t i = 0;
  while (i < s.size()) {
    if (s.substr(i).starts_with("<!--")) {
      const auto end = s.find("-->", i + 2);  // "<!-->" ends at once (the dashes may overlap)
      if (end == std::string_view::npos) return std::nullopt;
      i = end + 3;
      continue;
    }
    if (s[i] != '<') {
      ++i;
      continue;
    }
    const bool meta = i + 5 < s.size() && to_lower(s.substr(i + 1, 4)) == "meta" && (is_ws(s[i + 5]) || s[i + 5] == '/');
    if (meta) {
      std::size_t j = i + 5;
      std::vector<std::string> seen;
      bool got_pragma = false;
      std::optional<bool> need_pragma;  // nullopt: "null" in the standard
      std::string charset;
      PrescanAttr attr;
      while (get_attribute(s, j, attr)) {
        if (std::find(seen.begin(), seen.end(), attr.name) != seen.end()) continue;
        seen.push_back(attr.name);
        if (attr.name == "http-equiv") {
          if (attr.value == "content-type") got_pragma = true;
        } else if (attr.name == "content") {
          if (charset.empty()) {
            if (auto c = charset_from_content(attr.value)) {
              charset = *c;
              need_pragma = true;
            }
          }
        } else if (attr.name == "charset") {
          charset = attr.value;
          need_pragma = false;
        }
      }
      i = j;
      if (need_pragma.has_value() && !(*need_pragma && !got_pragma) && !charset.empty()) {
        if (auto enc = encoding_for_label(charset)) {
          // A page that could be prescanned is ASCII-compatible: these declarations lie.
          if (*enc == "UTF-16BE" || *enc == "UTF-16LE") *enc = "UTF-8";
          if (*enc == "x-user-defined") *enc = "windows-1252";
          return MetaDeclaration{*enc, std::string(trim(charset)), *need_pragma};
        }
      }
      continue;
    }
    // Another tag: skip its attributes. "</x", "<x": a tag; "<!", "</", "<?": up to '>'.
    std::size_t j = i + 1;
    if (j < s.size() && s[j] == '/') ++j;
    if (j < s.size() && is_alpha(s[j])) {
      while (j < s.size() && !is_ws(s[j]) && s[j] != '>') ++j;
      PrescanAttr attr;
      while (get_attribute(s, j, attr)) {
      }
      i = j;
      continue;
    }
    if (i + 1 < s.size() && (s[i + 1] == '!' || s[i + 1] == '/' || s[i + 1] == '?')) {
      const auto gt = s.find('>', i + 1);
      if (gt == std::string_view::npos) return std::nullopt;
      i = gt + 1;
      continue;
    }
    ++i;
  }
  return std::nullopt;
}

Sniffed sniff(std::string_view body, std::string_view content_type) {
  Sniffed out;
  // Step 1: a byte order mark wins over every declaration (Encoding §6 "decode").
  if (body.starts_with("\xEF\xBB\xBF")) return {"UTF-8", Source::Bom, "", 3};
  if (body.starts_with("\xFE\xFF")) return {"UTF-16BE", Source::Bom, "", 2};
  if (body.starts_with("\xFF\xFE")) return {"UTF-16LE", Source::Bom, "", 2};
  // Step 4: the transport layer.
  if (auto label = content_type_charset(content_type)) {
    if (auto enc = encoding_for_label(*label)) return {*enc, Source::HttpHeader, std::string(trim(*label)), 0};
  }
  // Step 5: the prescan.
  if (auto meta = prescan(body)) {
    return {meta->encoding, meta->http_equiv ? Source::MetaHttpEquiv : Source::MetaCharset, meta->label, 0};
  }
  // Step 9: the default. UTF-8 when the bytes are UTF-8 (most of the web), else windows-1252.
  if (is_valid_utf8(body)) return {"UTF-8", Source::ValidUtf8, "", 0};
  return {"windows-1252", Source::Fallback, "", 0};
}

std::string describe(const Sniffed& sniffed) {
  std::string out = sniffed.encoding + " (";
  switch (sniffed.source) {
    case Source::Bom: out += "from a byte order mark"; break;
    case Source::HttpHeader: out += "declared by the Content-Type header: charset=" + sniffed.label; break;
    case Source::MetaCharset: out += "declared by <meta charset=\"" + sniffed.label + "\"> in the first 1024 bytes"; break;
    case Source::MetaHttpEquiv:
      out += "declared by <meta http-equiv=\"Content-Type\" content=\"…charset=" + sniffed.label +
             "\"> in the first 1024 bytes";
      break;
    case Source::ValidUtf8:
    case Source::Fallback: out += describe(sniffed.source); break;
  }
  return out + ")";
}

std::optional<Decoded> to_utf8(std::string_view bytes, std::string_view encoding) {
  Decoded d;
  if (encoding == "replacement") {
    // Encoding §14.1: the whole stream is one U+FFFD (these encodings let scripts smuggle markup).
    if (!bytes.empty()) {
      d.utf8 = kReplacement;
      d.replaced = 1;
    }
    return d;
  }
  if (encoding == "x-user-defined") {  // Encoding §14.5: 0x80..0xFF to U+F780..U+F7FF
    for (char c : bytes) append_utf8(d.utf8, static_cast<unsigned char>(c) < 0x80 ? static_cast<unsigned char>(c)
                                                                              : 0xF700 + static_cast<unsigned char>(c));
    return d;
  }
  if (encoding == "UTF-8") {  // our own decoder: glibc's passes some ill-formed sequences through
    d.utf8.reserve(bytes.size());
    for (std::size_t i = 0; i < bytes.size();) {
      std::size_t bad = 1;
      const std::size_t n = utf8_sequence(bytes, i, &bad);
      if (n > 0) {
        d.utf8.append(bytes.substr(i, n));
        i += n;
      } else {
        d.utf8.append(kReplacement);
        ++d.replaced;
        i += bad;
      }
    }
    return d;
  }
  const std::string conv = iconv_name(encoding);
  if (conv.empty()) return std::nullopt;
  if (!run_iconv("UTF-8", conv.c_str(), bytes, d.utf8, d.replaced, kReplacement)) return std::nullopt;
  return d;
}

Page decode_page(std::string_view body, std::string_view content_type) {
  Page page;
  page.sniffed = sniff(body, content_type);
  const auto rest = body.substr(page.sniffed.bom_bytes);
  if (auto d = to_utf8(rest, page.sniffed.encoding)) {
    page.decoded = std::move(*d);
  } else {
    page.decoded.utf8 = std::string(rest);  // no converter: the renderer shows bad bytes as U+FFFD
  }
  return page;
}

bool is_utf8_output(std::string_view codeset) {
  const std::string c = to_lower(codeset);
  return c.empty() || c == "utf-8" || c == "utf8" || c == "ansi_x3.4-1968";
}

std::string from_utf8(std::string_view utf8, std::string_view codeset) {
  if (is_utf8_output(codeset)) return std::string(utf8);
  std::string out;
  std::size_t rejected = 0;
  const std::string to = std::string(codeset) + "//TRANSLIT";
  if (!run_iconv(to.c_str(), "UTF-8", utf8, out, rejected, "?")) return std::string(utf8);
  return out;
}

}  // namespace appkit::charset
