#!/bin/sh
# ops.sh -- e2e: waymarkctl status/reload/stats, reload errors at file:line, SIGHUP, the control socket's defences, /metrics and /status, privilege drop.
. "$(dirname "$0")/lib.sh"

CTLRAW=${CTLRAW:-$top_builddir/tests/e2e/ctlraw}

zone() { # zone SERIAL [EXTRA-LINE]
	cat <<ZONE
\$ORIGIN example.test.
\$TTL 300
@ IN SOA ns1 hostmaster $1 7200 3600 1209600 60
  IN NS ns1
ns1 IN A 192.0.2.53
www IN A 192.0.2.80
${2:-}
ZONE
}
conf() { # conf [EXTRA-LINE]
	cat <<CONF
listen: ["127.0.0.1:0", "[::1]:0"]
threads: 2
control: { socket: ctl.sock, idle_timeout: 1s }
metrics: { listen: "127.0.0.1:0" }
zones:
  - name: example.test
    file: example.test.zone
${1:-}
CONF
}
zone 1 >"$WORK/example.test.zone"
conf >"$WORK/waymark.yaml"
ctl() { "$WAYMARKCTL" -s "$WORK/ctl.sock" -t 20 "$@" >"$WORK/out" 2>&1; }

# Play systemd for sd_notify: the daemon reports READY, RELOADING, STOPPING.
"$CTLRAW" -D "$WORK/notify.sock" -t 120000 >"$WORK/notify.out" 2>&1 &
notify_pid=$!
i=0
while [ ! -S "$WORK/notify.sock" ] && [ $i -lt 200 ]; do
	sleep 0.05
	i=$((i + 1))
done
NOTIFY_SOCKET=$WORK/notify.sock
export NOTIFY_SOCKET
wm_start "$WORK/waymark.yaml" || bail "waymarkd did not start"
unset NOTIFY_SOCKET
check "control socket path logged" test "$CTL_SOCK" = "$WORK/ctl.sock"
check "control socket mode 0660" test "$(stat -c %a "$WORK/ctl.sock")" = 660
check "metrics port logged" test -n "$HTTP_PORT"

# status
ctl status
check "status exits 0" test $? -eq 0
check "status shows the version" grep -q '^version: *waymarkd [0-9]' "$WORK/out"
check "status shows the zone and serial" grep -q '^  example.test  serial 1 ' "$WORK/out"
check "status shows the DNS listener" has_text "127.0.0.1:$PORT4 udp,tcp"
check "status shows the metrics listener" has_text "127.0.0.1:$HTTP_PORT http"
check "status shows the threads" grep -q '^threads: *2$' "$WORK/out"
"$WAYMARKCTL" -c "$WORK/waymark.yaml" status >"$WORK/out" 2>&1
check "-c CONFIG finds the socket" test $? -eq 0

# stats counts queries (JSON)
dq4 www.example.test A
dq4 +tcp nothere.example.test A
ctl stats
check "stats exits 0" test $? -eq 0
check "stats counts the UDP query" grep -q '"udp_queries":1,' "$WORK/out"
check "stats counts the TCP query" grep -q '"tcp_queries":1,' "$WORK/out"
check "stats counts NXDOMAIN" grep -q '"rcode_nxdomain":1,' "$WORK/out"
check "stats counts answers by zone" grep -q '"example.test":2' "$WORK/out"
ctl help
check "help lists the commands" has_text '"reload"'

# reload: success, then a bad zone (file:line, old data kept), then a bad config
zone 2 "new IN A 192.0.2.99" >"$WORK/example.test.zone"
ctl reload
check "reload exits 0" test $? -eq 0
check "reload says ok" grep -q '^reload ok: generation 2, 1 zone(s)' "$WORK/out"
dq4 example.test SOA
check "new serial served after reload" has_text "hostmaster.example.test. 2 7200"
ctl stats
check "zone answers survive the reload" grep -q '"example.test":3' "$WORK/out"

zone 3 "broken IN A not-an-address" >"$WORK/example.test.zone"
ctl reload
check "failed reload exits 1" test $? -eq 1
check "failed reload prints file:line" grep -q "^$WORK/example.test.zone:7: " "$WORK/out"
check "failed reload says the old world serves" has_text "still serving generation 2"
dq4 example.test SOA
check "old data served after a failed reload" has_text "hostmaster.example.test. 2 7200"

zone 3 >"$WORK/example.test.zone"
conf "colour: blue" >"$WORK/waymark.yaml"
ctl reload
check "reload of a config with an unknown key exits 1" test $? -eq 1
check "unknown key reported at file:line:col" grep -q "^$WORK/waymark.yaml:8:1: unknown key 'colour'" "$WORK/out"
conf "edns_udp_size: [big]" >"$WORK/waymark.yaml"
ctl reload
check "wrong type reported at file:line:col" grep -q "^$WORK/waymark.yaml:8:16: edns_udp_size must be an integer" "$WORK/out"
conf "  - { name: example.test, file: example.test.zone }" >"$WORK/waymark.yaml"
ctl reload
check "duplicate zone reported at file:line:col" grep -q "^$WORK/waymark.yaml:8:.*duplicate zone 'example.test'" "$WORK/out"
conf "  - { name: other.test, file: missing.zone }" >"$WORK/waymark.yaml"
ctl reload
check "missing zone file reported at file:line:col" grep -q "^$WORK/waymark.yaml:8:.*missing.zone" "$WORK/out"
conf >"$WORK/waymark.yaml"
chmod 000 "$WORK/example.test.zone"
if [ "$(id -u)" -ne 0 ]; then
	ctl reload
	check "unreadable zone reported" grep -q "example.test.zone" "$WORK/out"
else
	ok "unreadable zone reported # SKIP root reads any file"
fi
chmod 644 "$WORK/example.test.zone"
dq4 example.test SOA
check "still serving generation 2 after five failed reloads" has_text "hostmaster.example.test. 2 7200"

# SIGHUP goes through the same loader
kill -HUP "$WM_PID"
wm_wait_log 'reload done generation=3 .*source=signal'
check "SIGHUP reload done" test $? -eq 0
dq4 example.test SOA
check "SIGHUP reload serves the new serial" has_text "hostmaster.example.test. 3 7200"
check "reloads are logged at info" grep -q ' info reload started source=control ' "$WORK/daemon.log"
check "failed reloads are logged as errors" grep -q ' error reload failed errors=1 ' "$WORK/daemon.log"

# Concurrent and pipelined reloads: every request gets its own reply, from a
# load that started after it (requests made during a load are coalesced).
zone 4 >"$WORK/example.test.zone"
pids=""
for i in 1 2 3 4 5; do
	"$WAYMARKCTL" -s "$WORK/ctl.sock" -t 20 reload >"$WORK/par.$i" 2>&1 &
	pids="$pids $!"
done
par_ok=0
for p in $pids; do
	wait "$p" && par_ok=$((par_ok + 1))
done
check "five concurrent reloads all succeed" test "$par_ok" -eq 5
printf '{"cmd":"reload","id":1}\n{"cmd":"reload","id":2}\n' | "$CTLRAW" -t 20000 "$WORK/ctl.sock" >"$WORK/out" 2>&1
check "two pipelined reloads: two ok replies, in order" sh -c "grep -c '^{\"ok\":true,\"id\":[12],\"result\":{\"generation\":' '$WORK/out' | grep -qx 2 && head -n 1 '$WORK/out' | grep -q '\"id\":1'"
dq4 example.test SOA
check "serial 4 served after the concurrent reloads" has_text "hostmaster.example.test. 4 7200"

# The control socket's defences: garbage, a long line, a silent client.
printf 'garbage\n{"cmd":"help","id":7}\n[1,2]\n{"cmd":"nope"}\n' | "$CTLRAW" "$WORK/ctl.sock" >"$WORK/out" 2>&1
check "garbage: the connection is answered and closed" test $? -eq 0
check "garbage gets an error reply" grep -q '^{"ok":false,"error":"bad request: ' "$WORK/out"
check "a good line after garbage is served (id echoed)" grep -q '^{"ok":true,"id":7,"result":{"commands":' "$WORK/out"
check "a non-object gets an error reply" grep -q '"error":"bad request: not a JSON object"' "$WORK/out"
check "an unknown command gets an error reply" grep -q "unknown command 'nope'" "$WORK/out"
check "four replies for four lines" test "$(wc -l <"$WORK/out")" -eq 4
head -c 6000 /dev/zero | tr '\0' 'x' | "$CTLRAW" "$WORK/ctl.sock" >"$WORK/out" 2>&1
check "a long line gets an error reply" has_text "request longer than 4096 bytes"
"$CTLRAW" -k -t 8000 "$WORK/ctl.sock" </dev/null >"$WORK/out" 2>&1
check "a silent client is closed" test $? -eq 0
check "a silent client is told why" has_text '"error":"idle timeout: no request within 1000 ms"'
ctl status
check "the daemon still answers after all that" test $? -eq 0
kill -0 "$WM_PID"
check "the daemon is still running" test $? -eq 0

# A second daemon on the same socket path refuses to start; the first goes on.
"$WAYMARKD" -c "$WORK/waymark.yaml" --allow-root >"$WORK/out" 2>&1
check "second daemon on the same socket exits non-zero" test $? -ne 0
check "second daemon says the socket is in use" has_text "in use by a running daemon"
ctl status
check "first daemon still answers" test $? -eq 0

# /metrics and /status
if command -v curl >/dev/null 2>&1; then
	curl -sS -m 5 "http://127.0.0.1:$HTTP_PORT/metrics" >"$WORK/out" 2>&1
	check "/metrics is served" test $? -eq 0
	check "/metrics: queries by transport" grep -q '^waymark_queries_total{transport="udp"} [1-9]' "$WORK/out"
	check "/metrics: queries by type" grep -q '^waymark_query_types_total{qtype="SOA"} [1-9]' "$WORK/out"
	check "/metrics: responses by rcode" grep -q '^waymark_responses_total{rcode="NXDOMAIN"} 1$' "$WORK/out"
	check "/metrics: answers by zone" grep -q '^waymark_zone_answers_total{zone="example.test"} [1-9]' "$WORK/out"
	check "/metrics: truncations" grep -q '^waymark_truncated_total 0$' "$WORK/out"
	check "/metrics: malformed" grep -q '^waymark_malformed_total 0$' "$WORK/out"
	check "/metrics: reloads ok" grep -Eq '^waymark_reloads_total\{result="ok"\} ([3-9]|[1-9][0-9])$' "$WORK/out"
	check "/metrics: reloads failed" grep -q '^waymark_reloads_total{result="failed"} [56]$' "$WORK/out"
	check "/metrics: last reload time" grep -q '^waymark_last_reload_time_seconds [1-9]' "$WORK/out"
	check "/metrics: every sample has a TYPE" sh -c "
		for m in \$(grep -v '^#' '$WORK/out' | sed 's/[{ ].*//' | sort -u); do
			grep -q \"^# TYPE \$m \" '$WORK/out' && continue
			# a histogram's _bucket, _sum and _count samples have its TYPE
			b=\$(echo \$m | sed -E 's/_(bucket|sum|count)\$//')
			grep -q \"^# TYPE \$b histogram\" '$WORK/out' || { echo \"no TYPE for \$m\"; exit 1; }
		done"
	curl -sS -m 5 "http://127.0.0.1:$HTTP_PORT/status" >"$WORK/out" 2>&1
	check "/status is JSON with the generation" grep -Eq '"generation":([3-9]|[1-9][0-9]),' "$WORK/out"
	curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/nope" >"$WORK/out" 2>&1
	check "other paths are 404" test "$(cat "$WORK/out")" = 404
else
	ok "/metrics # SKIP curl not installed"
fi

wm_stop
check "clean stop" test "$WM_STATUS" -eq 0
check "the socket file is removed at stop" test ! -e "$WORK/ctl.sock"
wait "$notify_pid"
check "sd_notify: STOPPING=1 received" test $? -eq 0
check "sd_notify: READY=1 first" sh -c "head -n 1 '$WORK/notify.out' | grep -qx 'READY=1'"
check "sd_notify: RELOADING=1 with MONOTONIC_USEC" grep -q '^RELOADING=1 MONOTONIC_USEC=[0-9]*$' "$WORK/notify.out"
check "sd_notify: READY=1 again after the reloads" sh -c "grep -v STOPPING '$WORK/notify.out' | tail -n 1 | grep -qx 'READY=1'"
check "sd_notify: STOPPING=1 last" sh -c "tail -n 1 '$WORK/notify.out' | grep -qx 'STOPPING=1'"

# Root: refused without user:, and dropped to user: nobody after binding.
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
	"$WAYMARKD" -c "$WORK/waymark.yaml" >"$WORK/out" 2>&1
	check "root without user: is refused" test $? -ne 0
	check "and says why" has_text "refusing to run as root"

	chmod 755 "$WORK" && chmod 644 "$WORK/example.test.zone" "$WORK/waymark.yaml"
	conf "user: nobody" >"$WORK/waymark.yaml"
	wm_start "$WORK/waymark.yaml" || bail "waymarkd did not start as nobody"
	nobody=$(id -u nobody)
	check "privilege drop is logged" grep -q " info privileges dropped user=nobody uid=$nobody " "$WORK/daemon.log"
	check "every uid is nobody's" grep -Eq "^Uid:[[:space:]]+$nobody[[:space:]]+$nobody[[:space:]]+$nobody[[:space:]]+$nobody$" "/proc/$WM_PID/status"
	check "no supplementary groups" grep -Eq "^Groups:[[:space:]]*($(id -g nobody))?[[:space:]]*$" "/proc/$WM_PID/status"
	check "the socket belongs to nobody" test "$(stat -c %u "$WORK/ctl.sock")" = "$nobody"
	dq4 www.example.test A
	check "serves as nobody" has_rr "www.example.test. 300 IN A 192.0.2.80"
	ctl reload
	check "reload as nobody works" test $? -eq 0
	wm_stop
	check "stop as nobody" test "$WM_STATUS" -eq 0
else
	for t in "root without user: is refused" "privilege drop to nobody"; do
		ok "$t # SKIP not root"
	done
fi
tap_done
