// Reading TLS in a capture with a key log: `ustack explain FILE.pcap --keylog KEYS` turns the
// records of an https connection back into the HTTP they carry (apps/common/conversations.*).
//
// Read first: the NSS key log format (draft-ietf-tls-keylogfile: "CLIENT_RANDOM", and the TLS 1.3
// labels CLIENT_HANDSHAKE_TRAFFIC_SECRET ... SERVER_TRAFFIC_SECRET_0); RFC 8446 §5.1 (records),
// §5.2 (TLSInnerPlaintext: the real content type after the data, then zero padding), §5.3 (the
// per-record nonce: the IV XOR the sequence number), §4.1.3 (ServerHello, the HelloRetryRequest
// random), §4.2.1 (supported_versions), §7.1 (HKDF-Expand-Label), §7.3 (traffic keys); RFC 5246
// §5 (the TLS 1.2 PRF), §6.2 (records), §6.3 (the key block), §7.1 (ChangeCipherSpec: the records
// after it are protected); RFC 5288 §3 (AES-GCM in TLS 1.2: a 4-byte salt from the key block and an
// 8-byte explicit nonce per record); RFC 7905 §2 (ChaCha20-Poly1305 in TLS 1.2: nonce like TLS 1.3).
//
// The capture and the key log are input from anywhere: every length is checked against the bytes
// that remain, a record that does not open is one line ("the authentication tag does not match")
// and the connection is left undecrypted from there on — never a crash.
//
// Not done: TLS 1.3 key updates (RFC 8446 §4.6.3: the records after a KeyUpdate are left alone,
// and the narration says so), 0-RTT early data, CBC and CCM suites, TLS 1.1 and older.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "stack/util/result.hpp"

namespace appkit::tlsdec {

using Bytes = std::vector<std::uint8_t>;

// "0a1B" -> {0x0a, 0x1b}; nullopt for an odd length or a character that is not a hex digit.
std::optional<Bytes> from_hex(std::string_view hex);
std::string to_hex(std::span<const std::uint8_t> bytes);

// ------------------------------------------------------------------------------------------------
// The key log (draft-ietf-tls-keylogfile §3): one secret a line, "LABEL CLIENT_RANDOM SECRET".

struct Secrets {
  Bytes master;                      // CLIENT_RANDOM (TLS 1.2: the 48-byte master secret)
  Bytes client_handshake, server_handshake;  // CLIENT_/SERVER_HANDSHAKE_TRAFFIC_SECRET
  Bytes client_traffic0, server_traffic0;    // CLIENT_/SERVER_TRAFFIC_SECRET_0
};

struct KeyLog {
  std::map<Bytes, Secrets> by_client_random;
  std::uint64_t lines = 0;      // lines that were not blank or comments
  std::uint64_t used = 0;       // secrets kept (a label we use, well formed)
  std::uint64_t other = 0;      // well-formed lines with a label we do not use (EXPORTER_SECRET, ...)
  std::uint64_t malformed = 0;  // skipped: wrong field count, bad hex, a client random not 32 bytes
};

KeyLog parse_keylog(std::string_view text);
// Reads and parses `path`; the error is one line naming the file.
stack::Result<KeyLog, std::string> read_keylog(const std::string& path);

// ------------------------------------------------------------------------------------------------
// Cipher suites and keys.

enum class Aead { Aes128Gcm, Aes256Gcm, ChaCha20Poly1305 };

struct Suite {
  std::uint16_t id;
  const char* name;
  bool tls13;
  Aead aead;
  bool sha384;  // the hash of the PRF / HKDF: SHA-384, else SHA-256
};
const Suite* find_suite(std::uint16_t id);  // nullptr: not one we decrypt
std::string suite_name(std::uint16_t id);   // "TLS_AES_128_GCM_SHA256", or "0xc013 (TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA)"

// RFC 8446 §7.1: HKDF-Expand-Label(Secret, Label, Context, Length), "tls13 " prefixed.
Bytes hkdf_expand_label(bool sha384, std::span<const std::uint8_t> secret, std::string_view label,
                        std::span<const std::uint8_t> context, std::size_t length);
// RFC 5246 §5: PRF(secret, label, seed) = P_<hash>(secret, label + seed), `length` bytes.
Bytes tls12_prf(bool sha384, std::span<const std::uint8_t> secret, std::string_view label, std::span<const std::uint8_t> seed,
                std::size_t length);
// AEAD with a 16-byte tag at the end of `sealed`; nullopt when the tag does not match.
std::optional<Bytes> aead_open(Aead a, std::span<const std::uint8_t> key, std::span<const std::uint8_t> nonce,
                               std::span<const std::uint8_t> aad, std::span<const std::uint8_t> sealed);
Bytes aead_seal(Aead a, std::span<const std::uint8_t> key, std::span<const std::uint8_t> nonce, std::span<const std::uint8_t> aad,
                std::span<const std::uint8_t> plain);

// The keys of one direction.
struct RecordKeys {
  const Suite* suite = nullptr;
  Bytes key, iv;  // TLS 1.3 and 1.2 ChaCha20: a 12-byte IV; 1.2 GCM: the 4-byte salt
  std::uint64_t seq = 0;
};
std::size_t key_length(Aead a);
// RFC 8446 §7.3: key = HKDF-Expand-Label(secret, "key", "", key_length), iv = (..., "iv", "", 12).
RecordKeys tls13_keys(const Suite& s, std::span<const std::uint8_t> traffic_secret);
// RFC 5246 §6.3: key_block = PRF(master, "key expansion", server_random + client_random); AEAD
// suites have no MAC keys, so it is client key, server key, client IV, server IV.
void tls12_keys(const Suite& s, std::span<const std::uint8_t> master, std::span<const std::uint8_t> client_random,
                std::span<const std::uint8_t> server_random, RecordKeys& client, RecordKeys& server);

struct Opened {
  std::uint8_t type = 0;  // the real content type (TLS 1.3: from the inner plaintext)
  Bytes data;
};
// Opens one protected record (`header` its 5 bytes, `fragment` what follows) and advances the
// sequence number; nullopt when it does not authenticate or is too short to be a record.
std::optional<Opened> open_tls13(RecordKeys& k, std::span<const std::uint8_t> header, std::span<const std::uint8_t> fragment);
std::optional<Opened> open_tls12(RecordKeys& k, std::span<const std::uint8_t> header, std::span<const std::uint8_t> fragment);
// The inverses, for tests: a whole record (header included).
Bytes seal_tls13(RecordKeys& k, std::uint8_t type, std::span<const std::uint8_t> data);
Bytes seal_tls12(RecordKeys& k, std::uint8_t type, std::span<const std::uint8_t> data);

// ------------------------------------------------------------------------------------------------
// One connection: both TCP byte streams in, the application data of each direction out.

class Decryptor {
 public:
  explicit Decryptor(const KeyLog& keys) : keys_(keys) {}  // `keys` must outlive the decryptor
  explicit Decryptor(const KeyLog&& keys) = delete;

  struct Output {
    bool from_client = false;
    Bytes data;  // decrypted application data, in order
  };
  // The next bytes of one direction, in stream order. Records held back (the client's protected
  // records before the ServerHello names their keys) may come out with the other side's bytes.
  std::vector<Output> feed(bool from_client, std::span<const std::uint8_t> bytes);

  bool stopped() const { return !problem_.empty(); }
  const std::string& problem() const { return problem_; }  // "" or one line: why decryption stopped
  bool server_hello_seen() const { return hello_done_; }
  const std::string& version() const { return version_; }  // "TLS 1.3", "TLS 1.2", "" (no ServerHello)
  std::uint16_t cipher() const { return cipher_; }
  bool keys_found() const { return have_keys_; }
  std::uint64_t records_opened(bool from_client) const { return side_[from_client ? 0 : 1].opened; }
  bool key_update_seen() const { return key_update_; }

 private:
  struct Side {
    Bytes buf;        // stream bytes not yet a whole record
    Bytes handshake;  // handshake-message bytes not yet a whole message
    bool protected_ = false;  // this side's records are encrypted from here on
    RecordKeys keys, next;    // TLS 1.3: `next` are the application keys, taken after Finished
    std::uint64_t opened = 0;
  };
  void pump(int d, std::vector<Output>& out);
  void record(int d, std::uint8_t type, std::span<const std::uint8_t> header, std::span<const std::uint8_t> body,
              std::vector<Output>& out);
  void handshake_bytes(int d, std::span<const std::uint8_t> bytes, bool encrypted);
  void server_hello(std::span<const std::uint8_t> body);
  void stop(std::string why) {
    if (problem_.empty()) problem_ = std::move(why);
  }

  const KeyLog& keys_;
  Side side_[2];
  Bytes client_random_, server_random_;
  bool hello_done_ = false, tls13_ = false, have_keys_ = false, key_update_ = false;
  bool finished_[2] = {false, false};
  std::uint16_t cipher_ = 0;
  std::string version_, problem_;
};

}  // namespace appkit::tlsdec
