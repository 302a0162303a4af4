#include "apps/minibrowser/body_output.hpp"

#include <cerrno>
#include <cstring>

namespace minibrowser {

namespace http = appkit::http;

http::ResponseParser::BodySink BodyOutput::sink_for(const http::Response& resp) {
  if (http::is_redirect(resp.status) && resp.header("Location")) return nullptr;  // followed, not kept
  if (options_.fail_on_error && resp.status >= 400) return nullptr;  // --fail: never written
  const auto& output = options_.output;
  if (output && !options_.head) {
    if (out_file_ && out_file_ != stdout) std::fclose(out_file_);
    out_file_ = *output == "-" ? stdout : std::fopen(output->c_str(), "wb");
    streamed_ = 0;
    if (!out_file_) write_error_ = "cannot write " + *output + ": " + std::strerror(errno);
    return [this](std::span<const std::byte> data) {
      if (!out_file_) return false;
      if (std::fwrite(data.data(), 1, data.size(), out_file_) != data.size()) {
        write_error_ = "writing " + *options_.output + ": " + std::strerror(errno);
        return false;
      }
      streamed_ += data.size();
      return true;
    };
  }
  if (resp.content_length && *resp.content_length > http::Limits{}.max_body_bytes) {
    too_large_ = *resp.content_length;
    return [](std::span<const std::byte>) { return false; };
  }
  return nullptr;
}

bool BodyOutput::finish() {
  const bool ok = out_file_ && std::fflush(out_file_) == 0;
  if (out_file_ && out_file_ != stdout) std::fclose(out_file_);
  out_file_ = nullptr;
  return ok;
}

}  // namespace minibrowser
