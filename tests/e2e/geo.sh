#!/bin/sh
# geo.sh -- e2e: geo databases at start and at reload (new, corrupt, truncated), ECS use/ignore, waymarkctl geo.
. "$(dirname "$0")/lib.sh"

MM=${WAYMARK_MAXMIND_TEST_DIR:-$top_srcdir/../shared/geo/maxmind-test}
[ -f "$MM/GeoIP2-City-Test.mmdb" ] || bail "MaxMind's test databases not found in $MM"

cat >"$WORK/geo.zone" <<'ZONE'
$ORIGIN geo.test.
$TTL 300
@ IN SOA ns1 hostmaster 1 3600 600 1209600 60
  IN NS ns1
ns1 IN A 192.0.2.53
ZONE
cp "$top_srcdir/geo/lab.mmdb" "$WORK/geo.mmdb"
config() { # config ECS-MODE
	cat <<CONF
listen: ["127.0.0.1:0", "[::1]:0"]
threads: 1
zones:
  - { name: geo.test, file: geo.zone }
sites:
  nyc: { latitude: 40.71, longitude: -74.01 }
  lon: { latitude: 51.51, longitude: -0.13 }
geo_maps:
  m:
    database: geo.mmdb
    ecs: $1
    continents: { NA: [nyc, lon], EU: [lon, nyc] }
    default: [nyc, lon]
members:
  n: { address: 192.0.2.10 }
  l: { address: 198.51.100.10 }
pools:
  pn: { site: nyc, members: [n] }
  pl: { site: lon, members: [l] }
services:
  s:
    map: m
    zone: geo.test
    pools: { nyc: pn, lon: pl }
    names:
      www: { kind: failover }
control: { socket: "$WORK/ctl.sock" }
metrics: { enabled: false }
CONF
}
config use >"$WORK/waymark.yaml"
ctl() { "$WAYMARKCTL" -s "$CTL_SOCK" "$@" >"$WORK/ctl.out" 2>&1; }
reload() { ctl reload; }

# Broken databases are refused at start, each named.
for db in MaxMind-DB-test-broken-pointers-24.mmdb MaxMind-DB-test-broken-search-tree-24.mmdb \
	GeoIP2-City-Test-Invalid-Node-Count.mmdb GeoIP2-City-Test-Broken-Double-Format.mmdb; do
	sed "s|database: geo.mmdb|database: $MM/$db|" "$WORK/waymark.yaml" >"$WORK/bad.yaml"
	"$WAYMARKD" -c "$WORK/bad.yaml" -t >"$WORK/out" 2>&1
	check "$db refused at start" test $? -ne 0
	check "$db: the message names the file" grep -q "$db" "$WORK/out"
done
head -c 1000 "$top_srcdir/geo/lab.mmdb" >"$WORK/truncated.mmdb"
sed "s|database: geo.mmdb|database: truncated.mmdb|" "$WORK/waymark.yaml" >"$WORK/bad.yaml"
"$WAYMARKD" -c "$WORK/bad.yaml" -t >"$WORK/out" 2>&1
check "a truncated database is refused" test $? -ne 0

wm_start "$WORK/waymark.yaml" || bail "waymarkd did not start"
dq4 +subnet=198.51.100.0/24 www.geo.test A
check "lab db: EU client gets London" has_rr "www.geo.test. 300 IN A 198.51.100.10"
check "lab db: scope /24" has_text "CLIENT-SUBNET: 198.51.100.0/24/24"
dq4 +subnet=81.2.69.0/24 www.geo.test A
check "lab db: 81.2.69/24 is unknown, default order (New York)" has_rr "www.geo.test. 300 IN A 192.0.2.10"
dq6 +subnet=2001:db8:2::/48 www.geo.test A
check "IPv6 ECS: EU /48 gets London" has_rr "www.geo.test. 300 IN A 198.51.100.10"
check "IPv6 ECS: scope /48" has_text "CLIENT-SUBNET: 2001:db8:2::/48/48"
ctl geo 198.51.100.7
check "waymarkctl geo: the record and the order" grep -q '"sites":\["lon","nyc"\]' "$WORK/ctl.out"
check "waymarkctl geo: the record's country" grep -q '"country":"GB"' "$WORK/ctl.out"

# A corrupt file replaces the database: the reload fails, the old map serves.
cp "$MM/MaxMind-DB-test-broken-pointers-24.mmdb" "$WORK/geo.mmdb"
reload
check "reload with a corrupt database fails" test $? -ne 0
check "the failure names the database" grep -q "geo.mmdb" "$WORK/ctl.out"
dq4 +subnet=198.51.100.0/24 www.geo.test A
check "after the failed reload the old map still answers" has_rr "www.geo.test. 300 IN A 198.51.100.10"

# A new database is picked up by reload: MaxMind's places 81.2.69.142 in GB.
cp "$MM/GeoIP2-City-Test.mmdb" "$WORK/geo.mmdb"
reload
check "reload with a new database succeeds" test $? -eq 0
# (its GB network is 81.2.69.142/31; an ECS /24 would be decided on
# 81.2.69.0, which it does not list)
dq4 +subnet=81.2.69.142/31 www.geo.test A
check "new db: 81.2.69.142/31 is now GB, London" has_rr "www.geo.test. 300 IN A 198.51.100.10"
check "new db: scope /31 (the database's own prefix)" has_text "CLIENT-SUBNET: 81.2.69.142/31/31"
dq4 +subnet=216.160.83.56/29 www.geo.test A
check "new db: 216.160.83.56/29 is US, New York" has_rr "www.geo.test. 300 IN A 192.0.2.10"

# ecs: ignore -- the resolver's own address decides, scope 0.
config ignore >"$WORK/waymark.yaml"
reload
check "reload to ecs: ignore" test $? -eq 0
dq4 +subnet=81.2.69.142/31 www.geo.test A
check "ecs ignored: decided on 127.0.0.1 (default, New York)" has_rr "www.geo.test. 300 IN A 192.0.2.10"
check "ecs ignored: scope 0" has_text "CLIENT-SUBNET: 81.2.69.142/31/0"

wm_stop
check "clean stop" test "$WM_STATUS" -eq 0
tap_done
