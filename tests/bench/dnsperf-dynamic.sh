#!/bin/sh
# dnsperf-dynamic.sh -- benchmark: the cost of a dynamic (service) answer against a static one, same run.
#
#   tests/bench/dnsperf-dynamic.sh BUILDDIR [SECONDS]
#
# Starts waymarkd (2 threads) on the bundled example and measures, one after
# the other with the same dnsperf settings: a static A (www.example.test),
# a failover A (lyncdiscover), an SRV set (_sip._tls), each also with an
# EDNS Client Subnet option (198.51.100.0/24), so that the dynamic path runs
# the geo tree walk and the ECS echo. Prints qps and the ratio to static.
set -eu
build=$(cd "${1:?usage: dnsperf-dynamic.sh BUILDDIR [SECONDS]}" && pwd)
secs=${2:-10}
top=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/waymark-bench.XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

cp "$top/zones/example.test.zone" "$top/zones/lyncweb.contoso.test.zone" "$work/"
sed -e 's|^listen:.*|listen: ["127.0.0.1:15355"]|' -e 's|^log_level:.*|log_level: warning|' \
	-e "s|database: ../geo/lab.mmdb|database: $top/geo/lab.mmdb|" \
	"$top/zones/example.yaml" >"$work/waymark.yaml"
printf 'control: { socket: "%s/ctl.sock" }\nmetrics: { enabled: false }\n' "$work" >>"$work/waymark.yaml"
root=""
[ "$(id -u)" -eq 0 ] && root=--allow-root
"$build/waymarkd" -c "$work/waymark.yaml" $root 2>"$work/waymarkd.log" &
pid=$!
i=0
until dig @127.0.0.1 -p 15355 +time=1 +tries=1 www.example.test A >/dev/null 2>&1; do
	i=$((i + 1)); [ $i -gt 100 ] && { echo "waymarkd did not come up" >&2; exit 1; }
	sleep 0.1
done

printf 'www.example.test A\n' >"$work/static.txt"
printf 'lyncdiscover.lyncweb.contoso.test A\n' >"$work/failover.txt"
printf '_sip._tls.lyncweb.contoso.test SRV\n' >"$work/srv.txt"
# ECS option 8: family 1, SOURCE 24, SCOPE 0, 198.51.100
ECS=8:00011800c63364
perf() { # perf QUERYFILE [dnsperf args] -> queries per second
	f=$1
	shift
	dnsperf -s 127.0.0.1 -p 15355 -d "$f" -l "$secs" -c 8 -T 2 -q 200 "$@" 2>&1 |
		sed -n 's/^ *Queries per second: *\([0-9.]*\).*/\1/p'
}
base=$(perf "$work/static.txt")
echo "static A: $base qps (1.00)"
for set in failover srv; do
	for ecs in no yes; do
		if [ $ecs = yes ]; then r=$(perf "$work/$set.txt" -E $ECS); else r=$(perf "$work/$set.txt"); fi
		echo "$set${ecs:+ ecs=$ecs}: $r qps ($(awk -v a="$r" -v b="$base" 'BEGIN { printf "%.2f", a / b }'))"
	done
done
