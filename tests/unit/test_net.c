/* test_net.c -- worker threads over loopback: UDP and TCP (RFC 7766) round trips, limits, stop. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <urcu/urcu-memb.h>

#include "net/net.h"

/* Every wait in this file is a poll() with a deadline: a broken server
 * fails a test, it never hangs it. */
#define WAIT_MS 3000

/* Last resort should net_stop itself hang: SIGALRM ends the test process
 * (workers block it, so it hits the test's thread) and Criterion reports a
 * crash. Not Criterion's .timeout: its runner leaks when tests run in
 * parallel, which LeakSanitizer turns into a failed run. */
static void watchdog(void)
{
	alarm(60);
}

TestSuite(net_udp, .init = watchdog);
TestSuite(net_tcp, .init = watchdog);
TestSuite(net_threads, .init = watchdog);

/* Query IDs that make the test handler behave differently. */
#define ID_DROP 0xD0D0 /* answer nothing */
#define ID_BIG 0xB160  /* answer BIG_LEN bytes */
#define BIG_LEN 65000

/* What the handler saw, for the assertions; written by worker threads. */
static _Atomic unsigned handler_calls;
static _Atomic unsigned handler_outside_rcu;
static _Atomic unsigned handler_bad_stats;

typedef struct test_ctx {
	net_server_t *s;
} test_ctx_t;

static test_ctx_t ctx;

/* The answer is the query with QR set, followed by two bytes: the worker's
 * id and 'U' or 'T' for the transport. */
static size_t test_handler(void *arg, net_query_t *q)
{
	test_ctx_t *c = arg;
	unsigned n;
	stats_t *blocks;
	uint16_t id;

	atomic_fetch_add(&handler_calls, 1);
	if (!urcu_memb_read_ongoing())
		atomic_fetch_add(&handler_outside_rcu, 1);
	blocks = net_stats(c->s, &n);
	if (q->worker >= n || q->stats != &blocks[q->worker])
		atomic_fetch_add(&handler_bad_stats, 1);
	if (q->req_len < 12 || q->req_len + 2 > q->resp_cap)
		return 0;
	id = (uint16_t)(q->req[0] << 8 | q->req[1]);
	if (id == ID_DROP)
		return 0;
	memcpy(q->resp, q->req, q->req_len);
	q->resp[2] |= 0x80;
	if (id == ID_BIG) {
		memset(q->resp + q->req_len, 0, BIG_LEN - q->req_len);
		return BIG_LEN;
	}
	q->resp[q->req_len] = (uint8_t)q->worker;
	q->resp[q->req_len + 1] = q->tcp ? 'T' : 'U';
	return q->req_len + 2;
}

/* A 29-byte query for example.com/A with the given ID. */
static size_t make_query(uint8_t *buf, uint16_t id)
{
	static const uint8_t rest[] = {0x01, 0x00, 0,   1,   0,   0,   0,   0,   0,
				       0,    7,    'e', 'x', 'a', 'm', 'p', 'l', 'e',
				       3,    'c',  'o', 'm', 0,   0,   1,   0,   1};

	buf[0] = (uint8_t)(id >> 8);
	buf[1] = (uint8_t)id;
	memcpy(buf + 2, rest, sizeof(rest));
	return 2 + sizeof(rest);
}

#define QLEN 29

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Wait until fd is readable; 0, or -1 on timeout. */
static int wait_readable(int fd, long deadline)
{
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		long left = deadline - now_ms();
		int r;

		if (left <= 0)
			return -1;
		r = poll(&p, 1, (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

static void pause_ms(int ms)
{
	poll(NULL, 0, ms);
}

static bool have_ipv6_loopback(void)
{
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	int fd = socket(AF_INET6, SOCK_DGRAM, 0);
	bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

static socklen_t make_addr(struct sockaddr_storage *ss, int family, const char *ip, uint16_t port)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		cr_assert_eq(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
		return sizeof(*sin);
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	cr_assert_eq(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
	return sizeof(*sin6);
}

static uint16_t addr_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

typedef struct server {
	net_server_t *s;
	struct sockaddr_storage addr; /* where clients connect */
	socklen_t len;
} server_t;

static void server_start_at(server_t *sv, int family, const char *ip, unsigned threads,
			    unsigned idle_ms, unsigned max_clients)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(&ss, family, ip, 0);
	net_params_t p = {
	    .addrs = &ss,
	    .addr_lens = &len,
	    .n_addrs = 1,
	    .threads = threads,
	    .tcp_idle_timeout_ms = idle_ms,
	    .tcp_max_clients = max_clients,
	    .handler = test_handler,
	    .handler_ctx = &ctx,
	};
	char err[256] = "";

	sv->s = net_bind(&p, err, sizeof(err));
	cr_assert_not_null(sv->s, "net_bind: %s", err);
	ctx.s = sv->s;
	cr_assert_eq(net_bound_addr(sv->s, 0, &sv->addr, &sv->len), 0);
	cr_assert_neq(addr_port(&sv->addr), 0, "port 0 was not resolved");
	cr_assert_eq(net_start(sv->s, err, sizeof(err)), 0, "net_start: %s", err);
}

static void server_start(server_t *sv, int family, unsigned threads, unsigned idle_ms,
			 unsigned max_clients)
{
	server_start_at(sv, family, family == AF_INET ? "127.0.0.1" : "::1", threads, idle_ms,
			max_clients);
}

/* Under ASan, a leak found at process exit comes after Criterion has
 * recorded the result: ask LeakSanitizer now, so a leak fails the test. */
int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

static void check_leaks(void)
{
	if (__lsan_do_recoverable_leak_check)
		cr_expect_eq(__lsan_do_recoverable_leak_check(), 0, "memory leaked (see stderr)");
}

static void server_done(server_t *sv)
{
	net_stop(sv->s);
	net_free(sv->s);
	sv->s = NULL;
	check_leaks();
	cr_expect_eq(atomic_load(&handler_outside_rcu), 0, "handler ran outside RCU read side");
	cr_expect_eq(atomic_load(&handler_bad_stats), 0, "handler got another worker's counters");
}

static uint64_t counter(server_t *sv, stat_id_t id)
{
	uint64_t sum[STAT_COUNT];
	unsigned n;
	stats_t *b = net_stats(sv->s, &n);

	stats_sum(b, n, sum);
	return sum[id];
}

/* --- clients ------------------------------------------------------------ */

static int udp_client(const struct sockaddr_storage *to, socklen_t len)
{
	int fd = socket(to->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	/* Connected: only datagrams from exactly `to` are received. */
	cr_assert_eq(connect(fd, (const struct sockaddr *)to, len), 0, "connect: %s",
		     strerror(errno));
	return fd;
}

/* Receive one datagram within WAIT_MS; its length, or -1. */
static ssize_t udp_recv(int fd, uint8_t *buf, size_t cap)
{
	if (wait_readable(fd, now_ms() + WAIT_MS) < 0)
		return -1;
	return recv(fd, buf, cap, 0);
}

static void check_answer(const uint8_t *a, size_t alen, uint16_t id, char transport)
{
	uint8_t q[QLEN];

	make_query(q, id);
	cr_assert_eq(alen, QLEN + 2, "answer length %zu", alen);
	cr_assert_eq(a[0], q[0]);
	cr_assert_eq(a[1], q[1]);
	cr_assert(a[2] & 0x80, "QR not set");
	cr_assert_eq(a[2] & 0x7f, q[2]);
	cr_assert_eq(memcmp(a + 3, q + 3, QLEN - 3), 0);
	cr_assert_eq(a[QLEN + 1], (uint8_t)transport);
}

static int tcp_client(const server_t *sv)
{
	int one = 1;
	int fd = socket(sv->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(connect(fd, (const struct sockaddr *)&sv->addr, sv->len), 0, "connect: %s",
		     strerror(errno));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static void write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		cr_assert_gt(n, 0, "write: %s", strerror(errno));
		p += n;
		len -= (size_t)n;
	}
}

/* Read exactly len bytes before the deadline: 0, or -1 (EOF, error, timeout). */
static int read_exact(int fd, uint8_t *buf, size_t len, long deadline)
{
	while (len > 0) {
		ssize_t n;

		if (wait_readable(fd, deadline) < 0)
			return -1;
		n = read(fd, buf, len);
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static size_t frame_query(uint8_t *buf, uint16_t id)
{
	size_t n = make_query(buf + 2, id);

	buf[0] = (uint8_t)(n >> 8);
	buf[1] = (uint8_t)n;
	return n + 2;
}

static void tcp_send_query(int fd, uint16_t id)
{
	uint8_t f[QLEN + 2];

	write_all(fd, f, frame_query(f, id));
}

/* Read one framed answer into buf (cap >= 65535); its length, or -1. */
static ssize_t tcp_read_answer(int fd, uint8_t *buf)
{
	long deadline = now_ms() + WAIT_MS;
	uint8_t lp[2];
	size_t len;

	if (read_exact(fd, lp, 2, deadline) < 0)
		return -1;
	len = (size_t)lp[0] << 8 | lp[1];
	if (read_exact(fd, buf, len, deadline) < 0)
		return -1;
	return (ssize_t)len;
}

static void tcp_expect_answer(int fd, uint16_t id)
{
	static uint8_t buf[65536];
	ssize_t n = tcp_read_answer(fd, buf);

	cr_assert_gt(n, 0, "no answer for id %#x", id);
	check_answer(buf, (size_t)n, id, 'T');
}

/* Wait for the server to close: the number of ms it took, or -1 on a
 * timeout or if data arrived instead. */
static long tcp_wait_close(int fd, long timeout_ms)
{
	long start = now_ms();
	uint8_t b;
	ssize_t n;

	if (wait_readable(fd, start + timeout_ms) < 0)
		return -1;
	n = recv(fd, &b, 1, 0);
	if (n == 0 || (n < 0 && errno == ECONNRESET))
		return now_ms() - start;
	return -1;
}

/* --- UDP ---------------------------------------------------------------- */

static void udp_roundtrip(int family)
{
	server_t sv;
	uint8_t q[QLEN], a[512];
	int fd;
	ssize_t n;

	server_start(&sv, family, 1, 1000, 10);
	fd = udp_client(&sv.addr, sv.len);
	cr_assert_eq(send(fd, q, make_query(q, 0x1234), 0), QLEN);
	n = udp_recv(fd, a, sizeof(a));
	cr_assert_gt(n, 0, "no UDP answer");
	check_answer(a, (size_t)n, 0x1234, 'U');
	cr_assert_eq(a[QLEN], 0, "worker id");
	cr_assert_eq(counter(&sv, STAT_UDP_QUERIES), 1);
	cr_assert_eq(counter(&sv, STAT_DROPPED), 0);
	close(fd);
	server_done(&sv);
}

Test(net_udp, v4_roundtrip)
{
	udp_roundtrip(AF_INET);
}

Test(net_udp, v6_roundtrip)
{
	if (!have_ipv6_loopback())
		cr_skip_test("no ::1 on this host");
	udp_roundtrip(AF_INET6);
}

/* The handler returns 0: nothing is sent, the drop is counted. One worker
 * handles the socket's datagrams in order, so once the next query's answer
 * is here, an answer to the dropped one would be here too. */
Test(net_udp, handler_zero_drops)
{
	server_t sv;
	uint8_t q[QLEN], a[512];
	int fd;
	ssize_t n;

	server_start(&sv, AF_INET, 1, 1000, 10);
	fd = udp_client(&sv.addr, sv.len);
	cr_assert_eq(send(fd, q, make_query(q, ID_DROP), 0), QLEN);
	cr_assert_eq(send(fd, q, make_query(q, 0x0042), 0), QLEN);
	n = udp_recv(fd, a, sizeof(a));
	check_answer(a, (size_t)n, 0x0042, 'U');
	cr_assert_eq(recv(fd, a, sizeof(a), MSG_DONTWAIT), -1, "the dropped query was answered");
	cr_assert_eq(counter(&sv, STAT_UDP_QUERIES), 2);
	cr_assert_eq(counter(&sv, STAT_DROPPED), 1);
	close(fd);
	server_done(&sv);
}

/* Many queries at once go through recvmmsg/sendmmsg batches. */
Test(net_udp, batch)
{
	enum { N = 200 };
	server_t sv;
	uint8_t q[QLEN], a[512];
	bool seen[N] = {false};
	int fd;

	server_start(&sv, AF_INET, 1, 1000, 10);
	fd = udp_client(&sv.addr, sv.len);
	for (unsigned i = 0; i < N; i++)
		cr_assert_eq(send(fd, q, make_query(q, (uint16_t)i), 0), QLEN);
	for (unsigned i = 0; i < N; i++) {
		ssize_t n = udp_recv(fd, a, sizeof(a));
		unsigned id;

		cr_assert_eq(n, QLEN + 2, "answer %u missing", i);
		id = (unsigned)a[0] << 8 | a[1];
		cr_assert_lt(id, N);
		cr_assert_not(seen[id]);
		seen[id] = true;
		check_answer(a, (size_t)n, (uint16_t)id, 'U');
	}
	cr_assert_eq(counter(&sv, STAT_UDP_QUERIES), N);
	close(fd);
	server_done(&sv);
}

/* On a wildcard address the answer must come from the address the query
 * went to: 127.0.0.2 here, while the kernel would pick 127.0.0.1. The
 * connected client socket only accepts datagrams from 127.0.0.2. */
Test(net_udp, wildcard_replies_from_query_address)
{
	server_t sv;
	struct sockaddr_storage to;
	socklen_t tolen;
	uint8_t q[QLEN], a[512];
	int fd;
	ssize_t n;

	server_start_at(&sv, AF_INET, "0.0.0.0", 1, 1000, 10);
	tolen = make_addr(&to, AF_INET, "127.0.0.2", addr_port(&sv.addr));
	fd = udp_client(&to, tolen);
	cr_assert_eq(send(fd, q, make_query(q, 0x0202), 0), QLEN);
	n = udp_recv(fd, a, sizeof(a));
	cr_assert_gt(n, 0, "no answer from 127.0.0.2");
	check_answer(a, (size_t)n, 0x0202, 'U');
	close(fd);
	server_done(&sv);
}

Test(net_udp, wildcard_v6)
{
	server_t sv;
	struct sockaddr_storage to;
	socklen_t tolen;
	uint8_t q[QLEN], a[512];
	int fd;
	ssize_t n;

	if (!have_ipv6_loopback())
		cr_skip_test("no ::1 on this host");
	server_start_at(&sv, AF_INET6, "::", 1, 1000, 10);
	tolen = make_addr(&to, AF_INET6, "::1", addr_port(&sv.addr));
	fd = udp_client(&to, tolen);
	cr_assert_eq(send(fd, q, make_query(q, 0x0606), 0), QLEN);
	n = udp_recv(fd, a, sizeof(a));
	cr_assert_gt(n, 0, "no answer from ::1");
	check_answer(a, (size_t)n, 0x0606, 'U');
	close(fd);
	server_done(&sv);
}

/* --- TCP ---------------------------------------------------------------- */

Test(net_tcp, one_query)
{
	server_t sv;
	int fd;

	server_start(&sv, AF_INET, 1, 5000, 10);
	fd = tcp_client(&sv);
	tcp_send_query(fd, 0x1111);
	tcp_expect_answer(fd, 0x1111);
	cr_assert_eq(counter(&sv, STAT_TCP_QUERIES), 1);
	cr_assert_eq(counter(&sv, STAT_TCP_ACCEPTED), 1);
	close(fd);
	server_done(&sv);
}

Test(net_tcp, v6_one_query)
{
	server_t sv;
	int fd;

	if (!have_ipv6_loopback())
		cr_skip_test("no ::1 on this host");
	server_start(&sv, AF_INET6, 1, 5000, 10);
	fd = tcp_client(&sv);
	tcp_send_query(fd, 0x6666);
	tcp_expect_answer(fd, 0x6666);
	close(fd);
	server_done(&sv);
}

/* RFC 7766 6.2.1.1: three queries in one segment, three answers in order. */
Test(net_tcp, pipelined_in_one_write)
{
	server_t sv;
	uint8_t buf[3 * (QLEN + 2)];
	size_t len = 0;
	int fd;

	server_start(&sv, AF_INET, 1, 5000, 10);
	fd = tcp_client(&sv);
	for (uint16_t id = 1; id <= 3; id++)
		len += frame_query(buf + len, id);
	write_all(fd, buf, len);
	for (uint16_t id = 1; id <= 3; id++)
		tcp_expect_answer(fd, id);
	cr_assert_eq(counter(&sv, STAT_TCP_QUERIES), 3);
	close(fd);
	server_done(&sv);
}

/* Many pipelined queries: more than fit in one read, answers still in order. */
Test(net_tcp, pipelined_many)
{
	enum { N = 3000 };
	static uint8_t buf[N * (QLEN + 2)];
	server_t sv;
	size_t len = 0;
	int fd;

	server_start(&sv, AF_INET, 1, 5000, 10);
	fd = tcp_client(&sv);
	for (unsigned i = 0; i < N; i++)
		len += frame_query(buf + len, (uint16_t)i);
	write_all(fd, buf, len);
	for (unsigned i = 0; i < N; i++)
		tcp_expect_answer(fd, (uint16_t)i);
	cr_assert_eq(counter(&sv, STAT_TCP_QUERIES), N);
	close(fd);
	server_done(&sv);
}

Test(net_tcp, byte_by_byte)
{
	server_t sv;
	uint8_t f[QLEN + 2];
	size_t len;
	int fd;

	server_start(&sv, AF_INET, 1, 5000, 10);
	fd = tcp_client(&sv);
	len = frame_query(f, 0xbbbb);
	for (size_t i = 0; i < len; i++) {
		write_all(fd, f + i, 1);
		pause_ms(2); /* separate segments, most likely; correct either way */
	}
	tcp_expect_answer(fd, 0xbbbb);
	close(fd);
	server_done(&sv);
}

/* The length prefix in one segment, the message in the next; then a
 * prefix itself split in two. */
Test(net_tcp, split_length_prefix)
{
	server_t sv;
	uint8_t f[QLEN + 2];
	size_t len;
	int fd;

	server_start(&sv, AF_INET, 1, 5000, 10);
	fd = tcp_client(&sv);
	len = frame_query(f, 0x5151);
	write_all(fd, f, 2);
	pause_ms(20);
	write_all(fd, f + 2, len - 2);
	tcp_expect_answer(fd, 0x5151);

	len = frame_query(f, 0x5252);
	write_all(fd, f, 1);
	pause_ms(20);
	write_all(fd, f + 1, len - 1);
	tcp_expect_answer(fd, 0x5252);
	close(fd);
	server_done(&sv);
}

/* The client half-closes after its queries: it still gets every answer,
 * then the server closes. */
Test(net_tcp, eof_after_queries_gets_answers)
{
	server_t sv;
	uint8_t buf[3 * (QLEN + 2)];
	size_t len = 0;
	int fd;

	server_start(&sv, AF_INET, 1, 5000, 10);
	fd = tcp_client(&sv);
	for (uint16_t id = 7; id <= 9; id++)
		len += frame_query(buf + len, id);
	write_all(fd, buf, len);
	cr_assert_eq(shutdown(fd, SHUT_WR), 0);
	for (uint16_t id = 7; id <= 9; id++)
		tcp_expect_answer(fd, id);
	cr_assert_geq(tcp_wait_close(fd, WAIT_MS), 0, "server did not close after EOF");
	close(fd);
	server_done(&sv);
}

/* A length below a DNS header closes the connection; the query before it
 * is still answered. */
Test(net_tcp, short_message_closes)
{
	static const uint16_t bad_lens[] = {5, 0};

	for (size_t k = 0; k < sizeof(bad_lens) / sizeof(bad_lens[0]); k++) {
		server_t sv;
		uint8_t buf[QLEN + 2 + 2 + 5] = {0};
		size_t len;
		int fd;

		server_start(&sv, AF_INET, 1, 5000, 10);
		fd = tcp_client(&sv);
		len = frame_query(buf, 0x0a0a);
		buf[len] = 0;
		buf[len + 1] = (uint8_t)bad_lens[k];
		len += 2 + bad_lens[k];
		write_all(fd, buf, len);
		tcp_expect_answer(fd, 0x0a0a);
		cr_assert_geq(tcp_wait_close(fd, WAIT_MS), 0, "length %u did not close",
			      bad_lens[k]);
		cr_assert_eq(counter(&sv, STAT_MALFORMED), 1);
		close(fd);
		server_done(&sv);
	}
}

/* RFC 7766 6.2.3: an idle connection is closed after the idle timeout. */
Test(net_tcp, idle_timeout_closes)
{
	server_t sv;
	long waited;
	long start;
	int fd;

	server_start(&sv, AF_INET, 1, 200, 10);
	fd = tcp_client(&sv);
	tcp_send_query(fd, 0x0101);
	tcp_expect_answer(fd, 0x0101);
	start = now_ms();
	waited = tcp_wait_close(fd, 5000);
	cr_assert_geq(waited, 0, "idle connection not closed");
	cr_assert_geq(now_ms() - start, 100, "closed too early (%ld ms)", now_ms() - start);
	cr_assert_eq(counter(&sv, STAT_TCP_TIMEOUTS), 1);
	close(fd);
	server_done(&sv);
}

/* Activity re-arms the idle timer: queries every 100 ms keep a connection
 * with a 600 ms timeout open for well beyond 600 ms. */
Test(net_tcp, activity_resets_idle_timer)
{
	server_t sv;
	int fd;

	server_start(&sv, AF_INET, 1, 600, 10);
	fd = tcp_client(&sv);
	for (uint16_t id = 1; id <= 12; id++) {
		tcp_send_query(fd, id);
		tcp_expect_answer(fd, id);
		pause_ms(100);
	}
	cr_assert_eq(counter(&sv, STAT_TCP_TIMEOUTS), 0);
	close(fd);
	server_done(&sv);
}

/* tcp_max_clients = 2: a third connection is accepted and closed at once;
 * once a client leaves, there is room again. */
Test(net_tcp, connection_limit)
{
	server_t sv;
	int c1, c2, c3;
	bool served = false;

	server_start(&sv, AF_INET, 1, 10000, 2);
	c1 = tcp_client(&sv);
	tcp_send_query(c1, 1);
	tcp_expect_answer(c1, 1);
	c2 = tcp_client(&sv);
	tcp_send_query(c2, 2);
	tcp_expect_answer(c2, 2);
	c3 = tcp_client(&sv);
	cr_assert_geq(tcp_wait_close(c3, WAIT_MS), 0, "third connection not closed");
	cr_assert_eq(counter(&sv, STAT_TCP_REJECTED), 1);
	cr_assert_eq(counter(&sv, STAT_TCP_ACCEPTED), 2);
	close(c3);

	/* The server learns of c1's close asynchronously: retry, bounded. */
	close(c1);
	for (int attempt = 0; attempt < 100 && !served; attempt++) {
		static uint8_t buf[65536];
		int c4 = tcp_client(&sv);

		tcp_send_query(c4, 4);
		served = tcp_read_answer(c4, buf) > 0;
		close(c4);
		if (!served)
			pause_ms(20);
	}
	cr_assert(served, "no room after a client left");
	tcp_send_query(c2, 5);
	tcp_expect_answer(c2, 5);
	close(c2);
	server_done(&sv);
}

/* A client that sends many queries with large answers and never reads:
 * the server stops answering and reading it (bounded memory) and keeps
 * serving another client on the same worker meanwhile. */
Test(net_tcp, non_reading_client_backpressure)
{
	enum { N = 4000 };
	server_t sv;
	uint8_t f[QLEN + 2];
	unsigned sent = 0;
	int hog, other;

	server_start(&sv, AF_INET, 1, 20000, 10);
	hog = tcp_client(&sv);
	cr_assert_eq(fcntl(hog, F_SETFL, O_NONBLOCK), 0);
	frame_query(f, ID_BIG);
	for (; sent < N; sent++) {
		ssize_t n = send(hog, f, sizeof(f), 0);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		cr_assert_eq(n, (ssize_t)sizeof(f), "send: %s", strerror(errno));
	}
	cr_assert_gt(sent, 100);

	other = tcp_client(&sv);
	for (uint16_t id = 1; id <= 5; id++) {
		tcp_send_query(other, id);
		tcp_expect_answer(other, id);
	}
	/* 4000 answers of 65000 bytes are 260 MB; kernel buffers hold a few. */
	cr_assert_lt(counter(&sv, STAT_TCP_QUERIES), 5 + (uint64_t)sent / 2,
		     "%lu queries answered for a client that reads nothing",
		     (unsigned long)counter(&sv, STAT_TCP_QUERIES));
	cr_assert_eq(counter(&sv, STAT_DROPPED), 0);
	close(other);
	close(hog);
	server_done(&sv);
}

/* --- threads and lifetime ------------------------------------------------ */

/* With 2 workers, SO_REUSEPORT spreads clients over both: different source
 * ports until each worker has answered (2^-63 chance to miss with 64). */
Test(net_threads, two_workers_both_serve)
{
	server_t sv;
	bool udp_seen[2] = {false, false};
	bool tcp_seen[2] = {false, false};

	server_start(&sv, AF_INET, 2, 5000, 100);
	for (int i = 0; i < 64 && !(udp_seen[0] && udp_seen[1]); i++) {
		uint8_t q[QLEN], a[512];
		int fd = udp_client(&sv.addr, sv.len);
		ssize_t n;

		cr_assert_eq(send(fd, q, make_query(q, (uint16_t)i), 0), QLEN);
		n = udp_recv(fd, a, sizeof(a));
		check_answer(a, (size_t)n, (uint16_t)i, 'U');
		cr_assert_lt(a[QLEN], 2);
		udp_seen[a[QLEN]] = true;
		close(fd);
	}
	for (int i = 0; i < 64 && !(tcp_seen[0] && tcp_seen[1]); i++) {
		static uint8_t a[65536];
		int fd = tcp_client(&sv);
		ssize_t n;

		tcp_send_query(fd, (uint16_t)i);
		n = tcp_read_answer(fd, a);
		check_answer(a, (size_t)n, (uint16_t)i, 'T');
		cr_assert_lt(a[QLEN], 2);
		tcp_seen[a[QLEN]] = true;
		close(fd);
	}
	cr_assert(udp_seen[0] && udp_seen[1], "UDP: one worker never answered");
	cr_assert(tcp_seen[0] && tcp_seen[1], "TCP: one worker never answered");
	server_done(&sv);
}

/* Stop with open connections (idle, mid-query, unanswered output): clients
 * see the close, and nothing leaks (ASan/LSan). */
Test(net_threads, stop_with_open_connections)
{
	server_t sv;
	uint8_t f[QLEN + 2];
	int idle, partial;

	server_start(&sv, AF_INET, 2, 10000, 10);
	idle = tcp_client(&sv);
	tcp_send_query(idle, 1);
	tcp_expect_answer(idle, 1);
	partial = tcp_client(&sv);
	frame_query(f, 2);
	write_all(partial, f, 10);
	net_stop(sv.s);
	cr_assert_geq(tcp_wait_close(idle, WAIT_MS), 0);
	cr_assert_geq(tcp_wait_close(partial, WAIT_MS), 0);
	net_stop(sv.s); /* a second stop does nothing */
	net_free(sv.s);
	check_leaks();
	close(idle);
	close(partial);
}

/* A stop right after the start must not be lost before the loops run. */
Test(net_threads, stop_right_after_start)
{
	for (int i = 0; i < 20; i++) {
		server_t sv;

		server_start(&sv, AF_INET, 4, 1000, 10);
		server_done(&sv);
	}
}

Test(net_threads, bind_then_free_without_start)
{
	struct sockaddr_storage ss[2];
	socklen_t lens[2];
	net_params_t p = {
	    .addrs = ss,
	    .addr_lens = lens,
	    .n_addrs = 2,
	    .threads = 3,
	    .handler = test_handler,
	    .handler_ctx = &ctx,
	};
	struct sockaddr_storage b0, b1;
	socklen_t l0, l1;
	char err[256] = "";
	net_server_t *s;

	lens[0] = make_addr(&ss[0], AF_INET, "127.0.0.1", 0);
	lens[1] = make_addr(&ss[1], AF_INET, "127.0.0.1", 0);
	s = net_bind(&p, err, sizeof(err));
	cr_assert_not_null(s, "net_bind: %s", err);
	cr_assert_eq(net_bound_addr(s, 0, &b0, &l0), 0);
	cr_assert_eq(net_bound_addr(s, 1, &b1, &l1), 0);
	cr_assert_neq(addr_port(&b0), addr_port(&b1));
	cr_assert_eq(net_bound_addr(s, 2, &b1, &l1), -1);
	net_free(s);
	check_leaks();
}

Test(net_threads, bind_errors_name_the_address)
{
	struct sockaddr_storage ss;
	socklen_t len;
	net_params_t p = {
	    .addrs = &ss,
	    .addr_lens = &len,
	    .n_addrs = 1,
	    .threads = 1,
	    .handler = test_handler,
	    .handler_ctx = &ctx,
	};
	struct sockaddr_in taken = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
	socklen_t tlen = sizeof(taken);
	char err[256] = "";
	char want[128];
	int fd;

	/* An address that is not on this host. */
	len = make_addr(&ss, AF_INET, "198.51.100.7", 0);
	cr_assert_null(net_bind(&p, err, sizeof(err)));
	cr_assert(strncmp(err, "bind 198.51.100.7:0: ", 21) == 0, "err: %s", err);

	/* A port held by a socket without SO_REUSEPORT. */
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&taken, tlen), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&taken, &tlen), 0);
	len = make_addr(&ss, AF_INET, "127.0.0.1", ntohs(taken.sin_port));
	cr_assert_null(net_bind(&p, err, sizeof(err)));
	snprintf(want, sizeof(want), "bind 127.0.0.1:%u: Address already in use",
		 (unsigned)ntohs(taken.sin_port));
	cr_assert_str_eq(err, want);
	close(fd);
	check_leaks();
}
