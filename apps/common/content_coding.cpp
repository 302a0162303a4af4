// gzip / deflate decoding over zlib. See content_coding.hpp.
#include "apps/common/content_coding.hpp"

#include <zlib.h>

#include <array>

namespace appkit::coding {

namespace {

std::string lower_trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  std::string out(s);
  for (char& c : out) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  return out;
}

}  // namespace

const char* describe(Coding coding) {
  switch (coding) {
    case Coding::Identity: return "identity";
    case Coding::Gzip: return "gzip";
    case Coding::Deflate: return "deflate";
  }
  return "?";
}

const char* describe(DecodeError error) {
  switch (error) {
    case DecodeError::Corrupt: return "the compressed body is corrupt";
    case DecodeError::TooLarge: return "the body decompresses to more than the limit (a compression bomb?)";
    case DecodeError::Truncated: return "the compressed body ends early";
  }
  return "?";
}

std::optional<Coding> parse_content_encoding(std::string_view value) {
  const std::string v = lower_trim(value);
  if (v.empty() || v == "identity") return Coding::Identity;
  if (v == "gzip" || v == "x-gzip") return Coding::Gzip;
  if (v == "deflate") return Coding::Deflate;
  // NOT IMPLEMENTED(RFC 9110 §8.4): several codings in a row, br, zstd, compress.
  return std::nullopt;
}

struct Decoder::State {
  z_stream s{};
  bool open = false;
  ~State() {
    if (open) inflateEnd(&s);
  }
};

Decoder::Decoder(Coding coding, std::uint64_t max_output)
    : coding_(coding), max_output_(max_output), z_(std::make_unique<State>()) {
  // windowBits 15 + 16: gzip only (RFC 1952). Deflate waits for its first two bytes.
  if (coding_ != Coding::Gzip) return;
  if (inflateInit2(&z_->s, 15 + 16) != Z_OK) {
    error_ = DecodeError::Corrupt;
    return;
  }
  z_->open = true;
}

Decoder::~Decoder() = default;

// "deflate" is the zlib format (RFC 1950), but some servers send raw RFC 1951 data: a zlib
// stream starts with CMF (method 8) and FLG such that CMF*256 + FLG is a multiple of 31 (§2.2).
bool Decoder::start_deflate() {
  const auto cmf = static_cast<unsigned char>(pending_[0]);
  const auto flg = static_cast<unsigned char>(pending_[1]);
  const bool zlib = (cmf & 0x0F) == 8 && (cmf >> 4) <= 7 && (cmf * 256 + flg) % 31 == 0;
  if (inflateInit2(&z_->s, zlib ? 15 : -15) != Z_OK) return false;
  z_->open = true;
  return true;
}

bool Decoder::feed(std::span<const std::byte> in, const Sink& sink) {
  if (error_) return false;
  in_ += in.size();
  if (coding_ == Coding::Identity) {
    out_ += in.size();
    if (out_ > max_output_) {
      error_ = DecodeError::TooLarge;
      return false;
    }
    return sink(in);
  }
  if (coding_ == Coding::Deflate && !z_->open) {
    // The first two bytes decide between zlib and raw deflate: keep them until both are here.
    pending_.append(reinterpret_cast<const char*>(in.data()), in.size());
    if (pending_.size() < 2) return true;
    if (!start_deflate()) {
      error_ = DecodeError::Corrupt;
      return false;
    }
    const std::string all = std::move(pending_);
    pending_.clear();
    in_ -= all.size();
    return feed(std::as_bytes(std::span(all.data(), all.size())), sink);
  }
  if (!z_->open) {
    error_ = DecodeError::Corrupt;
    return false;
  }
  std::array<unsigned char, 32768> buf{};
  z_->s.next_in = const_cast<Bytef*>(reinterpret_cast<const Bytef*>(in.data()));  // zlib never writes input
  z_->s.avail_in = static_cast<uInt>(in.size());
  while (!done_) {
    z_->s.next_out = buf.data();
    z_->s.avail_out = static_cast<uInt>(buf.size());
    const int rc = inflate(&z_->s, Z_NO_FLUSH);
    const std::size_t produced = buf.size() - z_->s.avail_out;
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
      error_ = DecodeError::Corrupt;
      return false;
    }
    if (produced > 0) {
      out_ += produced;
      if (out_ > max_output_) {
        error_ = DecodeError::TooLarge;
        return false;
      }
      if (!sink(std::as_bytes(std::span(buf.data(), produced)))) return false;
    }
    if (rc == Z_STREAM_END) done_ = true;
    // All input taken and nothing left inside zlib (the buffer was not filled): wait for more.
    if (z_->s.avail_in == 0 && z_->s.avail_out != 0) break;
    if (rc == Z_BUF_ERROR && produced == 0) break;
  }
  // Bytes after the end of the stream (a second gzip member, trailing garbage) are ignored, as
  // curl and browsers do.
  return !error_;
}

bool Decoder::finish() {
  if (error_) return false;
  if (coding_ == Coding::Identity || done_) return true;
  if (in_ == 0) return true;  // an empty body (HEAD, 204) has nothing to decode
  error_ = DecodeError::Truncated;
  return false;
}

}  // namespace appkit::coding
