#include "drivers/device.hpp"

namespace drivers {

std::string describe(const Capabilities& caps) {
  std::string s = "mtu " + std::to_string(caps.mtu);
  std::string offloads;
  if (caps.rx_checksum_verified) offloads += " rx-csum";
  if (caps.tx_checksum_partial) offloads += " tx-csum";
  if (caps.tso) offloads += " tso";
  if (caps.rx_gso) offloads += " rx-gso";
  return s + (offloads.empty() ? ", no offloads" : ", offloads:" + offloads);
}

}  // namespace drivers
