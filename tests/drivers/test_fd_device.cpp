// drivers/fd_device: back-pressure in the loop every Linux driver shares. A scripted driver
// stands in for the system calls, so each refusal (EAGAIN, ENOBUFS) happens exactly when the
// test says; the real descriptor is an eventfd nobody writes to.
#include <doctest/doctest.h>

#include <sys/eventfd.h>

#include <cerrno>
#include <deque>
#include <string>
#include <vector>

#include "drivers/fd_device.hpp"

namespace {

using stack::Duration;
using stack::Instant;

// Writes succeed unless the script says otherwise: each entry is the errno of one write
// (0: accepted).
class ScriptedDevice final : public drivers::FdDevice {
 public:
  ScriptedDevice() : FdDevice(::eventfd(0, EFD_NONBLOCK), "scripted0", 1500, 0) {}
  std::deque<int> script;
  std::vector<std::vector<std::byte>> wire;  // frames accepted, in order
  std::vector<int> dropped_errnos;

  drivers::Stats stats() const override {
    return {{"tx_frames", tx_frames_}, {"tx_held", tx_backlog_.held},
            {"tx_dropped_backlog_full", tx_backlog_.dropped_full}, {"tx_backlog_max", tx_backlog_.max_frames}};
  }

 private:
  RawRead read_frame(FrameIov&) override {
    errno = EAGAIN;
    return {-1};
  }
  ssize_t write_frame(FrameIov& io) override {
    const int err = script.empty() ? 0 : script.front();
    if (!script.empty()) script.pop_front();
    if (err != 0) {
      errno = err;
      return -1;
    }
    const auto* base = static_cast<const std::byte*>(io.iov()[0].iov_base);
    wire.emplace_back(base, base + io.iov()[0].iov_len);
    return static_cast<ssize_t>(io.iov()[0].iov_len);
  }
  void count_tx_drop(int err) override { dropped_errnos.push_back(err); }
};

std::vector<std::byte> frame(unsigned char tag) { return std::vector<std::byte>(60, std::byte{tag}); }

std::uint64_t value(const drivers::Stats& s, const std::string& name) {
  for (const auto& [n, v] : s)
    if (n == name) return v;
  FAIL("no counter " << name);
  return 0;
}

}  // namespace

TEST_SUITE("drivers/fd_device back-pressure") {
  TEST_CASE("a write refused with EAGAIN is kept, with every frame after it, and written in order once the device takes frames again") {
    ScriptedDevice dev;
    const Instant t0 = Instant::from_millis(10);
    dev.script = {EAGAIN};
    CHECK(dev.transmit(t0, frame(1)));  // refused, but not dropped
    CHECK(dev.tx_blocked());
    CHECK(dev.writable_fd() == dev.readable_fd());  // EAGAIN: POLLOUT says when
    CHECK_FALSE(dev.poll_at().has_value());
    CHECK(dev.transmit(t0, frame(2)));  // behind it, never ahead of it
    CHECK(dev.wire.empty());
    dev.script = {EAGAIN};
    dev.flush(t0);  // still full
    CHECK(dev.tx_blocked());
    CHECK(dev.wire.empty());
    dev.flush(t0);  // room again
    CHECK_FALSE(dev.tx_blocked());
    CHECK(dev.writable_fd() == -1);
    REQUIRE(dev.wire.size() == 2);
    CHECK(dev.wire[0] == frame(1));
    CHECK(dev.wire[1] == frame(2));
    CHECK(dev.dropped_errnos.empty());
    CHECK(value(dev.stats(), "tx_frames") == 2);
    CHECK(value(dev.stats(), "tx_held") == 2);
    CHECK(value(dev.stats(), "tx_backlog_max") == 2);
  }

  TEST_CASE("ENOBUFS (a full queue behind the descriptor, which POLLOUT does not report): the device asks to be tried again 1 ms later") {
    ScriptedDevice dev;
    const Instant t0 = Instant::from_millis(10);
    dev.script = {ENOBUFS};
    CHECK(dev.transmit(t0, frame(1)));
    CHECK(dev.tx_blocked());
    CHECK(dev.writable_fd() == -1);
    REQUIRE(dev.poll_at().has_value());
    CHECK(*dev.poll_at() == t0 + Duration::from_millis(1));
    dev.flush(t0 + Duration::from_millis(1));
    CHECK_FALSE(dev.tx_blocked());
    CHECK_FALSE(dev.poll_at().has_value());
    CHECK(dev.wire.size() == 1);
  }

  TEST_CASE("the backlog is bounded: a frame that finds it full is dropped and counted") {
    ScriptedDevice dev;
    const Instant t0 = Instant::from_millis(10);
    dev.script = {EAGAIN};
    for (std::size_t i = 0; i < drivers::FdDevice::kMaxBacklogFrames; ++i) CHECK(dev.transmit(t0, frame(1)));
    CHECK_FALSE(dev.transmit(t0, frame(2)));
    CHECK(value(dev.stats(), "tx_dropped_backlog_full") == 1);
    CHECK(value(dev.stats(), "tx_backlog_max") == drivers::FdDevice::kMaxBacklogFrames);
    dev.flush(t0);
    CHECK_FALSE(dev.tx_blocked());
    CHECK(dev.wire.size() == drivers::FdDevice::kMaxBacklogFrames);
  }

  TEST_CASE("any other error drops the frame (counted by the driver) and holds nothing") {
    ScriptedDevice dev;
    dev.script = {EIO};
    CHECK_FALSE(dev.transmit(Instant::from_millis(1), frame(1)));
    CHECK_FALSE(dev.tx_blocked());
    REQUIRE(dev.dropped_errnos.size() == 1);
    CHECK(dev.dropped_errnos[0] == EIO);
    CHECK(value(dev.stats(), "tx_held") == 0);
  }
}
