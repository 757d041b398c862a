#!/bin/sh
# scenarios.sh -- the LYNC.md scenarios in the BIND lab: real resolvers (BIND, Unbound
# with ECS) in front of waymarkd, clients in New York and London, Edges that die.
# Each transition is timed, written to the timeline CSV and checked against its bound.
. "$(dirname "$0")/lib.sh"
lab_can_run
trap lab_test_cleanup EXIT
trap 'exit 1' INT TERM

# The lab's timers (contrib/lab/waymark.yaml) and the prober's (interval x fall):
TTL=10 FTTL=2 HOLD=3
LAB_INTERVAL=${LAB_INTERVAL:-1} LAB_FALL=${LAB_FALL:-2} LAB_RISE=${LAB_RISE:-1}
PROBE=$((LAB_INTERVAL * LAB_FALL))
# Measurement slack: polling runs every 0.2 s, a query takes milliseconds, and
# resolvers count TTLs in whole seconds (a 2 s TTL can last until the third
# second boundary):
SLACK=2
SUITE0=$(now)
timeline_init

# The host's own namespace, before: the lab must not touch it.
host_net() { ip -br link | awk '{print $1}'; ip -br addr | awk '{$2 = ""; print}'; }
host_net >"$WORK/host.before"
(lab_up) >"$WORK/up.log" 2>&1 || bail "the lab did not come up: $(cat "$WORK/up.log")"
diag "lab up in $(since "$SUITE0") s; failure injection: $LAB_INJECT"
event "lab up (inject: $LAB_INJECT)"
host_net >"$WORK/host.after"
check "the lab adds no interface or address to the host's namespace" cmp -s "$WORK/host.before" "$WORK/host.after"
check "the lab built its 21 namespaces, all named with its prefix" test "$(ip netns list | grep -c "^${P}")" -eq 21

# home CLIENT SITE: wait (bounded) for the steady state: the client's resolver
# answers its home site with the normal TTL, for lyncdiscover and sip.
direct_is() { direct "$1" "$2" "$3" && [ "$(site_of_answer "$3")" = "$4" ] && [ "$(ttl_of "$3")" = "$5" ]; }
home() {
	wait_for 30 direct_is "$1" lyncdiscover A "$2" "$TTL" && wait_for 30 gets "$1" lyncdiscover A "$2" &&
		wait_for 30 gets "$1" sip A "$2" && wait_for 30 gets "$1" _sip._tls SRV both
}
# prime CLIENT NAME TYPE SITE: wait until the resolver has just fetched the answer
# (its TTL is the full $TTL), so that a failure now meets the worst cache.
prime() { wait_for $((TTL + 5)) gets_fresh "$1" "$2" "$3" "$4" "$((TTL - 1))"; IN_FORCE=$TTL; }
# timed DESC BOUND MAX CMD...: time CMD's condition, report it, check the bound.
RESULTS=""
timed() {
	desc=$1 bound=$2 max=$3; shift 3
	if wait_for "$max" "$@"; then
		# measured from T_FROM when set (several waits after one event)
		[ -n "${T_FROM:-}" ] && WAITED=$(since "$T_FROM")
	else
		WAITED="timeout>$max"
	fi
	RESULTS="$RESULTS$SCENARIO|$desc|$WAITED|$bound
"
	csv measure - - - - "$desc: ${WAITED} s (bound $bound s)"
	diag "$desc: $WAITED s (bound $bound s)"
	check "$desc within $bound s (took $WAITED s)" le "$WAITED" "$bound"
}
direct_site() { direct "$1" "$2" "$3" && [ "$(site_of_answer "$3")" = "$4" ]; }
# recovery CLIENT HOME OTHER: right after a recovery was injected: waymarkd
# keeps the client on OTHER during the hold-down, offers HOME again after it
# (asked directly: no cache), and the client's resolver follows within the
# failover TTL.
recovery() {
	T_FROM=$(now)
	direct "$1" lyncdiscover A
	check "$1: recovered but held down: waymarkd still answers $3" test "$(site_of_answer A)" = "$3"
	timed "$1: waymarkd offers $2 again after the hold-down" \
		"$(add $((HOLD + LAB_INTERVAL * LAB_RISE)) $SLACK)" 30 direct_site "$1" lyncdiscover A "$2"
	# waymarkd stamps a recovery at the next whole second: never early.
	check "$1: not before the hold-down ($HOLD s)" ge "$WAITED" "$HOLD"
	timed "$1: back to $2 through the resolver" \
		"$(add $((HOLD + LAB_INTERVAL * LAB_RISE + FTTL)) $SLACK)" 30 gets "$1" lyncdiscover A "$2"
	T_FROM=
	direct "$1" lyncdiscover A
	check "$1 recovered: the normal TTL again" test "$(ttl_of A)" -eq "$TTL"
}

ip netns exec "${P}alice" dig @"$RES_NYC" +short lyncdiscover.contoso.test A >"$WORK/out" 2>&1
check "Alice's resolver (BIND) follows the CNAME and the delegation" grep -qx '10.1.3.11' "$WORK/out"
check "Bob's resolver (Unbound) answers London through ECS" wait_for 5 gets bob lyncdiscover A lon
ip netns exec "${P}res-lon" dig @"$WAYMARK_ADDR" +norec "lyncdiscover.$Z" A >"$WORK/out" 2>&1
check "without ECS, London's resolver itself would be placed in New York" test "$(site_of_answer A)" = nyc
ip netns exec "${P}alice" curl -sk --max-time 3 "https://10.1.3.11/autodiscover/autodiscoverservice.svc/root" >"$WORK/out" 2>&1
check "probe target: New York's autodiscover over HTTPS" grep -q autodiscoverservice "$WORK/out"
ip netns exec "${P}bob" openssl s_client -connect 10.2.2.11:5061 </dev/null >"$WORK/out" 2>&1
check "probe target: London Edge TLS 5061" grep -q 'CN = \*.lyncweb.contoso.test' "$WORK/out"

sampler_start

# --- 1. Alice (New York), New York's Edge dies --------------------------------------------
SCENARIO=alice
check "Alice: steady state, New York" home alice nyc
prime alice lyncdiscover A nyc
ask alice _sip._tls SRV
event "fail_edge ny"
fail_edge ny
T_FROM=$(now)
timed "Alice: waymarkd itself answers London" "$(add $PROBE $SLACK)" 30 direct_site alice lyncdiscover A lon
timed "Alice: lyncdiscover -> London" "$(add $((PROBE + IN_FORCE)) $SLACK)" 30 gets alice lyncdiscover A lon
T_FROM=
timed "Alice: _sip._tls lists only London" "$(add $((PROBE + TTL)) $SLACK)" 30 gets alice _sip._tls SRV lon
check "Alice: no New York target in her SRV" test "$(rdata SRV | grep -c '\.nyc\.')" -eq 0
wait_for 10 gets alice sip A lon
check "Alice: sip follows (London)" test "$SITE" = lon
check "Alice: her resolver's TTL is at most the failover TTL" test "${ATTL:-99}" -le "$FTTL"
direct alice lyncdiscover A
check "Alice degraded: waymarkd answers with the failover TTL (lyncdiscover)" test "$(ttl_of A)" -eq "$FTTL"
direct alice _sip._tls SRV
check "Alice degraded: failover TTL on the SRV set" test "$(ttl_of SRV)" -eq "$FTTL"
check "Alice degraded: London keeps its rank for her (priority 20)" grep -q "SRV.20 100 443 edge1.lon" "$WORK/out"
event "recover_edge ny"
recover_edge ny
recovery alice nyc lon

# --- 2. Bob (London): London's Front End pool loses quorum, its Edge stays up ------------
SCENARIO=bob
check "Bob: steady state, London" home bob lon
prime bob lyncdiscover A lon
event "fail_fe_quorum lon"
fail_fe_quorum lon
T_FROM=$(now)
timed "Bob: waymarkd itself answers New York" "$(add $PROBE $SLACK)" 30 direct_site bob lyncdiscover A nyc
ip netns exec "${P}bob" openssl s_client -connect 10.2.2.11:5061 </dev/null >"$WORK/out" 2>&1
check "Bob: London's Edge itself is still up (TLS 5061 answers)" grep -q 'CN = \*.lyncweb.contoso.test' "$WORK/out"
timed "Bob: lyncdiscover -> New York (Edge down by requires)" "$(add $((PROBE + IN_FORCE)) $SLACK)" 30 gets bob lyncdiscover A nyc
T_FROM=
timed "Bob: sip -> New York" "$(add $((PROBE + TTL)) $SLACK)" 30 gets bob sip A nyc
timed "Bob: _sip._tls lists only New York" "$(add $((PROBE + TTL)) $SLACK)" 30 gets bob _sip._tls SRV nyc
lab_ctl explain "sip.$Z" A --client 10.2.10.10 >"$WORK/out" 2>&1
check "explain: London's Edge is down through its dependency" grep -q '"pool":"lon-edge".*"dependency_down":true' "$WORK/out"
event "recover_fe_quorum lon"
recover_fe_quorum lon
recovery bob lon nyc

# --- 3. Everything down: fail-open ---------------------------------------------------------
SCENARIO=all-down
check "all: steady state" home alice nyc
fo0=$(metric waymark_failopen_answers_total)
event "fail_edge ny + fail_edge lon"
fail_edge ny
fail_edge lon
# Fail-open answers the client's first choice, with the failover TTL: wait
# for the resolvers' fresh answers (the failover TTL), not their cached ones.
timed "all down: Alice answered New York (fail-open, failover TTL)" "$(add $((PROBE + TTL)) $SLACK)" 30 \
	gets_degraded alice lyncdiscover A nyc "$FTTL"
timed "all down: Bob answered London (fail-open, failover TTL)" "$(add $((PROBE + TTL)) $SLACK)" 30 \
	gets_degraded bob lyncdiscover A lon "$FTTL"
n=0 fails=0
while [ $n -lt 10 ]; do
	n=$((n + 1))
	for c in alice bob; do
		sample $c sip A
		[ "$SITE" = none ] && fails=$((fails + 1))
		direct $c sip A
		grep -q 'status: NOERROR' "$WORK/out" && [ "$(ttl_of A)" = "$FTTL" ] || fails=$((fails + 1))
	done
	sleep 0.2
done
check "all down: 40 lookups, every one answered (failover TTL from waymarkd)" test $fails -eq 0
fo1=$(metric waymark_failopen_answers_total)
diag "waymark_failopen_answers_total: ${fo0:-?} -> ${fo1:-?}"
check "fail-open answers counted in /metrics (waymark_failopen_answers_total)" \
	test -n "$fo1" -a "${fo1:-0}" -gt "${fo0:-0}"
lab_ctl explain "sip.$Z" A --client 10.1.10.10 >"$WORK/out" 2>&1
check "explain says fail-open" grep -q '"failopen":true' "$WORK/out"
event "recover_edge ny + recover_edge lon"
recover_edge ny
recover_edge lon
check "all recovered: Alice home" home alice nyc
check "all recovered: Bob home" home bob lon

# --- 4. Rotating DNS: edges (multi) ----------------------------------------------------------
SCENARIO=rotate
ALL4="10.1.2.11 10.1.2.12 10.2.2.11 10.2.2.12"
orders="" bad=0 i=0
while [ $i -lt 12 ]; do
	i=$((i + 1))
	direct alice edges A
	o=$(rdata A | tr '\n' ' ')
	[ "$(rdata A | sort | tr '\n' ' ')" = "$ALL4 " ] || bad=$((bad + 1))
	orders="$orders$o
"
done
norders=$(printf '%s' "$orders" | sort -u | grep -c .)
diag "edges: $norders different orders in 12 lookups"
check "rotate: every answer holds the four healthy Edges" test $bad -eq 0
check "rotate: the order changes across lookups ($norders orders)" test "$norders" -ge 2
prime alice edges A both
event "fail_member nyc-edge1"
fail_member nyc-edge1
lacks_edge1() { sample "$1" edges A && [ -n "$(rdata A)" ] && ! rdata A | grep -qxF 10.1.2.11; }
timed "rotate: killed Edge gone from Alice's answers" "$(add $((PROBE + IN_FORCE)) $SLACK)" 30 lacks_edge1 alice
timed "rotate: killed Edge gone from Bob's answers" "$(add $((PROBE + TTL)) $SLACK)" 30 lacks_edge1 bob
seen=0 i=0 orders=""
while [ $i -lt 10 ]; do
	i=$((i + 1))
	for c in alice bob; do
		lacks_edge1 $c || seen=$((seen + 1))
		direct $c edges A
		rdata A | grep -qxF 10.1.2.11 && seen=$((seen + 1))
		[ $c = alice ] && orders="$orders$(rdata A | tr '\n' ' ')
"
	done
	sleep 0.1
done
check "rotate: no answer contains the killed Edge after that (40 lookups)" test $seen -eq 0
check "rotate: the three others still rotate" test "$(printf '%s' "$orders" | sort -u | grep -c .)" -ge 2
event "recover_member nyc-edge1"
recover_member nyc-edge1
check "rotate: the Edge comes back after the hold-down" wait_for 20 eval 'direct alice edges A && rdata A | grep -qxF 10.1.2.11'

# --- 5. Resolver caching: worst time from "Edge killed" to the other site -------------------
SCENARIO=caching
WORST=0
for pair in alice:nyc:lon bob:lon:nyc; do
	c=${pair%%:*} rest=${pair#*:}
	hs=${rest%%:*} other=${rest#*:}
	check "caching: $c home ($hs)" home "$c" "$hs"
	# The worst case: the resolver has just cached the home answer for the full TTL.
	prime "$c" lyncdiscover A "$hs"
	diag "$c's resolver holds $hs with TTL $TTL (in force: $IN_FORCE s)"
	diag "$c's resolver has just cached $hs for $TTL s"
	event "fail_edge $hs"
	fail_edge "$hs"
	timed "caching: $c's resolver returns $other" "$(add $((PROBE + IN_FORCE)) $SLACK)" 30 gets "$c" lyncdiscover A "$other"
	ge "$WAITED" "$WORST" 2>/dev/null && WORST=$WAITED
	event "recover_edge $hs"
	recover_edge "$hs"
	check "caching: $c back home" home "$c" "$hs"
done
diag "worst Edge-killed -> other-site time through a caching resolver: $WORST s (probe $PROBE s + TTL $TTL s)"

# --- the whole lab is removed ----------------------------------------------------------------
SCENARIO=teardown
sampler_stop
lab_down 2>/dev/null
check "down removes every namespace of the lab" test "$(ip netns list | grep -c "^${P}")" -eq 0
lab_down 2>/dev/null
check "down is safe to run twice" test $? -eq 0
host_net >"$WORK/host.after"
check "the host's namespace is as before" cmp -s "$WORK/host.before" "$WORK/host.after"

diag "scenario | transition | seconds | bound"
printf '%s' "$RESULTS" | while IFS='|' read -r s d w b; do diag "$s | $d | $w | $b"; done
diag "lab suite: $(since "$SUITE0") s; timeline: $TIMELINE"
if command -v gnuplot >/dev/null 2>&1; then
	sh "$top_srcdir/tests/lab/report" "$TIMELINE" "${TIMELINE%.csv}.png" >"$WORK/out" 2>&1
	check "report: the timeline plotted (${TIMELINE%.csv}.png)" test -s "${TIMELINE%.csv}.png"
else
	diag "gnuplot not installed: no timeline plot (apt-get install gnuplot-nox)"
fi
tap_done
