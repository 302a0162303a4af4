// apps/common/tls_decrypt: the key schedule and record protection against RFC 8448's TLS 1.3
// trace (§3, "Simple 1-RTT Handshake": its secrets, keys, IVs and records), the TLS 1.2 PRF against
// its definition (RFC 5246 §5) written out with HMAC, whole sessions made by OpenSSL in memory
// (TLS 1.3 and 1.2, every suite we claim) read back with their key log, and hostile input: bad key
// log lines, cut and garbled records, a wrong key, an unsupported suite, a key update.
#include <doctest/doctest.h>

#include <openssl/hmac.h>
#include <openssl/ssl.h>

#include <cstring>
#include <random>
#include <string>

#include "apps/common/tls_decrypt.hpp"
#include "support/tls_session.hpp"

namespace tlsdec = appkit::tlsdec;
using tlsdec::Bytes;

namespace {

Bytes hex(std::string s) {
  std::string d;
  for (char c : s) {
    if (c != ' ' && c != '\n') d += c;
  }
  auto b = tlsdec::from_hex(d);
  REQUIRE(b);
  return *b;
}

Bytes range50() {
  Bytes b;
  for (std::uint8_t i = 0; i < 50; ++i) b.push_back(i);
  return b;
}

// RFC 8448 §3, as printed there.
const char* kServerHsSecret = "b6 7b 7d 69 0c c1 6c 4e 75 e5 42 13 cb 2d 37 b4 e9 c9 12 bc de d9 10 5d 42 be fd 59 d3 91 ad 38";
const char* kClientHsSecret = "b3 ed db 12 6e 06 7f 35 a7 80 b3 ab f4 5e 2d 8f 3b 1a 95 07 38 f5 2e 96 00 74 6a 0e 27 a5 5a 21";
const char* kClientApSecret = "9e 40 64 6c e7 9a 7f 9d c0 5a f8 88 9b ce 65 52 87 5a fa 0b 06 df 00 87 f7 92 eb b7 c1 75 04 a5";
const char* kServerApSecret = "a1 1a f9 f0 55 31 f8 56 ad 47 11 6b 45 a9 50 32 82 04 b4 f4 4b fb 6b 3a 4b 4f 1f 3f cb 63 16 43";
// {client} send handshake record (the client's Finished, under the client handshake keys).
const char* kClientFinishedRecord =
    "17 03 03 00 35 75 ec 4d c2 38 cc e6 0b 29 80 44 a7 1e 21 9c 56 cc 77 b0 51 7f e9 b9 3c 7a 4b fc"
    "44 d8 7f 38 f8 03 38 ac 98 fc 46 de b3 84 bd 1c ae ac ab 68 67 d7 26 c4 05 46";
// {client} / {server} send application_data record: 50 bytes, 00 01 02 ... 31.
const char* kClientAppRecord =
    "17 03 03 00 43 a2 3f 70 54 b6 2c 94 d0 af fa fe 82 28 ba 55 cb ef ac ea 42 f9 14 aa 66 bc ab 3f"
    "2b 98 19 a8 a5 b4 6b 39 5b d5 4a 9a 20 44 1e 2b 62 97 4e 1f 5a 62 92 a2 97 70 14 bd 1e 3d ea e6"
    "3a ee bb 21 69 49 15 e4";
const char* kServerAppRecord =
    "17 03 03 00 43 2e 93 7e 11 ef 4a c7 40 e5 38 ad 36 00 5f c4 a4 69 32 fc 32 25 d0 5f 82 aa 1b 36"
    "e3 0e fa f9 7d 90 e6 df fc 60 2d cb 50 1a 59 a8 fc c4 9c 4b f2 e5 f0 a2 1c 00 47 c2 ab f3 32 54"
    "0d d0 32 e1 67 c2 95 5d";

std::span<const std::uint8_t> head(const Bytes& r) { return std::span<const std::uint8_t>(r).first(5); }
std::span<const std::uint8_t> body(const Bytes& r) { return std::span<const std::uint8_t>(r).subspan(5); }

// A ClientHello / ServerHello record with just the fields the decryptor reads (RFC 8446 §4.1.2,
// §4.1.3); `version` 0x0304 adds supported_versions.
Bytes hello_record(bool client, const Bytes& random, std::uint16_t cipher, std::uint16_t version) {
  Bytes m = {0x03, 0x03};
  m.insert(m.end(), random.begin(), random.end());
  m.push_back(0);  // session id
  if (client) {
    m.insert(m.end(), {0x00, 0x02, static_cast<std::uint8_t>(cipher >> 8), static_cast<std::uint8_t>(cipher), 0x01, 0x00, 0x00, 0x00});
  } else {
    m.insert(m.end(), {static_cast<std::uint8_t>(cipher >> 8), static_cast<std::uint8_t>(cipher), 0x00});
    if (version == 0x0304) {
      m.insert(m.end(), {0x00, 0x06, 0x00, 0x2b, 0x00, 0x02, 0x03, 0x04});
    } else {
      m.insert(m.end(), {0x00, 0x00});
    }
  }
  Bytes hs = {static_cast<std::uint8_t>(client ? 1 : 2), 0, static_cast<std::uint8_t>(m.size() >> 8), static_cast<std::uint8_t>(m.size())};
  hs.insert(hs.end(), m.begin(), m.end());
  Bytes rec = {22, 3, 1, static_cast<std::uint8_t>(hs.size() >> 8), static_cast<std::uint8_t>(hs.size())};
  rec.insert(rec.end(), hs.begin(), hs.end());
  return rec;
}

std::string joined(const std::vector<tlsdec::Decryptor::Output>& outs, bool from_client) {
  std::string s;
  for (const auto& o : outs) {
    if (o.from_client == from_client) s.append(o.data.begin(), o.data.end());
  }
  return s;
}

// RFC 5246 §5 written out: P_hash(secret, seed) = HMAC(secret, A(1) + seed) + HMAC(secret, A(2) + seed) + ...,
// A(0) = seed, A(i) = HMAC(secret, A(i-1)).
Bytes p_hash(const EVP_MD* md, const Bytes& secret, const Bytes& seed, std::size_t n) {
  auto hmac = [&](const Bytes& data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    HMAC(md, secret.data(), static_cast<int>(secret.size()), data.data(), data.size(), out, &len);
    return Bytes(out, out + len);
  };
  Bytes a = seed, result;
  while (result.size() < n) {
    a = hmac(a);
    Bytes in = a;
    in.insert(in.end(), seed.begin(), seed.end());
    const Bytes block = hmac(in);
    result.insert(result.end(), block.begin(), block.end());
  }
  result.resize(n);
  return result;
}

// ------------------------------------------------------------------------------------------------
// A real session: an OpenSSL client (key log on) against test::tls::Server, every byte of each
// direction kept as the capture would hold it (tests/support/tls_session.hpp).

using Session = test::tls::RecordedSession;

// `tls13_suites` / `tls12_ciphers`: what the client offers (the server takes one of them).
Session run_session(int version, const char* tls13_suites, const char* tls12_ciphers, bool key_update = false) {
  Session s = test::tls::record_session({.version = version, .tls13_suites = tls13_suites, .tls12_ciphers = tls12_ciphers,
                                         .key_update = key_update});
  REQUIRE(s.answered);
  return s;
}

// Feeds both directions as a capture would deliver them: the client's first flight, then the
// server's, then the rest, in `chunk`-byte pieces.
std::vector<tlsdec::Decryptor::Output> replay(tlsdec::Decryptor& d, const Session& s, std::size_t chunk) {
  std::vector<tlsdec::Decryptor::Output> all;
  std::size_t up = 0, down = 0;
  while (up < s.to_server.size() || down < s.to_client.size()) {
    if (up < s.to_server.size()) {
      const std::size_t n = std::min(chunk, s.to_server.size() - up);
      for (auto& o : d.feed(true, std::span(s.to_server).subspan(up, n))) all.push_back(std::move(o));
      up += n;
    }
    if (down < s.to_client.size()) {
      const std::size_t n = std::min(chunk, s.to_client.size() - down);
      for (auto& o : d.feed(false, std::span(s.to_client).subspan(down, n))) all.push_back(std::move(o));
      down += n;
    }
  }
  return all;
}

}  // namespace

TEST_CASE("tls decrypt: RFC 8448 §3 traffic keys and IVs from the traffic secrets (HKDF-Expand-Label)") {
  const auto* suite = tlsdec::find_suite(0x1301);
  REQUIRE(suite);
  const auto server_hs = tlsdec::tls13_keys(*suite, hex(kServerHsSecret));
  CHECK(server_hs.key == hex("3f ce 51 60 09 c2 17 27 d0 f2 e4 e8 6e e4 03 bc"));
  CHECK(server_hs.iv == hex("5d 31 3e b2 67 12 76 ee 13 00 0b 30"));
  const auto client_hs = tlsdec::tls13_keys(*suite, hex(kClientHsSecret));
  CHECK(client_hs.key == hex("db fa a6 93 d1 76 2c 5b 66 6a f5 d9 50 25 8d 01"));
  CHECK(client_hs.iv == hex("5b d3 c7 1b 83 6e 0b 76 bb 73 26 5f"));
  const auto client_ap = tlsdec::tls13_keys(*suite, hex(kClientApSecret));
  CHECK(client_ap.key == hex("17 42 2d da 59 6e d5 d9 ac d8 90 e3 c6 3f 50 51"));
  CHECK(client_ap.iv == hex("5b 78 92 3d ee 08 57 90 33 e5 23 d9"));
  const auto server_ap = tlsdec::tls13_keys(*suite, hex(kServerApSecret));
  CHECK(server_ap.key == hex("9f 02 28 3b 6c 9c 07 ef c2 6b b9 f2 ac 92 e3 56"));
  CHECK(server_ap.iv == hex("cf 78 2b 88 dd 83 54 9a ad f1 e9 84"));
  // The Finished key of the same trace (§3: "derive secret for handshake tls13 finished").
  CHECK(tlsdec::hkdf_expand_label(false, hex(kServerHsSecret), "finished", {}, 32) ==
        hex("00 8d 3b 66 f8 16 ea 55 9f 96 b5 37 e8 85 c3 1f c0 68 bf 49 2c 65 2f 01 f2 88 a1 d8 cd c1 9f c8"));
}

TEST_CASE("tls decrypt: RFC 8448 §3 records open; one flipped bit does not") {
  const auto* suite = tlsdec::find_suite(0x1301);
  auto keys = tlsdec::tls13_keys(*suite, hex(kClientApSecret));
  const Bytes rec = hex(kClientAppRecord);
  const auto o = tlsdec::open_tls13(keys, head(rec), body(rec));
  REQUIRE(o);
  CHECK(o->type == 23);
  CHECK(o->data == range50());
  CHECK(keys.seq == 1);

  // The server's data follows its NewSessionTicket, so it is its second record under these keys.
  auto server = tlsdec::tls13_keys(*suite, hex(kServerApSecret));
  server.seq = 1;
  const Bytes srec = hex(kServerAppRecord);
  const auto so = tlsdec::open_tls13(server, head(srec), body(srec));
  REQUIRE(so);
  CHECK(so->data == range50());

  auto hs = tlsdec::tls13_keys(*suite, hex(kClientHsSecret));
  const Bytes fin = hex(kClientFinishedRecord);
  const auto fo = tlsdec::open_tls13(hs, head(fin), body(fin));
  REQUIRE(fo);
  CHECK(fo->type == 22);
  REQUIRE(fo->data.size() == 36);
  CHECK(fo->data[0] == 20);  // Finished, 32 bytes of verify_data
  CHECK(fo->data[3] == 32);

  for (std::size_t i : {std::size_t{0}, std::size_t{4}, std::size_t{5}, rec.size() - 1}) {
    Bytes bad = rec;
    bad[i] ^= 0x01;
    auto k = tlsdec::tls13_keys(*suite, hex(kClientApSecret));
    CHECK_FALSE(tlsdec::open_tls13(k, head(bad), body(bad)));  // the header is the AAD: it counts too
    CHECK(k.seq == 0);
  }
  // The same record under the wrong sequence number (the nonce) does not open either.
  auto later = tlsdec::tls13_keys(*suite, hex(kClientApSecret));
  later.seq = 1;
  CHECK_FALSE(tlsdec::open_tls13(later, head(rec), body(rec)));
}

TEST_CASE("tls decrypt: the RFC 8448 records through the decryptor, keys from a key log") {
  const Bytes cr = hex("cb 34 ec b1 e7 81 63 ba 1d a0 5c 45 8d 6d 86 66 60 e7 9b 5c 8d 82 1a 5c 77 ac 7b 3b 29 c7 d6 76");
  const Bytes sr(32, 0x42);
  const std::string r = tlsdec::to_hex(cr);
  auto line = [&](const char* label, const char* secret) { return std::string(label) + " " + r + " " + tlsdec::to_hex(hex(secret)) + "\n"; };
  const auto log = tlsdec::parse_keylog("# a comment\n" + line("CLIENT_HANDSHAKE_TRAFFIC_SECRET", kClientHsSecret) +
                                        line("SERVER_HANDSHAKE_TRAFFIC_SECRET", kServerHsSecret) +
                                        line("CLIENT_TRAFFIC_SECRET_0", kClientApSecret) + line("SERVER_TRAFFIC_SECRET_0", kServerApSecret) +
                                        "EXPORTER_SECRET " + r + " " + tlsdec::to_hex(hex(kServerApSecret)) + "\n");
  CHECK(log.used == 4);
  CHECK(log.other == 1);
  CHECK(log.malformed == 0);

  tlsdec::Decryptor d(log);
  CHECK(d.feed(true, hello_record(true, cr, 0x1301, 0x0304)).empty());
  // The client's Finished and its data arrive before the ServerHello is fed: they wait for it.
  Bytes client = {20, 3, 3, 0, 1, 1};  // a middlebox-compatibility CCS (RFC 8446 Appendix D.4)
  const Bytes fin = hex(kClientFinishedRecord), app = hex(kClientAppRecord);
  client.insert(client.end(), fin.begin(), fin.end());
  client.insert(client.end(), app.begin(), app.end());
  CHECK(d.feed(true, client).empty());
  // The server: ServerHello, then its Finished sealed under the server handshake keys (RFC 8448
  // prints the whole flight as one record; ours holds the Finished only), then its data.
  const auto* suite = tlsdec::find_suite(0x1301);
  auto shs = tlsdec::tls13_keys(*suite, hex(kServerHsSecret));
  Bytes finished = {20, 0, 0, 32};
  finished.resize(36, 0xab);
  Bytes server = hello_record(false, sr, 0x1301, 0x0304);
  const Bytes sfin = tlsdec::seal_tls13(shs, 22, finished), sapp = hex(kServerAppRecord);
  server.insert(server.end(), sfin.begin(), sfin.end());
  // A NewSessionTicket (ours, sealed under the server's application keys) takes sequence number 0,
  // as the RFC's does, so its data record is number 1.
  auto sap = tlsdec::tls13_keys(*suite, hex(kServerApSecret));
  const Bytes ticket = tlsdec::seal_tls13(sap, 22, Bytes{4, 0, 0, 1, 0});
  server.insert(server.end(), ticket.begin(), ticket.end());
  server.insert(server.end(), sapp.begin(), sapp.end());
  const auto outs = d.feed(false, server);
  CHECK(d.problem() == "");
  CHECK(d.version() == "TLS 1.3");
  CHECK(d.cipher() == 0x1301);
  const Bytes want = range50();
  CHECK(joined(outs, true) == std::string(want.begin(), want.end()));
  CHECK(joined(outs, false) == std::string(want.begin(), want.end()));
  CHECK(d.records_opened(true) == 2);
  CHECK(d.records_opened(false) == 3);
}

TEST_CASE("tls decrypt: the TLS 1.2 PRF is RFC 5246 §5's P_SHA256 / P_SHA384") {
  const Bytes secret = hex("9b be 43 6b a9 40 f0 17 b1 76 52 84 9a 71 db 35");
  const Bytes seed = hex("a0 ba 9f 93 6c da 31 18 27 a6 f7 96 ff d5 19 8c");
  Bytes labelled(std::string_view("test label").begin(), std::string_view("test label").end());
  labelled.insert(labelled.end(), seed.begin(), seed.end());
  CHECK(tlsdec::tls12_prf(false, secret, "test label", seed, 100) == p_hash(EVP_sha256(), secret, labelled, 100));
  CHECK(tlsdec::tls12_prf(true, secret, "test label", seed, 148) == p_hash(EVP_sha384(), secret, labelled, 148));
  CHECK(tlsdec::tls12_prf(false, secret, "test label", seed, 100) != tlsdec::tls12_prf(true, secret, "test label", seed, 100));
}

TEST_CASE("tls decrypt: TLS 1.2 records (RFC 5288 GCM, RFC 7905 ChaCha20) seal and open, the sequence number in the AAD") {
  for (const std::uint16_t id : {std::uint16_t{0xC02F}, std::uint16_t{0xC030}, std::uint16_t{0xCCA8}}) {
    const auto* suite = tlsdec::find_suite(id);
    REQUIRE(suite);
    tlsdec::RecordKeys c, s, c2, s2;
    const Bytes master(48, 7), cr(32, 1), sr(32, 2);
    tlsdec::tls12_keys(*suite, master, cr, sr, c, s);
    tlsdec::tls12_keys(*suite, master, cr, sr, c2, s2);
    CHECK(c.key.size() == tlsdec::key_length(suite->aead));
    CHECK(c.iv.size() == (suite->aead == tlsdec::Aead::ChaCha20Poly1305 ? 12u : 4u));
    CHECK(c.key != s.key);
    const Bytes msg(std::string_view("GET / HTTP/1.1\r\n").begin(), std::string_view("GET / HTTP/1.1\r\n").end());
    const Bytes r1 = tlsdec::seal_tls12(c, 23, msg), r2 = tlsdec::seal_tls12(c, 23, msg);
    CHECK(r1 != r2);
    auto o1 = tlsdec::open_tls12(c2, head(r1), body(r1));
    REQUIRE(o1);
    CHECK(o1->data == msg);
    CHECK_FALSE(tlsdec::open_tls12(s2, head(r2), body(r2)));  // the server's keys do not open the client's records
    auto o2 = tlsdec::open_tls12(c2, head(r2), body(r2));
    REQUIRE(o2);
    CHECK(o2->data == msg);
    CHECK_FALSE(tlsdec::open_tls12(c2, head(r1), body(r1)));  // replayed at sequence number 2
  }
}

TEST_CASE("tls decrypt: OpenSSL's own sessions read back with their key log, every suite we claim") {
  struct Case {
    int version;
    const char* suites13;
    const char* ciphers12;
    std::uint16_t id;
  };
  const Case cases[] = {
      {TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256", nullptr, 0x1301},
      {TLS1_3_VERSION, "TLS_AES_256_GCM_SHA384", nullptr, 0x1302},
      {TLS1_3_VERSION, "TLS_CHACHA20_POLY1305_SHA256", nullptr, 0x1303},
      {TLS1_2_VERSION, nullptr, "ECDHE-ECDSA-AES128-GCM-SHA256", 0xC02B},
      {TLS1_2_VERSION, nullptr, "ECDHE-ECDSA-AES256-GCM-SHA384", 0xC02C},
      {TLS1_2_VERSION, nullptr, "ECDHE-ECDSA-CHACHA20-POLY1305", 0xCCA9},
  };
  for (const auto& c : cases) {
    CAPTURE(c.id);
    const Session s = run_session(c.version, c.suites13, c.ciphers12);
    const auto log = tlsdec::parse_keylog(s.keylog);
    CHECK(log.malformed == 0);
    for (const std::size_t chunk : {std::size_t{1}, std::size_t{7}, std::size_t{1460}, std::size_t{1} << 20}) {
      CAPTURE(chunk);
      tlsdec::Decryptor d(log);
      const auto outs = replay(d, s, chunk);
      CHECK(d.problem() == "");
      CHECK(d.version() == (c.version == TLS1_3_VERSION ? "TLS 1.3" : "TLS 1.2"));
      CHECK(d.cipher() == c.id);
      CHECK(joined(outs, true) == s.request);
      CHECK(joined(outs, false) == s.response);
    }
    // Without the key log: one line, nothing decrypted.
    const auto empty = tlsdec::parse_keylog("");
    tlsdec::Decryptor none(empty);
    CHECK(replay(none, s, 1000).empty());
    CHECK(none.problem().find("the key log has no secrets for this connection (client random ") == 0);
    // Another session's key log: the tag does not match.
    const Session other = run_session(c.version, c.suites13, c.ciphers12);
    auto mixed = tlsdec::parse_keylog(other.keylog);
    auto own = tlsdec::parse_keylog(s.keylog);
    REQUIRE(own.by_client_random.size() == 1);
    REQUIRE(mixed.by_client_random.size() == 1);
    mixed.by_client_random = {{own.by_client_random.begin()->first, mixed.by_client_random.begin()->second}};
    tlsdec::Decryptor wrong(mixed);
    CHECK(replay(wrong, s, 1000).empty());
    CHECK(wrong.problem().find("does not decrypt: the authentication tag does not match") != std::string::npos);
  }
}

TEST_CASE("tls decrypt: an unsupported suite is named; a key update stops decryption and says so") {
  const Session cbc = run_session(TLS1_2_VERSION, nullptr, "ECDHE-ECDSA-AES128-SHA");
  const auto cbc_log = tlsdec::parse_keylog(cbc.keylog);
  tlsdec::Decryptor d(cbc_log);
  CHECK(replay(d, cbc, 1000).empty());
  CHECK(d.problem() == "cipher suite 0xc009 (TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA) is not supported");

  const Session ku = run_session(TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256", nullptr, true);
  const auto ku_log = tlsdec::parse_keylog(ku.keylog);
  tlsdec::Decryptor k(ku_log);
  const auto outs = replay(k, ku, 1 << 20);
  CHECK(k.key_update_seen());
  CHECK(k.problem() == "the client updated its keys (KeyUpdate, RFC 8446 §4.6.3): the records after it are not decrypted");
  CHECK(joined(outs, true).empty());
}

TEST_CASE("tls decrypt: key log lines that are wrong are counted and skipped") {
  const std::string r(64, 'a'), m(96, 'b'), s32(64, 'c');
  const auto log = tlsdec::parse_keylog(
      "CLIENT_RANDOM " + r + " " + m + "\n" +           // good
      "CLIENT_RANDOM " + r + "\n" +                     // two fields
      "CLIENT_RANDOM " + r + " " + m + " extra\n" +     // four
      "CLIENT_RANDOM " + r.substr(2) + " " + m + "\n" + // a 31-byte random
      "CLIENT_RANDOM " + r + " " + m.substr(1) + "\n" + // odd hex
      "CLIENT_RANDOM " + r + " " + s32 + "\n" +         // a master secret of 32 bytes
      "CLIENT_RANDOM zz" + r.substr(2) + " " + m + "\n" +
      "client_random " + r + " " + m + "\n" +           // not a label
      "SERVER_TRAFFIC_SECRET_0 " + r + " " + s32 + "\r\n" +  // good, CRLF
      "\n   \n# comment\n" + std::string(5000, 'x') + "\n" + std::string("\0\xff\x01", 3));
  CHECK(log.used == 2);
  CHECK(log.malformed == 9);
  CHECK(log.lines == 11);
  REQUIRE(log.by_client_random.size() == 1);
  CHECK(log.by_client_random.begin()->second.master == Bytes(48, 0xbb));
  CHECK(log.by_client_random.begin()->second.server_traffic0 == Bytes(32, 0xcc));
  const auto missing = tlsdec::read_keylog("/nonexistent/keys.log");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error() == "/nonexistent/keys.log: cannot read the key log");
}

TEST_CASE("tls decrypt: hostile streams (cut, garbled, random, oversized) are one problem line, never a crash") {
  const Session s = run_session(TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256", nullptr);
  const auto log = tlsdec::parse_keylog(s.keylog);
  // Cut anywhere: never a problem, only less data.
  for (std::size_t cut = 0; cut < s.to_client.size(); cut += 37) {
    tlsdec::Decryptor d(log);
    d.feed(true, s.to_server);
    d.feed(false, std::span(s.to_client).first(cut));
    CHECK(d.problem() == "");
  }
  // Every byte of the server's side flipped in turn (a sample): a problem or a clean read, no crash.
  std::mt19937 rng(8448);
  for (int round = 0; round < 400; ++round) {
    Session bad = s;
    auto& v = (round % 2) ? bad.to_client : bad.to_server;
    const std::size_t n = 1 + rng() % 4;
    for (std::size_t k = 0; k < n; ++k) v[rng() % v.size()] ^= static_cast<std::uint8_t>(1 + rng() % 255);
    tlsdec::Decryptor d(log);
    replay(d, bad, 1 + rng() % 2000);
    CHECK(d.problem().find('\n') == std::string::npos);
  }
  for (int round = 0; round < 200; ++round) {
    Bytes junk(rng() % 3000);
    for (auto& b : junk) b = static_cast<std::uint8_t>(rng());
    if (round % 3 == 0 && junk.size() > 5) junk[0] = 22, junk[1] = 3;
    tlsdec::Decryptor d(log);
    d.feed(round % 2 == 0, junk);
    d.feed(round % 2 != 0, junk);
  }
  tlsdec::Decryptor big(log);
  big.feed(false, Bytes{22, 3, 3, 0xff, 0xff});
  CHECK(big.problem() == "the server sent a record of 65535 bytes, longer than TLS allows");
  tlsdec::Decryptor notls(log);
  notls.feed(true, Bytes{'G', 'E', 'T', ' ', '/'});
  CHECK(notls.problem() == "the client's bytes stop being TLS records (content type 71)");
}
