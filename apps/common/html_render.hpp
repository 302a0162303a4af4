// HTML to text in the habits of `w3m -dump -o display_link_number=1` and `lynx -dump`:
// paragraphs wrapped to the terminal width (display columns, not bytes), lists with bullets and
// numbers, blockquote/pre/dd indented, `[n]` before each link's text and a numbered
// "References:" list of absolute URLs at the end, images as `[img: alt]`.
// Plus the list of same-host subresources (img, stylesheets, scripts) the browser fetches.
//
// Read first: WHATWG HTML §13.2.5 (tokenization: what a tolerant tokenizer must survive) and
// §13.5 (named character references); RFC 3629 (UTF-8). The tokenizer is our own, small and
// linear: every byte is looked at a bounded number of times, whatever the markup.
// Tables are laid out as w3m lays them out (column widths from each cell's narrowest and widest
// layout, wrapping inside cells, colspan/rowspan, <th> centred, a box-drawing grid for border
// tables, nested tables up to three deep); forms are drawn as w3m draws them ("[tcp   ][Go]").
// The input is UTF-8: apps/common/charset.hpp decodes other encodings first (invalid bytes that
// remain show as U+FFFD).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "apps/common/url.hpp"

namespace appkit::html {

// --- tokenizer -----------------------------------------------------------------------------------

struct Attribute {
  std::string name;   // lower case
  std::string value;  // character references decoded
};

struct Token {
  enum class Kind { Text, StartTag, EndTag, Comment, Doctype };
  Kind kind = Kind::Text;
  std::string name;                // tag name, lower case
  std::string text;                // Text: decoded (raw for script/style); Comment/Doctype: raw
  std::vector<Attribute> attributes;
  bool self_closing = false;

  const std::string* attribute(std::string_view attr_name) const;
};

class Tokenizer {
 public:
  static constexpr std::size_t kMaxAttributes = 64;  // further attributes of a tag are skipped

  explicit Tokenizer(std::string_view input) : in_(input) {}
  // The next token; false at the end. A tag cut off by the end of input is dropped (HTML §13.2.5).
  bool next(Token& out);

 private:
  bool tag(Token& out);
  void text_until_lt(Token& out, std::size_t from);
  std::string_view in_;
  std::size_t pos_ = 0;
  std::string raw_end_;  // inside script/style/title/textarea: the element whose end tag ends it
  bool raw_decode_ = false;
};

// Character references (&amp; &#233; &#xE9; and all 2231 named ones of HTML §13.5). `in_attribute`
// applies HTML's rule for legacy names without ';' ("?a=1&copy=2" stays as is in an href).
std::string decode_entities(std::string_view text, bool in_attribute = false);

// --- text helpers -----------------------------------------------------------------------------------

// Valid UTF-8 out: invalid sequences become U+FFFD; C0/C1 controls other than \n and \t are
// dropped (a page must not be able to send escape sequences to the terminal).
std::string sanitize_utf8(std::string_view text);
// Terminal columns of valid UTF-8 text (East Asian wide = 2, combining marks = 0).
std::size_t display_width(std::string_view utf8);

// --- rendering ------------------------------------------------------------------------------------

struct RenderOptions {
  std::size_t width = 80;          // columns; at least 20 is used
  bool references = true;          // the "References:" list at the end
  bool underline_headings = true;  // h1 with '=', h2 with '-' (w3m prints them plain)
  bool ascii = false;              // table grids in "+-|" instead of box-drawing characters
};

// <meta http-equiv="refresh" content="N; url=U"> (HTML §4.2.5.3), the first one.
struct Refresh {
  long seconds = 0;
  Url url;  // resolved against the page (or <base href>); the page itself when no URL was given
};

struct RenderedPage {
  std::string title;               // <title>, whitespace collapsed ("" when none)
  std::string text;                // the dump, each line ending in '\n'
  std::vector<std::string> links;  // links[n-1] is reference [n]: absolute URL, or the href as
                                   // written when it is not an http(s) URL (mailto:, ftp:, ...)
  std::optional<Refresh> refresh;  // shown in the text as "Refresh (N sec) URL", like w3m
};

RenderedPage render(std::string_view html, const Url& base, const RenderOptions& options = {});

// --- subresources -----------------------------------------------------------------------------------

enum class SubresourceKind { Image, Stylesheet, Script };
const char* describe(SubresourceKind kind);  // "image", "stylesheet", "script"

struct Subresource {
  SubresourceKind kind;
  Url url;
};

// img src, link rel=stylesheet href, script src, resolved against the page URL (or <base href>),
// in document order, each URL once. With same_origin_only, other hosts/ports are left out.
std::vector<Subresource> subresources(std::string_view html, const Url& page, bool same_origin_only = true);

}  // namespace appkit::html
