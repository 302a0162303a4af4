#include "apps/minibrowser/segments.hpp"

#include <algorithm>

#include "stack/wire/describe.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/ipv4.hpp"

namespace minibrowser {

using stack::Duration;
using stack::Instant;

namespace {

std::string ms(Duration d) {
  const auto us = d.micros();
  return std::to_string(us / 1000) + "." + std::to_string((us % 1000) / 100) + " ms";
}

// Terminal columns of UTF-8 text (every code point one column: arrows and dots included).
std::size_t columns(const std::string& s) {
  std::size_t n = 0;
  for (const char c : s) n += (static_cast<unsigned char>(c) & 0xc0) != 0x80;
  return n;
}

// "SYN: our ISN 268684781, MSS 1460, SACK ok, window scale 2, TS": the options the SYN carries
// in `budget` columns — without "our"/"their" when that makes them fit (the arrow says whose), then
// with "wscale", else as many as fit and "…" (-v shows them all).
std::string syn_gloss(const std::string& kind, const std::string& whose, std::uint32_t isn, const stack::wire::tcp::Repr& seg,
                      std::size_t budget) {
  std::vector<std::string> parts;
  if (seg.mss) parts.push_back("MSS " + std::to_string(*seg.mss));
  if (seg.sack_permitted) parts.push_back("SACK ok");
  if (seg.window_scale) parts.push_back("window scale " + std::to_string(*seg.window_scale));
  if (seg.timestamps) parts.push_back("TS");
  if (parts.empty()) parts.push_back("no options");
  std::string all, shorter;  // shorter: "wscale" for "window scale", as tcpdump says it
  for (const auto& p : parts) {
    all += ", " + p;
    shorter += ", " + (p.rfind("window scale ", 0) == 0 ? "wscale " + p.substr(13) : p);
  }
  const std::string isn_text = "ISN " + std::to_string(isn);
  for (const std::string& head : {kind + ": " + whose + " " + isn_text, kind + ": " + isn_text}) {
    if (columns(head + all) <= budget) return head + all;
  }
  if (columns(kind + ": " + isn_text + shorter) <= budget) return kind + ": " + isn_text + shorter;
  std::string out = kind + ": " + isn_text;
  for (const auto& p : parts) {
    if (columns(out) + 2 + columns(p) + 3 > budget) return out + ", …";
    out += ", " + p;
  }
  return out;
}

}  // namespace

std::optional<std::string> SegmentNarrator::retransmitted(const stack::socket::TcpEndpoint& local,
                                                          const stack::socket::TcpEndpoint& remote,
                                                          stack::wire::tcp::SeqNum seq) const {
  const auto f = flows_.find(Key{local.port, remote.addr.value, remote.port});
  if (f == flows_.end()) return std::nullopt;
  const auto s = f->second.sent.find(seq.raw);
  // The frame that just left (the event follows its frame at once), and not a first transmission.
  if (s == f->second.sent.end() || s->second.frame != frame_number_ || s->second.prev_frame == 0) return std::nullopt;
  return "[frame " + std::to_string(s->second.frame) + "] → retransmission of frame " + std::to_string(s->second.prev_frame) +
         " (" + s->second.kind + ", seq " + std::to_string(seq.raw) + ") " + ms(s->second.at - s->second.prev_at) + " after it";
}

SegmentNarrator::Repeat SegmentNarrator::track(Flow& flow, int dir, const stack::wire::tcp::Repr& seg, std::uint64_t frame,
                                                Instant at) {
  Stream& st = flow.stream[dir];
  Repeat r;
  if (seg.flags.syn) {
    if (st.syn_frame && flow.isn[dir] && *flow.isn[dir] == seg.seq) {
      r = {true, false, st.syn_frame, st.syn_at};
    } else {
      st.syn_frame = frame;
      st.syn_at = at;
      st.next = 0;
      st.ahead.clear();
    }
  }
  if (!flow.isn[dir]) return r;  // no SYN seen from this side: nothing to compare with
  if (!seg.payload.empty()) {
    // As the capture analysis counts: data that starts before the bytes already in order.
    const auto rel = static_cast<std::uint32_t>((seg.flags.syn ? seg.seq + 1 : seg.seq) - (*flow.isn[dir] + 1));
    const auto delta = static_cast<std::int32_t>(rel - static_cast<std::uint32_t>(st.next));
    const std::int64_t begin = static_cast<std::int64_t>(st.next) + delta;
    const std::int64_t end = begin + static_cast<std::int64_t>(seg.payload.size());
    const auto next = static_cast<std::int64_t>(st.next);
    if (begin < next) {
      r.again = true;
      r.in_part = end > next;
      r.frame = 0;
      for (const auto& d : flow.data[dir]) {
        if (begin >= 0 && static_cast<std::uint64_t>(begin) >= d.begin && static_cast<std::uint64_t>(begin) < d.end) {
          r.frame = d.frame;
          r.at = d.at;
          break;
        }
      }
    }
    if (begin <= next && end > next) {
      st.next = static_cast<std::uint64_t>(end);
      while (!st.ahead.empty() && st.ahead.begin()->first <= st.next) {
        st.next = std::max(st.next, st.ahead.begin()->second);
        st.ahead.erase(st.ahead.begin());
      }
    } else if (begin > next && st.ahead.size() < 1024) {
      auto& e = st.ahead[static_cast<std::uint64_t>(begin)];
      e = std::max(e, static_cast<std::uint64_t>(end));
    }
  }
  if (seg.flags.fin) {
    const auto fin_seq = seg.seq + static_cast<std::uint32_t>(seg.payload.size());
    if (seg.payload.empty() && st.fin_frame && flow.fin_seq[dir] && *flow.fin_seq[dir] == fin_seq) {
      r = {true, false, st.fin_frame, st.fin_at};
    } else if (!st.fin_frame) {
      st.fin_frame = frame;
      st.fin_at = at;
    }
  }
  return r;
}

std::vector<std::string> SegmentNarrator::on_frame(bool outgoing, Instant at, std::span<const std::byte> frame) {
  ++frame_number_;
  auto eth = stack::wire::ethernet::View::checked(frame);
  if (!eth || eth->ethertype() != stack::wire::EtherType::Ipv4) return {};
  auto ip = stack::wire::ipv4::View::checked(eth->payload());
  if (!ip || ip->protocol() != stack::wire::IpProtocol::Tcp || ip->frag_offset() != 0) return {};
  auto tcp = stack::wire::tcp::View::checked(ip->payload());
  if (!tcp) return {};
  auto seg = stack::wire::tcp::Repr::parse(*tcp);
  if (!seg) return {};
  const Key key = outgoing ? Key{seg->src_port, ip->dst().value, seg->dst_port} : Key{seg->dst_port, ip->src().value, seg->src_port};
  Flow& flow = flows_[key];
  const int dir = outgoing ? 0 : 1;
  const int number = number_of ? number_of(std::get<0>(key), stack::wire::Ipv4Address{std::get<1>(key)}, std::get<2>(key)) : 0;
  const std::string conn_tag = number ? " #" + std::to_string(number) + " " : std::string(" ");
  const std::string frame_tag = conn_tag + "[frame " + std::to_string(frame_number_) + "] " + (outgoing ? "→ " : "← ");
  const std::size_t budget = kColumns - kPrefix - columns(frame_tag);
  const std::string whose = outgoing ? "our" : "their";
  std::string what;
  // Before the flow's FIN and ISN records change: is this a segment sent again?
  const Repeat repeat = track(flow, dir, *seg, frame_number_, at);
  if (repeat.again && seg->flags.fin && flow.stream[dir].fin_frame == frame_number_) {
    // Data sent again with a FIN that is new: the close goes on from this FIN.
    flow.fin[dir] = flow.fin_unacked[dir] = true;
    flow.fin_seq[dir] = seg->seq + static_cast<std::uint32_t>(seg->payload.size());
  }
  if (repeat.again && outgoing) {
    // Ours: the stack's retransmission event says it, with its reason (retransmitted()).
  } else if (repeat.again) {
    const std::string kind = seg->flags.syn ? "SYN+ACK again: " : seg->flags.fin && seg->payload.empty() ? "FIN again: " : "";
    const std::string part = repeat.in_part ? " (in part: the rest is new)" : "";
    if (repeat.frame) {
      what = kind + "retransmission of frame " + std::to_string(repeat.frame) + ", " + ms(at - repeat.at) + " after it" + part;
      if (columns(what) > budget) what = kind + "retransmission of frame " + std::to_string(repeat.frame) + part;
    } else {
      what = kind + "retransmission of data we already had" + part;
    }
  } else if (seg->flags.rst) {
    what = outgoing ? "RST: we abort the connection" : "RST: the server aborts the connection";
  } else if (seg->flags.syn) {
    what = syn_gloss(seg->ack ? "SYN+ACK" : "SYN", whose, seg->seq.raw, *seg, budget);
    if (seg->ack && !outgoing) flow.synack_in = true;
  } else if (seg->flags.fin) {
    // RFC 9293 §3.6: the second FIN may ride on the ACK of the first (three segments in all), or
    // follow an ACK sent on its own (four). Which one it is, from the ACK number this FIN carries.
    const bool acks_other = flow.fin[1 - dir] && seg->ack && flow.fin_seq[1 - dir] &&
                            (*seg->ack - (*flow.fin_seq[1 - dir] + 1)) >= 0;
    if (!flow.fin[1 - dir]) {
      what = outgoing ? "FIN, the first: we are done sending and will be in TIME-WAIT"
                      : "FIN, the first: the server is done sending; it gets TIME-WAIT";
    } else if (acks_other && flow.fin_unacked[1 - dir]) {
      what = "FIN+ACK, also acking the other FIN: a three-segment close";
    } else {
      what = "FIN after a separate ACK of the other FIN: a four-segment close";
    }
    if (acks_other) flow.fin_unacked[1 - dir] = false;
    flow.fin[dir] = flow.fin_unacked[dir] = true;
    flow.fin_seq[dir] = seg->seq + static_cast<std::uint32_t>(seg->payload.size());
  } else if (seg->payload.empty() && seg->ack) {
    if (outgoing && flow.synack_in && !flow.handshake_done) {
      what = "ACK (handshake complete): acknowledges their ISN + 1";
      flow.handshake_done = true;
    } else if (flow.fin_unacked[1 - dir]) {
      what = "ACK of the FIN";
      flow.fin_unacked[1 - dir] = false;
    }
  }
  // Where each data byte travelled, for the TLS narration (the handshake is in the first few
  // segments, so only the first ones of each direction are kept).
  if (seg->flags.syn) flow.isn[dir] = seg->seq;
  if (!seg->payload.empty() && flow.isn[dir] && flow.data[dir].size() < 256 && (!repeat.again || repeat.in_part)) {
    const auto begin = static_cast<std::uint64_t>(static_cast<std::uint32_t>(seg->seq - (*flow.isn[dir] + 1)));
    flow.data[dir].push_back({begin, begin + seg->payload.size(), frame_number_, at});
  }
  // Each outgoing segment that occupies sequence space is remembered with the transmission
  // before it, for retransmitted() (the SYN, the FIN, data: bounded, the oldest forgotten).
  if (outgoing && seg->segment_len() > 0) {
    auto& sent = flow.sent[seg->seq.raw];
    sent.prev_frame = sent.frame;
    sent.prev_at = sent.at;
    sent.frame = frame_number_;
    sent.at = at;
    sent.kind = seg->flags.syn ? "the SYN" : seg->payload.empty() ? "the FIN" : std::to_string(seg->payload.size()) + " bytes";
    if (flow.sent.size() > 4096) flow.sent.erase(flow.sent.begin());
  }
  if (what.empty()) return {};
  std::vector<std::string> lines{frame_tag + what};
  if (verbose_) lines.push_back(conn_tag + "[frame " + std::to_string(frame_number_) + "]   " + stack::wire::describe_frame(frame));
  return lines;
}

std::uint64_t SegmentNarrator::frame_of(const stack::socket::TcpEndpoint& local, const stack::socket::TcpEndpoint& remote,
                                        bool outgoing, std::uint64_t offset) const {
  const auto it = flows_.find(Key{local.port, remote.addr.value, remote.port});
  if (it == flows_.end()) return 0;
  for (const auto& d : it->second.data[outgoing ? 0 : 1]) {
    if (offset >= d.begin && offset < d.end) return d.frame;
  }
  return 0;
}

}  // namespace minibrowser
