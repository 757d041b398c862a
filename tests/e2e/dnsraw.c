/* dnsraw.c -- test tool: send raw DNS messages (hex) over UDP or TCP and print the replies in hex.
 *
 * usage: dnsraw [-t] [-w MS] HOST PORT HEX [HEX...]
 *   UDP: each HEX is sent as one datagram; one line per reply ("none" when
 *        none came within MS milliseconds, default 500).
 *   TCP (-t): all messages are written at once, each with its 2-byte length
 *        (pipelining, RFC 7766 §6.2.1.1); one line per reply read, in order,
 *        then "eof" if the server closed the connection, or "none". */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static size_t unhex(const char *s, unsigned char *out, size_t cap)
{
	size_t n = 0;
	while (s[0] && s[1] && n < cap) {
		unsigned v;
		if (sscanf(s, "%2x", &v) != 1)
			break;
		out[n++] = (unsigned char)v;
		s += 2;
	}
	return n;
}

static void hexline(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
	printf("\n");
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Read exactly n bytes before the deadline: 1 ok, 0 eof, -1 timeout/error. */
static int read_full(int fd, unsigned char *p, size_t n, long deadline)
{
	size_t got = 0;
	while (got < n) {
		long left = deadline - now_ms();
		if (left <= 0)
			return -1;
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, (int)left) <= 0)
			return -1;
		ssize_t r = read(fd, p + got, n - got);
		if (r == 0)
			return 0;
		if (r < 0)
			return errno == EINTR ? read_full(fd, p + got, n - got, deadline) : -1;
		got += (size_t)r;
	}
	return 1;
}

int main(int argc, char **argv)
{
	int tcp = 0, wait_ms = 500, c;
	while ((c = getopt(argc, argv, "tw:")) != -1) {
		if (c == 't')
			tcp = 1;
		else if (c == 'w')
			wait_ms = atoi(optarg);
		else
			return 2;
	}
	if (argc - optind < 3) {
		fprintf(stderr, "usage: dnsraw [-t] [-w MS] HOST PORT HEX...\n");
		return 2;
	}
	struct addrinfo hints = {.ai_socktype = tcp ? SOCK_STREAM : SOCK_DGRAM,
				 .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
	struct addrinfo *ai;
	if (getaddrinfo(argv[optind], argv[optind + 1], &hints, &ai) != 0) {
		fprintf(stderr, "dnsraw: bad address\n");
		return 2;
	}
	int fd = socket(ai->ai_family, ai->ai_socktype, 0);
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		perror("dnsraw: connect");
		return 1;
	}
	freeaddrinfo(ai);
	static unsigned char msg[70000], buf[70000];
	int nmsg = argc - optind - 2;
	if (!tcp) {
		for (int i = 0; i < nmsg; i++) {
			size_t n = unhex(argv[optind + 2 + i], msg, sizeof(msg));
			if (send(fd, msg, n, 0) < 0) {
				perror("dnsraw: send");
				return 1;
			}
			struct pollfd pfd = {.fd = fd, .events = POLLIN};
			if (poll(&pfd, 1, wait_ms) <= 0) {
				printf("none\n");
				continue;
			}
			ssize_t r = recv(fd, buf, sizeof(buf), 0);
			if (r < 0)
				printf("none\n");
			else
				hexline(buf, (size_t)r);
		}
		return 0;
	}
	size_t total = 0;
	for (int i = 0; i < nmsg; i++) {
		size_t n = unhex(argv[optind + 2 + i], msg + total + 2, sizeof(msg) - total - 2);
		msg[total] = (unsigned char)(n >> 8);
		msg[total + 1] = (unsigned char)n;
		total += n + 2;
	}
	if (write(fd, msg, total) != (ssize_t)total) {
		perror("dnsraw: write");
		return 1;
	}
	long deadline = now_ms() + wait_ms;
	for (;;) {
		unsigned char lp[2];
		int r = read_full(fd, lp, 2, deadline);
		if (r == 0) {
			printf("eof\n");
			break;
		}
		if (r < 0) {
			printf("none\n");
			break;
		}
		size_t n = (size_t)(lp[0] << 8 | lp[1]);
		if (read_full(fd, buf, n, deadline) != 1) {
			printf("none\n");
			break;
		}
		hexline(buf, n);
	}
	close(fd);
	return 0;
}
