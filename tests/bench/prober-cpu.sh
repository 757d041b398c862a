#!/bin/sh
# prober-cpu.sh -- benchmark: the CPU the prober uses for N TCP checks per second, and the query path beside it.
#
#   tests/bench/prober-cpu.sh BUILDDIR [SECONDS]
#
# For 1,000 and 10,000 members, each with one TCP check (interval 1s,
# timeout 500ms) against a local listener (fakesrv), runs waymarkd (2
# worker threads) for SECONDS (default 20) after its first round and reads
# its CPU time from /proc, per thread: the prober's thread and the rest.
# Then dnsperf measures static queries with the probes running, against
# the same daemon without checks, so a starved worker would show.
set -eu
build=$(cd "${1:?usage: prober-cpu.sh BUILDDIR [SECONDS]}" && pwd)
secs=${2:-20}
work=$(mktemp -d /tmp/waymark-bench.XXXXXX)
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$work"; }
trap cleanup EXIT
root=""
[ "$(id -u)" -eq 0 ] && root=--allow-root

"$build/tests/e2e/fakesrv" tcp 127.0.0.1 0 >"$work/fs.out" 2>&1 &
pids="$pids $!"
i=0
until grep -q '^ready' "$work/fs.out"; do i=$((i + 1)); [ $i -gt 100 ] && exit 1; sleep 0.02; done
port=$(sed -n 's/^ready port=//p' "$work/fs.out")
printf '$ORIGIN b.test.\n$TTL 300\n@ SOA ns1 h 1 3600 600 86400 60\n  NS ns1\nns1 A 192.0.2.1\nwww A 192.0.2.80\n' >"$work/b.zone"
printf 'www.b.test A\n' >"$work/q.txt"

ticks() { # ticks PID [TID]: utime+stime in clock ticks
	f=/proc/$1/stat
	[ $# -gt 1 ] && f=/proc/$1/task/$2/stat
	sed 's/^.*) //' "$f" | awk '{ print $12 + $13 }'
}
hz=$(getconf CLK_TCK)

run() { # run N
	n=$1
	{
		printf 'listen: ["127.0.0.1:15370"]\nthreads: 2\nlog_level: warning\n'
		printf 'zones: [{ name: b.test, file: b.zone }]\n'
		printf 'control: { socket: "%s/c.sock" }\nmetrics: { enabled: false }\n' "$work"
		printf 'sites: { s1: {} }\ngeo_maps: { m: { default: [s1] } }\n'
		if [ "$n" -gt 0 ]; then
			printf 'checks:\n  t: { kind: tcp, port: %s, interval: 1s, timeout: 500ms }\nmembers:\n' "$port"
			awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++) printf "  m%d: { address: 127.0.0.1, checks: [t] }\n", i }'
		fi
	} >"$work/w.yaml"
	"$build/waymarkd" -c "$work/w.yaml" $root 2>"$work/log" &
	wp=$!
	i=0
	until dig @127.0.0.1 -p 15370 +time=1 +tries=1 www.b.test A >/dev/null 2>&1; do
		i=$((i + 1)); [ $i -gt 300 ] && { echo "no answer" >&2; kill $wp; return 1; }
		sleep 0.1
	done
	prober=$(grep -l '^waymark-probe\|^probe' /proc/$wp/task/*/comm 2>/dev/null | head -n 1 | sed 's|/comm||; s|.*/||')
	t0=$(ticks $wp)
	p0=0
	[ -n "$prober" ] && p0=$(ticks $wp "$prober")
	sleep "$secs"
	t1=$(ticks $wp)
	p1=0
	[ -n "$prober" ] && p1=$(ticks $wp "$prober")
	qps=$(dnsperf -s 127.0.0.1 -p 15370 -d "$work/q.txt" -l 5 -c 8 -T 2 -q 200 2>&1 |
		sed -n 's/^ *Queries per second: *\([0-9.]*\).*/\1/p')
	kill $wp
	wait $wp 2>/dev/null || true
	awk -v n="$n" -v t="$((t1 - t0))" -v p="$((p1 - p0))" -v hz="$hz" -v s="$secs" -v q="$qps" \
		'BEGIN { printf "%6d checks/s: daemon %5.1f%% of a core, prober thread %5.1f%%; static queries beside it %.0f qps\n", n, 100 * t / hz / s, 100 * p / hz / s, q }'
}
run 0
run 1000
run 10000
