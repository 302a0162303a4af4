#!/usr/bin/env bash
# The Vagrant VM's provisioning script, run the way CI can: inside a fresh namespace standing for
# the VM (its uplink a veth into the sandbox's internet), without apt (--skip-deps), with this
# build's binaries (--bin-dir) and without systemd (--no-systemd). It really runs tools/host-net up
# and its own check (the user takes a DHCP lease with ustack dhcp); a second run changes nothing;
# then tools/host-net down leaves the namespace as it was.
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
require_sandbox
: "${USTACK_BIN:?USTACK_BIN must point at the bin directory of the build}"
ns="pv$$-${USTACK_SANDBOX:0:8}"
peer="pv$$"
tap="pvt$$"
work=$(mktemp -d /tmp/ustack-provision-test.XXXXXX)
user=$(unprivileged_user)
[[ $user == nobody ]] || note "nobody cannot run $USTACK_BIN/ustack: the TAP goes to $user"
cleanup() {
  if [[ -e /run/netns/$ns ]]; then
    ip netns exec "$ns" "$USTACK_SOURCE/tools/host-net" down --tap "$tap" >/dev/null 2>&1 || true
  fi
  drop_uplink_ns "$ns" "$peer"
  rm -rf "$work"
}
trap cleanup EXIT
make_uplink_ns "$ns" "$peer" 100.64.78
printf 'nameserver 198.51.100.53\n' >"$work/resolv.conf"
chmod 0644 "$work/resolv.conf"; chmod 0755 "$work"
snapshot() {
  ip netns exec "$ns" nft list ruleset; ip -n "$ns" -d link show; ip -n "$ns" addr show
  ip -n "$ns" route show table all; ip netns exec "$ns" sysctl net.ipv4.ip_forward; ip netns pids "$ns" | sort -n
}
snapshot >"$work/before"
provision() {
  timeout 120 ip netns exec "$ns" "$USTACK_SOURCE/tools/provision" --skip-deps --bin-dir "$USTACK_BIN" --no-systemd \
    --user "$user" -- --uplink up0 --tap "$tap" --subnet 10.81.0.0/24 --resolv-file "$work/resolv.conf" 2>&1
}

out=$(provision) || { printf '%s\n' "$out" | sed 's/^/     | /' >&2; fail "tools/provision failed"; }
printf '%s\n' "$out" | sed 's/^/     | /'
expect_match "apt skipped" "$out" 'dependencies: skipped'
expect_match "TAP made" "$out" "created TAP $tap owned by $user"
expect_match "check: lease" "$out" 'lease of 10\.81\.0\.1[0-9][0-9] obtained from 10\.81\.0\.1'
expect_match "ready" "$out" "ready: as $user, try: minibrowser --level 7 http://example.com/"
pass "provision (no apt, --bin-dir, no systemd) in a namespace: host-net up, $user got $(grep -oE 'lease of [0-9.]+' <<<"$out")"

out=$(provision) || { printf '%s\n' "$out" | sed 's/^/     | /' >&2; fail "the second tools/provision failed"; }
expect_match "second run" "$out" "$tap is already up \(nothing changed\)"
expect_match "second check" "$out" 'lease of 10\.81\.0\.1[0-9][0-9]'
pass "provision again: host-net unchanged, the check passes again"

out=$(timeout 60 ip netns exec "$ns" "$USTACK_SOURCE/tools/host-net" down --tap "$tap" 2>&1) || fail "host-net down failed: $out"
snapshot >"$work/after"
diff -u "$work/before" "$work/after" >&2 || fail "the namespace differs after host-net down"
pass "host-net down: the namespace is as it was before provisioning"

# The systemd unit the VM gets (step 4; CI has no systemd to run it): systemd-analyze verify
# accepts it once ExecStart points at an existing host-net (on the VM it is /usr/local/sbin's copy).
unit=$("$USTACK_SOURCE/tools/provision" --print-unit --user vagrant -- --subnet 10.200.0.0/24)
expect_match "unit: up" "$unit" '^ExecStart=/usr/local/sbin/ustack-host-net up --user vagrant --subnet 10\.200\.0\.0/24$'
expect_match "unit: down" "$unit" '^ExecStop=/usr/local/sbin/ustack-host-net down --tap tap0$'
expect_match "unit: at boot" "$unit" '^WantedBy=multi-user\.target$'
if command -v systemd-analyze >/dev/null; then
  from=/usr/local/sbin/ustack-host-net
  printf '%s\n' "${unit//"$from"/"$USTACK_SOURCE/tools/host-net"}" >"$work/ustack-host-net.service"
  out=$(systemd-analyze verify "$work/ustack-host-net.service" 2>&1) || { printf '%s\n' "$out" >&2; fail "systemd-analyze verify rejects the unit"; }
  pass "ustack-host-net.service: ExecStart up --user vagrant, ExecStop down, WantedBy multi-user; systemd-analyze verify ok"
else
  pass "ustack-host-net.service: ExecStart up --user vagrant, ExecStop down, WantedBy multi-user (no systemd-analyze here to verify it)"
fi
