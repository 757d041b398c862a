#!/bin/sh
# withdraw.sh -- e2e: how fast a dead member leaves the answers and a recovered one returns (real probes).
#
# Two members behind HTTP checks (interval 1s, fastinter 250ms, fall 2,
# rise 2, timeout 500ms) on fakesrv. The target is killed
# (connection refused), then restarted, nine times; stopped with SIGSTOP (it accepts
# nothing more: probes time out), then continued, five times. dig polls every 100 ms;
# failures are injected at phases spread over the probe interval, and
# the times go to the TAP diagnostics, and the bounds of the issue are
# asserted: refused median <= 1.0 s and worst <= 2.0 s, timeouts <= 2.5 s,
# return <= 2.5 s.
. "$(dirname "$0")/lib.sh"

FAKESRV=${FAKESRV:-$top_builddir/tests/e2e/fakesrv}
start_target() { # start_target ADDR PORT -> TPID
	"$FAKESRV" http "$1" "$2" >"$WORK/fs.out" 2>&1 &
	TPID=$!
	i=0
	until grep -q '^ready port=' "$WORK/fs.out"; do
		i=$((i + 1)); [ $i -gt 100 ] && bail "fakesrv did not start"
		sleep 0.02
	done
	TPORT=$(sed -n 's/^ready port=//p' "$WORK/fs.out")
}
start_target 127.0.0.2 0
A_PID=$TPID A_PORT=$TPORT
start_target 127.0.0.3 0
B_PID=$TPID B_PORT=$TPORT

cat >"$WORK/p.zone" <<'ZONE'
$ORIGIN p.test.
$TTL 300
@ IN SOA ns1 hostmaster 1 3600 600 86400 60
  IN NS ns1
ns1 IN A 192.0.2.1
ZONE
cat >"$WORK/waymark.yaml" <<CONF
listen: ["127.0.0.1:0", "[::1]:0"]
threads: 2
zones: [{ name: p.test, file: p.zone }]
sites: { s1: {} }
geo_maps: { m: { default: [s1] } }
checks:
  web-a: { kind: http, port: $A_PORT, path: /autodiscover/autodiscoverservice.svc/root, interval: 1s, timeout: 500ms, fastinter: 250ms, rise: 2, fall: 2 }
  web-b: { kind: http, port: $B_PORT, path: /autodiscover/autodiscoverservice.svc/root, interval: 1s, timeout: 500ms, fastinter: 250ms, rise: 2, fall: 2 }
members:
  a: { address: 127.0.0.2, checks: [web-a] }
  b: { address: 127.0.0.3, checks: [web-b] }
pools:
  p: { site: s1, members: [a, b], min_up: 1 }
services:
  s:
    map: m
    zone: p.test
    pools: { s1: p }
    ttl: 60
    failover_ttl: 5
    names: { www: { kind: failover } }
CONF
wm_start "$WORK/waymark.yaml" || bail "waymarkd did not start"
check "started only after the first round of checks" grep -q "first round of health checks done" "$WORK/daemon.log"
dq4 www.p.test A
check "both members up at start" count_is ANSWER 2

now() { date +%s.%N; }
# until_answer HAS|LACKS ADDR: poll every 100 ms (at most 10 s); prints the seconds waited
until_answer() {
	t0=$(now)
	i=0
	while :; do
		dig @127.0.0.1 -p "$PORT4" +norec +time=1 +tries=1 +short www.p.test A >"$WORK/ans" 2>&1
		if [ "$1" = LACKS ] && ! grep -qx "$2" "$WORK/ans"; then break; fi
		if [ "$1" = HAS ] && grep -qx "$2" "$WORK/ans"; then break; fi
		i=$((i + 1))
		[ $i -gt 100 ] && { echo 99; return; }
		sleep 0.1
	done
	echo "$(now) $t0" | awk '{ printf "%.2f", $1 - $2 }'
}
stats() { # stats "t1 t2 ...": "median worst"
	echo "$1" | tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { printf "%.2f %.2f", v[int((NR + 1) / 2)], v[NR] }'
}

# A server dies at an arbitrary moment, not just after a probe. Right after
# the member is seen back in the answers (up to ~0.1 s after its probe), its
# last probe has just succeeded and the next one is an interval (1 s, with
# 10% jitter) away: failing it 0.05, 0.15, ... 0.85 s later samples the
# interval evenly (stratified: the median does not depend on luck). A first
# unmeasured cycle aligns the first run.
kill "$A_PID"
wait "$A_PID" 2>/dev/null
until_answer LACKS 127.0.0.2 >/dev/null
start_target 127.0.0.2 "$A_PORT"
A_PID=$TPID
until_answer HAS 127.0.0.2 >/dev/null
refused="" timeouts="" back=""
for phase in 0.05 0.15 0.25 0.35 0.45 0.55 0.65 0.75 0.85; do
	# killed: connection refused
	sleep "$phase"
	kill "$A_PID"
	wait "$A_PID" 2>/dev/null
	refused="$refused $(until_answer LACKS 127.0.0.2)"
	start_target 127.0.0.2 "$A_PORT"
	A_PID=$TPID
	back="$back $(until_answer HAS 127.0.0.2)"
done
for phase in 0.05 0.25 0.45 0.65 0.85; do
	# stopped: it takes no more requests, probes time out
	sleep "$phase"
	kill -STOP "$A_PID"
	timeouts="$timeouts $(until_answer LACKS 127.0.0.2)"
	kill -CONT "$A_PID"
	back="$back $(until_answer HAS 127.0.0.2)"
done
kill "$A_PID" "$B_PID" 2>/dev/null

set -- $(stats "$refused")
diag "killed (refused): $refused s; median $1 s, worst $2 s"
check "refused: median withdrawal <= 1.0 s" awk "BEGIN { exit !($1 <= 1.0) }"
check "refused: worst withdrawal <= 2.0 s" awk "BEGIN { exit !($2 <= 2.0) }"
set -- $(stats "$timeouts")
diag "stopped (timeouts): $timeouts s; median $1 s, worst $2 s"
check "timeouts: worst withdrawal <= 2.5 s" awk "BEGIN { exit !($2 <= 2.5) }"
set -- $(stats "$back")
diag "returned after recovery: $back s; median $1 s, worst $2 s"
check "recovered: back in the answers within 2.5 s (rise 2)" awk "BEGIN { exit !($2 <= 2.5) }"
check "withdrawals are logged with the reason" grep -q 'member state changed member=a state=down reason="connect refused"' "$WORK/daemon.log"
check "timeouts are logged as such" grep -q 'check=web-a state=down reason="timeout' "$WORK/daemon.log"

wm_stop
check "clean stop" test "$WM_STATUS" -eq 0
tap_done
