// apps/html: the demo site rendered w3m-style, tricky snippets, hostile markup, subresources.
// The expected layouts were checked against `w3m -dump -o display_link_number=1` (w3m 0.5.3,
// Debian 12); differences on purpose: images are "[img: alt]" (w3m prints the bare alt) and h1/h2
// are underlined (w3m -dump prints them plain).
#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "apps/common/html_render.hpp"

using namespace appkit;
using namespace appkit::html;

namespace {

std::string read_demo(const char* name) {
  // Next to this file in the source tree (__FILE__ is absolute in CMake builds), else from the cwd.
  auto path = std::filesystem::path(__FILE__).parent_path() / "../../tools/sandbox.d/www" / name;
  if (!std::filesystem::exists(path)) path = std::filesystem::path("tools/sandbox.d/www") / name;
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot open " << path.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const Url& base() {
  static const Url u = *Url::parse("http://www.domain.com/");
  return u;
}

std::string text_of(std::string_view html, std::size_t width = 80, bool references = true) {
  RenderOptions o;
  o.width = width;
  o.references = references;
  return render(html, base(), o).text;
}

bool contains(const std::string& hay, std::string_view needle) { return hay.find(needle) != std::string::npos; }

}  // namespace

TEST_SUITE("apps/html") {
  TEST_CASE("the demo home page: title, headings, lists, images, references") {
    const auto html = read_demo("index.html");
    const auto page = render(html, base());
    CHECK(page.title == "www.domain.com - What happens when you type a URL");
    const auto& t = page.text;
    CHECK(t.starts_with("Welcome to www.domain.com\n=========================\n\n"));
    CHECK(contains(t, "\nHow you got here\n----------------\n\n 1. DHCP gave your computer an address, a router and a DNS server.\n"));
    CHECK(contains(t, " 5. TCP shook hands (SYN; SYN+ACK; ACK), and HTTP asked for /.\n"));
    CHECK(contains(t, "\nThis page lives in a miniature internet: a root name server, a com. TLD server,\n"
                      "this domain's own name server, an ISP resolver, a home router with NAT and DHCP,\n"));
    CHECK(contains(t, "  • [img: red] red\n"));
    CHECK(contains(t, "  • [img: a large picture] a large one\n"));
    CHECK(contains(t, "[img: banner]"));
    CHECK(contains(t, "  • [1]About this site\n"));
    CHECK(contains(t, "  • [3]The old home page (moved permanently)\n"));
    CHECK(contains(t, "\nSmall print\n\n"));  // h3: not underlined
    CHECK_FALSE(contains(t, "www.domain.com - What happens"));  // the title is not in the dump
    CHECK_FALSE(contains(t, "defer"));
    CHECK(t.ends_with("References:\n\n"
                      "[1] http://www.domain.com/about.html\n"
                      "[2] http://www.domain.com/news.shtml\n"
                      "[3] http://www.domain.com/old\n"
                      "[4] http://www.domain.com/big.bin\n"
                      "[5] http://www.domain.com/missing.html\n"
                      "[6] https://www.domain.com/\n"));
    REQUIRE(page.links.size() == 6);
    CHECK(page.links[1] == "http://www.domain.com/news.shtml");
    // No line wider than 80 columns.
    std::istringstream lines(t);
    for (std::string line; std::getline(lines, line);) CHECK(display_width(line) <= 80);
  }

  TEST_CASE("the demo home page's subresources: >= 12, same host, in order, once each") {
    const auto subs = subresources(read_demo("index.html"), base());
    REQUIRE(subs.size() == 15);
    CHECK(subs[0].kind == SubresourceKind::Stylesheet);
    CHECK(subs[0].url.to_string() == "http://www.domain.com/style.css");
    CHECK(subs[1].kind == SubresourceKind::Script);
    CHECK(subs[1].url.path == "/app.js");
    CHECK(subs[2].url.path == "/img/banner.gif");
    CHECK(subs[14].url.path == "/img/footer.gif");
    for (const auto& s : subs) CHECK(s.url.same_origin(base()));
  }

  TEST_CASE("the news page and the about page") {
    const auto news = render(read_demo("news.shtml"), base());
    CHECK(news.title == "News - www.domain.com");
    CHECK(contains(news.text, "Today's news\n============\n"));
    CHECK_FALSE(contains(news.text, "#include"));  // SSI directives are comments
    CHECK(news.links == std::vector<std::string>{"http://www.domain.com/"});
    const auto about = render(read_demo("about.html"), base());
    CHECK(about.title == "About www.domain.com");
    CHECK(subresources(read_demo("about.html"), base()).size() == 1);
  }

  TEST_CASE("entities, numeric references and UTF-8") {
    CHECK(text_of("<p>a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos; &copy; &mdash; &hellip;</p>") ==
          "a & b <c> \"d\" 'e' © — …\n");
    CHECK(text_of("<p>&#233;&#xE9;&#X263a; &#0; &#xD800; &#1114112; &#99999999999;</p>") ==
          "éé☺ \uFFFD \uFFFD \uFFFD \uFFFD\n");
    CHECK(text_of("<p>&unknown; &amp &copy2024 & &# &#x;</p>") == "&unknown; & ©2024 & &# &#x;\n");
    CHECK(text_of("<p>a&nbsp;b</p>") == "a b\n");
    CHECK(decode_entities("?a=1&copy=2&amp=3", true) == "?a=1&copy=2&amp=3");
    CHECK(decode_entities("?a=1&copy;=2", true) == "?a=1©=2");
    CHECK(text_of("<p>caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac</p>") == "café 日本\n");
    // Invalid UTF-8 and terminal escapes never reach the output.
    CHECK(text_of("<p>a\xff" "b\xc3(c\xe2\x82</p>") == "a\uFFFDb\uFFFD(c\uFFFD\n");
    CHECK(text_of("<p>x\x1b[31mred\x1b[0m\xc2\x9b" "2J</p>") == "x[31mred[0m2J\n");
    CHECK(sanitize_utf8("\xed\xa0\x80") == "\uFFFD");      // a surrogate
    CHECK(sanitize_utf8("\xc0\xaf") == "\uFFFD\uFFFD");    // overlong '/'
  }

  TEST_CASE("wrapping counts display columns, not bytes") {
    CHECK(display_width("日本語") == 6);
    CHECK(display_width("e\xcc\x81") == 1);  // e + combining acute
    CHECK(display_width("café") == 4);
    const std::string cjk(60, 'x');
    std::string wide;
    for (int i = 0; i < 30; ++i) wide += "日";  // 60 columns
    const auto t = text_of("<p>" + wide + "</p>", 20);
    CHECK(t == "日日日日日日日日日日\n日日日日日日日日日日\n日日日日日日日日日日\n");
    const auto accents = text_of("<p>é é é é é é é é é é é é</p>", 20);
    CHECK(accents == "é é é é é é é é é é\né é\n");
    // A word longer than the line is cut.
    CHECK(text_of("<p>" + std::string(45, 'a') + "</p>", 20) ==
          std::string(20, 'a') + "\n" + std::string(20, 'a') + "\n" + std::string(5, 'a') + "\n");
  }

  TEST_CASE("lists, nesting, blockquote, pre, br, hr, dl, tables") {
    CHECK(text_of("<ul><li>one<ul><li>nested</li></ul></li><li>two</li></ul>") ==
          "  • one\n      ◦ nested\n  • two\n");
    CHECK(text_of("<ol start=9><li>a<li>b<li>c</ol>") == " 9. a\n10. b\n11. c\n");
    CHECK(text_of("<p>x</p><blockquote>quoted</blockquote><p>y</p>") == "x\n\n    quoted\n\ny\n");
    CHECK(text_of("<pre>\n  a   b\n\tc\n</pre>") == "  a   b\n        c\n");
    CHECK(text_of("<p>a<br>b<br><br>c</p>") == "a\nb\n\nc\n");
    CHECK(text_of("<dl><dt>term<dd>definition</dl>") == "term\n    definition\n");
    CHECK(text_of("<table><tr><td>a<td>b</tr><tr><td>c<td>d</table>") == "a b\nc d\n");
    CHECK(text_of("<p>a</p><hr><p>b</p>", 20) == "a\n\n────────────────────\n\nb\n");
    CHECK(text_of("<li>stray item</li>") == "  • stray item\n");
    CHECK(text_of("<ul><li><p>in a paragraph</p></li></ul>") == "  • in a paragraph\n");
    CHECK(text_of("<h1>A</h1><h2>Bb</h2><h3>C</h3>") == "A\n=\n\nBb\n--\n\nC\n");
    RenderOptions plain;
    plain.underline_headings = false;
    CHECK(render("<h1>A</h1><p>b</p>", base(), plain).text == "A\n\nb\n");
  }

  TEST_CASE("links: numbers before the text, absolute URLs in References") {
    const Url page = *Url::parse("http://www.domain.com/dir/page.html");
    const auto r = render("<p>See <a href='../about.html'>about</a>, <a href=//other.net/x>other</a>, "
                          "<a href=\"mailto:me@x\">mail</a>, <a name=anchor>no href</a>, <a href='#top'>top</a>.</p>",
                          page);
    CHECK(r.text.starts_with("See [1]about, [2]other, [3]mail, no href, [4]top.\n"));
    CHECK(r.links == std::vector<std::string>{"http://www.domain.com/about.html", "http://other.net/x", "mailto:me@x",
                                              "http://www.domain.com/dir/page.html"});
    const auto based = render("<head><base href='http://cdn.example/'></head><a href='a.html'>a</a>", page);
    CHECK(based.links == std::vector<std::string>{"http://cdn.example/a.html"});
    CHECK(text_of("<a href=/x>x</a>", 80, false) == "[1]x\n");
  }

  TEST_CASE("images, scripts, styles, head, comments") {
    CHECK(text_of("<img src='/img/cat.gif'>") == "[img: cat.gif]\n");
    CHECK(text_of("<img src='/img/cat.gif' alt=''>x") == "x\n");
    CHECK(text_of("<img>") == "[img]\n");
    CHECK(text_of("<img src='/a\tb\nc'>") == "[img: a b c]\n");  // found by fuzz_html_render: a tab got through
    CHECK(text_of("<script>if (a < b) document.write('<p>no</p>')</script><p>yes</p>") == "yes\n");
    CHECK(text_of("<style>p { color: red }</STYLE ><p>yes</p>") == "yes\n");
    CHECK(text_of("<head><title>T</title><meta charset=utf-8>stray</head><body>b</body>") == "b\n");
    CHECK(text_of("<!-- <p>hidden</p> --><p>shown</p><!--#include virtual='/x' -->") == "shown\n");
    CHECK(text_of("<!DOCTYPE html><p>x</p>") == "x\n");
    CHECK(text_of("<template><p>inert</p></template><p>live</p>") == "live\n");
    CHECK(render("<title>  A\n  title &amp; more </title>", base()).title == "A title & more");
  }

  TEST_CASE("tolerant tokenizer: broken markup renders something and never hangs") {
    CHECK(text_of("a < b and c > d") == "a < b and c > d\n");
    CHECK(text_of("<<<<<p>x") == "<<<<\n\nx\n");
    CHECK(text_of("<p>cut <b class=\"never closed") == "cut\n");
    CHECK(text_of("<p>x</p></p></ul></li></div>y") == "x\n\ny\n");
    CHECK(text_of("<p>x<!-- never closed") == "x\n");
    CHECK(text_of("<P CLASS=A>Upper</P>") == "Upper\n");
    CHECK(text_of("<p a=1 a=2 b='x' c=\"y\" d e/>z") == "z\n");
    CHECK(text_of("</ >x<?php echo 1 ?>y</>z") == "xyz\n");
    Token tok;
    Tokenizer t("<a HREF='x' href=y Data-X=\"&amp;\">");
    REQUIRE(t.next(tok));
    CHECK(tok.name == "a");
    REQUIRE(tok.attributes.size() == 2);
    CHECK(*tok.attribute("href") == "x");
    CHECK(*tok.attribute("data-x") == "&");
  }

  TEST_CASE("hostile inputs stay linear") {
    const std::size_t n = 60000;
    std::vector<std::string> inputs;
    inputs.push_back(std::string(n, '<'));
    std::string s;
    for (std::size_t i = 0; i < n / 4; ++i) s += "<ul>";
    inputs.push_back(s);
    s.clear();
    for (std::size_t i = 0; i < n / 4; ++i) s += "<a<b";
    inputs.push_back(s);
    inputs.push_back("<img alt=\"" + std::string(n, 'a'));
    inputs.push_back("<img alt=\"" + std::string(n, 'a') + "\">");
    s.clear();
    for (std::size_t i = 0; i < 128; ++i) s += "<blockquote>";
    for (std::size_t i = 0; i < n / 5; ++i) s += "</ol>";
    inputs.push_back(s);
    s.clear();
    for (std::size_t i = 0; i < n / 10; ++i) s += "<p a b c d>";
    inputs.push_back(s);
    s.clear();
    for (std::size_t i = 0; i < n / 6; ++i) s += "&amp;x";
    inputs.push_back(s);
    s.clear();
    for (std::size_t i = 0; i < n / 12; ++i) s += "<img src=/" + std::to_string(i) + ">";
    inputs.push_back(s);
    inputs.push_back("<script>" + std::string(n, '<'));
    inputs.push_back(std::string(n, '&'));
    for (const auto& in : inputs) {
      const auto start = std::chrono::steady_clock::now();
      const auto page = render(in, base(), RenderOptions{});
      (void)subresources(in, base());
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
      INFO("input starts " << in.substr(0, 20));
      CHECK(ms.count() < 5000);  // generous for loaded sanitizer builds; quadratic would take minutes
      std::istringstream lines(page.text);
      for (std::string line; std::getline(lines, line);) {
        if (!line.starts_with("[")) CHECK(display_width(line) <= 80);
      }
    }
  }
}
