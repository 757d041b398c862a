#!/bin/sh
# reload-load.sh -- e2e: reload every ~100 ms under a bounded dnsperf load; no query may go unanswered, no answer may mix two worlds.
. "$(dirname "$0")/lib.sh"

GENCHECK=${GENCHECK:-$top_builddir/tests/e2e/gencheck}
# Bounded load: DURATION seconds at RATE queries per second (dnsperf -l, -Q).
DURATION=${RELOAD_LOAD_SECONDS:-5}
RATE=${RELOAD_LOAD_QPS:-2000}
MAX_RELOADS=100

if ! command -v dnsperf >/dev/null 2>&1; then
	echo "1..0 # SKIP dnsperf not installed"
	exit 0
fi

# zone GEN: generation GEN of the zone. Its serial and the two TXT records
# at gen.example.test carry GEN; odd and even generations also differ in
# size (odd ones carry 300 more names), so that the worlds being swapped
# are really different.
zone() {
	cat <<ZONE
\$ORIGIN example.test.
\$TTL 300
@ IN SOA ns1 hostmaster $1 7200 3600 1209600 60
  IN NS ns1
ns1 IN A 192.0.2.53
www IN A 192.0.2.80
gen IN TXT "gen=$1 a"
gen IN TXT "gen=$1 b"
ZONE
	if [ $(($1 % 2)) -eq 1 ]; then
		i=0
		while [ $i -lt 300 ]; do
			echo "host$i IN A 192.0.2.$((i % 250 + 1))"
			i=$((i + 1))
		done
	fi
}
# Write the new zone beside the old and rename it into place: the loader
# never reads a half-written file.
put_zone() {
	zone "$1" >"$WORK/example.test.zone.new" && mv "$WORK/example.test.zone.new" "$WORK/example.test.zone"
}

put_zone 1
cat >"$WORK/waymark.yaml" <<CONF
listen: ["127.0.0.1:0"]
threads: 2
control: { socket: ctl.sock }
metrics: { listen: "127.0.0.1:0" }
zones:
  - name: example.test
    file: example.test.zone
CONF
cat >"$WORK/queries" <<Q
www.example.test A
gen.example.test TXT
example.test SOA
nothere.example.test A
www.example.test AAAA
Q

wm_start "$WORK/waymark.yaml" || bail "waymarkd did not start"

dnsperf -s 127.0.0.1 -p "$PORT4" -d "$WORK/queries" -l "$DURATION" -Q "$RATE" -t 2 \
	>"$WORK/dnsperf.out" 2>&1 &
perf_pid=$!
"$GENCHECK" -d "$DURATION" -r 500 "$PORT4" gen.example.test >"$WORK/gencheck.out" 2>&1 &
gen_pid=$!

# Reload while the load runs: at most MAX_RELOADS, and only while dnsperf
# is still running (its -l bounds the time). Each reload waits for its own
# reply, so reloads never pile up.
n=1
reload_ok=0
reload_failed=0
while [ $n -lt $MAX_RELOADS ] && kill -0 "$perf_pid" 2>/dev/null; do
	n=$((n + 1))
	put_zone $n
	if "$WAYMARKCTL" -s "$WORK/ctl.sock" -t 20 reload >>"$WORK/reloads.out" 2>&1; then
		reload_ok=$((reload_ok + 1))
	else
		reload_failed=$((reload_failed + 1))
	fi
	sleep 0.1
done
wait "$perf_pid"
perf_status=$?
wait "$gen_pid"
gen_status=$?

sent=$(sed -n 's/^ *Queries sent: *\([0-9]*\).*/\1/p' "$WORK/dnsperf.out")
completed=$(sed -n 's/^ *Queries completed: *\([0-9]*\).*/\1/p' "$WORK/dnsperf.out")
lost=$(sed -n 's/^ *Queries lost: *\([0-9]*\).*/\1/p' "$WORK/dnsperf.out")
diag "dnsperf: sent=${sent:-?} answered=${completed:-?} lost=${lost:-?} (${DURATION}s at ${RATE} qps)" \
	"reloads during the run: ok=$reload_ok failed=$reload_failed" \
	"gencheck: $(cat "$WORK/gencheck.out")"

check "dnsperf ran" test "$perf_status" -eq 0 -a -n "$sent"
check "dnsperf sent queries" test "${sent:-0}" -gt 0
check "no query lost (dnsperf)" test "${lost:-1}" -eq 0
check "every query answered (dnsperf)" test "${completed:-0}" -eq "${sent:-1}"
check "at least 10 reloads during the run" test "$reload_ok" -ge 10
check "every reload succeeded" test "$reload_failed" -eq 0
check "no answer mixes two worlds, none lost (gencheck)" test "$gen_status" -eq 0
check "gencheck saw several generations" \
	test "$(sed -n 's/.*generations=\([0-9]*\).*/\1/p' "$WORK/gencheck.out")" -ge 2
"$WAYMARKCTL" -s "$WORK/ctl.sock" status >"$WORK/out" 2>&1
check "serving the last generation" grep -q "^  example.test  serial $n " "$WORK/out"
wm_stop
check "clean stop" test "$WM_STATUS" -eq 0
tap_done
