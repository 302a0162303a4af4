// Where the page's body goes, decided at its headers: with -o, streamed into the file (no size
// limit: the sandbox's own 1 GiB link works); without, kept for rendering up to the parser's
// 64 MiB, and refused at the headers when Content-Length already says more (curl's 63).
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

#include "apps/common/http_client.hpp"
#include "apps/minibrowser/options.hpp"

namespace minibrowser {

class BodyOutput {
 public:
  explicit BodyOutput(const Options& options) : options_(options) {}
  BodyOutput(const BodyOutput&) = delete;
  BodyOutput& operator=(const BodyOutput&) = delete;

  // For ConnectionPool::fetch: where this response's body goes (nullptr: kept in the response).
  appkit::http::ResponseParser::BodySink sink_for(const appkit::http::Response& resp);

  // -o: flushes and closes the file; true when every byte was written.
  bool finish();

  std::uint64_t streamed() const { return streamed_; }  // bytes written to the -o file
  const std::optional<std::string>& write_error() const { return write_error_; }
  // The Content-Length of a body refused as too large to keep, if one was.
  std::optional<std::uint64_t> too_large() const { return too_large_; }

 private:
  const Options& options_;
  std::FILE* out_file_ = nullptr;
  std::uint64_t streamed_ = 0;
  std::optional<std::string> write_error_;
  std::optional<std::uint64_t> too_large_;
};

}  // namespace minibrowser
