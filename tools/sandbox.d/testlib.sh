# shellcheck shell=bash disable=SC2034
# Shared helpers for tests/net/test_*.sh (sourced, bash). The tests need a sandbox that is up:
# CTest's fixture runs `tools/sandbox up`; by hand: sudo tools/sandbox up, then run the script.
set -euo pipefail

: "${USTACK_SOURCE:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
export USTACK_SOURCE
export USTACK_SANDBOX="${USTACK_SANDBOX:-usb}"
SANDBOX="$USTACK_SOURCE/tools/sandbox"
SANDBOX_DATA="$USTACK_SOURCE/tools/sandbox.d"
STATE="/run/ustack-sandbox/$USTACK_SANDBOX"
TEST_NAME="$(basename "$0" .sh)"

fail() { printf 'FAIL [%s]: %s\n' "$TEST_NAME" "$*" >&2; exit 1; }
pass() { printf 'ok   %s\n' "$*"; }
note() { printf '     %s\n' "$*"; }

# Run a command in the sandbox, bounded in time: sb [--client|--inet] [--root] CMD...
sb() { timeout 30 "$SANDBOX" exec "$@"; }

require_sandbox() {
  [[ $(id -u) -eq 0 ]] || fail "net tests run as root (they enter network namespaces)"
  [[ -d $STATE ]] || fail "sandbox '$USTACK_SANDBOX' is not up: run 'sudo $SANDBOX up' first (ctest's fixture does)"
}

# expect_match LABEL TEXT REGEX: fail with the whole text when REGEX (grep -E) is not in it.
expect_match() {
  local label=$1 text=$2 re=$3
  grep -qE -- "$re" <<<"$text" || { printf '%s\n' "$text" | sed 's/^/     | /' >&2; fail "$label: expected /$re/"; }
}
expect_no_match() {
  local label=$1 text=$2 re=$3
  ! grep -qE -- "$re" <<<"$text" || { printf '%s\n' "$text" | sed 's/^/     | /' >&2; fail "$label: did not expect /$re/"; }
}

# make_uplink_ns NS PEER PREFIX: a fresh namespace NS that stands for a real host (a VM) whose
# uplink "up0" is a veth into the sandbox's internet (named PEER there): PREFIX.2/30 on up0,
# PREFIX.1/30 on PEER, default route via PREFIX.1. The internet gets no route back to anything
# behind NS. Programs run in NS resolve only through the sandbox (/etc/netns/NS). IPv6 off.
# drop_uplink_ns NS PEER undoes it (and stops whatever still runs in NS, by PID).
make_uplink_ns() {
  local ns=$1 peer=$2 prefix=$3 inet="$USTACK_SANDBOX-inet"
  ip netns add "$ns"
  mkdir -p "/etc/netns/$ns"
  printf 'nameserver 198.51.100.53\n' >"/etc/netns/$ns/resolv.conf"
  printf '127.0.0.1\tlocalhost\n' >"/etc/netns/$ns/hosts"
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n "$ns" link set lo up
  ip -n "$ns" link add up0 type veth peer name "$peer" netns "$inet"
  ip -n "$ns" addr add "$prefix.2/30" dev up0
  ip -n "$inet" addr add "$prefix.1/30" dev "$peer"
  ip -n "$ns" link set up0 up
  ip -n "$inet" link set "$peer" up
  ip -n "$ns" route add default via "$prefix.1" dev up0
}
drop_uplink_ns() {
  local ns=$1 peer=$2 pid
  if [[ -e /run/netns/$ns ]]; then
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
    ip netns del "$ns"
  fi
  ip -n "$USTACK_SANDBOX-inet" link del "$peer" 2>/dev/null || true
  rm -rf "/etc/netns/${ns:?}"
}

# unprivileged_user: the user a test gives its own TAP to. nobody when nobody can run the programs
# in $USTACK_BIN (a checkout under a private home directory may not allow it), else the invoking
# user ($SUDO_USER), else root (then the test still runs, without proving the unprivileged case).
unprivileged_user() {
  local u
  for u in nobody "${SUDO_USER:-}"; do
    if [[ -z $u ]] || ! id "$u" >/dev/null 2>&1; then continue; fi
    if setpriv --reuid="$u" --regid="$(id -g "$u")" --clear-groups -- test -x "$USTACK_BIN/ustack"; then
      printf '%s' "$u"; return
    fi
  done
  printf 'root'
}

# unwrap [FILE]: minibrowser's narration with each line joined back together. At levels 6-7 a
# line wider than 100 columns goes on under the same tag, indented four spaces
# ("[L7 12.3 ms]     …"); the checks read the whole line, as it was said.
unwrap() {
  awk '/^\[L[0-9] +[0-9.]+ ms\]     / { sub(/^\[L[0-9] +[0-9.]+ ms\]     /, ""); line = line " " $0; next }
       { if (started) print line; line = $0; started = 1 }
       END { if (started) print line }' "${1:--}"
}
# unwrap_file FILE: the same, in place.
unwrap_file() { unwrap "$1" >"$1.unwrapped" && mv "$1.unwrapped" "$1"; }
