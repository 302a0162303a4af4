# The sans-I/O rule of DESIGN.md, as a test: stack/ never reads a clock, never touches a file
# descriptor, never starts a thread, never prints, and includes no third-party header.
# Usage: cmake -DSTACK_DIR=<dir> -P sans_io.cmake   (fails with the offending lines)
if(NOT STACK_DIR)
  message(FATAL_ERROR "pass -DSTACK_DIR=...")
endif()
file(GLOB_RECURSE files ${STACK_DIR}/*.hpp ${STACK_DIR}/*.cpp ${STACK_DIR}/*.h)
set(forbidden
  "steady_clock|system_clock|high_resolution_clock|clock_gettime|gettimeofday|[^_a-z]time\\(|<chrono>"
  "<thread>|std::thread|std::jthread|pthread_|std::async|<mutex>"
  "<cstdio>|<stdio.h>|<iostream>|<fstream>|std::cout|std::cerr|printf\\(|puts\\(|fopen\\("
  "<unistd.h>|<fcntl.h>|<sys/|<linux/|<net/|<netinet/|<arpa/|::read\\(|::write\\(|::open\\(|::close\\(|ioctl\\(|socket\\("
  "<ares|<llhttp|<doctest|<boost/")
set(violations "")
foreach(f ${files})
  file(STRINGS ${f} lines)
  set(n 0)
  foreach(line IN LISTS lines)
    math(EXPR n "${n}+1")
    foreach(pattern ${forbidden})
      if(line MATCHES "${pattern}")
        string(APPEND violations "${f}:${n}: ${line}\n")
        break()
      endif()
    endforeach()
  endforeach()
endforeach()
list(LENGTH files count)
if(violations)
  message(FATAL_ERROR "stack/ must stay sans-I/O (DESIGN.md); offending lines:\n${violations}")
endif()
message(STATUS "sans-I/O check: ${count} files under ${STACK_DIR} are clean")
