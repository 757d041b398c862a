#!/bin/sh
# config.sh -- e2e: `waymarkd -t`, startup errors at file:line, SIGHUP reload that keeps serving on a bad edit.
. "$(dirname "$0")/lib.sh"

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
zone 1 >"$WORK/example.test.zone"
cat >"$WORK/waymark.yaml" <<CONF
listen: ["127.0.0.1:0", "[::1]:0"]
threads: 1
zones:
  - name: example.test
    file: example.test.zone
CONF

"$WAYMARKD" -c "$WORK/waymark.yaml" -t >"$WORK/out" 2>&1
check "-t on a good config exits 0" test $? -eq 0
check "-t says ok" has_text "ok, 1 zone(s)"

# A bad zone: the error names the zone file and the line.
zone 1 "bad IN A 300.1.2.3" >"$WORK/bad.zone"
sed 's/example.test.zone/bad.zone/' "$WORK/waymark.yaml" >"$WORK/bad-zone.yaml"
"$WAYMARKD" -c "$WORK/bad-zone.yaml" -t >"$WORK/out" 2>&1
check "-t on a bad zone exits non-zero" test $? -ne 0
check "bad zone error is file:line" has_text "$WORK/bad.zone:7: "

# A bad config: unknown key and wrong type, both reported with line:column.
cat >"$WORK/bad.yaml" <<CONF
listen: ["127.0.0.1:0"]
threads: many
colour: blue
zones:
  - name: example.test
    file: missing.zone
CONF
"$WAYMARKD" -c "$WORK/bad.yaml" -t >"$WORK/out" 2>&1
check "-t on a bad config exits non-zero" test $? -ne 0
check "wrong type at line:col" grep -q "^$WORK/bad.yaml:2:10: " "$WORK/out"
check "unknown key at line:col" grep -q "^$WORK/bad.yaml:3:1: .*colour" "$WORK/out"
check "missing zone file at line:col" grep -q "^$WORK/bad.yaml:6:11: .*missing.zone" "$WORK/out"
"$WAYMARKD" -c "$WORK/bad.yaml" >"$WORK/out" 2>&1
check "startup with a bad config exits non-zero" test $? -ne 0
"$WAYMARKD" -c "$WORK/nonexistent.yaml" >"$WORK/out" 2>&1
check "startup with no config file exits non-zero" test $? -ne 0
"$WAYMARKD" >"$WORK/out" 2>&1
check "no -c is a usage error (2)" test $? -eq 2

# Reload.
wm_start "$WORK/waymark.yaml" || bail "waymarkd did not start"
dq4 example.test SOA
check "serial 1 served" has_text "hostmaster.example.test. 1 7200"

zone 2 "new IN A 192.0.2.99" >"$WORK/example.test.zone"
kill -HUP "$WM_PID"
wm_wait_log 'reload done generation=2'
check "SIGHUP reload is logged" test $? -eq 0
dq4 example.test SOA
check "serial 2 served after reload" has_text "hostmaster.example.test. 2 7200"
dq6 +tcp new.example.test A
check "new name served after reload" has_rr "new.example.test. 300 IN A 192.0.2.99"

zone 3 "broken IN A not-an-address" >"$WORK/example.test.zone"
kill -HUP "$WM_PID"
wm_wait_log 'reload failed'
check "failed reload is logged" test $? -eq 0
check "failed reload logs file:line" grep -q "reload error: $WORK/example.test.zone:7: " "$WORK/daemon.log"
dq4 example.test SOA
check "old data still served after a failed reload" has_text "hostmaster.example.test. 2 7200"

wm_stop
check "clean stop" test "$WM_STATUS" -eq 0
tap_done
