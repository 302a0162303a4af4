#include "stack/wire/dns.hpp"

#include <algorithm>

namespace stack::wire::dns {

namespace {

constexpr std::size_t kQuestionFixed = 4;  // QTYPE, QCLASS
constexpr std::size_t kRecordFixed = 10;   // TYPE, CLASS, TTL, RDLENGTH
// Each hop of a compression chain lands strictly before the previous one, so a chain is already
// bounded by the message length; this cap (a 255-octet name has at most 127 labels, so no honest
// encoder needs more) keeps the work per name small even in a 64 KiB message.
constexpr int kMaxPointerHops = 127;

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool ieq(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

void put_u16(Bytes& out, std::uint16_t v) {
  out.push_back(static_cast<std::byte>(v >> 8));
  out.push_back(static_cast<std::byte>(v & 0xff));
}
void put_u32(Bytes& out, std::uint32_t v) {
  put_u16(out, static_cast<std::uint16_t>(v >> 16));
  put_u16(out, static_cast<std::uint16_t>(v & 0xffff));
}
void put_name(Bytes& out, const Name& n) {
  for (const auto& l : n.labels()) {
    out.push_back(static_cast<std::byte>(l.size()));
    for (char c : l) out.push_back(static_cast<std::byte>(c));
  }
  out.push_back(std::byte{0});
}

std::string hex_bytes(std::span<const std::byte> b) {
  static const char* kHex = "0123456789ABCDEF";
  std::string s;
  for (auto x : b) {
    s += kHex[static_cast<unsigned>(x) >> 4];
    s += kHex[static_cast<unsigned>(x) & 0xf];
  }
  return s;
}

// RFC 5952 text for an IPv6 address: lower-case hex, the longest run (>= 2) of zero groups as "::".
std::string ipv6_text(std::span<const std::byte> b) {
  std::uint16_t g[8];
  for (int i = 0; i < 8; ++i) g[i] = load_be16(b, static_cast<std::size_t>(i) * 2);
  int best = -1, best_len = 0;
  for (int i = 0; i < 8;) {
    if (g[i] != 0) { ++i; continue; }
    int j = i;
    while (j < 8 && g[j] == 0) ++j;
    if (j - i > best_len && j - i >= 2) { best = i; best_len = j - i; }
    i = j;
  }
  static const char* kHex = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 8; ++i) {
    if (i == best) {
      s += "::";
      i += best_len - 1;
      continue;
    }
    if (!s.empty() && s.back() != ':') s += ':';
    bool started = false;
    for (int shift = 12; shift >= 0; shift -= 4) {
      const unsigned nibble = (g[i] >> shift) & 0xfu;
      if (nibble || started || shift == 0) {
        s += kHex[nibble];
        started = true;
      }
    }
  }
  return s;
}

struct Reader {
  std::span<const std::byte> msg;
  std::size_t pos = kHeaderLen;
};

Result<Question, ParseError> parse_question(Reader& r) {
  std::size_t end = 0;
  auto name = parse_name(r.msg, r.pos, end);
  if (!name) return Err{name.error()};
  if (end + kQuestionFixed > r.msg.size()) return Err{ParseError::Truncated};
  Question q{std::move(*name), load_be16(r.msg, end), load_be16(r.msg, end + 2)};
  r.pos = end + kQuestionFixed;
  return q;
}

Result<Record, ParseError> parse_record(Reader& r) {
  std::size_t end = 0;
  auto name = parse_name(r.msg, r.pos, end);
  if (!name) return Err{name.error()};
  if (end + kRecordFixed > r.msg.size()) return Err{ParseError::Truncated};
  Record rec;
  rec.name = std::move(*name);
  rec.type = load_be16(r.msg, end);
  rec.cls = load_be16(r.msg, end + 2);
  rec.ttl = load_be32(r.msg, end + 4);
  const std::size_t rdlength = load_be16(r.msg, end + 8);
  const std::size_t rd = end + kRecordFixed;
  // RFC 9267 §5: RDLENGTH must not reach past the message.
  if (rd + rdlength > r.msg.size()) return Err{ParseError::Truncated};
  const std::size_t rd_end = rd + rdlength;
  const auto rdata = r.msg.subspan(rd, rdlength);
  // A name inside RDATA: pointers may reach back anywhere in the message, but the name as it
  // sits here must end exactly where the RDATA (or the next field) says.
  auto name_in_rdata = [&](std::size_t at, std::size_t& after) -> Result<Name, ParseError> {
    if (at >= rd_end) return Err{ParseError::BadRdLength};
    auto n = parse_name(r.msg, at, after);
    if (!n) return n;
    if (after > rd_end) return Err{ParseError::BadRdLength};
    return n;
  };
  const bool in = rec.cls == kClassIn;
  switch (static_cast<Type>(rec.type)) {
    case Type::A:
      if (!in) break;
      // RFC 1035 §3.4.1: exactly 32 bits.
      if (rdlength != 4) return Err{ParseError::BadRdLength};
      rec.data = rdata::A{load_ipv4(rdata, 0)};
      r.pos = rd_end;
      return rec;
    case Type::Ns:
    case Type::Cname:
    case Type::Ptr: {
      if (rec.type == static_cast<std::uint16_t>(Type::Ptr) && !in) break;
      std::size_t after = 0;
      auto target = name_in_rdata(rd, after);
      if (!target) return Err{target.error()};
      if (after != rd_end) return Err{ParseError::BadRdLength};
      if (rec.type == static_cast<std::uint16_t>(Type::Ns)) rec.data = rdata::Ns{std::move(*target)};
      else if (rec.type == static_cast<std::uint16_t>(Type::Ptr)) rec.data = rdata::Ptr{std::move(*target)};
      else rec.data = rdata::Cname{std::move(*target)};
      r.pos = rd_end;
      return rec;
    }
    case Type::Mx: {
      if (!in) break;
      // RFC 1035 §3.3.9: a 16-bit preference, then the exchange's name.
      if (rdlength < 3) return Err{ParseError::BadRdLength};
      std::size_t after = 0;
      auto exchange = name_in_rdata(rd + 2, after);
      if (!exchange) return Err{exchange.error()};
      if (after != rd_end) return Err{ParseError::BadRdLength};
      rec.data = rdata::Mx{load_be16(r.msg, rd), std::move(*exchange)};
      r.pos = rd_end;
      return rec;
    }
    case Type::Soa: {
      std::size_t after = 0;
      auto mname = name_in_rdata(rd, after);
      if (!mname) return Err{mname.error()};
      auto rname = name_in_rdata(after, after);
      if (!rname) return Err{rname.error()};
      if (after + 20 != rd_end) return Err{ParseError::BadRdLength};
      rec.data = rdata::Soa{std::move(*mname), std::move(*rname), load_be32(r.msg, after), load_be32(r.msg, after + 4),
                            load_be32(r.msg, after + 8), load_be32(r.msg, after + 12), load_be32(r.msg, after + 16)};
      r.pos = rd_end;
      return rec;
    }
    default:
      break;
  }
  if (in && rec.type == static_cast<std::uint16_t>(Type::Aaaa) && rdlength != 16) return Err{ParseError::BadRdLength};
  rec.data = rdata::Opaque{Bytes(rdata.begin(), rdata.end())};
  r.pos = rd_end;
  return rec;
}

}  // namespace

// --- names ---------------------------------------------------------------------------------------

std::optional<Name> Name::from_labels(std::vector<std::string> labels) {
  std::size_t total = 1;
  for (const auto& l : labels) {
    if (l.empty() || l.size() > kMaxLabelLen) return std::nullopt;
    total += l.size() + 1;
  }
  if (total > kMaxNameLen) return std::nullopt;
  return Name(std::move(labels));
}

std::optional<Name> Name::parse(std::string_view text) {
  if (text == ".") return Name{};
  if (text.empty()) return std::nullopt;
  std::vector<std::string> labels;
  std::string cur;
  bool ended_with_dot = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    ended_with_dot = false;
    if (c == '\\') {
      // RFC 1035 §5.1: \X is X; \DDD is the octet with decimal value DDD.
      if (i + 1 >= text.size()) return std::nullopt;
      if (text[i + 1] >= '0' && text[i + 1] <= '9') {
        if (i + 3 >= text.size()) return std::nullopt;
        int v = 0;
        for (std::size_t k = 1; k <= 3; ++k) {
          const char d = text[i + k];
          if (d < '0' || d > '9') return std::nullopt;
          v = v * 10 + (d - '0');
        }
        if (v > 255) return std::nullopt;
        cur += static_cast<char>(v);
        i += 3;
      } else {
        cur += text[i + 1];
        i += 1;
      }
    } else if (c == '.') {
      if (cur.empty()) return std::nullopt;  // empty label ("a..b", ".a")
      labels.push_back(std::move(cur));
      cur.clear();
      ended_with_dot = true;
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) labels.push_back(std::move(cur));
  else if (!ended_with_dot) return std::nullopt;
  return from_labels(std::move(labels));
}

std::size_t Name::wire_len() const {
  std::size_t n = 1;
  for (const auto& l : labels_) n += l.size() + 1;
  return n;
}

std::string Name::describe() const {
  if (labels_.empty()) return ".";
  std::string s;
  for (const auto& l : labels_) {
    for (char ch : l) {
      const auto c = static_cast<unsigned char>(ch);
      if (c == '.' || c == '\\' || c == '"' || c == ';' || c == '(' || c == ')' || c == '@' || c == '$') {
        s += '\\';
        s += ch;
      } else if (c < 0x21 || c > 0x7e) {
        s += '\\';
        s += static_cast<char>('0' + c / 100);
        s += static_cast<char>('0' + (c / 10) % 10);
        s += static_cast<char>('0' + c % 10);
      } else {
        s += ch;
      }
    }
    s += '.';
  }
  return s;
}

std::string Name::describe_relative() const {
  std::string s = describe();
  if (s.size() > 1) s.pop_back();
  return s;
}

std::string Name::key() const {
  std::string s = describe();
  for (auto& c : s) c = lower(c);
  return s;
}

bool Name::is_within(const Name& zone) const {
  if (zone.labels_.size() > labels_.size()) return false;
  const std::size_t skip = labels_.size() - zone.labels_.size();
  for (std::size_t i = 0; i < zone.labels_.size(); ++i) {
    if (!ieq(labels_[skip + i], zone.labels_[i])) return false;
  }
  return true;
}

Name Name::parent() const {
  if (labels_.empty()) return {};
  return Name(std::vector<std::string>(labels_.begin() + 1, labels_.end()));
}

bool Name::operator==(const Name& o) const {
  if (labels_.size() != o.labels_.size()) return false;
  for (std::size_t i = 0; i < labels_.size(); ++i) {
    if (!ieq(labels_[i], o.labels_[i])) return false;
  }
  return true;
}

Result<Name, ParseError> parse_name(std::span<const std::byte> msg, std::size_t offset, std::size_t& end) {
  std::vector<std::string> labels;
  std::size_t pos = offset;
  std::size_t total = 1;  // the root label's length octet
  bool jumped = false;
  std::size_t last_target = offset;
  int hops = 0;
  while (true) {
    // RFC 9267 §4: a name must end with the root label before the message (or RDATA) ends.
    if (pos >= msg.size()) return Err{ParseError::Truncated};
    const auto len = static_cast<std::uint8_t>(msg[pos]);
    if ((len & 0xc0) == 0xc0) {
      // RFC 1035 §4.1.4: a pointer is two octets, 11 + a 14-bit offset from the message start.
      if (pos + 1 >= msg.size()) return Err{ParseError::Truncated};
      const std::size_t target = (static_cast<std::size_t>(len & 0x3f) << 8) | static_cast<std::size_t>(msg[pos + 1]);
      if (!jumped) end = pos + 2;
      // RFC 9267 §2: "a pointer MUST point backward"; we ask more: each hop lands before the
      // previous hop's target, so cycles (self, two-pointer, long chains) cannot exist, and never
      // into the 12-octet header (RFC 9267 §2, picoTCP CVE-2020-24338).
      if (target < kHeaderLen || target >= pos || (jumped && target >= last_target)) return Err{ParseError::BadPointer};
      if (++hops > kMaxPointerHops) return Err{ParseError::TooManyPointers};
      jumped = true;
      last_target = target;
      pos = target;
      continue;
    }
    // RFC 1035 §4.1.4: 01 and 10 prefixes are reserved (RFC 6891 §5 retired 01's extended labels).
    if ((len & 0xc0) != 0) return Err{ParseError::ReservedLabelType};
    if (len == 0) {
      if (!jumped) end = pos + 1;
      break;
    }
    if (pos + 1 + len > msg.size()) return Err{ParseError::Truncated};
    total += static_cast<std::size_t>(len) + 1;
    // RFC 1035 §3.1 / RFC 9267 §3: 255 octets, counted after decompression.
    if (total > kMaxNameLen) return Err{ParseError::NameTooLong};
    std::string label(len, '\0');
    for (std::size_t i = 0; i < len; ++i) label[i] = static_cast<char>(msg[pos + 1 + i]);
    labels.push_back(std::move(label));
    pos += 1 + static_cast<std::size_t>(len);
  }
  return *Name::from_labels(std::move(labels));
}

// --- header --------------------------------------------------------------------------------------

std::uint16_t Header::flags() const {
  return static_cast<std::uint16_t>((qr ? 0x8000 : 0) | ((opcode & 0xf) << 11) | (aa ? 0x0400 : 0) | (tc ? 0x0200 : 0) |
                                    (rd ? 0x0100 : 0) | (ra ? 0x0080 : 0) | (ad ? 0x0020 : 0) | (cd ? 0x0010 : 0) |
                                    (rcode & 0xf));
}

Header Header::from_flags(std::uint16_t id, std::uint16_t f) {
  Header h;
  h.id = id;
  h.qr = f & 0x8000;
  h.opcode = static_cast<std::uint8_t>((f >> 11) & 0xf);
  h.aa = f & 0x0400;
  h.tc = f & 0x0200;
  h.rd = f & 0x0100;
  h.ra = f & 0x0080;
  h.ad = f & 0x0020;
  h.cd = f & 0x0010;
  h.rcode = static_cast<std::uint8_t>(f & 0xf);
  return h;
}

std::optional<Header> parse_header(std::span<const std::byte> msg) {
  if (msg.size() < kHeaderLen) return std::nullopt;
  Header h = Header::from_flags(load_be16(msg, field::id), load_be16(msg, field::flags));
  h.qdcount = load_be16(msg, field::qdcount);
  h.ancount = load_be16(msg, field::ancount);
  h.nscount = load_be16(msg, field::nscount);
  h.arcount = load_be16(msg, field::arcount);
  return h;
}

// --- message -------------------------------------------------------------------------------------

Result<Message, ParseError> parse(std::span<const std::byte> msg) {
  auto header = parse_header(msg);
  if (!header) return Err{ParseError::TooShort};
  Message m;
  m.header = *header;
  Reader r{msg};
  // RFC 9267 §6: counts are claims. A cheap bound first (every question needs 5 octets, every
  // record 11), so a lying ANCOUNT of 65535 costs nothing; then each entry is checked as read.
  const std::size_t min_needed = std::size_t{header->qdcount} * (1 + kQuestionFixed) +
                                 (std::size_t{header->ancount} + header->nscount + header->arcount) * (1 + kRecordFixed);
  if (kHeaderLen + min_needed > msg.size()) return Err{ParseError::Truncated};
  for (std::uint16_t i = 0; i < header->qdcount; ++i) {
    auto q = parse_question(r);
    if (!q) return Err{q.error()};
    m.questions.push_back(std::move(*q));
  }
  std::vector<Record>* sections[3] = {&m.answers, &m.authority, &m.additional};
  const std::uint16_t counts[3] = {header->ancount, header->nscount, header->arcount};
  for (int s = 0; s < 3; ++s) {
    for (std::uint16_t i = 0; i < counts[s]; ++i) {
      auto rec = parse_record(r);
      if (!rec) return Err{rec.error()};
      sections[s]->push_back(std::move(*rec));
    }
  }
  // RFC 9267 §6: bytes beyond the counted records mean the counts lie.
  if (r.pos != msg.size()) return Err{ParseError::TrailingBytes};
  return m;
}

Bytes Message::emit() const {
  Bytes out;
  put_u16(out, header.id);
  put_u16(out, header.flags());
  put_u16(out, static_cast<std::uint16_t>(questions.size()));
  put_u16(out, static_cast<std::uint16_t>(answers.size()));
  put_u16(out, static_cast<std::uint16_t>(authority.size()));
  put_u16(out, static_cast<std::uint16_t>(additional.size()));
  for (const auto& q : questions) {
    put_name(out, q.name);
    put_u16(out, q.type);
    put_u16(out, q.cls);
  }
  for (const auto* section : {&answers, &authority, &additional}) {
    for (const auto& rec : *section) {
      put_name(out, rec.name);
      put_u16(out, rec.type);
      put_u16(out, rec.cls);
      put_u32(out, rec.ttl);
      const std::size_t len_at = out.size();
      put_u16(out, 0);
      if (const auto* a = std::get_if<rdata::A>(&rec.data)) {
        put_u32(out, a->address.value);
      } else if (const auto* ns = std::get_if<rdata::Ns>(&rec.data)) {
        put_name(out, ns->host);
      } else if (const auto* cn = std::get_if<rdata::Cname>(&rec.data)) {
        put_name(out, cn->target);
      } else if (const auto* ptr = std::get_if<rdata::Ptr>(&rec.data)) {
        put_name(out, ptr->target);
      } else if (const auto* mx = std::get_if<rdata::Mx>(&rec.data)) {
        put_u16(out, mx->preference);
        put_name(out, mx->exchange);
      } else if (const auto* soa = std::get_if<rdata::Soa>(&rec.data)) {
        put_name(out, soa->mname);
        put_name(out, soa->rname);
        for (auto v : {soa->serial, soa->refresh, soa->retry, soa->expire, soa->minimum}) put_u32(out, v);
      } else if (const auto* op = std::get_if<rdata::Opaque>(&rec.data)) {
        out.insert(out.end(), op->data.begin(), op->data.end());
      }
      const auto rdlen = static_cast<std::uint16_t>(out.size() - len_at - 2);
      store_be16(out, len_at, rdlen);
    }
  }
  return out;
}

Bytes build_query(std::uint16_t id, const Name& name, std::uint16_t type, bool rd, std::uint16_t edns_payload) {
  Message m;
  m.header.id = id;
  m.header.rd = rd;
  m.questions.push_back(Question{name, type, kClassIn});
  if (edns_payload > 0) {
    // RFC 6891 §6.1.2: OPT owner is the root, CLASS carries the payload size, TTL the extended
    // RCODE/version/flags (all zero here).
    m.additional.push_back(Record{Name{}, static_cast<std::uint16_t>(Type::Opt), edns_payload, 0, rdata::Opaque{}});
  }
  return m.emit();
}

bool same_question(const Message& m, const Question& q) {
  return m.questions.size() == 1 && m.questions[0].name == q.name && m.questions[0].type == q.type &&
         m.questions[0].cls == q.cls;
}

// --- text ----------------------------------------------------------------------------------------

std::string type_name(std::uint16_t type) {
  switch (static_cast<Type>(type)) {
    case Type::A: return "A";
    case Type::Ns: return "NS";
    case Type::Cname: return "CNAME";
    case Type::Soa: return "SOA";
    case Type::Ptr: return "PTR";
    case Type::Mx: return "MX";
    case Type::Txt: return "TXT";
    case Type::Aaaa: return "AAAA";
    case Type::Opt: return "OPT";
  }
  return "TYPE" + std::to_string(type);
}

std::string class_name(std::uint16_t cls) { return cls == kClassIn ? "IN" : "CLASS" + std::to_string(cls); }

std::string rcode_name(std::uint8_t rcode) {
  static const char* kNames[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"};
  if (rcode < 6) return kNames[rcode];
  return "RCODE" + std::to_string(rcode);
}

const char* to_string(ParseError e) {
  switch (e) {
    case ParseError::TooShort: return "shorter than a DNS header";
    case ParseError::Truncated: return "runs past the end of the message";
    case ParseError::BadPointer: return "bad compression pointer";
    case ParseError::TooManyPointers: return "too many compression pointers";
    case ParseError::ReservedLabelType: return "reserved label type";
    case ParseError::NameTooLong: return "name longer than 255 octets";
    case ParseError::BadRdLength: return "RDLENGTH does not match the data";
    case ParseError::TrailingBytes: return "bytes after the last record";
  }
  return "malformed";
}

std::string Record::describe_rdata() const {
  if (const auto* a = std::get_if<rdata::A>(&data)) return a->address.describe();
  if (const auto* ns = std::get_if<rdata::Ns>(&data)) return ns->host.describe();
  if (const auto* cn = std::get_if<rdata::Cname>(&data)) return cn->target.describe();
  if (const auto* ptr = std::get_if<rdata::Ptr>(&data)) return ptr->target.describe();
  if (const auto* mx = std::get_if<rdata::Mx>(&data)) return std::to_string(mx->preference) + " " + mx->exchange.describe();
  if (const auto* soa = std::get_if<rdata::Soa>(&data)) {
    return soa->mname.describe() + " " + soa->rname.describe() + " " + std::to_string(soa->serial) + " " +
           std::to_string(soa->refresh) + " " + std::to_string(soa->retry) + " " + std::to_string(soa->expire) + " " +
           std::to_string(soa->minimum);
  }
  const auto& op = std::get<rdata::Opaque>(data).data;
  if (type == static_cast<std::uint16_t>(Type::Aaaa) && cls == kClassIn && op.size() == 16) return ipv6_text(op);
  if (type == static_cast<std::uint16_t>(Type::Txt)) {
    // RFC 1035 §3.3.14: one or more <character-string>s, shown as dig shows them: quoted, with
    // '"' and '\' escaped and other non-printable octets as \DDD (§5.1).
    std::string text;
    std::size_t i = 0;
    while (i < op.size()) {
      const std::size_t len = std::to_integer<std::size_t>(op[i]);
      if (i + 1 + len > op.size()) break;  // malformed: the generic form below
      if (!text.empty()) text += ' ';
      text += '"';
      for (std::size_t k = i + 1; k <= i + len; ++k) {
        const auto c = std::to_integer<unsigned char>(op[k]);
        if (c == '"' || c == '\\') {
          text += '\\';
          text += static_cast<char>(c);
        } else if (c < 0x20 || c > 0x7e) {
          text += '\\';
          text += static_cast<char>('0' + c / 100);
          text += static_cast<char>('0' + c / 10 % 10);
          text += static_cast<char>('0' + c % 10);
        } else {
          text += static_cast<char>(c);
        }
      }
      text += '"';
      i += 1 + len;
    }
    if (i == op.size() && !op.empty()) return text;
  }
  // RFC 3597 §5: the generic form.
  // Appended piece by piece: g++ 12 at -O3 warns (-Wrestrict, a false positive) on
  // `"literal" + std::string&&`.
  std::string generic = "\\# ";
  generic += std::to_string(op.size());
  if (!op.empty()) {
    generic += ' ';
    generic += hex_bytes(op);
  }
  return generic;
}

std::string Record::describe() const {
  return name.describe() + "\t" + std::to_string(ttl) + "\t" + class_name(cls) + "\t" + type_name(type) + "\t" +
         describe_rdata();
}

std::string Message::describe() const {
  const Header& h = header;
  std::string s = std::to_string(h.id);
  auto edns = std::count_if(additional.begin(), additional.end(),
                            [](const Record& r) { return r.type == static_cast<std::uint16_t>(Type::Opt); });
  // Appended piece by piece: g++ 12 -O2 reports a false -Wrestrict on "literal" + std::string.
  auto question = [&] {
    std::string q;
    if (questions.size() != 1) return q;
    q += ' ';
    q += type_name(questions[0].type);
    q += "? ";
    q += questions[0].name.describe();
    return q;
  };
  if (!h.qr) {
    // tcpdump: '+' recursion desired, then [Nau] for additional records, then the question.
    if (h.rd) s += "+";
    if (h.arcount) {
      s += " [";
      s += std::to_string(h.arcount);
      s += edns ? "au]" : "a]";
    }
    return s + question();
  }
  // tcpdump: the rcode when not 0, then '*' authoritative, '-' recursion not available, '|'
  // truncated ("52298 NXDomain*- 0/1/1").
  if (h.rcode) {
    static const char* kTcpdump[] = {"", " FormErr", " ServFail", " NXDomain", " NotImp", " Refused"};
    if (h.rcode < 6) {
      s += kTcpdump[h.rcode];
    } else {
      s += ' ';
      s += rcode_name(h.rcode);
    }
  }
  if (h.aa) s += "*";
  if (!h.ra) s += "-";
  if (h.tc) s += "|";
  s += ' ';
  s += std::to_string(answers.size());
  s += '/';
  s += std::to_string(authority.size());
  s += '/';
  s += std::to_string(additional.size());
  for (std::size_t i = 0; i < answers.size(); ++i) {
    s += (i ? ", " : " ") + type_name(answers[i].type) + " " + answers[i].describe_rdata();
  }
  return s;
}

}  // namespace stack::wire::dns
