#include "apps/minibrowser/narration.hpp"

#include <utility>
#include <variant>

#include "stack/events.hpp"
#include "stack/wire/describe.hpp"

namespace minibrowser {

using stack::Duration;
using stack::Instant;

Narration::Narration(appkit::Host& host, const Options& options)
    : host_(host),
      narrator_(options.level, host.now(), options.colour),
      citer_(options.net.pcap.has_value(), host.frames_seen()),
      segments_(host.frames_seen(), options.verbose) {
  segments_.number_of = [this](std::uint16_t local_port, stack::wire::Ipv4Address remote, std::uint16_t remote_port) {
    return pool_ ? pool_->number_of(local_port, remote, remote_port) : 0;
  };
}

void Narration::cited(int level, Instant at, std::vector<appkit::FrameWant> frames, std::string text) {
  if (!narrator_.wants(level)) return;
  citer_.say(std::move(frames), at, [this, level, text = std::move(text)](Instant when, const std::string& cite) {
    const auto colon = text.find(": ");
    narrator_.say(level, when, cite.empty() || colon == std::string::npos ? text : text.substr(0, colon) + " " + cite + text.substr(colon + 2));
  });
}

// --- level 7: the wire as the narrator sees it ------------------------------------------------
void Narration::listen() {
  host_.add_event_listener([this](Instant at, const stack::Event& e) {
    if (std::holds_alternative<stack::event::Dropped>(e)) return;  // --stats counts those
    cited(7, at, appkit::wants_of(e), stack::describe(e));
  });
  host_.add_frame_listener(
      [this](bool outgoing, Instant at, std::span<const std::byte> frame) { on_frame(outgoing, at, frame); });
  host_.iface().tcp().on_event = [this](const stack::socket::TcpEvent& e) { on_tcp_event(e); };
}

void Narration::on_frame(bool outgoing, Instant at, std::span<const std::byte> frame) {
  citer_.on_frame(outgoing, at, frame);  // counts it, and says the lines that waited for it
  if (narrator_.wants(7)) {
    auto& iface = host_.iface();
    if (auto l = nat_.on_frame(outgoing, frame, iface.address(), iface.gateway())) narrator_.say(7, at, *l);
  }
  // Always: it counts frames for the pcap numbers.
  // -v's tcpdump line (after the gloss) stays one line, as tcpdump prints it.
  const auto lines = segments_.on_frame(outgoing, at, frame);
  for (std::size_t i = 0; i < lines.size(); ++i) narrator_.say(6, at, "TCP" + lines[i], i == 0);
}

std::string Narration::tcp_n(stack::socket::SocketId id) const {
  const int n = pool_ ? pool_->number_of(id) : 0;
  return n ? "TCP #" + std::to_string(n) : std::string("TCP");
}

void Narration::on_tcp_event(const stack::socket::TcpEvent& e) {
  using namespace stack::socket::tcp_event;
  const Instant at = host_.now();
  if (const auto* s = std::get_if<StateChanged>(&e)) {
    narrator_.say(6, at, tcp_n(s->id) + ": " + stack::socket::to_string(s->from) + " → " +
                             stack::socket::to_string(s->to));
  } else if (const auto* f = std::get_if<FinSent>(&e)) {
    if (f->first) narrator_.say(6, at, tcp_n(f->id) + ": we send the first FIN: we will be the side in TIME-WAIT");
  } else if (const auto* f2 = std::get_if<FinReceived>(&e)) {
    if (f2->first) narrator_.say(6, at, tcp_n(f2->id) + ": the server sent the first FIN: it will be the side in TIME-WAIT");
  } else if (const auto* r = std::get_if<Retransmitted>(&e)) {
    retransmitted(at, *r);
  } else if (std::holds_alternative<RstReceived>(e) || std::holds_alternative<RstSent>(e)) {
    narrator_.say(6, at, stack::socket::describe(e));
  }
}

// Said with the frame that carried it (SegmentNarrator), naming the frame it repeats and the
// time that really passed. The event's rto is the timeout for the next time, already
// doubled (RFC 6298 §5.5), not the one that fired.
void Narration::retransmitted(Instant at, const stack::socket::tcp_event::Retransmitted& r) {
  using stack::socket::tcp_event::RetransmitCause;
  const char* why = r.cause == RetransmitCause::Timeout ? "no ACK came in time, the retransmission timer fired"
                    : r.cause == RetransmitCause::FastRetransmit ? "fast retransmit after three duplicate ACKs (RFC 5681 §3.2)"
                    : r.cause == RetransmitCause::SackRecovery ? "SACK loss recovery (RFC 6675)"
                    : r.cause == RetransmitCause::RackLoss ? "RACK: a segment sent after it arrived and a round trip passed (RFC 8985)"
                    : r.cause == RetransmitCause::TailLossProbe ? "a tail loss probe: no ACK for two round trips (RFC 8985 §7)"
                                                               : "a partial ACK in recovery (RFC 6582)";
  std::string text = why;
  if (r.cause == RetransmitCause::Timeout) {
    // RFC 6298 §5.5 doubled the timeout as it fired, up to the 60 s ceiling (§2.5): below the
    // ceiling, the timer that fired was half the event's value, armed at the segment's last
    // transmission or at the last ACK that moved SND.UNA.
    constexpr Duration kCeiling = Duration::from_secs(60);
    text += r.rto < kCeiling ? " (RTO " + ms(Duration::from_micros(r.rto.micros() / 2)) +
                                   ", counted from the last transmission or the last ACK); the next timeout is doubled to " +
                                   ms(r.rto) + " (RFC 6298 §5.5)"
                             : " (the RTO is at its 60 s ceiling, RFC 6298 §2.5)";
  }
  const auto* tcb = host_.iface().tcp().tcb(r.id);
  if (auto line = tcb ? segments_.retransmitted(tcb->local(), tcb->remote(), r.seq) : std::nullopt) {
    narrator_.say(6, at, tcp_n(r.id) + " " + *line + ": " + text);
  } else {
    narrator_.say(6, at, tcp_n(r.id) + ": retransmission of seq " + std::to_string(r.seq.raw) + ": " + text);
  }
}

void Narration::dns_event(const appkit::DnsEvent& e) {
  std::vector<appkit::FrameWant> frames;
  // A datagram, or over TCP (a truncated answer asked again, RFC 7766) the segment: the
  // SYN, the SYN+ACK, the one that completes the query or the answer, our FIN.
  using Tcp = appkit::DnsEvent::Datagram::Tcp;
  using Segment = appkit::FrameFacts::Segment;
  if (e.datagram && e.datagram->tcp == Tcp::No) {
    frames.push_back(appkit::FrameWant::dns(e.datagram->outgoing, e.datagram->id, e.datagram->server));
  } else if (e.datagram) {
    const auto d = *e.datagram;
    const Segment segment = d.tcp == Tcp::Syn      ? Segment::Syn
                            : d.tcp == Tcp::SynAck ? Segment::SynAck
                            : d.tcp == Tcp::Fin    ? Segment::Fin
                                                   : Segment::Message;
    frames.push_back(appkit::FrameWant::dns_tcp(d.outgoing, segment, d.server,
                                                d.tcp == Tcp::Message ? std::optional<std::uint16_t>(d.id) : std::nullopt));
  }
  cited(5, e.at, std::move(frames), e.text);
}

// --- TLS (level 6) ---------------------------------------------------------------------------------
std::string Narration::tls_frame(stack::socket::SocketId sock, const appkit::tls::HandshakeMessage& m) const {
  const auto* tcb = host_.iface().tcp().tcb(sock);
  if (!tcb || (!m.outgoing && m.stream_offset == 0)) return "";
  // Outgoing: the record's first byte; incoming: its last (see tls::HandshakeMessage).
  const auto f = segments_.frame_of(tcb->local(), tcb->remote(), m.outgoing,
                                    m.outgoing ? m.stream_offset : m.stream_offset - 1);
  return f ? "[frame " + std::to_string(f) + "] " : "";
}

void Narration::tls_handshake(int number, stack::socket::SocketId sock, const appkit::tls::Session& t, Duration took,
                              const appkit::tls::Context& context, bool verify) {
  const std::string conn = "TLS: connection #" + std::to_string(number) + ": ";
  const auto chain = t.peer_chain();
  for (const auto& m : t.messages()) {
    std::string what = std::string(m.outgoing ? "→ " : "← ") + appkit::tls::handshake_type_name(m.type);
    switch (m.type) {
      case 1:
        what += " (offers TLS 1.2 and 1.3" + (t.sni_sent() ? ", SNI " + t.host() : std::string(", no SNI: an IP address")) +
                ", ALPN http/1.1" + (t.offered_session() ? ", a saved session to resume" : "") + ")";
        break;
      case 2: what += " (chooses " + t.version() + ", " + t.cipher() + ")"; break;
      case 8: what += " (ALPN " + (t.alpn().empty() ? std::string("none") : t.alpn()) + "; encrypted from here on)"; break;
      case 11:
        if (!m.outgoing) what += " (" + std::to_string(chain.size()) + " certificate(s), below)";
        break;
      case 4: what += " (a ticket for resuming later)"; break;
      default: break;
    }
    narrator_.say(6, host_.now(), conn + tls_frame(sock, m) + what);
  }
  if (!t.resumed()) certificates(conn, t, chain, context, verify);
  narrator_.say(6, host_.now(), conn + (t.resumed() ? "resumed handshake" : "full handshake") + " in " + ms(took) +
                                    ": " + t.version() + ", " + t.cipher() +
                                    (t.resumed() ? " (no Certificate: the saved session vouches for the server)" : ""));
}

// The server's chain, and whether it was verified (-k: a warning at level 1, every time).
void Narration::certificates(const std::string& conn, const appkit::tls::Session& t,
                             const std::vector<appkit::tls::CertInfo>& chain, const appkit::tls::Context& context,
                             bool verify) const {
  for (std::size_t i = 0; i < chain.size(); ++i) {
    const auto& c = chain[i];
    std::string sans;
    for (const auto& n : c.sans) sans += (sans.empty() ? "" : ", ") + n;
    narrator_.say(6, host_.now(), conn + "  certificate [" + std::to_string(i) + "] " + c.subject + ", issued by " +
                                      c.issuer + ", valid " + c.not_before + " to " + c.not_after +
                                      (sans.empty() ? "" : ", names " + sans));
  }
  if (verify) {
    const auto anchor = t.trust_anchor();
    narrator_.say(6, host_.now(), conn + "  verified: " + t.matched_name() + " matches " + t.host() +
                                      ", and the chain ends at " + (anchor ? anchor->subject : std::string("?")) +
                                      " from " + context.trust_description());
  } else {
    narrator_.say(1, host_.now(), "WARNING: --insecure: the certificate of " + t.host() + " is NOT verified" +
                                      (t.insecure_problem().empty() ? " (it would have passed)"
                                                                    : ": " + t.insecure_problem()));
  }
}

void Narration::nat_mappings() const {
  if (!narrator_.wants(7)) return;
  for (const auto& line : nat_.mappings()) narrator_.say(7, host_.now(), line);
}

}  // namespace minibrowser
