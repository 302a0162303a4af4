// Which character encoding a page is in, and its text converted to UTF-8 before parsing.
//
// Read first: WHATWG HTML §13.2.3.1 "Parsing with a known character encoding" and §13.2.3.2
// "Determining the character encoding" (the sniffing order: BOM, then the transport layer's
// charset, then the <meta> prescan of the first 1024 bytes, then a default), §2.4.x "Extracting a
// character encoding from a meta element"; WHATWG Encoding §4.2 (the label table: "euc-kr",
// "ks_c_5601-1987", "latin1" … each name one encoding) and §4.1 (what each encoding really is: the
// label "iso-8859-1" means windows-1252, "euc-kr" means windows-949). RFC 9110 §8.3.1 (the charset
// parameter of Content-Type).
//
// The conversion itself is glibc's iconv: every encoding of the WHATWG list maps to one of its
// converters. Bytes a converter rejects become U+FFFD (Encoding §4.1 "error mode replacement"),
// and are counted so that the narration can say so.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace appkit::charset {

// Where the encoding came from, in the HTML standard's order of precedence.
enum class Source {
  Bom,           // a UTF-8 / UTF-16 byte order mark (§13.2.3.2 step 1)
  HttpHeader,    // Content-Type: text/html; charset=... (step 4, the transport layer)
  MetaCharset,   // <meta charset="..."> in the first 1024 bytes (step 5, the prescan)
  MetaHttpEquiv, // <meta http-equiv="Content-Type" content="...; charset=..."> (the prescan)
  ValidUtf8,     // nothing declared; the bytes are valid UTF-8 (step 9's implementation-defined default)
  Fallback,      // nothing declared and not UTF-8: windows-1252, the default for most locales
};
const char* describe(Source source);  // "the Content-Type header", "<meta charset>" …

// WHATWG Encoding §4.2: a label (case-insensitive, surrounding ASCII whitespace ignored) to the
// encoding's name as the standard spells it ("EUC-KR", "windows-1252", "Shift_JIS", "UTF-8");
// nullopt for an unknown label.
std::optional<std::string> encoding_for_label(std::string_view label);
std::vector<std::string_view> all_labels();  // the whole table, for tests

// The glibc iconv converter for an encoding name returned above ("CP949" for EUC-KR, which the
// standard defines as windows-949; "CP1252" for windows-1252 …). Empty for "replacement" and
// "x-user-defined", which are decoded without iconv.
std::string iconv_name(std::string_view encoding);

struct Sniffed {
  std::string encoding;  // WHATWG name: "UTF-8", "EUC-KR", "windows-1252" …
  Source source = Source::ValidUtf8;
  std::string label;     // the label as declared (empty for Bom / ValidUtf8 / Fallback)
  std::size_t bom_bytes = 0;  // bytes of byte order mark to skip
};

// The charset parameter of a Content-Type value (RFC 9110 §8.3.1; quoted or not), if any.
std::optional<std::string> content_type_charset(std::string_view content_type);

// The <meta> prescan (HTML §13.2.3.2 "prescan a byte stream to determine its encoding") over the
// first 1024 bytes: the declared encoding and which form declared it, if any. Comments and other
// tags are skipped; a UTF-16 declaration means UTF-8 and x-user-defined means windows-1252 (as the
// standard says, since a page that can be prescanned is ASCII-compatible).
struct MetaDeclaration {
  std::string encoding;
  std::string label;
  bool http_equiv = false;
};
std::optional<MetaDeclaration> prescan(std::string_view bytes);

// The whole sniffing order. `content_type` is the Content-Type header's value ("" when absent).
Sniffed sniff(std::string_view body, std::string_view content_type);

// "EUC-KR (declared by <meta charset="euc-kr">)" — one phrase for the narration.
std::string describe(const Sniffed& sniffed);

struct Decoded {
  std::string utf8;
  std::size_t replaced = 0;  // byte sequences the decoder rejected (each became U+FFFD)
};

// Bytes in `encoding` (a WHATWG name) to UTF-8; nullopt when iconv has no converter for it
// (then the caller treats the bytes as UTF-8). A truncated sequence at the end is one U+FFFD.
std::optional<Decoded> to_utf8(std::string_view bytes, std::string_view encoding);

// Sniff and decode in one step: the body as UTF-8, the BOM removed.
struct Page {
  Sniffed sniffed;
  Decoded decoded;
};
Page decode_page(std::string_view body, std::string_view content_type);

// Output for a terminal whose locale uses `codeset` (nl_langinfo(CODESET)). UTF-8 and the plain
// C locale ("ANSI_X3.4-1968", where nothing was chosen) keep UTF-8; any other codeset gets the
// text converted, with characters it cannot show transliterated by glibc or, failing that, '?'.
bool is_utf8_output(std::string_view codeset);
std::string from_utf8(std::string_view utf8, std::string_view codeset);

}  // namespace appkit::charset
