#!/bin/sh
# refuse.sh -- contrib/lab/up and down refuse, with a clear message, to run without root
# or without `ip netns`, create nothing when they refuse, and `down` is safe to repeat.
LAB_TEST_PREFIX=wmlr-
. "$(dirname "$0")/lib.sh"
UP=$LAB_SRC/up
DOWN=$LAB_SRC/down
export WML_PREFIX WML_DIR

# as_user CMD...: run CMD as an unprivileged user (nobody, if we are root).
as_user() {
	if [ "$(id -u)" -eq 0 ]; then
		setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
	else
		"$@"
	fi
}
if [ "$(id -u)" -ne 0 ] || command -v setpriv >/dev/null 2>&1; then
	as_user "$UP" >"$WORK/out" 2>&1
	check "up without root: refused" test $? -ne 0
	check "up without root: says so" grep -q 'must run as root' "$WORK/out"
	as_user "$DOWN" >"$WORK/out" 2>&1
	check "down without root: refused" test $? -ne 0
	check "down without root: says so" grep -q 'must run as root' "$WORK/out"
fi
if [ "$(id -u)" -ne 0 ]; then
	tap_done
	exit
fi

# Root, but an `ip` without network namespace support (a stand-in that
# fails the way an old iproute2 or a kernel without netns does).
mkdir -p "$WORK/bin"
printf '#!/bin/sh\necho "Object \\"netns\\" is unknown, try \\"ip help\\"." >&2\nexit 255\n' >"$WORK/bin/ip"
chmod +x "$WORK/bin/ip"
PATH="$WORK/bin:$PATH" "$UP" >"$WORK/out" 2>&1
check "up without ip netns: refused" test $? -ne 0
check "up without ip netns: says so" grep -q "'ip netns' is not supported" "$WORK/out"
PATH="$WORK/bin:$PATH" "$DOWN" >"$WORK/out" 2>&1
check "down without ip netns: refused, says so" grep -q "'ip netns' is not supported" "$WORK/out"
if ip netns list >/dev/null 2>&1; then
	check "refusals created no namespace" test "$(ip netns list | grep -c "^${WML_PREFIX}")" -eq 0
	"$DOWN" >"$WORK/out" 2>&1
	check "down with nothing up: exit 0" test $? -eq 0
	"$DOWN" >"$WORK/out" 2>&1
	check "down again: exit 0" test $? -eq 0
	test -d "$WML_DIR"
	check "down leaves no state directory" test $? -ne 0
fi
tap_done
