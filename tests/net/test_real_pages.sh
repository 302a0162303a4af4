#!/usr/bin/env bash
# Real pages, held to w3m: Debian's own HTML manuals (w3m's in three languages, socat's, dnsmasq's
# set-up notes) and pages in legacy charsets (the sandbox's EUC-KR and Latin-1 pages, a real
# manual converted to EUC-JP and ISO-8859-1, samples made here in Shift_JIS, GBK, Big5, KOI8-R
# declared by the Content-Type header, windows-1251, ISO-8859-2, ISO-8859-7), served by the
# sandbox's nginx and fetched by the mini-browser on our stack. Each is compared with
# `w3m -dump` of the same bytes (fetched by curl from the kernel client): no U+FFFD, at least
# 95 % of w3m's words (letters/digits runs; CJK counted per character), and border tables drawn
# as grids. The figures per page are printed.
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
require_sandbox
: "${USTACK_BIN:?USTACK_BIN must point at the bin directory of the build}"
command -v w3m >/dev/null || fail "w3m is not installed (tools/lib/common.sh installs it)"
work=$(mktemp -d /tmp/ustack-pages-test.XXXXXX)
chmod 0777 "$work"
www=$STATE/www
trap 'rm -rf "$work" "$www/corpus" "$www/corpus-koi8r"' EXIT
mkdir -p "$www/corpus" "$www/corpus-koi8r"

# --- the corpus ------------------------------------------------------------------------------------
# name|file|w3m's input charset ("" = let w3m decide)|needs a grid
pages=()
add_doc() {  # add_doc NAME FILE GRID
  [[ -r $2 ]] || fail "$2 is missing (its Debian package is in tools/lib/common.sh)"
  cp "$2" "$www/corpus/$1"
  pages+=("$1|corpus/$1||$3")
}
add_doc w3m-manual.html /usr/share/doc/w3m/MANUAL.html grid
add_doc w3m-manual-de.html /usr/share/doc/w3m/de/MANUAL.html grid
add_doc w3m-manual-ja.html /usr/share/doc/w3m/ja/MANUAL.html grid
add_doc w3m-faq.html /usr/share/doc/w3m/FAQ.html ""
add_doc socat.html /usr/share/doc/socat/socat.html ""
add_doc dnsmasq-setup.html /usr/share/doc/dnsmasq-base/setup.html ""
# A real manual in legacy charsets: the Japanese one as EUC-JP, the German one as ISO-8859-1.
sed 's|<head>|<head><meta http-equiv="Content-Type" content="text/html; charset=EUC-JP">|I' \
  /usr/share/doc/w3m/ja/MANUAL.html | iconv -f UTF-8 -t EUC-JP//TRANSLIT >"$www/corpus/w3m-manual-ja-eucjp.html"
pages+=("w3m-manual-ja-eucjp.html|corpus/w3m-manual-ja-eucjp.html|EUC-JP|grid")
sed 's|charset=UTF-8|charset=ISO-8859-1|I' /usr/share/doc/w3m/de/MANUAL.html |
  iconv -f UTF-8 -t ISO-8859-1//TRANSLIT >"$www/corpus/w3m-manual-de-latin1.html"
pages+=("w3m-manual-de-latin1.html|corpus/w3m-manual-de-latin1.html|ISO-8859-1|grid")
pages+=("euc-kr.html|charset/euc-kr.html|EUC-KR|" "latin1.html|charset/latin1.html|ISO-8859-1|")
# Samples in more charsets: a table of the word "network" with a border, declared by <meta charset>.
sample() {  # sample FILE LABEL ICONV TEXT [header]
  local body="<!DOCTYPE html><html><head>${5:-<meta charset=\"$2\">}<title>$2</title></head><body>
<h1>$4</h1><p>$4 - $2.</p><table border=1><tr><th>$2</th><th>$4</th></tr><tr><td>1</td><td>$4 $4</td></tr></table>
</body></html>"
  printf '%s\n' "$body" | iconv -f UTF-8 -t "$3" >"$www/$1"
}
sample corpus/shift_jis.html shift_jis SHIFT_JIS "ネットワークの接続"
sample corpus/gbk.html gb2312 GBK "网络连接的过程"
sample corpus/big5.html big5 BIG5 "網路連線的過程"
sample corpus/windows-1251.html windows-1251 CP1251 "Сетевое соединение"
sample corpus/iso-8859-2.html iso-8859-2 ISO-8859-2 "Połączenie sieciowe, źdźbło"
sample corpus/iso-8859-7.html iso-8859-7 ISO-8859-7 "Σύνδεση δικτύου"
sample corpus-koi8r/koi8-r.html koi8-r KOI8-R "Сетевое соединение" " "  # no meta: nginx says charset=koi8-r
pages+=("shift_jis.html|corpus/shift_jis.html|SHIFT_JIS|grid" "gbk.html|corpus/gbk.html|GBK|grid"
        "big5.html|corpus/big5.html|BIG5|grid" "windows-1251.html|corpus/windows-1251.html|CP1251|grid"
        "iso-8859-2.html|corpus/iso-8859-2.html|ISO-8859-2|grid" "iso-8859-7.html|corpus/iso-8859-7.html|ISO-8859-7|grid"
        "koi8-r.html|corpus-koi8r/koi8-r.html|KOI8-R|grid")
chmod -R a+rX "$www/corpus" "$www/corpus-koi8r"

# --- the comparison --------------------------------------------------------------------------------
compare() {  # compare OURS W3M -> "covered total percent"
  python3 - "$1" "$2" <<'PY'
import collections, re, sys
cjk = "\u3040-\u30ff\u3400-\u9fff\uac00-\ud7a3\uf900-\ufaff\uff00-\uffef"
token = re.compile("[" + cjk + "]|[^\\W" + cjk + "]+")
def words(path, ours):
    text = open(path, encoding="utf-8", errors="replace").read()
    if ours:
        text = text.split("\nReferences:\n")[0]
        text = re.sub(r"\[\d+\]", " ", text)  # our link numbers (w3m -dump has none)
    return collections.Counter(token.findall(text))
ours, theirs = words(sys.argv[1], True), words(sys.argv[2], False)
total = sum(theirs.values())
covered = sum(min(n, ours[w]) for w, n in theirs.items())
print(covered, total, "%.1f" % (100.0 * covered / max(total, 1)))
PY
}

results=()
worst=100
for entry in "${pages[@]}"; do
  IFS='|' read -r name path charset grid <<<"$entry"
  url="http://www.domain.com/$path"
  sb --client curl -sS --max-time 10 -o "$work/$name.raw" "$url" || fail "curl $url failed"
  w3m_args=(-dump -cols 80 -o display_charset=UTF-8 -T text/html)
  [[ -n $charset ]] && w3m_args+=(-I "$charset")
  w3m "${w3m_args[@]}" "$work/$name.raw" >"$work/$name.w3m" 2>/dev/null || fail "w3m failed on $name"
  rc=0
  timeout 60 "$SANDBOX" exec "$USTACK_BIN/minibrowser" --level 4 --no-color --no-subresources --width 80 \
    --ip 10.77.0.81/24 --gateway 10.77.0.1 --dns 198.51.100.53 "$url" \
    >"$work/$name.ours" 2>"$work/$name.narration" || rc=$?
  ((rc == 0)) || { cat "$work/$name.narration" >&2; fail "minibrowser exited $rc on $url"; }
  narration=$(cat "$work/$name.narration")
  expect_match "$name: encoding narrated" "$narration" 'encoding: [A-Za-z0-9_-]+ \((declared by|from a byte|nothing declared)'
  if grep -q $'\xef\xbf\xbd' "$work/$name.ours"; then
    grep -n $'\xef\xbf\xbd' "$work/$name.ours" | head -5 >&2
    fail "$name: U+FFFD replacement characters in our rendering"
  fi
  if [[ -n $grid ]] && ! grep -q '┌' "$work/$name.ours"; then
    fail "$name: has border tables, but no grid was drawn"
  fi
  read -r covered total percent < <(compare "$work/$name.ours" "$work/$name.w3m")
  enc=$(grep -oE 'encoding: [^;]*' <<<"$narration" | head -1)
  results+=("$(printf '%-26s %6s of %6s w3m words = %5s %%   %s' "$name" "$covered" "$total" "$percent" "${enc#encoding: }")")
  if awk -v p="$percent" 'BEGIN { exit !(p < 95) }'; then
    printf '%s\n' "${results[@]}"
    diff <(tr -s ' \n' '\n' <"$work/$name.w3m" | sort) <(tr -s ' \n' '\n' <"$work/$name.ours" | sort) | grep '^<' | head -20 >&2 || true
    fail "$name: only $percent % of w3m's words"
  fi
  worst=$(awk -v a="$worst" -v b="$percent" 'BEGIN { print (b < a) ? b : a }')
done
printf '%s\n' "${results[@]}"
# The header's charset wins over the bytes' own guess: the KOI8-R page has no <meta>.
expect_match "KOI8-R from the header" "$(cat "$work/koi8-r.html.narration")" 'declared by the Content-Type header: charset=koi8-r'
pass "${#pages[@]} real pages: no U+FFFD, grids drawn, at least $worst % of w3m's words on every page"

# <meta http-equiv="refresh">: shown like w3m; followed only with --follow-refresh.
mbr() {
  timeout 60 "$SANDBOX" exec "$USTACK_BIN/minibrowser" --level 3 --no-color --no-subresources --width 80 \
    --ip 10.77.0.81/24 --gateway 10.77.0.1 --dns 198.51.100.53 "$@"
}
shown=$(mbr http://www.domain.com/refresh.html 2>/dev/null) || fail "minibrowser on refresh.html failed"
expect_match "refresh shown" "$shown" '^Refresh \(3 sec\) http://www\.domain\.com/about\.html$'
followed=$(mbr --follow-refresh http://www.domain.com/refresh.html 2>&1) || fail "minibrowser --follow-refresh failed"
expect_match "refresh narrated" "$followed" 'meta refresh \(3 s\) → http://www\.domain\.com/about\.html, followed at once'
expect_match "refresh followed" "$followed" 'This site is served by nginx'
pass "meta refresh: shown as w3m shows it; followed with --follow-refresh"
