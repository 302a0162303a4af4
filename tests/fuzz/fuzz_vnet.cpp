// libFuzzer target: the virtio-net header in front of every frame the TAP and AF_PACKET drivers read
// with offloads on (drivers/linux_net.hpp apply_vnet_header, complete_checksum; virtio spec
// §5.1.6.2.1: NEEDS_CSUM, csum_start, csum_offset, gso_type). The header and the frame are both the
// input: the kernel writes them, but a header is only as good as the code that reads it.
//
// Input: [hdr_len selector:1][header: 10 or 12 bytes][frame: the rest]
//
// Invariants:
//   - nothing is read or written outside the frame (ASan, and the bounds asserts);
//   - ok == false leaves the frame untouched; without NEEDS_CSUM the frame is untouched too;
//   - a completed checksum changes only the two bytes at csum_start + csum_offset, and with an even
//     csum_offset (every real one: TCP 16, UDP 6) the receiver's check then passes: [csum_start,
//     end) with the stored value plus the pseudo-header sum the field held sums to all ones (RFC 1071);
//   - gso is reported exactly when gso_type (without the ECN bit) is not NONE;
//   - trusting instead of completing (complete_partial false) gives the same verdict and writes nothing.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "drivers/linux_net.hpp"
#include "stack/wire/checksum.hpp"

namespace {
void trap_unless(bool ok) {
  if (!ok) __builtin_trap();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t hdr_len = (data[0] & 1) ? 12 : 10;  // virtio_net_hdr (packet sockets), _v1 (tun)
  if (size < 1 + hdr_len) return 0;
  const auto* bytes = reinterpret_cast<const std::byte*>(data);
  // Copies, so that ASan sees exactly the sizes the drivers hand over.
  const std::vector<std::byte> hdr(bytes + 1, bytes + 1 + hdr_len);
  std::vector<std::byte> frame(bytes + 1 + hdr_len, bytes + size);
  const std::vector<std::byte> before = frame;

  const auto r = drivers::linux_net::apply_vnet_header(hdr, frame);
  // Trusted instead of completed (nothing above the driver reads the field): the same verdict on
  // the offsets, and the frame is never written.
  std::vector<std::byte> trusted_frame = before;
  const auto t = drivers::linux_net::apply_vnet_header(hdr, trusted_frame, false);
  trap_unless(t.ok == r.ok && trusted_frame == before && !t.checksum_completed);
  trap_unless(!t.ok || (t.checksum_trusted == r.checksum_completed && t.checksum_vouched == r.checksum_vouched));

  const auto flags = static_cast<std::uint8_t>(hdr[0]);
  const auto gso_type = static_cast<std::uint8_t>(static_cast<std::uint8_t>(hdr[1]) & 0x7f);
  const std::size_t csum_start = static_cast<std::size_t>(hdr[6]) | static_cast<std::size_t>(hdr[7]) << 8;
  const std::size_t csum_offset = static_cast<std::size_t>(hdr[8]) | static_cast<std::size_t>(hdr[9]) << 8;
  const bool needs_csum = flags & 1;

  if (!r.ok) {
    trap_unless(needs_csum && frame == before);
    return 0;
  }
  trap_unless(r.gso == (gso_type != 0));
  trap_unless(r.checksum_completed == needs_csum);
  trap_unless(r.checksum_vouched == (needs_csum || (flags & 2) != 0));  // NEEDS_CSUM or DATA_VALID
  if (!needs_csum) {
    trap_unless(frame == before);
    return 0;
  }
  const std::size_t field = csum_start + csum_offset;
  trap_unless(csum_start < frame.size() && field + 2 <= frame.size());
  for (std::size_t i = 0; i < frame.size(); ++i) {
    if (i != field && i != field + 1) trap_unless(frame[i] == before[i]);
  }
  if (csum_offset % 2 == 0) {
    // The receiver's check: the range with the stored value, plus the pseudo-header sum the field
    // held before (appended as one more 16-bit word), sums to all ones.
    std::vector<std::byte> check(frame.begin() + static_cast<std::ptrdiff_t>(csum_start), frame.end());
    if (check.size() % 2) check.push_back(std::byte{0});
    check.push_back(before[field]);
    check.push_back(before[field + 1]);
    trap_unless(stack::wire::internet_checksum(check) == 0);
  }
  return 0;
}
