/* net_int.h -- what net.c, udp.c and tcp.c share: the server, worker and socket structs. */
#ifndef WAYMARK_NET_NET_INT_H
#define WAYMARK_NET_NET_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/util.h>

#include "net/net.h"

struct event;
struct event_base;
struct timeval;

#define NET_DNS_HEADER_LEN 12
#define NET_DNS_MSG_MAX 65535 /* RFC 1035 4.2.2: the TCP length prefix is 16 bits */

typedef struct net_worker net_worker_t;
typedef struct net_udp_batch net_udp_batch_t;
typedef struct net_conn net_conn_t;

/* One bound socket of one worker. Created by net_bind on the main thread;
 * after net_start only its worker thread touches it, until net_stop has
 * joined that thread. */
typedef struct net_sock {
	net_worker_t *w;
	int fd;
	int family;
	bool pktinfo;        /* UDP on a wildcard address: reply from the query's own address */
	struct event *ev;    /* UDP: readable; TCP: accept */
	struct event *pause; /* TCP: re-arms `ev` after accept ran out of descriptors */
} net_sock_t;

struct net_worker {
	net_server_t *srv;
	unsigned id;
	stats_t *stats;  /* written only by this worker's thread */
	net_sock_t *udp; /* [srv->n_addrs] */
	net_sock_t *tcp; /* [srv->n_addrs] */
	struct event_base *base;
	struct event *stop_ev;         /* activated by net_stop from the main thread */
	const struct timeval *idle_tv; /* common timeout of `base` for idle TCP connections */
	net_udp_batch_t *batch;        /* UDP buffers, allocated once at net_start */
	net_conn_t *conns;             /* open TCP connections of this worker */
	time_t last_err_log;           /* rate limit for accept errors */
	pthread_t thread;
	bool thread_started;
};

struct net_server {
	struct sockaddr_storage *addrs; /* [n_addrs], copied from the params */
	socklen_t *addr_lens;
	struct sockaddr_storage *bound; /* what worker 0's sockets actually bound */
	socklen_t *bound_lens;
	size_t n_addrs;
	unsigned threads;
	unsigned tcp_idle_timeout_ms;
	unsigned tcp_max_clients;
	net_handler_fn handler;
	void *handler_ctx;
	stats_t *stats;        /* [threads], 64-byte aligned */
	net_worker_t *workers; /* [threads] */
	/* Open TCP connections across all workers: the only state that workers
	 * share; each worker adds on accept and subtracts on close. */
	_Atomic unsigned tcp_clients;
	bool started;
	bool stopped;
};

/* Format "127.0.0.1:53" or "[::1]:53" into buf (always terminated). */
void net_addr_str(const struct sockaddr *sa, char *buf, size_t len);

/* UDP (udp.c), worker thread only except new/free. */
net_udp_batch_t *net_udp_batch_new(void);
void net_udp_batch_free(net_udp_batch_t *b);
void net_udp_on_read(evutil_socket_t fd, short what, void *arg);

/* TCP (tcp.c), worker thread only except net_tcp_close_all (after the join). */
void net_tcp_on_accept(evutil_socket_t fd, short what, void *arg);
void net_tcp_on_pause_end(evutil_socket_t fd, short what, void *arg);
void net_tcp_close_all(net_worker_t *w);

#endif
