/* gencheck.c -- test tool: query a TXT RRset that names its world's generation twice; flag any mix.
 *
 * usage: gencheck [-r QPS] [-d SECONDS] [-n MAX] PORT NAME
 *   Sends "NAME TXT" queries over UDP to 127.0.0.1:PORT, one at a time, at
 *   most QPS per second (default 1000), for SECONDS (default 5) or MAX
 *   queries (default 100000), whichever comes first. The zone holds two TXT
 *   records at NAME, "gen=N a" and "gen=N b", with N the generation of the
 *   zone file. Every answer must carry both records with the same N: an
 *   answer built from two worlds would not. A query unanswered within one
 *   second is lost.
 *   Prints "sent=S answered=A lost=L mixed=M bad=B generations=G" where G
 *   counts the distinct generations seen. Exit 0 when L, M and B are 0. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* NAME in wire form into out; returns its length or 0. */
static size_t put_name(const char *name, unsigned char *out, size_t cap)
{
	size_t n = 0;
	while (*name) {
		const char *dot = strchr(name, '.');
		size_t len = dot ? (size_t)(dot - name) : strlen(name);
		if (len == 0 || len > 63 || n + len + 2 > cap)
			return 0;
		out[n++] = (unsigned char)len;
		memcpy(out + n, name, len);
		n += len;
		name += len + (dot ? 1 : 0);
	}
	out[n++] = 0;
	return n;
}

/* Skip a (possibly compressed) name at p[off..len); returns the offset after it, or 0. */
static size_t skip_name(const unsigned char *p, size_t len, size_t off)
{
	while (off < len) {
		unsigned char l = p[off];
		if ((l & 0xC0) == 0xC0)
			return off + 2 <= len ? off + 2 : 0;
		if (l == 0)
			return off + 1;
		off += 1u + l;
	}
	return 0;
}

/* Check one response: -1 malformed/unexpected, 0 mixed, 1 consistent (gen in *gen). */
static int check(const unsigned char *p, size_t len, long *gen)
{
	if (len < 12 || (p[3] & 0x0F) != 0)
		return -1;
	unsigned qd = (unsigned)(p[4] << 8 | p[5]), an = (unsigned)(p[6] << 8 | p[7]);
	size_t off = 12;
	for (unsigned i = 0; i < qd; i++) {
		off = skip_name(p, len, off);
		if (!off || off + 4 > len)
			return -1;
		off += 4;
	}
	long seen[2];
	unsigned n = 0;
	for (unsigned i = 0; i < an; i++) {
		off = skip_name(p, len, off);
		if (!off || off + 10 > len)
			return -1;
		unsigned type = (unsigned)(p[off] << 8 | p[off + 1]);
		size_t rdlen = (size_t)(p[off + 8] << 8 | p[off + 9]);
		off += 10;
		if (off + rdlen > len)
			return -1;
		if (type == 16 && rdlen > 1 && n < 2) {
			char txt[256];
			size_t sl = p[off];
			if (sl + 1 > rdlen)
				return -1;
			memcpy(txt, p + off + 1, sl);
			txt[sl] = '\0';
			if (sscanf(txt, "gen=%ld", &seen[n]) != 1)
				return -1;
			n++;
		}
		off += rdlen;
	}
	if (n != 2)
		return -1;
	*gen = seen[0];
	return seen[0] == seen[1] ? 1 : 0;
}

int main(int argc, char **argv)
{
	double qps = 1000, secs = 5;
	unsigned long max = 100000;
	int c;
	while ((c = getopt(argc, argv, "r:d:n:")) != -1) {
		if (c == 'r')
			qps = atof(optarg);
		else if (c == 'd')
			secs = atof(optarg);
		else if (c == 'n')
			max = strtoul(optarg, NULL, 10);
		else
			return 2;
	}
	if (optind + 2 != argc || qps <= 0 || secs <= 0 || secs > 600)
		return 2;
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)atoi(argv[optind]))};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("gencheck");
		return 2;
	}
	unsigned char q[512] = {0};
	q[2] = 0x00; /* QR=0, opcode 0, RD=0 */
	q[5] = 1;    /* QDCOUNT */
	size_t nl = put_name(argv[optind + 1], q + 12, sizeof(q) - 16);
	if (!nl)
		return 2;
	size_t qlen = 12 + nl;
	q[qlen++] = 0;
	q[qlen++] = 16; /* TXT */
	q[qlen++] = 0;
	q[qlen++] = 1; /* IN */

	unsigned long sent = 0, answered = 0, lost = 0, mixed = 0, bad = 0, gens = 0;
	long last_gen = -1;
	double start = now_s(), end = start + secs;
	unsigned short id = (unsigned short)getpid();
	while (sent < max && now_s() < end) {
		/* Pace: query k goes out no earlier than start + k/qps. */
		double due = start + (double)sent / qps, t = now_s();
		if (due > t) {
			struct timespec ts = {
			    .tv_sec = (time_t)(due - t),
			    .tv_nsec = (long)((due - t - (double)(time_t)(due - t)) * 1e9)};
			nanosleep(&ts, NULL);
		}
		id++;
		q[0] = (unsigned char)(id >> 8);
		q[1] = (unsigned char)id;
		if (send(fd, q, qlen, 0) < 0) {
			perror("gencheck: send");
			return 2;
		}
		sent++;
		double deadline = now_s() + 1.0;
		bool got = false;
		while (!got) {
			int left = (int)((deadline - now_s()) * 1000);
			if (left <= 0)
				break;
			struct pollfd p = {.fd = fd, .events = POLLIN};
			if (poll(&p, 1, left) <= 0)
				continue;
			unsigned char r[4096];
			ssize_t n = recv(fd, r, sizeof(r), 0);
			if (n < 12 || r[0] != q[0] || r[1] != q[1])
				continue; /* not the reply to this query */
			got = true;
			long gen = 0;
			int v = check(r, (size_t)n, &gen);
			if (v < 0)
				bad++;
			else if (v == 0)
				mixed++;
			else if (gen != last_gen) {
				gens++;
				last_gen = gen;
			}
		}
		if (got)
			answered++;
		else
			lost++;
	}
	/* Generations are counted as changes seen in order; with several
	 * reloads between two queries some are skipped, never invented. */
	printf("sent=%lu answered=%lu lost=%lu mixed=%lu bad=%lu generations=%lu\n", sent, answered,
	       lost, mixed, bad, gens);
	return lost || mixed || bad ? 1 : 0;
}
