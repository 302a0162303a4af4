// Test support for TLS: a whole session made in memory, an OpenSSL client (key log on) against
// test::tls::Server, every byte of each direction kept as a capture would hold it. Used by the
// key-log decryptor's unit tests (tests/apps/test_tls_decrypt.cpp) and its fuzz target
// (tests/fuzz/fuzz_tls_decrypt.cpp), which mutates such sessions.
#pragma once

#include <openssl/bio.h>
#include <openssl/ssl.h>

#include <cstdint>
#include <ctime>
#include <span>
#include <string>
#include <vector>

#include "tests/support/tls_peer.hpp"

namespace test::tls {

struct SessionSpec {
  int version = TLS1_3_VERSION;          // the only version both ends allow
  const char* tls13_suites = nullptr;    // what the client offers (the server takes one of them)
  const char* tls12_ciphers = nullptr;
  bool key_update = false;               // the client updates its keys before its request (RFC 8446 §4.6.3)
  bool close_notify = false;             // the server ends with close_notify after its response
  std::time_t clock = 0;                 // the certificates' validity and the server's tickets are dated from here (0: now)
  std::string request = "GET /secret HTTP/1.1\r\nHost: www.domain.com\r\n\r\n";
  std::string response = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
};

struct RecordedSession {
  std::string keylog;  // NSS key log lines, as OpenSSL's callback gave them
  std::vector<std::uint8_t> to_server, to_client;
  std::string request, response;
  bool answered = false;  // the request arrived and the response was written
};

inline RecordedSession record_session(const SessionSpec& spec) {
  Pki pki("ustack test CA", spec.clock);
  auto leaf = pki.leaf({.cn = "www.domain.com", .sans = {"DNS:www.domain.com"}, .at = spec.clock});
  Server server(leaf.cert.get(), leaf.key.get(),
                {.min_version = spec.version, .max_version = spec.version, .tickets = true, .session_time = spec.clock});
  RecordedSession s;
  s.request = spec.request;
  s.response = spec.response;
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, spec.version);
  SSL_CTX_set_max_proto_version(ctx, spec.version);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  if (spec.tls13_suites) SSL_CTX_set_ciphersuites(ctx, spec.tls13_suites);
  if (spec.tls12_ciphers) SSL_CTX_set_cipher_list(ctx, spec.tls12_ciphers);
  SSL_CTX_set_keylog_callback(ctx, [](const SSL* ssl, const char* line) {
    *static_cast<std::string*>(SSL_get_ex_data(ssl, 0)) += std::string(line) + "\n";
  });
  SSL* ssl = SSL_new(ctx);
  SSL_set_ex_data(ssl, 0, &s.keylog);
  BIO* rbio = BIO_new(BIO_s_mem());
  BIO* wbio = BIO_new(BIO_s_mem());
  BIO_set_mem_eof_return(rbio, -1);
  SSL_set_bio(ssl, rbio, wbio);
  SSL_set_connect_state(ssl);
  SSL_set_tlsext_host_name(ssl, "www.domain.com");
  auto drain = [](BIO* b) {
    std::vector<std::uint8_t> out(BIO_ctrl_pending(b));
    if (!out.empty()) BIO_read(b, out.data(), static_cast<int>(out.size()));
    return out;
  };
  bool sent = false;
  for (int round = 0; round < 50; ++round) {
    SSL_do_handshake(ssl);
    if (SSL_is_init_finished(ssl) && !sent) {
      if (spec.key_update) SSL_key_update(ssl, SSL_KEY_UPDATE_NOT_REQUESTED);
      SSL_write(ssl, s.request.data(), static_cast<int>(s.request.size()));
      sent = true;
    }
    const auto up = drain(wbio);
    s.to_server.insert(s.to_server.end(), up.begin(), up.end());
    server.receive(std::as_bytes(std::span(up)));
    server.pump();
    if (server.received() == s.request && !s.answered) {
      server.write(s.response);
      if (spec.close_notify) server.close_notify();
      s.answered = true;
    }
    const auto down = server.take_output();
    s.to_client.insert(s.to_client.end(), reinterpret_cast<const std::uint8_t*>(down.data()),
                       reinterpret_cast<const std::uint8_t*>(down.data()) + down.size());
    BIO_write(rbio, down.data(), static_cast<int>(down.size()));
    char buf[256];
    std::size_t n = 0;
    while (SSL_is_init_finished(ssl) && SSL_read_ex(ssl, buf, sizeof buf, &n) == 1) {
    }
    if (s.answered && up.empty() && down.empty()) break;
  }
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  return s;
}

}  // namespace test::tls
