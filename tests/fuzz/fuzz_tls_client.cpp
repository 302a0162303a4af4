// libFuzzer target: the TLS client glue (apps/common/tls.hpp) fed arbitrary bytes as the server's
// side of the TCP stream, split the way TCP might split it, with an EOF (the server's FIN) or not.
// Input: byte 0 = flags (bit 0: verify off, bit 1: end with EOF, bit 2: IP-literal host),
// byte 1 = split seed, the rest = what the "server" sent.
// Properties: never crash, never hang; a failed handshake has curl's code 35 or 60 and a message;
// an established session (possible only with verify off and a real server flight, so rare) reads
// without crashing; the engine's output only grows by what it was asked to send.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>

#include "apps/common/tls.hpp"

namespace {
appkit::tls::Context& context(bool verify) {
  // One context per mode for the whole run (creating one per input costs more than the input).
  static std::unique_ptr<appkit::tls::Context> contexts[2];
  auto& slot = contexts[verify ? 1 : 0];
  if (!slot) {
    appkit::tls::Config config;
    config.verify = verify;
    config.resume = false;  // no state carried from one input to the next
    auto created = appkit::tls::Context::create(config);
    if (!created) std::abort();
    slot = std::move(*created);
  }
  return *slot;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const bool verify = (data[0] & 1) == 0;
  const bool eof = (data[0] & 2) != 0;
  appkit::tls::Session session(context(verify), (data[0] & 4) ? "203.0.113.80" : "www.domain.com", 443);
  if (session.handshake() != appkit::tls::HandshakeStatus::NeedMore) std::abort();  // a ClientHello to send
  session.consume_output(session.output().size());
  std::uint32_t seed = data[1] | 1u;
  const auto wire = std::as_bytes(std::span(data + 2, size - 2));
  std::size_t at = 0;
  std::array<std::byte, 4096> buf;
  auto step = [&] {
    if (!session.established()) {
      const auto status = session.handshake();
      if (status == appkit::tls::HandshakeStatus::Failed) {
        const auto& f = session.failure();
        if (!f || f->message.empty()) std::abort();
        if (f->code != appkit::ExitCode::SslConnect && f->code != appkit::ExitCode::PeerFailedVerification) std::abort();
      }
    } else {
      for (int i = 0; i < 64; ++i) {
        if (session.read(buf).status != appkit::tls::ReadStatus::Ok) break;
      }
    }
    session.consume_output(session.output().size());
  };
  while (at < wire.size() && !session.failure()) {
    seed = seed * 1103515245u + 12345u;
    const std::size_t n = std::min<std::size_t>(wire.size() - at, 1 + (seed >> 16) % 300);
    session.receive(wire.subspan(at, n));
    at += n;
    step();
  }
  if (eof && !session.failure()) {
    session.receive_eof();
    step();
    // After the peer's EOF a handshake cannot still be waiting for more.
    if (!session.established() && !session.failure()) std::abort();
  }
  return 0;
}
