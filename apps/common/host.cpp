#include "apps/common/host.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "apps/common/clock.hpp"
#include "apps/common/interrupt.hpp"
#include "drivers/fault_injector.hpp"
#include "drivers/packet_device.hpp"
#include "drivers/pcap_writer.hpp"
#include "drivers/tap_device.hpp"
#include "drivers/tracer.hpp"

namespace appkit {

using stack::Instant;

namespace {

// Whether the kernel has `ip` on the interface `name` (getifaddrs(3)).
bool kernel_owns(const std::string& name, stack::wire::Ipv4Address ip) {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return false;
  bool found = false;
  for (const ifaddrs* a = list; a && !found; a = a->ifa_next) {
    if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET || name != a->ifa_name) continue;
    sockaddr_in sin{};
    std::memcpy(&sin, a->ifa_addr, sizeof sin);
    found = ntohl(sin.sin_addr.s_addr) == ip.value;
  }
  ::freeifaddrs(list);
  return found;
}

}  // namespace

stack::wire::MacAddress Host::default_mac(const std::string& tap_name) {
  // FNV-1a over the name and uid: stable across runs, different per user and device.
  std::uint64_t h = 0xcbf29ce484222325ull;
  auto mix = [&h](unsigned char c) { h = (h ^ c) * 0x100000001b3ull; };
  for (char c : tap_name) mix(static_cast<unsigned char>(c));
  for (unsigned shift = 0; shift < 32; shift += 8) mix(static_cast<unsigned char>((getuid() >> shift) & 0xff));
  return {{0x02, 0x75, 0x73, static_cast<std::uint8_t>(h >> 16), static_cast<std::uint8_t>(h >> 8),
           static_cast<std::uint8_t>(h)}};
}

stack::Result<std::unique_ptr<Host>, HostError> Host::open(const NetOptions& options) {
  return open(options, nullptr);
}

stack::Result<std::unique_ptr<Host>, HostError> Host::open(const NetOptions& options,
                                                           std::unique_ptr<drivers::Device> opened_link) {
  std::unique_ptr<Host> host(new Host());

  // Parse the static configuration before touching the device: a typo should not need root.
  std::optional<stack::wire::Ipv4Cidr> address;
  std::optional<stack::wire::Ipv4Address> gateway;
  if (options.ip) {
    address = stack::wire::Ipv4Cidr::parse(*options.ip);
    if (!address) return stack::Err{HostError{ExitCode::Usage, "bad --ip '" + *options.ip + "': expected ADDR/PREFIX, e.g. 10.77.0.50/24"}};
  }
  if (options.gateway) {
    gateway = stack::wire::Ipv4Address::parse(*options.gateway);
    if (!gateway) return stack::Err{HostError{ExitCode::Usage, "bad --gateway '" + *options.gateway + "': expected an IPv4 address"}};
  }
  // RFC 1122 §3.3.1.1: the default gateway must be on a directly connected network; the kernel
  // refuses such a route too ("Nexthop has invalid gateway").
  if (address && gateway && !address->contains(*gateway)) {
    return stack::Err{HostError{ExitCode::Usage, "--gateway " + gateway->describe() + " is outside --ip " + address->describe() +
                                                     ": give a router on that subnet (e.g. " +
                                                     stack::wire::Ipv4Address{address->network().value + 1}.describe() + ")"}};
  }
  stack::wire::MacAddress mac = default_mac(options.tap);
  if (options.mac) {
    auto parsed = stack::wire::MacAddress::parse(*options.mac);
    if (!parsed || !parsed->is_unicast()) {
      return stack::Err{HostError{ExitCode::Usage, "bad --mac '" + *options.mac + "': expected a unicast MAC like 02:00:00:00:00:01"}};
    }
    mac = *parsed;
  }

  if (opened_link) {
    host->chain_.push_back(std::move(opened_link));
  } else if (options.driver == LinkDriver::Packet) {
    if (options.tap_given) return stack::Err{HostError{ExitCode::Usage, "--tap and --iface exclude each other: pick one link"}};
    // The stack's own MAC (default_mac of the interface name, or --mac), never the interface's:
    // the kernel keeps its address on the same link.
    auto link = drivers::PacketDevice::open(drivers::PacketOptions{.name = options.tap, .vnet_hdr = options.offload});
    if (!link) return stack::Err{HostError{ExitCode::Usage, link.error().message}};
    host->chain_.push_back(std::move(*link));
  } else {
    auto tap = drivers::TapDevice::open(drivers::TapOptions{.name = options.tap, .create = options.create_tap, .vnet_hdr = options.offload});
    if (!tap) return stack::Err{HostError{ExitCode::Usage, tap.error().message}};
    host->chain_.push_back(std::move(*tap));
  }
  host->device_ = host->chain_.back().get();

  if (options.drop_chance > 0 || options.corrupt_chance > 0 || options.reorder_chance > 0) {
    auto config = drivers::FaultConfig::symmetric(options.drop_chance, options.corrupt_chance, options.seed);
    config.rx.reorder = config.tx.reorder = options.reorder_chance;
    auto faults = std::make_unique<drivers::FaultInjector>(*host->device_, config);
    host->device_ = faults.get();
    host->chain_.push_back(std::move(faults));
  }
  if (options.pcap) {
    auto file = drivers::PcapFile::open(*options.pcap);
    if (!file) return stack::Err{HostError{ExitCode::Failure, file.error().message}};
    // The pcap sits outermost: it records what the stack really sent and received (after faults).
    auto writer = std::make_unique<drivers::PcapWriter>(*host->device_, std::move(*file),
                                                        [](Instant at) { return wall_time(at); });
    host->device_ = writer.get();
    host->chain_.push_back(std::move(writer));
  }

  {
    // Outermost: the frame listeners (narration) see exactly what the pcap records.
    Host* self = host.get();
    auto tracer = std::make_unique<drivers::Tracer>(
        *host->device_, [self](drivers::Direction d, Instant at, std::span<const std::byte> frame) {
          ++self->frames_seen_;
          self->frame_listeners_.notify(d == drivers::Direction::Tx, at, frame);
        });
    host->device_ = tracer.get();
    host->chain_.push_back(std::move(tracer));
  }
  host->tap_name_ = options.tap;
  host->link_ = dynamic_cast<drivers::FdDevice*>(host->chain_.front().get());
  host->frames_recorded_or_altered_ = options.pcap.has_value() || options.drop_chance > 0 ||
                                      options.corrupt_chance > 0 || options.reorder_chance > 0;

  const drivers::Capabilities caps = host->device_->capabilities();
  // RFC 791 §3.2: every internet module must take a 68-byte datagram; below that (or above an
  // IPv4 total length) no MSS and no fragmentation plan makes sense. Checked once, here.
  if (caps.mtu < stack::iface::kMinMtu || caps.mtu > stack::iface::kMaxMtu) {
    return stack::Err{HostError{ExitCode::Usage, options.tap + ": MTU " + std::to_string(caps.mtu) +
                                                     " is outside 68..65535; set it with `ip link set DEV mtu 1500`"}};
  }
  host->rx_buffer_.resize(caps.max_frame);
  stack::iface::InterfaceConfig config;
  config.mac = mac;
  config.mtu = caps.mtu;
  config.seed = os_random_u64();
  if (options.time_wait_seconds) config.tcp.time_wait = stack::Duration::from_secs(static_cast<std::int64_t>(options.time_wait_seconds));
  Host* raw = host.get();
  host->iface_ = std::make_unique<stack::iface::Interface>(
      config, [raw](std::span<const std::byte> frame) {
        raw->device_->transmit(raw->current_, frame);
        // Back-pressure within a round: once the device holds a refused frame, TCP stops its
        // burst there instead of filling the device's bounded backlog past its end.
        if (raw->device_->tx_blocked()) raw->iface_->set_link_busy(true);
      });
  host->iface_->set_event_sink([raw](Instant at, const stack::Event& e) {
    raw->listeners_.notify(at, e);
  });
  host->current_ = monotonic_now();
  if (address && options.driver == LinkDriver::Packet) {
    // Next to the kernel on the same link, its own address would be stolen from it: the stack's
    // announcement rewrites the neighbours' entries, and a probe never sees the kernel's answer
    // (a packet socket does not receive what the kernel itself would reply to).
    if (kernel_owns(options.tap, address->address)) {
      return stack::Err{HostError{ExitCode::Usage, address->address.describe() + " is the kernel's own address on " + options.tap +
                                                       ": give the stack an address of its own (--ip), or none for DHCP"}};
    }
  }
  if (address && options.acd) {
    if (auto owner = host->probe_address(address->address)) {
      return stack::Err{HostError{ExitCode::Usage, address->address.describe() + " is already in use by " + owner->describe() +
                                                       " (it answered our RFC 5227 probe): pick a free --ip, or --no-acd to use it anyway"}};
    }
  }
  if (address) host->iface_->set_address(host->current_, *address, gateway);
  return host;
}

std::optional<stack::wire::MacAddress> Host::probe_address(stack::wire::Ipv4Address ip) {
  namespace arp = stack::wire::arp;
  // DEVIATION(RFC 5227 §1.1): PROBE_WAIT 100 ms, 2 probes 150 ms apart, ANNOUNCE_WAIT 200 ms
  // instead of 1 s / 3 / 1-2 s / 2 s — the short schedule the DHCP client uses on the one-hop
  // links these programs run on (apps/common/dhcp_setup.cpp): about 0.45 s instead of up to 7 s.
  // A conflict (§2.1.1): any ARP whose sender is `ip`, or another host's probe for `ip`.
  std::optional<stack::wire::MacAddress> conflict;
  auto previous = iface_->arp_observer;
  const auto our_mac = iface_->mac();
  iface_->arp_observer = [&](Instant, const arp::Repr& a) {
    if (conflict) return;
    if (a.sender_ip == ip || (a.sender_ip.is_unspecified() && a.target_ip == ip && a.sender_mac != our_mac)) {
      conflict = a.sender_mac;
    }
  };
  const Instant start = monotonic_now();
  const Instant probes[] = {start + stack::Duration::from_millis(100), start + stack::Duration::from_millis(250)};
  for (const Instant at : probes) {
    if (run_until([&] { return conflict.has_value(); }, at)) break;
    iface_->send_arp_probe(monotonic_now(), ip);
    flush();
  }
  if (!conflict) run_until([&] { return conflict.has_value(); }, probes[1] + stack::Duration::from_millis(200));
  iface_->arp_observer = previous;
  return conflict;
}

Host::~Host() = default;

Instant Host::now() const { return monotonic_now(); }

void Host::send_pending() {
  current_ = std::max(current_, monotonic_now());
  output();
}

void Host::output() {
  // Back-pressure (drivers/device.hpp, tx_blocked()): what the device holds from an earlier
  // round goes first; while some is still refused, the stack sends no new data.
  if (device_->tx_blocked()) device_->flush(current_);
  iface_->set_link_busy(device_->tx_blocked());
  if (link_ && link_->vnet_hdr()) {
    // Transmit checksum offload when nothing above the driver reads the checksum field (the
    // pcap, the narration, a fault injector): the stack leaves TCP checksums partial and the
    // kernel completes them, or a receiver on this machine trusts them, as with its own.
    const bool partial = !frames_recorded_or_altered_ && frame_listeners_.size() == 0;
    link_->set_tx_checksum_partial(partial);
    iface_->set_tcp_checksum_partial(partial);
  }
  iface_->poll(current_);
  device_->flush(current_);  // transmit offload: the round's segments leave now, joined where they can
  iface_->set_link_busy(device_->tx_blocked());
}

bool Host::pump(Instant now) {
  current_ = now;
  // What the application wrote in its turn, with the ACKs the last turn's frames called for.
  if (ack_after_application_) send_pending();
  // Drain several frames per wake-up (a burst arrives together), but bounded so timers and
  // output still run under a flood.
  bool received = false;
  // Partial checksums from the kernel are summed only when something reads the field: the pcap,
  // the narration's frame listeners, or the stack after a fault injector may have corrupted it.
  if (link_) link_->set_rx_checksum_completion(frames_recorded_or_altered_ || frame_listeners_.size() > 0);
  for (int i = 0; i < 256; ++i) {
    // Each frame is stamped when it is read (the pcap's time, and the narration's): the frames of
    // a burst drained in one wake-up did not all arrive at its start (a DNS reply read after the
    // ARP reply that released its query once had the query's time: "answered in 0.000 ms").
    if (i > 0) current_ = std::max(current_, monotonic_now());
    auto len = device_->receive(current_, rx_buffer_);
    if (!len) break;
    received = true;
    iface_->receive(current_, std::span(rx_buffer_).first(*len), device_->rx_checksum_vouched());
  }
  // Frames came in and the application asked to answer first: its turn comes before their output.
  if (received && ack_after_application_) return true;
  output();
  return received;
}

void Host::step(std::optional<Instant> app_deadline) {
  Instant now = monotonic_now();
  // Frames that arrived while the application was busy may hold what it waits for (a request,
  // an ACK that frees the send buffer): return so it sees them, rather than sleeping on them
  // until the next frame or timer (which was a 200 ms stall: the delayed-ACK timer).
  if (pump(now)) return;
  std::optional<Instant> wake = iface_->poll_at(now);
  if (auto d = device_->poll_at(); d && (!wake || *d < *wake)) wake = d;
  if (app_deadline && (!wake || *app_deadline < *wake)) wake = app_deadline;
  int timeout_ms = -1;
  if (wake) {
    const auto wait = *wake - now;
    // Saturated: a deadline hours away must not wrap the int poll() takes into a negative
    // (= infinite) timeout.
    timeout_ms = wait.micros() <= 0
                     ? 0
                     : static_cast<int>(std::min<std::int64_t>((wait.micros() + 999) / 1000, 24 * 3600 * 1000));
  }
  // A device holding refused frames also wakes us when it can take them (POLLOUT); the wake
  // descriptor (set_wake_fd) when another thread has something for us.
  pollfd pfds[3] = {{device_->readable_fd(), POLLIN, 0}, {device_->writable_fd(), POLLOUT, 0}, {wake_fd_, POLLIN, 0}};
  const nfds_t nfds = 3;  // poll(2) ignores entries whose fd is negative
  if (pfds[0].fd >= 0) {
    const int rc = ::poll(pfds, nfds, timeout_ms);
    if (rc < 0 && errno != EINTR) return;
    if (rc > 0 && (pfds[2].revents & POLLIN)) {
      std::uint64_t count = 0;
      (void)!::read(wake_fd_, &count, sizeof count);  // an eventfd: the count is of no interest
    }
  } else if (timeout_ms > 0) {
    usleep(static_cast<useconds_t>(timeout_ms) * 1000);
  }
  pump(monotonic_now());
}

void Host::flush() { pump(monotonic_now()); }

bool Host::run_until(const std::function<bool()>& done, std::optional<Instant> deadline) {
  while (!done()) {
    if (interrupted()) return false;  // SIGINT/SIGTERM: the caller aborts and exits (interrupt.hpp)
    if (deadline && monotonic_now() >= *deadline) return false;
    step(deadline);
  }
  return true;
}

std::vector<std::pair<std::string, std::uint64_t>> Host::counters() const {
  std::vector<std::pair<std::string, std::uint64_t>> out;
  // Decorators report their inner device's counters with their own, so the outermost has them all.
  for (const auto& [name, value] : device_->stats()) out.emplace_back(device_->name() + "." + name, value);
  for (const auto& [name, value] : iface_->stats()) out.emplace_back(name, value);
  // Callbacks still listening to the stack's events: constant over a run however many
  // connections it opened (each connecting stream leaves when its handshake is decided).
  out.emplace_back("host.event_listeners", static_cast<std::uint64_t>(listeners_.size()));
  return out;
}

void Host::print_stats(std::FILE* out) const {
  std::fprintf(out, "--- statistics ---\n");
  for (const auto& [name, value] : counters()) {
    std::fprintf(out, "%-40s %llu\n", name.c_str(), static_cast<unsigned long long>(value));
  }
}

}  // namespace appkit
