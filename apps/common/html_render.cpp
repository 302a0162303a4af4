// HTML to text (w3m/lynx -dump habits) and the subresource list. See html_render.hpp.
#include "apps/common/html_render.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <unordered_set>

namespace appkit::html {

namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// Case-insensitive search for `needle` (lower case) from `from`; npos when absent. Linear in
// practice: needles are short tag names.
std::size_t ifind(std::string_view hay, std::string_view needle, std::size_t from) {
  if (needle.empty() || hay.size() < needle.size()) return std::string_view::npos;
  for (std::size_t i = from; i + needle.size() <= hay.size(); ++i) {
    if (lower(hay[i]) != needle[0]) continue;
    if (iequals(hay.substr(i, needle.size()), needle)) return i;
  }
  return std::string_view::npos;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// One code point from valid-or-not UTF-8 at s[i]; advances i; U+FFFD for anything invalid
// (overlong forms, surrogates, > U+10FFFF, truncated sequences).
char32_t next_code_point(std::string_view s, std::size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  std::size_t len = 0;
  char32_t cp = 0;
  char32_t min = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2; cp = b0 & 0x1F; min = 0x80;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3; cp = b0 & 0x0F; min = 0x800;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4; cp = b0 & 0x07; min = 0x10000;
  } else {
    ++i;
    return 0xFFFD;
  }
  std::size_t k = 1;
  for (; k < len; ++k) {
    if (i + k >= s.size()) break;
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) break;
    cp = (cp << 6) | (b & 0x3F);
  }
  if (k < len) {  // truncated: skip the bytes that were part of it
    i += k;
    return 0xFFFD;
  }
  i += len;
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0xFFFD;
  return cp;
}

std::size_t code_point_width(char32_t cp) {
  if ((cp >= 0x0300 && cp <= 0x036F) || (cp >= 0x1AB0 && cp <= 0x1AFF) || (cp >= 0x1DC0 && cp <= 0x1DFF) ||
      (cp >= 0x20D0 && cp <= 0x20FF) || (cp >= 0xFE20 && cp <= 0xFE2F) || (cp >= 0x200B && cp <= 0x200F) ||
      (cp >= 0x2060 && cp <= 0x2064) || cp == 0xFEFF || cp == 0xAD) {
    return 0;
  }
  if ((cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF && cp != 0x303F) ||
      (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0xFE30 && cp <= 0xFE4F) ||
      (cp >= 0xFF00 && cp <= 0xFF60) || (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x1F300 && cp <= 0x1F64F) ||
      (cp >= 0x1F900 && cp <= 0x1F9FF) || (cp >= 0x20000 && cp <= 0x3FFFD)) {
    return 2;
  }
  return 1;
}

struct NamedEntity {
  const char* name;
  char32_t cp;
};

// A common set (HTML §13.5 has 2231 names; these cover what pages write by hand).
constexpr NamedEntity kEntities[] = {
    {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}, {"nbsp", 0xA0},
    {"copy", 0xA9}, {"reg", 0xAE}, {"trade", 0x2122}, {"mdash", 0x2014}, {"ndash", 0x2013},
    {"hellip", 0x2026}, {"laquo", 0xAB}, {"raquo", 0xBB}, {"lsquo", 0x2018}, {"rsquo", 0x2019},
    {"ldquo", 0x201C}, {"rdquo", 0x201D}, {"sbquo", 0x201A}, {"bdquo", 0x201E}, {"bull", 0x2022},
    {"middot", 0xB7}, {"deg", 0xB0}, {"plusmn", 0xB1}, {"times", 0xD7}, {"divide", 0xF7},
    {"euro", 0x20AC}, {"pound", 0xA3}, {"yen", 0xA5}, {"cent", 0xA2}, {"sect", 0xA7}, {"para", 0xB6},
    {"shy", 0xAD}, {"iexcl", 0xA1}, {"iquest", 0xBF}, {"micro", 0xB5}, {"frac12", 0xBD},
    {"frac14", 0xBC}, {"frac34", 0xBE}, {"sup1", 0xB9}, {"sup2", 0xB2}, {"sup3", 0xB3},
    {"ordf", 0xAA}, {"ordm", 0xBA}, {"not", 0xAC}, {"macr", 0xAF}, {"acute", 0xB4}, {"cedil", 0xB8},
    {"uml", 0xA8}, {"curren", 0xA4}, {"brvbar", 0xA6},
    {"larr", 0x2190}, {"uarr", 0x2191}, {"rarr", 0x2192}, {"darr", 0x2193}, {"harr", 0x2194},
    {"lArr", 0x21D0}, {"rArr", 0x21D2}, {"hArr", 0x21D4},
    {"hearts", 0x2665}, {"spades", 0x2660}, {"clubs", 0x2663}, {"diams", 0x2666},
    {"dagger", 0x2020}, {"Dagger", 0x2021}, {"permil", 0x2030}, {"prime", 0x2032}, {"Prime", 0x2033},
    {"lsaquo", 0x2039}, {"rsaquo", 0x203A}, {"oline", 0x203E}, {"frasl", 0x2044},
    {"thinsp", 0x2009}, {"ensp", 0x2002}, {"emsp", 0x2003}, {"zwj", 0x200D}, {"zwnj", 0x200C},
    {"lrm", 0x200E}, {"rlm", 0x200F},
    {"infin", 0x221E}, {"ne", 0x2260}, {"le", 0x2264}, {"ge", 0x2265}, {"asymp", 0x2248},
    {"minus", 0x2212}, {"sum", 0x2211}, {"prod", 0x220F}, {"radic", 0x221A}, {"part", 0x2202},
    {"forall", 0x2200}, {"exist", 0x2203}, {"isin", 0x2208}, {"cap", 0x2229}, {"cup", 0x222A},
    {"int", 0x222B}, {"equiv", 0x2261}, {"sdot", 0x22C5}, {"loz", 0x25CA},
    {"alpha", 0x3B1}, {"beta", 0x3B2}, {"gamma", 0x3B3}, {"delta", 0x3B4}, {"epsilon", 0x3B5},
    {"lambda", 0x3BB}, {"mu", 0x3BC}, {"pi", 0x3C0}, {"sigma", 0x3C3}, {"tau", 0x3C4},
    {"phi", 0x3C6}, {"omega", 0x3C9}, {"theta", 0x3B8}, {"Delta", 0x394}, {"Omega", 0x3A9},
    {"Sigma", 0x3A3}, {"Pi", 0x3A0},
    {"Agrave", 0xC0}, {"Aacute", 0xC1}, {"Acirc", 0xC2}, {"Atilde", 0xC3}, {"Auml", 0xC4},
    {"Aring", 0xC5}, {"AElig", 0xC6}, {"Ccedil", 0xC7}, {"Egrave", 0xC8}, {"Eacute", 0xC9},
    {"Ecirc", 0xCA}, {"Euml", 0xCB}, {"Igrave", 0xCC}, {"Iacute", 0xCD}, {"Icirc", 0xCE},
    {"Iuml", 0xCF}, {"ETH", 0xD0}, {"Ntilde", 0xD1}, {"Ograve", 0xD2}, {"Oacute", 0xD3},
    {"Ocirc", 0xD4}, {"Otilde", 0xD5}, {"Ouml", 0xD6}, {"Oslash", 0xD8}, {"Ugrave", 0xD9},
    {"Uacute", 0xDA}, {"Ucirc", 0xDB}, {"Uuml", 0xDC}, {"Yacute", 0xDD}, {"THORN", 0xDE},
    {"szlig", 0xDF}, {"agrave", 0xE0}, {"aacute", 0xE1}, {"acirc", 0xE2}, {"atilde", 0xE3},
    {"auml", 0xE4}, {"aring", 0xE5}, {"aelig", 0xE6}, {"ccedil", 0xE7}, {"egrave", 0xE8},
    {"eacute", 0xE9}, {"ecirc", 0xEA}, {"euml", 0xEB}, {"igrave", 0xEC}, {"iacute", 0xED},
    {"icirc", 0xEE}, {"iuml", 0xEF}, {"eth", 0xF0}, {"ntilde", 0xF1}, {"ograve", 0xF2},
    {"oacute", 0xF3}, {"ocirc", 0xF4}, {"otilde", 0xF5}, {"ouml", 0xF6}, {"oslash", 0xF8},
    {"ugrave", 0xF9}, {"uacute", 0xFA}, {"ucirc", 0xFB}, {"uuml", 0xFC}, {"yacute", 0xFD},
    {"thorn", 0xFE}, {"yuml", 0xFF}, {"OElig", 0x152}, {"oelig", 0x153}, {"Scaron", 0x160},
    {"scaron", 0x161}, {"Yuml", 0x178}, {"fnof", 0x192}, {"circ", 0x2C6}, {"tilde", 0x2DC},
};

// Names HTML also recognises without the ';' (a subset of its legacy list).
constexpr const char* kLegacy[] = {"amp", "lt", "gt", "quot", "nbsp", "copy", "reg"};

std::optional<char32_t> lookup_entity(std::string_view name) {
  for (const auto& e : kEntities) {
    if (name == e.name) return e.cp;
  }
  return std::nullopt;
}

}  // namespace

// --- text helpers -------------------------------------------------------------------------------------

std::string sanitize_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      ++i;
      if (c >= 0x20 && c != 0x7F) {
        out.push_back(static_cast<char>(c));
      } else if (c == '\n' || c == '\t') {
        out.push_back(static_cast<char>(c));
      }
      continue;
    }
    const char32_t cp = next_code_point(text, i);
    if (cp >= 0x80 && cp <= 0x9F) continue;  // C1 controls (CSI is 0x9B)
    append_utf8(out, cp);
  }
  return out;
}

std::size_t display_width(std::string_view utf8) {
  std::size_t width = 0;
  std::size_t i = 0;
  while (i < utf8.size()) width += code_point_width(next_code_point(utf8, i));
  return width;
}

std::string decode_entities(std::string_view text, bool in_attribute) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const auto amp = text.find('&', i);
    if (amp == std::string_view::npos) {
      out.append(text.substr(i));
      break;
    }
    out.append(text.substr(i, amp - i));
    i = amp + 1;
    if (i < text.size() && text[i] == '#') {
      // &#NNN; / &#xHHH; — the ';' may be missing (HTML parse error, still decoded).
      std::size_t j = i + 1;
      const bool hex = j < text.size() && (text[j] == 'x' || text[j] == 'X');
      if (hex) ++j;
      const std::size_t digits_start = j;
      std::uint32_t value = 0;
      bool overflow = false;
      while (j < text.size() && (hex ? std::isxdigit(static_cast<unsigned char>(text[j])) != 0 : is_digit(text[j]))) {
        const char c = text[j];
        const std::uint32_t d = is_digit(c) ? static_cast<std::uint32_t>(c - '0')
                                            : static_cast<std::uint32_t>(lower(c) - 'a' + 10);
        if (value > 0x10FFFF) overflow = true;
        else value = value * (hex ? 16u : 10u) + d;
        ++j;
      }
      if (j == digits_start) {  // "&#" or "&#x" with no digits: not a reference
        out.push_back('&');
        continue;
      }
      if (j < text.size() && text[j] == ';') ++j;
      char32_t cp = value;
      if (overflow || value == 0 || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) cp = 0xFFFD;
      append_utf8(out, cp);
      i = j;
      continue;
    }
    std::size_t j = i;
    while (j < text.size() && j - i < 32 && is_alnum(text[j])) ++j;
    const auto name = text.substr(i, j - i);
    if (!name.empty() && j < text.size() && text[j] == ';') {
      if (auto cp = lookup_entity(name)) {
        append_utf8(out, *cp);
        i = j + 1;
        continue;
      }
    }
    // Without ';': the longest legacy name that starts the run.
    std::string_view best;
    for (const char* legacy : kLegacy) {
      const std::string_view l(legacy);
      if (name.starts_with(l) && l.size() > best.size()) best = l;
    }
    if (!best.empty()) {
      const std::size_t after = i + best.size();
      const bool blocked = in_attribute && after < text.size() && (is_alnum(text[after]) || text[after] == '=');
      if (!blocked) {
        append_utf8(out, *lookup_entity(best));
        i = after;
        continue;
      }
    }
    out.push_back('&');
  }
  return out;
}

// --- tokenizer ------------------------------------------------------------------------------------------

const std::string* Token::attribute(std::string_view attr_name) const {
  for (const auto& a : attributes) {
    if (a.name == attr_name) return &a.value;
  }
  return nullptr;
}

void Tokenizer::text_until_lt(Token& out, std::size_t from) {
  // Up to the next '<' that can start markup: a run of "<<<<" or "a < b" stays one text token.
  auto end = in_.find('<', from);
  while (end != std::string_view::npos && end + 1 < in_.size() && !is_alpha(in_[end + 1]) && in_[end + 1] != '/' &&
         in_[end + 1] != '!' && in_[end + 1] != '?') {
    end = in_.find('<', end + 1);
  }
  if (end == std::string_view::npos) end = in_.size();
  out = Token{};
  out.kind = Token::Kind::Text;
  out.text = decode_entities(in_.substr(pos_, end - pos_));
  pos_ = end;
}

bool Tokenizer::next(Token& out) {
  while (pos_ < in_.size()) {
    if (!raw_end_.empty()) {
      // Raw text (script, style) or escapable raw text (title, textarea) up to "</name".
      const std::string needle = "</" + raw_end_;
      auto end = ifind(in_, needle, pos_);
      if (end == std::string_view::npos) end = in_.size();
      const auto body = in_.substr(pos_, end - pos_);
      pos_ = end;
      raw_end_.clear();
      if (!body.empty()) {
        out = Token{};
        out.kind = Token::Kind::Text;
        out.text = raw_decode_ ? decode_entities(body) : std::string(body);
        return true;
      }
      continue;
    }
    if (in_[pos_] != '<') {
      text_until_lt(out, pos_);
      return true;
    }
    if (tag(out)) return true;
  }
  return false;
}

// At a '<'. Emits a tag, comment or doctype; or '<' as text when no markup starts here. A tag cut
// off by the end of input is dropped (pos_ goes to the end), which keeps "<a<a<a..." linear.
bool Tokenizer::tag(Token& out) {
  const std::size_t start = pos_;
  const std::size_t n = in_.size();
  std::size_t i = pos_ + 1;
  auto to_gt = [&](std::size_t from) {
    const auto gt = in_.find('>', from);
    return gt == std::string_view::npos ? n : gt + 1;
  };
  if (i < n && in_[i] == '!') {
    out = Token{};
    if (in_.substr(i).starts_with("!--")) {
      auto end = in_.find("-->", i + 3);
      const std::size_t stop = end == std::string_view::npos ? n : end + 3;
      out.kind = Token::Kind::Comment;
      out.text = std::string(in_.substr(i + 3, (end == std::string_view::npos ? n : end) - (i + 3)));
      pos_ = stop;
      return true;
    }
    const std::size_t stop = to_gt(i);
    out.kind = ifind(in_.substr(i, std::min<std::size_t>(8, n - i)), "!doctype", 0) == 0 ? Token::Kind::Doctype
                                                                                         : Token::Kind::Comment;
    out.text = std::string(in_.substr(i + 1, stop - i - 1 - (stop <= n && in_[stop - 1] == '>' ? 1 : 0)));
    pos_ = stop;
    return true;
  }
  if (i < n && in_[i] == '?') {  // bogus comment
    out = Token{};
    out.kind = Token::Kind::Comment;
    pos_ = to_gt(i);
    return true;
  }
  bool end_tag = false;
  if (i < n && in_[i] == '/') {
    end_tag = true;
    ++i;
    if (i < n && in_[i] == '>') {  // "</>": ignored
      pos_ = i + 1;
      return false;
    }
    if (i >= n || !is_alpha(in_[i])) {  // "</ x>" etc.: bogus comment
      out = Token{};
      out.kind = Token::Kind::Comment;
      pos_ = to_gt(i);
      return true;
    }
  }
  if (i >= n || !is_alpha(in_[i])) {  // a lone '<' is text
    text_until_lt(out, start + 1);
    return true;
  }
  out = Token{};
  out.kind = end_tag ? Token::Kind::EndTag : Token::Kind::StartTag;
  while (i < n && !is_space(in_[i]) && in_[i] != '/' && in_[i] != '>') out.name.push_back(lower(in_[i++]));
  // Attributes (end tags have them parsed and thrown away, as HTML does).
  while (true) {
    while (i < n && (is_space(in_[i]) || in_[i] == '/')) {
      if (in_[i] == '/' && i + 1 < n && in_[i + 1] == '>') out.self_closing = true;
      ++i;
    }
    if (i >= n) {  // EOF in a tag: dropped
      pos_ = n;
      return false;
    }
    if (in_[i] == '>') {
      ++i;
      break;
    }
    Attribute attr;
    // The first character may be '=' (HTML: part of the name).
    do {
      attr.name.push_back(lower(in_[i++]));
    } while (i < n && !is_space(in_[i]) && in_[i] != '/' && in_[i] != '>' && in_[i] != '=');
    while (i < n && is_space(in_[i])) ++i;
    if (i < n && in_[i] == '=') {
      ++i;
      while (i < n && is_space(in_[i])) ++i;
      if (i < n && (in_[i] == '"' || in_[i] == '\'')) {
        const char q = in_[i];
        const auto close = in_.find(q, i + 1);
        if (close == std::string_view::npos) {
          pos_ = n;
          return false;
        }
        attr.value = decode_entities(in_.substr(i + 1, close - i - 1), true);
        i = close + 1;
      } else {
        const std::size_t vstart = i;
        while (i < n && !is_space(in_[i]) && in_[i] != '>') ++i;
        attr.value = decode_entities(in_.substr(vstart, i - vstart), true);
      }
    }
    const bool duplicate = out.attribute(attr.name) != nullptr;  // HTML: the first one wins
    if (!end_tag && !duplicate && out.attributes.size() < kMaxAttributes) out.attributes.push_back(std::move(attr));
  }
  pos_ = i;
  if (end_tag) {
    out.attributes.clear();
  } else if (out.name == "script" || out.name == "style" || out.name == "xmp" || out.name == "iframe" ||
             out.name == "noembed" || out.name == "noframes") {
    raw_end_ = out.name;
    raw_decode_ = false;
  } else if (out.name == "title" || out.name == "textarea") {
    raw_end_ = out.name;
    raw_decode_ = true;
  }
  return true;
}

// --- rendering ------------------------------------------------------------------------------------------

namespace {

bool is_heading(std::string_view name) {
  return name.size() == 2 && name[0] == 'h' && name[1] >= '1' && name[1] <= '6';
}

bool in_list(std::string_view name, std::initializer_list<std::string_view> names) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// Elements that only break the line (no blank line around them).
bool is_line_block(std::string_view name) {
  return in_list(name, {"div", "section", "article", "header", "footer", "nav", "main", "aside", "form",
                        "figure", "figcaption", "address", "center", "details", "summary", "fieldset",
                        "legend", "noscript", "table", "tr", "caption", "dt", "body", "html", "li", "option"});
}

std::string replace_nbsp(std::string s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\xC2' && i + 1 < s.size() && s[i + 1] == '\xA0') {
      out.push_back(' ');
      ++i;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string basename_of(std::string_view src) {
  auto q = src.find_first_of("?#");
  src = src.substr(0, q);
  while (!src.empty() && src.back() == '/') src.remove_suffix(1);
  const auto slash = src.rfind('/');
  return std::string(slash == std::string_view::npos ? src : src.substr(slash + 1));
}

class Renderer {
 public:
  Renderer(const Url& base, const RenderOptions& options)
      : base_(base), width_(std::max<std::size_t>(options.width, 20)), options_(options) {}

  RenderedPage run(std::string_view html) {
    Tokenizer tok(html);
    Token t;
    while (tok.next(t)) {
      const bool drop = drop_raw_text_;
      drop_raw_text_ = false;
      switch (t.kind) {
        case Token::Kind::Text:
          if (!drop) on_text(t.text);  // the body of a script or style
          break;
        case Token::Kind::StartTag: on_start(t); break;
        case Token::Kind::EndTag: on_end(t.name); break;
        case Token::Kind::Comment:
        case Token::Kind::Doctype: break;
      }
    }
    flush();
    if (options_.references && !page_.links.empty()) {
      out_ += out_.empty() ? "" : "\n\n";
      out_ += "References:\n\n";
      for (std::size_t k = 0; k < page_.links.size(); ++k) {
        out_ += "[" + std::to_string(k + 1) + "] " + page_.links[k] + "\n";
      }
    }
    page_.text = std::move(out_);
    return std::move(page_);
  }

 private:
  enum class Kind { List, Indent, Pre, Heading, Title, Skip };
  struct Open {
    std::string name;
    Kind kind;
    std::size_t indent = 0;  // columns this element adds
    bool ordered = false;
    long counter = 1;
  };
  static constexpr std::size_t kMaxOpen = 128;

  // --- inline content ---
  void on_text(const std::string& raw) {
    if (skipping()) return;
    const std::string text = sanitize_utf8(raw);
    if (in_title_) {
      title_raw_ += text;
      return;
    }
    if (in_head_) return;
    if (pre_depth_ > 0) {
      para_ += text;
      return;
    }
    for (char c : text) {
      if (is_space(c)) {
        if (!para_.empty() && para_.back() != ' ') para_.push_back(' ');
      } else {
        para_.push_back(c);
      }
    }
  }

  // Generated inline text ("[img: alt]", "[value]") follows the same whitespace rules as text.
  void add_inline(const std::string& s) {
    if (in_head_) return;
    if (pre_depth_ > 0) {
      para_ += s;
      return;
    }
    for (char c : s) {
      if (is_space(c)) {
        if (!para_.empty() && para_.back() != ' ') para_.push_back(' ');
      } else {
        para_.push_back(c);
      }
    }
  }

  // --- block structure ---
  void on_start(const Token& t) {
    const std::string& n = t.name;
    if (n == "head") {
      in_head_ = true;
      return;
    }
    if (n == "title") {
      if (!title_seen_) in_title_ = true;
      return;
    }
    if (n == "base") {
      if (const auto* href = t.attribute("href"); href && !base_set_) {
        if (auto b = resolve(base_, *href)) base_ = *b;
        base_set_ = true;
      }
      return;
    }
    if (in_list(n, {"script", "style", "xmp", "iframe", "noembed", "noframes"})) {
      drop_raw_text_ = true;
      return;
    }
    if (n == "meta" || n == "link") return;
    if (n == "template") {
      push({n, Kind::Skip});
      return;
    }
    if (n != "html") in_head_ = false;  // body content: the head is over even without </head>
    if (skipping()) return;
    if (n == "p") {
      flush();
      blank();
    } else if (is_heading(n)) {
      flush();
      blank();
      push({n, Kind::Heading});
    } else if (n == "ul" || n == "ol" || n == "menu" || n == "dir") {
      flush();
      if (list_depth_ == 0) blank();
      Open o{n, Kind::List, 4, n == "ol"};
      if (const auto* s = t.attribute("start"); s && o.ordered) o.counter = parse_long(*s, 1);
      push(o);
    } else if (n == "li") {
      flush();
      item_marker_ = marker();
    } else if (n == "blockquote") {
      flush();
      blank();
      push({n, Kind::Indent, 4});
    } else if (n == "dd") {
      flush();
      push({n, Kind::Indent, 4});
    } else if (n == "dl") {
      flush();
      blank();
    } else if (n == "pre" || n == "listing" || n == "plaintext") {
      flush();
      blank();
      push({n, Kind::Pre});
      pre_start_ = true;
    } else if (n == "br") {
      line_break();
    } else if (n == "hr") {
      flush();
      const std::size_t indent = current_indent();
      std::string rule(indent, ' ');
      for (std::size_t k = indent; k < width_; ++k) rule += "\u2500";
      emit_line(rule);
      blank();
    } else if (n == "td" || n == "th") {
      if (!para_.empty() && para_.back() != ' ') para_.push_back(' ');
    } else if (n == "img") {
      image(t);
    } else if (n == "a") {
      if (const auto* href = t.attribute("href")) link(*href);
    } else if (n == "input") {
      if (const auto* v = t.attribute("value")) add_inline("[" + sanitize_utf8(*v) + "]");
    } else if (is_line_block(n)) {
      flush();
    }
  }

  void on_end(const std::string& n) {
    if (n == "head") {
      in_head_ = false;
      return;
    }
    if (n == "title") {
      if (in_title_) {
        in_title_ = false;
        title_seen_ = true;
        std::string collapsed;
        for (char c : title_raw_) {
          if (is_space(c)) {
            if (!collapsed.empty() && collapsed.back() != ' ') collapsed.push_back(' ');
          } else {
            collapsed.push_back(c);
          }
        }
        while (!collapsed.empty() && collapsed.back() == ' ') collapsed.pop_back();
        page_.title = replace_nbsp(std::move(collapsed));
      }
      return;
    }
    if (n == "template") {
      pop_to(n);
      return;
    }
    if (skipping()) return;
    if (n == "p") {
      flush();
      blank();
    } else if (is_heading(n)) {
      flush(true);
      pop_to(n);
      blank();
    } else if (n == "ul" || n == "ol" || n == "menu" || n == "dir") {
      flush();
      pop_to(n);
      if (list_depth_ == 0) blank();
    } else if (n == "blockquote") {
      flush();
      pop_to(n);
      blank();
    } else if (n == "dd") {
      flush();
      pop_to(n);
    } else if (n == "dl") {
      flush();
      blank();
    } else if (n == "pre" || n == "listing") {
      flush();
      pop_to(n);
      blank();
    } else if (n == "br") {  // "</br>" is read as <br> (HTML §13.2.6.4.7)
      line_break();
    } else if (is_line_block(n)) {
      flush();
    }
  }

  void image(const Token& t) {
    const auto* alt = t.attribute("alt");
    if (alt != nullptr) {
      std::string a = sanitize_utf8(*alt);
      std::string collapsed;
      for (char c : a) {
        if (is_space(c)) {
          if (!collapsed.empty() && collapsed.back() != ' ') collapsed.push_back(' ');
        } else {
          collapsed.push_back(c);
        }
      }
      while (!collapsed.empty() && collapsed.back() == ' ') collapsed.pop_back();
      if (collapsed.empty()) return;  // alt="": decorative, not shown
      add_inline("[img: " + collapsed + "]");
      return;
    }
    const auto* src = t.attribute("src");
    const std::string name = src ? sanitize_utf8(basename_of(*src)) : std::string();
    add_inline(name.empty() ? "[img]" : "[img: " + name + "]");
  }

  void link(const std::string& href) {
    if (in_head_) return;
    std::string target;
    if (auto u = resolve(base_, href)) {
      target = u->to_string();
    } else {
      target = sanitize_utf8(href);
      std::erase_if(target, [](char c) { return c == '\n' || c == '\t'; });
    }
    page_.links.push_back(std::move(target));
    // w3m and lynx put the number before the link text, glued to it.
    para_ += "[" + std::to_string(page_.links.size()) + "]";
  }

  static long parse_long(const std::string& s, long fallback) {
    long v = 0;
    std::size_t i = 0;
    bool neg = false;
    if (i < s.size() && s[i] == '-') {
      neg = true;
      ++i;
    }
    if (i >= s.size() || !is_digit(s[i])) return fallback;
    for (; i < s.size() && is_digit(s[i]) && v < 1000000000L; ++i) v = v * 10 + (s[i] - '0');
    return neg ? -v : v;
  }

  std::string marker() {
    // The innermost list decides; an <li> outside any list gets a bullet.
    for (auto it = open_.rbegin(); it != open_.rend(); ++it) {
      if (it->kind != Kind::List) continue;
      if (it->ordered) {
        std::string m = std::to_string(it->counter++) + ".";
        while (m.size() < 3) m.insert(0, " ");
        return m + " ";
      }
      static constexpr const char* kBullets[] = {"\u2022", "\u25e6", "\u25aa"};  // • ◦ ▪
      return std::string("  ") + kBullets[(list_depth_ + 2) % 3] + " ";
    }
    return "  \u2022 ";
  }

  // --- the stack of open elements that change the layout ---
  void push(Open o) {
    if (open_.size() >= kMaxOpen) return;  // deeper nesting renders like its ancestors
    if (o.kind == Kind::List) ++list_depth_;
    if (o.kind == Kind::Pre) ++pre_depth_;
    if (o.kind == Kind::Heading) ++heading_depth_;
    if (o.kind == Kind::Skip) ++skip_depth_;
    indent_ += o.indent;
    open_.push_back(std::move(o));
  }

  void pop_to(const std::string& name) {
    for (std::size_t k = open_.size(); k-- > 0;) {
      if (open_[k].name != name) continue;
      while (open_.size() > k) {
        const Open& o = open_.back();
        if (o.kind == Kind::List) --list_depth_;
        if (o.kind == Kind::Pre) --pre_depth_;
        if (o.kind == Kind::Heading) --heading_depth_;
        if (o.kind == Kind::Skip) --skip_depth_;
        indent_ -= o.indent;
        open_.pop_back();
      }
      return;
    }
  }

  bool skipping() const { return skip_depth_ > 0; }

  std::size_t current_indent() const {
    // Items sit in the margin their list made: the list's 4 columns hold the marker.
    return std::min(indent_, width_ / 2);
  }

  // --- output ---
  void blank() {
    if (!out_.empty()) want_blank_ = true;
  }

  void emit_line(const std::string& line) {
    if (want_blank_ && !out_.empty()) out_ += "\n";
    want_blank_ = false;
    std::string l = replace_nbsp(line);
    while (!l.empty() && l.back() == ' ') l.pop_back();
    out_ += l;
    out_ += "\n";
  }

  void line_break() {
    if (pre_depth_ > 0) {
      para_ += "\n";
      return;
    }
    if (para_.empty() || para_ == " ") {
      if (!item_marker_.empty()) {
        flush();
        return;
      }
      if (!out_.empty()) emit_line("");
      para_.clear();
      return;
    }
    flush();
  }

  // Lays out the pending inline text: wrapped words, or pre lines as they are.
  void flush(bool heading_end = false) {
    const std::size_t indent = current_indent();
    std::string marker = std::move(item_marker_);
    item_marker_.clear();
    std::vector<std::string> lines;
    if (pre_depth_ > 0) {
      std::string text = std::move(para_);
      if (pre_start_ && !text.empty() && text.front() == '\n') text.erase(0, 1);
      while (!text.empty() && text.back() == '\n') text.pop_back();
      std::size_t start = 0;
      while (!text.empty() && start <= text.size()) {
        auto nl = text.find('\n', start);
        if (nl == std::string::npos) nl = text.size();
        std::string line;
        std::size_t col = 0;
        for (std::size_t k = start; k < nl; ++k) {
          if (text[k] == '\t') {
            do line.push_back(' '); while (++col % 8 != 0);
          } else {
            line.push_back(text[k]);
            if ((static_cast<unsigned char>(text[k]) & 0xC0) != 0x80) ++col;
          }
        }
        lines.push_back(std::move(line));
        start = nl + 1;
      }
    } else {
      while (!para_.empty() && para_.back() == ' ') para_.pop_back();
      std::string_view text = para_;
      if (!text.empty() && text.front() == ' ') text.remove_prefix(1);
      wrap(text, width_ > indent ? width_ - indent : 1, lines);
    }
    para_.clear();
    pre_start_ = false;
    if (lines.empty()) {
      if (!marker.empty()) item_marker_ = std::move(marker);  // "<li><p>x": the marker waits for x
      return;
    }
    std::size_t widest = 0;
    for (std::size_t k = 0; k < lines.size(); ++k) {
      std::string prefix(indent, ' ');
      if (k == 0 && !marker.empty()) {
        const std::size_t mw = display_width(marker);
        prefix = std::string(indent > mw ? indent - mw : 0, ' ') + marker;
      }
      widest = std::max(widest, display_width(lines[k]));
      emit_line(prefix + lines[k]);
    }
    if (heading_end && options_.underline_headings && !open_.empty()) {
      const auto& h = open_.back();
      if (h.kind == Kind::Heading && (h.name == "h1" || h.name == "h2")) {
        emit_line(std::string(indent, ' ') + std::string(std::min(widest, width_ - indent), h.name == "h1" ? '=' : '-'));
      }
    }
  }

  // Greedy wrap by display columns; a word wider than the line is cut at a column boundary.
  static void wrap(std::string_view text, std::size_t avail, std::vector<std::string>& lines) {
    std::string line;
    std::size_t line_w = 0;
    std::size_t i = 0;
    while (i < text.size()) {
      auto sp = text.find(' ', i);
      if (sp == std::string_view::npos) sp = text.size();
      std::string_view word = text.substr(i, sp - i);
      i = sp + 1;
      if (word.empty()) continue;
      std::size_t w = display_width(word);
      if (line_w > 0 && line_w + 1 + w <= avail) {
        line.push_back(' ');
        line.append(word);
        line_w += 1 + w;
        continue;
      }
      if (line_w > 0) {
        lines.push_back(std::move(line));
        line.clear();
        line_w = 0;
      }
      while (w > avail) {  // cut the word
        std::size_t k = 0;
        std::size_t cols = 0;
        while (k < word.size()) {
          std::size_t next = k;
          const std::size_t cw = code_point_width(next_code_point(word, next));
          if (cols + cw > avail && cols > 0) break;
          cols += cw;
          k = next;
        }
        lines.emplace_back(word.substr(0, k));
        word = word.substr(k);
        w -= cols;
      }
      line.assign(word);
      line_w = w;
    }
    if (line_w > 0 || !line.empty()) lines.push_back(std::move(line));
  }

  Url base_;
  std::size_t width_;
  RenderOptions options_;
  RenderedPage page_;
  std::string out_;
  std::string para_;
  std::string item_marker_;
  std::string title_raw_;
  std::vector<Open> open_;
  std::size_t indent_ = 0;
  std::size_t list_depth_ = 0;
  std::size_t pre_depth_ = 0;
  std::size_t heading_depth_ = 0;
  std::size_t skip_depth_ = 0;
  bool pre_start_ = false;
  bool want_blank_ = false;
  bool in_head_ = false;
  bool in_title_ = false;
  bool title_seen_ = false;
  bool base_set_ = false;
  bool drop_raw_text_ = false;
};

}  // namespace

RenderedPage render(std::string_view html, const Url& base, const RenderOptions& options) {
  return Renderer(base, options).run(html);
}

// --- subresources --------------------------------------------------------------------------------------

const char* describe(SubresourceKind kind) {
  switch (kind) {
    case SubresourceKind::Image: return "image";
    case SubresourceKind::Stylesheet: return "stylesheet";
    case SubresourceKind::Script: return "script";
  }
  return "?";
}

namespace {

bool has_token(std::string_view list, std::string_view token) {
  std::size_t i = 0;
  while (i < list.size()) {
    while (i < list.size() && is_space(list[i])) ++i;
    std::size_t j = i;
    while (j < list.size() && !is_space(list[j])) ++j;
    if (j > i && iequals(list.substr(i, j - i), token)) return true;
    i = j;
  }
  return false;
}

}  // namespace

std::vector<Subresource> subresources(std::string_view html, const Url& page, bool same_origin_only) {
  std::vector<Subresource> out;
  std::unordered_set<std::string> seen;
  Url base = page;
  bool base_set = false;
  Tokenizer tok(html);
  Token t;
  auto add = [&](SubresourceKind kind, const std::string* ref) {
    if (ref == nullptr) return;
    auto u = resolve(base, *ref);
    if (!u) return;
    if (same_origin_only && !u->same_origin(page)) return;
    auto key = u->to_string();
    if (!seen.insert(std::move(key)).second) return;
    out.push_back(Subresource{kind, std::move(*u)});
  };
  while (tok.next(t)) {
    if (t.kind != Token::Kind::StartTag) continue;
    if (t.name == "base" && !base_set) {
      if (const auto* href = t.attribute("href")) {
        if (auto b = resolve(page, *href)) base = *b;
        base_set = true;
      }
    } else if (t.name == "img") {
      add(SubresourceKind::Image, t.attribute("src"));
    } else if (t.name == "link") {
      const auto* rel = t.attribute("rel");
      if (rel != nullptr && has_token(*rel, "stylesheet")) add(SubresourceKind::Stylesheet, t.attribute("href"));
    } else if (t.name == "script") {
      add(SubresourceKind::Script, t.attribute("src"));
    }
  }
  return out;
}

}  // namespace appkit::html
