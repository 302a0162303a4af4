#!/usr/bin/env bash
# The sans-I/O rule of docs/architecture.md ("Sans-I/O core"), as a test: stack/ never reads a
# clock, never touches a file descriptor, never starts a thread, never prints, and includes no
# third-party header.
# Usage: sans_io.sh DIR   (exit 1 with the offending lines)
set -uo pipefail
dir=${1:?usage: sans_io.sh DIR}
patterns=(
  'steady_clock|system_clock|high_resolution_clock|clock_gettime|gettimeofday|#include <(chrono|ctime|time\.h)>|(^|[^A-Za-z0-9_.>:])time\('
  '#include <(thread|mutex|future|condition_variable)>|std::j?thread|pthread_|std::async'
  '#include <(cstdio|stdio\.h|iostream|fstream|ostream)>|std::(cout|cerr|clog)|(^|[^A-Za-z0-9_])(printf|puts|fopen|perror)\('
  '#include <(unistd\.h|fcntl\.h|poll\.h|sys/|linux/|net/|netinet/|arpa/)'
  '(^|[^A-Za-z0-9_>])::(read|write|open|close|ioctl|socket|poll|recv|send|sendto|recvfrom)\('
  '#include <(ares|llhttp|doctest|boost)'
)
files=$(find "$dir" -type f \( -name '*.hpp' -o -name '*.cpp' -o -name '*.h' \) | sort)
[ -n "$files" ] || { echo "no sources under $dir"; exit 1; }
bad=0
for p in "${patterns[@]}"; do
  # shellcheck disable=SC2086
  if hits=$(grep -nE -- "$p" $files); then
    echo "$hits"
    bad=1
  fi
done
if [ $bad -ne 0 ]; then
  echo "stack/ must stay sans-I/O (docs/architecture.md \"Sans-I/O core\"): the lines above read a clock, touch a file descriptor, start a thread, print, or include a third-party header"
  exit 1
fi
echo "sans-I/O check: $(wc -w <<<"$files") files under $dir are clean"
