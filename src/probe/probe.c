/* probe.c -- the health prober: check kinds on libevent, hysteresis, result delivery (see probe.h).
 */
#include "config.h"
#include "probe/probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "core/log.h"

extern char **environ;

/* RFC 5389 §6: the magic cookie, and the message types we send and accept. */
#define STUN_COOKIE 0x2112A442u
#define STUN_BINDING_REQUEST 0x0001
#define STUN_BINDING_SUCCESS 0x0101
#define STUN_BINDING_ERROR 0x0111
#define STUN_ATTR_XOR_MAPPED_ADDRESS 0x0020
/* How often a child is polled for when pidfd_open() is not available. */
#define PROBE_EXEC_POLL_MS 20

/*
 * One (member, check) target. Every field is touched only by the thread
 * running the prober's base (the prober thread, or the test's thread when
 * attached), except the read-only configuration copied in prober_new().
 */
typedef struct probe_run {
	prober_t *p;
	size_t idx;
	unsigned member, check_i;
	const probe_check_t *ck;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	char *host;          /* the target's name, or NULL */
	char *name;          /* the member's name, for logs, or NULL */
	char addr_text[64];  /* the address as text, IPv6 in brackets */
	size_t member_first; /* first run of the same member */
	size_t member_next;  /* next run of the same member, or SIZE_MAX */
	probe_state_t state; /* hysteresis state */
	unsigned health;     /* HAProxy counter: 0..rise-1 down, rise..rise+fall-1 up */
	struct event *sched; /* the next probe */
	struct event *timeout;
	/* In flight (busy): */
	bool busy;
	struct timespec t0;
	struct bufferevent *bev;
	bool head_done;   /* http: status line and headers read */
	size_t body_seen; /* http: body bytes already searched and drained */
	int cert_days;
	int warned_days; /* cert days left last logged (INT_MIN: never) */
	int fd;          /* stun: UDP socket; exec: pidfd or -1 */
	struct event *io;
	pid_t pid;
	uint8_t txid[12];
	char call_id[48];
	bool connected; /* TCP connected and, with TLS, handshake done */
} probe_run_t;

/* A child killed on timeout whose exit status is still to be collected. */
typedef struct probe_reaper {
	struct probe_reaper *next, *prev;
	prober_t *p;
	pid_t pid;
	int fd;
	struct event *ev;
} probe_reaper_t;

struct prober {
	const probe_conf_t *conf;
	probe_run_t *runs;
	size_t n_runs;
	SSL_CTX **ctx; /* per check, for the kinds that use TLS, else NULL */
	probe_result_fn cb;
	void *cb_arg;
	bool report_all;
	struct event_base *base;
	bool attached;
	struct event *stop_ev;
	probe_reaper_t *reapers;
	uint64_t rng;
	/* Delivery to the owner thread: `q` under `qlock`; notify_ev lives on
	 * notify_base and is activated once per burst (when `q` was empty). */
	struct event_base *notify_base;
	struct event *notify_ev;
	pthread_mutex_t qlock;
	probe_result_t *q;
	size_t q_len, q_cap;
	pthread_t thread;
	bool started, joined;
};

static pthread_once_t probe_evthread_once = PTHREAD_ONCE_INIT;
static int probe_evthread_rc;

static void probe_evthread_init(void)
{
	probe_evthread_rc = evthread_use_pthreads();
}

static void probe_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void probe_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* xorshift64*: jitter only needs spreading, not secrecy. */
static uint32_t probe_rand(prober_t *p)
{
	p->rng ^= p->rng >> 12;
	p->rng ^= p->rng << 25;
	p->rng ^= p->rng >> 27;
	return (uint32_t)((p->rng * 0x2545F4914F6CDD1DULL) >> 32);
}

static uint64_t elapsed_us(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)(t.tv_sec - t0->tv_sec) * 1000000u +
	       (uint64_t)((t.tv_nsec - t0->tv_nsec) / 1000);
}

static void ms_to_tv(uint32_t ms, struct timeval *tv)
{
	tv->tv_sec = ms / 1000;
	tv->tv_usec = (ms % 1000) * 1000;
}

/* ------------------------------------------------------------------ */
/* Hysteresis and scheduling                                          */

/* Between states: one failure seen while up, or recovering while down. */
static bool run_between(const probe_run_t *r)
{
	unsigned max = r->ck->rise + r->ck->fall - 1;

	return (r->state == PROBE_UP && r->health < max) ||
	       (r->state == PROBE_DOWN && r->health > 0);
}

uint32_t prober_next_delay_ms(prober_t *p, size_t t)
{
	const probe_run_t *r = &p->runs[t];
	uint32_t base = run_between(r) ? r->ck->fastinter_ms : r->ck->interval_ms;
	uint32_t j = r->ck->jitter_ms;

	/* Jitter never takes more than half of the delay, so that fastinter
	 * stays faster than the interval. */
	if (j > base / 2)
		j = base / 2;
	if (j == 0)
		return base;
	return base - j / 2 + probe_rand(p) % (j + 1);
}

static void run_schedule(probe_run_t *r, uint32_t ms)
{
	struct timeval tv;

	ms_to_tv(ms, &tv);
	evtimer_add(r->sched, &tv);
}

/*
 * The HAProxy counter (src/check.c): `health` in 0..rise+fall-1; a down
 * check needs `rise` consecutive successes (a failure resets it to 0); an up
 * check goes down after failures bring it below `rise`, successes climb back.
 * An unknown check takes the result of its first probe.
 */
static bool run_apply(probe_run_t *r, bool ok)
{
	unsigned rise = r->ck->rise, max = r->ck->rise + r->ck->fall - 1;
	probe_state_t old = r->state;

	if (r->state == PROBE_UNKNOWN) {
		r->state = ok ? PROBE_UP : PROBE_DOWN;
		r->health = ok ? max : 0;
	} else if (ok) {
		if (r->health < max)
			r->health++;
		if (r->state == PROBE_DOWN && r->health >= rise) {
			r->state = PROBE_UP;
			r->health = max;
		}
	} else if (r->state == PROBE_UP && r->health > rise) {
		r->health--;
	} else {
		r->state = PROBE_DOWN;
		r->health = 0;
	}
	return r->state != old;
}

static probe_state_t member_state(const prober_t *p, const probe_run_t *r)
{
	probe_state_t s = PROBE_UP;

	/* A member is up only if every one of its checks is up. */
	for (size_t i = r->member_first; i != SIZE_MAX; i = p->runs[i].member_next) {
		if (p->runs[i].state == PROBE_DOWN)
			return PROBE_DOWN;
		if (p->runs[i].state == PROBE_UNKNOWN)
			s = PROBE_UNKNOWN;
	}
	return s;
}

static void probe_deliver(prober_t *p, const probe_result_t *res)
{
	bool wake;

	if (!p->notify_ev) {
		p->cb(res, p->cb_arg);
		return;
	}
	pthread_mutex_lock(&p->qlock);
	if (p->q_len == p->q_cap) {
		size_t cap = p->q_cap ? 2 * p->q_cap : 64;
		probe_result_t *q = realloc(p->q, cap * sizeof(*q));

		if (!q) {
			pthread_mutex_unlock(&p->qlock);
			log_err("probe: out of memory, result for member %u dropped", res->member);
			return;
		}
		p->q = q;
		p->q_cap = cap;
	}
	wake = p->q_len == 0;
	p->q[p->q_len++] = *res;
	pthread_mutex_unlock(&p->qlock);
	/* Coalescing: only the first result of a burst wakes the owner; the
	 * callback drains everything queued by then. */
	if (wake)
		event_active(p->notify_ev, EV_READ, 0);
}

/* Owner thread: drain the queue and call back outside the lock. */
static void probe_on_notify(evutil_socket_t fd, short what, void *arg)
{
	prober_t *p = arg;
	probe_result_t *q;
	size_t n;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&p->qlock);
	q = p->q;
	n = p->q_len;
	p->q = NULL;
	p->q_len = p->q_cap = 0;
	pthread_mutex_unlock(&p->qlock);
	for (size_t i = 0; i < n; i++)
		p->cb(&q[i], p->cb_arg);
	free(q);
}

/* Release what a probe in flight holds (sockets, events), not its child. */
static void run_release(probe_run_t *r)
{
	if (r->bev) {
		bufferevent_free(r->bev); /* frees the SSL too (BEV_OPT_CLOSE_ON_FREE) */
		r->bev = NULL;
	}
	if (r->io) {
		event_free(r->io);
		r->io = NULL;
	}
	if (r->fd >= 0) {
		close(r->fd);
		r->fd = -1;
	}
	if (r->timeout)
		evtimer_del(r->timeout);
	r->busy = false;
}

static void reaper_free(probe_reaper_t *k)
{
	prober_t *p = k->p;

	if (k->prev)
		k->prev->next = k->next;
	else
		p->reapers = k->next;
	if (k->next)
		k->next->prev = k->prev;
	if (k->ev)
		event_free(k->ev);
	if (k->fd >= 0)
		close(k->fd);
	free(k);
}

static void reaper_on_event(evutil_socket_t fd, short what, void *arg)
{
	probe_reaper_t *k = arg;

	(void)fd;
	(void)what;
	if (waitpid(k->pid, NULL, WNOHANG) != 0)
		reaper_free(k);
}

/* Kill a child that overran its timeout; it is reaped later, off the probe. */
static void run_kill_child(probe_run_t *r)
{
	prober_t *p = r->p;
	probe_reaper_t *k;
	struct timeval tv;

	if (r->pid <= 0)
		return;
	kill(r->pid, SIGKILL);
	k = calloc(1, sizeof(*k));
	if (k) {
		k->p = p;
		k->pid = r->pid;
		k->fd = r->fd;
		ms_to_tv(PROBE_EXEC_POLL_MS, &tv);
		k->ev = event_new(p->base, k->fd, k->fd >= 0 ? EV_READ | EV_PERSIST : EV_PERSIST,
				  reaper_on_event, k);
	}
	if (!k || !k->ev || event_add(k->ev, k->fd >= 0 ? NULL : &tv) < 0) {
		/* No memory: SIGKILL cannot be ignored, so waiting is short. */
		waitpid(r->pid, NULL, 0);
		if (k) {
			if (k->ev)
				event_free(k->ev);
			free(k);
		}
		r->pid = 0;
		return;
	}
	k->next = p->reapers;
	if (p->reapers)
		p->reapers->prev = k;
	p->reapers = k;
	r->fd = -1; /* the pidfd now belongs to the reaper */
	r->pid = 0;
}

static void run_finish(probe_run_t *r, bool ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void run_finish(probe_run_t *r, bool ok, const char *fmt, ...)
{
	prober_t *p = r->p;
	probe_result_t res = {0};
	va_list ap;

	if (!r->busy)
		return;
	run_kill_child(r);
	run_release(r);
	res.target = r->idx;
	res.member = r->member;
	res.check = r->check_i;
	res.ok = ok;
	res.latency_us = elapsed_us(&r->t0);
	res.cert_days_left = r->cert_days;
	va_start(ap, fmt);
	vsnprintf(res.reason, sizeof(res.reason), fmt, ap);
	va_end(ap);
	bool first = r->state == PROBE_UNKNOWN;
	res.changed = run_apply(r, ok);
	res.state = r->state;
	res.member_state = member_state(p, r);
	/* (the owner logs state changes, with the member's name) */
	if (res.changed || p->report_all)
		probe_deliver(p, &res);
	/* The next probe counts from the end of this one: probes of one
	 * target never overlap, whatever the timeout. After the first probe
	 * (all of them went out within the first second), the second one goes
	 * to a random point of the interval, so that targets do not stay
	 * bunched together. */
	if (p->started)
		run_schedule(r, first ? probe_rand(p) % r->ck->interval_ms
				      : prober_next_delay_ms(p, r->idx));
}

void prober_feed_for_test(prober_t *p, size_t t, bool ok, const char *reason)
{
	probe_run_t *r = &p->runs[t];

	if (r->busy)
		run_release(r);
	r->busy = true;
	clock_gettime(CLOCK_MONOTONIC, &r->t0);
	run_finish(r, ok, "%s", reason);
}

/* ------------------------------------------------------------------ */
/* Reasons                                                            */

static void errno_reason(probe_run_t *r, int err, const char *what)
{
	switch (err) {
	case ECONNREFUSED:
		run_finish(r, false, "connect refused");
		break;
	case ETIMEDOUT:
		run_finish(r, false, "timeout");
		break;
	case ENETUNREACH:
	case EHOSTUNREACH:
		run_finish(r, false, "unreachable");
		break;
	case ECONNRESET:
	case EPIPE:
		run_finish(r, false, "connection reset");
		break;
	default:
		run_finish(r, false, "%s: %s", what, err ? strerror(err) : "connection closed");
	}
}

/* A TLS failure: certificate verification first, then OpenSSL's reason. */
static void tls_reason(probe_run_t *r, struct bufferevent *bev, int sock_err)
{
	/* the socket's own error, before anything else can change errno */
	int se = sock_err ? sock_err : errno;
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	unsigned long e = bufferevent_get_openssl_error(bev);
	long v = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;

	if (v == X509_V_ERR_CERT_HAS_EXPIRED) {
		run_finish(r, false, "certificate expired");
	} else if (v != X509_V_OK) {
		run_finish(r, false, "certificate verify failed: %s",
			   X509_verify_cert_error_string(v));
	} else if (se == ECONNREFUSED || se == ETIMEDOUT || se == ENETUNREACH ||
		   se == EHOSTUNREACH) {
		/* The connection was never made: say how, not OpenSSL's echo of
		 * it (libevent reports the failed syscall as SSL_ERROR_SYSCALL). */
		errno_reason(r, se, "TLS");
	} else if (e == SSL_ERROR_SYSCALL || (e && ERR_GET_LIB(e) == ERR_LIB_SYS)) {
		/* connected, then the peer reset or closed during the handshake */
		run_finish(r, false, "TLS handshake failed: %s",
			   se ? strerror(se) : "connection closed");
	} else if (e) {
		const char *s = ERR_reason_error_string(e);

		run_finish(r, false, "TLS handshake failed: %s", s ? s : "unknown error");
	} else {
		errno_reason(r, sock_err, "TLS");
	}
	ERR_clear_error();
}

/* ------------------------------------------------------------------ */
/* tcp, tls, http(s), sip: one bufferevent                            */

static bool kind_uses_tls(const probe_check_t *c)
{
	return c->kind == PROBE_TLS || c->kind == PROBE_HTTPS ||
	       (c->kind == PROBE_SIP && c->sip_tls);
}

/* Days until the peer certificate's notAfter; false if there is none. */
static bool cert_days_left(SSL *ssl, int *days)
{
	X509 *x = SSL_get1_peer_certificate(ssl);
	int d = 0, s = 0;
	bool ok = false;

	if (!x)
		return false;
	if (ASN1_TIME_diff(&d, &s, NULL, X509_get0_notAfter(x))) {
		*days = d == 0 && s < 0 ? -1 : d;
		ok = true;
	}
	X509_free(x);
	return ok;
}

static void http_send(probe_run_t *r)
{
	const probe_check_t *c = r->ck;
	const char *host = c->host ? c->host : r->host ? r->host : r->addr_text;
	char port[16] = "";

	if ((c->kind == PROBE_HTTP && c->port != 80) || (c->kind == PROBE_HTTPS && c->port != 443))
		snprintf(port, sizeof(port), ":%u", c->port);
	evbuffer_add_printf(bufferevent_get_output(r->bev),
			    "%s %s HTTP/1.1\r\nHost: %s%s\r\nUser-Agent: waymark-probe\r\n"
			    "Accept: */*\r\nConnection: close\r\n%s\r\n",
			    c->method, c->path, host, c->host ? "" : port,
			    strcmp(c->method, "POST") == 0 ? "Content-Length: 0\r\n" : "");
}

static void hex_rand(char *out, size_t bytes)
{
	uint8_t b[16];

	if (bytes > sizeof(b))
		bytes = sizeof(b);
	if (RAND_bytes(b, (int)bytes) != 1)
		for (size_t i = 0; i < bytes; i++)
			b[i] = (uint8_t)rand();
	for (size_t i = 0; i < bytes; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

/* RFC 3261 §8.1.1 and §11: an OPTIONS request with the mandatory headers. */
static void sip_send(probe_run_t *r)
{
	const probe_check_t *c = r->ck;
	const char *host = r->host ? r->host : r->addr_text;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char local[INET6_ADDRSTRLEN + 2] = "0.0.0.0", branch[33], tag[17];
	uint16_t lport = 0;
	const char *tr = c->sip_tls ? "TLS" : "TCP";

	if (getsockname(bufferevent_getfd(r->bev), (struct sockaddr *)&ss, &sl) == 0) {
		char a[INET6_ADDRSTRLEN];

		if (ss.ss_family == AF_INET6) {
			const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;

			inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
			snprintf(local, sizeof(local), "[%s]", a);
			lport = ntohs(s6->sin6_port);
		} else {
			const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;

			inet_ntop(AF_INET, &s4->sin_addr, local, sizeof(local));
			lport = ntohs(s4->sin_port);
		}
	}
	hex_rand(branch, 16);
	hex_rand(tag, 8);
	hex_rand(r->call_id, 16);
	strcat(r->call_id, "@waymark");
	/* The magic cookie z9hG4bK marks an RFC 3261 branch (§8.1.1.7). */
	evbuffer_add_printf(bufferevent_get_output(r->bev),
			    "OPTIONS sip:%s:%u;transport=%s SIP/2.0\r\n"
			    "Via: SIP/2.0/%s %s:%u;branch=z9hG4bK%s;rport\r\n"
			    "Max-Forwards: 70\r\n"
			    "From: <sip:waymark-probe@%s>;tag=%s\r\n"
			    "To: <sip:%s:%u>\r\n"
			    "Call-ID: %s\r\n"
			    "CSeq: 1 OPTIONS\r\n"
			    "Accept: application/sdp\r\n"
			    "User-Agent: waymark-probe\r\n"
			    "Content-Length: 0\r\n\r\n",
			    host, c->port, c->sip_tls ? "tls" : "tcp", tr, local, lport, branch,
			    local, tag, host, c->port, r->call_id);
}

/* Find the end of a header block (CRLF CRLF); -1 if not there yet. */
static ssize_t head_end(struct evbuffer *in)
{
	struct evbuffer_ptr e = evbuffer_search(in, "\r\n\r\n", 4, NULL);

	return e.pos < 0 ? -1 : (ssize_t)e.pos + 4;
}

/* Does the buffer start like `prefix`? -1 no, 0 not enough data, 1 yes. */
static int starts_with(struct evbuffer *in, const char *prefix)
{
	size_t n = strlen(prefix), have = evbuffer_get_length(in);
	char buf[16];

	if (have > n)
		have = n;
	evbuffer_copyout(in, buf, have);
	if (memcmp(buf, prefix, have) != 0)
		return -1;
	return have == n ? 1 : 0;
}

static void http_read(probe_run_t *r, struct evbuffer *in)
{
	const probe_check_t *c = r->ck;

	if (!r->head_done) {
		ssize_t end;
		char *h;
		unsigned status;

		if (starts_with(in, "HTTP/1.") < 0) {
			run_finish(r, false, "bad HTTP response");
			return;
		}
		end = head_end(in);
		if (end < 0) {
			if (evbuffer_get_length(in) > PROBE_READ_MAX)
				run_finish(r, false, "bad HTTP response: header too long");
			return;
		}
		h = (char *)evbuffer_pullup(in, end);
		/* RFC 9112 §4: HTTP/1.x SP 3DIGIT SP reason */
		if (end < 13 || h[7] < '0' || h[7] > '9' || h[8] != ' ' || h[9] < '1' ||
		    h[9] > '5' || h[10] < '0' || h[10] > '9' || h[11] < '0' || h[11] > '9' ||
		    (h[12] != ' ' && h[12] != '\r')) {
			run_finish(r, false, "bad HTTP response");
			return;
		}
		status = (unsigned)(h[9] - '0') * 100 + (unsigned)(h[10] - '0') * 10 +
			 (unsigned)(h[11] - '0');
		for (unsigned i = 0; i < c->n_status; i++)
			if (c->status[i] == status)
				goto status_ok;
		run_finish(r, false, "HTTP %u", status);
		return;
	status_ok:
		if (!c->body) {
			run_finish(r, true, "HTTP %u", status);
			return;
		}
		evbuffer_drain(in, end);
		r->head_done = true;
	}
	/* Body: search what arrived, keep the last strlen(body)-1 bytes in
	 * case the substring straddles two reads, count the rest as read. The
	 * raw bytes are searched: a chunked body could split the substring
	 * with a chunk header (see the test data: keep bodies short). */
	{
		size_t blen = strlen(c->body), have = evbuffer_get_length(in);
		struct evbuffer_ptr f = evbuffer_search(in, c->body, blen, NULL);

		if (f.pos >= 0 && r->body_seen + (size_t)f.pos + blen <= PROBE_READ_MAX) {
			run_finish(r, true, "body matched");
			return;
		}
		if (have >= blen) {
			size_t drop = have - (blen - 1);

			evbuffer_drain(in, drop);
			r->body_seen += drop;
		}
		if (r->body_seen + evbuffer_get_length(in) >= PROBE_READ_MAX)
			run_finish(r, false, "body mismatch (read limit)");
	}
}

static bool header_is(const char *line, size_t len, const char *name, const char **val,
		      size_t *vlen)
{
	size_t n = strlen(name);

	if (len <= n || strncasecmp(line, name, n) != 0)
		return false;
	line += n;
	len -= n;
	while (len && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	if (!len || *line != ':')
		return false;
	line++;
	len--;
	while (len && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	while (len && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	*val = line;
	*vlen = len;
	return true;
}

/* RFC 3261 §7.2 / §25: "SIP/2.0 NNN reason" then headers; Call-ID (compact i)
 * must be ours. Any status, provisional included, proves the server alive. */
static void sip_read(probe_run_t *r, struct evbuffer *in)
{
	ssize_t end;
	char *h, *line, *eol;
	unsigned status = 0;
	bool callid_seen = false;

	if (starts_with(in, "SIP/2.0 ") < 0) {
		run_finish(r, false, "bad SIP response");
		return;
	}
	end = head_end(in);
	if (end < 0) {
		if (evbuffer_get_length(in) > PROBE_READ_MAX)
			run_finish(r, false, "bad SIP response: header too long");
		return;
	}
	h = (char *)evbuffer_pullup(in, end);
	if (end < 13 || h[8] < '1' || h[8] > '6' || h[9] < '0' || h[9] > '9' || h[10] < '0' ||
	    h[10] > '9' || h[11] != ' ') {
		run_finish(r, false, "bad SIP response: status line");
		return;
	}
	status =
	    (unsigned)(h[8] - '0') * 100 + (unsigned)(h[9] - '0') * 10 + (unsigned)(h[10] - '0');
	for (line = h; line < h + end - 4; line = eol + 2) {
		const char *v;
		size_t vlen;

		eol = memchr(line, '\r', (size_t)(h + end - line));
		if (!eol || eol[1] != '\n')
			break;
		if (header_is(line, (size_t)(eol - line), "Call-ID", &v, &vlen) ||
		    header_is(line, (size_t)(eol - line), "i", &v, &vlen)) {
			callid_seen = true;
			if (vlen == strlen(r->call_id) && memcmp(v, r->call_id, vlen) == 0) {
				run_finish(r, true, "SIP %u", status);
				return;
			}
		}
	}
	run_finish(r, false, "bad SIP response: %s",
		   callid_seen ? "Call-ID mismatch" : "no Call-ID");
}

static void bev_on_read(struct bufferevent *bev, void *arg)
{
	probe_run_t *r = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	if (r->ck->kind == PROBE_SIP)
		sip_read(r, in);
	else if (r->ck->kind == PROBE_HTTP || r->ck->kind == PROBE_HTTPS)
		http_read(r, in);
	else
		evbuffer_drain(in, evbuffer_get_length(in));
}

static void bev_on_event(struct bufferevent *bev, short what, void *arg)
{
	probe_run_t *r = arg;
	const probe_check_t *c = r->ck;
	int sock_err = EVUTIL_SOCKET_ERROR();

	/* errno is not the socket's error by the time the event arrives
	 * (OpenSSL made calls of its own): ask the socket for a failed connect. */
	if (!r->connected && (what & BEV_EVENT_ERROR)) {
		int so = 0;
		socklen_t sl = sizeof(so);
		if (getsockopt(bufferevent_getfd(bev), SOL_SOCKET, SO_ERROR, &so, &sl) == 0 && so)
			sock_err = so;
	}

	if (what & BEV_EVENT_CONNECTED) {
		r->connected = true;
		if (kind_uses_tls(c)) {
			SSL *ssl = bufferevent_openssl_get_ssl(bev);
			int days;

			if (cert_days_left(ssl, &days)) {
				r->cert_days = days;
				if (days < 0 && c->down_when_expired) {
					run_finish(r, false, "certificate expired");
					return;
				}
				/* Once per day of validity left, not at every probe. */
				if (days == r->warned_days)
					;
				else if (days < 0)
					log_warn("certificate expired member=%s check=%s",
						 r->name ? r->name : "?", c->name);
				else if (c->cert_warn_days && (unsigned)days < c->cert_warn_days)
					log_warn("certificate expires soon member=%s check=%s "
						 "days=%d",
						 r->name ? r->name : "?", c->name, days);
				if (days < 0 ||
				    (c->cert_warn_days && (unsigned)days < c->cert_warn_days))
					r->warned_days = days;
			}
		}
		switch (c->kind) {
		case PROBE_TCP:
			run_finish(r, true, "connected");
			return;
		case PROBE_TLS:
			run_finish(r, true, "TLS handshake done");
			return;
		case PROBE_SIP:
			sip_send(r);
			break;
		default:
			http_send(r);
		}
		bufferevent_enable(bev, EV_READ);
		return;
	}
	if (!r->connected && kind_uses_tls(c) && (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF))) {
		tls_reason(r, bev, (what & BEV_EVENT_ERROR) ? sock_err : 0);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		errno_reason(r, sock_err, r->connected ? "read" : "connect");
		return;
	}
	if (what & BEV_EVENT_EOF) {
		/* Data may have come with the close. */
		bev_on_read(bev, r);
		if (!r->busy)
			return;
		if (c->kind == PROBE_SIP)
			run_finish(r, false, "bad SIP response: connection closed");
		else if (r->head_done)
			run_finish(r, false, "body mismatch");
		else
			run_finish(r, false, "bad HTTP response: connection closed");
	}
}

static int start_stream(probe_run_t *r)
{
	prober_t *p = r->p;
	const probe_check_t *c = r->ck;
	const int opt = BEV_OPT_CLOSE_ON_FREE;

	if (kind_uses_tls(c)) {
		SSL *ssl = SSL_new(p->ctx[r->check_i]);
		const char *sni = c->sni ? c->sni : r->host;

		if (!ssl)
			return -1;
		if (sni && SSL_set_tlsext_host_name(ssl, sni) != 1) {
			SSL_free(ssl);
			return -1;
		}
		/* With a CA file, the name must match too (SNI, else the host). */
		if (c->verify_ca && sni && SSL_set1_host(ssl, sni) != 1) {
			SSL_free(ssl);
			return -1;
		}
		r->bev = bufferevent_openssl_socket_new(p->base, -1, ssl,
							BUFFEREVENT_SSL_CONNECTING, opt);
		if (!r->bev) {
			SSL_free(ssl);
			return -1;
		}
		/* A peer that closes without close_notify after answering is
		 * common for HTTP/1.1 with Connection: close. */
		bufferevent_openssl_set_allow_dirty_shutdown(r->bev, 1);
	} else {
		r->bev = bufferevent_socket_new(p->base, -1, opt);
		if (!r->bev)
			return -1;
	}
	bufferevent_setcb(r->bev, bev_on_read, NULL, bev_on_event, r);
	bufferevent_enable(r->bev, EV_READ);
	if (bufferevent_socket_connect(r->bev, (struct sockaddr *)&r->addr, (int)r->addr_len) < 0) {
		errno_reason(r, EVUTIL_SOCKET_ERROR(), "connect");
		return 0;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* stun (RFC 5389)                                                     */

static uint16_t get16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

static uint32_t get32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Validate a Binding response (§6, §7.3.3, §15.2). Returns NULL when it is a
 * good success response with our transaction ID and a valid
 * XOR-MAPPED-ADDRESS, else why not. */
static const char *stun_check(const probe_run_t *r, const uint8_t *b, size_t n)
{
	size_t len, off;
	bool xma = false;

	if (n < 20 || (b[0] & 0xC0) != 0 || get32(b + 4) != STUN_COOKIE)
		return "bad STUN response";
	len = get16(b + 2);
	if (len % 4 != 0 || len + 20 != n)
		return "bad STUN response: length";
	if (memcmp(b + 8, r->txid, 12) != 0)
		return "bad STUN response: transaction ID mismatch";
	if (get16(b) == STUN_BINDING_ERROR)
		return "STUN error response";
	if (get16(b) != STUN_BINDING_SUCCESS)
		return "bad STUN response: not a Binding success";
	for (off = 20; off + 4 <= n;) {
		uint16_t type = get16(b + off), alen = get16(b + off + 2);
		const uint8_t *v = b + off + 4;

		if (off + 4 + alen > n)
			return "bad STUN response: attribute length";
		if (type == STUN_ATTR_XOR_MAPPED_ADDRESS) {
			/* family 1: 4-byte address, 2: 16 bytes (§15.2). */
			if (!((alen == 8 && v[1] == 0x01) || (alen == 20 && v[1] == 0x02)))
				return "bad STUN response: XOR-MAPPED-ADDRESS";
			xma = true;
		}
		off += 4 + (((size_t)alen + 3) & ~(size_t)3);
	}
	if (off != n)
		return "bad STUN response: attribute length";
	return xma ? NULL : "bad STUN response: no XOR-MAPPED-ADDRESS";
}

static void stun_on_read(evutil_socket_t fd, short what, void *arg)
{
	probe_run_t *r = arg;
	uint8_t b[1500];
	ssize_t n;
	const char *why;

	(void)what;
	n = recv(fd, b, sizeof(b), 0);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		/* ICMP port unreachable comes back as ECONNREFUSED on a
		 * connected UDP socket. */
		errno_reason(r, errno, "stun");
		return;
	}
	why = stun_check(r, b, (size_t)n);
	if (why)
		run_finish(r, false, "%s", why);
	else
		run_finish(r, true, "STUN binding success");
}

static int start_stun(probe_run_t *r)
{
	uint8_t req[20];

	r->fd = socket(r->addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (r->fd < 0)
		return -1;
	if (RAND_bytes(r->txid, sizeof(r->txid)) != 1)
		return -1;
	req[0] = STUN_BINDING_REQUEST >> 8;
	req[1] = STUN_BINDING_REQUEST & 0xff;
	req[2] = req[3] = 0;
	req[4] = 0x21, req[5] = 0x12, req[6] = 0xA4, req[7] = 0x42;
	memcpy(req + 8, r->txid, 12);
	r->io = event_new(r->p->base, r->fd, EV_READ | EV_PERSIST, stun_on_read, r);
	if (!r->io || event_add(r->io, NULL) < 0)
		return -1;
	if (connect(r->fd, (struct sockaddr *)&r->addr, r->addr_len) < 0 ||
	    send(r->fd, req, sizeof(req), 0) < 0)
		errno_reason(r, errno, "stun");
	return 0;
}

/* ------------------------------------------------------------------ */
/* exec                                                               */

/*
 * Reaping without SIGCHLD: a process-wide SIGCHLD handler or waitpid(-1)
 * would steal the children of other threads (and the daemon's own), and
 * signal delivery picks an arbitrary thread. Instead each child gets a pidfd
 * (Linux >= 5.3), readable when it exits, watched on the prober's base; then
 * waitpid(pid) collects exactly that child. Without pidfd_open, a short timer
 * polls waitpid(pid, WNOHANG). Either way only our own pids are waited for.
 */
static int pidfd_open_compat(pid_t pid)
{
#ifdef SYS_pidfd_open
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	if (fd >= 0)
		(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
#else
	(void)pid;
	errno = ENOSYS;
	return -1;
#endif
}

static void exec_on_event(evutil_socket_t fd, short what, void *arg)
{
	probe_run_t *r = arg;
	int st;
	pid_t w;

	(void)fd;
	(void)what;
	w = waitpid(r->pid, &st, WNOHANG);
	if (w == 0)
		return;
	r->pid = 0;
	if (w < 0)
		run_finish(r, false, "exec: waitpid: %s", strerror(errno));
	else if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		run_finish(r, true, "exit 0");
	else if (WIFEXITED(st))
		run_finish(r, false, "exit %d", WEXITSTATUS(st));
	else
		run_finish(r, false, "killed by signal %d", WTERMSIG(st));
}

static int start_exec(probe_run_t *r)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, dfl;
	struct timeval tv;
	int rc;

	if (posix_spawn_file_actions_init(&fa) != 0)
		return -1;
	if (posix_spawnattr_init(&at) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return -1;
	}
	/* Output is discarded; the child starts with no signal blocked and
	 * default dispositions, whatever the prober thread has. */
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	sigemptyset(&none);
	sigfillset(&dfl);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &dfl);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawn(&r->pid, r->ck->argv[0], &fa, &at, r->ck->argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (rc != 0) {
		r->pid = 0;
		run_finish(r, false, "exec: %s", strerror(rc));
		return 0;
	}
	r->fd = pidfd_open_compat(r->pid);
	ms_to_tv(PROBE_EXEC_POLL_MS, &tv);
	r->io = event_new(r->p->base, r->fd, r->fd >= 0 ? EV_READ | EV_PERSIST : EV_PERSIST,
			  exec_on_event, r);
	if (!r->io || event_add(r->io, r->fd >= 0 ? NULL : &tv) < 0)
		return -1;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Probe start / timeout                                              */

static void run_on_timeout(evutil_socket_t fd, short what, void *arg)
{
	probe_run_t *r = arg;

	(void)fd;
	(void)what;
	run_finish(r, false, "timeout");
}

static void run_start(probe_run_t *r)
{
	struct timeval tv;
	int rc;

	if (r->busy)
		return;
	r->busy = true;
	r->head_done = false;
	r->body_seen = 0;
	r->cert_days = 0;
	r->connected = false;
	/* libevent counts timers from its cached time, which may be older than
	 * now after a long callback: refresh it so the timeout is not early. */
	event_base_update_cache_time(r->p->base);
	clock_gettime(CLOCK_MONOTONIC, &r->t0);
	ms_to_tv(r->ck->timeout_ms, &tv);
	evtimer_add(r->timeout, &tv);
	switch (r->ck->kind) {
	case PROBE_STUN:
		rc = start_stun(r);
		break;
	case PROBE_EXEC:
		rc = start_exec(r);
		break;
	default:
		rc = start_stream(r);
	}
	if (rc < 0)
		run_finish(r, false, "cannot start probe: %s", strerror(errno ? errno : ENOMEM));
}

static void run_on_sched(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	run_start(arg);
}

int prober_probe_now(prober_t *p, size_t t)
{
	if (t >= p->n_runs || !p->attached)
		return -1;
	evtimer_del(p->runs[t].sched);
	run_start(&p->runs[t]);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Lifecycle                                                          */

static void probe_on_stop(evutil_socket_t fd, short what, void *arg);

static const probe_run_t *sort_runs;

static int cmp_member(const void *a, const void *b)
{
	const probe_run_t *x = &sort_runs[*(const size_t *)a], *y = &sort_runs[*(const size_t *)b];

	if (x->member != y->member)
		return x->member < y->member ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Chain the runs of each member (first / next) in O(n log n): with 10,000
 * members a pairwise scan would be too slow at every reload. */
static int link_members(prober_t *p)
{
	static pthread_mutex_t sort_lock = PTHREAD_MUTEX_INITIALIZER;
	size_t *ix = calloc(p->n_runs ? p->n_runs : 1, sizeof(*ix));

	if (!ix)
		return -1;
	for (size_t i = 0; i < p->n_runs; i++)
		ix[i] = i;
	/* qsort has no context argument; the lock makes the static safe. */
	pthread_mutex_lock(&sort_lock);
	sort_runs = p->runs;
	qsort(ix, p->n_runs, sizeof(*ix), cmp_member);
	pthread_mutex_unlock(&sort_lock);
	for (size_t k = 0; k < p->n_runs; k++) {
		probe_run_t *r = &p->runs[ix[k]];
		bool same = k > 0 && p->runs[ix[k - 1]].member == r->member;

		r->member_first = same ? p->runs[ix[k - 1]].member_first : ix[k];
		r->member_next = k + 1 < p->n_runs && p->runs[ix[k + 1]].member == r->member
				     ? ix[k + 1]
				     : SIZE_MAX;
	}
	free(ix);
	return 0;
}

static SSL_CTX *ctx_new(const probe_check_t *c, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!ctx)
		goto fail;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (c->verify_ca) {
		if (SSL_CTX_load_verify_locations(ctx, c->verify_ca, NULL) != 1) {
			probe_err(err, errlen, "check %s: cannot load CA file %s", c->name,
				  c->verify_ca);
			SSL_CTX_free(ctx);
			return NULL;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	} else {
		/* Liveness only: the handshake must complete, whoever signed. */
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	}
	return ctx;
fail:
	probe_err(err, errlen, "check %s: SSL_CTX_new failed", c->name);
	return NULL;
}

prober_t *prober_new(const probe_conf_t *conf, const probe_target_t *targets, size_t n,
		     probe_result_fn cb, void *cb_arg, char *err, size_t errlen)
{
	prober_t *p = NULL;
	uint64_t seed = 0;

	pthread_once(&probe_evthread_once, probe_evthread_init);
	if (probe_evthread_rc < 0) {
		probe_err(err, errlen, "probe: evthread_use_pthreads failed");
		return NULL;
	}
	if (!conf || !cb) {
		probe_err(err, errlen, "probe: no configuration or no callback");
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		goto nomem;
	pthread_mutex_init(&p->qlock, NULL);
	p->conf = conf;
	p->cb = cb;
	p->cb_arg = cb_arg;
	if (RAND_bytes((unsigned char *)&seed, sizeof(seed)) != 1 || seed == 0)
		seed = (uint64_t)time(NULL) | 1;
	p->rng = seed;
	p->base = event_base_new();
	p->runs = calloc(n ? n : 1, sizeof(*p->runs));
	p->ctx = calloc(conf->n_checks ? conf->n_checks : 1, sizeof(*p->ctx));
	if (!p->base || !p->runs || !p->ctx)
		goto nomem;
	p->stop_ev = event_new(p->base, -1, 0, probe_on_stop, p->base);
	if (!p->stop_ev)
		goto nomem;
	for (size_t c = 0; c < conf->n_checks; c++)
		if (kind_uses_tls(&conf->checks[c]) &&
		    !(p->ctx[c] = ctx_new(&conf->checks[c], err, errlen)))
			goto fail;
	p->n_runs = n;
	for (size_t i = 0; i < n; i++)
		p->runs[i].fd = -1;
	for (size_t i = 0; i < n; i++) {
		const probe_target_t *t = &targets[i];
		probe_run_t *r = &p->runs[i];

		if (t->check >= conf->n_checks) {
			probe_err(err, errlen, "probe: target %zu: no check %u", i, t->check);
			goto fail;
		}
		r->p = p;
		r->idx = i;
		r->member = t->member;
		r->check_i = t->check;
		r->ck = &conf->checks[t->check];
		r->member_next = SIZE_MAX;
		r->warned_days = INT_MIN;
		r->state = r->ck->initial == PROBE_INITIAL_UP     ? PROBE_UP
			   : r->ck->initial == PROBE_INITIAL_DOWN ? PROBE_DOWN
								  : PROBE_UNKNOWN;
		if (t->has_start && (t->start == PROBE_UP || t->start == PROBE_DOWN))
			r->state = (probe_state_t)t->start;
		if (t->name && !(r->name = strdup(t->name)))
			goto nomem;
		r->health = r->state == PROBE_UP ? r->ck->rise + r->ck->fall - 1 : 0;
		if (r->ck->kind != PROBE_EXEC) {
			char a[INET6_ADDRSTRLEN];

			if (!t->addr || (t->addr->sa_family == AF_INET &&
					 t->addr_len < sizeof(struct sockaddr_in))) {
				probe_err(err, errlen, "probe: target %zu: no address", i);
				goto fail;
			}
			if (t->addr->sa_family == AF_INET) {
				struct sockaddr_in *s4 = (struct sockaddr_in *)&r->addr;

				memcpy(s4, t->addr, sizeof(*s4));
				s4->sin_port = htons(r->ck->port);
				r->addr_len = sizeof(*s4);
				inet_ntop(AF_INET, &s4->sin_addr, r->addr_text,
					  sizeof(r->addr_text));
			} else if (t->addr->sa_family == AF_INET6 &&
				   t->addr_len >= sizeof(struct sockaddr_in6)) {
				struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&r->addr;

				memcpy(s6, t->addr, sizeof(*s6));
				s6->sin6_port = htons(r->ck->port);
				r->addr_len = sizeof(*s6);
				inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
				snprintf(r->addr_text, sizeof(r->addr_text), "[%s]", a);
			} else {
				probe_err(err, errlen, "probe: target %zu: not IPv4 or IPv6", i);
				goto fail;
			}
		}
		if (t->host && !(r->host = strdup(t->host)))
			goto nomem;
		r->sched = evtimer_new(p->base, run_on_sched, r);
		r->timeout = evtimer_new(p->base, run_on_timeout, r);
		if (!r->sched || !r->timeout)
			goto nomem;
	}
	if (link_members(p) < 0)
		goto nomem;
	return p;
nomem:
	probe_err(err, errlen, "probe: out of memory");
fail:
	prober_free(p);
	return NULL;
}

void prober_report_all(prober_t *p, bool all)
{
	p->report_all = all;
}

int prober_set_notify(prober_t *p, struct event_base *main_base)
{
	if (p->started || p->attached || p->notify_ev)
		return -1;
	p->notify_ev = event_new(main_base, -1, 0, probe_on_notify, p);
	if (!p->notify_ev)
		return -1;
	p->notify_base = main_base;
	return 0;
}

static void schedule_all(prober_t *p)
{
	for (size_t i = 0; i < p->n_runs; i++) {
		probe_run_t *r = &p->runs[i];

		/* Start at once: a new member is unproven until its first
		 * probe, and the daemon waits for the first round before it
		 * answers. Spread over at most a second, not a burst. */
		uint32_t spread = r->ck->interval_ms < 1000 ? r->ck->interval_ms : 1000;
		run_schedule(r, probe_rand(p) % spread);
	}
}

static void probe_on_stop(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

static void *prober_main(void *arg)
{
	prober_t *p = arg;

	(void)pthread_setname_np(pthread_self(), "waymark-probe");
	if (event_base_dispatch(p->base) < 0)
		log_err("probe: event loop failed");
	return NULL;
}

int prober_start(prober_t *p, char *err, size_t errlen)
{
	sigset_t block, old;
	int rc;

	if (p->started || p->attached) {
		probe_err(err, errlen, "probe: already started");
		return -1;
	}
	p->started = true;
	schedule_all(p);
	/* The thread takes no process signal (SIGPIPE from a peer that
	 * closed becomes EPIPE); children get a clean mask in start_exec. */
	sigfillset(&block);
	sigdelset(&block, SIGSEGV);
	sigdelset(&block, SIGBUS);
	sigdelset(&block, SIGFPE);
	sigdelset(&block, SIGILL);
	sigdelset(&block, SIGABRT);
	pthread_sigmask(SIG_SETMASK, &block, &old);
	rc = pthread_create(&p->thread, NULL, prober_main, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		probe_err(err, errlen, "probe: starting the thread: %s", strerror(rc));
		p->started = false;
		return -1;
	}
	return 0;
}

int prober_attach(prober_t *p, struct event_base *base, bool schedule)
{
	if (p->started || p->attached || p->notify_ev)
		return -1;
	/* Rebuild the per-run events on the caller's base. */
	for (size_t i = 0; i < p->n_runs; i++) {
		probe_run_t *r = &p->runs[i];

		event_free(r->sched);
		event_free(r->timeout);
		r->sched = evtimer_new(base, run_on_sched, r);
		r->timeout = evtimer_new(base, run_on_timeout, r);
		if (!r->sched || !r->timeout)
			return -1;
	}
	event_free(p->stop_ev);
	p->stop_ev = NULL;
	event_base_free(p->base);
	p->base = base;
	p->attached = true;
	if (schedule) {
		p->started = true;
		schedule_all(p);
	}
	return 0;
}

void prober_stop(prober_t *p)
{
	if (!p || p->joined)
		return;
	p->joined = true;
	if (p->started && !p->attached) {
		event_active(p->stop_ev, EV_READ, 0);
		pthread_join(p->thread, NULL);
	}
	/* The thread is gone: its state is ours now. */
	for (size_t i = 0; i < p->n_runs; i++) {
		probe_run_t *r = &p->runs[i];

		if (r->pid > 0) {
			kill(r->pid, SIGKILL);
			waitpid(r->pid, NULL, 0);
			r->pid = 0;
		}
		run_release(r);
		if (r->sched)
			evtimer_del(r->sched);
	}
	while (p->reapers) {
		waitpid(p->reapers->pid, NULL, 0);
		reaper_free(p->reapers);
	}
}

void prober_free(prober_t *p)
{
	if (!p)
		return;
	if (p->runs)
		prober_stop(p);
	for (size_t i = 0; p->runs && i < p->n_runs; i++) {
		probe_run_t *r = &p->runs[i];

		if (r->sched)
			event_free(r->sched);
		if (r->timeout)
			event_free(r->timeout);
		free(r->host);
		free(r->name);
	}
	free(p->runs);
	for (size_t c = 0; p->ctx && c < p->conf->n_checks; c++)
		SSL_CTX_free(p->ctx[c]);
	free(p->ctx);
	if (p->notify_ev)
		event_free(p->notify_ev);
	if (p->stop_ev)
		event_free(p->stop_ev);
	if (p->base && !p->attached)
		event_base_free(p->base);
	free(p->q);
	pthread_mutex_destroy(&p->qlock);
	free(p);
}
