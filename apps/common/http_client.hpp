// HTTP/1.1 client pieces that do no I/O: request building, a response parser over llhttp that is
// fed bytes however TCP splits them, and the redirect rules. The transport (our TCP socket), the
// connection pool and the narration are wired on top of these.
//
// Read first: RFC 9112 (HTTP/1.1 messages: §4 status line, §6 message body length, §7 chunked,
// §9.3 persistence), RFC 9110 (§15.4 redirects, §6.4.1 1xx/204/304 have no content, §9.3.2 HEAD),
// and the llhttp notes at the top of http_client.cpp.
//
//   ResponseParser p;                       // one per connection; not copyable, not movable
//   send(build_request(url, {.method = Method::Get}));
//   p.start(Method::Get);
//   for (;;) {
//     auto data = recv();                   // any split
//     auto state = data.empty() ? p.finish() : p.feed(data);   // finish() on the peer's FIN
//     if (state != ResponseParser::State::NeedMore) break;
//   }
//   p.response() / p.error();  p.reusable() -> back to the pool; otherwise close.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <llhttp.h>

#include "apps/common/content_coding.hpp"
#include "apps/common/url.hpp"

namespace appkit::http {

enum class Method { Get, Head };
const char* method_name(Method method);  // "GET", "HEAD"

struct Header {
  std::string name;   // as received
  std::string value;  // optional whitespace around it removed
};

// Case-insensitive lookup of the first header called `name`.
const Header* find_header(const std::vector<Header>& headers, std::string_view name);

// --- requests --------------------------------------------------------------------------------------

struct RequestOptions {
  Method method = Method::Get;
  bool keep_alive = true;                // false: "Connection: close"
  std::string accept = "text/html,application/xhtml+xml,*/*;q=0.8";
  // RFC 9110 §12.5.3; the parser decodes these when Limits::decode_content is set.
  std::string accept_encoding = "gzip, deflate";
  std::vector<Header> extra;             // appended as given (no CR/LF allowed: such headers are dropped)
};

// "GET /path?q HTTP/1.1\r\nHost: ...\r\nUser-Agent: minibrowser/<ver>\r\nAccept: ...\r\n
//  Accept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n\r\n". Keep-alive is HTTP/1.1's default;
// the header is sent anyway so that a trace shows the intent.
std::string build_request(const Url& url, const RequestOptions& options = {});

// The request's header lines without the final CRLF, for curl -v style narration ("> GET / HTTP/1.1").
std::vector<std::string> request_lines(std::string_view request);

// --- responses ---------------------------------------------------------------------------------------

enum class Framing {
  None,           // no body by the rules: 1xx, 204, 304, HEAD, Content-Length: 0
  ContentLength,
  Chunked,
  UntilClose,     // read until the server closes (RFC 9112 §6.3 item 8)
};
const char* describe(Framing framing);

struct Response {
  int status = 0;
  std::uint8_t http_major = 0;
  std::uint8_t http_minor = 0;
  std::string reason;
  std::vector<Header> headers;
  std::vector<Header> trailers;         // chunked trailer fields
  std::string body;                     // de-chunked; empty when a body sink is set
  std::uint64_t body_bytes = 0;         // body bytes seen on the wire (also counted with a body sink)
  std::string content_coding;           // "gzip"/"deflate" when the parser decoded the body, else ""
  std::uint64_t decoded_bytes = 0;      // body bytes after decoding (== body_bytes when not coded)
  Framing framing = Framing::None;
  std::optional<std::uint64_t> content_length;
  std::uint64_t chunks = 0;             // chunk-size lines seen, the last 0 included
  std::size_t informational = 0;        // 1xx responses skipped before this one
  std::size_t header_bytes = 0;         // status line + header section, as received
  bool keep_alive = false;              // llhttp_should_keep_alive, asked inside the callbacks

  const Header* header(std::string_view name) const { return find_header(headers, name); }
  // "HTTP/1.1 200 OK"
  std::string status_line() const;
};

enum class ParseError {
  Malformed,          // llhttp refused the bytes (reason and offset say where)
  HeadersTooLarge,    // status line + headers (or trailers) over Limits::max_header_bytes
  TooManyHeaders,     // over Limits::max_headers fields
  ChunkExtensionsTooLarge,
  BodyTooLarge,       // accumulated body over Limits::max_body_bytes
  Truncated,          // EOF before the end of the message (RFC 9112 §8: incomplete)
  EmptyReply,         // EOF before any byte of the response (curl 52)
  UnexpectedUpgrade,  // 101 Switching Protocols: we never ask for one
  Aborted,            // the body sink returned false
  BadContentEncoding, // gzip/deflate data that does not decode, or ends early (curl 61)
  DecodedTooLarge,    // the decoded body is over Limits::max_decoded_bytes (a compression bomb)
};
const char* describe(ParseError error);

struct ResponseFailure {
  ParseError kind = ParseError::Malformed;
  std::string llhttp_error;  // "HPE_INVALID_CHUNK_SIZE" (empty for our own limits)
  std::string reason;        // llhttp's reason, or ours ("header section over 65536 bytes")
  std::uint64_t offset = 0;  // byte offset in this response's bytes where parsing stopped

  // "malformed response: Invalid character in chunk size (HPE_INVALID_CHUNK_SIZE) at byte 57"
  std::string message() const;
};

struct Limits {
  std::size_t max_header_bytes = 64 * 1024;      // status line + fields, and separately trailers
  std::size_t max_headers = 100;                 // fields (and separately trailer fields)
  std::size_t max_chunk_extension_bytes = 4096;  // per response (hyper #3495)
  std::size_t max_body_bytes = 64 * 1024 * 1024; // only when accumulating into Response::body
  // Decode Content-Encoding gzip / deflate (RFC 9110 §8.4) as the body arrives; other codings
  // are passed through as received (Response::content_coding stays empty).
  bool decode_content = false;
  // The bound on the decoded body: with accumulation, max_body_bytes applies to the decoded
  // bytes as well; with a sink, this alone (0: no bound).
  std::uint64_t max_decoded_bytes = 0;
};

// Names llhttp's error numbers without calling llhttp_errno_name (which aborts on unknown values).
const char* llhttp_error_name(int code);

class ResponseParser {
 public:
  enum class State {
    NeedMore,  // feed more bytes (or finish() at EOF)
    Complete,  // response() is whole; bytes after it are in leftover()
    Error,     // error() says what; the connection must be closed
  };

  explicit ResponseParser(Limits limits = {});
  ResponseParser(const ResponseParser&) = delete;
  ResponseParser& operator=(const ResponseParser&) = delete;

  // Body bytes go to `sink` instead of Response::body (no max_body_bytes then). Return false
  // to stop (ParseError::Aborted).
  using BodySink = std::function<bool(std::span<const std::byte>)>;
  void set_body_sink(BodySink sink) { sink_ = std::move(sink); }
  // Called once the status line and headers are in (before any body byte): for "< " narration.
  using HeadersHook = std::function<void(const Response&)>;
  void set_headers_hook(HeadersHook hook) { headers_hook_ = std::move(hook); }

  // Expect a new response on this connection to a request with `method`. The first call (or any
  // call after an error) starts a fresh connection; a call after Complete starts the next response
  // on a kept-alive connection and parses the leftover bytes first (pipelining), so the returned
  // state may already be Complete.
  State start(Method method);

  // Parses what it can. Bytes after the end of the response are kept in leftover() (also when
  // fed after Complete). Once in Error, further input is ignored.
  State feed(std::span<const std::byte> data);
  State feed(std::string_view data) {
    return feed(std::as_bytes(std::span<const char>(data.data(), data.size())));
  }
  // The peer closed its side (FIN): completes a read-until-close body, or reports Truncated /
  // EmptyReply.
  State finish();

  State state() const { return state_; }
  const Response& response() const { return response_; }
  Response take_response() { return std::move(response_); }
  const ResponseFailure& error() const { return failure_; }
  const std::string& leftover() const { return leftover_; }
  // Bytes of the current response consumed so far (the offset used in errors).
  std::uint64_t consumed() const { return consumed_; }

  // The connection may carry the next request: complete, keep-alive, nothing extra received
  // (RFC 9112 §9.3; surplus bytes mean we lost track of framing, so never reuse then).
  bool reusable() const { return state_ == State::Complete && response_.keep_alive && leftover_.empty(); }

 private:
  static int cb_message_begin(llhttp_t* p);
  static int cb_status(llhttp_t* p, const char* at, std::size_t len);
  static int cb_header_field(llhttp_t* p, const char* at, std::size_t len);
  static int cb_header_value(llhttp_t* p, const char* at, std::size_t len);
  static int cb_header_value_complete(llhttp_t* p);
  static int cb_headers_complete(llhttp_t* p);
  static int cb_body(llhttp_t* p, const char* at, std::size_t len);
  static int cb_message_complete(llhttp_t* p);
  static int cb_chunk_header(llhttp_t* p);
  static int cb_chunk_extension(llhttp_t* p, const char* at, std::size_t len);
  static const llhttp_settings_t& settings();

  int fail_with(ParseError kind, std::string reason);  // returns -1 for llhttp (HPE_USER)
  bool count_header_bytes(std::size_t len);
  void reset_message();
  State run(const char* data, std::size_t len);

  llhttp_t parser_{};  // by value; settings() is a static that outlives it
  Limits limits_;
  Method method_ = Method::Get;
  State state_ = State::Error;
  bool started_ = false;
  Response response_;
  ResponseFailure failure_;
  std::string leftover_;
  std::uint64_t consumed_ = 0;
  std::optional<ResponseFailure> pending_failure_;  // set by a callback that returned -1
  bool in_trailers_ = false;
  std::size_t section_bytes_ = 0;   // header or trailer section bytes so far
  std::size_t section_fields_ = 0;
  std::size_t extension_bytes_ = 0;
  std::string field_;
  std::string value_;
  bool paused_ = false;             // llhttp paused in on_message_complete (the connection lives on)
  BodySink sink_;
  HeadersHook headers_hook_;
  std::unique_ptr<coding::Decoder> decoder_;  // for a gzip/deflate body, while it arrives
  int deliver(const char* at, std::size_t len);  // decoded bytes to the sink or Response::body
};

// --- redirects -----------------------------------------------------------------------------------------

// 301, 302, 303, 307, 308 (RFC 9110 §15.4); 300 and 304 are not followed.
bool is_redirect(int status);

enum class RedirectError {
  TooMany,      // more than the limit (curl 47)
  Loop,         // a URL (with the same method) seen before in this chain
  BadLocation,  // Location could not be resolved (url_error says why)
};

struct RedirectFailure {
  RedirectError kind;
  std::optional<UrlError> url_error;
  std::string location;  // the header as received
  std::string message() const;  // "redirect loop: http://x/a -> http://x/b -> http://x/a"
};
// curl's exit code: 47 for too many redirects and for a loop (curl follows a loop until its
// limit), the URL's own code (1 unsupported scheme, 3 malformed) for a bad Location.
ExitCode exit_code(const RedirectFailure& failure);

class RedirectFollower {
 public:
  struct Follow {
    Url url;
    Method method;
  };
  struct Final {};  // not a redirect (or one without Location): this response is the answer
  using Step = std::variant<Final, Follow, RedirectFailure>;

  explicit RedirectFollower(Url start, Method method = Method::Get, std::size_t max_redirects = 10);

  // The response to the current request arrived: what next? A Follow becomes the current request.
  Step on_response(int status, const std::optional<std::string>& location);
  Step on_response(const Response& response);

  const Url& current() const { return chain_.back(); }
  Method method() const { return method_; }
  const std::vector<Url>& chain() const { return chain_; }  // start URL first
  std::size_t redirects() const { return chain_.size() - 1; }

 private:
  std::vector<Url> chain_;
  std::vector<Method> methods_;
  Method method_;
  std::size_t max_;
};

}  // namespace appkit::http
