#pragma once
namespace appkit {
inline constexpr const char* kVersion = USTACK_VERSION;
}
