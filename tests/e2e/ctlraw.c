/* ctlraw.c -- test tool: write raw bytes to a Unix stream socket and print what comes back.
 *
 * usage: ctlraw [-k] [-t MS] SOCKET
 *   Sends standard input as is, then reads until the server closes the
 *   connection (exit 0) or MS milliseconds (default 5000) pass (exit 1).
 *   Without -k the sending side is shut down after standard input is sent,
 *   as `nc -N` would; with -k it stays open, so the server sees a client
 *   that is still there and silent. Exit 2: usage or cannot connect.
 * usage: ctlraw -D PATH [-t MS]
 *   Plays systemd's side of sd_notify(3): binds a datagram socket at PATH
 *   and prints each datagram received on its own line, until one contains
 *   "STOPPING=1" (exit 0) or MS milliseconds pass (exit 1). */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int notify_listen(const char *path, long timeout)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path))
		return 2;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "ctlraw: %s: %s\n", path, strerror(errno));
		return 2;
	}
	long deadline = now_ms() + timeout;
	for (;;) {
		long left = deadline - now_ms();
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (left <= 0 || poll(&p, 1, (int)left) == 0)
			return 1;
		char buf[4096];
		ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n < 0)
			continue;
		buf[n] = '\0';
		for (char *q = buf; *q; q++)
			if (*q == '\n')
				*q = ' ';
		printf("%s\n", buf);
		fflush(stdout);
		if (strstr(buf, "STOPPING=1"))
			return 0;
	}
}

int main(int argc, char **argv)
{
	bool keep = false;
	long timeout = 5000;
	const char *notify = NULL;
	int c;
	while ((c = getopt(argc, argv, "kt:D:")) != -1) {
		if (c == 'k')
			keep = true;
		else if (c == 't')
			timeout = atol(optarg);
		else if (c == 'D')
			notify = optarg;
		else
			return 2;
	}
	if (notify)
		return optind == argc ? notify_listen(notify, timeout) : 2;
	if (optind + 1 != argc)
		return 2;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(argv[optind]) >= sizeof(sa.sun_path))
		return 2;
	strcpy(sa.sun_path, argv[optind]);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "ctlraw: %s: %s\n", argv[optind], strerror(errno));
		return 2;
	}
	char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0) {
		size_t off = 0;
		while (off < n) {
			ssize_t w = send(fd, buf + off, n - off, MSG_NOSIGNAL);
			if (w < 0) {
				/* The server may close on us mid-way (a request
				 * too long): go on to read what it said. */
				goto read;
			}
			off += (size_t)w;
		}
	}
	if (!keep)
		shutdown(fd, SHUT_WR);
read:;
	long deadline = now_ms() + timeout;
	for (;;) {
		long left = deadline - now_ms();
		if (left <= 0)
			return 1;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int r = poll(&p, 1, (int)left);
		if (r == 0)
			return 1;
		if (r < 0 && errno == EINTR)
			continue;
		ssize_t got = recv(fd, buf, sizeof(buf), 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break; /* closed by the server (or reset) */
		fwrite(buf, 1, (size_t)got, stdout);
		fflush(stdout);
	}
	close(fd);
	return 0;
}
