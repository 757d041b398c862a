/* tcp.c -- DNS over TCP on a worker (RFC 7766): framing, pipelining, idle timeout, backpressure. */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <urcu/urcu-memb.h>

#include "core/log.h"
#include "net/net_int.h"

/* A frame is the 2-byte length (RFC 1035 4.2.2) and the message. */
#define NET_TCP_FRAME_MAX (2 + NET_DNS_MSG_MAX)
/* The read buffer holds one frame of the largest size, so a complete query
 * always fits and a full read buffer always holds one to answer. */
#define NET_TCP_RBUF NET_TCP_FRAME_MAX
/* The write buffer: a query is answered only when a largest-size answer
 * fits after the answers not yet sent (the handler may use all of
 * resp_cap); the extra room lets small pipelined answers go out in one
 * send. A client that does not read stops the answering, then the reading,
 * until the idle timeout closes it: at most these two buffers per connection. */
#define NET_TCP_WBUF (NET_TCP_FRAME_MAX + 16384)
#define NET_TCP_ACCEPTS 64   /* accepts per readable event */
#define NET_TCP_PAUSE_MS 100 /* no accept for this long after running out of descriptors */

/* One client connection. Allocated at accept with both buffers (no
 * allocation per query); used only by the worker thread that accepted it,
 * until net_stop, after joining the worker, frees what is left. */
struct net_conn {
	net_worker_t *w;
	net_conn_t *prev, *next; /* the worker's list of connections */
	int fd;
	struct event *rd;   /* readable; added while we want queries */
	struct event *wr;   /* writable; added while answers wait to be sent */
	struct event *idle; /* RFC 7766 6.2.3 idle timeout, re-armed on progress */
	bool rd_on, wr_on;
	bool eof;     /* the client shut down its side: answer what came, then close */
	bool blocked; /* a complete query waits for room in wbuf */
	bool bad;     /* malformed length: send what is answered, then close */
	size_t rlen;  /* bytes received in rbuf, from rbuf[0] */
	size_t wpos;  /* wbuf[wpos..wlen) is still to be sent */
	size_t wlen;
	struct sockaddr_storage peer;
	socklen_t peer_len;
	uint8_t rbuf[NET_TCP_RBUF];
	uint8_t wbuf[NET_TCP_WBUF];
};

static void net_conn_touch(net_conn_t *c)
{
	if (c->w->idle_tv)
		evtimer_add(c->idle, c->w->idle_tv);
}

static void net_conn_close(net_conn_t *c)
{
	net_worker_t *w = c->w;

	event_free(c->rd);
	event_free(c->wr);
	event_free(c->idle);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	atomic_fetch_sub_explicit(&w->srv->tcp_clients, 1, memory_order_relaxed);
	free(c);
}

/* Free room at the end of wbuf, moving unsent bytes to the front when that
 * makes room for one more answer. */
static size_t net_conn_room(net_conn_t *c)
{
	if (c->wpos == c->wlen) {
		c->wpos = 0;
		c->wlen = 0;
	} else if (c->wpos > 0 && NET_TCP_WBUF - c->wlen < NET_TCP_FRAME_MAX) {
		memmove(c->wbuf, c->wbuf + c->wpos, c->wlen - c->wpos);
		c->wlen -= c->wpos;
		c->wpos = 0;
	}
	return NET_TCP_WBUF - c->wlen;
}

/* Send what the socket takes now. 0 (all sent, or the rest waits for
 * writability) or -1 (the connection is dead). */
static int net_conn_flush(net_conn_t *c)
{
	while (c->wpos < c->wlen) {
		ssize_t n = send(c->fd, c->wbuf + c->wpos, c->wlen - c->wpos, MSG_NOSIGNAL);

		if (n > 0) {
			c->wpos += (size_t)n;
			net_conn_touch(c);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		return -1;
	}
	c->wpos = 0;
	c->wlen = 0;
	return 0;
}

/* Answer, in order, every complete query in rbuf for which wbuf has room
 * (RFC 7766 6.2.1.1: pipelined queries; we answer in order). Consumed
 * queries are removed from rbuf, a partial one moves to the front. Sets
 * `blocked` when a query has to wait for the client to read, and `bad` on a
 * length that cannot be a DNS message. -1 if the connection is dead. */
static int net_conn_answer(net_conn_t *c)
{
	net_worker_t *w = c->w;
	net_server_t *s = w->srv;
	size_t pos = 0;
	int rc = 0;

	c->blocked = false;
	if (c->rlen < 2)
		return 0;
	urcu_memb_read_lock();
	while (c->rlen - pos >= 2) {
		size_t mlen = ((size_t)c->rbuf[pos] << 8) | c->rbuf[pos + 1];
		net_query_t q;
		uint8_t *out;
		size_t n;

		if (mlen < NET_DNS_HEADER_LEN) {
			stats_inc(w->stats, STAT_MALFORMED);
			c->bad = true;
			break;
		}
		if (c->rlen - pos < 2 + mlen)
			break;
		if (net_conn_room(c) < NET_TCP_FRAME_MAX) {
			if (net_conn_flush(c) < 0) {
				rc = -1;
				break;
			}
			if (net_conn_room(c) < NET_TCP_FRAME_MAX) {
				c->blocked = true;
				break;
			}
		}
		stats_inc(w->stats, STAT_TCP_QUERIES);
		out = c->wbuf + c->wlen;
		q = (net_query_t){
		    .req = c->rbuf + pos + 2,
		    .req_len = mlen,
		    .peer = (const struct sockaddr *)&c->peer,
		    .peer_len = c->peer_len,
		    .tcp = true,
		    .resp = out + 2,
		    .resp_cap = NET_DNS_MSG_MAX,
		    .worker = w->id,
		    .stats = w->stats,
		};
		n = s->handler(s->handler_ctx, &q);
		if (n == 0 || n > NET_DNS_MSG_MAX) {
			stats_inc(w->stats, STAT_DROPPED);
		} else {
			out[0] = (uint8_t)(n >> 8);
			out[1] = (uint8_t)n;
			c->wlen += 2 + n;
		}
		pos += 2 + mlen;
	}
	urcu_memb_read_unlock();
	if (pos > 0) {
		memmove(c->rbuf, c->rbuf + pos, c->rlen - pos);
		c->rlen -= pos;
	}
	return rc;
}

static int net_conn_want(net_conn_t *c, bool rd, bool wr)
{
	if (rd != c->rd_on) {
		if ((rd ? event_add(c->rd, NULL) : event_del(c->rd)) < 0)
			return -1;
		c->rd_on = rd;
	}
	if (wr != c->wr_on) {
		if ((wr ? event_add(c->wr, NULL) : event_del(c->wr)) < 0)
			return -1;
		c->wr_on = wr;
	}
	return 0;
}

/* After any progress: answer what can be answered, send, then decide what
 * to wait for. `blocked` implies unsent answers, so a connection never waits
 * for nothing: either readable, writable, or closed. */
static void net_conn_run(net_conn_t *c)
{
	bool out;

	if (net_conn_answer(c) < 0 || net_conn_flush(c) < 0)
		goto close;
	if (c->bad)
		goto close; /* the answers before it were just sent, as far as they fit */
	out = c->wpos < c->wlen;
	/* Half-closed and everything answered: a partial query left in rbuf
	 * can never complete. */
	if (c->eof && !out && !c->blocked)
		goto close;
	if (net_conn_want(c, !c->eof && !c->blocked && c->rlen < NET_TCP_RBUF, out) < 0)
		goto close;
	return;
close:
	net_conn_close(c);
}

static void net_conn_on_read(evutil_socket_t fd, short what, void *arg)
{
	net_conn_t *c = arg;
	ssize_t n;

	if (c->rlen == NET_TCP_RBUF) {
		/* Not expected (reading stops first); recv of 0 bytes would
		 * look like EOF. */
		net_conn_run(c);
		return;
	}
	n = recv(fd, c->rbuf + c->rlen, NET_TCP_RBUF - c->rlen, 0);
	if (n > 0) {
		c->rlen += (size_t)n;
		net_conn_touch(c);
	} else if (n == 0) {
		c->eof = true;
	} else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
		return;
	} else {
		net_conn_close(c); /* reset by the client: its answers have nowhere to go */
		return;
	}
	net_conn_run(c);
}

static void net_conn_on_write(evutil_socket_t fd, short what, void *arg)
{
	net_conn_run(arg);
}

static void net_conn_on_idle(evutil_socket_t fd, short what, void *arg)
{
	net_conn_t *c = arg;

	stats_inc(c->w->stats, STAT_TCP_TIMEOUTS);
	net_conn_close(c);
}

static int net_conn_open(net_worker_t *w, int fd, const struct sockaddr_storage *peer,
			 socklen_t peer_len)
{
	int one = 1;
	net_conn_t *c;

	/* Not calloc: the buffers need no zeroing, and untouched pages of
	 * this large block then cost no memory. */
	c = malloc(sizeof(*c));
	if (!c)
		return -1;
	c->w = w;
	c->prev = NULL;
	c->next = NULL;
	c->fd = fd;
	c->rd_on = false;
	c->wr_on = false;
	c->eof = false;
	c->blocked = false;
	c->bad = false;
	c->rlen = 0;
	c->wpos = 0;
	c->wlen = 0;
	c->peer = *peer;
	c->peer_len = peer_len;
	c->rd = event_new(w->base, fd, EV_READ | EV_PERSIST, net_conn_on_read, c);
	c->wr = event_new(w->base, fd, EV_WRITE | EV_PERSIST, net_conn_on_write, c);
	c->idle = evtimer_new(w->base, net_conn_on_idle, c);
	if (!c->rd || !c->wr || !c->idle)
		goto fail;
	/* Answers are written whole; Nagle would hold a pipelined answer back
	 * until the previous one is acknowledged. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (net_conn_want(c, true, false) < 0)
		goto fail;
	net_conn_touch(c);
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	return 0;
fail:
	if (c->rd)
		event_free(c->rd);
	if (c->wr)
		event_free(c->wr);
	if (c->idle)
		event_free(c->idle);
	free(c);
	return -1;
}

/* The listening socket stays readable while a connection waits in its
 * backlog; when accept cannot take it (no descriptors, no memory), stop
 * watching for a moment instead of spinning. */
static void net_tcp_pause(net_sock_t *sk, int e)
{
	net_worker_t *w = sk->w;
	struct timeval tv = {.tv_sec = 0, .tv_usec = NET_TCP_PAUSE_MS * 1000};
	time_t now = time(NULL);

	if (now != w->last_err_log) {
		w->last_err_log = now;
		log_warn("net: worker %u: accept: %s; pausing accepts for %d ms", w->id,
			 strerror(e), NET_TCP_PAUSE_MS);
	}
	event_del(sk->ev);
	evtimer_add(sk->pause, &tv);
}

void net_tcp_on_pause_end(evutil_socket_t fd, short what, void *arg)
{
	net_sock_t *sk = arg;

	event_add(sk->ev, NULL);
}

/* Worker thread: the listening socket `arg` (a net_sock_t) has connections. */
void net_tcp_on_accept(evutil_socket_t lfd, short what, void *arg)
{
	net_sock_t *sk = arg;
	net_worker_t *w = sk->w;
	net_server_t *s = w->srv;

	for (int k = 0; k < NET_TCP_ACCEPTS; k++) {
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);
		unsigned open;
		int fd;

		fd = accept4(lfd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				net_tcp_pause(sk, errno);
			return;
		}
		/* The limit is for all workers together (RFC 7766 6.2.2): one
		 * shared counter, taken before the connection costs anything. */
		open = atomic_fetch_add_explicit(&s->tcp_clients, 1, memory_order_relaxed);
		if (s->tcp_max_clients > 0 && open >= s->tcp_max_clients) {
			atomic_fetch_sub_explicit(&s->tcp_clients, 1, memory_order_relaxed);
			stats_inc(w->stats, STAT_TCP_REJECTED);
			close(fd);
			continue;
		}
		if (net_conn_open(w, fd, &peer, len) < 0) {
			atomic_fetch_sub_explicit(&s->tcp_clients, 1, memory_order_relaxed);
			close(fd);
			net_tcp_pause(sk, ENOMEM);
			return;
		}
		stats_inc(w->stats, STAT_TCP_ACCEPTED);
	}
}

void net_tcp_close_all(net_worker_t *w)
{
	while (w->conns)
		net_conn_close(w->conns);
}
