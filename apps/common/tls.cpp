// TLS over our own TCP: OpenSSL 3 behind two memory BIOs (see tls.hpp for the RFCs to read first).
#include "apps/common/tls.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "stack/wire/ip_address.hpp"

namespace appkit::tls {

namespace {

constexpr std::size_t kReadChunk = 16 * 1024;

std::string openssl_error_text() {
  const unsigned long e = ERR_peek_last_error();
  if (e == 0) return "unknown error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  // "error:0A000126:SSL routines::unexpected eof while reading" -> keep the words after the last ':'.
  std::string text = buf;
  if (const auto colon = text.rfind(':'); colon != std::string::npos && colon + 1 < text.size()) {
    text = text.substr(colon + 1);
  }
  return text;
}

std::string name_text(const X509_NAME* name) {
  if (!name) return "?";
  BIO* bio = BIO_new(BIO_s_mem());
  if (!bio) return "?";
  X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(len > 0 ? len : 0));
  BIO_free(bio);
  return out.empty() ? "(empty name)" : out;
}

std::string time_text(const ASN1_TIME* t) {
  std::tm tm{};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return "?";
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

const char* handshake_type_name(int type) {
  switch (type) {
    case 0: return "HelloRequest";
    case 1: return "ClientHello";
    case 2: return "ServerHello";
    case 4: return "NewSessionTicket";
    case 5: return "EndOfEarlyData";
    case 8: return "EncryptedExtensions";
    case 11: return "Certificate";
    case 12: return "ServerKeyExchange";
    case 13: return "CertificateRequest";
    case 14: return "ServerHelloDone";
    case 15: return "CertificateVerify";
    case 16: return "ClientKeyExchange";
    case 20: return "Finished";
    case 22: return "CertificateStatus";
    case 24: return "KeyUpdate";
  }
  return "handshake message";
}

CertInfo describe_certificate(x509_st* cert) {
  CertInfo info;
  if (!cert) return info;
  info.subject = name_text(X509_get_subject_name(cert));
  info.issuer = name_text(X509_get_issuer_name(cert));
  info.not_before = time_text(X509_get0_notBefore(cert));
  info.not_after = time_text(X509_get0_notAfter(cert));
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names) && i < 32; ++i) {
      const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
      if (n->type == GEN_DNS) {
        const auto* s = n->d.dNSName;
        info.sans.push_back("DNS:" + std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                                  static_cast<std::size_t>(ASN1_STRING_length(s))));
      } else if (n->type == GEN_IPADD && ASN1_STRING_length(n->d.iPAddress) == 4) {
        const unsigned char* b = ASN1_STRING_get0_data(n->d.iPAddress);
        info.sans.push_back("IP:" + std::to_string(b[0]) + "." + std::to_string(b[1]) + "." + std::to_string(b[2]) +
                            "." + std::to_string(b[3]));
      }
    }
    GENERAL_NAMES_free(names);
  }
  return info;
}

// --- Context ---------------------------------------------------------------------------------------

stack::Result<std::unique_ptr<Context>, Failure> Context::create(const Config& config) {
  std::unique_ptr<Context> c(new Context(config));
  c->ctx_ = SSL_CTX_new(TLS_client_method());
  if (!c->ctx_) return stack::Err{Failure{ExitCode::Failure, "TLS: cannot create an OpenSSL context: " + openssl_error_text()}};
  SSL_CTX_set_app_data(c->ctx_, c.get());
  // TLS 1.2 and 1.3 only (RFC 8996 deprecates 1.0 and 1.1).
  SSL_CTX_set_min_proto_version(c->ctx_, TLS1_2_VERSION);
  if (config.ca_file) {
    // curl --cacert: this file is the whole trust store.
    if (SSL_CTX_load_verify_locations(c->ctx_, config.ca_file->c_str(), nullptr) != 1) {
      return stack::Err{Failure{ExitCode::SslCaCertBadFile,
                                "error setting certificate file: " + *config.ca_file + " (" + openssl_error_text() +
                                    "): give a PEM file of CA certificates"}};
    }
    c->trust_ = "--cacert " + *config.ca_file;
  } else {
    // OpenSSL's default paths: the system store (ca-certificates), or $SSL_CERT_FILE / $SSL_CERT_DIR.
    SSL_CTX_set_default_verify_paths(c->ctx_);
    const char* file_env = std::getenv(X509_get_default_cert_file_env());
    const char* dir_env = std::getenv(X509_get_default_cert_dir_env());
    if (file_env && *file_env) {
      c->trust_ = std::string(X509_get_default_cert_file_env()) + "=" + file_env;
    } else if (dir_env && *dir_env) {
      c->trust_ = std::string(X509_get_default_cert_dir_env()) + "=" + dir_env;
    } else {
      c->trust_ = std::string("the system store (") + X509_get_default_cert_file() + ")";
    }
  }
  ERR_clear_error();  // a missing default file is not an error until a certificate needs it
  // A client cache we own: sessions keyed by (host, port), handed to later connections of the pool.
  SSL_CTX_set_session_cache_mode(c->ctx_, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(c->ctx_, &Context::new_session_cb);
  SSL_CTX_set_msg_callback(c->ctx_, &Session::msg_cb);

  std::string keylog = config.keylog_file.value_or("");
  if (keylog.empty()) {
    if (const char* env = std::getenv("SSLKEYLOGFILE"); env && *env) keylog = env;
  }
  if (!keylog.empty()) {
    c->keylog_ = std::fopen(keylog.c_str(), "a");
    if (!c->keylog_) {
      return stack::Err{Failure{ExitCode::Failure, "cannot write the TLS key log " + keylog + ": " + std::strerror(errno)}};
    }
    c->keylog_path_ = keylog;
    SSL_CTX_set_keylog_callback(c->ctx_, &Context::keylog_cb);
  }
  return c;
}

Context::~Context() {
  for (auto& [key, list] : sessions_) {
    for (auto* session : list) SSL_SESSION_free(session);
  }
  if (ctx_) SSL_CTX_free(ctx_);
  if (keylog_) std::fclose(keylog_);
}

void Context::keylog_cb(const ssl_st* ssl, const char* line) {
  auto* self = static_cast<Context*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  if (!self || !self->keylog_) return;
  // One NSS key-log line per secret; flushed at once so a capture can be decrypted while we run.
  std::fprintf(self->keylog_, "%s\n", line);
  std::fflush(self->keylog_);
  ++self->keylog_lines_;
}

int Context::new_session_cb(ssl_st* ssl, ssl_session_st* session) {
  auto* s = static_cast<Session*>(SSL_get_app_data(ssl));
  if (!s || !s->context_.config_.resume) return 0;
  auto& list = s->context_.sessions_[s->key_];
  list.push_back(session);  // we keep the reference OpenSSL gave us
  while (list.size() > 4) {
    SSL_SESSION_free(list.front());
    list.pop_front();
  }
  return 1;
}

// --- Session ---------------------------------------------------------------------------------------

Session::Session(Context& context, const std::string& host, std::uint16_t port)
    : context_(context), host_(host), key_(host + ":" + std::to_string(port)) {
  ssl_ = SSL_new(context.ctx_);
  rbio_ = BIO_new(BIO_s_mem());
  wbio_ = BIO_new(BIO_s_mem());
  if (!ssl_ || !rbio_ || !wbio_) {
    failure_ = Failure{ExitCode::Failure, "TLS: out of memory setting up the connection"};
    if (rbio_) BIO_free(rbio_);
    if (wbio_) BIO_free(wbio_);
    rbio_ = wbio_ = nullptr;
    return;
  }
  // An empty read BIO means "more later" until the peer's FIN (receive_eof sets it to EOF).
  BIO_set_mem_eof_return(rbio_, -1);
  SSL_set_bio(ssl_, rbio_, wbio_);
  SSL_set_app_data(ssl_, this);
  SSL_set_connect_state(ssl_);
  is_ip_ = stack::wire::Ipv4Address::parse(host).has_value();
  // The certificate is checked against the URL's host in both modes; with -k the result is only
  // reported (SSL_VERIFY_NONE still runs the checks and keeps the result).
  if (is_ip_) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), host.c_str());
  } else {
    SSL_set1_host(ssl_, host.c_str());
    // RFC 6066 §3: "Literal IPv4 and IPv6 addresses are not permitted in HostName."
    sni_sent_ = SSL_set_tlsext_host_name(ssl_, host.c_str()) == 1;
  }
  SSL_set_verify(ssl_, context.config_.verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, &Session::verify_cb);
  static const unsigned char kAlpn[] = "\x08http/1.1";
  SSL_set_alpn_protos(ssl_, kAlpn, sizeof kAlpn - 1);
  if (context.config_.resume) {
    if (auto it = context.sessions_.find(key_); it != context.sessions_.end() && !it->second.empty()) {
      auto& list = it->second;
      ssl_session_st* session = list.back();
      offered_session_ = SSL_set_session(ssl_, session) == 1;
      // RFC 8446 Appendix C.4: clients SHOULD NOT reuse a TLS 1.3 ticket, so each is offered once.
      // DEVIATION(RFC 8446 Appendix C.4): the last one is kept and offered again when the pool opens
      // connections faster than tickets arrive (six at once after the page), as OpenSSL's own
      // client cache would; the server may refuse it, which costs a full handshake, nothing else.
      // TLS 1.2 sessions (RFC 5077 tickets, session IDs) are reusable by design.
      if (SSL_SESSION_get_protocol_version(session) == TLS1_3_VERSION && list.size() > 1) {
        SSL_SESSION_free(session);  // SSL_set_session took its own reference
        list.pop_back();
      }
    }
  }
}

Session::~Session() {
  if (ssl_) SSL_free(ssl_);  // frees both BIOs
}

int Session::verify_cb(int preverify_ok, x509_store_ctx_st* store) {
  auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* self = ssl ? static_cast<Session*>(SSL_get_app_data(ssl)) : nullptr;
  if (self && !preverify_ok && self->verify_error_ == 0) {
    self->verify_error_ = X509_STORE_CTX_get_error(store);
    self->verify_cert_ = describe_certificate(X509_STORE_CTX_get_current_cert(store));
  }
  return preverify_ok;
}

void Session::msg_cb(int write_p, int, int content_type, const void* buf, std::size_t len, ssl_st* ssl, void*) {
  auto* self = static_cast<Session*>(SSL_get_app_data(ssl));
  if (!self || content_type != SSL3_RT_HANDSHAKE || len < 4) return;
  HandshakeMessage m;
  m.outgoing = write_p != 0;
  m.type = static_cast<const unsigned char*>(buf)[0];
  m.length = len;
  // Its place in the TCP byte stream of its direction (see HandshakeMessage).
  m.stream_offset = m.outgoing ? self->bytes_drained_ + BIO_ctrl_pending(self->wbio_)
                               : self->bytes_in_ - BIO_ctrl_pending(self->rbio_);
  if (self->messages_.size() < 64) self->messages_.push_back(m);
}

void Session::receive(std::span<const std::byte> data) {
  if (!rbio_ || data.empty() || eof_) return;
  std::size_t done = 0;
  while (done < data.size()) {
    const int chunk = static_cast<int>(std::min<std::size_t>(data.size() - done, 1 << 30));
    const int n = BIO_write(rbio_, data.data() + done, chunk);
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  bytes_in_ += done;
}

void Session::receive_eof() {
  if (!rbio_ || eof_) return;
  eof_ = true;
  BIO_set_mem_eof_return(rbio_, 0);  // now an empty BIO reads as EOF
}

std::span<const std::byte> Session::output() const {
  return std::span<const std::byte>(out_).subspan(out_start_);
}

void Session::consume_output(std::size_t n) {
  n = std::min(n, out_.size() - out_start_);
  out_start_ += n;
  bytes_out_ += n;
  if (out_start_ == out_.size()) {
    out_.clear();
    out_start_ = 0;
  } else if (out_start_ > (1u << 16) && out_start_ * 2 > out_.size()) {
    out_.erase(out_.begin(), out_.begin() + static_cast<std::ptrdiff_t>(out_start_));
    out_start_ = 0;
  }
}

void Session::drain() {
  if (!wbio_) return;
  for (;;) {
    const std::size_t pending = BIO_ctrl_pending(wbio_);
    if (pending == 0) return;
    const std::size_t at = out_.size();
    out_.resize(at + pending);
    const int n = BIO_read(wbio_, out_.data() + at, static_cast<int>(pending));
    if (n <= 0) {
      out_.resize(at);
      return;
    }
    out_.resize(at + static_cast<std::size_t>(n));
    bytes_drained_ += static_cast<std::uint64_t>(n);
  }
}

std::string Session::verify_message(long result) const {
  const std::string subject = verify_cert_ ? verify_cert_->subject : std::string("?");
  switch (result) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return "SSL certificate problem: certificate has expired: expired on " +
             (verify_cert_ ? verify_cert_->not_after : std::string("?")) + " (" + subject + ")";
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return "SSL certificate problem: certificate is not yet valid: valid from " +
             (verify_cert_ ? verify_cert_->not_before : std::string("?")) + " (" + subject + ")";
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH: {
      std::string names = verify_cert_ ? join(verify_cert_->sans) : "";
      if (names.empty()) names = subject + " (no subjectAltName)";
      return "SSL: name mismatch: certificate is for " + names + ", not " + host_;
    }
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      return "SSL certificate problem: self-signed certificate (" + subject + ")";
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      return "SSL certificate problem: self-signed certificate in certificate chain (" + subject +
             ", not trusted by " + context_.trust_ + ")";
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
      return "SSL certificate problem: unknown issuer: " + (verify_cert_ ? verify_cert_->issuer : std::string("?")) +
             " is not in " + context_.trust_;
    default:
      return std::string("SSL certificate problem: ") + X509_verify_cert_error_string(result) + " (" + subject + ")";
  }
}

void Session::fail_from_openssl(const char* during, int ssl_error) {
  if (failure_) return;
  const bool handshaking = !established_;
  const unsigned long e = ERR_peek_last_error();
  const bool unexpected_eof =
      ssl_error == SSL_ERROR_SYSCALL || (e != 0 && ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING);
  if (handshaking) {
    const long vr = ssl_ ? SSL_get_verify_result(ssl_) : X509_V_OK;
    if (context_.config_.verify && vr != X509_V_OK) {
      failure_ = Failure{ExitCode::PeerFailedVerification, verify_message(vr)};
    } else if (unexpected_eof || eof_) {
      failure_ = Failure{ExitCode::SslConnect, std::string("TLS ") + during +
                                                   ": the server closed the connection before the handshake was complete"};
    } else {
      failure_ = Failure{ExitCode::SslConnect, std::string("TLS ") + during + " failed: " + openssl_error_text()};
    }
  } else if (unexpected_eof) {
    // OpenSSL 3 reports EOF without close_notify as an error; it is a truncation (RFC 8446 §6.1:
    // the peer must send close_notify), unless the HTTP framing already said the body was whole —
    // which the caller knows, and then it never reads this far.
    failure_ = Failure{ExitCode::RecvError,
                       "TLS: the server closed the connection without close_notify: the response may be truncated",
                       eof_};
  } else {
    failure_ = Failure{ExitCode::RecvError, std::string("TLS ") + during + " failed: " + openssl_error_text()};
  }
  ERR_clear_error();
}

HandshakeStatus Session::handshake() {
  if (failure_) return HandshakeStatus::Failed;
  if (established_) return HandshakeStatus::Done;
  ERR_clear_error();
  const int r = SSL_do_handshake(ssl_);
  drain();  // the ClientHello, our Finished, or an alert on failure: all go out
  if (r == 1) {
    established_ = true;
    if (!context_.config_.verify) {
      const long vr = SSL_get_verify_result(ssl_);
      if (vr != X509_V_OK) insecure_problem_ = verify_message(vr);
    }
    return HandshakeStatus::Done;
  }
  const int err = SSL_get_error(ssl_, r);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return HandshakeStatus::NeedMore;
  fail_from_openssl("handshake", err);
  return HandshakeStatus::Failed;
}

ReadResult Session::read(std::span<std::byte> out) {
  if (failure_) return {ReadStatus::Error, 0};
  if (closed_by_peer()) return {ReadStatus::Closed, 0};
  if (!established_ || out.empty()) return {ReadStatus::WouldBlock, 0};
  ERR_clear_error();
  std::size_t n = 0;
  const int r = SSL_read_ex(ssl_, out.data(), std::min(out.size(), kReadChunk * 4), &n);
  drain();  // TLS 1.3 post-handshake messages may need an answer (a KeyUpdate)
  if (r == 1) return {ReadStatus::Ok, n};
  const int err = SSL_get_error(ssl_, r);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return {ReadStatus::WouldBlock, 0};
  if (err == SSL_ERROR_ZERO_RETURN) return {ReadStatus::Closed, 0};
  fail_from_openssl("read", err);
  return {ReadStatus::Error, 0};
}

bool Session::closed_by_peer() const {
  return ssl_ && (SSL_get_shutdown(ssl_) & SSL_RECEIVED_SHUTDOWN) != 0;
}

bool Session::write(std::span<const std::byte> data) {
  if (failure_ || !established_) return false;
  if (data.empty()) return true;
  ERR_clear_error();
  std::size_t n = 0;
  const int r = SSL_write_ex(ssl_, data.data(), data.size(), &n);
  drain();
  if (r == 1 && n == data.size()) return true;
  failure_ = Failure{ExitCode::SendError, "TLS write failed: " + openssl_error_text()};
  ERR_clear_error();
  return false;
}

void Session::close() {
  if (closed_ || !ssl_ || !established_ || failure_) return;
  closed_ = true;
  ERR_clear_error();
  SSL_shutdown(ssl_);  // our close_notify; we do not wait for the peer's (RFC 8446 §6.1 allows it)
  ERR_clear_error();
  drain();
}

std::string Session::version() const { return ssl_ ? SSL_get_version(ssl_) : ""; }

std::string Session::cipher() const {
  const SSL_CIPHER* c = ssl_ ? SSL_get_current_cipher(ssl_) : nullptr;
  return c ? SSL_CIPHER_get_name(c) : "";
}

std::string Session::alpn() const {
  const unsigned char* p = nullptr;
  unsigned len = 0;
  if (ssl_) SSL_get0_alpn_selected(ssl_, &p, &len);
  return p ? std::string(reinterpret_cast<const char*>(p), len) : "";
}

bool Session::resumed() const { return ssl_ && SSL_session_reused(ssl_) == 1; }

std::vector<CertInfo> Session::peer_chain() const {
  std::vector<CertInfo> out;
  if (!ssl_) return out;
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl_);
  if (!chain) return out;
  for (int i = 0; i < sk_X509_num(chain) && i < 16; ++i) out.push_back(describe_certificate(sk_X509_value(chain, i)));
  return out;
}

std::optional<CertInfo> Session::trust_anchor() const {
  if (!ssl_) return std::nullopt;
  STACK_OF(X509)* chain = SSL_get0_verified_chain(ssl_);
  if (!chain || sk_X509_num(chain) == 0) return std::nullopt;
  return describe_certificate(sk_X509_value(chain, sk_X509_num(chain) - 1));
}

std::string Session::matched_name() const {
  if (!ssl_) return "";
  if (is_ip_) return "IP:" + host_;
  const char* peer = SSL_get0_peername(ssl_);  // the SAN (or wildcard) that matched SSL_set1_host
  return peer ? std::string("DNS:") + peer : std::string();
}

}  // namespace appkit::tls
