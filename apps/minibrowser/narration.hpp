// What the mini-browser tells of the layers below the page, at levels 5-7 (docs/levels.md): the
// stack's events and the wire as the narrator sees them (ARP, NAT, TCP segments and states), the
// DNS and DHCP lines with the numbers of their frames, and the TLS handshakes. The lines about
// the page itself come from the Session and the Page.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "apps/common/dns_resolver.hpp"
#include "apps/common/frame_cite.hpp"
#include "apps/common/host.hpp"
#include "apps/common/nat_view.hpp"
#include "apps/common/tls.hpp"
#include "apps/minibrowser/narrator.hpp"
#include "apps/minibrowser/options.hpp"
#include "apps/minibrowser/pool.hpp"
#include "apps/minibrowser/segments.hpp"

namespace minibrowser {

class Narration {
 public:
  Narration(appkit::Host& host, const Options& options);
  Narration(const Narration&) = delete;
  Narration& operator=(const Narration&) = delete;
  // Lines still waiting for their frames are said at exit, without the numbers.
  ~Narration() { citer_.flush(); }

  bool wants(int level) const { return narrator_.wants(level); }
  // A line at the host's current time.
  void say(int level, const std::string& text) const { narrator_.say(level, host_.now(), text); }
  // A line about `frames`: "DNS: asking …" becomes "DNS [frame 9] asking …", as "TCP #1 [frame 12]
  // → SYN: …" (the line's first ": " gives way to the number). A line whose frame has not left yet
  // waits for it (frame_cite.hpp).
  void cited(int level, stack::Instant at, std::vector<appkit::FrameWant> frames, std::string text);

  // Listens to the host's events and frames and to the TCP layer (level 6-7 lines).
  void listen();
  // The pool whose numbers name the connections ("TCP #2"); until then, "TCP".
  void name_connections_by(const ConnectionPool* pool) { pool_ = pool; }

  // The resolver's own lines (level 5), with the frames they are about.
  void dns_event(const appkit::DnsEvent& e);
  // After a TLS handshake on pooled connection `number` (level 6; level 1 for -k's warning).
  void tls_handshake(int number, stack::socket::SocketId sock, const appkit::tls::Session& t, stack::Duration took,
                     const appkit::tls::Context& context, bool verify);

  // Says every line still waiting for its frames.
  void flush() { citer_.flush(); }
  // Level 7, at exit: the NAT mappings the router kept for us.
  void nat_mappings() const;

 private:
  void on_frame(bool outgoing, stack::Instant at, std::span<const std::byte> frame);
  void on_tcp_event(const stack::socket::TcpEvent& e);
  void retransmitted(stack::Instant at, const stack::socket::tcp_event::Retransmitted& r);
  // "TCP #n": connection #n of the pool (the same number its pool, TLS and summary lines use).
  std::string tcp_n(stack::socket::SocketId id) const;
  // "[frame N] " for a handshake message of the TLS session on TCP socket `sock`, or "".
  std::string tls_frame(stack::socket::SocketId sock, const appkit::tls::HandshakeMessage& m) const;
  void certificates(const std::string& conn, const appkit::tls::Session& t, const std::vector<appkit::tls::CertInfo>& chain,
                    const appkit::tls::Context& context, bool verify) const;

  appkit::Host& host_;
  const Narrator narrator_;
  appkit::FrameCiter citer_;
  SegmentNarrator segments_;
  appkit::NatView nat_;
  const ConnectionPool* pool_ = nullptr;
};

}  // namespace minibrowser
