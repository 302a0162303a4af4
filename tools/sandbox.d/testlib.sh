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
