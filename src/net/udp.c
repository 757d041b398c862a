/* udp.c -- DNS over UDP on a worker: recvmmsg a batch, answer each query, sendmmsg the answers. */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <urcu/urcu-memb.h>

#include "net/net_int.h"

#define NET_UDP_BATCH 32
#define NET_UDP_BUF 65536 /* a UDP payload never exceeds 65507 bytes */
/* Batches per readable event: a flooded socket must not starve the
 * worker's other sockets and connections. */
#define NET_UDP_ROUNDS 4
/* One IP_PKTINFO or IPV6_PKTINFO message, with room to spare should the
 * kernel add another one. */
#define NET_UDP_CTL (CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(struct in_pktinfo)))

typedef union net_udp_ctl {
	struct cmsghdr align;
	uint8_t buf[NET_UDP_CTL];
} net_udp_ctl_t;

/* All of a worker's UDP memory, allocated once by net_start and then used
 * only by that worker's thread: nothing is allocated per packet. Message i
 * of a received batch lives in rx_buf slot i and its peer in peer[i]; the
 * answers are packed into the first tx slots in receive order. */
struct net_udp_batch {
	struct mmsghdr rx[NET_UDP_BATCH];
	struct mmsghdr tx[NET_UDP_BATCH];
	struct iovec rx_iov[NET_UDP_BATCH];
	struct iovec tx_iov[NET_UDP_BATCH];
	struct sockaddr_storage peer[NET_UDP_BATCH];
	net_udp_ctl_t rx_ctl[NET_UDP_BATCH];
	net_udp_ctl_t tx_ctl[NET_UDP_BATCH];
	uint8_t *rx_buf; /* NET_UDP_BATCH * NET_UDP_BUF */
	uint8_t *tx_buf; /* NET_UDP_BATCH * NET_UDP_BUF */
};

net_udp_batch_t *net_udp_batch_new(void)
{
	net_udp_batch_t *b = calloc(1, sizeof(*b));

	if (!b)
		goto fail;
	b->rx_buf = malloc((size_t)NET_UDP_BATCH * NET_UDP_BUF);
	b->tx_buf = malloc((size_t)NET_UDP_BATCH * NET_UDP_BUF);
	if (!b->rx_buf || !b->tx_buf)
		goto fail;
	for (size_t i = 0; i < NET_UDP_BATCH; i++) {
		b->rx_iov[i] = (struct iovec){b->rx_buf + i * NET_UDP_BUF, NET_UDP_BUF};
		b->tx_iov[i] = (struct iovec){b->tx_buf + i * NET_UDP_BUF, 0};
	}
	return b;
fail:
	net_udp_batch_free(b);
	return NULL;
}

void net_udp_batch_free(net_udp_batch_t *b)
{
	if (!b)
		return;
	free(b->rx_buf);
	free(b->tx_buf);
	free(b);
}

/* Make the answer `out` leave from the address the query `in` was sent to
 * (wildcard sockets only). Without the information the kernel's routing
 * choice is used. */
static void net_udp_reply_from(const struct msghdr *in, struct msghdr *out, net_udp_ctl_t *ctl)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(in); c; c = CMSG_NXTHDR((struct msghdr *)in, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo got, use;
			struct cmsghdr *o;

			memcpy(&got, CMSG_DATA(c), sizeof(got));
			/* ifindex 0: route normally, only the source is forced. */
			memset(&use, 0, sizeof(use));
			use.ipi_spec_dst = got.ipi_addr;
			out->msg_control = ctl->buf;
			out->msg_controllen = CMSG_SPACE(sizeof(use));
			o = CMSG_FIRSTHDR(out);
			o->cmsg_level = IPPROTO_IP;
			o->cmsg_type = IP_PKTINFO;
			o->cmsg_len = CMSG_LEN(sizeof(use));
			memcpy(CMSG_DATA(o), &use, sizeof(use));
			return;
		}
		if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo got;
			struct cmsghdr *o;

			/* Keep the interface: a link-local source needs it. */
			memcpy(&got, CMSG_DATA(c), sizeof(got));
			out->msg_control = ctl->buf;
			out->msg_controllen = CMSG_SPACE(sizeof(got));
			o = CMSG_FIRSTHDR(out);
			o->cmsg_level = IPPROTO_IPV6;
			o->cmsg_type = IPV6_PKTINFO;
			o->cmsg_len = CMSG_LEN(sizeof(got));
			memcpy(CMSG_DATA(o), &got, sizeof(got));
			return;
		}
	}
}

/* Send the first n answers of the batch. A failed answer is counted as
 * dropped and never stops the worker: on a full send buffer (EAGAIN,
 * ENOBUFS) the rest of the batch is dropped at once, otherwise (EPERM from
 * a firewall, an unreachable peer) only the failing answer. */
static void net_udp_send(net_worker_t *w, int fd, net_udp_batch_t *b, unsigned n)
{
	unsigned done = 0;

	while (done < n) {
		int r = sendmmsg(fd, b->tx + done, n - done, MSG_DONTWAIT);

		if (r > 0) {
			done += (unsigned)r;
			continue;
		}
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
			for (; done < n; done++)
				stats_inc(w->stats, STAT_DROPPED);
			return;
		}
		stats_inc(w->stats, STAT_DROPPED);
		done++;
	}
}

/* Worker thread: the socket `arg` (a net_sock_t) is readable. */
void net_udp_on_read(evutil_socket_t fd, short what, void *arg)
{
	net_sock_t *sk = arg;
	net_worker_t *w = sk->w;
	net_server_t *s = w->srv;
	net_udp_batch_t *b = w->batch;

	for (int round = 0; round < NET_UDP_ROUNDS; round++) {
		unsigned ntx = 0;
		int n;

		for (unsigned i = 0; i < NET_UDP_BATCH; i++) {
			struct msghdr *h = &b->rx[i].msg_hdr;

			h->msg_name = &b->peer[i];
			h->msg_namelen = sizeof(b->peer[i]);
			h->msg_iov = &b->rx_iov[i];
			h->msg_iovlen = 1;
			h->msg_control = sk->pktinfo ? b->rx_ctl[i].buf : NULL;
			h->msg_controllen = sk->pktinfo ? sizeof(b->rx_ctl[i].buf) : 0;
			h->msg_flags = 0;
		}
		n = recvmmsg(fd, b->rx, NET_UDP_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return; /* drained (EAGAIN), or an error the next event will retry */

		/* One read-side critical section per batch: the snapshots the
		 * handler dereferences stay alive until every answer is built. */
		urcu_memb_read_lock();
		for (int i = 0; i < n; i++) {
			struct msghdr *h = &b->rx[i].msg_hdr;
			struct msghdr *o = &b->tx[ntx].msg_hdr;
			net_query_t q = {
			    .req = b->rx_iov[i].iov_base,
			    .req_len = b->rx[i].msg_len,
			    .peer = (const struct sockaddr *)&b->peer[i],
			    .peer_len = h->msg_namelen,
			    .tcp = false,
			    .resp = b->tx_iov[ntx].iov_base,
			    .resp_cap = NET_DNS_MSG_MAX,
			    .worker = w->id,
			    .stats = w->stats,
			};
			size_t len;

			stats_inc(w->stats, STAT_UDP_QUERIES);
			len = s->handler(s->handler_ctx, &q);
			if (len == 0 || len > NET_DNS_MSG_MAX) {
				stats_inc(w->stats, STAT_DROPPED);
				continue;
			}
			b->tx_iov[ntx].iov_len = len;
			o->msg_name = &b->peer[i];
			o->msg_namelen = h->msg_namelen;
			o->msg_iov = &b->tx_iov[ntx];
			o->msg_iovlen = 1;
			o->msg_control = NULL;
			o->msg_controllen = 0;
			o->msg_flags = 0;
			if (sk->pktinfo)
				net_udp_reply_from(h, o, &b->tx_ctl[ntx]);
			ntx++;
		}
		urcu_memb_read_unlock();
		net_udp_send(w, fd, b, ntx);
		if (n < NET_UDP_BATCH)
			return; /* the socket had no more */
	}
}
