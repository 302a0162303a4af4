#!/usr/bin/env bash
# The Vagrantfile is valid for Vagrant (2.3.4, Debian's) without a provider or a box: `vagrant
# validate -p` (--ignore-provider), offline (no checkpoint or box-update calls), with Vagrant's
# home and the project's .vagrant/ in a scratch dir. A copy with a misspelled setting must fail,
# so the check is real. vagrant is in USTACK_PACKAGES: a missing vagrant fails, it does not skip.
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
command -v vagrant >/dev/null || fail "vagrant is not installed (it is in USTACK_PACKAGES: run tools/test, or apt-get install vagrant)"
work=$(mktemp -d /tmp/ustack-vagrant-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
validate() { # validate DIR
  VAGRANT_CHECKPOINT_DISABLE=1 VAGRANT_BOX_UPDATE_CHECK_DISABLE=1 VAGRANT_HOME="$work/home" \
    VAGRANT_DOTFILE_PATH="$work/dot" VAGRANT_CWD="$1" timeout 120 vagrant validate -p 2>&1
}

out=$(validate "$USTACK_SOURCE") || { printf '%s\n' "$out" >&2; fail "vagrant validate -p rejects the Vagrantfile"; }
expect_match "validated" "$out" 'Vagrantfile validated successfully'
[[ ! -e $USTACK_SOURCE/.vagrant ]] || note "(a .vagrant/ exists in the source tree; it is not this test's)"
pass "vagrant $(vagrant --version | awk '{print $2}') validate -p: Vagrantfile validated successfully"

# What the README promises: Debian 12 box, the provisioning script for the vagrant user.
vf=$(cat "$USTACK_SOURCE/Vagrantfile")
expect_match "box" "$vf" 'config\.vm\.box = "debian/bookworm64"'
expect_match "provisioning" "$vf" '/vagrant/tools/provision --user vagrant'
[[ -x $USTACK_SOURCE/tools/provision ]] || fail "tools/provision is not executable"
pass "box debian/bookworm64, provisioning runs tools/provision --user vagrant"

# The negative control: the same file with a misspelled setting is rejected.
mkdir -p "$work/bad"
sed 's/config\.vm\.hostname =/config.vm.hostnam =/' "$USTACK_SOURCE/Vagrantfile" >"$work/bad/Vagrantfile"
grep -q 'hostnam =' "$work/bad/Vagrantfile" || fail "could not make the misspelled copy"
out=$(validate "$work/bad") && { printf '%s\n' "$out" >&2; fail "vagrant validate accepted config.vm.hostnam"; }
expect_match "misspelling named" "$out" "shouldn't exist: hostnam"
pass "a copy with config.vm.hostnam is rejected (\"The following settings shouldn't exist: hostnam\")"
