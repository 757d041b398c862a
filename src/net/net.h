/* net.h -- worker threads: per-thread event_base, SO_REUSEPORT UDP and TCP (RFC 7766) sockets. */
#ifndef WAYMARK_NET_NET_H
#define WAYMARK_NET_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/stats.h"

/* One query handed to the handler. `resp` has room for `resp_cap` bytes
 * (65535 for TCP and for UDP: the handler itself limits UDP answers to the
 * size the client's EDNS allows). */
typedef struct net_query {
	const uint8_t *req;
	size_t req_len;
	const struct sockaddr *peer;
	socklen_t peer_len;
	bool tcp;
	uint8_t *resp;
	size_t resp_cap;
	unsigned worker; /* 0 .. threads-1 */
	stats_t *stats;  /* the calling worker's own counters */
} net_query_t;

/* Answer one query: return the response length, or 0 to send nothing.
 * Called on a worker thread, inside an RCU read-side critical section
 * (urcu-memb), so the handler may rcu_dereference() snapshots. It must not
 * block, must not keep pointers into `q` after it returns. */
typedef size_t (*net_handler_fn)(void *ctx, net_query_t *q);

typedef struct net_params {
	const struct sockaddr_storage *addrs; /* listen addresses (UDP and TCP on each) */
	const socklen_t *addr_lens;
	size_t n_addrs;
	unsigned threads;	      /* worker threads, >= 1 */
	unsigned tcp_idle_timeout_ms; /* close a TCP connection idle this long; 0: never */
	unsigned tcp_max_clients;     /* open TCP connections, all workers together; 0: no limit */
	net_handler_fn handler;
	void *handler_ctx;
} net_params_t;

typedef struct net_server net_server_t;

/* Create every socket (one UDP and one TCP socket per address per worker,
 * SO_REUSEPORT) and bind them, so that privileges can be dropped after.
 * Returns NULL with a message in `err` ("bind 127.0.0.1:53: Permission denied"). */
net_server_t *net_bind(const net_params_t *p, char *err, size_t errlen);
/* Start the worker threads. 0 or -1 (message in err; call net_free). The
 * workers block asynchronous signals (SIGHUP, SIGTERM, ...), so those reach
 * the calling thread. */
int net_start(net_server_t *s, char *err, size_t errlen);
/* Ask every worker to stop, wait for them, close sockets. Call from the thread
 * that called net_start. Safe to call once. */
void net_stop(net_server_t *s);
void net_free(net_server_t *s);
/* The per-worker counter blocks (n = threads), for summing by readers. */
stats_t *net_stats(net_server_t *s, unsigned *n);
/* The address the i-th listen address actually bound (port 0 resolved). */
int net_bound_addr(const net_server_t *s, size_t i, struct sockaddr_storage *out, socklen_t *len);

#endif
