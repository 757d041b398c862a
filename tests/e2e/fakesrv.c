/* fakesrv.c -- test tool: probe targets for the health checks (HTTP server, SIP OPTIONS responder).
 *
 * usage: fakesrv http|sip|tcp ADDR PORT [-s STATUS] [-b BODY] [-d DELAY_MS] [-e] [-g]
 *   http  answer every request with STATUS (200) and BODY ("ok"), after
 *         DELAY_MS; -e: an endless body; -g: garbage instead of HTTP
 *   sip   answer OPTIONS over TCP with "SIP/2.0 STATUS OK", echoing Via,
 *         From, To, Call-ID and CSeq (RFC 3261 §8.2.6); -g: garbage
 *   tcp   accept connections and close them at once (as many as come)
 * It prints "ready port=N" once listening (PORT 0: an ephemeral port) and
 * runs until killed. One thread, poll(2), at most 64 connections. */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXC 64

typedef struct conn {
	int fd;
	char in[8192];
	size_t n;
	long answer_at; /* ms, 0: not yet due */
	int done;
} conn_t;

static const char *mode;
static int status = 200, delay_ms, endless, garbage;
static const char *body = "ok";

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* Copy header `name` (with its line) from a SIP request into out. */
static void sip_header(const char *req, const char *name, char *out, size_t len)
{
	size_t nl = strlen(name);
	for (const char *p = req; p && *p; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *e = strpbrk(p, "\r\n");
			size_t l = e ? (size_t)(e - p) : strlen(p);
			snprintf(out, len, "%.*s\r\n", (int)l, p);
			return;
		}
	}
	out[0] = '\0';
}

static void answer(conn_t *c)
{
	char buf[4096];
	if (garbage) {
		send_all(c->fd, "\x01\x02garbage\xff\r\n\r\n", 14);
	} else if (strcmp(mode, "http") == 0) {
		if (endless) {
			int n = snprintf(buf, sizeof(buf), "HTTP/1.1 %d X\r\nContent-Type: text/plain\r\n\r\n",
					 status);
			send_all(c->fd, buf, (size_t)n);
			memset(buf, 'x', sizeof(buf));
			/* until the peer goes away (bounded: 64 MiB) */
			for (int i = 0; i < 16384; i++) {
				ssize_t w = send(c->fd, buf, sizeof(buf), MSG_NOSIGNAL);
				if (w <= 0)
					break;
			}
		} else {
			int n = snprintf(buf, sizeof(buf),
					 "HTTP/1.1 %d X\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
					 "Connection: close\r\n\r\n%s",
					 status, strlen(body), body);
			send_all(c->fd, buf, (size_t)n);
		}
	} else if (strcmp(mode, "sip") == 0) {
		char via[512], from[512], to[512], cid[512], cseq[512];
		sip_header(c->in, "Via", via, sizeof(via));
		sip_header(c->in, "From", from, sizeof(from));
		sip_header(c->in, "To", to, sizeof(to));
		sip_header(c->in, "Call-ID", cid, sizeof(cid));
		sip_header(c->in, "CSeq", cseq, sizeof(cseq));
		int n = snprintf(buf, sizeof(buf), "SIP/2.0 %d OK\r\n%s%s%s%s%sContent-Length: 0\r\n\r\n",
				 status, via, from, to, cid, cseq);
		send_all(c->fd, buf, (size_t)n);
	}
	c->done = 1;
}

int main(int argc, char **argv)
{
	int c;
	while ((c = getopt(argc, argv, "s:b:d:eg")) != -1) {
		switch (c) {
		case 's':
			status = atoi(optarg);
			break;
		case 'b':
			body = optarg;
			break;
		case 'd':
			delay_ms = atoi(optarg);
			break;
		case 'e':
			endless = 1;
			break;
		case 'g':
			garbage = 1;
			break;
		default:
			return 2;
		}
	}
	if (argc - optind != 3) {
		fprintf(stderr, "usage: fakesrv http|sip|tcp ADDR PORT [-s STATUS] [-b BODY] [-d MS] [-e] [-g]\n");
		return 2;
	}
	mode = argv[optind];
	signal(SIGPIPE, SIG_IGN);
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE};
	struct addrinfo *ai;
	if (getaddrinfo(argv[optind + 1], argv[optind + 2], &hints, &ai) != 0) {
		fprintf(stderr, "fakesrv: bad address\n");
		return 2;
	}
	int one = 1;
	int lfd = socket(ai->ai_family, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(lfd, 4096) < 0) {
		perror("fakesrv: listen");
		return 1;
	}
	freeaddrinfo(ai);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	getsockname(lfd, (struct sockaddr *)&ss, &sl);
	int port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
					    : ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (strcmp(mode, "tcp") == 0)
		fcntl(lfd, F_SETFL, O_NONBLOCK);
	printf("ready port=%d\n", port);
	fflush(stdout);

	conn_t conns[MAXC];
	int nconn = 0;
	for (;;) {
		struct pollfd pfd[MAXC + 1];
		pfd[0].fd = lfd;
		pfd[0].events = nconn < MAXC ? POLLIN : 0;
		for (int i = 0; i < nconn; i++) {
			pfd[i + 1].fd = conns[i].fd;
			pfd[i + 1].events = POLLIN;
		}
		if (poll(pfd, (nfds_t)nconn + 1, 20) < 0 && errno != EINTR)
			return 1;
		if ((pfd[0].revents & POLLIN) && strcmp(mode, "tcp") == 0) {
			/* a health-check target: take every pending connection */
			int fd;
			while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0)
				close(fd);
		} else if (pfd[0].revents & POLLIN) {
			int fd = accept(lfd, NULL, NULL);
			if (fd >= 0) {
				memset(&conns[nconn], 0, sizeof(conns[nconn]));
				conns[nconn++].fd = fd;
			}
		}
		long t = now_ms();
		for (int i = 0; i < nconn; i++) {
			conn_t *k = &conns[i];
			if (pfd[i + 1].revents & (POLLIN | POLLHUP | POLLERR)) {
				ssize_t r = recv(k->fd, k->in + k->n, sizeof(k->in) - 1 - k->n, 0);
				if (r <= 0) {
					k->done = 1;
				} else {
					k->n += (size_t)r;
					k->in[k->n] = '\0';
				}
			}
			/* a complete request: a blank line ends the headers */
			if (!k->done && !k->answer_at && strcmp(mode, "tcp") != 0 &&
			    strstr(k->in, "\r\n\r\n"))
				k->answer_at = t + delay_ms;
			if (!k->done && k->answer_at && t >= k->answer_at)
				answer(k);
			if (k->done) {
				close(k->fd);
				conns[i--] = conns[--nconn];
			}
		}
	}
}
