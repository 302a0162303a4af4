#include "stack/wire/tcp.hpp"

#include <cassert>

#include <algorithm>

#include "stack/wire/checksum.hpp"

namespace stack::wire::tcp {

std::uint16_t segment_checksum(std::span<const std::byte> segment, Ipv4Address src, Ipv4Address dst) {
  ChecksumAccumulator sum;
  sum.add_pseudo_header(src, dst, IpProtocol::Tcp, static_cast<std::uint16_t>(segment.size()));
  sum.add(segment);
  return sum.finish();
}

std::uint16_t pseudo_header_sum(Ipv4Address src, Ipv4Address dst, std::size_t len) {
  ChecksumAccumulator sum;
  sum.add_pseudo_header(src, dst, IpProtocol::Tcp, static_cast<std::uint16_t>(len));
  return static_cast<std::uint16_t>(~sum.finish());
}

namespace {

constexpr std::size_t kMaxOptionsLen = kMaxHeaderLen - kMinHeaderLen;  // 40
using OptionBytes = std::array<std::byte, kMaxOptionsLen>;

// Appends options in the order Linux uses, so our SYNs look like the kernel's in a capture:
// SYN "mss,sackOK,TS,nop,wscale"; other segments "nop,nop,TS" then "nop,nop,sack".
std::size_t encode_options(const Repr& r, OptionBytes& out) {
  std::size_t n = 0;
  auto put8 = [&](std::uint8_t v) { out[n++] = std::byte{v}; };
  auto put16 = [&](std::uint16_t v) { put8(static_cast<std::uint8_t>(v >> 8)); put8(static_cast<std::uint8_t>(v)); };
  auto put32 = [&](std::uint32_t v) { put16(static_cast<std::uint16_t>(v >> 16)); put16(static_cast<std::uint16_t>(v)); };
  if (r.mss) { put8(option::kMss); put8(4); put16(*r.mss); }
  if (r.sack_permitted && r.timestamps) {
    put8(option::kSackPermitted); put8(2);
  } else if (r.sack_permitted) {
    put8(option::kNop); put8(option::kNop); put8(option::kSackPermitted); put8(2);
  } else if (r.timestamps) {
    put8(option::kNop); put8(option::kNop);
  }
  if (r.timestamps) { put8(option::kTimestamps); put8(10); put32(r.timestamps->first); put32(r.timestamps->second); }
  if (r.window_scale) { put8(option::kNop); put8(option::kWindowScale); put8(3); put8(*r.window_scale); }
  const auto blocks = std::count_if(r.sack_blocks.begin(), r.sack_blocks.end(), [](auto& b) { return b.has_value(); });
  if (blocks > 0) {
    // As many blocks as fit in what is left of the 40 bytes (RFC 2018 §3: 3 with timestamps).
    // The options before the blocks take at most 20 bytes (MSS, SACK-permitted, timestamps,
    // window scale: a SYN's set), so the subtraction cannot wrap; checked all the same.
    assert(n + 4 <= kMaxOptionsLen);
    const std::size_t room = n + 4 <= kMaxOptionsLen ? kMaxOptionsLen - n - 4 : 0;
    const std::size_t fit = std::min<std::size_t>(static_cast<std::size_t>(blocks), room / 8);
    if (fit > 0) {
      put8(option::kNop); put8(option::kNop); put8(option::kSack); put8(static_cast<std::uint8_t>(2 + 8 * fit));
      std::size_t written = 0;
      for (const auto& b : r.sack_blocks) {
        if (!b || written == fit) continue;
        put32(b->left.raw); put32(b->right.raw);
        ++written;
      }
    }
  }
  while (n % 4 != 0) put8(option::kEnd);  // RFC 9293 §3.1: padding is zeros
  return n;
}

// Walks the option list. Calls `on_option(kind, body)` for every option that is not EOL/NOP
// and `on_nop()` for NOPs. Returns false when the list is malformed (docs/hostile-inputs.md #37, #38).
template <class OnOption, class OnNop>
bool walk_options(std::span<const std::byte> opts, OnOption on_option, OnNop on_nop) {
  std::size_t i = 0;
  while (i < opts.size()) {
    const auto kind = static_cast<std::uint8_t>(opts[i]);
    if (kind == option::kEnd) break;
    if (kind == option::kNop) { on_nop(); ++i; continue; }
    if (i + 1 >= opts.size()) return false;               // kind byte with no length byte
    const auto len = static_cast<std::size_t>(opts[i + 1]);
    if (len < 2 || i + len > opts.size()) return false;  // length 0/1 or past the header
    on_option(kind, opts.subspan(i + 2, len - 2));
    i += len;
  }
  return true;
}

}  // namespace

std::optional<Repr> Repr::parse(const View& p) {
  Repr r;
  r.src_port = p.src_port();
  r.dst_port = p.dst_port();
  r.seq = p.seq();
  if (p.ack()) r.ack = p.ack_number();
  r.flags = Flags{.fin = p.fin(), .syn = p.syn(), .rst = p.rst(), .psh = p.psh(), .urg = p.urg(),
                  .ece = (p.flags() & flag::kEce) != 0, .cwr = (p.flags() & flag::kCwr) != 0};
  r.window_raw = p.window();
  r.urgent_ptr = p.urgent_pointer();
  r.payload = p.payload();
  // A known option with the wrong length is ignored, not fatal (docs/hostile-inputs.md #39: "bad-length
  // option ignored"); unknown kinds are skipped (RFC 9293 MUST-6).
  const bool ok = walk_options(
      p.options(),
      [&](std::uint8_t kind, std::span<const std::byte> body) {
        switch (kind) {
          case option::kMss:
            if (body.size() == 2) r.mss = load_be16(body, 0);
            break;
          case option::kWindowScale:
            if (body.size() == 1) r.window_scale = load_u8(body, 0);
            break;
          case option::kSackPermitted:
            if (body.empty()) r.sack_permitted = true;
            break;
          case option::kTimestamps:
            if (body.size() == 8) r.timestamps = std::pair{load_be32(body, 0), load_be32(body, 4)};
            break;
          case option::kSack:
            if (body.size() % 8 == 0 && !body.empty() && body.size() <= 32) {
              for (std::size_t b = 0; b < body.size() / 8; ++b)
                r.sack_blocks[b] = SackBlock{{load_be32(body, 8 * b)}, {load_be32(body, 8 * b + 4)}};
            }
            break;
          default:
            break;
        }
      },
      [] {});
  if (!ok) return std::nullopt;
  return r;
}

std::size_t Repr::header_len() const {
  OptionBytes opts;
  return kMinHeaderLen + encode_options(*this, opts);
}

void Repr::emit(ViewMut& p, Ipv4Address src, Ipv4Address dst, ChecksumMode mode) const {
  OptionBytes opts;
  const std::size_t opts_len = encode_options(*this, opts);
  const std::size_t hlen = kMinHeaderLen + opts_len;
  std::uint8_t bits = 0;
  if (flags.fin) bits |= flag::kFin;
  if (flags.syn) bits |= flag::kSyn;
  if (flags.rst) bits |= flag::kRst;
  if (flags.psh) bits |= flag::kPsh;
  if (ack) bits |= flag::kAck;
  if (flags.urg) bits |= flag::kUrg;
  if (flags.ece) bits |= flag::kEce;
  if (flags.cwr) bits |= flag::kCwr;
  p.set_src_port(src_port);
  p.set_dst_port(dst_port);
  p.set_seq(seq);
  p.set_ack_number(ack.value_or(SeqNum{0}));
  p.set_header_len_and_flags(hlen, bits);
  p.set_window(window_raw);
  p.set_urgent_pointer(urgent_ptr);
  auto out = p.bytes();
  std::copy_n(opts.begin(), opts_len, out.begin() + static_cast<std::ptrdiff_t>(kMinHeaderLen));
  std::copy(payload.begin(), payload.end(), out.begin() + static_cast<std::ptrdiff_t>(hlen));
  if (mode == ChecksumMode::Partial) p.fill_partial_checksum(src, dst);
  else p.fill_checksum(src, dst);
}

std::string describe_flags(const Repr& r) {
  std::string s = "[";
  if (r.flags.syn) s += 'S';
  if (r.flags.fin) s += 'F';
  if (r.flags.rst) s += 'R';
  if (r.flags.psh) s += 'P';
  if (r.flags.urg) s += 'U';
  if (r.flags.ece) s += 'E';
  if (r.flags.cwr) s += 'W';
  if (r.ack) s += '.';
  if (s.size() == 1) s += "none";
  return s + "]";
}

std::string Repr::describe() const {
  std::string s = "Flags " + describe_flags(*this) + ", seq " + std::to_string(seq.raw);
  if (!payload.empty()) {
    s += ':';  // not ":" + to_string(): g++ 12 -O2 reports a false -Wrestrict on it
    s += std::to_string((seq + static_cast<std::uint32_t>(payload.size())).raw);
  }
  if (ack) s += ", ack " + std::to_string(ack->raw);
  s += ", win " + std::to_string(window_raw);
  // Print the options from the bytes we would emit, so NOPs appear where tcpdump shows them.
  OptionBytes opts;
  const std::size_t n = encode_options(*this, opts);
  if (n > 0) {
    std::string list;
    auto add = [&](const std::string& item) { list += (list.empty() ? "" : ",") + item; };
    (void)walk_options(
        std::span<const std::byte>(opts.data(), n),
        [&](std::uint8_t kind, std::span<const std::byte> body) {
          switch (kind) {
            case option::kMss: add("mss " + std::to_string(load_be16(body, 0))); break;
            case option::kWindowScale: add("wscale " + std::to_string(load_u8(body, 0))); break;
            case option::kSackPermitted: add("sackOK"); break;
            case option::kTimestamps:
              add("TS val " + std::to_string(load_be32(body, 0)) + " ecr " + std::to_string(load_be32(body, 4)));
              break;
            case option::kSack: {
              std::string blocks = "sack " + std::to_string(body.size() / 8);
              for (std::size_t b = 0; b < body.size() / 8; ++b)
                blocks += " {" + std::to_string(load_be32(body, 8 * b)) + ":" + std::to_string(load_be32(body, 8 * b + 4)) + "}";
              add(blocks);
              break;
            }
            default: break;
          }
        },
        [&] { add("nop"); });
    s += ", options [" + list + "]";
  }
  return s + ", length " + std::to_string(payload.size());
}

bool Repr::operator==(const Repr& o) const {
  return src_port == o.src_port && dst_port == o.dst_port && seq == o.seq && ack == o.ack && flags == o.flags &&
         window_raw == o.window_raw && urgent_ptr == o.urgent_ptr && mss == o.mss && window_scale == o.window_scale &&
         sack_permitted == o.sack_permitted && timestamps == o.timestamps && sack_blocks == o.sack_blocks &&
         std::equal(payload.begin(), payload.end(), o.payload.begin(), o.payload.end());
}

}  // namespace stack::wire::tcp
