# lib.sh -- shared helpers of the end-to-end tests: start waymarkd on loopback, query it, speak TAP.
#
# A test script sources this file, calls wm_start with a config, then makes
# assertions; every assertion is one TAP test point. The daemon listens on
# ephemeral ports (listen: 127.0.0.1:0 and [::1]:0) and the script reads them
# from its log, so tests never collide on ports and never sleep on a guess.

set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
WAYMARKD=${WAYMARKD:-$top_builddir/waymarkd}
DNSRAW=${DNSRAW:-$top_builddir/tests/e2e/dnsraw}
WAYMARKCTL=${WAYMARKCTL:-$top_builddir/waymarkctl}
E2E_DATA=$top_srcdir/tests/e2e

TAP_N=0
TAP_FAILED=0
WM_PID=
WORK=$(mktemp -d "${TMPDIR:-/tmp}/waymark-e2e.XXXXXX")

wm_cleanup() {
	if [ -n "$WM_PID" ] && kill -0 "$WM_PID" 2>/dev/null; then
		kill -TERM "$WM_PID" 2>/dev/null
		wait "$WM_PID" 2>/dev/null
	fi
	rm -rf "$WORK"
}
trap wm_cleanup EXIT

ok() { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N - $*"; }
not_ok() {
	TAP_N=$((TAP_N + 1)); TAP_FAILED=$((TAP_FAILED + 1))
	echo "not ok $TAP_N - $*"
}
# check DESC COMMAND...: one test point, passing when COMMAND succeeds.
check() {
	desc=$1; shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; diag_last; fi
}
diag() { printf '%s\n' "$@" | sed 's/^/# /'; }
diag_last() { [ -f "$WORK/out" ] && diag "last output:" "$(cat "$WORK/out")"; }
tap_done() { echo "1..$TAP_N"; [ "$TAP_FAILED" -eq 0 ]; }
bail() { echo "Bail out! $*"; exit 1; }

# wm_start CONFIG [ARGS...]: start the daemon in the background, wait
# (bounded: 10 s) for its "started" line, and set PORT4 / PORT6 (DNS),
# HTTP_PORT (metrics) and CTL_SOCK (control socket) from its log. A config
# without `control:` or `metrics:` gets them appended (a socket in $WORK, an
# ephemeral port), so that tests never share the system-wide defaults. As
# root the daemon is started with --allow-root (it refuses root otherwise).
wm_start() {
	conf=$1
	shift
	grep -q '^control:' "$conf" || printf 'control: { socket: "%s" }\n' "$WORK/ctl.sock" >>"$conf"
	grep -q '^metrics:' "$conf" || printf 'metrics: { listen: "127.0.0.1:0" }\n' >>"$conf"
	[ "$(id -u)" -eq 0 ] && set -- --allow-root "$@"
	: > "$WORK/daemon.log"
	"$WAYMARKD" -c "$conf" "$@" >>"$WORK/daemon.log" 2>&1 &
	WM_PID=$!
	i=0
	while ! grep -q ' info started ' "$WORK/daemon.log"; do
		i=$((i + 1))
		if [ $i -gt 200 ] || ! kill -0 "$WM_PID" 2>/dev/null; then
			diag "daemon did not start:" "$(cat "$WORK/daemon.log")"
			return 1
		fi
		sleep 0.05
	done
	PORT4=$(sed -n 's/.*listening address=127\.0\.0\.1 port=\([0-9]*\) transports=udp.*/\1/p' "$WORK/daemon.log" | head -n 1)
	PORT6=$(sed -n 's/.*listening address=::1 port=\([0-9]*\) transports=udp.*/\1/p' "$WORK/daemon.log" | head -n 1)
	HTTP_PORT=$(sed -n 's/.*listening address=.* port=\([0-9]*\) transports=http.*/\1/p' "$WORK/daemon.log" | head -n 1)
	CTL_SOCK=$(sed -n 's/.*control socket listening path=\([^ ]*\) .*/\1/p' "$WORK/daemon.log" | head -n 1)
	return 0
}

# wm_stop: SIGTERM, wait; WM_STATUS is the exit status.
wm_stop() {
	kill -TERM "$WM_PID"
	wait "$WM_PID"
	WM_STATUS=$?
	WM_PID=
}

# wm_wait_log REGEX: wait (bounded: 10 s) for a log line matching REGEX.
wm_wait_log() {
	i=0
	while ! grep -Eq "$1" "$WORK/daemon.log"; do
		i=$((i + 1))
		[ $i -gt 200 ] && return 1
		sleep 0.05
	done
}

# dq4 / dq6 ARGS...: dig against the daemon over IPv4 / IPv6; output in $WORK/out.
dq4() { dig @127.0.0.1 -p "$PORT4" +norec +time=2 +tries=1 "$@" >"$WORK/out" 2>&1; }
dq6() { dig @::1 -p "$PORT6" +norec +time=2 +tries=1 "$@" >"$WORK/out" 2>&1; }

# Assertions on the last dig output.
status_is() { grep -q "status: $1," "$WORK/out"; }
# flags_are "qr aa": exactly these header flags.
flags_are() {
	got=$(sed -n 's/^;; flags: \([a-z ]*\);.*/\1/p' "$WORK/out" | head -n 1)
	[ "$got" = "$1" ]
}
# count_is ANSWER 2
count_is() { grep -q "$1: $2[,]\{0,1\}\( \|$\)" "$WORK/out"; }
# has_rr "www.example.test. 3600 IN A 192.0.2.80": a record line (tabs folded).
has_rr() { tr -s '\t ' '  ' <"$WORK/out" | grep -v '^;' | grep -qxF "$1"; }
has_text() { grep -qF -- "$1" "$WORK/out"; }
lacks_text() { ! grep -qF -- "$1" "$WORK/out"; }
