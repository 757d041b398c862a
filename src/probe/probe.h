/* probe.h -- the health prober: non-blocking checks on its own thread, hysteresis, results to main.
 */
#ifndef WAYMARK_PROBE_PROBE_H
#define WAYMARK_PROBE_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "probe/probe_conf.h"

struct event_base;

/*
 * Threads. prober_new/prober_start/prober_stop/prober_free are called by one
 * owner thread (the main thread). After prober_start, everything else inside
 * the prober (sockets, timers, children, hysteresis counters) belongs to the
 * prober thread alone: it is the only writer of check and member state.
 * Results reach the owner through a mutex-protected queue and one
 * event_active() on the notify base: a burst of results costs one wake-up,
 * and the callback runs on the notify base's thread.
 *
 * libevent must have been told to use locks (evthread_use_pthreads(), which
 * prober_new calls once) before the notify base was created, so that
 * event_active() on it from the prober thread is safe.
 *
 * Check kinds, each one probe at a time per target, never blocking:
 *   tcp    connected within the timeout;
 *   tls    handshake done (TLS >= 1.2, SNI = `sni` or the target's host); with
 *          `verify` the chain must verify against the CA file and the name
 *          (SNI, else host) must match; the days until notAfter are in every
 *          result, logged when below cert_warn_days or expired (once per day
 *          value), and fail the probe when expired if down_when_expired;
 *   http(s) "METHOD path HTTP/1.1", Host, Connection: close; the status must be
 *          listed; `body` is searched in at most PROBE_READ_MAX bytes of raw
 *          body (a chunked body is searched as is, chunk headers included);
 *   stun   RFC 5389 Binding request, fresh random transaction ID and socket per
 *          probe; up on a Binding success with that ID and a well-formed
 *          XOR-MAPPED-ADDRESS; any other datagram fails the probe at once;
 *   sip    OPTIONS over TCP or TLS (RFC 3261 §11); up on any well-formed
 *          response (1xx..6xx) whose Call-ID is ours;
 *   exec   posix_spawn, no shell, stdio on /dev/null, the daemon's environment,
 *          empty signal mask; exit 0 is up; SIGKILL at the timeout.
 * Reasons: "connect refused", "timeout", "unreachable", "connection reset",
 * "HTTP 503", "body mismatch", "bad HTTP response", "certificate expired",
 * "certificate verify failed: ...", "TLS handshake failed: ...", "bad STUN
 * response[: ...]", "bad SIP response[: ...]", "exit N", "exec: ...".
 *
 * Children are reaped without SIGCHLD: each gets a pidfd (Linux >= 5.3;
 * else waitpid(pid, WNOHANG) on a 20 ms timer) and only its own pid is waited
 * for, so no signal handler is installed and other threads' children are
 * never taken. The process must not set SIGCHLD to SIG_IGN (children would
 * then be reaped by the kernel and every exec probe would fail).
 *
 * Hysteresis (HAProxy's counter): a down check needs `rise` consecutive
 * successes; an up check goes down after `fall` failures net of successes.
 * An unknown check (no `initial:`) takes its first probe's result. While a
 * check is between states the next probe comes after `fastinter`. Each next
 * probe counts from the end of the previous one (no overlap), +-jitter/2.
 *
 * Tests may instead drive a prober on their own base with prober_attach()
 * (no thread; results are delivered directly), start a probe at once with
 * prober_probe_now() and feed raw results with prober_feed_for_test().
 */

typedef struct prober prober_t;

typedef enum { PROBE_UNKNOWN = -1, PROBE_DOWN = 0, PROBE_UP = 1 } probe_state_t;

/* One (member, check) pair to probe. `addr` is copied; `host` (may be NULL)
 * is copied and used for SNI, the HTTP Host header and the SIP request URI
 * when the check does not set them. */
typedef struct probe_target {
	unsigned member;
	unsigned check;              /* index in probe_conf_t.checks */
	const struct sockaddr *addr; /* port ignored: the check's port is used; NULL for exec */
	socklen_t addr_len;
	const char *host;
	const char *name; /* for log lines (the member's name); copied; may be NULL */
	/* Where the hysteresis starts (a reload carries the state the previous
	 * prober had reached): with has_start, `start` (up: the counter at its
	 * top, down: at 0), so that one probe cannot flip it against rise/fall.
	 * Without: the check's `initial`. */
	bool has_start;
	int start; /* a probe_state_t */
} probe_target_t;

typedef struct probe_result {
	size_t target; /* index in the targets given to prober_new */
	unsigned member, check;
	bool ok;                    /* this probe succeeded */
	probe_state_t state;        /* the check's state after hysteresis */
	probe_state_t member_state; /* down if any check down, up if all up, else unknown */
	bool changed;               /* state differs from before this probe */
	char reason[128];           /* "ok", "connect refused", "timeout", "HTTP 503", ... */
	uint64_t latency_us;        /* probe start to result */
	int cert_days_left;         /* tls: days until notAfter (negative: expired); else 0 */
} probe_result_t;

/* Runs on the notify base's thread (or the attached base for tests). `r`
 * lives only during the call. */
typedef void (*probe_result_fn)(const probe_result_t *r, void *arg);

/* Build a prober for `n` targets. `conf` must outlive the prober. Nothing
 * runs yet. Returns NULL (with a message in err) on a bad target (check index
 * out of range, address family not IPv4/IPv6 for a network check), a CA file
 * OpenSSL cannot load, or no memory. By default only results that change a
 * check's state are delivered (see prober_report_all). */
prober_t *prober_new(const probe_conf_t *conf, const probe_target_t *targets, size_t n,
		     probe_result_fn cb, void *cb_arg, char *err, size_t errlen);

/* Deliver every probe's result, not only state changes (tests, debugging).
 * Call before start/attach. */
void prober_report_all(prober_t *p, bool all);

/* Where results go: an event base run by the owner thread. Before start. */
int prober_set_notify(prober_t *p, struct event_base *main_base);

/* Start the prober thread (own event base). Each target's first probe goes
 * out within the first second (spread over it), its second at a random point
 * of its interval, so that probes spread. 0 or -1. */
int prober_start(prober_t *p, char *err, size_t errlen);

/* Stop the thread and wait for it: probes in flight are abandoned (children
 * are killed and reaped). Results still queued are dropped. Idempotent. */
void prober_stop(prober_t *p);

/* Stop if needed and free everything. NULL is fine. */
void prober_free(prober_t *p);

/* Tests: run on `base` (the caller's thread) instead of a thread; no probe is
 * scheduled unless `schedule` is true. Results are delivered directly. */
int prober_attach(prober_t *p, struct event_base *base, bool schedule);
/* Tests (attached only): start target `t`'s probe now (no-op if one runs). */
int prober_probe_now(prober_t *p, size_t t);
/* Tests (attached only): apply a probe outcome to target `t` as if a probe
 * had just ended, with its hysteresis and delivery. */
void prober_feed_for_test(prober_t *p, size_t t, bool ok, const char *reason);
/* Tests: the delay the next probe of `t` would be scheduled with, in ms
 * (fastinter while between states, interval otherwise, jitter applied). */
uint32_t prober_next_delay_ms(prober_t *p, size_t t);

#endif
