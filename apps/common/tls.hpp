// TLS for the HTTP clients: OpenSSL 3 driven through two memory BIOs, so the TLS engine never
// touches a file descriptor. The caller moves ciphertext between the engine and our own TCP (the
// pool, ustack get); stack/ never sees OpenSSL. Verification is on by default, the way curl does it.
//
// Read first: RFC 8446 (TLS 1.3: §4 the handshake messages, §6.1 close_notify, §4.6.1 tickets),
// RFC 5246 (TLS 1.2), RFC 6066 §3 (SNI: never an IP literal), RFC 7301 (ALPN), RFC 6125 /
// RFC 9525 (host names checked against the SAN; IP literals against iPAddress SANs), RFC 5280 §4.1.2.5
// (validity). OpenSSL: man 3ssl SSL_set_bio, SSL_get_error, SSL_CTX_set_keylog_callback,
// SSL_CTX_sess_set_new_cb. The key log format is NSS's (the one Wireshark and curl read).
//
//   auto ctx = tls::Context::create(config);            // one per program: CA store, key log, sessions
//   tls::Session s(*ctx, "www.domain.com", 443);        // SNI, host check, ALPN http/1.1, resumption
//   s.handshake();                                      // queues the ClientHello
//   loop: send(s.output()); s.consume_output(n);        // ciphertext for our TCP
//         s.receive(bytes) / s.receive_eof();           // ciphertext from our TCP
//         s.handshake() until Done (or Failed: s.failure() has curl's code 35/60 and one line)
//         s.write(plain) / s.read(buf)                  // the HTTP bytes
//   s.close();  send the close_notify, then FIN
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "apps/common/cli.hpp"
#include "stack/util/result.hpp"

// OpenSSL's types, declared so that users of this header need not include OpenSSL's.
struct ssl_ctx_st;
struct ssl_st;
struct ssl_session_st;
struct x509_st;
struct bio_st;
struct x509_store_ctx_st;

namespace appkit::tls {

struct Config {
  bool verify = true;                       // -k / --insecure turns it off (narrated as a warning)
  std::optional<std::string> ca_file;       // --cacert: trust only this file (curl's habit)
  // Default store: OpenSSL's default paths (the system's ca-certificates), which honour
  // SSL_CERT_FILE and SSL_CERT_DIR from the environment.
  std::optional<std::string> keylog_file;   // --keylog, else $SSLKEYLOGFILE (NSS key log format)
  bool resume = true;                       // keep sessions per (host, port) and offer them again
};

// curl's words and codes: 35 a handshake that failed, 60 a certificate that cannot be verified,
// 56 a failure reading (a truncation: EOF without close_notify), 55 a failure sending.
struct Failure {
  ExitCode code = ExitCode::SslConnect;
  std::string message;  // one line: "SSL certificate problem: certificate has expired (on 2020-01-02 ...)"
  // After the handshake: the peer's FIN came without close_notify (RFC 8446 §6.1), possibly in the
  // middle of a record. The data is cut short; whether that cut a response is the HTTP framing's
  // call (a body whose length is known: curl's 18; one read until the close: 56, see http_stream.hpp).
  bool truncated = false;
};

// One certificate of the chain the server sent, for the narration.
struct CertInfo {
  std::string subject;     // "CN=www.domain.com"
  std::string issuer;      // "CN=ustack sandbox CA"
  std::string not_before;  // "2026-12-01 10:00:00 UTC"
  std::string not_after;
  std::vector<std::string> sans;  // "DNS:www.domain.com", "IP:203.0.113.80"
};

// A handshake message seen by OpenSSL's message callback (RFC 8446 §4: 1 ClientHello, 2
// ServerHello, 4 NewSessionTicket, 8 EncryptedExtensions, 11 Certificate, 15 CertificateVerify,
// 20 Finished, ...). `stream_offset` places it in the TCP byte stream of its direction, so the
// narrator can name the pcap frame that carried it.
struct HandshakeMessage {
  bool outgoing = false;
  int type = 0;
  std::size_t length = 0;
  // Outgoing: where the record that carries it starts (OpenSSL reports a message before writing
  // it). Incoming: where the record that carried it ends (reported once it has been read).
  std::uint64_t stream_offset = 0;
};
const char* handshake_type_name(int type);  // "ClientHello", ...

class Context {
 public:
  static stack::Result<std::unique_ptr<Context>, Failure> create(const Config& config);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  const Config& config() const { return config_; }
  // The source of trust, for the narration: "--cacert FILE", "SSL_CERT_FILE=...", "the system store".
  const std::string& trust_description() const { return trust_; }
  // Where the key log goes (empty: none).
  const std::string& keylog_path() const { return keylog_path_; }
  std::size_t keylog_lines() const { return keylog_lines_; }
  std::size_t cached_sessions() const {
    std::size_t n = 0;
    for (const auto& [key, list] : sessions_) n += list.size();
    return n;
  }
  ssl_ctx_st* raw() const { return ctx_; }

 private:
  friend class Session;
  explicit Context(Config config) : config_(std::move(config)) {}
  static void keylog_cb(const ssl_st* ssl, const char* line);
  static int new_session_cb(ssl_st* ssl, ssl_session_st* session);

  Config config_;
  ssl_ctx_st* ctx_ = nullptr;
  std::string trust_;
  std::string keylog_path_;
  std::FILE* keylog_ = nullptr;
  std::size_t keylog_lines_ = 0;
  // "host:port" -> sessions to offer, newest last (each holds one reference). TLS 1.3 servers send
  // several tickets per handshake (OpenSSL: two), one per later connection.
  std::map<std::string, std::deque<ssl_session_st*>> sessions_;
};

enum class HandshakeStatus { NeedMore, Done, Failed };
enum class ReadStatus {
  Ok,         // `bytes` plaintext bytes
  WouldBlock, // feed more ciphertext
  Closed,     // the peer's close_notify (RFC 8446 §6.1): a clean end
  Error,      // failure() says why (a truncation, a bad record, an alert)
};
struct ReadResult {
  ReadStatus status = ReadStatus::WouldBlock;
  std::size_t bytes = 0;
};

class Session {
 public:
  // `host` is the URL's host: a name (SNI + DNS SAN check) or an IPv4 literal (IP SAN check, no SNI).
  Session(Context& context, const std::string& host, std::uint16_t port);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // --- ciphertext, both ways ---
  void receive(std::span<const std::byte> data);  // bytes from the peer, any split
  void receive_eof();                             // the peer's FIN
  std::span<const std::byte> output() const;      // bytes for the peer, not yet taken
  void consume_output(std::size_t n);             // n of them are in our TCP's send buffer
  std::uint64_t bytes_in() const { return bytes_in_; }
  std::uint64_t bytes_out() const { return bytes_out_; }

  // --- the handshake ---
  HandshakeStatus handshake();
  bool established() const { return established_; }

  // --- plaintext ---
  ReadResult read(std::span<std::byte> out);
  // Queues all of `data` as TLS records (a memory BIO never refuses); callers bound output() first.
  bool write(std::span<const std::byte> data);
  // Our close_notify (once); send output() before the FIN.
  void close();

  const std::optional<Failure>& failure() const { return failure_; }

  // --- what happened, for the narration (valid once established) ---
  std::string version() const;   // "TLSv1.3"
  std::string cipher() const;    // "TLS_AES_256_GCM_SHA384"
  std::string alpn() const;      // "http/1.1" or empty
  bool resumed() const;
  bool offered_session() const { return offered_session_; }
  bool sni_sent() const { return sni_sent_; }
  const std::string& host() const { return host_; }
  std::vector<CertInfo> peer_chain() const;      // as the server sent it (leaf first)
  std::optional<CertInfo> trust_anchor() const;  // the CA the chain was verified against
  std::string matched_name() const;              // the SAN the host matched ("DNS:www.domain.com")
  // With -k: what verification would have said (empty when the certificate was fine).
  const std::string& insecure_problem() const { return insecure_problem_; }
  const std::vector<HandshakeMessage>& messages() const { return messages_; }

 private:
  friend class Context;
  static int verify_cb(int preverify_ok, x509_store_ctx_st* store);
  static void msg_cb(int write_p, int version, int content_type, const void* buf, std::size_t len, ssl_st* ssl, void* arg);
  void drain();  // wbio -> out_
  bool closed_by_peer() const;
  void fail_from_openssl(const char* during, int ssl_error);
  std::string verify_message(long result) const;

  Context& context_;
  ssl_st* ssl_ = nullptr;
  bio_st* rbio_ = nullptr;  // owned by ssl_
  bio_st* wbio_ = nullptr;
  std::string host_;
  std::string key_;
  bool is_ip_ = false;
  bool sni_sent_ = false;
  bool offered_session_ = false;
  bool established_ = false;
  bool eof_ = false;
  bool closed_ = false;
  std::vector<std::byte> out_;
  std::size_t out_start_ = 0;
  std::uint64_t bytes_in_ = 0;
  std::uint64_t bytes_out_ = 0;  // taken by consume_output
  std::uint64_t bytes_drained_ = 0;  // ever moved from wbio to out_
  std::optional<Failure> failure_;
  // The first verification problem (depth, error, the certificate's details), from verify_cb.
  long verify_error_ = 0;
  std::optional<CertInfo> verify_cert_;
  std::string insecure_problem_;
  std::vector<HandshakeMessage> messages_;
};

// Describes one certificate (subject, issuer, validity, SANs).
CertInfo describe_certificate(x509_st* cert);

}  // namespace appkit::tls
