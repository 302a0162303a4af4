// HTTP/1.1 client without I/O: requests, a response parser over llhttp 8.1, redirect rules.
//
// llhttp facts this file relies on (read in llhttp 8.1's sources, pinned by tests/apps/test_http_client.cpp):
//  - llhttp_should_keep_alive() is only right inside on_headers_complete/on_message_complete:
//    after the message llhttp clears its flags. We ask there and remember the answer.
//  - We return HPE_PAUSED from on_message_complete so llhttp_execute stops at the end of the
//    message; llhttp_get_error_pos() is then the first byte of whatever follows (pipelined bytes).
//  - HEAD: the parser does not know the method, so on_headers_complete returns 1 (no body).
//  - Span callbacks arrive in pieces across execute calls: accumulate, commit on *_complete.
//  - llhttp_errno_name() aborts on unknown numbers: we name the errors ourselves.
#include "apps/common/http_client.hpp"

#include <algorithm>

#include "apps/common/version.hpp"

namespace appkit::http {

namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool has_crlf(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

ResponseParser* self(llhttp_t* p) { return static_cast<ResponseParser*>(p->data); }

}  // namespace

const char* method_name(Method method) { return method == Method::Head ? "HEAD" : "GET"; }

const Header* find_header(const std::vector<Header>& headers, std::string_view name) {
  for (const auto& h : headers) {
    if (iequals(h.name, name)) return &h;
  }
  return nullptr;
}

std::string build_request(const Url& url, const RequestOptions& options) {
  std::string out;
  out.reserve(256);
  out += method_name(options.method);
  out += ' ';
  out += url.target();
  out += " HTTP/1.1\r\n";
  out += "Host: " + url.authority() + "\r\n";
  out += std::string("User-Agent: minibrowser/") + kVersion + "\r\n";
  out += "Accept: " + options.accept + "\r\n";
  out += "Accept-Encoding: " + (options.accept_encoding.empty() || has_crlf(options.accept_encoding)
                                     ? std::string("identity")
                                     : options.accept_encoding) + "\r\n";
  out += options.keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  for (const auto& h : options.extra) {
    if (h.name.empty() || has_crlf(h.name) || has_crlf(h.value) || h.name.find(':') != std::string::npos) continue;
    out += h.name + ": " + h.value + "\r\n";
  }
  out += "\r\n";
  return out;
}

std::vector<std::string> request_lines(std::string_view request) {
  std::vector<std::string> lines;
  while (!request.empty()) {
    const auto eol = request.find("\r\n");
    const auto line = request.substr(0, eol);
    if (line.empty()) break;
    lines.emplace_back(line);
    if (eol == std::string_view::npos) break;
    request.remove_prefix(eol + 2);
  }
  return lines;
}

const char* describe(Framing framing) {
  switch (framing) {
    case Framing::None: return "no body";
    case Framing::ContentLength: return "Content-Length";
    case Framing::Chunked: return "chunked";
    case Framing::UntilClose: return "until close";
  }
  return "?";
}

std::string Response::status_line() const {
  return "HTTP/" + std::to_string(http_major) + "." + std::to_string(http_minor) + " " + std::to_string(status) +
         (reason.empty() ? "" : " " + reason);
}

const char* describe(ParseError error) {
  switch (error) {
    case ParseError::Malformed: return "malformed response";
    case ParseError::HeadersTooLarge: return "response header section too large";
    case ParseError::TooManyHeaders: return "too many response header fields";
    case ParseError::ChunkExtensionsTooLarge: return "chunk extensions too large";
    case ParseError::BodyTooLarge: return "response body too large";
    case ParseError::Truncated: return "connection closed before the end of the response";
    case ParseError::EmptyReply: return "empty reply from server";
    case ParseError::UnexpectedUpgrade: return "unexpected 101 Switching Protocols";
    case ParseError::Aborted: return "transfer aborted";
    case ParseError::BadContentEncoding: return "bad content encoding";
    case ParseError::DecodedTooLarge: return "decoded body too large";
  }
  return "response error";
}

std::string ResponseFailure::message() const {
  std::string out = describe(kind);
  if (!reason.empty()) out += ": " + reason;
  if (!llhttp_error.empty()) out += " (" + llhttp_error + ")";
  out += " at byte " + std::to_string(offset);
  return out;
}

const char* llhttp_error_name(int code) {
  switch (code) {
    case HPE_OK: return "HPE_OK";
    case HPE_INTERNAL: return "HPE_INTERNAL";
    case HPE_STRICT: return "HPE_STRICT";
    case HPE_CR_EXPECTED: return "HPE_CR_EXPECTED";
    case HPE_LF_EXPECTED: return "HPE_LF_EXPECTED";
    case HPE_UNEXPECTED_CONTENT_LENGTH: return "HPE_UNEXPECTED_CONTENT_LENGTH";
    case HPE_UNEXPECTED_SPACE: return "HPE_UNEXPECTED_SPACE";
    case HPE_CLOSED_CONNECTION: return "HPE_CLOSED_CONNECTION";
    case HPE_INVALID_METHOD: return "HPE_INVALID_METHOD";
    case HPE_INVALID_URL: return "HPE_INVALID_URL";
    case HPE_INVALID_CONSTANT: return "HPE_INVALID_CONSTANT";
    case HPE_INVALID_VERSION: return "HPE_INVALID_VERSION";
    case HPE_INVALID_HEADER_TOKEN: return "HPE_INVALID_HEADER_TOKEN";
    case HPE_INVALID_CONTENT_LENGTH: return "HPE_INVALID_CONTENT_LENGTH";
    case HPE_INVALID_CHUNK_SIZE: return "HPE_INVALID_CHUNK_SIZE";
    case HPE_INVALID_STATUS: return "HPE_INVALID_STATUS";
    case HPE_INVALID_EOF_STATE: return "HPE_INVALID_EOF_STATE";
    case HPE_INVALID_TRANSFER_ENCODING: return "HPE_INVALID_TRANSFER_ENCODING";
    case HPE_CB_MESSAGE_BEGIN: return "HPE_CB_MESSAGE_BEGIN";
    case HPE_CB_HEADERS_COMPLETE: return "HPE_CB_HEADERS_COMPLETE";
    case HPE_CB_MESSAGE_COMPLETE: return "HPE_CB_MESSAGE_COMPLETE";
    case HPE_CB_CHUNK_HEADER: return "HPE_CB_CHUNK_HEADER";
    case HPE_CB_CHUNK_COMPLETE: return "HPE_CB_CHUNK_COMPLETE";
    case HPE_PAUSED: return "HPE_PAUSED";
    case HPE_PAUSED_UPGRADE: return "HPE_PAUSED_UPGRADE";
    case HPE_PAUSED_H2_UPGRADE: return "HPE_PAUSED_H2_UPGRADE";
    case HPE_USER: return "HPE_USER";
    case HPE_CB_URL_COMPLETE: return "HPE_CB_URL_COMPLETE";
    case HPE_CB_STATUS_COMPLETE: return "HPE_CB_STATUS_COMPLETE";
    case HPE_CB_METHOD_COMPLETE: return "HPE_CB_METHOD_COMPLETE";
    case HPE_CB_VERSION_COMPLETE: return "HPE_CB_VERSION_COMPLETE";
    case HPE_CB_HEADER_FIELD_COMPLETE: return "HPE_CB_HEADER_FIELD_COMPLETE";
    case HPE_CB_HEADER_VALUE_COMPLETE: return "HPE_CB_HEADER_VALUE_COMPLETE";
    case HPE_CB_CHUNK_EXTENSION_NAME_COMPLETE: return "HPE_CB_CHUNK_EXTENSION_NAME_COMPLETE";
    case HPE_CB_CHUNK_EXTENSION_VALUE_COMPLETE: return "HPE_CB_CHUNK_EXTENSION_VALUE_COMPLETE";
    case HPE_CB_RESET: return "HPE_CB_RESET";
    default: return "HPE_UNKNOWN";
  }
}

// --- ResponseParser ----------------------------------------------------------------------------------

const llhttp_settings_t& ResponseParser::settings() {
  static const llhttp_settings_t s = [] {
    llhttp_settings_t out;
    llhttp_settings_init(&out);
    out.on_message_begin = &ResponseParser::cb_message_begin;
    out.on_status = &ResponseParser::cb_status;
    out.on_header_field = &ResponseParser::cb_header_field;
    out.on_header_value = &ResponseParser::cb_header_value;
    out.on_header_value_complete = &ResponseParser::cb_header_value_complete;
    out.on_headers_complete = &ResponseParser::cb_headers_complete;
    out.on_body = &ResponseParser::cb_body;
    out.on_message_complete = &ResponseParser::cb_message_complete;
    out.on_chunk_header = &ResponseParser::cb_chunk_header;
    out.on_chunk_extension_name = &ResponseParser::cb_chunk_extension;
    out.on_chunk_extension_value = &ResponseParser::cb_chunk_extension;
    return out;
  }();
  return s;
}

ResponseParser::ResponseParser(Limits limits) : limits_(limits) {}

void ResponseParser::reset_message() {
  response_ = Response{};
  decoder_.reset();
  pending_failure_.reset();
  in_trailers_ = false;
  section_bytes_ = 0;
  section_fields_ = 0;
  extension_bytes_ = 0;
  field_.clear();
  value_.clear();
}

ResponseParser::State ResponseParser::start(Method method) {
  const bool next_on_same_connection = started_ && state_ == State::Complete && paused_;
  if (next_on_same_connection) {
    llhttp_resume(&parser_);
  } else {
    // A fresh connection (llhttp errors are sticky until llhttp_init).
    llhttp_init(&parser_, HTTP_RESPONSE, &settings());
    parser_.data = this;
    leftover_.clear();
  }
  started_ = true;
  paused_ = false;
  method_ = method;
  state_ = State::NeedMore;
  consumed_ = 0;
  failure_ = ResponseFailure{};
  reset_message();
  if (!leftover_.empty()) {
    const std::string pipelined = std::move(leftover_);
    leftover_.clear();
    return run(pipelined.data(), pipelined.size());
  }
  return state_;
}

ResponseParser::State ResponseParser::feed(std::span<const std::byte> data) {
  if (!started_) start(Method::Get);
  if (state_ == State::Error) return state_;
  const char* bytes = reinterpret_cast<const char*>(data.data());
  if (state_ == State::Complete) {
    leftover_.append(bytes, data.size());
    return state_;
  }
  return run(bytes, data.size());
}

ResponseParser::State ResponseParser::run(const char* data, std::size_t len) {
  if (len == 0) return state_;
  const llhttp_errno_t err = llhttp_execute(&parser_, data, len);
  const char* pos = llhttp_get_error_pos(&parser_);
  const std::size_t used = (pos != nullptr && pos >= data && pos <= data + len) ? static_cast<std::size_t>(pos - data) : len;
  if (err == HPE_OK) {
    consumed_ += len;
    // Whitespace llhttp skips is never reported to a callback: bound the header section by the
    // stream position too, so that padding cannot keep us in the headers forever.
    if (!in_trailers_ && consumed_ > limits_.max_header_bytes) {
      failure_ = ResponseFailure{ParseError::HeadersTooLarge, "",
                                 "over " + std::to_string(limits_.max_header_bytes) + " bytes", consumed_};
      state_ = State::Error;
    }
    return state_;
  }
  if (err == HPE_PAUSED) {  // our on_message_complete: the response is whole
    consumed_ += used;
    leftover_.append(data + used, len - used);
    paused_ = true;
    state_ = State::Complete;
    return state_;
  }
  failure_ = ResponseFailure{};
  if (pending_failure_) {
    failure_ = *pending_failure_;
  } else if (err == HPE_PAUSED_UPGRADE) {
    failure_.kind = ParseError::UnexpectedUpgrade;
  } else {
    failure_.kind = ParseError::Malformed;
    failure_.llhttp_error = llhttp_error_name(err);
    const char* reason = llhttp_get_error_reason(&parser_);
    failure_.reason = reason != nullptr ? reason : "";
  }
  failure_.offset = consumed_ + used;
  consumed_ += used;
  state_ = State::Error;
  return state_;
}

ResponseParser::State ResponseParser::finish() {
  if (!started_) start(Method::Get);
  if (state_ != State::NeedMore) return state_;
  failure_ = ResponseFailure{};
  failure_.offset = consumed_;
  if (consumed_ == 0) {
    failure_.kind = ParseError::EmptyReply;
    state_ = State::Error;
    return state_;
  }
  // llhttp_finish hands back a callback's own return value as it is: our -1 (fail_with) is not
  // an llhttp_errno_t value, so it is taken as an int (an enum holding -1 is undefined behaviour).
  const int rc = static_cast<int>(llhttp_finish(&parser_));
  if (rc == HPE_PAUSED) {  // on_message_complete ran: a read-until-close body is complete
    state_ = State::Complete;
    paused_ = false;        // the connection is gone; the next start() begins a fresh one
    return state_;
  }
  if (rc < 0 || pending_failure_) {  // a callback refused the end of the body (e.g. decoding failed)
    if (pending_failure_) failure_ = *pending_failure_;
    else failure_.kind = ParseError::Malformed;
    failure_.offset = consumed_;
    state_ = State::Error;
    return state_;
  }
  const auto err = static_cast<llhttp_errno_t>(rc);
  failure_.kind = ParseError::Truncated;
  if (err == HPE_OK) {
    failure_.reason = "only informational responses before the close";
  } else if (err == HPE_INVALID_EOF_STATE) {
    failure_.llhttp_error = llhttp_error_name(err);
    if (response_.status == 0) {
      failure_.reason = "in the status line or headers";
    } else if (response_.framing == Framing::ContentLength && response_.content_length) {
      failure_.reason = "got " + std::to_string(response_.body_bytes) + " of " +
                        std::to_string(*response_.content_length) + " body bytes";
    } else if (response_.framing == Framing::Chunked) {
      failure_.reason = "before the last chunk (" + std::to_string(response_.body_bytes) + " body bytes)";
    }
  } else {
    failure_.kind = ParseError::Malformed;
    failure_.llhttp_error = llhttp_error_name(err);
  }
  state_ = State::Error;
  return state_;
}

int ResponseParser::fail_with(ParseError kind, std::string reason) {
  ResponseFailure f;
  f.kind = kind;
  f.reason = std::move(reason);
  pending_failure_ = std::move(f);
  return -1;
}

bool ResponseParser::count_header_bytes(std::size_t len) {
  section_bytes_ += len;
  return section_bytes_ <= limits_.max_header_bytes;
}

int ResponseParser::cb_message_begin(llhttp_t*) { return 0; }

int ResponseParser::cb_status(llhttp_t* p, const char* at, std::size_t len) {
  auto* s = self(p);
  if (!s->count_header_bytes(len)) {
    return s->fail_with(ParseError::HeadersTooLarge, "over " + std::to_string(s->limits_.max_header_bytes) + " bytes");
  }
  s->response_.reason.append(at, len);
  return 0;
}

int ResponseParser::cb_header_field(llhttp_t* p, const char* at, std::size_t len) {
  auto* s = self(p);
  if (!s->count_header_bytes(len)) {
    return s->fail_with(ParseError::HeadersTooLarge, "over " + std::to_string(s->limits_.max_header_bytes) + " bytes");
  }
  s->field_.append(at, len);
  return 0;
}

int ResponseParser::cb_header_value(llhttp_t* p, const char* at, std::size_t len) {
  auto* s = self(p);
  if (!s->count_header_bytes(len)) {
    return s->fail_with(ParseError::HeadersTooLarge, "over " + std::to_string(s->limits_.max_header_bytes) + " bytes");
  }
  s->value_.append(at, len);
  return 0;
}

int ResponseParser::cb_header_value_complete(llhttp_t* p) {
  auto* s = self(p);
  if (++s->section_fields_ > s->limits_.max_headers) {
    return s->fail_with(ParseError::TooManyHeaders, "over " + std::to_string(s->limits_.max_headers) + " fields");
  }
  // ": " and CRLF count too, so that a flood of empty fields still reaches the byte limit.
  if (!s->count_header_bytes(4)) {
    return s->fail_with(ParseError::HeadersTooLarge, "over " + std::to_string(s->limits_.max_header_bytes) + " bytes");
  }
  auto& list = s->in_trailers_ ? s->response_.trailers : s->response_.headers;
  list.push_back(Header{std::move(s->field_), std::string(trim_ows(s->value_))});
  s->field_.clear();
  s->value_.clear();
  return 0;
}

int ResponseParser::cb_headers_complete(llhttp_t* p) {
  auto* s = self(p);
  auto& r = s->response_;
  r.status = p->status_code;
  r.http_major = p->http_major;
  r.http_minor = p->http_minor;
  // RFC 9112 §4: status-code = 3DIGIT. llhttp 8.1 takes "HTTP/1.1 20 OK" as status 20.
  if (r.status < 100 || r.status > 999) return s->fail_with(ParseError::Malformed, "status code is not three digits");
  if (r.status == 101) return s->fail_with(ParseError::UnexpectedUpgrade, "");
  r.header_bytes = r.status_line().size() + 2 + 2;
  for (const auto& h : r.headers) r.header_bytes += h.name.size() + 2 + h.value.size() + 2;
  // RFC 9112 §6.3 item 1: 1xx, 204 and 304 end at the empty line whatever the headers say
  // (llhttp 8.1 would wait for the body of a "304 + Content-Length: N"): return 1, no body.
  if (r.status / 100 == 1) return 1;  // informational: skipped in on_message_complete
  r.keep_alive = llhttp_should_keep_alive(p) != 0;
  if (p->flags & F_CONTENT_LENGTH) r.content_length = p->content_length;
  const bool no_body = s->method_ == Method::Head || r.status == 204 || r.status == 304;
  if (no_body) {
    r.framing = Framing::None;
  } else if (p->flags & F_CHUNKED) {
    r.framing = Framing::Chunked;
  } else if (p->flags & F_CONTENT_LENGTH) {
    r.framing = p->content_length == 0 ? Framing::None : Framing::ContentLength;
  } else if (llhttp_message_needs_eof(p)) {
    r.framing = Framing::UntilClose;
  }
  if (!no_body && s->limits_.decode_content) {
    if (const auto* ce = r.header("Content-Encoding")) {
      const auto c = coding::parse_content_encoding(ce->value);
      if (c && *c != coding::Coding::Identity) {
        std::uint64_t bound = s->limits_.max_decoded_bytes;
        if (!s->sink_ && (bound == 0 || bound > s->limits_.max_body_bytes)) bound = s->limits_.max_body_bytes;
        s->decoder_ = std::make_unique<coding::Decoder>(*c, bound == 0 ? UINT64_MAX : bound);
        r.content_coding = coding::describe(*c);
      }
    }
  }
  if (s->headers_hook_) s->headers_hook_(r);
  s->in_trailers_ = true;
  s->section_bytes_ = 0;
  s->section_fields_ = 0;
  return no_body ? 1 : 0;  // 1: no body (llhttp cannot know we sent HEAD)
}

int ResponseParser::cb_body(llhttp_t* p, const char* at, std::size_t len) {
  auto* s = self(p);
  s->response_.body_bytes += len;
  if (!s->decoder_) return s->deliver(at, len);
  int rc = 0;
  const bool ok = s->decoder_->feed(std::as_bytes(std::span<const char>(at, len)), [&](std::span<const std::byte> out) {
    rc = s->deliver(reinterpret_cast<const char*>(out.data()), out.size());
    return rc == 0;
  });
  if (rc != 0) return rc;  // the sink's own failure (or the body limit), already recorded
  if (!ok) {
    const auto e = *s->decoder_->error();
    const auto kind = e == coding::DecodeError::TooLarge ? ParseError::DecodedTooLarge : ParseError::BadContentEncoding;
    return s->fail_with(kind, std::string(s->response_.content_coding) + ": " + coding::describe(e));
  }
  return 0;
}

int ResponseParser::deliver(const char* at, std::size_t len) {
  auto& r = response_;
  r.decoded_bytes += len;
  if (sink_) {
    if (!sink_(std::as_bytes(std::span<const char>(at, len)))) return fail_with(ParseError::Aborted, "");
    return 0;
  }
  if (r.body.size() + len > limits_.max_body_bytes) {
    return fail_with(decoder_ ? ParseError::DecodedTooLarge : ParseError::BodyTooLarge,
                     "over " + std::to_string(limits_.max_body_bytes) + " bytes");
  }
  r.body.append(at, len);
  return 0;
}

int ResponseParser::cb_message_complete(llhttp_t* p) {
  auto* s = self(p);
  if (s->response_.status / 100 == 1) {
    // RFC 9110 §15.2: a client MUST be able to parse 1xx responses before the final one.
    const auto skipped = s->response_.informational + 1;
    s->reset_message();
    s->response_.informational = skipped;
    return 0;
  }
  s->response_.keep_alive = llhttp_should_keep_alive(p) != 0;
  if (s->decoder_ && !s->decoder_->finish()) {
    return s->fail_with(ParseError::BadContentEncoding,
                        s->response_.content_coding + ": " + coding::describe(*s->decoder_->error()));
  }
  return HPE_PAUSED;
}

int ResponseParser::cb_chunk_header(llhttp_t* p) {
  ++self(p)->response_.chunks;
  return 0;
}

int ResponseParser::cb_chunk_extension(llhttp_t* p, const char*, std::size_t len) {
  auto* s = self(p);
  s->extension_bytes_ += len;
  if (s->extension_bytes_ > s->limits_.max_chunk_extension_bytes) {
    return s->fail_with(ParseError::ChunkExtensionsTooLarge,
                        "over " + std::to_string(s->limits_.max_chunk_extension_bytes) + " bytes");
  }
  return 0;
}

// --- redirects -------------------------------------------------------------------------------------------

bool is_redirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

ExitCode exit_code(const RedirectFailure& failure) {
  if (failure.kind == RedirectError::BadLocation && failure.url_error) return exit_code(*failure.url_error);
  return ExitCode::TooManyRedirects;
}

std::string RedirectFailure::message() const {
  switch (kind) {
    case RedirectError::TooMany: return "too many redirects";
    case RedirectError::Loop: return "redirect loop";
    case RedirectError::BadLocation:
      return "bad Location \"" + location + "\": " + (url_error ? describe(*url_error) : "unusable");
  }
  return "redirect error";
}

RedirectFollower::RedirectFollower(Url start, Method method, std::size_t max_redirects)
    : method_(method), max_(max_redirects) {
  chain_.push_back(std::move(start));
  methods_.push_back(method);
}

RedirectFollower::Step RedirectFollower::on_response(const Response& response) {
  std::optional<std::string> location;
  if (const auto* h = response.header("Location")) location = h->value;
  return on_response(response.status, location);
}

RedirectFollower::Step RedirectFollower::on_response(int status, const std::optional<std::string>& location) {
  if (!is_redirect(status) || !location) return Final{};
  auto next = resolve(chain_.back(), *location);
  if (!next) return RedirectFailure{RedirectError::BadLocation, next.error(), *location};
  // RFC 9110 §15.4.4: 303 -> GET (HEAD stays HEAD). 301/302 turn POST into GET; we only send
  // GET and HEAD, which stay as they are. 307/308 keep the method by definition.
  Method method = method_;
  if (status == 303 && method != Method::Head) method = Method::Get;
  for (std::size_t i = 0; i < chain_.size(); ++i) {
    if (chain_[i] == *next && methods_[i] == method) {
      return RedirectFailure{RedirectError::Loop, std::nullopt, *location};
    }
  }
  if (chain_.size() - 1 >= max_) return RedirectFailure{RedirectError::TooMany, std::nullopt, *location};
  chain_.push_back(*next);
  methods_.push_back(method);
  method_ = method;
  return Follow{std::move(*next), method};
}

}  // namespace appkit::http
