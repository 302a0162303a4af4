// The real clock: the only place time is read (docs/architecture.md "Sans-I/O core").
#pragma once

#include <cstdint>
#include <utility>

#include "stack/time.hpp"

namespace appkit {

// CLOCK_MONOTONIC as a stack::Instant.
stack::Instant monotonic_now();
// Unix time (seconds, microseconds) of a monotonic instant: for pcap timestamps and log lines.
std::pair<std::int64_t, std::int64_t> wall_time(stack::Instant at);
// 64 random bits from the OS (getrandom): the stack's seed, never a constant in production.
std::uint64_t os_random_u64();

}  // namespace appkit
