#!/bin/sh
# services.sh -- e2e: the Lync example answers by geography and health (dig +subnet, waymarkctl set/explain).
. "$(dirname "$0")/lib.sh"

# The bundled example, on ephemeral ports, its lab database by absolute
# path, and a 3 s hold-down so that a recovery can be watched.
cp "$top_srcdir/zones/example.test.zone" "$top_srcdir/zones/lyncweb.contoso.test.zone" "$WORK/"
sed -e 's|^listen:.*|listen: ["127.0.0.1:0", "[::1]:0"]|' \
	-e "s|database: ../geo/lab.mmdb|database: $top_srcdir/geo/lab.mmdb|" \
	-e 's|hold_down: 600s|hold_down: 3s|' \
	"$top_srcdir/zones/example.yaml" >"$WORK/waymark.yaml"
printf 'overrides_file: overrides.state\n' >>"$WORK/waymark.yaml"
wm_start "$WORK/waymark.yaml" || bail "waymarkd did not start"

Z=lyncweb.contoso.test
NA=192.0.2.0/24
EU=198.51.100.0/24
AS=203.0.113.0/24
ctl() { "$WAYMARKCTL" -s "$CTL_SOCK" "$@" >"$WORK/ctl.out" 2>&1; }
set_state() { ctl set "$1" "$2" || diag "set $1 $2 failed:" "$(cat "$WORK/ctl.out")"; }
# no_rr PATTERN: no record line (tabs folded) contains PATTERN
no_rr() { ! tr -s '\t ' '  ' <"$WORK/out" | grep -v '^;' | grep -qF -- "$1"; }
q() { # q SUBNET NAME TYPE
	dq4 +subnet="$1" "$2.$Z" "$3"
}

# --- everything up ------------------------------------------------------------------
q $NA lyncdiscover A
check "NA: lyncdiscover is New York's reverse proxy" has_rr "lyncdiscover.$Z. 300 IN A 192.0.2.21"
check "NA: scope of the lab tree for 192.0.2/24" has_text "CLIENT-SUBNET: 192.0.2.0/24/6"
q $EU lyncdiscover A
check "EU: lyncdiscover is London's" has_rr "lyncdiscover.$Z. 300 IN A 198.51.100.21"
check "EU: scope /24" has_text "CLIENT-SUBNET: 198.51.100.0/24/24"
q $AS lyncdiscover A
check "Asia: nearest site is London" has_rr "lyncdiscover.$Z. 300 IN A 198.51.100.21"
check "Asia: scope capped at the source /24" has_text "CLIENT-SUBNET: 203.0.113.0/24/24"
dq4 +subnet=10.1.0.0/16 "sip.$Z" A
check "New York office by its subnet map" has_rr "sip.$Z. 300 IN A 192.0.2.11"
q $NA lyncdiscover AAAA
check "A and AAAA decided together: NY's AAAA" has_rr "lyncdiscover.$Z. 300 IN AAAA 2001:db8:1::21"
q $EU lyncdiscover AAAA
check "London has no AAAA: NODATA, not another site" count_is ANSWER 0
check "NODATA carries the SOA" has_rr "$Z. 60 IN SOA ns1.$Z. hostmaster.$Z. 2026112301 3600 600 1209600 60"
q $EU sip TXT
check "unsupported type at a service name: NODATA" status_is NOERROR
check "unsupported type: no answer" count_is ANSWER 0
dq4 +subnet=0.0.0.0/0 "lyncdiscover.$Z" A
check "ECS SOURCE 0: not tailored, scope 0" has_text "CLIENT-SUBNET: 0.0.0.0/0/0"

q $EU _sip._tls SRV
check "EU SRV: London Edge 1 first priority" has_rr "_sip._tls.$Z. 300 IN SRV 10 100 443 edge1.lon.$Z."
check "EU SRV: London Edge 2 weight 50" has_rr "_sip._tls.$Z. 300 IN SRV 10 50 443 edge2.lon.$Z."
check "EU SRV: New York second" has_rr "_sip._tls.$Z. 300 IN SRV 20 100 443 edge1.nyc.$Z."
check "EU SRV: target addresses in additional" has_rr "edge1.lon.$Z. 300 IN A 198.51.100.11"
q $NA _sipfederationtls._tcp SRV
check "NA federation SRV: New York first, port 5061" has_rr "_sipfederationtls._tcp.$Z. 300 IN SRV 10 100 5061 edge1.nyc.$Z."
q $EU meet A
check "cname: London's web farm" has_rr "meet.$Z. 300 IN CNAME web.lon.$Z."
check "cname: target followed in the zone" has_rr "web.lon.$Z. 3600 IN A 198.51.100.21"
q $EU edges A
check "multi: four Edge addresses" count_is ANSWER 4
q $NA webconf A
first=$(grep -E "^webconf" "$WORK/out" | awk '{print $5}')
q $NA webconf A
check "weighted sticky: the same Edge again" has_rr "webconf.$Z. 300 IN A $first"
check "weighted sticky: scope is the client /24" has_text "CLIENT-SUBNET: 192.0.2.0/24/24"
dq4 "edge2.lon.$Z" A
check "member host name answers its address" has_rr "edge2.lon.$Z. 300 IN A 198.51.100.12"

# --- Alice: the New York Edge dies, one server at a time ------------------------------
set_state nyc-edge1 down
q $NA sip A
check "NY Edge 1 down: NY still up, dead server withdrawn" has_rr "sip.$Z. 30 IN A 192.0.2.12"
check "NY Edge 1 down: only one address" count_is ANSWER 1
q $NA _sip._tls SRV
check "NY Edge 1 down: gone from SRV" lacks_text "edge1.nyc"
set_state nyc-edge2 down
q $NA sip A
check "NY Edge down: Alice gets London" has_rr "sip.$Z. 30 IN A 198.51.100.11"
check "NY Edge down: failover TTL" no_rr " 300 IN A "
q $NA _sip._tls SRV
check "NY Edge down: SRV lists only London" lacks_text ".nyc.$Z."
check "NY Edge down: London keeps its rank (priority 20)" has_rr "_sip._tls.$Z. 30 IN SRV 20 100 443 edge1.lon.$Z."
q $NA av A
check "NY Edge down: A/V Edge (requires the Edge) moves too" has_rr "av.$Z. 30 IN A 198.51.100.31"
q $NA lyncdiscover A
check "NY Edge down: NY reverse proxy still serves" has_rr "lyncdiscover.$Z. 300 IN A 192.0.2.21"
ctl explain "sip.$Z" A --client 192.0.2.7/24
check "explain: London chosen, not first choice" grep -q '"site":"lon","first_choice":false' "$WORK/ctl.out"

# --- recovery: hold-down keeps Alice in London for 3 s, then New York again --------------
set_state nyc-edge1 auto
set_state nyc-edge2 auto
q $NA sip A
check "recovered: held down, still London" has_rr "sip.$Z. 30 IN A 198.51.100.11"
ctl explain "sip.$Z" A --client 192.0.2.7/24
check "explain: New York is held down" grep -Eq '"pool":"nyc-edge".*"hold_down_left":[1-4][,}]' "$WORK/ctl.out"
ctl geo 198.51.100.200/25
check "geo: bits beyond the prefix are dropped (198.51.100.128/25 looked up)" grep -q 'database prefix 198.51.100.128/25' "$WORK/ctl.out"
i=0
until q $NA sip A && has_rr "sip.$Z. 300 IN A 192.0.2.11"; do
	i=$((i + 1)); [ $i -gt 100 ] && break
	sleep 0.1
done
check "after the hold-down: New York again, long TTL" has_rr "sip.$Z. 300 IN A 192.0.2.11"

# --- an override with an expiry lifts itself ------------------------------------------
ctl set nyc-edge1 down --for 2s
check "set --for: accepted" grep -q '"state":"down"' "$WORK/ctl.out"
q $NA sip A
check "set --for: the member is out at once" no_rr "192.0.2.11"
i=0
until q $NA sip A && has_rr "sip.$Z. 300 IN A 192.0.2.11"; do
	i=$((i + 1)); [ $i -gt 100 ] && break
	sleep 0.1
done
check "set --for: back by itself when the override expires" has_rr "sip.$Z. 300 IN A 192.0.2.11"

# --- Bob: London's Front End pool loses quorum while its Edge is up ----------------------
set_state lon-fe1 down
q $EU sip A
check "one London FE down: quorum holds, London" has_rr "sip.$Z. 300 IN A 198.51.100.11"
set_state lon-fe2 down
q $EU sip A
check "London pool below quorum: Bob goes to New York" has_rr "sip.$Z. 30 IN A 192.0.2.11"
q $EU lyncdiscover A
check "London pool down: reverse proxy requires it too" has_rr "lyncdiscover.$Z. 30 IN A 192.0.2.21"
ctl explain "name=sip.$Z" type=A "client=198.51.100.7/24"
check "explain: London Edge down through its dependency" grep -q '"pool":"lon-edge".*"dependency_down":true' "$WORK/ctl.out"
set_state lon-fe1 auto
set_state lon-fe2 auto

# --- everything down: fail open ---------------------------------------------------------
set_state nyc down
set_state lon down
q $NA sip A
check "all down: NA still answered (fail-open, first choice)" has_rr "sip.$Z. 30 IN A 192.0.2.11"
q $EU sip A
check "all down: EU answered London (fail-open)" has_rr "sip.$Z. 30 IN A 198.51.100.11"
ctl explain "name=sip.$Z" type=A "client=198.51.100.7/24"
check "explain says fail-open fired" grep -q '"failopen":true' "$WORK/ctl.out"
curl -s "http://127.0.0.1:$HTTP_PORT/metrics" >"$WORK/out"
check "fail-open answers are counted in /metrics" grep -Eq '^waymark_failopen_answers_total [1-9]' "$WORK/out"
check "dynamic answers are counted in /metrics" grep -Eq '^waymark_dynamic_answers_total [1-9][0-9]' "$WORK/out"
set_state nyc auto
set_state lon auto
# Both sites are back but inside their hold-down: still fail-open until it ends.
q $EU sip A
check "both sites held down after recovery: the first up site, not fail-open" has_rr "sip.$Z. 30 IN A 198.51.100.11"
i=0
until q $EU sip A && has_rr "sip.$Z. 300 IN A 198.51.100.11"; do
	i=$((i + 1)); [ $i -gt 100 ] && break
	sleep 0.1
done
check "hold-down over: long TTL again" has_rr "sip.$Z. 300 IN A 198.51.100.11"

# --- _explain.<name> TXT: off by default, then on for loopback, then not for us
dq4 "_explain.sip.$Z" TXT
check "explain TXT is off by default (NXDOMAIN)" status_is NXDOMAIN
printf 'explain: { txt: true, allow: ["127.0.0.0/8"] }\n' >>"$WORK/waymark.yaml"
ctl reload
check "reload with explain on" test $? -eq 0
dq4 +subnet=$EU "_explain.sip.$Z" TXT
check "explain TXT: the client and where it came from" has_rr "_explain.sip.$Z. 0 IN TXT \"client 198.51.100.0/24 from ecs\""
check "explain TXT: site order and scope" has_rr "_explain.sip.$Z. 0 IN TXT \"geo map clients class 1 scope 24 order lon,nyc\""
check "explain TXT: the answer and its TTL" has_rr "_explain.sip.$Z. 0 IN TXT \"answer site lon ttl 300 first_choice yes failopen no\""
sed -i 's|allow: \["127.0.0.0/8"\]|allow: ["10.0.0.0/8"]|' "$WORK/waymark.yaml"
ctl reload
dq4 +subnet=$EU "_explain.sip.$Z" TXT
check "explain TXT from a network not allowed: NODATA" count_is ANSWER 0
check "explain TXT not allowed: still NOERROR" status_is NOERROR

# --- drain, and overrides that survive a restart ---------------------------------
ctl drain nyc-edge
check "drain: withdrawal when the 300 s TTL has run out" grep -q '"safe_in_seconds":301' "$WORK/ctl.out"
q $NA sip A
check "drain: answers naming the pool carry TTL 1" has_rr "sip.$Z. 1 IN A 192.0.2.11"
set_state lon-edge2 down
wm_stop
check "overrides are on disk" grep -q "^pool nyc-edge drain " "$WORK/overrides.state"
check "member override on disk" grep -q "^member lon-edge2 down 0$" "$WORK/overrides.state"
wm_start "$WORK/waymark.yaml" || bail "waymarkd did not restart"
check "restart: overrides restored" grep -q "overrides restored file=.* applied=2" "$WORK/daemon.log"
q $NA sip A
check "restart: the drain goes on (TTL 1)" has_rr "sip.$Z. 1 IN A 192.0.2.11"
q $EU sip A
check "restart: London Edge 2 still down" no_rr "198.51.100.12"
set_state nyc-edge auto
set_state lon-edge2 auto
q $NA sip A
check "set auto ends the drain" no_rr "sip.$Z. 1 IN A"
check "overrides file emptied" test "$(grep -vc '^#' "$WORK/overrides.state")" -eq 0

ctl set target=nosuch state=down
check "set on an unknown name fails" test $? -ne 0
check "set on an unknown name says why" grep -q "no member, pool or site named 'nosuch'" "$WORK/ctl.out"
ctl geo 198.51.100.7
check "geo: a London address" grep -q '"sites":\["lon","nyc"\]' "$WORK/ctl.out"
wm_stop
check "clean stop" test "$WM_STATUS" -eq 0

# --- configuration errors at file:line ------------------------------------------------
bad() { # bad DESC SED-EXPR EXPECTED-TEXT
	sed -e "$2" "$WORK/waymark.yaml" >"$WORK/bad.yaml"
	"$WAYMARKD" -c "$WORK/bad.yaml" -t >"$WORK/out" 2>&1
	check "$1: rejected" test $? -ne 0
	check "$1: says '$3' at file:line" grep -q "^$WORK/bad.yaml:[0-9]*:.*$3" "$WORK/out"
}
bad "unknown site" 's|pools: { nyc: nyc-edge, lon: lon-edge }|pools: { nyc: nyc-edge, par: lon-edge }|' "par"
bad "unknown pool" 's|requires: \[nyc-fe\] }|requires: [nyc-nope] }|' "nyc-nope"
bad "cyclic requires" 's|members: \[nyc-fe1, nyc-fe2, nyc-fe3\], min_up: majority }|members: [nyc-fe1, nyc-fe2, nyc-fe3], min_up: majority, requires: [nyc-av] }|' "cyclic"
bad "min_up larger than the pool" 's|min_up: majority }|min_up: 5 }|' "min_up"
bad "weight 0" 's|weight: 50|weight: 0|' "weight"
bad "a pool named like a site" 's|^  nyc-av: |  nyc: |' "has the name of a site"
bad "a service name on static data" 's|      meet: { kind: cname|      ns1: { kind: failover }\n      meet: { kind: cname|' "static data"
tap_done
