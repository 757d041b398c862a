/* net.c -- worker threads: bind every socket, start, stop and free the workers (see net.h). */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <urcu/urcu-memb.h>

#include "core/log.h"
#include "net/net_int.h"

#if !defined(HAVE_RECVMMSG) || !defined(HAVE_SENDMMSG)
#error "waymark needs recvmmsg(2) and sendmmsg(2) (Linux >= 3.0, glibc >= 2.14)"
#endif

/* Kernel socket buffers for UDP: room for a burst of queries while the
 * worker is busy. Failure (above net.core.rmem_max without privileges) is
 * harmless, so it is ignored. */
#define NET_UDP_SOCKBUF (1 << 20)
#define NET_TCP_BACKLOG 1024
/* Port 0: the UDP socket picks the port and TCP must get the same one; if
 * TCP already has it in use, start over with another port. */
#define NET_PORT0_TRIES 16

/* Thread roles in this file: everything runs on the thread that owns the
 * server (the main thread), except net_worker_main and net_on_stop, which run
 * on each worker thread. */

static void net_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void net_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

void net_addr_str(const struct sockaddr *sa, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, (unsigned)ntohs(sin->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, (unsigned)ntohs(sin6->sin6_port));
	} else {
		snprintf(buf, len, "(address family %d)", (int)sa->sa_family);
	}
}

static in_port_t net_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)(const void *)ss)->sin_port;
	return ((const struct sockaddr_in6 *)(const void *)ss)->sin6_port;
}

static void net_set_port(struct sockaddr_storage *ss, in_port_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)(void *)ss)->sin_port = port;
	else
		((struct sockaddr_in6 *)(void *)ss)->sin6_port = port;
}

static bool net_is_wildcard(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)(const void *)ss)->sin_addr.s_addr ==
		       htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)(const void *)ss)->sin6_addr);
}

/* UDP options that only tune or widen behaviour. On a wildcard address the
 * kernel would pick the reply's source address by routing, which a resolver
 * rejects if it differs from where it sent the query: ask for the
 * destination address of each query so udp.c can answer from it. */
static int net_udp_setopts(int fd, int family, bool wildcard, const char **op)
{
	int one = 1;
	int size = NET_UDP_SOCKBUF;

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	if (family == AF_INET) {
#if defined(IP_MTU_DISCOVER) && defined(IP_PMTUDISC_OMIT)
		/* Send with DF clear and ignore ICMP "fragmentation needed": a
		 * spoofed ICMP must not shrink the path MTU of our answers. */
		int pmtu = IP_PMTUDISC_OMIT;

		(void)setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof(pmtu));
#endif
		*op = "setsockopt IP_PKTINFO";
		if (wildcard && setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) < 0)
			return -1;
	} else {
#if defined(IPV6_MTU_DISCOVER) && defined(IPV6_PMTUDISC_OMIT)
		int pmtu = IPV6_PMTUDISC_OMIT;

		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &pmtu, sizeof(pmtu));
#endif
		*op = "setsockopt IPV6_RECVPKTINFO";
		if (wildcard &&
		    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)) < 0)
			return -1;
	}
	return 0;
}

/* Open, configure and bind one socket (and listen, for TCP). Returns the
 * descriptor, or -1 with errno kept and "<op> <addr>: <reason>" in err. */
static int net_sock_open(const struct sockaddr_storage *ss, socklen_t len, int type, bool wildcard,
			 char *err, size_t errlen)
{
	char where[INET6_ADDRSTRLEN + 16];
	const char *op = "socket";
	int one = 1;
	int fd;
	int e;

	fd = socket(ss->ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	/* One socket per worker on the same address: the kernel spreads
	 * datagrams and connections over them, so workers share nothing. */
	op = "setsockopt SO_REUSEPORT";
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		goto fail;
	op = "setsockopt SO_REUSEADDR";
	if (type == SOCK_STREAM && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		goto fail;
	/* "::" must not also take IPv4: that is a separate listen address. */
	op = "setsockopt IPV6_V6ONLY";
	if (ss->ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		goto fail;
	if (type == SOCK_DGRAM && net_udp_setopts(fd, ss->ss_family, wildcard, &op) < 0)
		goto fail;
	op = "bind";
	if (bind(fd, (const struct sockaddr *)ss, len) < 0)
		goto fail;
	op = "listen";
	if (type == SOCK_STREAM && listen(fd, NET_TCP_BACKLOG) < 0)
		goto fail;
	return fd;
fail:
	e = errno;
	net_addr_str((const struct sockaddr *)ss, where, sizeof(where));
	net_err(err, errlen, "%s %s: %s", op, where, strerror(e));
	if (fd >= 0)
		close(fd);
	errno = e;
	return -1;
}

static void net_close_addr(net_server_t *s, size_t i)
{
	for (unsigned t = 0; t < s->threads; t++) {
		net_worker_t *w = &s->workers[t];

		if (w->udp && w->udp[i].fd >= 0)
			close(w->udp[i].fd);
		if (w->tcp && w->tcp[i].fd >= 0)
			close(w->tcp[i].fd);
		if (w->udp)
			w->udp[i].fd = -1;
		if (w->tcp)
			w->tcp[i].fd = -1;
	}
}

/* Port 0: find a port that no socket at all holds, for UDP and TCP, and
 * put it in *ss. Sockets without SO_REUSEPORT are used for that on purpose:
 * Linux may give a SO_REUSEPORT socket that binds port 0 a port that another
 * SO_REUSEPORT socket of the same user already has, and the two processes
 * would then share each other's queries (seen with tests run in parallel).
 * The probes are closed before the real sockets bind: in the short window
 * between, another process may take the port, which the caller's EADDRINUSE
 * retry handles. -1 with errno kept. */
static int net_pick_port(struct sockaddr_storage *ss, socklen_t len)
{
	int one = 1, e, u = -1, t = -1;
	struct sockaddr_storage b;
	socklen_t blen = sizeof(b);
	int v6 = ss->ss_family == AF_INET6;

	u = socket(ss->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	t = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (u < 0 || t < 0)
		goto fail;
	if (v6 && (setsockopt(u, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0 ||
		   setsockopt(t, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0))
		goto fail;
	if (bind(u, (const struct sockaddr *)ss, len) < 0 ||
	    getsockname(u, (struct sockaddr *)&b, &blen) < 0)
		goto fail;
	if (bind(t, (const struct sockaddr *)&b, blen) < 0)
		goto fail;
	net_set_port(ss, net_port(&b));
	close(u);
	close(t);
	return 0;
fail:
	e = errno;
	if (u >= 0)
		close(u);
	if (t >= 0)
		close(t);
	errno = e;
	return -1;
}

/* One attempt at binding listen address i on every worker, UDP and TCP.
 * With port 0, a free port is picked first and every socket of this address
 * binds that same port. -1 with errno kept. */
static int net_bind_addr_once(net_server_t *s, size_t i, char *err, size_t errlen)
{
	struct sockaddr_storage ss = s->addrs[i];
	socklen_t len = s->addr_lens[i];
	bool wildcard = net_is_wildcard(&ss);
	int e;

	if (net_port(&ss) == 0 && net_pick_port(&ss, len) < 0) {
		e = errno;
		char where[INET6_ADDRSTRLEN + 16];
		net_addr_str((const struct sockaddr *)&ss, where, sizeof(where));
		net_err(err, errlen, "bind %s: %s", where, strerror(e));
		errno = e;
		return -1;
	}

	for (unsigned t = 0; t < s->threads; t++) {
		net_worker_t *w = &s->workers[t];
		int fd;

		fd = net_sock_open(&ss, len, SOCK_DGRAM, wildcard, err, errlen);
		if (fd < 0)
			goto fail;
		w->udp[i].fd = fd;
		w->udp[i].family = ss.ss_family;
		w->udp[i].pktinfo = wildcard;
		if (t == 0) {
			struct sockaddr *b = (struct sockaddr *)&s->bound[i];

			s->bound_lens[i] = sizeof(s->bound[i]);
			if (getsockname(fd, b, &s->bound_lens[i]) < 0) {
				net_err(err, errlen, "getsockname: %s", strerror(errno));
				goto fail;
			}
			net_set_port(&ss, net_port(&s->bound[i]));
		}
		fd = net_sock_open(&ss, len, SOCK_STREAM, wildcard, err, errlen);
		if (fd < 0)
			goto fail;
		w->tcp[i].fd = fd;
		w->tcp[i].family = ss.ss_family;
	}
	return 0;
fail:
	e = errno;
	net_close_addr(s, i);
	errno = e;
	return -1;
}

static int net_bind_addr(net_server_t *s, size_t i, char *err, size_t errlen)
{
	bool port0 = net_port(&s->addrs[i]) == 0;

	for (int attempt = 1;; attempt++) {
		if (net_bind_addr_once(s, i, err, errlen) == 0)
			return 0;
		if (!port0 || errno != EADDRINUSE || attempt >= NET_PORT0_TRIES)
			return -1;
	}
}

static int net_check_params(const net_params_t *p, char *err, size_t errlen)
{
	if (!p || !p->addrs || !p->addr_lens || p->n_addrs == 0 || p->threads == 0 || !p->handler) {
		net_err(err, errlen, "net: no listen address, no worker thread or no handler");
		return -1;
	}
	for (size_t i = 0; i < p->n_addrs; i++) {
		int af = p->addrs[i].ss_family;
		socklen_t want =
		    af == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);

		if ((af != AF_INET && af != AF_INET6) || p->addr_lens[i] < want ||
		    p->addr_lens[i] > sizeof(struct sockaddr_storage)) {
			net_err(err, errlen, "net: listen address %zu is neither IPv4 nor IPv6", i);
			return -1;
		}
	}
	return 0;
}

net_server_t *net_bind(const net_params_t *p, char *err, size_t errlen)
{
	net_server_t *s = NULL;

	if (net_check_params(p, err, errlen) < 0)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		goto nomem;
	s->n_addrs = p->n_addrs;
	s->threads = p->threads;
	s->tcp_idle_timeout_ms = p->tcp_idle_timeout_ms;
	s->tcp_max_clients = p->tcp_max_clients;
	s->handler = p->handler;
	s->handler_ctx = p->handler_ctx;
	atomic_init(&s->tcp_clients, 0);
	s->addrs = calloc(s->n_addrs, sizeof(*s->addrs));
	s->addr_lens = calloc(s->n_addrs, sizeof(*s->addr_lens));
	s->bound = calloc(s->n_addrs, sizeof(*s->bound));
	s->bound_lens = calloc(s->n_addrs, sizeof(*s->bound_lens));
	s->workers = calloc(s->threads, sizeof(*s->workers));
	/* Each block on its own cache lines (stats_t is 64-byte aligned), so
	 * workers counting never share a line. */
	s->stats = aligned_alloc(_Alignof(stats_t), s->threads * sizeof(stats_t));
	if (!s->addrs || !s->addr_lens || !s->bound || !s->bound_lens || !s->workers || !s->stats)
		goto nomem;
	/* Every field zero (counters and the zone-counter row pointer alike);
	 * no thread runs yet, so plain stores are fine. */
	memset(s->stats, 0, s->threads * sizeof(stats_t));
	memcpy(s->addrs, p->addrs, s->n_addrs * sizeof(*s->addrs));
	memcpy(s->addr_lens, p->addr_lens, s->n_addrs * sizeof(*s->addr_lens));
	for (unsigned t = 0; t < s->threads; t++) {
		net_worker_t *w = &s->workers[t];
		w->srv = s;
		w->id = t;
		w->stats = &s->stats[t];
		w->udp = calloc(s->n_addrs, sizeof(*w->udp));
		w->tcp = calloc(s->n_addrs, sizeof(*w->tcp));
		if (!w->udp || !w->tcp)
			goto nomem;
		for (size_t i = 0; i < s->n_addrs; i++) {
			w->udp[i] = (net_sock_t){.w = w, .fd = -1};
			w->tcp[i] = (net_sock_t){.w = w, .fd = -1};
		}
	}
	for (size_t i = 0; i < s->n_addrs; i++)
		if (net_bind_addr(s, i, err, errlen) < 0)
			goto fail;
	return s;
nomem:
	net_err(err, errlen, "net: out of memory");
fail:
	net_free(s);
	return NULL;
}

/* Worker thread: net_stop activated this event; leave the loop. */
static void net_on_stop(evutil_socket_t fd, short what, void *arg)
{
	net_worker_t *w = arg;

	event_base_loopbreak(w->base);
}

static void *net_worker_main(void *arg)
{
	net_worker_t *w = arg;
	char name[16];

	snprintf(name, sizeof(name), "waymark-net%u", w->id);
	(void)pthread_setname_np(pthread_self(), name);
	/* The handler reads RCU-protected snapshots: the thread must be known
	 * to urcu for the writers' grace periods to wait for it. */
	urcu_memb_register_thread();
	if (event_base_dispatch(w->base) < 0)
		log_err("net: worker %u: event loop failed", w->id);
	urcu_memb_unregister_thread();
	return NULL;
}

static pthread_once_t net_evthread_once = PTHREAD_ONCE_INIT;
static int net_evthread_rc;

static void net_evthread_init(void)
{
	/* Locking in libevent is what makes event_active() from net_stop on
	 * another thread's base safe. */
	net_evthread_rc = evthread_use_pthreads();
}

/* Main thread: build worker w's event base and events (the thread is not
 * running yet). */
static int net_worker_setup(net_worker_t *w, char *err, size_t errlen)
{
	net_server_t *s = w->srv;

	w->base = event_base_new();
	if (!w->base) {
		net_err(err, errlen, "net: event_base_new failed");
		return -1;
	}
	if (s->tcp_idle_timeout_ms > 0) {
		struct timeval tv = {.tv_sec = s->tcp_idle_timeout_ms / 1000,
				     .tv_usec = (s->tcp_idle_timeout_ms % 1000) * 1000};

		/* Every connection uses the same duration: a common timeout
		 * queue makes re-arming it on each read O(1). */
		w->idle_tv = event_base_init_common_timeout(w->base, &tv);
		if (!w->idle_tv)
			goto nomem;
	}
	w->stop_ev = event_new(w->base, -1, 0, net_on_stop, w);
	w->batch = net_udp_batch_new();
	if (!w->stop_ev || !w->batch)
		goto nomem;
	for (size_t i = 0; i < s->n_addrs; i++) {
		net_sock_t *u = &w->udp[i];
		net_sock_t *t = &w->tcp[i];

		u->ev = event_new(w->base, u->fd, EV_READ | EV_PERSIST, net_udp_on_read, u);
		t->ev = event_new(w->base, t->fd, EV_READ | EV_PERSIST, net_tcp_on_accept, t);
		t->pause = evtimer_new(w->base, net_tcp_on_pause_end, t);
		if (!u->ev || !t->ev || !t->pause)
			goto nomem;
		if (event_add(u->ev, NULL) < 0 || event_add(t->ev, NULL) < 0) {
			net_err(err, errlen, "net: event_add failed");
			return -1;
		}
	}
	return 0;
nomem:
	net_err(err, errlen, "net: out of memory");
	return -1;
}

int net_start(net_server_t *s, char *err, size_t errlen)
{
	sigset_t block, old;
	bool masked = false;
	int rc;

	if (s->started || s->stopped) {
		net_err(err, errlen, "net: already started");
		return -1;
	}
	s->started = true;
	pthread_once(&net_evthread_once, net_evthread_init);
	if (net_evthread_rc < 0) {
		net_err(err, errlen, "net: evthread_use_pthreads failed");
		goto fail;
	}
	for (unsigned t = 0; t < s->threads; t++)
		if (net_worker_setup(&s->workers[t], err, errlen) < 0)
			goto fail;
	/* Workers inherit this mask: process signals (SIGHUP, SIGTERM, ...)
	 * then go to the main thread. Faults stay deliverable so that a crash
	 * in a worker is still reported. */
	sigfillset(&block);
	sigdelset(&block, SIGSEGV);
	sigdelset(&block, SIGBUS);
	sigdelset(&block, SIGFPE);
	sigdelset(&block, SIGILL);
	sigdelset(&block, SIGTRAP);
	sigdelset(&block, SIGABRT);
	sigdelset(&block, SIGSYS);
	if (pthread_sigmask(SIG_SETMASK, &block, &old) == 0)
		masked = true;
	for (unsigned t = 0; t < s->threads; t++) {
		net_worker_t *w = &s->workers[t];

		rc = pthread_create(&w->thread, NULL, net_worker_main, w);
		if (rc != 0) {
			net_err(err, errlen, "net: starting worker %u: %s", t, strerror(rc));
			goto fail;
		}
		w->thread_started = true;
	}
	if (masked)
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	return 0;
fail:
	if (masked)
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	net_stop(s);
	return -1;
}

static void net_sock_close(net_sock_t *sk)
{
	if (sk->ev)
		event_free(sk->ev);
	if (sk->pause)
		event_free(sk->pause);
	if (sk->fd >= 0)
		close(sk->fd);
	sk->ev = NULL;
	sk->pause = NULL;
	sk->fd = -1;
}

void net_stop(net_server_t *s)
{
	if (!s || s->stopped)
		return;
	s->stopped = true;
	/* event_active on a base that has not entered its loop yet stays
	 * queued (unlike event_base_loopbreak, which the loop start forgets),
	 * so a stop right after net_start is not lost. */
	for (unsigned t = 0; t < s->threads; t++)
		if (s->workers[t].thread_started)
			event_active(s->workers[t].stop_ev, EV_READ, 0);
	for (unsigned t = 0; t < s->threads; t++) {
		net_worker_t *w = &s->workers[t];

		if (w->thread_started)
			pthread_join(w->thread, NULL);
		w->thread_started = false;
	}
	/* Every worker has returned: this thread now owns all of their state. */
	for (unsigned t = 0; t < s->threads; t++) {
		net_worker_t *w = &s->workers[t];

		net_tcp_close_all(w);
		for (size_t i = 0; w->udp && i < s->n_addrs; i++)
			net_sock_close(&w->udp[i]);
		for (size_t i = 0; w->tcp && i < s->n_addrs; i++)
			net_sock_close(&w->tcp[i]);
		if (w->stop_ev)
			event_free(w->stop_ev);
		w->stop_ev = NULL;
		if (w->base)
			event_base_free(w->base);
		w->base = NULL;
	}
}

void net_free(net_server_t *s)
{
	if (!s)
		return;
	if (s->workers)
		net_stop(s);
	for (unsigned t = 0; s->workers && t < s->threads; t++) {
		net_worker_t *w = &s->workers[t];

		net_udp_batch_free(w->batch);
		free(w->udp);
		free(w->tcp);
	}
	free(s->workers);
	free(s->stats);
	free(s->addrs);
	free(s->addr_lens);
	free(s->bound);
	free(s->bound_lens);
	free(s);
}

stats_t *net_stats(net_server_t *s, unsigned *n)
{
	if (n)
		*n = s->threads;
	return s->stats;
}

int net_bound_addr(const net_server_t *s, size_t i, struct sockaddr_storage *out, socklen_t *len)
{
	if (!s || i >= s->n_addrs)
		return -1;
	*out = s->bound[i];
	*len = s->bound_lens[i];
	return 0;
}
