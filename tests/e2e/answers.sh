#!/bin/sh
# answers.sh -- e2e: the real daemon answers the fixture zone correctly over UDP/TCP, IPv4/IPv6 (dig).
. "$(dirname "$0")/lib.sh"

cp "$top_srcdir/tests/unit/data/zone/example.test.zone" "$WORK/"
cat >"$WORK/waymark.yaml" <<CONF
listen: ["127.0.0.1:0", "[::1]:0"]
threads: 2
zones:
  - name: example.test
    file: example.test.zone
CONF
wm_start "$WORK/waymark.yaml" || bail "waymarkd did not start"

# The same positive answer over every transport.
for t in "dq4" "dq4 +tcp" "dq6" "dq6 +tcp"; do
	$t www.example.test A
	check "$t: www A is NOERROR" status_is NOERROR
	check "$t: www A flags qr aa" flags_are "qr aa"
	check "$t: www A has 2 answers" count_is ANSWER 2
	check "$t: www A 192.0.2.80" has_rr "www.example.test. 3600 IN A 192.0.2.80"
	check "$t: www A 192.0.2.81" has_rr "www.example.test. 3600 IN A 192.0.2.81"
	check "$t: www A no authority" count_is AUTHORITY 0
done

dq4 WwW.ExAmPlE.TeSt AAAA
check "question case kept in the answer owner" has_rr "WwW.ExAmPlE.TeSt. 3600 IN AAAA 2001:db8::80"
check "question case kept in the question" has_text ";WwW.ExAmPlE.TeSt."

dq4 nothere.example.test A
check "NXDOMAIN" status_is NXDOMAIN
check "NXDOMAIN is authoritative" flags_are "qr aa"
check "NXDOMAIN SOA with negative TTL" has_rr "example.test. 300 IN SOA ns1.example.test. hostmaster.example.test. 2026112301 7200 3600 1209600 300"

dq6 +tcp www.example.test MX
check "NODATA is NOERROR" status_is NOERROR
check "NODATA has no answer" count_is ANSWER 0
check "NODATA has the SOA" count_is AUTHORITY 1

dq4 www.example.org A
check "REFUSED outside our zones" status_is REFUSED
check "REFUSED is not authoritative" flags_are "qr"

dq4 chain1.example.test A
check "CNAME chain followed" count_is ANSWER 4
check "CNAME chain first link" has_rr "chain1.example.test. 3600 IN CNAME chain2.example.test."
check "CNAME chain end" has_rr "www.example.test. 3600 IN A 192.0.2.81"

dq4 dangling.example.test A
check "CNAME to a missing name is NXDOMAIN (RFC 6604)" status_is NXDOMAIN

dq4 x.y.wild.example.test TXT
check "wildcard synthesised" has_rr "x.y.wild.example.test. 3600 IN TXT \"wild\""
dq4 b.ent.example.test A
check "empty non-terminal is NODATA" status_is NOERROR
check "empty non-terminal has no answer" count_is ANSWER 0
dq4 c.b.ent.example.test A
check "below an empty non-terminal is NXDOMAIN" status_is NXDOMAIN

dq4 www.sub.example.test A
check "referral is NOERROR" status_is NOERROR
check "referral is not authoritative" flags_are "qr"
check "referral NS" has_rr "sub.example.test. 3600 IN NS ns1.sub.example.test."
check "referral glue" has_rr "ns1.sub.example.test. 3600 IN A 192.0.2.54"
dq4 sub.example.test DS
check "DS at the cut answered by the parent" flags_are "qr aa"

dq4 example.test MX
check "MX target address in additional" has_rr "mail.example.test. 3600 IN A 192.0.2.25"
dq6 _sip._tls.example.test SRV
check "SRV answer" has_rr "_sip._tls.example.test. 3600 IN SRV 10 50 443 sip.example.test."
check "SRV target address in additional" has_rr "sip.example.test. 3600 IN A 192.0.2.60"

dq4 www.example.test ANY
check "ANY gets one RRset (RFC 8482)" count_is ANSWER 2

dq4 +bufsize=4096 www.example.test A
check "EDNS: our UDP size in OPT" has_text "udp: 1232"
dq4 +noedns www.example.test A
check "no EDNS in, none out" lacks_text "OPT PSEUDOSECTION"
dq4 +edns=1 +noednsnegotiation www.example.test A
check "EDNS version 1 is BADVERS" status_is BADVERS

dq4 +noedns +ignore big.example.test TXT
check "UDP without EDNS: big answer truncated" flags_are "qr aa tc"
check "truncated at the RRset boundary" count_is ANSWER 0
dq4 +bufsize=1232 big.example.test TXT
check "EDNS 1232: big answer fits" count_is ANSWER 4
dq6 +tcp +noedns big.example.test TXT
check "TCP: big answer whole" count_is ANSWER 4

dq4 +opcode=2 www.example.test A
check "opcode STATUS is NOTIMP" status_is NOTIMP

dq4 +subnet=198.51.100.0/24 www.example.test A
check "ECS echoed with scope 0 for static data" has_text "CLIENT-SUBNET: 198.51.100.0/24/0"
dq6 +subnet=2001:db8:1::/48 www.example.test A
check "ECS IPv6 echoed with scope 0" has_text "CLIENT-SUBNET: 2001:db8:1::/48/0"

wm_stop
check "SIGTERM stops with status 0" test "$WM_STATUS" -eq 0
check "stop is logged" grep -q ' info stopped' "$WORK/daemon.log"
tap_done
