#!/usr/bin/env bash
# Every reference resolves inside the repository (docs/architecture.md "Naming and comments"),
# as a test. No file may point at notes kept outside it (../shared, /work/, DESIGN.md, STEPS.md,
# style-study, libraries-and-conventions), use a hostile-inputs tag without its docs/ path, or
# cite a tracker's issue number. Every docs/ path must exist, and so must what it names:
#   docs/hostile-inputs.md #NN (and lists: #50, #59 / #37/#38 / #86-#88)   an entry "### NN."
#   docs/hostile-inputs.md §X                                               a group "## X."
#   docs/FILE.md "Section"                                                  a heading or **bold**
#   docs/levels.md level N / step N                                         a table row / a step
# and every relative link in a Markdown file must lead to a file. Inside docs/hostile-inputs.md
# the cross-references (#NN) must name entries too.
# Usage: references.sh ROOT [EXCLUDE...]   EXCLUDE: paths relative to ROOT that are skipped.
# Files: git's list (tracked plus untracked, not ignored) when ROOT is in a work tree, else all.
# Exit 1 with one line per problem.
set -uo pipefail
root=${1:?usage: references.sh ROOT [EXCLUDE...]}
shift
root=$(cd "$root" && pwd) || exit 1
excludes=("$@")

list_files() {
  if command -v git >/dev/null 2>&1 && git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -C "$root" ls-files --cached --others --exclude-standard
  else
    (cd "$root" && find . -type f ! -path './.git/*' ! -path './build*' | sed 's#^\./##')
  fi
}

files=()
while IFS= read -r f; do
  [ -f "$root/$f" ] || continue  # deleted in the work tree but still in git's index
  skip=0
  for e in "${excludes[@]}"; do
    case "$f" in "$e" | "$e"/*) skip=1 ;; esac
  done
  [ $skip -eq 0 ] && files+=("$f")
done < <(list_files | sort)
[ ${#files[@]} -gt 0 ] || { echo "references: no files under $root"; exit 1; }

problems=0
checked=0
report() {  # FILE:LINE: what — the text
  echo "$1: $2"
  problems=$((problems + 1))
}

catalogue=$root/docs/hostile-inputs.md
entry_exists() { [ -f "$catalogue" ] && grep -qE "^### $1\. " "$catalogue"; }
group_exists() { [ -f "$catalogue" ] && grep -qE "^## $1\. " "$catalogue"; }
section_exists() {  # FILE NAME: a Markdown heading "## NAME" or a bold "**NAME"
  local file=$root/$1 name=$2
  [ -f "$file" ] || return 1
  grep -qxF -e "## $name" -e "### $name" "$file" || grep -qF -- "**$name" "$file"
}

cd "$root" || exit 1
# Each check is one grep over every file; hits read "FILE:LINE:TEXT".
scan() { grep -nIE "$@" -- "${files[@]}"; }
where() { local rest=${1#*:}; echo "${1%%:*}:${rest%%:*}"; }
text() { local rest=${1#*:}; echo "${rest#*:}"; }

# --- references to what is not in the repository -----------------------------------------------
while IFS= read -r hit; do
  report "$(where "$hit")" "points outside the repository — $(text "$hit")"
done < <(scan '\.\./shared|shared/reference|/work/')
while IFS= read -r hit; do
  report "$(where "$hit")" "cites notes that are not in the repository (say it here or in docs/) — $(text "$hit")"
done < <(scan '(^|[^/A-Za-z])(DESIGN|STEPS)\.md|style-study|libraries-and-conventions')
while IFS= read -r hit; do
  report "$(where "$hit")" "a hostile-inputs tag without its path (write docs/hostile-inputs.md #NN) — $(text "$hit")"
done < <(scan '(^|[^/A-Za-z-])hostile-inputs(\.md)? *(#|§|[A-L]\.[0-9])|(^|[^A-Za-z])hostile #[0-9]|§[A-L]\.[0-9]')
while IFS= read -r hit; do
  report "$(where "$hit")" "cites a tracker's issue number (state the reason instead) — $(text "$hit")"
done < <(scan '(^|[^A-Za-z])[Ii]ssue #[0-9]')

# --- docs/ paths must exist ------------------------------------------------------------------------
while IFS= read -r hit; do
  path=$(grep -oE 'docs/[A-Za-z0-9_./-]*[A-Za-z0-9_]' <<<"$(text "$hit")")
  checked=$((checked + 1))
  [ -e "$path" ] || report "$(where "$hit")" "no such file in the repository: $path"
done < <(scan -o '(^|[^A-Za-z0-9_./-])docs/[A-Za-z0-9_./-]*[A-Za-z0-9_]')

# --- catalogue entries and groups ------------------------------------------------------------------
while IFS= read -r hit; do
  for n in $(text "$hit" | grep -oE '#[0-9]+' | tr -d '#'); do
    checked=$((checked + 1))
    entry_exists "$n" || report "$(where "$hit")" "docs/hostile-inputs.md has no entry #$n"
  done
done < <(scan -o 'docs/hostile-inputs\.md #[0-9]+( *(,|/|–|-|and) *#[0-9]+)*')
while IFS= read -r hit; do
  g=${hit##*§}
  checked=$((checked + 1))
  group_exists "$g" || report "$(where "$hit")" "docs/hostile-inputs.md has no group §$g"
done < <(scan -o 'docs/hostile-inputs\.md §[A-Z]')

# --- named sections, levels and steps --------------------------------------------------------------
while IFS= read -r hit; do
  ref=$(text "$hit")
  doc=${ref%% *}
  name=${ref#*\"}
  name=${name%\"}
  checked=$((checked + 1))
  section_exists "$doc" "$name" || report "$(where "$hit")" "$doc has no section \"$name\""
done < <(scan -o 'docs/[a-z-]+\.md "[^"]+"')
while IFS= read -r hit; do
  read -r _ kind n <<<"$(text "$hit")"
  checked=$((checked + 1))
  if [ "$kind" = level ]; then
    grep -qE "^\| $n \|" docs/levels.md 2>/dev/null || report "$(where "$hit")" "docs/levels.md has no level $n"
  else
    grep -qE "^$n\. " docs/levels.md 2>/dev/null || report "$(where "$hit")" "docs/levels.md has no step $n"
  fi
done < <(scan -o 'docs/levels\.md (level|step) [0-9]+')

# --- relative Markdown links -----------------------------------------------------------------------
while IFS= read -r hit; do
  f=${hit%%:*}
  target=${hit#*](}
  case "$target" in *://* | mailto:* | "") continue ;; esac
  checked=$((checked + 1))
  [ -e "$(dirname "$f")/$target" ] || report "$(where "$hit")" "broken link: $target"
done < <(for f in "${files[@]}"; do case "$f" in *.md) grep -noE -- '\]\([^)#[:space:]]+' "$f" | sed "s#^#$f:#" ;; esac; done)

# --- cross-references inside the catalogue ------------------------------------------------------
if [ -f "$catalogue" ]; then
  while IFS= read -r hit; do
    n=$(grep -oE '[0-9]+' <<<"${hit#*:}")
    checked=$((checked + 1))
    entry_exists "$n" || report "docs/hostile-inputs.md:${hit%%:*}" "no entry #$n"
  done < <(grep -noE -- '(^|[^A-Za-z0-9&/])#[0-9]+' "$catalogue")
fi

if [ $problems -ne 0 ]; then
  echo "references: $problems problem(s) in ${#files[@]} files: every reference must resolve inside the repository (docs/architecture.md \"Naming and comments\")"
  exit 1
fi
echo "references: ${#files[@]} files, $checked references into docs/ resolve, none points outside the repository"
