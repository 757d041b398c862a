# lib.sh -- shared helpers of the lab tests: build the BIND lab (contrib/lab/lab.sh)
# in network namespaces, ask through the clients' resolvers, time transitions,
# write the timeline CSV, speak TAP (the style of tests/e2e/lib.sh).
#
# Without root or network namespaces (or the lab's programs) a test prints
# "1..0 # SKIP <reason>" and exits 0. Every wait is a bounded poll.

set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
WAYMARKD=${WAYMARKD:-$top_builddir/waymarkd}
WAYMARKCTL=${WAYMARKCTL:-$top_builddir/waymarkctl}
LAB_SRC=$top_srcdir/contrib/lab

TAP_N=0
TAP_FAILED=0
T_START=$(date +%s.%N)

ok() { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N - $*"; }
not_ok() {
	TAP_N=$((TAP_N + 1)); TAP_FAILED=$((TAP_FAILED + 1))
	echo "not ok $TAP_N - $*"
}
check() {
	desc=$1; shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; diag_last; fi
}
diag() { printf '%s\n' "$@" | sed 's/^/# /'; }
diag_last() { [ -f "$WORK/out" ] && diag "last output:" "$(cat "$WORK/out")"; }
tap_done() { echo "1..$TAP_N"; [ "$TAP_FAILED" -eq 0 ]; }
bail() { echo "Bail out! $*"; exit 1; }
skip_all() { echo "1..0 # SKIP $*"; exit 0; }

# lab_can_run: skip the whole script (TAP) when this machine cannot host the lab.
lab_can_run() {
	[ "$(id -u)" -eq 0 ] || skip_all "the lab needs root (network namespaces); CI runs it as root"
	command -v ip >/dev/null 2>&1 || skip_all "no 'ip' (iproute2)"
	ip netns list >/dev/null 2>&1 || skip_all "'ip netns' is not supported here"
	ip netns add "${P}canrun" 2>/dev/null || skip_all "cannot create a network namespace here (container without CAP_SYS_ADMIN?)"
	ip netns del "${P}canrun"
	m=$(lab_missing_tools)
	[ -z "$m" ] || skip_all "missing:$m (Debian: bind9 unbound coturn openssl bind9-dnsutils; contrib/quickstart test installs them)"
	[ -x "$WAYMARKD" ] || skip_all "no $WAYMARKD"
}

# The tests' lab has its own prefix and directory, so that it never meets a
# lab started by hand (contrib/lab/up uses wml-).
WML_PREFIX=${LAB_TEST_PREFIX:-wmlt-}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/waymark-lab.XXXXXX")
WML_DIR=$WORK/${WML_PREFIX}lab
trap 'rm -rf "$WORK"' EXIT
. "$LAB_SRC/lab.sh"

lab_test_cleanup() {
	sampler_stop
	lab_down >/dev/null 2>&1
	rm -rf "$WORK"
}

# --- time and the timeline ----------------------------------------------------------

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
add() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a + b }'; }

TIMELINE=${LAB_TIMELINE:-$top_builddir/tests/lab/timeline.csv}
SCENARIO=setup
timeline_init() {
	mkdir -p "$(dirname "$TIMELINE")"
	echo "t,scenario,kind,client,name,site,ttl,detail" >"$TIMELINE"
}
# csv KIND CLIENT NAME SITE TTL DETAIL
csv() {
	printf '%s,%s,%s,%s,%s,%s,%s,%s\n' "$(since "$T_START")" "$SCENARIO" "$1" "$2" "$3" "$4" "$5" \
		"$(printf '%s' "$6" | tr ',"' ';_')" >>"$TIMELINE"
}
event() { csv event - - - - "$*"; diag "$(since "$T_START")s: $*"; }

# --- asking ------------------------------------------------------------------------

resolver_of() { case $1 in alice) echo "$RES_NYC" ;; bob) echo "$RES_LON" ;; esac; }
SIP=contoso.test
Z=lyncweb.contoso.test

# ask CLIENT NAME TYPE: dig through the client's own resolver; output in $WORK/out.
ask() {
	ip netns exec "${P}$1" dig @"$(resolver_of "$1")" +time=1 +tries=1 "$2.$SIP" "$3" >"$WORK/out" 2>&1
}
# direct CLIENT NAME TYPE: dig waymarkd itself from the client's namespace (no cache).
direct() {
	ip netns exec "${P}$1" dig @"$WAYMARK_ADDR" +norec +time=1 +tries=1 "$2.$Z" "$3" >"$WORK/out" 2>&1
}
# The data of the answer records of type $1 in the last dig output
# ($WORK_OUT, default $WORK/out), in order.
rdata() { tr -s '\t ' '  ' <"${WORK_OUT:-$WORK/out}" | grep -v '^;' | awk -v t="$1" '$4 == t { print $NF }'; }
# the smallest TTL among the records of type $1
ttl_of() { tr -s '\t ' '  ' <"${WORK_OUT:-$WORK/out}" | grep -v '^;' | awk -v t="$1" '$4 == t { print $2 }' | sort -n | head -n 1; }
# site_of_answer TYPE: nyc, lon, both or none, from the addresses / SRV targets.
site_of_answer() {
	rdata "$1" | awk '
		/^10\.1\.|\.nyc\./ { n = 1 } /^10\.2\.|\.lon\./ { l = 1 }
		END { print (n && l) ? "both" : n ? "nyc" : l ? "lon" : "none" }'
}

# sample CLIENT NAME TYPE: ask, and log the answer to the timeline. SITE and
# ATTL (the answer's TTL as the resolver gave it) are set.
sample() {
	ask "$1" "$2" "$3"
	SITE=$(site_of_answer "$3")
	ATTL=$(ttl_of "$3")
	csv answer "$1" "$2" "$SITE" "${ATTL:-}" "$(rdata "$3" | tr '\n' ' ')"
}

# wait_for MAX CMD...: poll CMD every 0.2 s for at most MAX seconds; WAITED is
# the time it took (seconds). Fails when MAX passes.
wait_for() {
	max=$1; shift
	w0=$(now)
	while :; do
		if "$@"; then WAITED=$(since "$w0"); return 0; fi
		ge "$(since "$w0")" "$max" && { WAITED=$(since "$w0"); return 1; }
		sleep 0.2
	done
}
# gets CLIENT NAME TYPE SITE: the client's resolver answers SITE (sampled).
gets() { sample "$1" "$2" "$3"; [ "$SITE" = "$4" ]; }
# gets_fresh CLIENT NAME TYPE SITE TTL: ... with exactly that TTL (just fetched).
# gets_degraded CLIENT NAME TYPE SITE MAXTTL: ... with a TTL of at most MAXTTL.
gets_degraded() { gets "$1" "$2" "$3" "$4" && [ -n "$ATTL" ] && [ "$ATTL" -le "$5" ]; }
gets_fresh() { gets "$1" "$2" "$3" "$4" && [ "${ATTL:-0}" -ge "$5" ]; }

# sampler_start: in the background, every 0.25 s, ask lyncdiscover through
# both clients' resolvers and log the answers (scenario "bg"), so that the
# timeline shows what each client saw all along, not only what a test polled.
# Bounded: it stops by itself after 600 s. sampler_stop ends it (by PID).
SAMPLER_PID=
sampler_start() {
	(
		SCENARIO="bg"
		end=$(($(date +%s) + 600))
		while [ "$(date +%s)" -lt "$end" ]; do
			for c in alice bob; do
				ip netns exec "${P}$c" dig @"$(resolver_of "$c")" +time=1 +tries=1 "lyncdiscover.$SIP" A \
					>"$WORK/bg.out" 2>&1 || continue
				WORK_OUT=$WORK/bg.out
				csv answer "$c" lyncdiscover "$(site_of_answer A)" "$(ttl_of A)" -
			done
			sleep 0.25
		done
	) >/dev/null 2>&1 &
	SAMPLER_PID=$!
}
sampler_stop() {
	[ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null && wait "$SAMPLER_PID" 2>/dev/null
	SAMPLER_PID=
}

metric() { # metric NAME: its value on waymarkd's /metrics
	ip netns exec "${P}waymark" curl -s --max-time 2 "http://$WAYMARK_ADDR:9153/metrics" |
		awk -v m="$1" '$1 == m { print $2 }'
}
