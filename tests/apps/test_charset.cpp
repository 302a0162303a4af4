// apps/charset: every WHATWG label to its encoding, each encoding decoded through iconv, the
// HTML sniffing order (BOM > Content-Type > <meta> prescan > UTF-8 > windows-1252), hostile input.
// The sample bytes were made with glibc's iconv(1) from the UTF-8 text next to them.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "apps/common/charset.hpp"
#include "apps/common/html_render.hpp"

using namespace appkit;
using namespace appkit::charset;

namespace {

struct Case {
  const char* encoding;               // the WHATWG name
  std::vector<const char*> labels;    // every label of the WHATWG Encoding §4.2 table for it
  std::string bytes;                  // a sample in that encoding
  const char* utf8;                   // what it says
};

const std::vector<Case>& cases() {
  static const std::vector<Case> k = {
      {"UTF-8", {"unicode-1-1-utf-8", "unicode11utf8", "unicode20utf8", "utf-8", "utf8", "x-unicode20utf8"},
       "caf\xC3\xA9", "café"},
      {"IBM866", {"866", "cp866", "csibm866", "ibm866"}, "\x8f\xe0\xa8\xa2\xa5\xe2", "Привет"},
      {"ISO-8859-2", {"csisolatin2", "iso-8859-2", "iso-ir-101", "iso8859-2", "iso88592", "iso_8859-2", "iso_8859-2:1987",
                      "l2", "latin2"}, "\xa3\xf3\x64\xbc", "Łódź"},
      {"ISO-8859-3", {"csisolatin3", "iso-8859-3", "iso-ir-109", "iso8859-3", "iso88593", "iso_8859-3", "iso_8859-3:1988",
                      "l3", "latin3"}, "\xa1\x20\xf8", "Ħ ĝ"},
      {"ISO-8859-4", {"csisolatin4", "iso-8859-4", "iso-ir-110", "iso8859-4", "iso88594", "iso_8859-4", "iso_8859-4:1988",
                      "l4", "latin4"}, "\xc0\xa3", "ĀŖ"},
      {"ISO-8859-5", {"csisolatincyrillic", "cyrillic", "iso-8859-5", "iso-ir-144", "iso8859-5", "iso88595", "iso_8859-5",
                      "iso_8859-5:1988"}, "\xbc\xd8\xe0", "Мир"},
      {"ISO-8859-6", {"arabic", "asmo-708", "csiso88596e", "csiso88596i", "csisolatinarabic", "ecma-114", "iso-8859-6",
                      "iso-8859-6-e", "iso-8859-6-i", "iso-ir-127", "iso8859-6", "iso88596", "iso_8859-6",
                      "iso_8859-6:1987"}, "\xd3\xe4\xc7\xe5", "سلام"},
      {"ISO-8859-7", {"csisolatingreek", "ecma-118", "elot_928", "greek", "greek8", "iso-8859-7", "iso-ir-126", "iso8859-7",
                      "iso88597", "iso_8859-7", "iso_8859-7:1987", "sun_eu_greek"}, "\xc1\xe8\xde\xed\xe1", "Αθήνα"},
      {"ISO-8859-8", {"csiso88598e", "csisolatinhebrew", "hebrew", "iso-8859-8", "iso-8859-8-e", "iso-ir-138", "iso8859-8",
                      "iso88598", "iso_8859-8", "iso_8859-8:1988", "visual"}, "\xf9\xec\xe5\xed", "שלום"},
      {"ISO-8859-8-I", {"csiso88598i", "iso-8859-8-i", "logical"}, "\xf9\xec\xe5\xed", "שלום"},
      {"ISO-8859-10", {"csisolatin6", "iso-8859-10", "iso-ir-157", "iso8859-10", "iso885910", "l6", "latin6"},
       "\xaf\xff\xab", "ŊĸŦ"},
      {"ISO-8859-13", {"iso-8859-13", "iso8859-13", "iso885913"}, "\xc0\xfe", "Ąž"},
      {"ISO-8859-14", {"iso-8859-14", "iso8859-14", "iso885914"}, "\xd0\xfe", "Ŵŷ"},
      {"ISO-8859-15", {"csisolatin9", "iso-8859-15", "iso8859-15", "iso885915", "iso_8859-15", "l9"}, "\xa4\xbd", "€œ"},
      {"ISO-8859-16", {"iso-8859-16"}, "\xaa\xfe", "Șț"},
      {"KOI8-R", {"cskoi8r", "koi", "koi8", "koi8-r", "koi8_r"}, "\xed\xc9\xd2", "Мир"},
      {"KOI8-U", {"koi8-ru", "koi8-u"}, "\xb7\xa4", "Їє"},
      {"macintosh", {"csmacintosh", "mac", "macintosh", "x-mac-roman"}, "\x8e\xaa", "é™"},
      {"windows-874", {"dos-874", "iso-8859-11", "iso8859-11", "iso885911", "tis-620", "windows-874"},
       "\xe4\xb7\xc2", "ไทย"},
      {"windows-1250", {"cp1250", "windows-1250", "x-cp1250"}, "\xa3\xf3\x64\x9f", "Łódź"},
      {"windows-1251", {"cp1251", "windows-1251", "x-cp1251"}, "\xcc\xe8\xf0", "Мир"},
      {"windows-1252", {"ansi_x3.4-1968", "ascii", "cp1252", "cp819", "csisolatin1", "ibm819", "iso-8859-1", "iso-ir-100",
                        "iso8859-1", "iso88591", "iso_8859-1", "iso_8859-1:1987", "l1", "latin1", "us-ascii",
                        "windows-1252", "x-cp1252"}, "Caf\xe9\x92", "Café’"},
      {"windows-1253", {"cp1253", "windows-1253", "x-cp1253"}, "\xc1\xe8\xde\xed\xe1", "Αθήνα"},
      {"windows-1254", {"cp1254", "csisolatin5", "iso-8859-9", "iso-ir-148", "iso8859-9", "iso88599", "iso_8859-9",
                        "iso_8859-9:1989", "l5", "latin5", "windows-1254", "x-cp1254"}, "\xdd\xf0", "İğ"},
      {"windows-1255", {"cp1255", "windows-1255", "x-cp1255"}, "\xf9\xec\xe5\xed", "שלום"},
      {"windows-1256", {"cp1256", "windows-1256", "x-cp1256"}, "\xd3\xe1\xc7\xe3", "سلام"},
      {"windows-1257", {"cp1257", "windows-1257", "x-cp1257"}, "\xc0\xfe", "Ąž"},
      {"windows-1258", {"cp1258", "windows-1258", "x-cp1258"}, "\x80\xfe", "€₫"},
      {"x-mac-cyrillic", {"x-mac-cyrillic", "x-mac-ukrainian"}, "\x8c\xe8\xf0", "Мир"},
      {"GBK", {"chinese", "csgb2312", "csiso58gb231280", "gb2312", "gb_2312", "gb_2312-80", "gbk", "iso-ir-58", "x-gbk"},
       "\xd6\xd0\xce\xc4", "中文"},
      {"gb18030", {"gb18030"}, "\xd6\xd0\xce\xc4", "中文"},
      {"Big5", {"big5", "big5-hkscs", "cn-big5", "csbig5", "x-x-big5"}, "\xa4\xa4\xa4\xe5", "中文"},
      {"EUC-JP", {"cseucpkdfmtjapanese", "euc-jp", "x-euc-jp"}, "\xc6\xfc\xcb\xdc\xb8\xec", "日本語"},
      {"ISO-2022-JP", {"csiso2022jp", "iso-2022-jp"}, "\x1b\x24\x42\x46\x7c\x4b\x5c\x38\x6c\x1b\x28\x42", "日本語"},
      {"Shift_JIS", {"csshiftjis", "ms932", "ms_kanji", "shift-jis", "shift_jis", "sjis", "windows-31j", "x-sjis"},
       "\x93\xfa\x96\x7b\x8c\xea", "日本語"},
      {"EUC-KR", {"cseuckr", "csksc56011987", "euc-kr", "iso-ir-149", "korean", "ks_c_5601-1987", "ks_c_5601-1989",
                  "ksc5601", "ksc_5601", "windows-949"}, "\xc7\xd1\xb1\xb9\xbe\xee", "한국어"},
      {"UTF-16BE", {"unicodefffe", "utf-16be"}, std::string("\x00\x41\x00\xe9", 4), "Aé"},
      {"UTF-16LE", {"csunicode", "iso-10646-ucs-2", "ucs-2", "unicode", "unicodefeff", "utf-16", "utf-16le"},
       std::string("\x41\x00\xe9\x00", 4), "Aé"},
  };
  return k;
}

std::string read_www(const char* name) {
  auto path = std::filesystem::path(__FILE__).parent_path() / "../../tools/sandbox.d/www" / name;
  if (!std::filesystem::exists(path)) path = std::filesystem::path("tools/sandbox.d/www") / name;
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot open " << path.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST_CASE("charset: every WHATWG label names its encoding, and iconv decodes it") {
  std::vector<std::string> tested;
  for (const auto& c : cases()) {
    for (const char* label : c.labels) {
      tested.emplace_back(label);
      CAPTURE(label);
      const auto enc = encoding_for_label(label);
      REQUIRE(enc.has_value());
      CHECK(*enc == c.encoding);
      // Declared by the header, in any case and with whitespace around it.
      std::string upper(label);
      for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      const auto page = decode_page(c.bytes, std::string("text/html; charset=\" ") + upper + " \"");
      CHECK(page.sniffed.source == Source::HttpHeader);
      CHECK(page.sniffed.encoding == c.encoding);
      CHECK(page.decoded.utf8 == c.utf8);
      CHECK(page.decoded.replaced == 0);
    }
  }
  // Every label the table knows is tested here (a label added without a sample fails this).
  for (const auto& label : all_labels()) {
    const auto enc = encoding_for_label(label);
    if (enc == "replacement" || enc == "x-user-defined") continue;
    CAPTURE(label);
    CHECK(std::find(tested.begin(), tested.end(), label) != tested.end());
  }
  CHECK_FALSE(encoding_for_label("klingon").has_value());
  CHECK_FALSE(encoding_for_label("").has_value());
  CHECK_FALSE(encoding_for_label("utf-7").has_value());  // HTML forbids it: not a label
}

TEST_CASE("charset: replacement and x-user-defined are decoded without iconv") {
  for (const char* label : {"csiso2022kr", "hz-gb-2312", "iso-2022-cn", "iso-2022-cn-ext", "iso-2022-kr", "replacement"}) {
    CAPTURE(label);
    CHECK(encoding_for_label(label) == "replacement");
  }
  auto d = to_utf8("<script>x</script>", "replacement");
  REQUIRE(d);
  CHECK(d->utf8 == "\xEF\xBF\xBD");  // the whole stream is one U+FFFD (Encoding §14.1)
  CHECK(to_utf8("", "replacement")->utf8.empty());
  CHECK(encoding_for_label("x-user-defined") == "x-user-defined");
  CHECK(to_utf8("a\x80\xff", "x-user-defined")->utf8 == "a\uF780\uF7FF");
}

TEST_CASE("charset: the sniffing order of HTML §13.2.3.2") {
  const std::string meta_kr = "<html><head><meta charset=\"euc-kr\"></head><body>\xc7\xd1</body></html>";
  SUBCASE("a BOM beats the header and the meta") {
    const auto p = decode_page("\xEF\xBB\xBF" + meta_kr.substr(0, 40), "text/html; charset=iso-8859-1");
    CHECK(p.sniffed.source == Source::Bom);
    CHECK(p.sniffed.encoding == "UTF-8");
    CHECK(p.decoded.utf8.starts_with("<html>"));  // the BOM is gone
    const auto le = decode_page(std::string("\xFF\xFE<\0a\0", 6), "");
    CHECK(le.sniffed.encoding == "UTF-16LE");
    CHECK(le.decoded.utf8 == "<a");
    const auto be = decode_page(std::string("\xFE\xFF\0<\0a", 6), "");
    CHECK(be.sniffed.encoding == "UTF-16BE");
    CHECK(be.decoded.utf8 == "<a");
  }
  SUBCASE("the header beats the meta") {
    const auto p = decode_page(meta_kr, "text/html; charset=windows-1252");
    CHECK(p.sniffed.source == Source::HttpHeader);
    CHECK(p.sniffed.label == "windows-1252");
    CHECK(p.decoded.utf8.find("ÇÑ") != std::string::npos);  // 0xC7 0xD1 read as windows-1252
  }
  SUBCASE("an unknown header label is ignored, the meta decides") {
    const auto p = decode_page(meta_kr, "text/html; charset=klingon");
    CHECK(p.sniffed.source == Source::MetaCharset);
    CHECK(p.sniffed.encoding == "EUC-KR");
    CHECK(p.decoded.utf8.find("한") != std::string::npos);
    CHECK(describe(p.sniffed) == "EUC-KR (declared by <meta charset=\"euc-kr\"> in the first 1024 bytes)");
  }
  SUBCASE("http-equiv needs both attributes") {
    const auto p = decode_page("<meta http-equiv=\"Content-Type\" content=\"text/html; charset=iso-8859-1\">caf\xe9", "");
    CHECK(p.sniffed.source == Source::MetaHttpEquiv);
    CHECK(p.sniffed.encoding == "windows-1252");
    CHECK(p.decoded.utf8.ends_with("café"));
    // content= without http-equiv=Content-Type is not a declaration.
    const auto q = decode_page("<meta content=\"text/html; charset=iso-8859-1\">caf\xe9", "");
    CHECK(q.sniffed.source == Source::Fallback);
    // Attribute order does not matter, nor quotes, nor case.
    const auto r = decode_page("<META CONTENT='text/html;CHARSET=KOI8-R' HTTP-EQUIV=content-type>\xed", "");
    CHECK(r.sniffed.encoding == "KOI8-R");
    CHECK(r.sniffed.label == "koi8-r");
  }
  SUBCASE("a meta inside a comment or beyond 1024 bytes does not count") {
    CHECK(sniff("<!-- <meta charset=euc-kr> --><p>x", "").source == Source::ValidUtf8);
    CHECK(sniff(std::string(1024, ' ') + "<meta charset=euc-kr>", "").source == Source::ValidUtf8);
    CHECK(sniff(std::string(1000, ' ') + "<meta charset=euc-kr>", "").source == Source::MetaCharset);
    // Attribute values of other tags are skipped, not read as markup.
    CHECK(sniff("<img alt=\"<meta charset=euc-kr>\"><p>x", "").source == Source::ValidUtf8);
    CHECK(sniff("<img alt=\"x\"><meta charset=euc-kr>", "").encoding == "EUC-KR");
  }
  SUBCASE("a UTF-16 meta means UTF-8; x-user-defined means windows-1252") {
    CHECK(sniff("<meta charset=utf-16>", "").encoding == "UTF-8");
    CHECK(sniff("<meta charset=x-user-defined>", "").encoding == "windows-1252");
  }
  SUBCASE("nothing declared: UTF-8 if valid, else windows-1252") {
    CHECK(sniff("caf\xC3\xA9", "text/html").source == Source::ValidUtf8);
    const auto p = decode_page("caf\xE9", "text/html");
    CHECK(p.sniffed.source == Source::Fallback);
    CHECK(p.decoded.utf8 == "café");
    CHECK(sniff("\xED\xA0\x80", "").source == Source::Fallback);  // a UTF-8-encoded surrogate is not UTF-8
  }
}

TEST_CASE("charset: Content-Type parameters") {
  CHECK(content_type_charset("text/html; charset=UTF-8") == "UTF-8");
  CHECK(content_type_charset("text/html;charset=\"euc-kr\"") == "euc-kr");
  CHECK(content_type_charset("text/html; q=1; CharSet=latin1 ; x=y") == "latin1");
  CHECK(content_type_charset("text/html; name=\"a;charset=koi8-r\"; charset=big5") == "big5");
  CHECK_FALSE(content_type_charset("text/html").has_value());
  CHECK_FALSE(content_type_charset("text/html; charset").has_value());
  CHECK(content_type_charset("text/html; charset=") == "");
}

TEST_CASE("charset: bytes a decoder rejects become U+FFFD, counted") {
  auto d = to_utf8("\xc7\xd1\xff\xc7", "EUC-KR");  // 한, an invalid byte, a truncated pair
  REQUIRE(d);
  CHECK(d->utf8 == "한\uFFFD\uFFFD");
  CHECK(d->replaced == 2);
  auto u = to_utf8("a\xff" "b", "UTF-8");
  CHECK(u->utf8 == "a\uFFFDb");
  CHECK_FALSE(to_utf8("x", "no-such-encoding").has_value());
}

TEST_CASE("charset: output in a non-UTF-8 locale") {
  CHECK(is_utf8_output("UTF-8"));
  CHECK(is_utf8_output("ANSI_X3.4-1968"));  // the C locale: nothing chosen, UTF-8 as before
  CHECK_FALSE(is_utf8_output("ISO-8859-1"));
  CHECK(from_utf8("café", "UTF-8") == "café");
  CHECK(from_utf8("café", "ISO-8859-1") == "caf\xe9");
  CHECK(from_utf8("한국 ok", "ISO-8859-1") == "?? ok");  // one '?' per character it cannot show
  CHECK(from_utf8("한국", "EUC-KR") == "\xc7\xd1\xb1\xb9");
}

TEST_CASE("charset: the sandbox's EUC-KR and Latin-1 pages render without replacement characters") {
  const Url base = *Url::parse("http://www.domain.com/charset/");
  {
    const std::string bytes = read_www("charset/euc-kr.html");
    const auto page = decode_page(bytes, "text/html");
    CHECK(page.sniffed.encoding == "EUC-KR");
    CHECK(page.decoded.replaced == 0);
    const auto r = html::render(page.decoded.utf8, base);
    CHECK(r.text.find("\uFFFD") == std::string::npos);
    CHECK(r.text.find("처음 프로그래밍을 접하는 경우에 네트워크는 정말 생소합니다.") != std::string::npos);
    CHECK(r.title == "Client to Server Network 연결 과정 이해!");
  }
  {
    const std::string bytes = read_www("charset/latin1.html");
    const auto page = decode_page(bytes, "text/html");
    CHECK(page.sniffed.source == Source::MetaHttpEquiv);
    CHECK(page.sniffed.encoding == "windows-1252");
    const auto r = html::render(page.decoded.utf8, base);
    CHECK(r.text.find("\uFFFD") == std::string::npos);
    CHECK(r.text.find("Café, Straße, ©, ½") != std::string::npos);
    CHECK(r.text.find("quote: ’") != std::string::npos);
  }
}
