// Deliberately breaks the sans-I/O rule: lint.sans_io_checker_catches_violations expects failure.
// One violation of each kind; the checker must report every line below.
#include <chrono>
#include <cstdio>
#include <thread>
#include <unistd.h>
auto bad_now() { return std::chrono::steady_clock::now(); }
void bad_print() { printf("hello\n"); }
void bad_read(int fd, char* buf) { (void)::read(fd, buf, 1); }
