#!/usr/bin/env bash
# The DNS walk, server by server, from the kernel client: the ISP resolver answers recursively;
# the root refers to com. (NS + glue), com. refers to domain.com., domain.com.'s own server answers
# with authority (aa); a name that com. does not delegate is NXDOMAIN through the resolver.
# shellcheck source-path=SCRIPTDIR source=../../tools/sandbox.d/testlib.sh
source "$(dirname "$0")/../../tools/sandbox.d/testlib.sh"
require_sandbox

# dig from the kernel client, one try, short timeout; full sections for readable failures.
qdig() { sb --client dig +time=2 +tries=1 +nocmd +noquestion +nostats "$@"; }

# 1. The resolver (what DHCP hands out), recursive.
out=$(qdig @198.51.100.53 www.domain.com A)
expect_match "resolver status" "$out" 'status: NOERROR'
expect_match "resolver recursion available" "$out" 'flags: qr rd ra'
expect_match "resolver answer" "$out" '^www\.domain\.com\.\s+[0-9]+\s+IN\s+A\s+203\.0\.113\.80$'
pass "198.51.100.53 (unbound) resolves www.domain.com -> 203.0.113.80"

# 2. The root server: a referral to com., not an answer.
out=$(qdig @198.51.100.1 www.domain.com A +norecurse)
expect_match "root status" "$out" 'status: NOERROR'
expect_match "root answer count" "$out" 'ANSWER: 0,'
expect_no_match "root authority flag" "$out" 'flags:[^;]* aa'
expect_match "root referral NS" "$out" '^com\.\s+[0-9]+\s+IN\s+NS\s+ns1\.nic\.com\.$'
expect_match "root referral glue" "$out" '^ns1\.nic\.com\.\s+[0-9]+\s+IN\s+A\s+198\.51\.100\.2$'
pass "198.51.100.1 (root) refers to com.: NS ns1.nic.com, glue 198.51.100.2"

# 3. The com. TLD server: a referral to domain.com.
out=$(qdig @198.51.100.2 www.domain.com A +norecurse)
expect_match "com status" "$out" 'status: NOERROR'
expect_match "com answer count" "$out" 'ANSWER: 0,'
expect_no_match "com authority flag" "$out" 'flags:[^;]* aa'
expect_match "com referral NS" "$out" '^domain\.com\.\s+[0-9]+\s+IN\s+NS\s+ns1\.domain\.com\.$'
expect_match "com referral glue" "$out" '^ns1\.domain\.com\.\s+[0-9]+\s+IN\s+A\s+198\.51\.100\.3$'
pass "198.51.100.2 (com.) refers to domain.com.: NS ns1.domain.com, glue 198.51.100.3"

# 4. The authoritative server: the answer, with the aa flag.
out=$(qdig @198.51.100.3 www.domain.com A +norecurse)
expect_match "auth status" "$out" 'status: NOERROR'
expect_match "auth authority flag" "$out" 'flags: qr aa'
expect_match "auth answer" "$out" '^www\.domain\.com\.\s+[0-9]+\s+IN\s+A\s+203\.0\.113\.80$'
pass "198.51.100.3 (domain.com.) answers authoritatively: 203.0.113.80, aa"

# 5. A name that does not exist: com. says NXDOMAIN with authority, and so does the resolver.
out=$(qdig @198.51.100.2 www.nowhere.com A +norecurse)
expect_match "com NXDOMAIN" "$out" 'status: NXDOMAIN'
expect_match "com NXDOMAIN aa" "$out" 'flags: qr aa'
expect_match "com NXDOMAIN SOA" "$out" '^com\.\s+[0-9]+\s+IN\s+SOA\s+ns1\.nic\.com\.'
out=$(qdig @198.51.100.53 www.nowhere.com A)
expect_match "resolver NXDOMAIN" "$out" 'status: NXDOMAIN'
pass "www.nowhere.com is NXDOMAIN (com. and the resolver)"

# 6. The client's own resolver configuration: /etc/netns resolv.conf -> 198.51.100.53, hosts has
#    localhost only; getaddrinfo (what curl and browsers use) resolves through it.
conf=$(sb --client cat /etc/resolv.conf)
expect_match "client resolv.conf" "$conf" '^nameserver 198\.51\.100\.53$'
others=$(grep '^nameserver' <<<"$conf" | grep -v '^nameserver 198\.51\.100\.53$' || true)
[[ -z $others ]] || fail "the client's resolv.conf names other servers: $others"
hosts=$(sb --client cat /etc/hosts)
expect_no_match "client hosts file" "$hosts" 'domain\.com'
out=$(sb --client getent ahostsv4 www.domain.com)
expect_match "getaddrinfo" "$out" '^203\.0\.113\.80\s'
pass "the client's resolv.conf names only 198.51.100.53; getaddrinfo gives 203.0.113.80"

# 7. A CNAME, followed by the resolver (a name not asked before, so a fresh walk).
out=$(qdig @198.51.100.53 web.domain.com A)
expect_match "cname" "$out" '^web\.domain\.com\.\s+[0-9]+\s+IN\s+CNAME\s+www\.domain\.com\.$'
expect_match "cname target" "$out" '^www\.domain\.com\.\s+[0-9]+\s+IN\s+A\s+203\.0\.113\.80$'
pass "web.domain.com CNAME www.domain.com -> 203.0.113.80"
