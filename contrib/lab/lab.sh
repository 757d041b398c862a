# lab.sh -- the waymark BIND lab in network namespaces: shared by contrib/lab/up,
# contrib/lab/down and tests/lab. Sourced, not run. POSIX sh.
#
# Everything the lab creates is named with one prefix ($WML_PREFIX, default
# "wml-"): one network namespace per host, plus "<prefix>sw" holding the
# bridge that links them. Every veth pair is created inside those namespaces
# (one end in the switch, the other, eth0, in the host), so the lab never
# adds, changes or removes an interface or address of the machine's own
# namespace. `lab_down` removes exactly the namespaces with the prefix.
#
# Every host has its 10.x.y.z address on eth0 with a /8, so all of 10/8 is
# on-link over the one bridge: no router, no default route, nothing can
# leave the lab.

: "${WML_PREFIX:=wml-}"
: "${WML_DIR:=/run/${WML_PREFIX}lab}"
LAB_SRC=${LAB_SRC:-$(cd "$(dirname "$0")" 2>/dev/null && pwd)}
P=$WML_PREFIX

# The hosts: namespace suffix, address, role. Members' addresses match
# contrib/lab/waymark.yaml.
LAB_HOSTS="parent:10.0.0.2:parent
waymark:10.0.0.53:waymark
res-nyc:10.1.0.53:resolver-bind
res-lon:10.0.2.53:resolver-unbound
alice:10.1.10.10:client
bob:10.2.10.10:client
nyc-fe1:10.1.1.11:fe
nyc-fe2:10.1.1.12:fe
nyc-fe3:10.1.1.13:fe
nyc-edge1:10.1.2.11:edge
nyc-edge2:10.1.2.12:edge
nyc-rp1:10.1.3.11:rp
nyc-av1:10.1.4.11:av
lon-fe1:10.2.1.11:fe
lon-fe2:10.2.1.12:fe
lon-fe3:10.2.1.13:fe
lon-edge1:10.2.2.11:edge
lon-edge2:10.2.2.12:edge
lon-rp1:10.2.3.11:rp
lon-av1:10.2.4.11:av"
WAYMARK_ADDR=10.0.0.53
PARENT_ADDR=10.0.0.2
RES_NYC=10.1.0.53
RES_LON=10.0.2.53

lab_log() { printf 'lab: %s\n' "$*" >&2; }
lab_die() { printf 'lab: error: %s\n' "$*" >&2; exit 1; }

# lab_preflight: refuse to run without root or without `ip netns`.
lab_preflight() {
	[ "$(id -u)" -eq 0 ] || lab_die "must run as root (it creates network namespaces); try: sudo $0"
	command -v ip >/dev/null 2>&1 || lab_die "'ip' (iproute2) not found: apt-get install iproute2"
	ip netns list >/dev/null 2>&1 || lab_die "'ip netns' is not supported here (no network namespace support?)"
	# Creating one proves it (a container may forbid unshare even to root).
	if ! ip netns add "${P}probe" 2>/dev/null; then
		lab_die "cannot create a network namespace ('ip netns add' failed: no CAP_SYS_ADMIN, or a container forbids it)"
	fi
	ip netns del "${P}probe" 2>/dev/null
}

# lab_missing_tools: the programs the lab runs that are not installed.
lab_missing_tools() {
	m=""
	for t in named unbound openssl dig turnserver; do
		command -v "$t" >/dev/null 2>&1 || [ -x "/usr/sbin/$t" ] || m="$m $t"
	done
	echo "$m"
}

lab_ns() { echo "${P}$1"; }
lab_exec() { n=$1; shift; ip netns exec "${P}$n" "$@"; }
lab_addr() { echo "$LAB_HOSTS" | awk -F: -v n="$1" '$1 == n { print $2 }'; }

# AppArmor (Debian's bind9 and unbound ship profiles): when a profile
# confines the daemon, its files must live where the profile lets it read and
# write; otherwise they live in the lab directory.
lab_aa_confines() { # lab_aa_confines PROFILE
	[ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" = Y ] &&
		grep -q "^$1 (enforce)" /sys/kernel/security/apparmor/profiles 2>/dev/null
}
lab_named_dir() { # lab_named_dir HOST
	if lab_aa_confines named; then echo "/var/cache/bind/${P}lab/$1"; else echo "$WML_DIR/$1"; fi
}
lab_unbound_dir() { # lab_unbound_dir HOST
	if lab_aa_confines unbound; then echo "/var/lib/unbound/${P}lab/$1"; else echo "$WML_DIR/$1"; fi
}

# lab_bg HOST NAME CMD...: start CMD in HOST's namespace, in the background,
# output to $WML_DIR/NAME.log, its PID in $WML_DIR/NAME.pid.
# Started from a subshell, so that the daemon is nobody's child here: the
# lab stops it by PID, never by waiting for it.
lab_bg() {
	h=$1 nm=$2; shift 2
	(
		ip netns exec "${P}$h" "$@" >"$WML_DIR/$nm.log" 2>&1 </dev/null &
		echo $! >"$WML_DIR/$nm.pid"
	)
}

# lab_wait_closed HOST PROTO ADDR:PORT: bounded wait (5 s) until nothing listens.
lab_wait_closed() {
	i=0
	while ip netns exec "${P}$1" ss -H -ln"$(echo "$2" | cut -c1)" 2>/dev/null | awk '{print $4}' | grep -qxF "$3"; do
		i=$((i + 1))
		[ $i -gt 50 ] && return 1
		sleep 0.1
	done
}

# lab_wait_port HOST PROTO ADDR:PORT: bounded wait (10 s) for a listener.
lab_wait_port() {
	i=0
	while ! ip netns exec "${P}$1" ss -H -ln"$(echo "$2" | cut -c1)" 2>/dev/null | awk '{print $4}' | grep -qxF "$3"; do
		i=$((i + 1))
		[ $i -gt 100 ] && return 1
		sleep 0.1
	done
}

# --- topology ---------------------------------------------------------------------

lab_net_up() {
	ip netns add "${P}sw" || lab_die "cannot create namespace ${P}sw"
	ip -n "${P}sw" link set lo up
	ip -n "${P}sw" link add br0 type bridge stp_state 0 forward_delay 0
	ip -n "${P}sw" link set br0 up
	echo "$LAB_HOSTS" | while IFS=: read -r h a role; do
		ns=${P}$h
		ip netns add "$ns" || lab_die "cannot create namespace $ns"
		# IPv4 only (no router advertisements, no DAD noise); /proc/sys/net is per namespace.
		ip netns exec "$ns" sh -c 'echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6' 2>/dev/null
		ip -n "$ns" link set lo up
		# Both ends are created inside lab namespaces: "v-HOST" in the switch, eth0 in the host.
		ip -n "${P}sw" link add "v-$h" type veth peer name eth0 netns "$ns" ||
			lab_die "cannot create the veth pair for $h"
		ip -n "${P}sw" link set "v-$h" master br0 up
		ip -n "$ns" addr add "$a/8" dev eth0
		ip -n "$ns" link set eth0 up
	done || exit 1
}

# --- the daemons -------------------------------------------------------------------

lab_certs() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
		-subj "/CN=*.lyncweb.contoso.test" -keyout "$WML_DIR/tls.key" -out "$WML_DIR/tls.crt" \
		>/dev/null 2>&1 || lab_die "openssl could not make the lab certificate"
	mkdir -p "$WML_DIR/www/autodiscover/autodiscoverservice.svc"
	printf '{"_links":{"self":{"href":"https://lyncdiscover.contoso.test/autodiscover/autodiscoverservice.svc/root"}}}\n' \
		>"$WML_DIR/www/autodiscover/autodiscoverservice.svc/root"
}

# lab_tls HOST ADDR PORT [WWW]: an openssl s_server (HTTPS with -WWW).
lab_tls() {
	h=$1 a=$2 port=$3 www=${4:-}
	set -- openssl s_server -quiet -accept "$a:$port" -cert "$WML_DIR/tls.crt" -key "$WML_DIR/tls.key"
	[ "$www" = www ] && set -- "$@" -WWW
	(cd "$WML_DIR/www" && lab_bg "$h" "$h-tls$port" "$@")
	lab_wait_port "$h" tcp "$a:$port" || lab_die "no TLS listener on $h $a:$port (see $WML_DIR/$h-tls$port.log)"
}

# lab_stun HOST ADDR: coturn's turnserver answering STUN binding requests on 3478/udp.
lab_stun() {
	h=$1 a=$2
	lab_bg "$h" "$h-stun" turnserver -n --stun-only --no-tls --no-dtls --no-cli \
		--listening-ip="$a" --listening-port=3478 --relay-ip="$a" \
		--log-file=stdout --simple-log --pidfile="$WML_DIR/$h-turn.pid" --userdb="$WML_DIR/$h-turn.db"
	lab_wait_port "$h" udp "$a:3478" || lab_die "no STUN listener on $h $a:3478 (see $WML_DIR/$h-stun.log)"
}

lab_named_parent() {
	d=$(lab_named_dir parent)
	mkdir -p "$d"
	cp "$LAB_SRC/contoso.test.zone" "$d/"
	cat >"$d/named.conf" <<EOF
// the lab's parent: authoritative for contoso.test (contrib/lab/lab.sh)
options {
	directory "$d";
	pid-file none;
	session-keyfile none;
	listen-on { $PARENT_ADDR; };
	listen-on-v6 { none; };
	recursion no;
	notify no;
	dnssec-validation no;
};
controls { };
zone "contoso.test" { type primary; file "contoso.test.zone"; };
EOF
	lab_bg parent named named -g -4 -n 1 -c "$d/named.conf"
	lab_wait_port parent udp "$PARENT_ADDR:53" || lab_die "the parent named did not start (see $WML_DIR/named.log)"
}

lab_named_resolver() {
	d=$(lab_named_dir res-nyc)
	mkdir -p "$d"
	cat >"$d/named.conf" <<EOF
// New York's recursive resolver (BIND): no ECS, waymark places its clients
// by this resolver's address, 10.1.0.53 (contrib/lab/lab.sh)
options {
	directory "$d";
	pid-file none;
	session-keyfile none;
	listen-on { $RES_NYC; };
	listen-on-v6 { none; };
	recursion yes;
	allow-query { 10.0.0.0/8; };
	allow-recursion { 10.0.0.0/8; };
	dnssec-validation no;
	notify no;
};
controls { };
// no root in the lab: the SIP domain's servers are configured
zone "contoso.test" { type static-stub; server-addresses { $PARENT_ADDR; }; };
EOF
	lab_bg res-nyc res-nyc-named named -g -4 -n 1 -c "$d/named.conf"
	lab_wait_port res-nyc udp "$RES_NYC:53" || lab_die "New York's resolver did not start (see $WML_DIR/res-nyc-named.log)"
}

lab_unbound_resolver() {
	d=$(lab_unbound_dir res-lon)
	mkdir -p "$d"
	cat >"$d/unbound.conf" <<EOF
# London's recursive resolver (Unbound): sends EDNS Client Subnet to
# waymarkd, which places its clients by their own subnet (contrib/lab/lab.sh)
server:
	interface: $RES_LON
	port: 53
	do-ip6: no
	access-control: 10.0.0.0/8 allow
	chroot: ""
	username: ""
	directory: "$d"
	pidfile: ""
	use-syslog: no
	logfile: ""
	verbosity: 1
	num-threads: 1
	module-config: "subnetcache iterator"
	send-client-subnet: $WAYMARK_ADDR
	max-client-subnet-ipv4: 24
	local-zone: "test." nodefault
	prefetch: no
remote-control:
	control-enable: no
stub-zone:
	name: "contoso.test"
	stub-addr: $PARENT_ADDR
EOF
	unbound-checkconf "$d/unbound.conf" >"$WML_DIR/res-lon-checkconf.log" 2>&1 ||
		lab_die "unbound-checkconf: $(cat "$WML_DIR/res-lon-checkconf.log")"
	lab_bg res-lon res-lon-unbound unbound -d -c "$d/unbound.conf"
	lab_wait_port res-lon udp "$RES_LON:53" || lab_die "London's resolver did not start (see $WML_DIR/res-lon-unbound.log)"
}

lab_find_waymarkd() {
	for w in "${WAYMARKD:-}" "${top_builddir:-}/waymarkd" "$LAB_SRC/../../build-lab/waymarkd" \
		"$LAB_SRC/../../build/waymarkd" "$LAB_SRC/../../waymarkd"; do
		[ -n "$w" ] && [ -x "$w" ] && { (cd "$(dirname "$w")" && echo "$(pwd)/$(basename "$w")"); return 0; }
	done
	return 1
}

# lab_probe_config FILE: give every member the checks of its role, probing
# the lab's real targets (LAB_INJECT=kill or link: waymarkd's prober decides).
# interval 1 s x fall 2: the bounds tests/lab assumes (LAB_INTERVAL, LAB_FALL).
lab_probe_config() {
	t='interval: 1s, timeout: 500ms, rise: 1, fall: 2'
	sed -i -e 's/^\(  [a-z]*-fe[0-9]*: { address: [0-9.]*\)/\1, checks: [fe-tls]/' \
		-e 's/^\(  [a-z]*-edge[0-9]*: { address: [0-9.]*\)/\1, checks: [edge-tls, edge-sip-tls]/' \
		-e 's/^\(  [a-z]*-rp[0-9]*: { address: [0-9.]*\)/\1, checks: [autodiscover]/' \
		-e 's/^\(  [a-z]*-av[0-9]*: { address: [0-9.]*\)/\1, checks: [av-stun]/' "$1"
	cat >>"$1" <<EOF
checks:   # added by contrib/lab/lab.sh (LAB_INJECT=kill or link)
  fe-tls: { kind: tls, port: 5061, $t }
  edge-tls: { kind: tls, port: 443, $t }
  edge-sip-tls: { kind: tls, port: 5061, $t }
  autodiscover: { kind: https, port: 443, path: /autodiscover/autodiscoverservice.svc/root, $t }
  av-stun: { kind: stun, port: 3478, $t }
EOF
}

lab_waymarkd() {
	WAYMARKD=$(lab_find_waymarkd) || lab_die "waymarkd not found: build it (see README.md) or set WAYMARKD=/path/to/waymarkd"
	WAYMARKCTL=${WAYMARKCTL:-$(dirname "$WAYMARKD")/waymarkctl}
	sed "s|@LAB@|$WML_DIR|g" "$LAB_SRC/waymark.yaml" >"$WML_DIR/waymark.yaml"
	[ "$LAB_INJECT" = override ] || lab_probe_config "$WML_DIR/waymark.yaml"
	cp "$LAB_SRC/lyncweb.contoso.test.zone" "$WML_DIR/"
	lab_bg waymark waymarkd "$WAYMARKD" -c "$WML_DIR/waymark.yaml" --allow-root
	i=0
	while ! grep -q ' info started ' "$WML_DIR/waymarkd.log"; do
		i=$((i + 1))
		if [ $i -gt 100 ] || ! kill -0 "$(cat "$WML_DIR/waymarkd.pid")" 2>/dev/null; then
			lab_die "waymarkd did not start: $(cat "$WML_DIR/waymarkd.log")"
		fi
		sleep 0.1
	done
	printf '%s\n%s\n' "$WAYMARKD" "$WAYMARKCTL" >"$WML_DIR/binaries"
}

lab_role() { echo "$LAB_HOSTS" | awk -F: -v n="$1" '$1 == n { print $3 }'; }
# lab_ports HOST: the probe targets of a host, as PROTO:PORT:PIDNAME.
lab_ports() {
	case $(lab_role "$1") in
	fe) echo "tcp:5061:tls5061" ;;
	edge) echo "tcp:443:tls443 tcp:5061:tls5061" ;;
	rp) echo "tcp:443:tls443" ;;
	av) echo "udp:3478:stun" ;;
	esac
}
# lab_member_start HOST: start the probe targets of one member.
lab_member_start() {
	h=$1 a=$(lab_addr "$1")
	case $(lab_role "$h") in
	fe) lab_tls "$h" "$a" 5061 ;;
	edge) lab_tls "$h" "$a" 443 && lab_tls "$h" "$a" 5061 ;;
	rp) lab_tls "$h" "$a" 443 www ;;
	av) lab_stun "$h" "$a" ;;
	esac
}
# lab_member_stop HOST: kill the probe targets of one member (by PID) and
# wait (bounded) until their ports are closed.
lab_member_stop() {
	h=$1 a=$(lab_addr "$1")
	for x in $(lab_ports "$h"); do
		pf=$WML_DIR/$h-${x##*:}.pid
		[ -f "$pf" ] && kill -TERM "$(cat "$pf")" 2>/dev/null
	done
	for x in $(lab_ports "$h"); do
		pp=${x%:*}
		lab_wait_closed "$h" "${pp%%:*}" "$a:${pp#*:}" || return 1
	done
}

lab_targets() {
	lab_certs
	echo "$LAB_HOSTS" | while IFS=: read -r h a role; do
		case $role in
		fe | edge | rp | av) lab_member_start "$h" ;;
		esac
	done || exit 1
}

# lab_up: the whole lab, or nothing (a failure takes down what was built).
lab_up() {
	lab_preflight
	m=$(lab_missing_tools)
	[ -z "$m" ] || lab_die "missing:$m (Debian 12: apt-get install bind9 bind9-dnsutils unbound openssl coturn)"
	if ip netns list | grep -q "^${P}"; then
		lab_die "a lab with prefix '${P}' is already up: run contrib/lab/down first"
	fi
	rm -rf "$WML_DIR"
	mkdir -p "$WML_DIR" || lab_die "cannot create $WML_DIR"
	trap 'lab_down >/dev/null 2>&1' EXIT
	lab_net_up
	lab_targets
	lab_named_parent
	lab_named_resolver
	lab_unbound_resolver
	lab_waymarkd
	trap - EXIT
}

# lab_down: stop every process in the lab's namespaces (by PID), delete the
# namespaces, remove the state. Safe to run twice, and when nothing is up.
lab_down() {
	nss=$(ip netns list 2>/dev/null | awk '{print $1}' | grep "^${P}" || true)
	for ns in $nss; do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		# shellcheck disable=SC2086 # one PID per word
		[ -n "$pids" ] && kill -TERM $pids 2>/dev/null
	done
	for ns in $nss; do
		i=0
		while [ -n "$(ip netns pids "$ns" 2>/dev/null)" ] && [ $i -lt 50 ]; do
			i=$((i + 1)); sleep 0.1
		done
		pids=$(ip netns pids "$ns" 2>/dev/null)
		# shellcheck disable=SC2086 # one PID per word
		[ -n "$pids" ] && kill -KILL $pids 2>/dev/null
	done
	for ns in $nss; do
		ip netns del "$ns" 2>/dev/null || lab_log "could not delete namespace $ns"
	done
	case $WML_DIR in
	*"${P}lab"*) rm -rf "$WML_DIR" ;;
	esac
	rm -rf "/var/cache/bind/${P}lab" "/var/lib/unbound/${P}lab"
	[ -n "$nss" ] && lab_log "removed $(echo "$nss" | wc -l) namespaces with prefix ${P}"
	return 0
}

# --- failure injection ---------------------------------------------------------------
# One place decides what "a server dies" means. LAB_INJECT:
#   override  (the default) the member's namespace loses its link, so its probe
#             targets really are unreachable, and waymarkd is told at once with
#             `waymarkctl set MEMBER down` (recovery: link up, `set MEMBER auto`);
#   kill      its probe target processes are killed (connections are refused);
#             waymarkd's prober has to notice (recovery: they are restarted);
#   link      only its link goes down (probes time out, as for a server that
#             lost power); waymarkd's prober has to notice.
# In kill and link modes waymarkd is given the checks of lab_probe_config.
: "${LAB_INJECT:=override}"

lab_ctl() { "$WAYMARKCTL" -s "$WML_DIR/waymarkd.sock" "$@"; }

fail_member() {
	case $LAB_INJECT in
	override) ip -n "${P}$1" link set eth0 down && lab_ctl set "$1" down >/dev/null ;;
	kill) lab_member_stop "$1" ;;
	link) ip -n "${P}$1" link set eth0 down ;;
	*) lab_log "LAB_INJECT=$LAB_INJECT: not override, kill or link"; return 1 ;;
	esac
}
recover_member() {
	case $LAB_INJECT in
	override) ip -n "${P}$1" link set eth0 up && lab_ctl set "$1" auto >/dev/null ;;
	kill) (lab_member_start "$1") ;;
	link) ip -n "${P}$1" link set eth0 up ;;
	*) return 1 ;;
	esac
}
site_of() { case $1 in ny | nyc) echo nyc ;; lon | london) echo lon ;; *) echo "$1" ;; esac; }
# fail_edge ny|lon: every Edge server of the site dies.
fail_edge() { s=$(site_of "$1"); fail_member "$s-edge1" && fail_member "$s-edge2"; }
recover_edge() { s=$(site_of "$1"); recover_member "$s-edge1" && recover_member "$s-edge2"; }
# fail_fe_quorum ny|lon: two of the three Front Ends die (the pool loses quorum).
fail_fe_quorum() { s=$(site_of "$1"); fail_member "$s-fe1" && fail_member "$s-fe2"; }
recover_fe_quorum() { s=$(site_of "$1"); recover_member "$s-fe1" && recover_member "$s-fe2"; }

lab_summary() {
	cat <<EOF
The waymark BIND lab is up (prefix ${P}, state in $WML_DIR).

  namespace          address      runs
  ${P}parent         $PARENT_ADDR     named: contoso.test, delegates lyncweb.contoso.test (glue)
  ${P}waymark        $WAYMARK_ADDR    waymarkd: lyncweb.contoso.test; metrics http://$WAYMARK_ADDR:9153/metrics
  ${P}res-nyc        $RES_NYC    named, recursive (New York; placed by its address)
  ${P}res-lon        $RES_LON    unbound, recursive, send-client-subnet (London; placed by ECS)
  ${P}alice          10.1.10.10   a New York client (resolver $RES_NYC)
  ${P}bob            10.2.10.10   a London client (resolver $RES_LON)
  ${P}nyc-fe1..3     10.1.1.11-13 Front End: TLS 5061      (London: ${P}lon-*, 10.2.x.y)
  ${P}nyc-edge1..2   10.1.2.11-12 Edge: TLS 443, TLS 5061
  ${P}nyc-rp1        10.1.3.11    reverse proxy: HTTPS /autodiscover/autodiscoverservice.svc/root
  ${P}nyc-av1        10.1.4.11    A/V Edge: STUN 3478/udp (coturn)
  ${P}sw             -            the bridge br0 linking them all

Try:
  ip netns exec ${P}alice dig @$RES_NYC lyncdiscover.contoso.test A
  ip netns exec ${P}bob dig @$RES_LON lyncdiscover.contoso.test A
  ip netns exec ${P}alice dig @$RES_NYC _sip._tls.contoso.test SRV
  ip netns exec ${P}bob dig @$RES_LON _sipfederationtls._tcp.contoso.test SRV
  ip netns exec ${P}alice dig @$WAYMARK_ADDR +norec edges.lyncweb.contoso.test A
  ip netns exec ${P}alice openssl s_client -connect 10.1.2.11:5061 </dev/null
  $WAYMARKCTL -s $WML_DIR/waymarkd.sock set nyc-edge down        # then ask Alice's again
  $WAYMARKCTL -s $WML_DIR/waymarkd.sock explain sip.lyncweb.contoso.test A --client 10.1.10.10
  ip netns exec ${P}waymark curl -s http://$WAYMARK_ADDR:9153/metrics
Logs: $WML_DIR/*.log.   Remove everything: contrib/lab/down
EOF
}
