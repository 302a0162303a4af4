// One line per frame, in the habits of `tcpdump -n` (tcpdump 4.99), shared
// by the tracer, pcap text output and the mini-browser's narration:
//
//   ARP, Request who-has 10.77.0.1 tell 10.77.0.74, length 28
//   IP 10.77.0.74 > 10.77.0.1: ICMP echo request, id 15622, seq 1, length 64
//   IP 0.0.0.0.68 > 255.255.255.255.67: UDP, length 300
//
// Malformed input never crashes and is named the way tcpdump names it where tcpdump has a word
// for it ("IP truncated-ip - 12 bytes missing! ...", "IP bad-hlen 12", "[|udp]"), otherwise in
// brackets ("[malformed ARP]"). Pure functions of the bytes: no state, no registration.
#pragma once

#include <cstddef>
#include <span>
#include <string>

namespace stack::wire {

// An Ethernet II frame (without FCS), as a TAP device delivers it.
std::string describe_frame(std::span<const std::byte> frame);
// An ARP packet (Ethernet payload): "ARP, Reply 10.77.0.1 is-at 46:e0:e8:63:d0:9e, length 28".
std::string describe_arp(std::span<const std::byte> packet);
// An IPv4 datagram (Ethernet payload, possibly padded): "IP 10.77.0.74 > 10.77.0.1: ...".
std::string describe_ipv4(std::span<const std::byte> datagram);

}  // namespace stack::wire
