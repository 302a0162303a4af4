// libFuzzer target: arbitrary segments into a TcpLayer that has a listener and an established
// connection. The input is a list of records [delay_ms:1][flags-ish selector:1][len:1][bytes];
// each becomes a segment to our address (checksum fixed up half the time, so the input reaches
// the state machine), followed by a dispatch. Must never crash, hang or grow without bound.
#include <cstddef>
#include <cstdint>
#include <span>

#include "stack/socket/tcp_layer.hpp"

using namespace stack;
using namespace stack::socket;
using stack::wire::Ipv4Address;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Ipv4Address us = Ipv4Address::from_octets(10, 0, 0, 1);
  const Ipv4Address peer = Ipv4Address::from_octets(10, 0, 0, 2);
  TcpLayer::Config c;
  c.secret_key[0] = 1;
  c.secret_key[1] = 2;
  c.recv_buffer = 4096;
  c.send_buffer = 4096;
  TcpLayer layer(c);
  Instant now;
  auto sink = [](const TcpLayer::Outgoing& o) { (void)o.repr.describe(); };
  (void)layer.listen(Ipv4Address::any(), 80, 4);
  // An established connection: our SYN, a SYN-ACK from the peer built from our ISN.
  auto id = layer.connect(us, peer, 8080, now);
  std::optional<wire::tcp::Repr> syn;
  layer.dispatch(now, [&](const TcpLayer::Outgoing& o) { syn = o.repr; syn->payload = {}; });
  if (id.ok() && syn) {
    wire::tcp::Repr synack;
    synack.src_port = 8080;
    synack.dst_port = syn->src_port;
    synack.seq = wire::tcp::SeqNum{5000};
    synack.ack = syn->seq + 1;
    synack.flags.syn = true;
    synack.window_raw = 4096;
    synack.sack_permitted = true;
    synack.timestamps = std::pair{1u, 0u};
    Bytes b(synack.buffer_len());
    auto v = wire::tcp::ViewMut::unchecked(b);
    synack.emit(v, peer, us);
    layer.process(now, peer, us, b);
    (void)layer.send(*id, to_bytes("some data queued before the fuzz input"));
    layer.dispatch(now, sink);
  }
  const std::uint16_t our_port = syn ? syn->src_port : 1;
  std::size_t at = 0;
  Bytes scratch(2048);
  while (at + 3 <= size) {
    now += Duration::from_millis(data[at]);
    const std::uint8_t sel = data[at + 1];
    const std::size_t len = std::min<std::size_t>(data[at + 2], size - at - 3);
    std::span<const std::uint8_t> body(data + at + 3, len);
    at += 3 + len;
    Bytes seg(reinterpret_cast<const std::byte*>(body.data()), reinterpret_cast<const std::byte*>(body.data()) + body.size());
    if (seg.size() >= 20 && (sel & 1)) {
      // Aim at the listener or the connection, and fix the checksum so the segment gets in.
      store_be16(seg, 0, (sel & 2) ? 8080 : 40000);
      store_be16(seg, 2, (sel & 2) ? our_port : 80);
      if (auto v = wire::tcp::ViewMut::checked(seg)) v->fill_checksum(peer, us);
    }
    layer.process(now, peer, us, seg);
    if (id.ok() && (sel & 4)) (void)layer.recv(*id, scratch);
    if (id.ok() && (sel & 8)) (void)layer.send(*id, std::span(scratch).first(sel));
    layer.dispatch(now, sink);
    if (auto t = layer.poll_at(); t && (sel & 16)) {
      now = std::max(now, *t);
      layer.dispatch(now, sink);
    }
  }
  if (layer.socket_count() > 16) __builtin_trap();  // backlog 4 + one connection
  return 0;
}
