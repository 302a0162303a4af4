// apps/html tables: golden layouts checked against `w3m -dump -cols 40` (w3m 0.5.3, Debian 12) —
// aligned columns, <th> centred, wrapping inside cells, a box-drawing grid for border tables with
// colspan and rowspan (and its ASCII form, as w3m draws it with display_charset=US-ASCII) — then
// the limits: nested tables, tables wider than the page, hostile spans, unclosed tables, forms.
#include <doctest/doctest.h>

#include <string>

#include "apps/common/html_render.hpp"

using namespace appkit;
using namespace appkit::html;

namespace {

std::string table_text(std::string_view html, std::size_t width = 40, bool ascii = false) {
  RenderOptions o;
  o.width = width;
  o.ascii = ascii;
  o.references = false;
  return render(html, *Url::parse("http://www.domain.com/"), o).text;
}

constexpr const char* kProtocols =
    "<table><tr><th>Protocol</th><th>Port</th><th>Notes</th></tr>"
    "<tr><td>HTTPS</td><td>443</td><td>TLS, certificates and a long note that wraps in its column</td></tr>"
    "<tr><td>HTTP</td><td>80</td><td>plain</td></tr></table>";

constexpr const char* kSpans =
    "<table border=1><caption>Cap</caption><tr><th>Protocol</th><th>Port</th><th>Notes</th></tr>"
    "<tr><td rowspan=2>HTTPS</td><td>443</td><td>TLS</td></tr><tr><td colspan=2>spanning two</td></tr>"
    "<tr><td>a</td><td>b</td><td>c</td></tr></table>";

}  // namespace

TEST_CASE("tables: a borderless table is aligned columns, the long cell wraps in its column (= w3m)") {
  CHECK(table_text(kProtocols) ==
        "Protocol Port           Notes\n"
        "              TLS, certificates and a\n"
        "HTTPS    443  long note that wraps in\n"
        "              its column\n"
        "HTTP     80   plain\n");
}

TEST_CASE("tables: border draws a grid, colspan and rowspan leave no line inside a cell (= w3m)") {
  CHECK(table_text(kSpans) ==
        "          Cap\n"
        "┌────────┬─────┬──────┐\n"
        "│Protocol│Port │Notes │\n"
        "├────────┼─────┼──────┤\n"
        "│        │443  │TLS   │\n"
        "│HTTPS   ├─────┴──────┤\n"
        "│        │spanning two│\n"
        "├────────┼─────┬──────┤\n"
        "│a       │b    │c     │\n"
        "└────────┴─────┴──────┘\n");
  // w3m's ASCII grid: '+' at corners and four-way crossings, the frame plain.
  CHECK(table_text(kSpans, 40, true) ==
        "          Cap\n"
        "+---------------------+\n"
        "|Protocol|Port |Notes |\n"
        "|--------+-----+------|\n"
        "|        |443  |TLS   |\n"
        "|HTTPS   |------------|\n"
        "|        |spanning two|\n"
        "|--------+------------|\n"
        "|a       |b    |c     |\n"
        "+---------------------+\n");
}

TEST_CASE("tables: nested tables, wide characters and link numbers in document order") {
  const auto html =
      "<table border=1><tr><td>outer <a href=/a>link a</a></td><td><table border><tr><td>in1</td><td>in2</td></tr>"
      "</table></td></tr><tr><td>한국어 넓은 글자</td><td>x <a href=/b>b</a></td></tr></table>";
  RenderOptions o;
  o.width = 60;
  const auto r = render(html, *Url::parse("http://www.domain.com/"), o);
  CHECK(r.text.starts_with("┌────────────────┬─────────┐\n"
                           "│                │┌───┬───┐│\n"
                           "│outer [1]link a ││in1│in2││\n"
                           "│                │└───┴───┘│\n"
                           "├────────────────┼─────────┤\n"
                           "│한국어 넓은 글자│x [2]b   │\n"
                           "└────────────────┴─────────┘\n"));
  REQUIRE(r.links.size() == 2);
  CHECK(r.links[0] == "http://www.domain.com/a");
  CHECK(r.links[1] == "http://www.domain.com/b");
  // Tables nested deeper than the layout goes are flattened, their words kept.
  std::string deep;
  for (int i = 0; i < 6; ++i) deep += "<table border=1><tr><td>d" + std::to_string(i) + " ";
  const auto text = table_text(deep, 80);
  for (int i = 0; i < 6; ++i) CHECK(text.find("d" + std::to_string(i)) != std::string::npos);
}

TEST_CASE("tables: wider than the page, the table overflows and the text after it keeps the page width") {
  const auto html =
      "<table border=1><tr><td>supercalifragilisticexpialidocious</td><td>antidisestablishmentarianism</td></tr>"
      "</table><p>after the wide table, a paragraph that wraps at the page width.</p>";
  CHECK(table_text(html, 30) ==
        "┌──────────────────────────────────┬────────────────────────────┐\n"
        "│supercalifragilisticexpialidocious│antidisestablishmentarianism│\n"
        "└──────────────────────────────────┴────────────────────────────┘\n"
        "\n"
        "after the wide table, a\n"
        "paragraph that wraps at the\n"
        "page width.\n");
  // Between the minimum and the one-line widths, the room is shared: the table fills the page.
  const auto shared = table_text("<table border=1><tr><td>aaa bbb ccc ddd eee fff</td><td>ggg hhh iii jjj kkk lll</td></tr></table>", 30);
  for (const char* line : {"┌──────────────┬─────────────┐", "│aaa bbb ccc   │ggg hhh iii  │",
                           "│ddd eee fff   │jjj kkk lll  │"}) {
    CAPTURE(line);
    CHECK(shared.find(line) != std::string::npos);
  }
}

TEST_CASE("tables: hostile markup stays bounded and keeps its words") {
  SUBCASE("colspan beyond the column limit: the table is flattened") {
    CHECK(table_text("<table><tr><td colspan=1000>huge</td><td>x</td></tr></table>") == "huge x\n");
  }
  SUBCASE("rowspan=0 spans to the end; text outside cells comes before the table") {
    CHECK(table_text("<table>stray text<tr><td rowspan=0>r0</td><td>a</td></tr><tr><td>b</td></tr></table>") ==
          "stray text\nr0 a\n   b\n");
  }
  SUBCASE("an unclosed table is laid out at the end of input") {
    CHECK(table_text("<table border=1><tr><td>unclosed") == "┌────────┐\n│unclosed│\n└────────┘\n");
  }
  SUBCASE("empty tables and rows print nothing") {
    CHECK(table_text("<table></table><table><tr></tr></table>x") == "x\n");
  }
  SUBCASE("many rows and cells: linear enough") {
    std::string big = "<table border=1>";
    for (int r = 0; r < 2000; ++r) big += "<tr><td>row " + std::to_string(r) + "<td>cell<td><a href=x>l</a>";
    const auto text = table_text(big, 80);
    CHECK(text.find("│row 1999│") != std::string::npos);
  }
}

TEST_CASE("forms are drawn as w3m draws them") {
  CHECK(table_text("<form><input name=q value=tcp><input type=submit value=Go></form>", 80) ==
        "[tcp                 ][Go]\n");
  CHECK(table_text("<input type=checkbox checked><input type=checkbox> <input type=radio checked><input type=radio> "
                   "<input type=password value=abc size=5> <input type=hidden value=secret> <input type=submit> "
                   "<select><option>one<option selected>two</select> <input value=\"a long value cut\" size=6>",
                   80) == "[*][ ] (*)( ) [***  ] [SUBMIT] [two] [a long]\n");
  CHECK(table_text("<textarea cols=6>ab\ncd</textarea>") == "[ab    ]\n[cd    ]\n");
}

TEST_CASE("meta refresh is shown and kept, noscript content is shown inline") {
  const auto r = render("<head><meta http-equiv=Refresh content=\"5; URL='/next'\"></head><body><p>a<noscript>NS</noscript>b",
                        *Url::parse("http://www.domain.com/dir/"));
  REQUIRE(r.refresh.has_value());
  CHECK(r.refresh->seconds == 5);
  CHECK(r.refresh->url.to_string() == "http://www.domain.com/next");
  CHECK(r.text == "Refresh (5 sec) http://www.domain.com/next\n\naNSb\n");
  CHECK_FALSE(render("<meta http-equiv=refresh content=\"soon\">", *Url::parse("http://x/")).refresh.has_value());
  CHECK(render("<meta http-equiv=refresh content=0>", *Url::parse("http://x/p")).refresh->url.to_string() == "http://x/p");
}

TEST_CASE("named character references: the whole HTML §13.5 table") {
  CHECK(decode_entities("&NotEqualTilde; &zwnj;&Aopf; &lbrace; &hearts;") == "\u2242\u0338 \u200C\U0001D538 { \u2665");
  CHECK(decode_entities("&CounterClockwiseContourIntegral;") == "\u2233");
  CHECK(decode_entities("&notit; &not; &notin;") == "\u00ACit; \u00AC \u2209");  // legacy "not" without ';'
  CHECK(decode_entities("&nosuch; &amp") == "&nosuch; &");
}

TEST_CASE("tables: a rule in a cell takes the cell's width, it does not widen the column") {
  // Found by fuzz_table_layout: the rule was measured at the measuring width (1000 columns).
  const auto text = table_text("<table border=1><tr><td>a<hr>b</td><td>c</td></tr></table>", 40);
  CHECK(text == "┌─┬─┐\n│a│ │\n│─│c│\n│ │ │\n│b│ │\n└─┴─┘\n");  // the blank line after a rule, as outside tables
}
