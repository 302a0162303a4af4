// Host: one running stack wired to the world — a TAP device or, with --iface, an existing interface
// through AF_PACKET (drivers/packet_device.hpp), with the pcap and fault-injection decorators the
// command line asks for, an Interface, and the event loop that drives them.
//
// The loop is the only place that reads the real clock and waits (poll(2) on the device with the
// earliest deadline of the stack and the application as timeout).
#pragma once

#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "apps/common/cli.hpp"
#include "apps/common/subscribers.hpp"
#include "drivers/device.hpp"
#include "stack/iface/interface.hpp"
#include "stack/util/result.hpp"

namespace drivers {
class FdDevice;
}

namespace appkit {

struct HostError {
  ExitCode code;
  std::string message;  // one line that says what to do
};

class Host {
 public:
  // Opens the TAP device named by --tap (or the interface named by --iface), wraps it (--pcap,
  // --drop-chance/--corrupt-chance/--seed), and builds the interface. With --ip the address is configured at once (gratuitous ARP).
  static stack::Result<std::unique_ptr<Host>, HostError> open(const NetOptions& options);
  // The same around a link opened by the caller (one queue of a multi-queue TAP,
  // drivers/tap_device.hpp open_queues()) instead of the one --tap/--iface names.
  static stack::Result<std::unique_ptr<Host>, HostError> open(const NetOptions& options,
                                                              std::unique_ptr<drivers::Device> link);
  ~Host();

  stack::iface::Interface& iface() { return *iface_; }
  drivers::Device& device() { return *device_; }
  stack::Instant now() const;

  // One turn of the loop: take every frame the device has and let the stack work; if frames came
  // in, return at once (the application looks at its sockets before anyone sleeps); otherwise
  // wait until a frame arrives or the earliest deadline (the stack's or `app_deadline`) passes.
  void step(std::optional<stack::Instant> app_deadline);
  // A descriptor (an eventfd) that also ends step()'s wait when readable; step() drains it. One
  // stack per thread uses it to be woken by another (a stop, a neighbour learnt elsewhere).
  void set_wake_fd(int fd) { wake_fd_ = fd; }
  // Sends what the stack has queued (an abort's RST) now, without waiting.
  void flush();
  // A server's loop: what the frames of a turn call for (the ACK of a request) waits until the
  // application has had its turn, so it rides on the answer the application writes — one frame
  // instead of two (RFC 1122 §4.2.3.2: an ACK should go with data where it can; RFC 9293
  // §3.8.6.3). It leaves at the start of the next step() or flush(), or with send_pending().
  // Off by default: a loop that may stop turning right after a frame (a client that has what
  // it wanted) would keep back that frame's ACK.
  void set_ack_after_application(bool on) { ack_after_application_ = on; }
  // Sends what the stack has queued, reading nothing.
  void send_pending();
  // Turns the loop until `done()` or `deadline`; true when done() became true. Returns false at
  // once after SIGINT/SIGTERM (apps/common/interrupt.hpp).
  bool run_until(const std::function<bool()>& done, std::optional<stack::Instant> deadline);

  // Every event of the stack goes here too: for the Host's whole life (the narrator, or -v) ...
  void add_event_listener(stack::EventSink sink) { listeners_.add(std::move(sink)); }
  // ... or for as long as the returned handle lives (a connecting stream's ARP watch).
  using EventSubscribers = Subscribers<void(stack::Instant, const stack::Event&)>;
  using EventSubscription = EventSubscribers::Subscription;
  [[nodiscard]] EventSubscription subscribe_events(stack::EventSink sink) { return listeners_.subscribe(std::move(sink)); }
  std::size_t event_listener_count() const { return listeners_.size(); }
  // Every frame in and out (after faults, as the pcap sees it): the narrator's view of the wire.
  using FrameListener = std::function<void(bool outgoing, stack::Instant, std::span<const std::byte>)>;
  void add_frame_listener(FrameListener listener) { frame_listeners_.add(std::move(listener)); }
  // Frames seen so far (the pcap's frame count): a listener added late (after the gratuitous ARP
  // of a static --ip) starts its frame numbers from here.
  std::uint64_t frames_seen() const { return frames_seen_; }
  const std::string& tap_name() const { return tap_name_; }
  // --stats: every counter of the device chain and the stack.
  void print_stats(std::FILE* out) const;
  // The same counters, as print_stats prints them after its "--- statistics ---" line.
  std::vector<std::pair<std::string, std::uint64_t>> counters() const;

  // A stable locally administered MAC for a TAP (or --iface) name: 02:75:73 ("us") + 3 bytes of
  // a hash of the name and the user id, so restarts keep their ARP entries and DHCP leases.
  static stack::wire::MacAddress default_mac(const std::string& tap_name);

 private:
  Host() = default;
  // RFC 5227 §2.1.1 address probe of a static address: the MAC of whoever answers for it, or
  // nothing when nobody did.
  std::optional<stack::wire::MacAddress> probe_address(stack::wire::Ipv4Address ip);
  bool pump(stack::Instant now);  // true when frames were received
  void output();                  // the stack's output of this turn, and the device's backlog

  std::vector<std::unique_ptr<drivers::Device>> chain_;  // innermost (TAP) first
  drivers::FdDevice* link_ = nullptr;                    // chain_.front() when it is a TAP or packet socket
  bool frames_recorded_or_altered_ = false;              // a pcap or a fault injector in the chain
  drivers::Device* device_ = nullptr;                    // outermost decorator
  std::unique_ptr<stack::iface::Interface> iface_;
  EventSubscribers listeners_;
  Subscribers<void(bool, stack::Instant, std::span<const std::byte>)> frame_listeners_;
  std::string tap_name_;
  std::vector<std::byte> rx_buffer_;
  stack::Instant current_;
  std::uint64_t frames_seen_ = 0;
  bool ack_after_application_ = false;
  int wake_fd_ = -1;
};

}  // namespace appkit
