// HTML to text (w3m/lynx -dump habits) and the subresource list. See html_render.hpp.
#include "apps/common/html_render.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <memory>
#include <utility>
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
  char32_t cp2;  // a second code point (0: none), as in &NotEqualTilde; = U+2242 U+0338
};

#include "apps/common/html_entities.inc"

const NamedEntity* lookup_entity(std::string_view name) {
  const auto* end = std::end(kEntities);
  const auto* it = std::lower_bound(std::begin(kEntities), end, name,
                                    [](const NamedEntity& e, std::string_view n) { return std::string_view(e.name) < n; });
  if (it == end || std::string_view(it->name) != name) return nullptr;
  return it;
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
      if (const auto* e = lookup_entity(name)) {
        append_utf8(out, e->cp);
        if (e->cp2 != 0) append_utf8(out, e->cp2);
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
        if (const auto* e = lookup_entity(best)) append_utf8(out, e->cp);
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
                        "legend", "table", "tr", "caption", "dt", "body", "html", "li", "option"});
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
    while (tok.next(t)) feed(t);
    finish();
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

  // A table being collected: its tokens (the <table> tag first), and per cell the range of them
  // that is the cell's content. Laid out when </table> (or the end of input) arrives.
  struct TableCell {
    std::size_t begin = 0;  // indices into Table::all: [begin, end)
    std::size_t end = 0;
    std::size_t colspan = 1;
    std::size_t rowspan = 1;
    bool header = false;
  };
  struct Table {
    std::vector<Token> all;
    std::vector<std::vector<TableCell>> rows;
    std::vector<std::size_t> foster;  // content outside any cell: shown before the table (HTML §13.2.6.1)
    std::size_t caption_begin = 0, caption_end = 0;
    bool in_cell = false, in_caption = false, row_open = false, border = false;
    std::size_t nested = 0;           // depth of tables inside the current cell
  };
  static constexpr std::size_t kMaxTableDepth = 3;    // deeper tables are flattened (each level renders twice)
  static constexpr std::size_t kMaxColumns = 64;      // wider tables are flattened
  static constexpr std::size_t kMaxCanvas = 4u << 20; // glyphs of one drawn table
  static constexpr std::size_t kMeasureWidth = 1000;  // "one line" when measuring a cell's widest layout

  // A renderer for the content of one table cell: `width` columns (no 20-column floor), links
  // numbered after `link_base`, tables inside it one level deeper.
  Renderer(const Url& base, const RenderOptions& options, std::size_t width, std::size_t link_base,
           std::size_t table_depth)
      : base_(base), width_(std::max<std::size_t>(width, 1)), options_(options), link_base_(link_base),
        table_depth_(table_depth) {
    options_.references = false;
    base_set_ = true;
  }

  void feed(const Token& t) {
    if (table_) {
      table_token(t);
      return;
    }
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

  void finish() {
    if (table_) finish_table();
    flush();
  }

  // --- tables: collected, then laid out like w3m (column widths from content, a grid for border) ---
  void table_token(const Token& t) {
    Table& tb = *table_;
    tb.all.push_back(t);
    const std::size_t idx = tb.all.size() - 1;
    const bool start = t.kind == Token::Kind::StartTag;
    const bool end = t.kind == Token::Kind::EndTag;
    if (tb.nested > 0) {  // inside a table inside a cell: the cell's content
      if (t.name == "table" && start) ++tb.nested;
      if (t.name == "table" && end) --tb.nested;
      return;
    }
    if (t.name == "table" && start) {
      if (!tb.in_cell) open_cell(tb, idx, nullptr);  // a table straight in a table: give it a cell
      ++tb.nested;
      return;
    }
    if (t.name == "table" && end) {
      close_cell(tb, idx);
      finish_table();
      return;
    }
    if (start && (t.name == "td" || t.name == "th")) {
      close_cell(tb, idx);
      open_cell(tb, idx + 1, &t);
    } else if (end && (t.name == "td" || t.name == "th")) {
      close_cell(tb, idx);
    } else if (t.name == "tr" && (start || end)) {
      close_cell(tb, idx);
      tb.row_open = false;
    } else if ((t.name == "thead" || t.name == "tbody" || t.name == "tfoot") && (start || end)) {
      close_cell(tb, idx);
      tb.row_open = false;
    } else if (t.name == "caption" && start) {
      close_cell(tb, idx);
      if (tb.caption_end == 0) {
        tb.in_caption = true;
        tb.caption_begin = idx + 1;
      }
    } else if (t.name == "caption" && end) {
      if (tb.in_caption) tb.caption_end = idx;
      tb.in_caption = false;
    } else if (t.name == "col" || t.name == "colgroup") {
    } else if (!tb.in_cell && !tb.in_caption) {
      const bool blank = t.kind == Token::Kind::Text &&
                         std::all_of(t.text.begin(), t.text.end(), [](char c) { return is_space(c); });
      if (!blank && t.kind != Token::Kind::Comment) tb.foster.push_back(idx);
    }
  }

  static void open_cell(Table& tb, std::size_t begin, const Token* tag) {
    if (!tb.row_open) {
      tb.rows.emplace_back();
      tb.row_open = true;
    }
    TableCell c;
    c.begin = begin;
    c.end = begin;
    if (tag != nullptr) {
      c.header = tag->name == "th";
      // HTML §4.9.11: colspan 1..1000, rowspan 0..65534 (0: to the end of the row group).
      if (const auto* v = tag->attribute("colspan")) c.colspan = static_cast<std::size_t>(std::clamp(parse_long(*v, 1), 1L, 1000L));
      if (const auto* v = tag->attribute("rowspan")) c.rowspan = static_cast<std::size_t>(std::clamp(parse_long(*v, 1), 0L, 65534L));
    }
    tb.rows.back().push_back(c);
    tb.in_cell = true;
  }

  static void close_cell(Table& tb, std::size_t end) {
    if (tb.in_caption) {
      tb.caption_end = end;
      tb.in_caption = false;
    }
    if (!tb.in_cell) return;
    tb.rows.back().back().end = end;
    tb.in_cell = false;
  }

  void finish_table() {
    auto tb = std::move(table_);
    table_.reset();
    if (tb->in_cell) close_cell(*tb, tb->all.size());
    if (tb->in_caption) tb->caption_end = tb->all.size();
    // Content that was not in a cell comes first, as HTML's foster parenting puts it.
    for (std::size_t i : tb->foster) feed(tb->all[i]);
    flush();
    if (!layout_table(*tb)) {  // too wide or too big to draw: cells joined by spaces, rows as lines
      flatten_tables_ = true;
      for (std::size_t i = 0; i < tb->all.size(); ++i) {
        if (std::find(tb->foster.begin(), tb->foster.end(), i) == tb->foster.end()) feed(tb->all[i]);
      }
      flush();
      flatten_tables_ = false;
    }
  }

  // The lines a cell's content renders to at `width` columns (blank lines around it removed).
  std::vector<std::string> render_cell(const Table& tb, std::size_t begin, std::size_t end, std::size_t width,
                                       std::vector<std::string>* links, bool measuring = false) {
    Renderer sub(base_, options_, width, link_base_ + page_.links.size() + (links ? links->size() : 0),
                 table_depth_ + 1);
    sub.measuring_ = measuring || measuring_;  // inside a cell being measured, everything is measured
    for (std::size_t i = begin; i < end && i < tb.all.size(); ++i) sub.feed(tb.all[i]);
    sub.finish();
    std::vector<std::string> lines;
    std::size_t start = 0;
    const std::string& text = sub.out_;
    while (start < text.size()) {
      auto nl = text.find('\n', start);
      if (nl == std::string::npos) nl = text.size();
      lines.emplace_back(text.substr(start, nl - start));
      start = nl + 1;
    }
    while (!lines.empty() && lines.front().empty()) lines.erase(lines.begin());
    while (!lines.empty() && lines.back().empty()) lines.pop_back();
    if (links) links->insert(links->end(), sub.page_.links.begin(), sub.page_.links.end());
    return lines;
  }

  // Widest line (max) and widest word (min) of a cell laid out on one long line, as w3m measures.
  std::pair<std::size_t, std::size_t> measure_cell(const Table& tb, const TableCell& c) {
    std::size_t min_w = 0, max_w = 0;
    for (const auto& line : render_cell(tb, c.begin, c.end, kMeasureWidth, nullptr, true)) {
      max_w = std::max(max_w, display_width(line));
      std::size_t i = 0;
      while (i < line.size()) {
        while (i < line.size() && line[i] == ' ') ++i;
        std::size_t j = i;
        while (j < line.size() && line[j] != ' ') ++j;
        min_w = std::max(min_w, display_width(std::string_view(line).substr(i, j - i)));
        i = j;
      }
    }
    return {min_w, max_w};
  }

  struct Placed {
    const TableCell* cell;
    std::size_t row, col, rows, cols;
  };

  bool layout_table(const Table& tb) {
    // 1. The grid: each cell in the first free slot of its row; rowspans reserve slots below.
    const std::size_t nrows = tb.rows.size();
    std::vector<Placed> placed;
    std::vector<std::vector<int>> slot(nrows);  // slot[r][c]: index into placed, -1 empty
    std::size_t ncols = 0;
    for (std::size_t r = 0; r < nrows; ++r) {
      std::size_t c = 0;
      for (const auto& cell : tb.rows[r]) {
        while (c < slot[r].size() && slot[r][c] >= 0) ++c;
        const std::size_t rows = cell.rowspan == 0 ? nrows - r : std::min(cell.rowspan, nrows - r);
        const std::size_t cols = cell.colspan;
        if (c + cols > kMaxColumns) return false;
        for (std::size_t rr = r; rr < r + rows; ++rr) {
          if (slot[rr].size() < c + cols) slot[rr].resize(c + cols, -1);
          for (std::size_t cc = c; cc < c + cols; ++cc) slot[rr][cc] = static_cast<int>(placed.size());
        }
        placed.push_back({&cell, r, c, rows, cols});
        c += cols;
        ncols = std::max(ncols, c);
      }
    }
    if (placed.empty()) {
      if (tb.caption_end > tb.caption_begin) emit_caption(tb, width_ - std::min(current_indent(), width_ - 1));
      return true;
    }
    for (auto& row : slot) row.resize(ncols, -1);
    const bool border = tb.border;

    // 2. Column widths: single-column cells first, then spanning cells widen what they span.
    std::vector<std::size_t> min_w(ncols, 0), max_w(ncols, 0);
    std::vector<std::pair<std::size_t, std::size_t>> measured(placed.size());
    std::vector<std::size_t> order(placed.size());
    for (std::size_t k = 0; k < placed.size(); ++k) {
      measured[k] = measure_cell(tb, *placed[k].cell);
      order[k] = k;
    }
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return placed[a].cols < placed[b].cols; });
    for (std::size_t k : order) {
      const auto& p = placed[k];
      auto widen = [&](std::vector<std::size_t>& w, std::size_t need) {
        std::size_t have = p.cols - 1;  // the separators between spanned columns hold text too
        for (std::size_t c = p.col; c < p.col + p.cols; ++c) have += w[c];
        if (need <= have) return;
        const std::size_t extra = need - have;
        for (std::size_t i = 0; i < p.cols; ++i) w[p.col + i] += extra / p.cols + (i < extra % p.cols ? 1 : 0);
      };
      widen(min_w, measured[k].first);
      widen(max_w, std::max(measured[k].second, measured[k].first));
    }
    for (std::size_t c = 0; c < ncols; ++c) max_w[c] = std::max(max_w[c], min_w[c]);
    const std::size_t indent = std::min(current_indent(), width_ - 1);
    const std::size_t avail = width_ - indent;
    const std::size_t overhead = ncols - 1 + (border ? 2 : 0);
    std::size_t sum_min = 0, sum_max = 0;
    for (std::size_t c = 0; c < ncols; ++c) {
      sum_min += min_w[c];
      sum_max += max_w[c];
    }
    std::vector<std::size_t> w = max_w;
    if (sum_max + overhead > avail) {
      // Too wide on one line: every column gets its minimum and the room left is shared in
      // proportion to how much more each would take. Below the minimum, the table is wider
      // than the page (like w3m's): the lines after it keep the page's width.
      w = min_w;
      if (sum_min + overhead < avail) {
        const std::size_t room = avail - overhead - sum_min;
        const std::size_t want = sum_max - sum_min;
        std::size_t given = 0;
        for (std::size_t c = 0; c < ncols; ++c) {
          const std::size_t add = (max_w[c] - min_w[c]) * room / want;
          w[c] += add;
          given += add;
        }
        for (std::size_t c = 0; c < ncols && given < room; ++c) {  // rounding leftovers, left to right
          if (w[c] < max_w[c]) {
            ++w[c];
            ++given;
          }
        }
      }
    }
    std::vector<std::size_t> col_x(ncols + 1);
    col_x[0] = border ? 1 : 0;
    for (std::size_t c = 0; c < ncols; ++c) col_x[c + 1] = col_x[c] + w[c] + 1;
    const std::size_t table_w = col_x[ncols] - (border ? 0 : 1);

    // 3. Each cell laid out at its width (in document order: link numbers stay in order).
    std::vector<std::vector<std::string>> content(placed.size());
    std::vector<std::string> links;
    if (tb.caption_end > tb.caption_begin) emit_caption(tb, table_w);
    for (std::size_t k = 0; k < placed.size(); ++k) {
      const auto& p = placed[k];
      const std::size_t cw = col_x[p.col + p.cols] - col_x[p.col] - 1;
      content[k] = render_cell(tb, p.cell->begin, p.cell->end, cw, &links);
      if (p.cell->header) {  // <th>: centred, as w3m does
        for (auto& line : content[k]) {
          const std::size_t lw = display_width(line);
          if (lw < cw) line.insert(0, std::string((cw - lw) / 2, ' '));
        }
      }
    }
    page_.links.insert(page_.links.end(), links.begin(), links.end());

    // 4. Row heights: single-row cells, then rowspans stretch the last row they cover.
    std::vector<std::size_t> h(nrows, 0);
    for (std::size_t k = 0; k < placed.size(); ++k) {
      if (placed[k].rows == 1) h[placed[k].row] = std::max(h[placed[k].row], content[k].size());
    }
    if (border) {
      for (auto& x : h) x = std::max<std::size_t>(x, 1);
    }
    for (std::size_t k = 0; k < placed.size(); ++k) {
      const auto& p = placed[k];
      if (p.rows == 1) continue;
      std::size_t have = border ? p.rows - 1 : 0;
      for (std::size_t r = p.row; r < p.row + p.rows; ++r) have += h[r];
      if (content[k].size() > have) h[p.row + p.rows - 1] += content[k].size() - have;
    }
    std::vector<std::size_t> row_y(nrows + 1);
    row_y[0] = border ? 1 : 0;
    for (std::size_t r = 0; r < nrows; ++r) row_y[r + 1] = row_y[r] + h[r] + (border ? 1 : 0);
    const std::size_t table_h = row_y[nrows];
    const std::size_t canvas_w = col_x[ncols] + (border ? 0 : 0);
    if (canvas_w * std::max<std::size_t>(table_h, 1) > kMaxCanvas) return false;

    // 5. Draw: a canvas of one string per column ("" behind the second column of a wide character).
    std::vector<std::vector<std::string>> canvas(table_h, std::vector<std::string>(canvas_w, " "));
    for (std::size_t k = 0; k < placed.size(); ++k) {
      const auto& p = placed[k];
      const std::size_t x0 = col_x[p.col];
      const std::size_t y0 = row_y[p.row];
      const std::size_t cell_h = row_y[p.row + p.rows] - y0 - (border ? 1 : 0);
      const std::size_t cw = col_x[p.col + p.cols] - x0 - 1;
      const auto& lines = content[k];
      const std::size_t top = lines.size() < cell_h ? (cell_h - lines.size()) / 2 : 0;  // valign=middle
      for (std::size_t li = 0; li < lines.size() && top + li < cell_h; ++li) {
        auto& row = canvas[y0 + top + li];
        std::size_t x = 0;
        const std::string& line = lines[li];
        std::size_t i = 0;
        while (i < line.size()) {
          const std::size_t from = i;
          const std::size_t gw = code_point_width(next_code_point(line, i));
          std::string glyph = line.substr(from, i - from);
          if (gw == 0) {  // a combining mark rides on the glyph before it
            if (x > 0) row[x0 + x - 1] += glyph;
            continue;
          }
          if (x + gw > cw) break;  // a cell never spills into its neighbour
          row[x0 + x] = std::move(glyph);
          if (gw == 2) row[x0 + x + 1].clear();
          x += gw;
        }
      }
    }
    if (border) draw_grid(canvas, slot, col_x, row_y);
    for (auto& row : canvas) {
      std::string line(indent, ' ');
      for (auto& g : row) line += g;
      emit_line(line);
    }
    return true;
  }

  void emit_caption(const Table& tb, std::size_t table_w) {
    const std::size_t indent = std::min(current_indent(), width_ - 1);
    for (auto& line : render_cell(tb, tb.caption_begin, tb.caption_end, std::max<std::size_t>(table_w, 1), &page_.links)) {
      const std::size_t lw = display_width(line);
      emit_line(std::string(indent + (lw < table_w ? (table_w - lw) / 2 : 0), ' ') + line);
    }
  }

  // Lines between cells that are not one cell (a rowspan or colspan has no line inside it), and
  // at each crossing the box-drawing character its arms make; ASCII "+-|" with options.ascii,
  // drawn as w3m draws it then (the outer frame plain, '+' only inside).
  void draw_grid(std::vector<std::vector<std::string>>& canvas, const std::vector<std::vector<int>>& slot,
                 const std::vector<std::size_t>& col_x, const std::vector<std::size_t>& row_y) const {
    const std::size_t nrows = slot.size();
    const std::size_t ncols = slot.front().size();
    auto same = [&](std::size_t r1, std::size_t c1, std::size_t r2, std::size_t c2) {
      return slot[r1][c1] >= 0 && slot[r1][c1] == slot[r2][c2];
    };
    // hline(k, c): a line above row k (k == nrows: the bottom) across column c.
    auto hline = [&](std::size_t k, std::size_t c) { return k == 0 || k == nrows || !same(k - 1, c, k, c); };
    // vline(r, j): a line left of column j (j == ncols: the right edge) along row r.
    auto vline = [&](std::size_t r, std::size_t j) { return j == 0 || j == ncols || !same(r, j - 1, r, j); };
    const bool ascii = options_.ascii;
    for (std::size_t k = 0; k <= nrows; ++k) {
      const std::size_t y = row_y[k] - 1;
      for (std::size_t c = 0; c < ncols; ++c) {
        if (!hline(k, c)) continue;
        for (std::size_t x = col_x[c]; x + 1 < col_x[c + 1]; ++x) canvas[y][x] = ascii ? "-" : "\u2500";
      }
    }
    for (std::size_t j = 0; j <= ncols; ++j) {
      const std::size_t x = col_x[j] - 1;
      for (std::size_t r = 0; r < nrows; ++r) {
        if (!vline(r, j)) continue;
        for (std::size_t y = row_y[r]; y + 1 < row_y[r + 1]; ++y) canvas[y][x] = ascii ? "|" : "\u2502";
      }
    }
    // Crossings: arms up 1, down 2, left 4, right 8.
    static constexpr const char* kBox[16] = {" ",      "\u2502", "\u2502", "\u2502", "\u2500", "\u2518", "\u2510", "\u2524",
                                             "\u2500", "\u2514", "\u250c", "\u251c", "\u2500", "\u2534", "\u252c", "\u253c"};
    for (std::size_t k = 0; k <= nrows; ++k) {
      for (std::size_t j = 0; j <= ncols; ++j) {
        unsigned arms = 0;
        if (k > 0 && vline(k - 1, j)) arms |= 1;
        if (k < nrows && vline(k, j)) arms |= 2;
        if (j > 0 && hline(k, j - 1)) arms |= 4;
        if (j < ncols && hline(k, j)) arms |= 8;
        std::string g = kBox[arms];
        if (ascii) {
          const bool up_down = (arms & 3) == 3, left_right = (arms & 12) == 12;
          const bool corner = (arms & 3) != 0 && (arms & 12) != 0 && !up_down && !left_right;
          if (arms == 15 || corner) g = "+";
          else if (arms == 0) g = " ";
          else if (up_down || (arms & 12) == 0) g = "|";
          else g = "-";
        }
        canvas[row_y[k] - 1][col_x[j] - 1] = g;
      }
    }
  }

  // --- inline content ---
  void on_text(const std::string& raw) {
    if (skipping()) return;
    const std::string text = sanitize_utf8(raw);
    if (textarea_open_) {
      if (textarea_text_.size() < 4096) textarea_text_ += text;
      return;
    }
    if (select_open_) {  // option labels show only as the chosen one, at </select>
      if (!options_seen_.empty() && options_seen_.back().size() < 256) options_seen_.back() += text;
      return;
    }
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
    if (n == "meta") {
      refresh(t);
      return;
    }
    if (n == "link") return;
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
      if (measuring_) {  // a rule takes the width it is given: it must not widen its column
        emit_line("");
        return;
      }
      const std::size_t indent = current_indent();
      std::string rule(indent, ' ');
      for (std::size_t k = indent; k < width_; ++k) rule += "\u2500";
      emit_line(rule);
      blank();
    } else if (n == "table" && !flatten_tables_ && table_depth_ < kMaxTableDepth) {
      flush();
      table_ = std::make_unique<Table>();
      const auto* border = t.attribute("border");
      table_->border = border != nullptr && *border != "0";
      table_->all.push_back(t);
    } else if (n == "td" || n == "th") {
      if (!para_.empty() && para_.back() != ' ') para_.push_back(' ');
    } else if (n == "img") {
      image(t);
    } else if (n == "a") {
      if (const auto* href = t.attribute("href")) link(*href);
    } else if (n == "input") {
      input(t);
    } else if (n == "select") {
      select_open_ = true;
      options_seen_.clear();
      selected_option_.reset();
    } else if (n == "option" && select_open_) {
      options_seen_.emplace_back();
      if (t.attribute("selected") && !selected_option_) selected_option_ = options_seen_.size() - 1;
    } else if (n == "textarea") {
      textarea_open_ = true;
      textarea_text_.clear();
      textarea_cols_ = field_size(t, "cols");
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
    if (n == "select" && select_open_) {
      select_open_ = false;
      std::string label;
      if (!options_seen_.empty()) label = collapse(options_seen_[selected_option_.value_or(0)]);
      add_field(label, 0);
      return;
    }
    if (n == "textarea" && textarea_open_) {
      // w3m shows a textarea as one field per line of its text.
      textarea_open_ = false;
      std::string text = std::move(textarea_text_);
      if (text.starts_with("\n")) text.erase(0, 1);  // HTML §13.2.6.4.7: the first newline is dropped
      std::size_t start = 0;
      bool first = true;
      do {
        auto nl = text.find('\n', start);
        if (nl == std::string::npos) nl = text.size();
        if (!first) line_break();
        add_field(text.substr(start, nl - start), textarea_cols_);
        first = false;
        start = nl + 1;
      } while (start < text.size());
      return;
    }
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

  // --- forms, drawn as w3m draws them: [value padded to size], [*] / ( ), [SUBMIT] ---
  static std::string collapse(const std::string& s) {
    std::string out;
    for (char c : s) {
      if (is_space(c)) {
        if (!out.empty() && out.back() != ' ') out.push_back(' ');
      } else {
        out.push_back(c);
      }
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
  }

  static std::size_t field_size(const Token& t, const char* attr) {
    const auto* v = t.attribute(attr);
    const long n = v ? parse_long(*v, 20) : 20;
    return static_cast<std::size_t>(std::clamp(n, 1L, 200L));  // a page cannot ask for a mile-wide field
  }

  // "[text]" padded (with no-break spaces, so that it stays one word) or cut to `size` columns;
  // size 0: as wide as the text.
  void add_field(const std::string& text, std::size_t size) {
    std::string shown;
    std::size_t cols = 0;
    std::size_t i = 0;
    while (i < text.size()) {
      const std::size_t from = i;
      const char32_t cp = next_code_point(text, i);
      const std::size_t cw = code_point_width(cp);
      if (size > 0 && cols + cw > size) break;
      if (cp == ' ' || cp == '\t' || cp == '\n') shown += "\u00a0";
      else shown.append(text, from, i - from);
      cols += cw;
    }
    while (cols < size) {
      shown += "\u00a0";
      ++cols;
    }
    para_ += "[" + shown + "]";
  }

  void input(const Token& t) {
    std::string type = t.attribute("type") ? *t.attribute("type") : "text";
    for (char& c : type) c = lower(c);
    const auto* v = t.attribute("value");
    const std::string value = v ? sanitize_utf8(*v) : std::string();
    if (in_head_ || type == "hidden") return;
    if (type == "checkbox") {
      para_ += t.attribute("checked") ? "[*]" : "[ ]";
    } else if (type == "radio") {
      para_ += t.attribute("checked") ? "(*)" : "( )";
    } else if (type == "submit" || type == "reset" || type == "button") {
      add_field(v ? value : type == "submit" ? "SUBMIT" : type == "reset" ? "RESET" : "", 0);
    } else if (type == "image") {
      const auto* alt = t.attribute("alt");
      add_inline(alt ? sanitize_utf8(*alt) : std::string("[IMG]"));
    } else if (type == "password") {
      add_field(std::string(std::min<std::size_t>(display_width(value), 200), '*'), field_size(t, "size"));
    } else {
      add_field(value, field_size(t, "size"));
    }
  }

  // <meta http-equiv="refresh" content="5; url=..."> (HTML §4.2.5.3): shown where it is, as w3m
  // does ("Refresh (5 sec) URL"), and kept for a browser that follows it on request.
  void refresh(const Token& t) {
    const auto* equiv = t.attribute("http-equiv");
    const auto* content = t.attribute("content");
    if (equiv == nullptr || content == nullptr || page_.refresh || table_depth_ > 0) return;
    std::string e = *equiv;
    for (char& c : e) c = lower(c);
    if (e != "refresh") return;
    std::string_view c = *content;
    std::size_t i = 0;
    while (i < c.size() && is_space(c[i])) ++i;
    const std::size_t digits = i;
    long secs = 0;
    while (i < c.size() && (is_digit(c[i]) || c[i] == '.')) {
      if (is_digit(c[i]) && secs < 100000) secs = secs * 10 + (c[i] - '0');
      ++i;
    }
    if (i == digits) return;  // no time: not a refresh
    while (i < c.size() && (is_space(c[i]) || c[i] == ';' || c[i] == ',')) ++i;
    std::string_view target;
    if (i + 3 <= c.size() && lower(c[i]) == 'u' && lower(c[i + 1]) == 'r' && lower(c[i + 2]) == 'l') {
      std::size_t j = i + 3;
      while (j < c.size() && is_space(c[j])) ++j;
      if (j < c.size() && c[j] == '=') {
        ++j;
        while (j < c.size() && is_space(c[j])) ++j;
        i = j;
      }
    }
    target = c.substr(i);
    if (!target.empty() && (target.front() == '\'' || target.front() == '"')) {
      const char q = target.front();
      target.remove_prefix(1);
      if (auto close = target.find(q); close != std::string_view::npos) target = target.substr(0, close);
    }
    while (!target.empty() && is_space(target.back())) target.remove_suffix(1);
    Refresh r;
    r.seconds = secs;
    if (target.empty()) {
      r.url = base_;
    } else if (auto u = resolve(base_, std::string(target))) {
      r.url = *u;
    } else {
      return;  // not an http URL we could follow
    }
    const std::string shown = "Refresh (" + std::to_string(secs) + " sec) " + r.url.to_string();
    page_.refresh = std::move(r);
    if (!para_.empty() && para_.back() != ' ') para_.push_back(' ');
    para_ += sanitize_utf8(shown);
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
    para_ += "[" + std::to_string(link_base_ + page_.links.size()) + "]";
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
        // Padded by appending to the padding: g++ 12 -O2 reports a false -Wrestrict on m.insert(0, " ").
        const std::string number = std::to_string(it->counter++) + ".";
        std::string m(number.size() < 3 ? 3 - number.size() : 0, ' ');
        m += number;
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
  std::size_t link_base_ = 0;    // links before this renderer's (a table cell's) first one
  std::size_t table_depth_ = 0;  // tables around this renderer's content
  bool flatten_tables_ = false;  // lay tables out as lines of cells joined by spaces
  bool measuring_ = false;       // laid out only to measure a cell (rules take no width)
  std::unique_ptr<Table> table_;
  bool select_open_ = false;
  std::vector<std::string> options_seen_;
  std::optional<std::size_t> selected_option_;
  bool textarea_open_ = false;
  std::string textarea_text_;
  std::size_t textarea_cols_ = 20;
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
