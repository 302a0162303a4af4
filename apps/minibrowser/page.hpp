// Steps 10-11 of docs/levels.md: the browser takes the response and shows it — rendered like
// `w3m -dump`, as it is (--source, text that is not HTML), its headers (--head), saved (-o FILE), or
// one line in place of bytes a terminal must not get.
#pragma once

#include <string>
#include <vector>

#include "apps/common/html_render.hpp"
#include "apps/common/url.hpp"
#include "apps/minibrowser/body_output.hpp"
#include "apps/minibrowser/narrator.hpp"
#include "apps/minibrowser/options.hpp"
#include "apps/minibrowser/pool.hpp"

namespace minibrowser {

class Page {
 public:
  // `fetched` has a response; `url`: where it came from, after the redirects.
  Page(const FetchResult& fetched, appkit::Url url, const Options& options, BodyOutput& body, Say say);

  // Levels 3-4: the response and its encoding; --fail's error line.
  void describe();
  // The same-host images, stylesheets and scripts to fetch (none for --head, --no-subresources,
  // an error status, or a body that is not HTML).
  std::vector<appkit::html::Subresource> subresources() const;
  // Saves, prints or renders the page.
  void show();
  // 0, or the exit code the page calls for (--fail, a file that could not be written).
  int exit_code() const { return exit_code_; }

 private:
  void save();
  void print_headers() const;
  void print_not_html() const;
  void render() const;
  // Level 1's one line begins with what the user typed.
  std::string typed() const { return "you typed " + options_.url.to_string(); }

  const FetchResult& fetched_;
  const appkit::http::Response& resp_;
  appkit::Url url_;
  const Options& options_;
  BodyOutput& body_;
  Say say_;
  std::string media_type_;  // of the Content-Type header, lower case, without parameters
  bool http_failed_ = false;
  int exit_code_ = 0;
};

}  // namespace minibrowser
