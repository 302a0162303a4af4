// Content codings of HTTP bodies: gzip and deflate, decoded as the bytes arrive (zlib).
//
// Read first: RFC 9110 §8.4 (Content-Encoding; §8.4.1.2 "deflate" is the zlib format of RFC 1950,
// which some servers send as raw RFC 1951 data instead — both are accepted, as browsers do;
// §8.4.1.3 gzip is RFC 1952, "x-gzip" its old alias), §12.5.3 (Accept-Encoding).
//
// Decoded output is bounded: a body that inflates past `max_output` bytes is refused (a
// "zip bomb" is an error, never an out-of-memory).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace appkit::coding {

enum class Coding { Identity, Gzip, Deflate };
const char* describe(Coding coding);  // "identity", "gzip", "deflate"

// The coding a Content-Encoding value names; nullopt for one we cannot decode (br, zstd,
// compress, or a list of several codings).
std::optional<Coding> parse_content_encoding(std::string_view value);

enum class DecodeError {
  Corrupt,   // not valid gzip/deflate data (or its CRC / length check failed)
  TooLarge,  // more than max_output bytes decoded
  Truncated, // the body ended inside the compressed stream
};
const char* describe(DecodeError error);

class Decoder {
 public:
  using Sink = std::function<bool(std::span<const std::byte>)>;  // false: stop (the sink's own failure)

  Decoder(Coding coding, std::uint64_t max_output);
  ~Decoder();
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  // Decodes `in`, handing the output to `sink` in pieces. False on an error (error() says which)
  // or when the sink returned false (error() is then empty).
  bool feed(std::span<const std::byte> in, const Sink& sink);
  // The body is over: false when the compressed stream did not end (Truncated).
  bool finish();

  std::optional<DecodeError> error() const { return error_; }
  std::uint64_t bytes_in() const { return in_; }
  std::uint64_t bytes_out() const { return out_; }

 private:
  struct State;
  bool start_deflate();
  Coding coding_;
  std::uint64_t max_output_;
  std::unique_ptr<State> z_;
  std::optional<DecodeError> error_;
  std::uint64_t in_ = 0;
  std::uint64_t out_ = 0;
  bool done_ = false;
  std::string pending_;  // deflate: its first byte, until the second tells zlib from raw
};

}  // namespace appkit::coding
