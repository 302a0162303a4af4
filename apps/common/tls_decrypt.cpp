// TLS records opened with a key log: see tls_decrypt.hpp.
#include "apps/common/tls_decrypt.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <memory>

namespace appkit::tlsdec {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::uint16_t be16(std::span<const std::uint8_t> b, std::size_t at) {
  return static_cast<std::uint16_t>((b[at] << 8) | b[at + 1]);
}

constexpr std::size_t kTagLen = 16;
// RFC 8446 §5.2 and RFC 5246 §6.2.3: a protected record holds at most 2^14 + 256 (TLS 1.3) or
// 2^14 + 2048 (TLS 1.2) bytes; the larger bound is taken for both before the version is known.
constexpr std::size_t kMaxFragment = 16384 + 2048;
// The client's bytes held back while the ServerHello is awaited.
constexpr std::size_t kMaxHeld = 1u << 20;

// RFC 8446 §4.1.3: a ServerHello with this random is a HelloRetryRequest (SHA-256 of
// "HelloRetryRequest").
constexpr std::array<std::uint8_t, 32> kHelloRetryRandom = {
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
    0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C};

// The suites we decrypt: RFC 8446 Appendix B.4; RFC 5288 §3 and RFC 5289 §3 (AES-GCM in TLS 1.2);
// RFC 7905 §2 (ChaCha20-Poly1305).
constexpr Suite kSuites[] = {
    {0x1301, "TLS_AES_128_GCM_SHA256", true, Aead::Aes128Gcm, false},
    {0x1302, "TLS_AES_256_GCM_SHA384", true, Aead::Aes256Gcm, true},
    {0x1303, "TLS_CHACHA20_POLY1305_SHA256", true, Aead::ChaCha20Poly1305, false},
    {0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", false, Aead::Aes128Gcm, false},
    {0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", false, Aead::Aes256Gcm, true},
    {0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", false, Aead::Aes128Gcm, false},
    {0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", false, Aead::Aes256Gcm, true},
    {0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256", false, Aead::Aes128Gcm, false},
    {0x009D, "TLS_RSA_WITH_AES_256_GCM_SHA384", false, Aead::Aes256Gcm, true},
    {0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", false, Aead::Aes128Gcm, false},
    {0x009F, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", false, Aead::Aes256Gcm, true},
    {0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", false, Aead::ChaCha20Poly1305, false},
    {0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", false, Aead::ChaCha20Poly1305, false},
    {0xCCAA, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", false, Aead::ChaCha20Poly1305, false},
};

// Names of common suites we do not decrypt, so the narration can say which one it was.
struct OtherSuite {
  std::uint16_t id;
  const char* name;
};
constexpr OtherSuite kOtherSuites[] = {
    {0x1304, "TLS_AES_128_CCM_SHA256"},
    {0x1305, "TLS_AES_128_CCM_8_SHA256"},
    {0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA"},
    {0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA"},
    {0x003C, "TLS_RSA_WITH_AES_128_CBC_SHA256"},
    {0xC009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"},
    {0xC00A, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"},
    {0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"},
    {0xC014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"},
    {0xC027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"},
};

const EVP_CIPHER* cipher_of(Aead a) {
  switch (a) {
    case Aead::Aes128Gcm: return EVP_aes_128_gcm();
    case Aead::Aes256Gcm: return EVP_aes_256_gcm();
    case Aead::ChaCha20Poly1305: return EVP_chacha20_poly1305();
  }
  return EVP_aes_128_gcm();
}

struct KdfFree {
  void operator()(EVP_KDF* k) const { EVP_KDF_free(k); }
  void operator()(EVP_KDF_CTX* c) const { EVP_KDF_CTX_free(c); }
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};

// Runs OpenSSL's KDF `name` with `params`; an empty result if OpenSSL refuses (never for the
// lengths used here).
Bytes derive(const char* name, OSSL_PARAM* params, std::size_t length) {
  std::unique_ptr<EVP_KDF, KdfFree> kdf(EVP_KDF_fetch(nullptr, name, nullptr));
  if (!kdf) return {};
  std::unique_ptr<EVP_KDF_CTX, KdfFree> ctx(EVP_KDF_CTX_new(kdf.get()));
  if (!ctx) return {};
  Bytes out(length);
  if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) <= 0) return {};
  return out;
}

// The 12-byte per-record nonce of RFC 8446 §5.3 (and RFC 7905 §2): the sequence number,
// big-endian and padded on the left to the IV's length, XORed with the IV.
Bytes xor_nonce(const Bytes& iv, std::uint64_t seq) {
  Bytes n = iv;
  for (std::size_t i = 0; i < 8 && i < n.size(); ++i) n[n.size() - 1 - i] ^= static_cast<std::uint8_t>(seq >> (8 * i));
  return n;
}

// RFC 5246 §6.2.3.3 / RFC 5288 §3: additional_data = seq_num + type + version + length (of the
// plaintext).
Bytes tls12_aad(std::uint64_t seq, std::uint8_t type, std::uint16_t version, std::size_t length) {
  Bytes a;
  for (int i = 7; i >= 0; --i) a.push_back(static_cast<std::uint8_t>(seq >> (8 * i)));
  a.push_back(type);
  a.push_back(static_cast<std::uint8_t>(version >> 8));
  a.push_back(static_cast<std::uint8_t>(version));
  a.push_back(static_cast<std::uint8_t>(length >> 8));
  a.push_back(static_cast<std::uint8_t>(length));
  return a;
}

const char* side_name(int d) { return d == 0 ? "the client" : "the server"; }

}  // namespace

std::optional<Bytes> from_hex(std::string_view hex) {
  if (hex.size() % 2) return std::nullopt;
  Bytes out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int h = hex_value(hex[i]), l = hex_value(hex[i + 1]);
    if (h < 0 || l < 0) return std::nullopt;
    out.push_back(static_cast<std::uint8_t>(h * 16 + l));
  }
  return out;
}

std::string to_hex(std::span<const std::uint8_t> bytes) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (const auto b : bytes) {
    s += d[b >> 4];
    s += d[b & 15];
  }
  return s;
}

KeyLog parse_keylog(std::string_view text) {
  KeyLog log;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    // Fields are separated by single spaces (draft-ietf-tls-keylogfile §3); tabs and runs of
    // spaces are taken too. Lines starting with '#' are comments.
    std::vector<std::string_view> fields;
    std::size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
      const std::size_t b = i;
      while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
      if (i > b) fields.push_back(line.substr(b, i - b));
    }
    if (fields.empty() || fields.front().front() == '#') continue;
    ++log.lines;
    if (fields.size() != 3) {
      ++log.malformed;
      continue;
    }
    const auto random = from_hex(fields[1]);
    const auto secret = from_hex(fields[2]);
    // A secret is a hash's output (32 or 48 bytes) or, for CLIENT_RANDOM, the 48-byte master secret.
    if (!random || random->size() != 32 || !secret || secret->empty() || secret->size() > 64) {
      ++log.malformed;
      continue;
    }
    const std::string_view label = fields[0];
    Bytes* slot = nullptr;
    auto& s = log.by_client_random[*random];
    if (label == "CLIENT_RANDOM") {
      if (secret->size() != 48) {
        ++log.malformed;
        continue;
      }
      slot = &s.master;
    } else if (label == "CLIENT_HANDSHAKE_TRAFFIC_SECRET") {
      slot = &s.client_handshake;
    } else if (label == "SERVER_HANDSHAKE_TRAFFIC_SECRET") {
      slot = &s.server_handshake;
    } else if (label == "CLIENT_TRAFFIC_SECRET_0") {
      slot = &s.client_traffic0;
    } else if (label == "SERVER_TRAFFIC_SECRET_0") {
      slot = &s.server_traffic0;
    }
    if (!slot) {
      bool upper = true;
      for (const char c : label) upper = upper && ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_');
      ++(upper ? log.other : log.malformed);
      continue;
    }
    *slot = *secret;
    ++log.used;
  }
  // Entries made for lines that were then skipped hold nothing: drop them.
  for (auto it = log.by_client_random.begin(); it != log.by_client_random.end();) {
    const auto& s = it->second;
    if (s.master.empty() && s.client_handshake.empty() && s.server_handshake.empty() && s.client_traffic0.empty() &&
        s.server_traffic0.empty()) {
      it = log.by_client_random.erase(it);
    } else {
      ++it;
    }
  }
  return log;
}

stack::Result<KeyLog, std::string> read_keylog(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return stack::Err{path + ": cannot read the key log"};
  // A key log holds a few lines per connection; 64 MiB is far more than any capture needs.
  constexpr std::size_t kMax = 64u << 20;
  std::string text;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMax) return stack::Err{path + ": the key log is larger than 64 MiB"};
  }
  return parse_keylog(text);
}

const Suite* find_suite(std::uint16_t id) {
  for (const auto& s : kSuites) {
    if (s.id == id) return &s;
  }
  return nullptr;
}

std::string suite_name(std::uint16_t id) {
  if (const auto* s = find_suite(id)) return s->name;
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%04x", id);
  for (const auto& o : kOtherSuites) {
    if (o.id == id) return std::string(buf) + " (" + o.name + ")";
  }
  return buf;
}

std::size_t key_length(Aead a) { return a == Aead::Aes128Gcm ? 16 : 32; }

Bytes hkdf_expand_label(bool sha384, std::span<const std::uint8_t> secret, std::string_view label,
                        std::span<const std::uint8_t> context, std::size_t length) {
  // struct { uint16 length; opaque label<7..255> = "tls13 " + Label; opaque context<0..255>; }
  Bytes info;
  info.push_back(static_cast<std::uint8_t>(length >> 8));
  info.push_back(static_cast<std::uint8_t>(length));
  const std::string full = "tls13 " + std::string(label);
  info.push_back(static_cast<std::uint8_t>(full.size()));
  info.insert(info.end(), full.begin(), full.end());
  info.push_back(static_cast<std::uint8_t>(context.size()));
  info.insert(info.end(), context.begin(), context.end());
  int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
  char digest[8];
  std::snprintf(digest, sizeof digest, "%s", sha384 ? "SHA384" : "SHA256");
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<std::uint8_t*>(secret.data()), secret.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info.data(), info.size()),
      OSSL_PARAM_construct_end(),
  };
  return derive("HKDF", params, length);
}

Bytes tls12_prf(bool sha384, std::span<const std::uint8_t> secret, std::string_view label, std::span<const std::uint8_t> seed,
                std::size_t length) {
  Bytes full(label.begin(), label.end());
  full.insert(full.end(), seed.begin(), seed.end());
  char digest[8];
  std::snprintf(digest, sizeof digest, "%s", sha384 ? "SHA384" : "SHA256");
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, const_cast<std::uint8_t*>(secret.data()), secret.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, full.data(), full.size()),
      OSSL_PARAM_construct_end(),
  };
  return derive("TLS1-PRF", params, length);
}

std::optional<Bytes> aead_open(Aead a, std::span<const std::uint8_t> key, std::span<const std::uint8_t> nonce,
                               std::span<const std::uint8_t> aad, std::span<const std::uint8_t> sealed) {
  if (sealed.size() < kTagLen || key.size() != key_length(a) || nonce.size() != 12) return std::nullopt;
  std::unique_ptr<EVP_CIPHER_CTX, KdfFree> ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return std::nullopt;
  const std::size_t n = sealed.size() - kTagLen;
  Bytes out(n + 16);
  int len = 0, fin = 0;
  Bytes tag(sealed.end() - kTagLen, sealed.end());
  if (EVP_DecryptInit_ex(ctx.get(), cipher_of(a), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_IVLEN, 12, nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key.data(), nonce.data()) != 1 ||
      (!aad.empty() && EVP_DecryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1) ||
      (n > 0 && EVP_DecryptUpdate(ctx.get(), out.data(), &len, sealed.data(), static_cast<int>(n)) != 1) ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_TAG, static_cast<int>(kTagLen), tag.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), out.data() + (n > 0 ? len : 0), &fin) != 1) {
    return std::nullopt;
  }
  out.resize(n);
  return out;
}

Bytes aead_seal(Aead a, std::span<const std::uint8_t> key, std::span<const std::uint8_t> nonce, std::span<const std::uint8_t> aad,
                std::span<const std::uint8_t> plain) {
  std::unique_ptr<EVP_CIPHER_CTX, KdfFree> ctx(EVP_CIPHER_CTX_new());
  Bytes out(plain.size() + 16 + kTagLen);
  int len = 0, fin = 0;
  if (!ctx || key.size() != key_length(a) || nonce.size() != 12 ||
      EVP_EncryptInit_ex(ctx.get(), cipher_of(a), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_IVLEN, 12, nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key.data(), nonce.data()) != 1 ||
      (!aad.empty() && EVP_EncryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1)) {
    return {};
  }
  len = 0;
  if (!plain.empty() && EVP_EncryptUpdate(ctx.get(), out.data(), &len, plain.data(), static_cast<int>(plain.size())) != 1) return {};
  if (EVP_EncryptFinal_ex(ctx.get(), out.data() + len, &fin) != 1) return {};
  out.resize(plain.size());
  Bytes tag(kTagLen);
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_GET_TAG, static_cast<int>(kTagLen), tag.data()) != 1) return {};
  out.insert(out.end(), tag.begin(), tag.end());
  return out;
}

RecordKeys tls13_keys(const Suite& s, std::span<const std::uint8_t> traffic_secret) {
  RecordKeys k;
  k.suite = &s;
  k.key = hkdf_expand_label(s.sha384, traffic_secret, "key", {}, key_length(s.aead));
  k.iv = hkdf_expand_label(s.sha384, traffic_secret, "iv", {}, 12);
  return k;
}

void tls12_keys(const Suite& s, std::span<const std::uint8_t> master, std::span<const std::uint8_t> client_random,
                std::span<const std::uint8_t> server_random, RecordKeys& client, RecordKeys& server) {
  Bytes seed(server_random.begin(), server_random.end());
  seed.insert(seed.end(), client_random.begin(), client_random.end());
  const std::size_t kl = key_length(s.aead);
  const std::size_t ivl = s.aead == Aead::ChaCha20Poly1305 ? 12 : 4;  // RFC 7905 §2; RFC 5288 §3
  const Bytes block = tls12_prf(s.sha384, master, "key expansion", seed, 2 * kl + 2 * ivl);
  client = RecordKeys{};
  server = RecordKeys{};
  client.suite = server.suite = &s;
  if (block.size() != 2 * kl + 2 * ivl) return;
  auto at = block.begin();
  client.key.assign(at, at + static_cast<std::ptrdiff_t>(kl));
  at += static_cast<std::ptrdiff_t>(kl);
  server.key.assign(at, at + static_cast<std::ptrdiff_t>(kl));
  at += static_cast<std::ptrdiff_t>(kl);
  client.iv.assign(at, at + static_cast<std::ptrdiff_t>(ivl));
  at += static_cast<std::ptrdiff_t>(ivl);
  server.iv.assign(at, at + static_cast<std::ptrdiff_t>(ivl));
}

std::optional<Opened> open_tls13(RecordKeys& k, std::span<const std::uint8_t> header, std::span<const std::uint8_t> fragment) {
  if (!k.suite || header.size() != 5 || fragment.size() < kTagLen + 1) return std::nullopt;
  auto plain = aead_open(k.suite->aead, k.key, xor_nonce(k.iv, k.seq), header, fragment);
  if (!plain) return std::nullopt;
  ++k.seq;
  // RFC 8446 §5.2: TLSInnerPlaintext = content, the real type, zeros; the type is the last
  // non-zero byte. All zeros is an unexpected_message (§5.4).
  while (!plain->empty() && plain->back() == 0) plain->pop_back();
  if (plain->empty()) return std::nullopt;
  Opened o;
  o.type = plain->back();
  plain->pop_back();
  o.data = std::move(*plain);
  return o;
}

std::optional<Opened> open_tls12(RecordKeys& k, std::span<const std::uint8_t> header, std::span<const std::uint8_t> fragment) {
  if (!k.suite || header.size() != 5) return std::nullopt;
  const std::uint8_t type = header[0];
  const std::uint16_t version = be16(header, 1);
  std::optional<Bytes> plain;
  if (k.suite->aead == Aead::ChaCha20Poly1305) {
    if (fragment.size() < kTagLen) return std::nullopt;
    plain = aead_open(k.suite->aead, k.key, xor_nonce(k.iv, k.seq), tls12_aad(k.seq, type, version, fragment.size() - kTagLen), fragment);
  } else {
    // RFC 5288 §3: GCMNonce = salt (4, from the key block) + nonce_explicit (8, in the record).
    if (fragment.size() < 8 + kTagLen || k.iv.size() != 4) return std::nullopt;
    Bytes nonce = k.iv;
    nonce.insert(nonce.end(), fragment.begin(), fragment.begin() + 8);
    plain = aead_open(k.suite->aead, k.key, nonce, tls12_aad(k.seq, type, version, fragment.size() - 8 - kTagLen), fragment.subspan(8));
  }
  if (!plain) return std::nullopt;
  ++k.seq;
  return Opened{type, std::move(*plain)};
}

Bytes seal_tls13(RecordKeys& k, std::uint8_t type, std::span<const std::uint8_t> data) {
  Bytes inner(data.begin(), data.end());
  inner.push_back(type);
  const std::size_t len = inner.size() + kTagLen;
  Bytes rec = {23, 3, 3, static_cast<std::uint8_t>(len >> 8), static_cast<std::uint8_t>(len)};
  const Bytes sealed = aead_seal(k.suite->aead, k.key, xor_nonce(k.iv, k.seq), rec, inner);
  ++k.seq;
  rec.insert(rec.end(), sealed.begin(), sealed.end());
  return rec;
}

Bytes seal_tls12(RecordKeys& k, std::uint8_t type, std::span<const std::uint8_t> data) {
  const bool chacha = k.suite->aead == Aead::ChaCha20Poly1305;
  const std::size_t len = data.size() + kTagLen + (chacha ? 0 : 8);
  Bytes rec = {type, 3, 3, static_cast<std::uint8_t>(len >> 8), static_cast<std::uint8_t>(len)};
  const Bytes aad = tls12_aad(k.seq, type, 0x0303, data.size());
  if (chacha) {
    const Bytes sealed = aead_seal(k.suite->aead, k.key, xor_nonce(k.iv, k.seq), aad, data);
    rec.insert(rec.end(), sealed.begin(), sealed.end());
  } else {
    Bytes explicit_nonce(8);
    for (int i = 0; i < 8; ++i) explicit_nonce[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(k.seq >> (8 * (7 - i)));
    Bytes nonce = k.iv;
    nonce.insert(nonce.end(), explicit_nonce.begin(), explicit_nonce.end());
    const Bytes sealed = aead_seal(k.suite->aead, k.key, nonce, aad, data);
    rec.insert(rec.end(), explicit_nonce.begin(), explicit_nonce.end());
    rec.insert(rec.end(), sealed.begin(), sealed.end());
  }
  ++k.seq;
  return rec;
}

// ------------------------------------------------------------------------------------------------
// Decryptor

std::vector<Decryptor::Output> Decryptor::feed(bool from_client, std::span<const std::uint8_t> bytes) {
  std::vector<Output> out;
  if (stopped()) return out;
  const int d = from_client ? 0 : 1;
  auto& s = side_[d];
  s.buf.insert(s.buf.end(), bytes.begin(), bytes.end());
  // Either side may be waiting for the other (the server's for the ClientHello, the client's for
  // the ServerHello): after this side, the other, then this one again.
  pump(d, out);
  pump(1 - d, out);
  pump(d, out);
  return out;
}

void Decryptor::pump(int d, std::vector<Output>& out) {
  auto& s = side_[d];
  std::size_t at = 0;
  while (!stopped() && s.buf.size() - at >= 5) {
    const std::span<const std::uint8_t> header(s.buf.data() + at, 5);
    const std::uint8_t type = header[0];
    const std::size_t len = be16(header, 3);
    // RFC 8446 §5.1 / RFC 5246 §6.2.1: change_cipher_spec 20, alert 21, handshake 22, application_data 23.
    if (type < 20 || type > 23 || header[1] != 3) {
      stop(std::string(side_name(d)) + "'s bytes stop being TLS records (content type " + std::to_string(type) + ")");
      break;
    }
    if (len > kMaxFragment) {
      stop(std::string(side_name(d)) + " sent a record of " + std::to_string(len) + " bytes, longer than TLS allows");
      break;
    }
    if (s.buf.size() - at < 5 + len) break;
    // The client's records after its ClientHello wait for the ServerHello, which names the version
    // and the keys.
    if (d == 0 && !hello_done_ && !(type == 22 && !s.protected_)) {
      if (s.buf.size() - at > kMaxHeld) stop("the client sent more than 1 MiB before the ServerHello");
      break;
    }
    // The server's records wait for the client's random (a capture may hold them first when the
    // client's segments were reordered or lost and sent again).
    if (d == 1 && client_random_.empty()) {
      if (s.buf.size() - at > kMaxHeld) stop("the server sent more than 1 MiB before the ClientHello");
      break;
    }
    record(d, type, header, std::span<const std::uint8_t>(s.buf.data() + at + 5, len), out);
    at += 5 + len;
  }
  s.buf.erase(s.buf.begin(), s.buf.begin() + static_cast<std::ptrdiff_t>(std::min(at, s.buf.size())));
  if (stopped()) {
    side_[0].buf.clear();
    side_[1].buf.clear();
  }
}

void Decryptor::record(int d, std::uint8_t type, std::span<const std::uint8_t> header, std::span<const std::uint8_t> body,
                       std::vector<Output>& out) {
  auto& s = side_[d];
  // RFC 8446 §5: a protected TLS 1.3 record is always application_data on the wire; a CCS there
  // stays plain.
  const bool encrypted = s.protected_ && (!tls13_ || type == 23);
  if (!encrypted) {
    if (type == 20) {
      // RFC 5246 §7.1: every record after this side's ChangeCipherSpec is protected. In TLS 1.3
      // it is only for middleboxes (RFC 8446 Appendix D.4) and changes nothing.
      if (hello_done_ && !tls13_) {
        if (!have_keys_) return;
        s.protected_ = true;
      }
      return;
    }
    if (type == 22) {
      handshake_bytes(d, body, false);
      return;
    }
    if (type == 23) stop(std::string(side_name(d)) + " sent application data before any keys were agreed");
    return;  // a plaintext alert
  }
  if (!have_keys_) return;
  const std::uint64_t n = s.opened + 1;
  auto opened = tls13_ ? open_tls13(s.keys, header, body) : open_tls12(s.keys, header, body);
  if (!opened) {
    stop("record " + std::to_string(n) + " from " + side_name(d) +
         " does not decrypt: the authentication tag does not match (a key log from another session?)");
    return;
  }
  ++s.opened;
  switch (opened->type) {
    case 23:
      if (!opened->data.empty()) out.push_back({d == 0, std::move(opened->data)});
      break;
    case 22:
      handshake_bytes(d, opened->data, true);
      break;
    default:
      break;  // alerts (close_notify), a stray CCS
  }
}

// Handshake messages (RFC 8446 §4, RFC 5246 §7.4): type (1), length (3), body; they may span
// records, so the bytes gather until a message is whole.
void Decryptor::handshake_bytes(int d, std::span<const std::uint8_t> bytes, bool encrypted) {
  auto& s = side_[d];
  s.handshake.insert(s.handshake.end(), bytes.begin(), bytes.end());
  std::size_t at = 0;
  while (!stopped() && s.handshake.size() - at >= 4) {
    const std::uint8_t type = s.handshake[at];
    const std::size_t len = (std::size_t{s.handshake[at + 1]} << 16) | (std::size_t{s.handshake[at + 2]} << 8) | s.handshake[at + 3];
    if (len > (1u << 20)) {
      stop(std::string(side_name(d)) + " sent a handshake message of " + std::to_string(len) + " bytes");
      break;
    }
    if (s.handshake.size() - at < 4 + len) break;
    const std::span<const std::uint8_t> body(s.handshake.data() + at + 4, len);
    at += 4 + len;
    if (!encrypted && d == 0 && type == 1 && client_random_.empty()) {
      // ClientHello (RFC 8446 §4.1.2): legacy_version (2), random (32), ...
      if (body.size() < 34) {
        stop("the ClientHello is too short to hold its random");
        break;
      }
      client_random_.assign(body.begin() + 2, body.begin() + 34);
    } else if (!encrypted && d == 1 && type == 2 && !hello_done_) {
      server_hello(body);
    } else if (encrypted && tls13_ && type == 20 && !finished_[d]) {
      // Finished: this side's later records use the application traffic keys (RFC 8446 §7.3).
      // Handshake messages never span a key change (§5.1), so the switch is at the record's end.
      finished_[d] = true;
      s.keys = s.next;
    } else if (encrypted && tls13_ && type == 24) {
      key_update_ = true;
      stop(std::string(side_name(d)) + " updated its keys (KeyUpdate, RFC 8446 §4.6.3): the records after it are not decrypted");
    }
  }
  s.handshake.erase(s.handshake.begin(), s.handshake.begin() + static_cast<std::ptrdiff_t>(std::min(at, s.handshake.size())));
}

void Decryptor::server_hello(std::span<const std::uint8_t> body) {
  // RFC 8446 §4.1.3: legacy_version (2), random (32), legacy_session_id_echo <0..32>, cipher_suite
  // (2), legacy_compression_method (1), extensions <6..2^16-1> (optional in TLS 1.2).
  if (body.size() < 35 || body.size() < 35 + std::size_t{body[34]} + 3) {
    stop("the ServerHello is too short");
    return;
  }
  const std::uint16_t legacy = be16(body, 0);
  const Bytes random(body.begin() + 2, body.begin() + 34);
  std::size_t at = 35 + body[34];
  const std::uint16_t cipher = be16(body, at);
  at += 3;
  std::uint16_t version = legacy;
  if (body.size() >= at + 2) {
    const std::size_t ext_len = be16(body, at);
    at += 2;
    const std::size_t end = std::min(body.size(), at + ext_len);
    while (at + 4 <= end) {
      const std::uint16_t etype = be16(body, at), elen = be16(body, at + 2);
      at += 4;
      if (at + elen > end) break;
      if (etype == 43 && elen == 2) version = be16(body, at);  // supported_versions (§4.2.1)
      at += elen;
    }
  }
  if (version == 0x0304 && std::equal(random.begin(), random.end(), kHelloRetryRandom.begin())) {
    return;  // a HelloRetryRequest: the real ServerHello follows the client's second ClientHello
  }
  hello_done_ = true;
  server_random_ = random;
  cipher_ = cipher;
  if (version == 0x0304) {
    version_ = "TLS 1.3";
    tls13_ = true;
  } else if (version == 0x0303) {
    version_ = "TLS 1.2";
  } else {
    char buf[64];
    std::snprintf(buf, sizeof buf, "TLS version 0x%04x", version);
    version_ = version == 0x0302 ? "TLS 1.1" : version == 0x0301 ? "TLS 1.0" : buf;
    stop(version_ + " is not decrypted (only TLS 1.2 and 1.3)");
    return;
  }
  const Suite* suite = find_suite(cipher);
  if (!suite || suite->tls13 != tls13_) {
    stop("cipher suite " + suite_name(cipher) + " is not supported");
    return;
  }
  if (client_random_.empty()) {
    stop("the ClientHello is not in the capture, so its random cannot be looked up in the key log");
    return;
  }
  const std::string which = "client random " + to_hex(client_random_).substr(0, 16) + "…";
  const auto it = keys_.by_client_random.find(client_random_);
  if (it == keys_.by_client_random.end()) {
    stop("the key log has no secrets for this connection (" + which + ")");
    return;
  }
  const Secrets& k = it->second;
  if (tls13_) {
    const std::size_t hash = suite->sha384 ? 48 : 32;
    const std::pair<const Bytes*, const char*> need[] = {{&k.client_handshake, "CLIENT_HANDSHAKE_TRAFFIC_SECRET"},
                                                         {&k.server_handshake, "SERVER_HANDSHAKE_TRAFFIC_SECRET"},
                                                         {&k.client_traffic0, "CLIENT_TRAFFIC_SECRET_0"},
                                                         {&k.server_traffic0, "SERVER_TRAFFIC_SECRET_0"}};
    for (const auto& [secret, label] : need) {
      if (secret->empty()) {
        stop(std::string("the key log has no ") + label + " for this connection (" + which + ")");
        return;
      }
      if (secret->size() != hash) {
        stop(std::string("the key log's ") + label + " is " + std::to_string(secret->size()) + " bytes, not the " +
             std::to_string(hash) + " of " + suite->name);
        return;
      }
    }
    side_[0].keys = tls13_keys(*suite, k.client_handshake);
    side_[0].next = tls13_keys(*suite, k.client_traffic0);
    side_[1].keys = tls13_keys(*suite, k.server_handshake);
    side_[1].next = tls13_keys(*suite, k.server_traffic0);
    // RFC 8446 §2: everything after the ServerHello is protected, on both sides.
    side_[0].protected_ = side_[1].protected_ = true;
  } else {
    if (k.master.empty()) {
      stop("the key log has no CLIENT_RANDOM line for this connection (" + which + ")");
      return;
    }
    tls12_keys(*suite, k.master, client_random_, server_random_, side_[0].keys, side_[1].keys);
  }
  have_keys_ = true;
}

}  // namespace appkit::tlsdec
