# Shared helpers for tools/demo, tools/test and friends. Source it; do not run it.
# shellcheck shell=bash

USTACK_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

say()  { printf '\033[1m==> %s\033[0m\n' "$*"; }
note() { printf '    %s\n' "$*"; }
die()  { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; exit 1; }

require_root() {
  [ "$(id -u)" -eq 0 ] || die "must run as root (it installs packages and builds network namespaces): sudo $0 $*"
}

# Debian packages every command of this repository needs (build, sandbox daemons, real peers, fuzzing).
USTACK_PACKAGES=(
  build-essential cmake pkg-config            # toolchain (g++ 12, CMake >= 3.25)
  libc-ares-dev node-llhttp doctest-dev       # the three libraries (c-ares, llhttp's C sources, doctest)
  zlib1g-dev                                  # gzip/deflate response bodies
  libssl-dev openssl ca-certificates          # TLS for https (OpenSSL 3), the sandbox CA's CLI, the system CA store
  clang libclang-rt-14-dev                    # libFuzzer targets and their sanitizer runtime
  iproute2 nftables iptables conntrack        # namespaces, veth, TAP, NAT and its table
  dnsmasq-base unbound nsd nginx-light        # the sandbox's DHCP server, resolver, name servers, web server
  curl dnsutils socat iputils-ping arping busybox strace   # real peers; strace proves c-ares opens no kernel socket
  apache2-utils                               # ab: the load tests against ustack serve (tests/net/test_tcp_serve_load.sh)
  python3                                     # hand-made peers on the wire (tools/sandbox.d/*.py)
  tcpdump tshark                              # reading our pcap files back
  ethtool                                     # offloads off on the AF_PACKET test veths (tests/net/bulk_transfer.sh)
  vagrant                                     # `vagrant validate -p` of the Vagrantfile (tests/net/test_vagrant_validate.sh)
  w3m                                         # the renderer held to `w3m -dump` on real pages (tests/net/test_real_pages.sh; python3 counts the words)
  chromium-headless-shell                     # Debian's Chromium without a display: renders the ladder diagram (tests/net/test_explain.sh)
)

# Installs what is missing, idempotently: when everything is present it only says so.
install_deps() {
  local missing=() p
  for p in "${USTACK_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    say "dependencies: all ${#USTACK_PACKAGES[@]} Debian packages present, nothing to install"
    return 0
  fi
  say "dependencies: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # The daemons are started by tools/sandbox inside namespaces, never as system services:
  # policy-rc.d stops their packages from starting them on the host during installation.
  local had_policy=0
  [ -e /usr/sbin/policy-rc.d ] && had_policy=1
  [ $had_policy -eq 1 ] || { printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; }
  local rc=0
  apt-get update -qq || rc=$?
  [ $rc -eq 0 ] && { apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || rc=$?; }
  [ $had_policy -eq 1 ] || rm -f /usr/sbin/policy-rc.d
  [ $rc -eq 0 ] || die "apt-get failed (exit $rc) installing: ${missing[*]}"
  note "installed ${#missing[@]} package(s)"
}

# configure_and_build BUILD_DIR CMAKE_ARGS...
configure_and_build() {
  local dir=$1; shift
  mkdir -p "$dir"
  cmake -S "$USTACK_ROOT" -B "$dir" "$@" >"$dir/configure.log" 2>&1 || { cat "$dir/configure.log"; die "cmake configure failed in $dir"; }
  cmake --build "$dir" -j "${USTACK_JOBS:-2}" || die "build failed in $dir"
}
