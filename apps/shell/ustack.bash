# bash completion for ustack and minibrowser (installed by cmake --install as
# share/bash-completion/completions/{ustack,minibrowser}).
# The option words come from the programs themselves (--list-options reads the same table as
# --help), so completion never drifts from the options.
_ustack_complete() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=""
  ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
  local prog=${COMP_WORDS[0]} sub=""
  if [[ ${prog##*/} == ustack ]]; then
    if ((COMP_CWORD == 1)); then
      mapfile -t COMPREPLY < <(compgen -W "$("$prog" --list-options 2>/dev/null)" -- "$cur")
      return 0
    fi
    sub=${COMP_WORDS[1]}
  fi
  case $prev in
    -o | -T | --pcap | --hosts | --lease-file | --root-hints | --cacert | --keylog | --ladder | --json)
      mapfile -t COMPREPLY < <(compgen -f -- "$cur")
      return 0
      ;;
    --tap | --iface)
      mapfile -t COMPREPLY < <(compgen -W "$(ls /sys/class/net 2>/dev/null)" -- "$cur")
      return 0
      ;;
    -t)
      if [[ $sub == resolve ]]; then
        mapfile -t COMPREPLY < <(compgen -W "A AAAA MX NS TXT CNAME SOA PTR" -- "$cur")
        return 0
      fi
      ;;
  esac
  if [[ $cur == -* ]]; then
    local words
    # shellcheck disable=SC2086  # $sub is empty for minibrowser, one word for ustack
    words=$("$prog" $sub --list-options 2>/dev/null)
    mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
  elif [[ $sub == resolve && $cur == +* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "+short" -- "$cur")
  else
    mapfile -t COMPREPLY < <(compgen -f -- "$cur")
  fi
  return 0
}
complete -F _ustack_complete ustack minibrowser
