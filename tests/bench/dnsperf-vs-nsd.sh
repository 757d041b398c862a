#!/bin/sh
# dnsperf-vs-nsd.sh -- benchmark: dnsperf against waymarkd and NSD serving the same zone, same run.
#
#   tests/bench/dnsperf-vs-nsd.sh BUILDDIR [SECONDS]
#
# Both servers get 2 worker threads / processes and listen on 127.0.0.1 only;
# each is measured for SECONDS (default 10) with the same dnsperf settings,
# one after the other, and the ratio is printed. NSD runs with RRL off. Needs dnsperf and nsd
# (Debian: apt-get install dnsperf nsd). A benchmark, not a test: the numbers
# of one run on a small noisy machine are to be read as ratios.
set -eu
build=$(cd "${1:?usage: dnsperf-vs-nsd.sh BUILDDIR [SECONDS]}" && pwd)
secs=${2:-10}
top=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/waymark-bench.XXXXXX)
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$work"; }
trap cleanup EXIT

cp "$top/zones/example.test.zone" "$work/"
printf 'www.example.test A\n' >"$work/static-a.txt"
printf 'www.example.test A\nnothere.example.test A\nalias.example.test A\n_sip._tls.example.test SRV\nx.apps.example.test A\nexample.test MX\n' >"$work/mix.txt"

cat >"$work/waymark.yaml" <<CONF
listen: ["127.0.0.1:15353"]
threads: 2
log_level: warning
zones:
  - name: example.test
    file: example.test.zone
CONF
cat >"$work/nsd.conf" <<CONF
server:
  server-count: 2
  reuseport: yes
  ip-address: 127.0.0.1@15354
  username: ""
  chroot: ""
  zonesdir: "$work"
  pidfile: "$work/nsd.pid"
  database: ""
  zonelistfile: "$work/zone.list"
  xfrdfile: "$work/xfrd.state"
  verbosity: 0
  rrl-ratelimit: 0   # RRL would throttle a benchmark from one address
remote-control:
  control-enable: no
zone:
  name: example.test
  zonefile: example.test.zone
CONF

wait_port() { # wait (bounded, 10 s) until the server answers
	i=0
	until dig @127.0.0.1 -p "$1" +time=1 +tries=1 www.example.test A >/dev/null 2>&1; do
		i=$((i + 1)); [ $i -gt 100 ] && { echo "server on $1 did not come up" >&2; exit 1; }
		sleep 0.1
	done
}

"$build/waymarkd" -c "$work/waymark.yaml" 2>"$work/waymarkd.log" &
pids="$pids $!"
nsd -d -c "$work/nsd.conf" 2>"$work/nsd.log" &
pids="$pids $!"
wait_port 15353
wait_port 15354

perf() { # perf PORT QUERYFILE -> queries per second
	dnsperf -s 127.0.0.1 -p "$1" -d "$2" -l "$secs" -c 8 -T 2 -q 200 2>&1 |
		sed -n 's/^ *Queries per second: *\([0-9.]*\).*/\1/p'
}
for set in static-a mix; do
	w=$(perf 15353 "$work/$set.txt")
	n=$(perf 15354 "$work/$set.txt")
	ratio=$(awk -v a="$w" -v b="$n" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
	echo "$set: waymarkd $w qps, nsd $n qps, waymarkd/nsd = $ratio"
done
