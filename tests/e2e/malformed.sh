#!/bin/sh
# malformed.sh -- e2e: bad packets get FORMERR or are dropped, the daemon stays up; TCP framing and pipelining.
. "$(dirname "$0")/lib.sh"

cp "$top_srcdir/tests/unit/data/zone/example.test.zone" "$WORK/"
cat >"$WORK/waymark.yaml" <<CONF
listen: ["127.0.0.1:0", "[::1]:0"]
threads: 2
tcp: { idle_timeout: 2s, max_clients: 100 }
zones:
  - name: example.test
    file: example.test.zone
CONF
wm_start "$WORK/waymark.yaml" || bail "waymarkd did not start"

Q=03777777076578616d706c650474657374000001 # www.example.test, type A ...
QNAME_CLASS=${Q}0001                          # ... class IN
GOOD=abcd01000001000000000000$QNAME_CLASS

raw() { "$DNSRAW" "$@" >"$WORK/out" 2>&1; }
# rcode of the i-th reply line (header byte 3, low nibble), or the word on it
reply() { sed -n "${1}p" "$WORK/out"; }
rcode() { r=$(reply "$1"); case $r in none|eof|"") echo "$r" ;; *) echo $((0x$(echo "$r" | cut -c8))) ;; esac; }
id_of() { reply "$1" | cut -c1-4; }

raw -w 300 127.0.0.1 "$PORT4" $GOOD
check "a good raw query is answered NOERROR" test "$(rcode 1)" = 0

raw -w 300 127.0.0.1 "$PORT4" abcd81000001000000000000$QNAME_CLASS
check "QR=1 is never answered" test "$(rcode 1)" = none
raw -w 300 127.0.0.1 "$PORT4" abcd010000
check "a packet shorter than a header is dropped" test "$(rcode 1)" = none
raw 127.0.0.1 "$PORT4" abcd01000002000000000000$QNAME_CLASS$QNAME_CLASS
check "QDCOUNT 2 is FORMERR" test "$(rcode 1)" = 1
raw 127.0.0.1 "$PORT4" abcd01000000000000000000
check "QDCOUNT 0 is FORMERR" test "$(rcode 1)" = 1
raw 127.0.0.1 "$PORT4" abcd0100000100000000000003777777c00c00010001
check "a compression pointer in the question is FORMERR" test "$(rcode 1)" = 1
raw 127.0.0.1 "$PORT4" abcd01000001000000000000407878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878780000010001
check "a label longer than 63 is FORMERR" test "$(rcode 1)" = 1
OPT=00002904d0000000000000
raw 127.0.0.1 "$PORT4" abcd01000001000000000002$QNAME_CLASS$OPT$OPT
check "two OPT records are FORMERR" test "$(rcode 1)" = 1
raw 127.0.0.1 "$PORT4" abcd01000001000000000001${QNAME_CLASS}00002904d000000000000a000800060003180001020
check "OPT with a bad option length is FORMERR" test "$(rcode 1)" = 1
raw 127.0.0.1 "$PORT4" abcd01000001000000000001${QNAME_CLASS}00002904d000000000000b000800070003180001020300
check "ECS with an unknown family is FORMERR" test "$(rcode 1)" = 1
raw 127.0.0.1 "$PORT4" abcd01000001000000000001${QNAME_CLASS}00002904d000000000000b0008000700011400c633ff
check "ECS with bits beyond SOURCE is FORMERR" test "$(rcode 1)" = 1
raw 127.0.0.1 "$PORT4" abcd21000001000000000000$QNAME_CLASS
check "opcode IQUERY is NOTIMP" test "$(rcode 1)" = 4

# 200 random packets: whatever they are, the daemon keeps serving.
i=0; pk=""
while [ $i -lt 200 ]; do
	pk="$pk $(od -An -N$((12 + i % 60)) -tx1 /dev/urandom | tr -d ' \n')"
	i=$((i + 1))
done
raw -w 20 127.0.0.1 "$PORT4" $pk
raw 127.0.0.1 "$PORT4" $GOOD
check "still answering after 200 random packets" test "$(rcode 1)" = 0
check "still running after the random packets" kill -0 "$WM_PID"

# TCP: three queries in one write come back as three answers, in order.
raw -t -w 2000 127.0.0.1 "$PORT4" 000101000001000000000000$QNAME_CLASS 000201000001000000000000$QNAME_CLASS 000301000001000000000000$QNAME_CLASS
check "TCP pipelining: first answer" test "$(id_of 1)" = 0001
check "TCP pipelining: second answer" test "$(id_of 2)" = 0002
check "TCP pipelining: third answer" test "$(id_of 3)" = 0003
check "TCP pipelining: all NOERROR" test "$(rcode 1)$(rcode 2)$(rcode 3)" = 000
raw -t -w 2000 ::1 "$PORT6" $GOOD ""
check "TCP: a zero-length message closes the connection after the answers" test "$(rcode 1)$(reply 2)" = 0eof
raw -t -w 4000 127.0.0.1 "$PORT4" $GOOD
check "TCP: an idle connection is closed by the server (idle_timeout 2s)" test "$(reply 2)" = eof

wm_stop
check "clean stop after the abuse" test "$WM_STATUS" -eq 0
tap_done
