#!/bin/sh
# peers.sh -- e2e: every check kind against a real peer on loopback (openssl s_server, coturn, fakesrv, exec).
. "$(dirname "$0")/lib.sh"

FAKESRV=${FAKESRV:-$top_builddir/tests/e2e/fakesrv}
for tool in openssl turnserver; do
	command -v $tool >/dev/null 2>&1 || bail "$tool is needed (contrib/quickstart test installs it)"
done
PIDS=""
peer_cleanup() { for p in $PIDS; do kill "$p" 2>/dev/null; done; wm_cleanup; }
trap peer_cleanup EXIT

# free_ports N: N different free ports (the kernel's choices for N listeners
# held at the same time, then closed), one per line.
free_ports() {
	fps=""
	for k in $(seq 1 "$1"); do
		"$FAKESRV" tcp 127.0.0.1 0 >"$WORK/port$k.out" 2>&1 &
		fps="$fps $!"
	done
	for k in $(seq 1 "$1"); do
		i=0
		until grep -q '^ready' "$WORK/port$k.out"; do i=$((i + 1)); [ $i -gt 100 ] && break; sleep 0.02; done
	done
	kill $fps
	wait $fps 2>/dev/null
	for k in $(seq 1 "$1"); do sed -n 's/^ready port=//p' "$WORK/port$k.out"; done
}
# wait_port PROTO PORT: until something listens there (bounded, 5 s)
wait_port() {
	i=0
	while :; do
		if [ "$1" = udp ]; then grep -qi ":$(printf '%04X' "$2") " /proc/net/udp && return 0
		else grep -qi ":$(printf '%04X' "$2") 00000000:0000 0A" /proc/net/tcp && return 0; fi
		i=$((i + 1)); [ $i -gt 250 ] && return 1
		sleep 0.02
	done
}

# Certificates: a test CA, a valid server certificate, and an expired one.
C=$WORK/certs
mkdir -p "$C"
(
	cd "$C" || exit 1
	openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3 -subj /CN=waymark-test-ca
	for n in good old; do
		openssl req -newkey rsa:2048 -nodes -keyout $n.key -out $n.csr -subj /CN=edge.test
	done
	printf '[ca]\ndefault_ca = d\n[d]\ndir = .\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\nunique_subject = no\ndefault_md = sha256\npolicy = p\n[p]\ncommonName = supplied\n' >ca.cnf
	: >index.txt
	echo 01 >serial
	openssl ca -batch -config ca.cnf -cert ca.crt -keyfile ca.key -in good.csr -out good.crt -days 30
	openssl ca -batch -config ca.cnf -cert ca.crt -keyfile ca.key -in old.csr -out old.crt \
		-startdate 20200101000000Z -enddate 20200201000000Z
) >"$WORK/certs.log" 2>&1 || bail "cannot make test certificates: $(tail -3 "$WORK/certs.log")"

set -- $(free_ports 4)
P_TLS=$1 P_OLD=$2 P_HTTPS=$3 P_STUN=$4
[ -n "$P_STUN" ] && [ "$P_TLS" != "$P_OLD" ] || bail "could not pick four ports"
set --
# openssl s_server: plain TLS, TLS with an expired certificate, and HTTPS (-www)
openssl s_server -quiet -accept "127.0.0.1:$P_TLS" -cert "$C/good.crt" -key "$C/good.key" </dev/null >/dev/null 2>&1 &
TLS_PID=$!
openssl s_server -quiet -accept "127.0.0.1:$P_OLD" -cert "$C/old.crt" -key "$C/old.key" </dev/null >/dev/null 2>&1 &
OLD_PID=$!
openssl s_server -quiet -www -accept "127.0.0.1:$P_HTTPS" -cert "$C/good.crt" -key "$C/good.key" </dev/null >/dev/null 2>&1 &
HTTPS_PID=$!
# coturn as a plain STUN server (RFC 5389 Binding), loopback only
turnserver -n --stun-only --listening-ip=127.0.0.1 --listening-port="$P_STUN" --no-tls --no-dtls \
	--no-cli --log-file=stdout --simple-log >"$WORK/turnserver.log" 2>&1 &
STUN_PID=$!
"$FAKESRV" http 127.0.0.1 0 >"$WORK/http.out" 2>&1 &
HTTP_PID=$!
"$FAKESRV" sip 127.0.0.1 0 >"$WORK/sip.out" 2>&1 &
SIP_PID=$!
PIDS="$TLS_PID $OLD_PID $HTTPS_PID $STUN_PID $HTTP_PID $SIP_PID"
for p in "tcp $P_TLS" "tcp $P_OLD" "tcp $P_HTTPS" "udp $P_STUN"; do
	wait_port $p || bail "peer on $p did not come up"
done
i=0
until grep -q '^ready' "$WORK/http.out" && grep -q '^ready' "$WORK/sip.out"; do
	i=$((i + 1)); [ $i -gt 100 ] && bail "fakesrv did not start"; sleep 0.02
done
P_HTTP=$(sed -n 's/^ready port=//p' "$WORK/http.out")
P_SIP=$(sed -n 's/^ready port=//p' "$WORK/sip.out")
touch "$WORK/exec-ok"

cat >"$WORK/p.zone" <<'ZONE'
$ORIGIN p.test.
$TTL 300
@ IN SOA ns1 hostmaster 1 3600 600 86400 60
  IN NS ns1
ns1 IN A 192.0.2.1
ZONE
T="interval: 1s, timeout: 500ms, fastinter: 250ms, rise: 1, fall: 1"
cat >"$WORK/waymark.yaml" <<CONF
listen: ["127.0.0.1:0"]
threads: 1
zones: [{ name: p.test, file: p.zone }]
sites: { s1: {} }
geo_maps: { m: { default: [s1] } }
checks:
  c-tcp: { kind: tcp, port: $P_HTTP, $T }
  c-tls: { kind: tls, port: $P_TLS, sni: edge.test, verify: certs/ca.crt, cert_warn_days: 14, $T }
  c-expired: { kind: tls, port: $P_OLD, down_when_expired: true, $T }
  c-https: { kind: https, port: $P_HTTPS, path: /, status: [200], $T }
  c-http: { kind: http, port: $P_HTTP, path: /autodiscover/autodiscoverservice.svc/root, body: ok, $T }
  c-stun: { kind: stun, port: $P_STUN, $T }
  c-sip: { kind: sip, port: $P_SIP, $T }
  c-exec: { kind: exec, command: [/bin/sh, -c, "test -e $WORK/exec-ok"], $T }
members:
  m-tcp: { address: 127.0.0.1, answer: [192.0.2.10], checks: [c-tcp] }
  m-tls: { address: 127.0.0.1, answer: [192.0.2.11], checks: [c-tls] }
  m-expired: { address: 127.0.0.1, answer: [192.0.2.12], checks: [c-expired] }
  m-https: { address: 127.0.0.1, answer: [192.0.2.13], checks: [c-https] }
  m-http: { address: 127.0.0.1, answer: [192.0.2.14], checks: [c-http] }
  m-stun: { address: 127.0.0.1, answer: [192.0.2.15], checks: [c-stun] }
  m-sip: { address: 127.0.0.1, answer: [192.0.2.16], checks: [c-sip] }
  m-exec: { address: 127.0.0.1, answer: [192.0.2.17], checks: [c-exec] }
pools:
  p: { site: s1, members: [m-tcp, m-tls, m-expired, m-https, m-http, m-stun, m-sip, m-exec], min_up: 1 }
services:
  s: { map: m, zone: p.test, pools: { s1: p }, ttl: 60, failover_ttl: 5, names: { www: { kind: multi, max: 8 } } }
CONF
wm_start "$WORK/waymark.yaml" || bail "waymarkd did not start"

health() { "$WAYMARKCTL" -s "$CTL_SOCK" "$@" health >"$WORK/health" 2>&1; }
# member_is NAME up|down: that member's line says so (JSON)
member_is() { health -j && grep -q "\"name\":\"$1\",\"pool\":\"p\",\"up\":$([ "$2" = up ] && echo true || echo false)," "$WORK/health"; }
# until_member NAME STATE: bounded poll (5 s) on waymarkctl health
until_member() {
	i=0
	until member_is "$1" "$2"; do i=$((i + 1)); [ $i -gt 50 ] && return 1; sleep 0.1; done
}
for k in tcp tls https http stun sip exec; do
	until_member "m-$k" up
	check "$k check against its real peer: up" member_is "m-$k" up
done
check "tls with an expired certificate and down_when_expired: down" member_is m-expired down
check "the reason is the expired certificate" grep -q '"check":"c-expired"[^}]*"last":"certificate expired' "$WORK/health"
check "the certificate's days left are reported" grep -Eq '"check":"c-tls"[^}]*"cert_days_left":(29|30)' "$WORK/health"
health
diag "waymarkctl health, everything up:" "$(cat "$WORK/health")"
dq4 www.p.test A
check "the expired member is not in the answers" lacks_text "192.0.2.12"
check "the seven others are" count_is ANSWER 7

# Now each peer goes away; each check must say why.
kill "$TLS_PID" "$HTTPS_PID" "$STUN_PID" "$HTTP_PID" "$SIP_PID"
rm -f "$WORK/exec-ok"
for k in tcp tls https http stun sip exec; do
	until_member "m-$k" down
	check "$k check with its peer gone: down" member_is "m-$k" down
done
# not only the first failure: wait for further probes, each must say the same
n0=$(grep -o '"check":"c-tls"[^}]*"probes":[0-9]*' "$WORK/health" | sed 's/.*"probes"://')
i=0
until health -j && [ "$(grep -o '"check":"c-tls"[^}]*"probes":[0-9]*' "$WORK/health" | sed 's/.*"probes"://')" -ge $((n0 + 2)) ]; do
	i=$((i + 1)); [ $i -gt 50 ] && break; sleep 0.1
done
for k in tcp tls https http sip; do
	check "$k: connect refused (also after several probes)" grep -q "\"check\":\"c-$k\"[^}]*\"last\":\"connect refused" "$WORK/health"
done
check "exec: the exit status" grep -q '"check":"c-exec"[^}]*"last":"exit 1' "$WORK/health"
health
diag "waymarkctl health, every peer gone:" "$(cat "$WORK/health")"
dq4 www.p.test A
check "everything down: fail-open answers all eight" count_is ANSWER 8
curl -s "http://127.0.0.1:$HTTP_PORT/metrics" >"$WORK/out"
check "metrics: member state" grep -q '^waymark_member_up{member="m-tls"} 0$' "$WORK/out"
check "metrics: check state" grep -q '^waymark_check_up{member="m-stun",check="c-stun"} 0$' "$WORK/out"
check "metrics: pool state" grep -q '^waymark_pool_up{pool="p"} 0$' "$WORK/out"
check "metrics: failures by reason" grep -Eq '^waymark_probe_failures_total\{reason="connect refused"\} [1-9]' "$WORK/out"
check "metrics: latency histogram" grep -Eq '^waymark_probe_latency_seconds_count [1-9]' "$WORK/out"
check "metrics: transitions" grep -Eq '^waymark_member_transitions_total [1-9]' "$WORK/out"
diag "metrics excerpt:" "$(grep -E '^waymark_(member_up|check_up|probe_failures_total|probe_latency_seconds_(bucket|count)|member_transitions)' "$WORK/out" | head -30)"
curl -s "http://127.0.0.1:$HTTP_PORT/status" >"$WORK/out"
check "/status has the health too" grep -q '"health":{"members":\[{"name":"m-tcp"' "$WORK/out"
wm_stop
check "clean stop" test "$WM_STATUS" -eq 0
tap_done
