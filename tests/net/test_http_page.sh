#!/usr/bin/env bash
# The web site, fetched by the kernel client with curl (name resolved through the sandbox's
# resolver): the page and its >= 12 same-host subresources over kept-alive connections, the 301
# redirect, the chunked SSI page, and the 1 GiB benchmark file's length.
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
require_sandbox

base=http://www.domain.com
c() { sb --client curl -sS --max-time 10 "$@"; }

# 1. The page.
page=$(c "$base/") || fail "curl $base/ failed"
expect_match "title" "$page" '<title>[^<]+</title>'
expect_match "heading" "$page" '<h1>'
expect_match "list" "$page" '<li>'
expect_match "link" "$page" '<a href="/about.html">'
mapfile -t subs < <(grep -oE '<(img|script)[^>]* src="/[^"]*"|<link[^>]* href="/[^"]*"' <<<"$page" \
  | sed -E 's/.*(src|href)="([^"]*)".*/\2/' | sort -u)
((${#subs[@]} >= 12)) || fail "the page references ${#subs[@]} same-host subresources, expected >= 12"
pass "GET / : title, headings, lists, links, ${#subs[@]} same-host subresources"

# 2. Every subresource, all in one curl on one kept-alive connection.
args=(); for s in "${subs[@]}"; do args+=(-o /dev/null "$base$s"); done
report=$(c -w '%{http_code} %{num_connects} %{size_download} %{url_effective}\n' "${args[@]}")
bad=$(awk '$1 != 200' <<<"$report" | cut -c1-200)
[[ -z $bad ]] || fail "subresources not 200: $bad"
connects=$(awk '{n += $2} END {print n}' <<<"$report")
((connects == 1)) || fail "fetching ${#subs[@]} subresources opened $connects connections, expected 1 (keep-alive)"
pass "all ${#subs[@]} subresources 200 over 1 kept-alive connection ($(awk '{b += $3} END {print b}' <<<"$report") bytes)"

headers=$(c -sI "$base/")
expect_match "keep-alive" "$headers" '^[Cc]onnection: keep-alive'

# 3. The redirect.
headers=$(c -I "$base/old")
expect_match "redirect status" "$headers" '^HTTP/1\.1 301'
expect_match "redirect location" "$headers" '^[Ll]ocation: http://www\.domain\.com/'
final=$(c -L -o /dev/null -w '%{http_code} %{num_redirects} %{url_effective}' "$base/old")
[[ $final == "200 1 $base/" ]] || fail "following /old gave '$final', expected '200 1 $base/'"
pass "/old -> 301, Location: $base/, followed to 200"

# 4. The chunked page (SSI: no length known in advance).
resp=$(c -D - --raw "$base/news.shtml")
expect_match "chunked header" "$resp" '^[Tt]ransfer-[Ee]ncoding: chunked'
expect_no_match "no content-length" "$resp" '^[Cc]ontent-[Ll]ength:'
expect_match "chunk size line" "$resp" '^[0-9a-fA-F]+\s*$'
body=$(c "$base/news.shtml")
expect_match "included fragment" "$body" '<h2>Headlines</h2>'
expect_no_match "SSI processed" "$body" '<!--#'
pass "/news.shtml comes back with Transfer-Encoding: chunked and the included fragment"

# 5. The benchmark file: only the length (HEAD).
headers=$(c -I "$base/big.bin")
expect_match "big.bin status" "$headers" '^HTTP/1\.1 200'
expect_match "big.bin length" "$headers" '^[Cc]ontent-[Ll]ength: 1073741824\s*$'
pass "HEAD /big.bin: Content-Length 1073741824"

# 6. A missing page is a real 404.
code=$(c -o /dev/null -w '%{http_code}' "$base/missing.html")
[[ $code == 404 ]] || fail "/missing.html gave $code, expected 404"
pass "/missing.html -> 404"
