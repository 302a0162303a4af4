// Deliberately breaks the sans-I/O rule: lint.sans_io_checker_catches_violations expects failure.
#include <chrono>
auto bad_now() { return std::chrono::steady_clock::now(); }
