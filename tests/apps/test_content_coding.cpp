// apps/coding and the HTTP parser's decoding: gzip and deflate (zlib and raw) made here with zlib,
// decoded whatever the split, the bound on the decoded size (a bomb is refused), corrupt and
// truncated data named; and the request's Accept-Encoding.
#include <doctest/doctest.h>

#include <zlib.h>

#include <string>

#include "apps/common/content_coding.hpp"
#include "apps/common/http_client.hpp"

using namespace appkit;

namespace {

// windowBits: 15 + 16 gzip, 15 zlib, -15 raw deflate.
std::string compress(const std::string& data, int window_bits, int level = 6) {
  z_stream z{};
  REQUIRE(deflateInit2(&z, level, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&z, data.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string text(std::size_t n) {
  std::string s;
  for (std::size_t i = 0; s.size() < n; ++i) s += "line " + std::to_string(i) + " of a compressible page\n";
  s.resize(n);
  return s;
}

std::string decode_all(coding::Coding c, const std::string& in, std::size_t piece, std::uint64_t bound, bool& ok) {
  coding::Decoder d(c, bound);
  std::string out;
  ok = true;
  for (std::size_t i = 0; i < in.size() && ok; i += piece) {
    ok = d.feed(std::as_bytes(std::span(in.data() + i, std::min(piece, in.size() - i))), [&](std::span<const std::byte> b) {
      out.append(reinterpret_cast<const char*>(b.data()), b.size());
      return true;
    });
  }
  if (ok) ok = d.finish();
  return out;
}

}  // namespace

TEST_CASE("content coding: names") {
  CHECK(coding::parse_content_encoding("gzip") == coding::Coding::Gzip);
  CHECK(coding::parse_content_encoding(" X-GZIP ") == coding::Coding::Gzip);
  CHECK(coding::parse_content_encoding("deflate") == coding::Coding::Deflate);
  CHECK(coding::parse_content_encoding("identity") == coding::Coding::Identity);
  CHECK_FALSE(coding::parse_content_encoding("br").has_value());
  CHECK_FALSE(coding::parse_content_encoding("gzip, gzip").has_value());
}

TEST_CASE("content coding: gzip, zlib deflate and raw deflate decode byte-exact in any split") {
  const std::string data = text(300000);
  for (auto [c, bits] : {std::pair{coding::Coding::Gzip, 31}, std::pair{coding::Coding::Deflate, 15},
                         std::pair{coding::Coding::Deflate, -15}}) {
    const std::string z = compress(data, bits);
    CHECK(z.size() < data.size() / 4);
    for (std::size_t piece : {std::size_t{1}, std::size_t{7}, std::size_t{1460}, z.size()}) {
      CAPTURE(bits);
      CAPTURE(piece);
      bool ok = false;
      CHECK(decode_all(c, z, piece, 1 << 20, ok) == data);
      CHECK(ok);
    }
  }
}

TEST_CASE("content coding: a bomb, corrupt data and a truncated stream are named errors") {
  const std::string zeros(8 << 20, '\0');
  const std::string bomb = compress(zeros, 31, 9);
  CHECK(bomb.size() < 16384);
  coding::Decoder d(coding::Coding::Gzip, 1 << 20);
  std::uint64_t seen = 0;
  CHECK_FALSE(d.feed(std::as_bytes(std::span(bomb.data(), bomb.size())), [&](std::span<const std::byte> b) {
    seen += b.size();
    return true;
  }));
  CHECK(d.error() == coding::DecodeError::TooLarge);
  CHECK(seen <= (1 << 20));

  bool ok = true;
  std::string bad = compress(text(5000), 31);
  bad[bad.size() - 6] ^= 0x55;  // the CRC-32 in the gzip trailer (RFC 1952 §2.2)
  decode_all(coding::Coding::Gzip, bad, 100, 1 << 20, ok);
  CHECK_FALSE(ok);
  decode_all(coding::Coding::Gzip, "not gzip at all", 100, 1 << 20, ok);
  CHECK_FALSE(ok);
  const std::string whole = compress(text(5000), 31);
  coding::Decoder t(coding::Coding::Gzip, 1 << 20);
  CHECK(t.feed(std::as_bytes(std::span(whole.data(), whole.size() / 2)), [](auto) { return true; }));
  CHECK_FALSE(t.finish());
  CHECK(t.error() == coding::DecodeError::Truncated);
}

TEST_CASE("http: the parser decodes a gzip body and bounds it; requests accept gzip, deflate") {
  const auto url = *Url::parse("http://www.domain.com/");
  CHECK(http::build_request(url).find("Accept-Encoding: gzip, deflate\r\n") != std::string::npos);
  http::RequestOptions plain;
  plain.accept_encoding = "identity";
  CHECK(http::build_request(url, plain).find("Accept-Encoding: identity\r\n") != std::string::npos);

  const std::string page = text(100000);
  const std::string z = compress(page, 31);
  const std::string head = "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: " + std::to_string(z.size()) + "\r\n\r\n";
  http::Limits limits;
  limits.decode_content = true;
  {
    http::ResponseParser p(limits);
    p.start(http::Method::Get);
    auto st = p.feed(head);
    for (std::size_t i = 0; i < z.size(); i += 999) st = p.feed(std::string_view(z).substr(i, 999));
    REQUIRE(st == http::ResponseParser::State::Complete);
    CHECK(p.response().body == page);
    CHECK(p.response().content_coding == "gzip");
    CHECK(p.response().body_bytes == z.size());
    CHECK(p.response().decoded_bytes == page.size());
  }
  {  // not asked to decode: the body stays as received
    http::ResponseParser p;
    p.start(http::Method::Get);
    CHECK(p.feed(head + z) == http::ResponseParser::State::Complete);
    CHECK(p.response().body == z);
    CHECK(p.response().content_coding.empty());
  }
  {  // a bomb over the body limit is an error, not memory
    const std::string bomb = compress(std::string(4 << 20, '\0'), 31, 9);
    http::Limits small = limits;
    small.max_body_bytes = 1 << 20;
    http::ResponseParser p(small);
    p.start(http::Method::Get);
    const auto st = p.feed("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: " + std::to_string(bomb.size()) +
                           "\r\n\r\n" + bomb);
    REQUIRE(st == http::ResponseParser::State::Error);
    CHECK(p.error().kind == http::ParseError::DecodedTooLarge);
  }
  {  // a gzip body cut short by the framing
    http::ResponseParser p(limits);
    p.start(http::Method::Get);
    const std::string half = z.substr(0, z.size() / 2);
    const auto st = p.feed("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: " + std::to_string(half.size()) +
                           "\r\n\r\n" + half);
    REQUIRE(st == http::ResponseParser::State::Error);
    CHECK(p.error().kind == http::ParseError::BadContentEncoding);
  }
}
