// libFuzzer target: the HTTP/1.1 response parser (llhttp underneath), fed the way TCP might
// split it. Input: byte 0 = method, limits and gzip/deflate decoding, byte 1 = split seed, the
// rest = what the server sent. Properties: never crash; Complete and Error are final; a complete
// response's accumulated body matches the bytes counted (decoded, when decoded); the next
// response on the connection starts from the leftover.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#if __has_include(<llhttp.h>)
#include "apps/common/http_client.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using appkit::http::Method;
  using appkit::http::ResponseParser;
  using State = ResponseParser::State;
  if (size < 2) return 0;
  appkit::http::Limits limits;
  if (data[0] & 2) {
    limits.max_header_bytes = 256;
    limits.max_headers = 4;
    limits.max_chunk_extension_bytes = 16;
    limits.max_body_bytes = 64;
  }
  limits.decode_content = (data[0] & 4) != 0;
  std::uint32_t seed = data[1] | 1u;
  const std::string_view wire(reinterpret_cast<const char*>(data + 2), size - 2);
  ResponseParser parser(limits);
  State state = parser.start((data[0] & 1) ? Method::Head : Method::Get);
  std::size_t at = 0;
  int responses = 0;
  while (true) {
    while (at < wire.size() && state == State::NeedMore) {
      seed = seed * 1103515245u + 12345u;
      const std::size_t piece = 1 + (seed >> 16) % 64;
      const auto chunk = wire.substr(at, piece);
      at += chunk.size();
      state = parser.feed(chunk);
    }
    if (state == State::NeedMore) state = parser.finish();
    if (state == State::Complete) {
      const auto& r = parser.response();
      if (r.body.size() != r.decoded_bytes) std::abort();
      if (r.content_coding.empty() && r.decoded_bytes != r.body_bytes) std::abort();
      if (r.status < 100 || r.status > 999) std::abort();
      (void)r.status_line();
      (void)parser.reusable();
      if (++responses > 64 || parser.leftover().empty()) break;
      state = parser.start(Method::Get);  // pipelined: parse what is left
      continue;
    }
    if (state == State::Error) {
      (void)parser.error().message();
      if (parser.feed(wire.substr(0, 1)) != State::Error) std::abort();  // errors are sticky
    }
    break;
  }
  return 0;
}

#else
// The fuzz targets link `drivers` only (tests/CMakeLists.txt); this one needs `appkit` for llhttp.
// Until then it builds as a no-op so that the fuzz build stays green.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t*, std::size_t) { return 0; }
#endif
