// Tracer: a Device decorator that hands every frame, with its direction and instant, to a
// callback — the hook the narrator and `--trace` printing build on (the callback decides how to
// describe the frame; drivers/ never prints).
//
// Modelled on smoltcp's phy::Tracer (src/phy/tracer.rs), which marks direction with "<- " / "-> ";
// see docs/architecture.md "Narration from events".
#pragma once

#include <functional>
#include <memory>

#include "drivers/device.hpp"

namespace drivers {

class Tracer final : public Device {
 public:
  using Callback = std::function<void(Direction, stack::Instant, std::span<const std::byte>)>;

  Tracer(Device& inner, Callback callback) : inner_(&inner), callback_(std::move(callback)) {}
  Tracer(std::unique_ptr<Device> inner, Callback callback)
      : owned_(std::move(inner)), inner_(owned_.get()), callback_(std::move(callback)) {}

  Capabilities capabilities() const override { return inner_->capabilities(); }
  std::string name() const override { return inner_->name(); }
  bool rx_checksum_vouched() const override { return inner_->rx_checksum_vouched(); }
  std::optional<std::size_t> receive(stack::Instant now, std::span<std::byte> out) override {
    auto n = inner_->receive(now, out);
    if (n) callback_(Direction::Rx, now, std::span<const std::byte>(out.first(*n)));
    return n;
  }
  // The callback sees the frame before the wrapped device does, whatever it then decides.
  bool transmit(stack::Instant now, std::span<const std::byte> frame) override {
    callback_(Direction::Tx, now, frame);
    return inner_->transmit(now, frame);
  }
  void flush(stack::Instant now) override { inner_->flush(now); }
  bool tx_blocked() const override { return inner_->tx_blocked(); }
  int readable_fd() const override { return inner_->readable_fd(); }
  int writable_fd() const override { return inner_->writable_fd(); }
  std::optional<stack::Instant> poll_at() const override { return inner_->poll_at(); }
  Stats stats() const override { return inner_->stats(); }

 private:
  std::unique_ptr<Device> owned_;
  Device* inner_;
  Callback callback_;
};

}  // namespace drivers
