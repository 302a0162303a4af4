// libFuzzer target: the key-log decryption of `ustack explain --keylog` (apps/common/tls_decrypt.*),
// which reads both TCP byte streams of a capture and a key log file, all of them hostile.
//
// Random bytes never get past the first AEAD tag, so the target starts from real sessions: at
// startup OpenSSL makes seven in memory (tests/support/tls_session.hpp), TLS 1.3 in its three
// suites (one with a KeyUpdate), TLS 1.2 in AES-128-GCM, AES-256-GCM (RFC 5288's explicit nonce) and
// ChaCha20-Poly1305, under a seeded random generator and a fixed clock, so every run has the same
// bytes and a saved input replays. The key log is fixed too: all seven sessions' lines.
//
// Input (fuzz_input.hpp: an exhausted input reads as zeros):
//   byte 0: mode % 8 — 0..6 one of the sessions, 7 raw.
//   session modes: a count of edits (% 9), each an edit of the records or of the key log —
//     flip bits at an offset of a record, drop a record, repeat one, swap two neighbours, cut the
//     stream inside a record, insert input bytes before a record, rewrite a header field (type,
//     version, length), and for the key log: drop a line, change a character, swap two lines'
//     secrets, append input text as more lines; then the feeding: each byte names a direction and a
//     chunk size (1 byte to 16 KiB, or all that is left); what is left when the input ends is fed
//     whole, the client's side first.
//   raw mode: flags (bit 0: the fixed key log too), a key log length (u16) and its text, the
//     client stream's length (u16) and its bytes, the server's stream the rest; fed in chunks.
//
// Properties (std::abort on failure):
//   - never a crash, a sanitizer report or an assert; a problem is one line;
//   - the bytes decrypted from a side never exceed the bytes fed from that side, and a stopped
//     decryptor gives nothing more;
//   - what comes out of a side is always a prefix of what that side sent (the AEAD tag admits no
//     other plaintext, whatever was edited);
//   - the sessions untouched, in any chunking: exactly the request and the response, no problem,
//     the version and suite the session used, every protected record opened (the KeyUpdate session:
//     the key-update problem, nothing of the client's);
//   - one bit flipped in the fragment of a protected record (the only edit): "record N from <side>
//     does not decrypt: the authentication tag does not match", N that record, N - 1 opened;
//   - only cuts: no problem;
//   - the key log's counts add up (lines = used + other + malformed, no more connections than
//     secrets used).
#define OPENSSL_SUPPRESS_DEPRECATED  // RAND_set_rand_method: the seeded generator used at startup only
#include <openssl/rand.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include "apps/common/tls_decrypt.hpp"
#include "fuzz_input.hpp"
#include "tests/support/tls_session.hpp"

namespace tlsdec = appkit::tlsdec;
using tlsdec::Bytes;

namespace {

void fail(const char* what) {
  std::fprintf(stderr, "fuzz_tls_decrypt: %s\n", what);
  std::abort();
}
#define EXPECT(cond, what) \
  do {                     \
    if (!(cond)) fail(what); \
  } while (0)

// ------------------------------------------------------------------------------------------------
// A seeded generator for OpenSSL (splitmix64), installed while the sessions are made.

std::uint64_t g_rand = 0x8446'5246'7905'5288ull;
int fixed_bytes(unsigned char* buf, int num) {
  for (int i = 0; i < num; ++i) {
    std::uint64_t z = (g_rand += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    buf[i] = static_cast<unsigned char>(z ^ (z >> 31));
  }
  return 1;
}
int fixed_seed(const void*, int) { return 1; }
int fixed_add(const void*, int, double) { return 1; }
int fixed_status() { return 1; }
const RAND_METHOD kFixedRand = {fixed_seed, fixed_bytes, nullptr, fixed_add, fixed_bytes, fixed_status};

// ------------------------------------------------------------------------------------------------
// The sessions.

struct Record {
  Bytes bytes;             // header and fragment, as on the wire (or input bytes inserted)
  bool protected_ = false;  // the decryptor opens it with a key
  std::size_t index = 0;    // its number among its side's protected records, from 1
};

struct Fixture {
  const char* name;
  bool tls13;
  bool key_update;
  std::uint16_t cipher;
  std::vector<std::string> keylog;  // its lines
  std::string plain[2];             // what the client and the server sent inside TLS
  std::vector<Record> records[2];   // [0] the client's, [1] the server's
  std::size_t protected_count[2] = {0, 0};
};

std::vector<Fixture>& fixtures() {
  static std::vector<Fixture> f;
  return f;
}
std::string& keylog_text() {
  static std::string t;
  return t;
}
tlsdec::KeyLog& keylog() {
  static tlsdec::KeyLog k;
  return k;
}

// The records of one direction (RFC 8446 §5.1, RFC 5246 §6.2.1); which ones are protected: in TLS
// 1.3 every application_data record, in TLS 1.2 those after the side's ChangeCipherSpec.
std::vector<Record> split(const std::vector<std::uint8_t>& stream, bool tls13, std::size_t& count) {
  std::vector<Record> out;
  bool after_ccs = false;
  count = 0;
  for (std::size_t at = 0; at < stream.size();) {
    if (stream.size() - at < 5) fail("a session ends inside a record header");
    const std::size_t len = std::size_t{stream[at + 3]} << 8 | stream[at + 4];
    if (stream.size() - at < 5 + len) fail("a session ends inside a record");
    Record r;
    r.bytes.assign(stream.begin() + static_cast<std::ptrdiff_t>(at), stream.begin() + static_cast<std::ptrdiff_t>(at + 5 + len));
    const std::uint8_t type = stream[at];
    r.protected_ = tls13 ? type == 23 : after_ccs;
    if (type == 20) after_ccs = true;
    if (r.protected_) r.index = ++count;
    out.push_back(std::move(r));
    at += 5 + len;
  }
  return out;
}

struct Made {
  const char* name;
  test::tls::SessionSpec spec;
  std::uint16_t cipher;
};

void make_sessions() {
  const std::string big = "HTTP/1.1 200 OK\r\nContent-Length: 20000\r\n\r\n" + std::string(20000, 'x');  // two records
  const Made made[] = {
      {"TLS 1.3 TLS_AES_128_GCM_SHA256", {.version = TLS1_3_VERSION, .tls13_suites = "TLS_AES_128_GCM_SHA256", .response = big}, 0x1301},
      {"TLS 1.3 TLS_AES_256_GCM_SHA384", {.version = TLS1_3_VERSION, .tls13_suites = "TLS_AES_256_GCM_SHA384", .close_notify = true}, 0x1302},
      {"TLS 1.3 TLS_CHACHA20_POLY1305_SHA256", {.version = TLS1_3_VERSION, .tls13_suites = "TLS_CHACHA20_POLY1305_SHA256"}, 0x1303},
      {"TLS 1.2 ECDHE-ECDSA-AES128-GCM-SHA256", {.version = TLS1_2_VERSION, .tls12_ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256", .response = big}, 0xC02B},
      {"TLS 1.2 ECDHE-ECDSA-AES256-GCM-SHA384", {.version = TLS1_2_VERSION, .tls12_ciphers = "ECDHE-ECDSA-AES256-GCM-SHA384", .close_notify = true}, 0xC02C},
      {"TLS 1.2 ECDHE-ECDSA-CHACHA20-POLY1305", {.version = TLS1_2_VERSION, .tls12_ciphers = "ECDHE-ECDSA-CHACHA20-POLY1305"}, 0xCCA9},
      {"TLS 1.3 TLS_AES_128_GCM_SHA256, a KeyUpdate", {.version = TLS1_3_VERSION, .tls13_suites = "TLS_AES_128_GCM_SHA256", .key_update = true}, 0x1301},
  };
  RAND_set_rand_method(&kFixedRand);
  for (const auto& m : made) {
    auto spec = m.spec;
    spec.clock = 1764547200;  // 2025-12-01T00:00:00Z
    const auto s = test::tls::record_session(spec);
    if (!s.answered) fail("OpenSSL did not complete a session");
    Fixture f{m.name, spec.version == TLS1_3_VERSION, spec.key_update, m.cipher, {}, {s.request, s.response}, {}, {}};
    for (std::size_t at = 0; at < s.keylog.size();) {
      const std::size_t end = std::min(s.keylog.find('\n', at), s.keylog.size());
      f.keylog.push_back(s.keylog.substr(at, end - at));
      at = end + 1;
    }
    f.records[0] = split(s.to_server, f.tls13, f.protected_count[0]);
    f.records[1] = split(s.to_client, f.tls13, f.protected_count[1]);
    keylog_text() += s.keylog;
    // FNV-1a of both streams: the same in every run, or saved inputs would not replay.
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (const auto* v : {&s.to_server, &s.to_client}) {
      for (const auto b : *v) h = (h ^ b) * 0x100000001b3ull;
    }
    std::fprintf(stderr, "fuzz_tls_decrypt: session %zu, %s: %zu + %zu bytes, %zu + %zu records (%zu + %zu protected), fnv %016llx\n",
                 fixtures().size(), m.name, s.to_server.size(), s.to_client.size(), f.records[0].size(), f.records[1].size(),
                 f.protected_count[0], f.protected_count[1], static_cast<unsigned long long>(h));
    fixtures().push_back(std::move(f));
  }
  RAND_set_rand_method(nullptr);  // back to OpenSSL's own
  keylog() = tlsdec::parse_keylog(keylog_text());
  if (keylog().by_client_random.size() != fixtures().size() || keylog().malformed != 0) fail("the sessions' key log does not parse");
}

// ------------------------------------------------------------------------------------------------
// Feeding and the properties that hold for any input.

struct Run {
  tlsdec::Decryptor d;
  std::string got[2];
  std::size_t fed[2] = {0, 0};
  explicit Run(const tlsdec::KeyLog& k) : d(k) {}

  void feed(int side, std::span<const std::uint8_t> bytes) {
    const bool was_stopped = d.stopped();
    fed[side] += bytes.size();
    for (const auto& o : d.feed(side == 0, bytes)) {
      EXPECT(!was_stopped, "a stopped decryptor gave data");
      EXPECT(!o.data.empty(), "an empty output");
      got[o.from_client ? 0 : 1].append(o.data.begin(), o.data.end());
    }
    EXPECT(got[0].size() <= fed[0] && got[1].size() <= fed[1], "more data out of a side than was fed from it");
    EXPECT(d.problem().find('\n') == std::string::npos, "a problem of more than one line");
    EXPECT(d.stopped() == !d.problem().empty(), "stopped() and problem() disagree");
    EXPECT(d.records_opened(true) == 0 || d.keys_found(), "records opened without keys");
  }
};

bool is_prefix(const std::string& got, const std::string& of) { return got.size() <= of.size() && of.compare(0, got.size(), got) == 0; }

void check_keylog(const tlsdec::KeyLog& k) {
  EXPECT(k.lines == k.used + k.other + k.malformed, "the key log's counts do not add up");
  EXPECT(k.by_client_random.size() <= k.used, "more connections in the key log than secrets kept");
}

void raw(fuzz::Input& in) {
  const std::uint8_t flags = in.u8();
  const std::size_t klen = std::min<std::size_t>(in.u16(), in.size - in.at);
  std::string text(reinterpret_cast<const char*>(in.data + in.at), klen);
  in.at += klen;
  const auto k = tlsdec::parse_keylog(text);
  check_keylog(k);
  const tlsdec::KeyLog* use = &k;
  tlsdec::KeyLog both;
  if (flags & 1) {
    both = tlsdec::parse_keylog(keylog_text() + text);
    check_keylog(both);
    use = &both;
  }
  const std::size_t clen = std::min<std::size_t>(in.u16(), in.size - in.at);
  const std::span<const std::uint8_t> client(in.data + in.at, clen);
  const std::span<const std::uint8_t> server(in.data + in.at + clen, in.size - in.at - clen);
  Run r(*use);
  const std::size_t chunk = 1 + static_cast<std::size_t>(flags >> 1) * 8;
  for (std::size_t c = 0, s = 0; c < client.size() || s < server.size();) {
    const std::size_t nc = std::min(chunk, client.size() - c), ns = std::min(chunk, server.size() - s);
    r.feed(0, client.subspan(c, nc));
    r.feed(1, server.subspan(s, ns));
    c += nc;
    s += ns;
  }
}

enum class Edit { None, Flip, Cut, Other };

void session(fuzz::Input& in, const Fixture& f) {
  std::vector<Record> recs[2] = {f.records[0], f.records[1]};
  std::vector<std::string> lines;  // the key log, when an edit touches it
  bool keylog_edited = false;
  const int edits = in.u8() % 9;
  Edit only = Edit::None;  // what the edits were, if all of one kind
  int flipped_side = -1;
  std::size_t flipped_index = 0;  // a protected record's number, when one bit of its fragment was the edit
  auto note = [&](Edit e) { only = (only == Edit::None || only == e) ? e : Edit::Other; };
  for (int e = 0; e < edits; ++e) {
    const std::uint8_t op = in.u8() % 8;
    const std::uint8_t pick = in.u8();
    const int side = pick & 1;
    auto& v = recs[side];
    if (op == 6) {
      if (!keylog_edited) lines = f.keylog;
      keylog_edited = true;
      note(Edit::Other);
      const std::uint8_t what = in.u8() % 4;
      if (lines.empty()) continue;
      auto& line = lines[(pick >> 1) % lines.size()];
      if (what == 0) {
        line.clear();
      } else if (what == 1) {
        const std::size_t where = in.u16();
        const char c = static_cast<char>(in.u8());
        if (!line.empty()) line[where % line.size()] = c;
      } else if (what == 2) {
        // The secret of another line (another label's, or text appended as a line).
        const std::string other = lines[in.u8() % lines.size()];
        const std::size_t a = line.rfind(' '), b = other.rfind(' ');
        if (a != std::string::npos && b != std::string::npos) line = line.substr(0, a) + other.substr(b);
      } else {
        const std::size_t n = std::min<std::size_t>(in.u8(), in.size - in.at);
        lines.emplace_back(reinterpret_cast<const char*>(in.data + in.at), n);
        in.at += n;
      }
      continue;
    }
    if (v.empty()) {
      note(Edit::Other);
      continue;
    }
    const std::size_t i = (pick >> 1) % v.size();
    switch (op) {
      case 0: {  // flip bits
        auto& b = v[i].bytes;
        if (b.empty()) break;
        const std::size_t at = in.u16() % b.size();
        const std::uint8_t mask = std::max<std::uint8_t>(in.u8(), 1);
        b[at] ^= mask;
        note(Edit::Flip);
        if (edits == 1 && v[i].protected_ && at >= 5) {
          flipped_side = side;
          flipped_index = v[i].index;
        }
        break;
      }
      case 1:  // drop
        v.erase(v.begin() + static_cast<std::ptrdiff_t>(i));
        note(Edit::Other);
        break;
      case 2: {  // repeat
        const Record copy = v[i];
        v.insert(v.begin() + static_cast<std::ptrdiff_t>(i), copy);
        note(Edit::Other);
        break;
      }
      case 3:  // swap with the next
        if (i + 1 < v.size()) std::swap(v[i], v[i + 1]);
        note(Edit::Other);
        break;
      case 4:  // cut: the stream ends inside (or at the start of) record i
        v[i].bytes.resize(in.u16() % (v[i].bytes.size() + 1));
        v.resize(i + 1);
        note(Edit::Cut);
        break;
      case 5: {  // insert input bytes before record i
        const std::size_t n = std::min<std::size_t>(in.u8(), in.size - in.at);
        Record r;
        r.bytes.assign(in.data + in.at, in.data + in.at + n);
        in.at += n;
        v.insert(v.begin() + static_cast<std::ptrdiff_t>(i), std::move(r));
        note(Edit::Other);
        break;
      }
      case 7: {  // rewrite a header field
        auto& b = v[i].bytes;
        if (b.size() < 5) break;
        const std::uint8_t field = in.u8() % 3;
        if (field == 0) {
          b[0] = static_cast<std::uint8_t>(20 + in.u8() % 4);
        } else if (field == 1) {
          b[2] = in.u8();
        } else {
          const std::uint16_t len = in.u16();
          b[3] = static_cast<std::uint8_t>(len >> 8);
          b[4] = static_cast<std::uint8_t>(len);
        }
        note(Edit::Other);
        break;
      }
      default:
        break;
    }
  }

  tlsdec::KeyLog edited;
  if (keylog_edited) {
    std::string text;
    for (const auto& l : lines) text += l + "\n";
    edited = tlsdec::parse_keylog(text);
    check_keylog(edited);
  }
  Bytes stream[2];
  for (int s = 0; s < 2; ++s) {
    for (const auto& r : recs[s]) stream[s].insert(stream[s].end(), r.bytes.begin(), r.bytes.end());
  }

  Run r(keylog_edited ? edited : keylog());
  std::size_t at[2] = {0, 0};
  while (!in.empty() && (at[0] < stream[0].size() || at[1] < stream[1].size())) {
    const std::uint8_t b = in.u8();
    const int s = b & 1;
    const std::size_t k = b >> 1;
    const std::size_t n = std::min(k == 0 ? stream[s].size() : k * k, stream[s].size() - at[s]);
    r.feed(s, std::span<const std::uint8_t>(stream[s]).subspan(at[s], n));
    at[s] += n;
  }
  for (int s = 0; s < 2; ++s) r.feed(s, std::span<const std::uint8_t>(stream[s]).subspan(at[s]));

  EXPECT(is_prefix(r.got[0], f.plain[0]), "the client's output is not a prefix of what it sent");
  EXPECT(is_prefix(r.got[1], f.plain[1]), "the server's output is not a prefix of what it sent");
  const auto& d = r.d;
  if (only == Edit::None) {
    EXPECT(d.version() == (f.tls13 ? "TLS 1.3" : "TLS 1.2"), "an untouched session: the wrong version");
    EXPECT(d.cipher() == f.cipher, "an untouched session: the wrong suite");
    if (f.key_update) {
      EXPECT(d.key_update_seen(), "an untouched session: the KeyUpdate missed");
      EXPECT(d.problem() == "the client updated its keys (KeyUpdate, RFC 8446 §4.6.3): the records after it are not decrypted",
             "an untouched session: not the key-update problem");
      EXPECT(r.got[0].empty(), "an untouched session: data after the KeyUpdate");
    } else {
      EXPECT(d.problem().empty(), "an untouched session: a problem");
      EXPECT(r.got[0] == f.plain[0] && r.got[1] == f.plain[1], "an untouched session: not exactly what was sent");
      EXPECT(d.records_opened(true) == f.protected_count[0] && d.records_opened(false) == f.protected_count[1],
             "an untouched session: not every protected record opened");
    }
  } else if (flipped_side >= 0 && !f.key_update) {
    const std::string want = "record " + std::to_string(flipped_index) + " from " + (flipped_side == 0 ? "the client" : "the server") +
                             " does not decrypt: the authentication tag does not match (a key log from another session?)";
    EXPECT(d.problem() == want, "a flipped bit in a protected record: not its tag failure");
    EXPECT(d.records_opened(flipped_side == 0) == flipped_index - 1, "a flipped bit: the records before it not all opened");
  } else if (only == Edit::Cut && !f.key_update) {
    EXPECT(d.problem().empty(), "a cut stream: a problem");
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  make_sessions();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Input in{data, size};
  const std::uint8_t mode = in.u8() % 8;
  if (mode == 7) {
    raw(in);
  } else {
    session(in, fixtures()[mode]);
  }
  return 0;
}
