// The TLS glue (apps/common/tls.hpp) against a real OpenSSL server in memory: handshakes in any
// split (one byte per segment included), verification failures with curl's codes and one-line
// reasons, close_notify versus truncation, resumption, hostile bytes.
#include <doctest/doctest.h>

#include <string>

#include "apps/common/tls.hpp"
#include "support/tls_peer.hpp"

namespace {

using appkit::ExitCode;
using appkit::tls::Config;
using appkit::tls::Context;
using appkit::tls::HandshakeStatus;
using appkit::tls::ReadStatus;
using appkit::tls::Session;
using test::tls::Pki;
using test::tls::Server;

std::unique_ptr<Context> context(Config config) {
  auto c = Context::create(config);
  REQUIRE(c.ok());
  return std::move(*c);
}

// Config{} with the fields a test sets (no designated initializers: -Wmissing-field-initializers).
Config with_ca(const std::string& ca_file, bool verify = true) {
  Config c;
  c.ca_file = ca_file;
  c.verify = verify;
  return c;
}

std::span<const std::byte> bytes(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }

// Moves ciphertext both ways in pieces of at most `chunk` bytes until nothing moves.
void exchange(Session& client, Server& server, std::size_t chunk) {
  for (int round = 0; round < 100000; ++round) {
    bool moved = false;
    auto out = client.output();
    if (!out.empty()) {
      const std::size_t n = std::min(chunk, out.size());
      server.receive(out.first(n));
      client.consume_output(n);
      moved = true;
    }
    server.pump();
    auto back = server.take_output();
    for (std::size_t at = 0; at < back.size(); at += chunk) {
      client.receive(std::span<const std::byte>(back).subspan(at, std::min(chunk, back.size() - at)));
      if (!client.established()) client.handshake();
      moved = true;
    }
    if (!client.established()) client.handshake();
    if (!moved && client.output().empty()) return;
  }
}

std::string read_all(Session& client) {
  std::string got;
  std::array<std::byte, 1000> buf;
  for (;;) {
    auto r = client.read(buf);
    if (r.status != ReadStatus::Ok) break;
    got.append(reinterpret_cast<const char*>(buf.data()), r.bytes);
  }
  return got;
}

}  // namespace

TEST_SUITE("tls") {
  TEST_CASE("TLS 1.3 and 1.2 handshakes and data in every split, verified against the CA") {
    Pki pki;
    auto leaf = pki.leaf({.cn = "www.domain.com", .sans = {"DNS:www.domain.com"}});
    for (int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
      for (std::size_t chunk : {std::size_t{1}, std::size_t{7}, std::size_t{100}, std::size_t{1} << 20}) {
        CAPTURE(version);
        CAPTURE(chunk);
        Server server(leaf.cert.get(), leaf.key.get(), {.max_version = version});
        auto ctx = context(with_ca(pki.ca_file));
        Session client(*ctx, "www.domain.com", 443);
        CHECK(client.handshake() == HandshakeStatus::NeedMore);
        exchange(client, server, chunk);
        REQUIRE(client.established());
        CHECK(client.failure() == std::nullopt);
        CHECK(client.version() == (version == TLS1_3_VERSION ? "TLSv1.3" : "TLSv1.2"));
        CHECK(client.alpn() == "http/1.1");
        CHECK(client.sni_sent());
        CHECK(client.matched_name() == "DNS:www.domain.com");
        CHECK_FALSE(client.resumed());
        auto chain = client.peer_chain();
        REQUIRE(chain.size() >= 1);
        CHECK(chain[0].subject == "CN=www.domain.com");
        CHECK(chain[0].issuer == "CN=ustack test CA");
        REQUIRE(client.trust_anchor());
        CHECK(client.trust_anchor()->subject == "CN=ustack test CA");
        // The handshake messages were seen in order: ClientHello first, our Finished among them.
        REQUIRE(!client.messages().empty());
        CHECK(client.messages().front().type == 1);
        CHECK(client.messages().front().outgoing);

        REQUIRE(client.write(bytes("GET / HTTP/1.1\r\nHost: www.domain.com\r\n\r\n")));
        exchange(client, server, chunk);
        CHECK(server.received() == "GET / HTTP/1.1\r\nHost: www.domain.com\r\n\r\n");
        const std::string body(20000, 'x');
        server.write("HTTP/1.1 200 OK\r\n\r\n" + body);
        server.close_notify();
        exchange(client, server, chunk);
        CHECK(read_all(client) == "HTTP/1.1 200 OK\r\n\r\n" + body);
        std::array<std::byte, 10> buf;
        CHECK(client.read(buf).status == ReadStatus::Closed);  // close_notify: a clean end
      }
    }
  }

  TEST_CASE("an IP-literal URL checks the IP SAN and sends no SNI") {
    Pki pki;
    auto leaf = pki.leaf({.cn = "www.domain.com", .sans = {"DNS:www.domain.com", "IP:203.0.113.80"}});
    Server server(leaf.cert.get(), leaf.key.get(), {});
    auto ctx = context(with_ca(pki.ca_file));
    Session client(*ctx, "203.0.113.80", 443);
    client.handshake();
    exchange(client, server, 1000);
    REQUIRE(client.established());
    CHECK_FALSE(client.sni_sent());
    CHECK(client.matched_name() == "IP:203.0.113.80");
  }

  TEST_CASE("certificates that cannot be verified: exit 60 with the reason, -k goes on with a warning") {
    Pki pki;
    SUBCASE("name mismatch") {
      auto leaf = pki.leaf({.cn = "other.domain.com", .sans = {"DNS:other.domain.com"}});
      Server server(leaf.cert.get(), leaf.key.get(), {});
      auto ctx = context(with_ca(pki.ca_file));
      Session client(*ctx, "www.domain.com", 443);
      client.handshake();
      exchange(client, server, 1000);
      CHECK_FALSE(client.established());
      REQUIRE(client.failure());
      CHECK(client.failure()->code == ExitCode::PeerFailedVerification);
      CHECK(client.failure()->message == "SSL: name mismatch: certificate is for DNS:other.domain.com, not www.domain.com");
      CHECK(client.handshake() == HandshakeStatus::Failed);
    }
    SUBCASE("expired") {
      auto leaf = pki.leaf({.cn = "www.domain.com", .sans = {"DNS:www.domain.com"}, .not_before_secs = -86400 * 30,
                            .not_after_secs = -86400});
      Server server(leaf.cert.get(), leaf.key.get(), {});
      auto ctx = context(with_ca(pki.ca_file));
      Session client(*ctx, "www.domain.com", 443);
      client.handshake();
      exchange(client, server, 1000);
      REQUIRE(client.failure());
      CHECK(client.failure()->code == ExitCode::PeerFailedVerification);
      CHECK(client.failure()->message.find("certificate has expired: expired on 20") != std::string::npos);
    }
    SUBCASE("self-signed") {
      auto leaf = Pki::self_signed({.cn = "www.domain.com", .sans = {"DNS:www.domain.com"}});
      Server server(leaf.cert.get(), leaf.key.get(), {});
      auto ctx = context(with_ca(pki.ca_file));
      Session client(*ctx, "www.domain.com", 443);
      client.handshake();
      exchange(client, server, 1000);
      REQUIRE(client.failure());
      CHECK(client.failure()->code == ExitCode::PeerFailedVerification);
      CHECK(client.failure()->message == "SSL certificate problem: self-signed certificate (CN=www.domain.com)");
    }
    SUBCASE("unknown issuer (--cacert names another CA)") {
      Pki other("another test CA");
      auto leaf = pki.leaf({.cn = "www.domain.com", .sans = {"DNS:www.domain.com"}});
      Server server(leaf.cert.get(), leaf.key.get(), {});
      auto ctx = context(with_ca(other.ca_file));
      Session client(*ctx, "www.domain.com", 443);
      client.handshake();
      exchange(client, server, 1000);
      REQUIRE(client.failure());
      CHECK(client.failure()->code == ExitCode::PeerFailedVerification);
      CHECK(client.failure()->message ==
            "SSL certificate problem: unknown issuer: CN=ustack test CA is not in --cacert " + other.ca_file);
    }
    SUBCASE("-k: the handshake completes and the problem is kept for the warning") {
      auto leaf = Pki::self_signed({.cn = "www.domain.com", .sans = {"DNS:www.domain.com"}});
      Server server(leaf.cert.get(), leaf.key.get(), {});
      auto ctx = context(with_ca(pki.ca_file, false));
      Session client(*ctx, "www.domain.com", 443);
      client.handshake();
      exchange(client, server, 1000);
      CHECK(client.established());
      CHECK(client.failure() == std::nullopt);
      CHECK(client.insecure_problem() == "SSL certificate problem: self-signed certificate (CN=www.domain.com)");
    }
  }

  TEST_CASE("EOF without close_notify after the handshake is a truncation (56), not a clean end") {
    Pki pki;
    auto leaf = pki.leaf({.cn = "www.domain.com", .sans = {"DNS:www.domain.com"}});
    Server server(leaf.cert.get(), leaf.key.get(), {});
    auto ctx = context(with_ca(pki.ca_file));
    Session client(*ctx, "www.domain.com", 443);
    client.handshake();
    exchange(client, server, 1000);
    REQUIRE(client.established());
    server.write("HTTP/1.1 200 OK\r\n\r\npart of a bo");
    exchange(client, server, 1000);
    CHECK(read_all(client) == "HTTP/1.1 200 OK\r\n\r\npart of a bo");
    client.receive_eof();
    std::array<std::byte, 10> buf;
    CHECK(client.read(buf).status == ReadStatus::Error);
    REQUIRE(client.failure());
    CHECK(client.failure()->code == ExitCode::RecvError);
    CHECK(client.failure()->message.find("without close_notify") != std::string::npos);
    CHECK(client.failure()->truncated);  // the HTTP framing decides between 18 and 56
  }

  TEST_CASE("a record cut in the middle by EOF is an error") {
    Pki pki;
    auto leaf = pki.leaf({.cn = "www.domain.com", .sans = {"DNS:www.domain.com"}});
    Server server(leaf.cert.get(), leaf.key.get(), {});
    auto ctx = context(with_ca(pki.ca_file));
    Session client(*ctx, "www.domain.com", 443);
    client.handshake();
    exchange(client, server, 1000);
    REQUIRE(client.established());
    server.write(std::string(5000, 'y'));
    auto record = server.take_output();
    client.receive(std::span<const std::byte>(record).first(record.size() / 2));
    std::array<std::byte, 10> buf;
    CHECK(client.read(buf).status == ReadStatus::WouldBlock);  // half a record: wait for more
    client.receive_eof();
    CHECK(client.read(buf).status == ReadStatus::Error);
    REQUIRE(client.failure());
    CHECK(client.failure()->code == ExitCode::RecvError);
    CHECK(client.failure()->truncated);
  }

  TEST_CASE("a corrupted record is a read error (56) but no truncation: the framing is not asked") {
    Pki pki;
    auto leaf = pki.leaf({.cn = "www.domain.com", .sans = {"DNS:www.domain.com"}});
    Server server(leaf.cert.get(), leaf.key.get(), {});
    auto ctx = context(with_ca(pki.ca_file));
    Session client(*ctx, "www.domain.com", 443);
    client.handshake();
    exchange(client, server, 1000);
    REQUIRE(client.established());
    server.write(std::string(100, 'z'));
    auto record = server.take_output();
    REQUIRE(record.size() > 20);
    record[record.size() - 3] ^= std::byte{0x40};  // in the AEAD tag: the record fails to decrypt
    client.receive(record);
    std::array<std::byte, 200> buf;
    CHECK(client.read(buf).status == ReadStatus::Error);
    REQUIRE(client.failure());
    CHECK(client.failure()->code == ExitCode::RecvError);
    CHECK_FALSE(client.failure()->truncated);
  }

  TEST_CASE("hostile servers during the handshake: garbage, EOF, an alert") {
    auto ctx = context({});
    SUBCASE("HTTP instead of a ServerHello") {
      Session client(*ctx, "www.domain.com", 443);
      client.handshake();
      client.receive(bytes("HTTP/1.1 400 Bad Request\r\n\r\n"));
      CHECK(client.handshake() == HandshakeStatus::Failed);
      REQUIRE(client.failure());
      CHECK(client.failure()->code == ExitCode::SslConnect);
      CHECK(client.failure()->message.find("TLS handshake failed: ") == 0);
      CHECK(!client.output().empty());  // the alert we send before closing
    }
    SUBCASE("EOF before the ServerHello") {
      Session client(*ctx, "www.domain.com", 443);
      client.handshake();
      client.receive_eof();
      CHECK(client.handshake() == HandshakeStatus::Failed);
      REQUIRE(client.failure());
      CHECK(client.failure()->code == ExitCode::SslConnect);
      CHECK(client.failure()->message ==
            "TLS handshake: the server closed the connection before the handshake was complete");
    }
    SUBCASE("a handshake_failure alert") {
      Session client(*ctx, "www.domain.com", 443);
      client.handshake();
      const unsigned char alert[] = {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28};
      client.receive(std::as_bytes(std::span(alert)));
      CHECK(client.handshake() == HandshakeStatus::Failed);
      REQUIRE(client.failure());
      CHECK(client.failure()->code == ExitCode::SslConnect);
      CHECK(client.failure()->message.find("handshake failure") != std::string::npos);
    }
  }

  TEST_CASE("the second connection resumes the session (TLS 1.3 ticket, TLS 1.2 ticket and session ID)") {
    Pki pki;
    auto leaf = pki.leaf({.cn = "www.domain.com", .sans = {"DNS:www.domain.com"}});
    struct Case {
      int version;
      bool tickets;
    };
    for (Case c : {Case{TLS1_3_VERSION, true}, Case{TLS1_2_VERSION, true}, Case{TLS1_2_VERSION, false}}) {
      CAPTURE(c.version);
      CAPTURE(c.tickets);
      Server server(leaf.cert.get(), leaf.key.get(), {.max_version = c.version, .tickets = c.tickets});
      auto ctx = context(with_ca(pki.ca_file));
      {
        Session first(*ctx, "www.domain.com", 443);
        first.handshake();
        exchange(first, server, 1000);
        REQUIRE(first.established());
        std::array<std::byte, 10> buf;
        (void)first.read(buf);  // TLS 1.3 tickets come after the handshake: read them
        CHECK(ctx->cached_sessions() >= 1);
        // A session ended without close_notify is not resumable (OpenSSL marks it bad), so both
        // sides close properly, as the pool does.
        first.close();
        server.receive(first.output());
        server.pump();
        server.close_notify();
      }
      server.new_connection();
      Session second(*ctx, "www.domain.com", 443);
      CHECK(second.offered_session());
      second.handshake();
      exchange(second, server, 1000);
      REQUIRE(second.established());
      CHECK(second.resumed());
      bool certificate_seen = false;
      for (const auto& m : second.messages()) certificate_seen |= (!m.outgoing && m.type == 11);
      CHECK_FALSE(certificate_seen);  // a resumed handshake has no Certificate message
      // Another host never gets this session.
      Session elsewhere(*ctx, "other.domain.com", 443);
      CHECK_FALSE(elsewhere.offered_session());
    }
  }

  TEST_CASE("--cacert with a missing file is exit 77 with what to do") {
    auto c = Context::create(with_ca("/nonexistent/ca.pem"));
    REQUIRE_FALSE(c.ok());
    CHECK(c.error().code == ExitCode::SslCaCertBadFile);
  }

  TEST_CASE("the key log gets one NSS line per secret") {
    Pki pki;
    auto leaf = pki.leaf({.cn = "www.domain.com", .sans = {"DNS:www.domain.com"}});
    Server server(leaf.cert.get(), leaf.key.get(), {});
    char path[] = "/tmp/ustack-test-keylog-XXXXXX";
    const int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    close(fd);
    {
      Config config = with_ca(pki.ca_file);
      config.keylog_file = std::string(path);
      auto ctx = context(config);
      Session client(*ctx, "www.domain.com", 443);
      client.handshake();
      exchange(client, server, 1000);
      REQUIRE(client.established());
      CHECK(ctx->keylog_lines() == 5);  // TLS 1.3: 2 handshake, 2 traffic, 1 exporter secret
    }
    std::FILE* f = std::fopen(path, "r");
    REQUIRE(f);
    std::string text(4096, '\0');
    text.resize(std::fread(text.data(), 1, text.size(), f));
    std::fclose(f);
    std::remove(path);
    CHECK(text.find("CLIENT_HANDSHAKE_TRAFFIC_SECRET ") != std::string::npos);
    CHECK(text.find("SERVER_HANDSHAKE_TRAFFIC_SECRET ") != std::string::npos);
    CHECK(text.find("CLIENT_TRAFFIC_SECRET_0 ") != std::string::npos);
  }
}
