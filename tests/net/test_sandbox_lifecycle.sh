#!/usr/bin/env bash
# The sandbox's own life cycle, on a second instance next to the fixture's (which must not be
# disturbed): `down` of nothing is quiet; a failure during `up` cleans up everything it started;
# `up` with a non-root invoking user gives that user a TAP they can attach to without root;
# a killed daemon makes `status` fail and say so; `up` again rebuilds; `down` leaves nothing.
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
require_sandbox
main=$USTACK_SANDBOX
lc="${main:0:12}-lc"
lc_state=/run/ustack-sandbox/$lc
sbx() { USTACK_SANDBOX=$lc timeout 60 "$SANDBOX" "$@"; }
trap 'sbx down >/dev/null 2>&1 || true' EXIT

# Nothing of instance $lc may remain: namespaces, state, /etc/netns, and the given PIDs.
assert_gone() {
  local what=$1 pid; shift
  ! ip netns list | grep -qE "^$lc-(router|inet|client)( |$)" || fail "$what: namespaces of $lc remain: $(ip netns list | grep "^$lc-")"
  [[ ! -e $lc_state ]] || fail "$what: $lc_state remains"
  ! ls -d /etc/netns/"$lc"-* >/dev/null 2>&1 || fail "$what: /etc/netns/$lc-* remains"
  for pid in "$@"; do
    [[ ! -e /proc/$pid ]] || ! tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$lc_state/" || fail "$what: daemon pid $pid still runs"
  done
}

# 1. down of a missing instance: success, silence.
out=$(sbx down 2>&1) || fail "down of a missing instance failed: $out"
[[ -z $out ]] || fail "down of a missing instance printed: $out"
pass "down of a missing instance succeeds quietly"
rc=0; out=$(sbx status 2>&1) || rc=$?
((rc == 3)) || fail "status of an instance that is not up: exit $rc, expected 3: $out"
expect_match "status says so" "$out" "sandbox '$lc' is not up"
rc=0; out=$(sbx bogus 2>&1) || rc=$?
((rc == 2)) || fail "'sandbox bogus': exit $rc, expected 2"
expect_match "the bad word is named" "$out" "unknown command 'bogus'"
pass "status of a missing instance exits 3; 'sandbox bogus' exits 2 naming the word"

# 2. A failure in the middle of up (after the nsd's and unbound started) cleans up after itself.
out=$(USTACK_SANDBOX_FAIL_AT=nginx sbx up 2>&1) && { printf '%s\n' "$out" >&2; fail "up with an injected failure succeeded"; }
expect_match "failure reported" "$out" 'up failed'
mapfile -t pids < <(grep -oE 'ok \(pid [0-9]+' <<<"$out" | grep -oE '[0-9]+$')
((${#pids[@]} >= 4)) || { printf '%s\n' "$out" >&2; fail "expected 4 daemons started before the failure, saw ${#pids[@]}"; }
assert_gone "after a failed up" "${pids[@]}"
pass "a failed up stopped the ${#pids[@]} daemons it had started (${pids[*]}) and removed everything"

# 3. up for a non-root invoking user; that user attaches to the TAP without root.
t0=$(date +%s%N)
out=$(SUDO_USER=nobody sbx up 2>&1) || { printf '%s\n' "$out" >&2; fail "up of $lc failed"; }
pass "up of a second instance '$lc' in $((($(date +%s%N) - t0) / 1000000)) ms, TAP owned by nobody"
[[ $(SUDO_USER=nobody sbx exec id -un) == nobody ]] || fail "exec does not run as the invoking user (nobody)"
probe=$(SUDO_USER=nobody sbx exec perl - tap0 <"$SANDBOX_DATA/tap-dhcp-probe.pl" 2>&1) \
  || { printf '%s\n' "$probe" >&2; fail "nobody could not use the TAP"; }
expect_match "unprivileged DHCP over the TAP" "$probe" '^type=ACK$'
pass "user nobody attached to tap0 without root and got a DHCP ACK"

# The fixture's instance is untouched by all this.
timeout 30 "$SANDBOX" status >/dev/null || fail "the fixture's sandbox '$main' is no longer healthy"
pass "two instances side by side ('$main' still healthy)"

# 4. A dead daemon: status must fail and name it.
victim=$(cat "$lc_state/pids/nsd-com")
kill -TERM "$victim"
for _ in $(seq 30); do [[ -e /proc/$victim ]] || break; sleep 0.1; done
out=$(sbx status 2>&1) && { printf '%s\n' "$out" >&2; fail "status passed with nsd-com dead"; }
expect_match "status names the dead daemon" "$out" 'nsd-com +pid [0-9]+ +DEAD'
pass "status fails and says 'nsd-com ... DEAD' after the daemon was killed"

# 4b. up while a program of the user runs in the instance: refused, naming it (it would be killed).
sbx exec --root sleep 60 &
sleeper=$!
sleep_pid=""
for _ in $(seq 50); do
  for p in $(ip netns pids "$lc-router"); do [[ $(cat "/proc/$p/comm" 2>/dev/null) == sleep ]] && sleep_pid=$p; done
  [[ -n $sleep_pid ]] && break; sleep 0.1
done
[[ -n $sleep_pid ]] || fail "the test's sleep did not start in $lc-router"
rc=0; out=$(SUDO_USER=nobody sbx up 2>&1) || rc=$?
((rc != 0)) || { printf '%s\n' "$out" >&2; fail "up over an instance in use succeeded"; }
expect_match "refusal names the program" "$out" "in use by .*$sleep_pid\(sleep\).*--rebuild"
[[ -e /proc/$sleep_pid ]] || fail "the refused up killed the program anyway"
pass "up over an instance in use is refused (exit $rc) and names it: ${out#sandbox: }"
kill "$sleep_pid" 2>/dev/null || true
wait "$sleeper" 2>/dev/null || true

# 5. up on an existing instance rebuilds it.
out=$(SUDO_USER=nobody sbx up 2>&1) || { printf '%s\n' "$out" >&2; fail "up over an existing instance failed"; }
expect_match "rebuild announced" "$out" 'already exists: taking it down first'
sbx status >/dev/null || fail "status fails after the rebuild"
pass "up over an existing (broken) instance tears it down and rebuilds it"

# 6. down leaves nothing.
mapfile -t pids < <(cat "$lc_state"/pids/*)
out=$(sbx down 2>&1) || { printf '%s\n' "$out" >&2; fail "down failed"; }
assert_gone "after down" "${pids[@]}"
pass "down stopped ${#pids[@]} daemons and removed namespaces, state and /etc/netns entries"
