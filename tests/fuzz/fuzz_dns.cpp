// libFuzzer target: any bytes as a DNS message (docs/hostile-inputs.md #74–#79). Must never crash, hang
// or read out of bounds; whatever parses must describe itself and survive emit -> parse unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "stack/wire/dns.hpp"

using namespace stack::wire;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> buf(reinterpret_cast<const std::byte*>(data), size);
  // Every name position a hostile message could make us read: each offset, alone.
  for (std::size_t at = dns::kHeaderLen; at < size && at < dns::kHeaderLen + 64; ++at) {
    std::size_t end = 0;
    auto n = dns::parse_name(buf, at, end);
    if (n && (end <= at || end > size || n->wire_len() > dns::kMaxNameLen)) std::abort();
  }
  auto m = dns::parse(buf);
  if (!m) return 0;
  (void)m->describe();
  for (const auto* section : {&m->answers, &m->authority, &m->additional}) {
    for (const auto& r : *section) (void)r.describe();
  }
  const auto out = m->emit();
  auto again = dns::parse(out);
  if (!again || !(*again == *m)) std::abort();
  return 0;
}
