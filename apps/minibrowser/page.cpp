#include "apps/minibrowser/page.hpp"

#include <langinfo.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <utility>

#include "apps/common/charset.hpp"

namespace minibrowser {
namespace {

namespace http = appkit::http;

// The media type of a Content-Type header, lower case, without parameters ("image/gif"), or "".
std::string media_type(const http::Header* content_type) {
  if (!content_type) return {};
  std::string mt = content_type->value.substr(0, content_type->value.find(';'));
  while (!mt.empty() && (mt.back() == ' ' || mt.back() == '\t')) mt.pop_back();
  while (!mt.empty() && (mt.front() == ' ' || mt.front() == '\t')) mt.erase(0, 1);
  for (auto& c : mt) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return mt;
}
bool is_html(const std::string& mt) { return mt == "text/html" || mt == "application/xhtml+xml"; }
// Bytes a terminal must not get: NUL or other C0 controls than TAB/LF/CR/FF/ESC (what curl checks).
template <typename Body>
bool looks_binary(const Body& body) {
  const std::size_t n = std::min<std::size_t>(body.size(), 2000);
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(body[i]);
    if (c == 0 || (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != 0x1b)) return true;
  }
  return false;
}

}  // namespace

Page::Page(const FetchResult& fetched, appkit::Url url, const Options& options, BodyOutput& body, Say say)
    : fetched_(fetched),
      resp_(*fetched.response),
      url_(std::move(url)),
      options_(options),
      body_(body),
      say_(std::move(say)),
      media_type_(media_type(resp_.header("Content-Type"))) {}

void Page::describe() {
  const auto* type = resp_.header("Content-Type");
  say_(3, "response: " + resp_.status_line() + ", " + std::to_string(resp_.body_bytes) + " bytes (" +
              http::describe(resp_.framing) + ") in " + ms(fetched_.elapsed) +
              (url_.secure() ? " (the decrypted view: on the wire these were TLS records)" : ""));
  if (!resp_.content_coding.empty()) {
    // RFC 9110 §8.4: the server compressed the body because we said we accept gzip/deflate.
    const double ratio = resp_.decoded_bytes > 0 ? 100.0 * static_cast<double>(resp_.body_bytes) /
                                                       static_cast<double>(resp_.decoded_bytes)
                                                 : 100.0;
    char pct[32];
    std::snprintf(pct, sizeof pct, "%.0f", ratio);
    say_(3, "content encoding: " + resp_.content_coding + ", " + std::to_string(resp_.body_bytes) +
                " bytes on the wire became " + std::to_string(resp_.decoded_bytes) + " bytes (" + pct + " %)");
  }
  say_(4, "the browser takes the response: " + std::to_string(resp_.body.size()) + " bytes of " +
              (type ? type->value : std::string("unknown type")) + " to render");
  // curl --fail: no body at all, one line on stderr, exit 22.
  http_failed_ = options_.fail_on_error && resp_.status >= 400;
  if (http_failed_) {
    exit_code_ = static_cast<int>(appkit::ExitCode::HttpError);
    std::fprintf(stderr, "minibrowser: The requested URL returned error: %d\n", resp_.status);
  }
}

std::vector<appkit::html::Subresource> Page::subresources() const {
  if (!options_.subresources || options_.head || resp_.status >= 400) return {};
  if (!media_type_.empty() && !is_html(media_type_)) return {};
  return appkit::html::subresources(resp_.body, url_);
}

void Page::show() {
  if (http_failed_) {
    say_(4, "--fail: the error page is not shown");
  } else if (options_.output && !options_.head) {
    save();
  } else if (options_.head) {
    print_headers();
  } else if (options_.source && (!looks_binary(resp_.body) || !isatty(STDOUT_FILENO))) {
    say_(1, typed() + " → its source as it came (--source): " + std::to_string(resp_.body.size()) + " bytes");
    std::fwrite(resp_.body.data(), 1, resp_.body.size(), stdout);
  } else if (options_.source || (!media_type_.empty() && !is_html(media_type_))) {
    print_not_html();
  } else {
    render();
  }
}

// -o: the body was streamed as it came (BodyOutput); an empty body never called the sink's
// writes, but the file was created at the headers, as curl does.
void Page::save() {
  if (!body_.finish()) {
    const auto& error = body_.write_error();
    std::fprintf(stderr, "minibrowser: %s\n", error ? error->c_str() : ("cannot write " + *options_.output).c_str());
    exit_code_ = static_cast<int>(appkit::ExitCode::WriteError);
  } else {
    say_(1, "saved " + std::to_string(body_.streamed()) + " bytes to " + *options_.output);
  }
}

void Page::print_headers() const {
  say_(1, typed() + " → the response's headers (--head): " + resp_.status_line());
  std::printf("%s\n", resp_.status_line().c_str());
  for (const auto& h : resp_.headers) std::printf("%s: %s\n", h.name.c_str(), h.value.c_str());
}

// Not HTML: text as it is (text/plain, text/css); anything else as a one-line placeholder,
// never raw bytes on a terminal (curl refuses binary output to a terminal the same way).
void Page::print_not_html() const {
  const std::string& mt = media_type_;
  if (!options_.source && mt.rfind("text/", 0) == 0 && !looks_binary(resp_.body)) {
    say_(4, "not HTML (" + mt + "): shown as it is");
    say_(1, typed() + " → " + mt + ", shown as it is: " + std::to_string(resp_.body.size()) + " bytes");
    std::fwrite(resp_.body.data(), 1, resp_.body.size(), stdout);
  } else {
    say_(4, "not text (" + (mt.empty() ? std::string("binary") : mt) + "): not shown; -o FILE saves it");
    say_(1, typed() + " → " + (mt.empty() ? std::string("binary data") : mt) + ", " + std::to_string(resp_.body.size()) +
                " bytes: not shown (-o FILE saves it)");
    std::printf("[%s, %zu bytes] (save it with -o FILE)\n", mt.empty() ? "binary data" : mt.c_str(), resp_.body.size());
  }
  std::fflush(stdout);
}

void Page::render() const {
  // HTML §13.2.3.2: the encoding from a BOM, the header's charset, a <meta>, or the bytes;
  // the text becomes UTF-8 before the parser sees it.
  const auto* type = resp_.header("Content-Type");
  const auto decoded = appkit::charset::decode_page(resp_.body, type ? std::string_view(type->value) : std::string_view());
  say_(4, "encoding: " + appkit::charset::describe(decoded.sniffed) + "; " + std::to_string(resp_.body.size()) +
              " bytes became " + std::to_string(decoded.decoded.utf8.size()) + " bytes of UTF-8" +
              (decoded.decoded.replaced > 0 ? ", " + std::to_string(decoded.decoded.replaced) +
                                                  " invalid sequence(s) shown as U+FFFD"
                                            : std::string()));
  // The terminal's locale decides the output's encoding (UTF-8, and the plain C locale, as is).
  const char* codeset = nl_langinfo(CODESET);
  const bool utf8_out = appkit::charset::is_utf8_output(codeset ? codeset : "");
  appkit::html::RenderOptions ro;
  ro.width = options_.width;
  ro.ascii = options_.ascii || !utf8_out;
  const auto rendered = appkit::html::render(decoded.decoded.utf8, url_, ro);
  say_(4, "rendered \"" + rendered.title + "\": " + std::to_string(rendered.text.size()) + " bytes of text, " +
              std::to_string(rendered.links.size()) + " links" +
              (utf8_out ? std::string() : std::string(", written in the locale's ") + codeset));
  say_(1, typed() + " → the page appears" +
              (rendered.title.empty() ? std::string() : ": \"" + rendered.title + "\""));
  say_(2, "the page appears:");
  const std::string text = utf8_out ? rendered.text : appkit::charset::from_utf8(rendered.text, codeset);
  std::fputs(text.c_str(), stdout);
  std::fflush(stdout);
}

}  // namespace minibrowser
