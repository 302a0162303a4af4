#!/usr/bin/env bash
# The manual pages and bash completion come from the programs' option tables: each page renders
# without a groff warning and names every option the program accepts (--list-options), and the
# completion offers the subcommands, a program's options, resolve's types and +short.
#   test_man_completion.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 source=$2
fail() { printf 'FAIL [man_completion]: %s\n' "$*" >&2; exit 1; }
pass() { printf 'ok   %s\n' "$*"; }

pages=(ustack minibrowser ustack-ping ustack-dhcp ustack-resolve ustack-serve ustack-get ustack-up ustack-explain ustack-echo)
for page in "${pages[@]}"; do
  file="$build/man/$page.1"
  [[ -s $file ]] || fail "$file missing (the man_pages target writes it)"
  warnings=$(groff -man -ww -z "$file" 2>&1)
  [[ -z $warnings ]] || fail "$page.1: groff: $warnings"
  text=$(groff -man -Tascii -P-c "$file" 2>/dev/null | col -b)
  read -r -a argv <<<"${page//-/ }"
  while read -r option; do
    [[ -n $option ]] || continue
    grep -qF -- "$option" <<<"$text" || fail "$page.1 does not mention $option"
  done < <("$build/bin/${argv[0]}" "${argv[@]:1}" --list-options)
done
pass "${#pages[@]} manual pages render without warnings and name every option of their program"

# shellcheck disable=SC1091
source "$source/apps/shell/ustack.bash"
complete_words() {  # complete_words WORD... : COMPREPLY for the last word
  COMP_WORDS=("$@")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMPREPLY=()
  _ustack_complete
  printf '%s\n' "${COMPREPLY[@]}"
}
[[ $(complete_words "$build/bin/ustack" re) == resolve ]] || fail "ustack re<TAB>: $(complete_words "$build/bin/ustack" re)"
[[ $(complete_words "$build/bin/ustack" get --cac) == --cacert ]] || fail "ustack get --cac<TAB>"
[[ $(complete_words "$build/bin/ustack" get -w) == -w ]] || fail "ustack get -w<TAB>"
[[ $(complete_words "$build/bin/minibrowser" --follow) == --follow-refresh ]] || fail "minibrowser --follow<TAB>"
[[ $(complete_words "$build/bin/ustack" resolve -t M) == MX ]] || fail "ustack resolve -t M<TAB>"
[[ $(complete_words "$build/bin/ustack" resolve www.domain.com +s) == +short ]] || fail "ustack resolve NAME +s<TAB>"
pass "completion: subcommands, options from --list-options, resolve's types and +short"
