// Test support for TLS: certificates made in memory (a CA and leaves signed by it, expired, for
// another name, self-signed) and an OpenSSL server driven through memory BIOs, so the client glue
// (apps/common/tls.hpp) is tested against a real TLS implementation without any socket.
#pragma once

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace test::tls {

struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CertFree {
  void operator()(X509* c) const { X509_free(c); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
using Cert = std::unique_ptr<X509, CertFree>;

inline Key make_key() { return Key(EVP_EC_gen("P-256")); }

struct CertSpec {
  std::string cn;
  std::vector<std::string> sans;  // "DNS:x", "IP:1.2.3.4"
  long not_before_secs = -3600;   // relative to `at`
  long not_after_secs = 86400;
  bool ca = false;
  std::time_t at = 0;             // what the two offsets are relative to (0: now)
};

// A certificate for `key`, signed by `issuer_key` (itself when issuer is null: self-signed).
inline Cert make_cert(const CertSpec& spec, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key) {
  Cert cert(X509_new());
  X509_set_version(cert.get(), 2);
  static long serial = 1;
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial++);
  std::time_t at = spec.at;
  X509_time_adj_ex(X509_getm_notBefore(cert.get()), 0, spec.not_before_secs, at ? &at : nullptr);
  X509_time_adj_ex(X509_getm_notAfter(cert.get()), 0, spec.not_after_secs, at ? &at : nullptr);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(spec.cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer ? issuer : cert.get(), cert.get(), nullptr, nullptr, 0);
  auto add = [&](int nid, const std::string& value) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    if (ext) {
      X509_add_ext(cert.get(), ext, -1);
      X509_EXTENSION_free(ext);
    }
  };
  add(NID_basic_constraints, spec.ca ? "critical,CA:TRUE" : "CA:FALSE");
  if (spec.ca) add(NID_key_usage, "critical,keyCertSign,cRLSign");
  add(NID_subject_key_identifier, "hash");
  if (!spec.sans.empty()) {
    std::string sans;
    for (const auto& s : spec.sans) sans += (sans.empty() ? "" : ",") + s;
    add(NID_subject_alt_name, sans);
  }
  X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256());
  return cert;
}

// A CA written to a PEM file (for Config::ca_file) and leaves it signs.
struct Pki {
  Key ca_key = make_key();
  Cert ca;
  std::string ca_file;

  explicit Pki(const std::string& cn = "ustack test CA", std::time_t at = 0) {
    CertSpec spec;
    spec.cn = cn;
    spec.ca = true;
    spec.at = at;
    ca = make_cert(spec, ca_key.get(), nullptr, nullptr);
    char path[] = "/tmp/ustack-test-ca-XXXXXX";
    const int fd = mkstemp(path);
    if (fd >= 0) close(fd);
    ca_file = path;
    if (FILE* f = std::fopen(path, "w")) {
      PEM_write_X509(f, ca.get());
      std::fclose(f);
    }
  }
  ~Pki() { std::remove(ca_file.c_str()); }
  Pki(const Pki&) = delete;
  Pki& operator=(const Pki&) = delete;

  struct Leaf {
    Key key;
    Cert cert;
  };
  Leaf leaf(const CertSpec& spec) {
    Leaf l{make_key(), nullptr};
    l.cert = make_cert(spec, l.key.get(), ca.get(), ca_key.get());
    return l;
  }
  static Leaf self_signed(const CertSpec& spec) {
    Leaf l{make_key(), nullptr};
    l.cert = make_cert(spec, l.key.get(), nullptr, nullptr);
    return l;
  }
};

// An OpenSSL server on memory BIOs.
class Server {
 public:
  struct Options {
    int min_version = TLS1_2_VERSION;
    int max_version = TLS1_3_VERSION;
    bool tickets = true;
    std::time_t session_time = 0;  // the time written into session tickets (0: now)
  };
  Server(X509* cert, EVP_PKEY* key, Options options) {
    ctx_ = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_min_proto_version(ctx_, options.min_version);
    SSL_CTX_set_max_proto_version(ctx_, options.max_version);
    SSL_CTX_use_certificate(ctx_, cert);
    SSL_CTX_use_PrivateKey(ctx_, key);
    SSL_CTX_set_session_id_context(ctx_, reinterpret_cast<const unsigned char*>("ustack"), 6);
    if (!options.tickets) SSL_CTX_set_options(ctx_, SSL_OP_NO_TICKET);
    if (options.session_time) {
      // Called before a ticket is made from the session: a fixed time makes the same ticket bytes.
      session_time_ = options.session_time;
      SSL_CTX_set_session_ticket_cb(
          ctx_,
          [](SSL* ssl, void* arg) {
            SSL_SESSION_set_time(SSL_get0_session(ssl), static_cast<long>(static_cast<Server*>(arg)->session_time_));
            return 1;
          },
          nullptr, this);
    }
    SSL_CTX_set_alpn_select_cb(
        ctx_,
        [](SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned inlen, void*) {
          unsigned char* selected = nullptr;
          static const unsigned char kMine[] = "\x08http/1.1";
          if (SSL_select_next_proto(&selected, outlen, kMine, sizeof kMine - 1, in, inlen) != OPENSSL_NPN_NEGOTIATED) {
            return SSL_TLSEXT_ERR_NOACK;
          }
          *out = selected;
          return SSL_TLSEXT_ERR_OK;
        },
        nullptr);
    new_connection();
  }
  ~Server() {
    if (ssl_) SSL_free(ssl_);
    SSL_CTX_free(ctx_);
  }
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // A fresh connection on the same context (its session cache lets a client resume).
  void new_connection() {
    if (ssl_) SSL_free(ssl_);
    ssl_ = SSL_new(ctx_);
    rbio_ = BIO_new(BIO_s_mem());
    wbio_ = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(rbio_, -1);
    SSL_set_bio(ssl_, rbio_, wbio_);
    SSL_set_accept_state(ssl_);
    received_.clear();
  }

  void receive(std::span<const std::byte> data) { BIO_write(rbio_, data.data(), static_cast<int>(data.size())); }
  std::vector<std::byte> take_output() {
    std::vector<std::byte> out(BIO_ctrl_pending(wbio_));
    if (!out.empty()) BIO_read(wbio_, out.data(), static_cast<int>(out.size()));
    return out;
  }
  // Handshake and read whatever plaintext arrived.
  void pump() {
    if (!SSL_is_init_finished(ssl_)) {
      SSL_do_handshake(ssl_);
      if (!SSL_is_init_finished(ssl_)) return;
    }
    char buf[4096];
    std::size_t n = 0;
    while (SSL_read_ex(ssl_, buf, sizeof buf, &n) == 1) received_.append(buf, n);
  }
  void write(const std::string& text) { SSL_write(ssl_, text.data(), static_cast<int>(text.size())); }
  void close_notify() { SSL_shutdown(ssl_); }
  const std::string& received() const { return received_; }
  bool handshake_done() const { return SSL_is_init_finished(ssl_) != 0; }

 private:
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  BIO* rbio_ = nullptr;
  BIO* wbio_ = nullptr;
  std::string received_;
  std::time_t session_time_ = 0;
};

}  // namespace test::tls
