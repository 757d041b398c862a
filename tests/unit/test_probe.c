/* test_probe.c -- unit tests of probe/probe_conf.c and probe/probe.c against in-test loopback
 * peers. */
#include "config.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "conf/conf.h"
#include "core/log.h"
#include "probe/probe.h"
#include "probe/probe_conf.h"

/* Every test is bounded: a watchdog kills a test that hangs (Criterion's own
 * .timeout leaks under LSan in parallel runs), and each event loop has its
 * own exit timer. Peers use blocking sockets with receive timeouts. */
static void watchdog(void)
{
	signal(SIGPIPE, SIG_IGN);
	log_set_level(LOG_LVL_ERR);
	alarm(60);
}

TestSuite(probe_conf, .init = watchdog);
TestSuite(probe_state, .init = watchdog);
TestSuite(probe_net, .init = watchdog);
TestSuite(probe_tls, .init = watchdog);
TestSuite(probe_exec, .init = watchdog);
TestSuite(probe_thread, .init = watchdog);

/* ---- config helpers --------------------------------------------------------------------- */

typedef struct {
	conf_doc_t *doc;
	conf_errs_t errs;
	probe_conf_t *conf;
} cfg_t;

static void cfg_load(cfg_t *c, const char *yaml)
{
	conf_errs_init(&c->errs);
	c->doc = conf_load_string("t.yaml", yaml, strlen(yaml), &c->errs);
	cr_assert_not_null(c->doc, "yaml: %s", c->errs.count ? c->errs.msg[0] : "?");
	c->conf = probe_conf_load(c->doc, &c->errs);
}

static void cfg_free(cfg_t *c)
{
	probe_conf_free(c->conf);
	conf_free(c->doc);
	conf_errs_free(&c->errs);
}

/* Load `yaml` that must be good. */
static void cfg_good(cfg_t *c, const char *yaml)
{
	cfg_load(c, yaml);
	for (unsigned i = 0; i < c->errs.count && i < CONF_ERRS_MAX; i++)
		cr_log_error("error %u: %s", i, c->errs.msg[i]);
	cr_assert_not_null(c->conf);
	cr_assert_eq(c->errs.count, 0);
}

/* Load `yaml` that must fail with exactly the one error `want`. */
static void expect_error(const char *yaml, const char *want)
{
	cfg_t c;

	cfg_load(&c, yaml);
	cr_expect_null(c.conf);
	cr_assert_eq(c.errs.count, 1, "want 1 error, got %u: %s", c.errs.count,
		     c.errs.count ? c.errs.msg[0] : "");
	cr_expect_str_eq(c.errs.msg[0], want);
	cfg_free(&c);
}

/* ---- config ----------------------------------------------------------------------------- */

Test(probe_conf, defaults_and_kinds)
{
	cfg_t c;

	cfg_good(&c, "checks:\n"
		     "  web:\n"
		     "    kind: https\n"
		     "    path: /autodiscover/autodiscoverservice.svc/root\n"
		     "    host: lyncdiscover.contoso.test\n"
		     "    status: [200, 401]\n"
		     "    body: Autodiscover\n"
		     "  port5061:\n"
		     "    kind: sip\n"
		     "    transport: tls\n"
		     "    sni: sip.contoso.test\n"
		     "  av:\n"
		     "    kind: stun\n"
		     "    interval: 30s\n"
		     "    jitter: 0.2\n"
		     "  raw:\n"
		     "    kind: tcp\n"
		     "    port: 8057\n"
		     "    interval: 2s\n"
		     "    timeout: 500ms\n"
		     "    rise: 1\n"
		     "    fall: 1\n"
		     "    fastinter: 700ms\n"
		     "    jitter: 100ms\n"
		     "    initial: down\n"
		     "  script:\n"
		     "    kind: exec\n"
		     "    command: [/bin/true, --flag]\n");
	cr_assert_eq(c.conf->n_checks, 5);
	const probe_check_t *w = &c.conf->checks[0];
	cr_expect_eq(w->kind, PROBE_HTTPS);
	cr_expect_eq(w->port, 443);
	cr_expect_eq(w->interval_ms, 10000);
	cr_expect_eq(w->timeout_ms, 2000);
	cr_expect_eq(w->rise, 2);
	cr_expect_eq(w->fall, 3);
	cr_expect_eq(w->fastinter_ms, 2500);
	cr_expect_eq(w->jitter_ms, 1000);
	cr_expect_eq(w->initial, PROBE_INITIAL_UNKNOWN);
	cr_expect_str_eq(w->method, "GET");
	cr_expect_str_eq(w->path, "/autodiscover/autodiscoverservice.svc/root");
	cr_expect_str_eq(w->host, "lyncdiscover.contoso.test");
	cr_expect_eq(w->n_status, 2);
	cr_expect_eq(w->status[1], 401);
	cr_expect_str_eq(w->body, "Autodiscover");
	cr_expect_eq(c.conf->checks[1].port, 5061);
	cr_expect(c.conf->checks[1].sip_tls);
	cr_expect_str_eq(c.conf->checks[1].sni, "sip.contoso.test");
	cr_expect_eq(c.conf->checks[2].port, 3478);
	cr_expect_eq(c.conf->checks[2].jitter_ms, 6000);
	cr_expect_eq(c.conf->checks[2].fastinter_ms, 7500);
	const probe_check_t *t = &c.conf->checks[3];
	cr_expect_eq(t->port, 8057);
	cr_expect_eq(t->timeout_ms, 500);
	cr_expect_eq(t->fastinter_ms, 700);
	cr_expect_eq(t->jitter_ms, 100);
	cr_expect_eq(t->rise, 1);
	cr_expect_eq(t->initial, PROBE_INITIAL_DOWN);
	cr_expect_str_eq(c.conf->checks[4].argv[0], "/bin/true");
	cr_expect_str_eq(c.conf->checks[4].argv[1], "--flag");
	cr_expect_null(c.conf->checks[4].argv[2]);
	cr_expect_eq(probe_conf_find(c.conf, "av"), 2);
	cr_expect_eq(probe_conf_find(c.conf, "nope"), -1);
	cfg_free(&c);
}

Test(probe_conf, fastinter_default_floor)
{
	cfg_t c;

	cfg_good(&c, "checks:\n  a: { kind: tcp, port: 1, interval: 2s, timeout: 1s }\n"
		     "  b: { kind: tcp, port: 1, interval: 500ms, timeout: 100ms }\n");
	cr_expect_eq(c.conf->checks[0].fastinter_ms, 1000);
	cr_expect_eq(c.conf->checks[1].fastinter_ms, 500);
	cfg_free(&c);
}

Test(probe_conf, no_checks_section)
{
	cfg_t c;

	cfg_good(&c, "members: {}\n");
	cr_expect_eq(c.conf->n_checks, 0);
	cfg_free(&c);
}

Test(probe_conf, unknown_kind)
{
	expect_error("checks:\n  a:\n    kind: ping\n",
		     "t.yaml:3:11: unknown check kind 'ping' (tcp, tls, http, https, stun, sip, "
		     "exec)");
}

Test(probe_conf, missing_kind)
{
	expect_error("checks:\n  a:\n    port: 1\n", "t.yaml:3:5: check 'a': missing kind");
}

Test(probe_conf, option_of_another_kind)
{
	expect_error("checks:\n  a:\n    kind: tcp\n    port: 80\n    path: /\n",
		     "t.yaml:5:5: unknown key 'path' in check");
}

Test(probe_conf, timeout_not_below_interval)
{
	expect_error("checks:\n  a:\n    kind: http\n    interval: 2s\n    timeout: 2s\n",
		     "t.yaml:5:14: timeout (2000 ms) must be below the interval (2000 ms)");
	/* The default timeout (2s) against a short interval: at the interval. */
	expect_error("checks:\n  a:\n    kind: http\n    interval: 1s\n",
		     "t.yaml:4:15: timeout (2000 ms) must be below the interval (1000 ms)");
}

Test(probe_conf, exec_missing_path)
{
	expect_error("checks:\n  a:\n    kind: exec\n    command: [/nonexistent/check, -x]\n",
		     "t.yaml:4:15: command: /nonexistent/check: No such file or directory");
}

Test(probe_conf, exec_command_not_a_list)
{
	expect_error("checks:\n  a:\n    kind: exec\n    command: /bin/true -x\n",
		     "t.yaml:4:14: command: want a list [program, arguments...] of at most 64 "
		     "items (no shell)");
}

Test(probe_conf, tcp_needs_port)
{
	expect_error("checks:\n  a: { kind: tcp }\n", "t.yaml:2:6: tcp check 'a': missing port");
}

Test(probe_conf, bad_values)
{
	expect_error("checks:\n  a: { kind: stun, rise: 0 }\n",
		     "t.yaml:2:26: rise: 0 is out of range 1..100");
}

Test(probe_conf, sip_tls_option_needs_tls)
{
	expect_error("checks:\n  a: { kind: sip, sni: x.test }\n",
		     "t.yaml:2:24: sni needs transport: tls");
}

Test(probe_conf, bad_jitter_and_status)
{
	expect_error("checks:\n  a: { kind: http, jitter: 150% }\n",
		     "t.yaml:2:28: jitter: want a percentage below 100%, a fraction below 1 or a "
		     "duration");
	expect_error("checks:\n  a: { kind: http, interval: 5s, jitter: 5s }\n",
		     "t.yaml:2:42: jitter (5000 ms) must be below the interval (5000 ms)");
	expect_error("checks:\n  a: { kind: http, status: [200, 700] }\n",
		     "t.yaml:2:34: status: 700 is out of range 100..599");
}

Test(probe_conf, every_error_reported)
{
	cfg_t c;

	cfg_load(&c, "checks:\n"
		     "  a: { kind: tcp, port: 99999 }\n"
		     "  b: { kind: http, method: BREW }\n"
		     "  c: { kind: tls, verify: /nonexistent/ca.pem }\n");
	cr_expect_null(c.conf);
	cr_assert_eq(c.errs.count, 3);
	cr_expect_str_eq(c.errs.msg[1],
			 "t.yaml:3:28: method: want GET, HEAD, POST or OPTIONS, not 'BREW'");
	cr_expect_str_eq(c.errs.msg[2],
			 "t.yaml:4:27: verify: /nonexistent/ca.pem: No such file or directory");
	cfg_free(&c);
}

/* ---- prober harness --------------------------------------------------------------------- */

typedef struct {
	probe_result_t last;
	probe_result_t all[16];
	int n;
	int want;
	struct event_base *base;
	pthread_t thread;
	bool wrong_thread;
} sink_t;

static void sink_cb(const probe_result_t *r, void *arg)
{
	sink_t *s = arg;

	if (!pthread_equal(pthread_self(), s->thread))
		s->wrong_thread = true;
	s->last = *r;
	if (s->n < 16)
		s->all[s->n] = *r;
	if (++s->n >= s->want)
		event_base_loopbreak(s->base);
}

static struct sockaddr_in loopback(uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

/* Run one probe of check 0 of `yaml_fmt` (PORT stands for the port) against
 * 127.0.0.1 and return its raw result. */
static probe_result_t probe_once(const char *yaml_fmt, uint16_t port, const char *host)
{
	char yaml[2048];
	cfg_t c;
	sink_t s = {.want = 1};
	struct sockaddr_in a = loopback(port);
	probe_target_t t = {.member = 7,
			    .check = 0,
			    .addr = (struct sockaddr *)&a,
			    .addr_len = sizeof(a),
			    .host = host};
	char err[256] = "";
	struct timeval limit = {10, 0};

	const char *at = strstr(yaml_fmt, "PORT");

	/* The port is only known once the peer listens. */
	if (at)
		snprintf(yaml, sizeof(yaml), "%.*s%u%s", (int)(at - yaml_fmt), yaml_fmt, port,
			 at + 4);
	else
		snprintf(yaml, sizeof(yaml), "%s", yaml_fmt);
	cfg_good(&c, yaml);
	s.base = event_base_new();
	s.thread = pthread_self();
	prober_t *p = prober_new(c.conf, &t, 1, sink_cb, &s, err, sizeof(err));
	cr_assert_not_null(p, "%s", err);
	prober_report_all(p, true);
	cr_assert_eq(prober_attach(p, s.base, false), 0);
	cr_assert_eq(prober_probe_now(p, 0), 0);
	event_base_loopexit(s.base, &limit);
	event_base_dispatch(s.base);
	prober_free(p);
	event_base_free(s.base);
	cfg_free(&c);
	cr_assert_eq(s.n, 1, "no result within the time limit");
	cr_expect_eq(s.last.member, 7);
	return s.last;
}

/* ---- in-test peers ---------------------------------------------------------------------- */

typedef enum {
	PEER_SILENT,    /* accept, read, never answer; wait for the client to go */
	PEER_REPLY,     /* read the request head, write `reply`, close */
	PEER_BANNER,    /* write `reply` at once, close */
	PEER_ENDLESS,   /* read the request head, write `reply` then body bytes forever */
	PEER_SIP_ECHO,  /* read a SIP request, answer 200 with its Call-ID */
	PEER_SIP_OTHER, /* same with another Call-ID */
} peer_mode_t;

typedef struct {
	int lfd;
	uint16_t port;
	peer_mode_t mode;
	const char *reply;
	SSL_CTX *tls; /* NULL: plain TCP */
	bool accept;  /* false: listen only, never accept */
	pthread_t th;
	char request[4096];
} peer_t;

static void set_rcvtimeo(int fd, int secs)
{
	struct timeval tv = {secs, 0};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* Read until CRLF CRLF (or EOF, timeout, full buffer). */
static size_t read_head(SSL *ssl, int fd, char *buf, size_t cap)
{
	size_t n = 0;

	while (n + 1 < cap) {
		ssize_t k = ssl ? SSL_read(ssl, buf + n, (int)(cap - 1 - n))
				: recv(fd, buf + n, cap - 1 - n, 0);

		if (k <= 0)
			break;
		n += (size_t)k;
		buf[n] = '\0';
		if (strstr(buf, "\r\n\r\n"))
			break;
	}
	buf[n] = '\0';
	return n;
}

static void peer_write(SSL *ssl, int fd, const char *s, size_t n)
{
	if (ssl)
		SSL_write(ssl, s, (int)n);
	else
		send(fd, s, n, MSG_NOSIGNAL);
}

static void *peer_main(void *arg)
{
	peer_t *pe = arg;
	int fd = accept(pe->lfd, NULL, NULL);
	SSL *ssl = NULL;
	char buf[512];

	if (fd < 0)
		return NULL;
	set_rcvtimeo(fd, 10);
	if (pe->tls) {
		ssl = SSL_new(pe->tls);
		SSL_set_fd(ssl, fd);
		if (SSL_accept(ssl) != 1)
			goto done;
	}
	if (pe->mode != PEER_SILENT && pe->mode != PEER_BANNER)
		read_head(ssl, fd, pe->request, sizeof(pe->request));
	switch (pe->mode) {
	case PEER_SILENT:
		/* Until the prober gives up and closes (bounded by SO_RCVTIMEO). */
		while ((ssl ? SSL_read(ssl, buf, sizeof(buf)) : recv(fd, buf, sizeof(buf), 0)) > 0)
			;
		break;
	case PEER_REPLY:
	case PEER_BANNER:
		peer_write(ssl, fd, pe->reply, strlen(pe->reply));
		break;
	case PEER_ENDLESS:
		peer_write(ssl, fd, pe->reply, strlen(pe->reply));
		memset(buf, 'x', sizeof(buf));
		/* At most 64 MiB: the prober must have stopped reading long before. */
		for (int i = 0; i < 131072; i++)
			if ((ssl ? SSL_write(ssl, buf, sizeof(buf))
				 : send(fd, buf, sizeof(buf), MSG_NOSIGNAL)) <= 0)
				break;
		break;
	case PEER_SIP_ECHO:
	case PEER_SIP_OTHER: {
		char resp[1024], callid[256] = "none";
		const char *c = strstr(pe->request, "\r\nCall-ID: ");

		if (c && sscanf(c + 11, "%255[^\r]", callid) != 1)
			strcpy(callid, "none");
		snprintf(resp, sizeof(resp),
			 "SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP 127.0.0.1\r\nFrom: <sip:a@b>;tag=1\r\n"
			 "To: <sip:b@c>;tag=2\r\ncall-id:  %s%s \r\nCSeq: 1 OPTIONS\r\n"
			 "Content-Length: 0\r\n\r\n",
			 callid, pe->mode == PEER_SIP_OTHER ? "x" : "");
		peer_write(ssl, fd, resp, strlen(resp));
		break;
	}
	}
done:
	if (ssl) {
		SSL_shutdown(ssl);
		SSL_free(ssl);
	}
	close(fd);
	return NULL;
}

static void peer_start(peer_t *pe)
{
	struct sockaddr_in a = loopback(0);
	socklen_t al = sizeof(a);
	int one = 1;

	pe->lfd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(pe->lfd, 0);
	setsockopt(pe->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	cr_assert_eq(bind(pe->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(pe->lfd, 4), 0);
	cr_assert_eq(getsockname(pe->lfd, (struct sockaddr *)&a, &al), 0);
	pe->port = ntohs(a.sin_port);
	if (pe->accept)
		cr_assert_eq(pthread_create(&pe->th, NULL, peer_main, pe), 0);
}

static void peer_join(peer_t *pe)
{
	if (pe->accept)
		pthread_join(pe->th, NULL);
	close(pe->lfd);
}

/* A port with nothing listening: bind, read the port, close. */
static uint16_t dead_port(int type)
{
	struct sockaddr_in a = loopback(0);
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, type, 0);

	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	close(fd);
	return ntohs(a.sin_port);
}

/* ---- tcp -------------------------------------------------------------------------------- */

Test(probe_net, tcp_up)
{
	peer_t pe = {.mode = PEER_SILENT, .accept = true};

	peer_start(&pe);
	probe_result_t r = probe_once("checks:\n  c: { kind: tcp, port: PORT }\n", pe.port, NULL);
	peer_join(&pe);
	cr_expect(r.ok);
	cr_expect_str_eq(r.reason, "connected");
	cr_expect_eq(r.state, PROBE_UP);
	cr_expect_eq(r.member_state, PROBE_UP);
	cr_expect(r.changed);
	cr_expect_lt(r.latency_us, 2000000);
}

Test(probe_net, tcp_refused)
{
	probe_result_t r =
	    probe_once("checks:\n  c: { kind: tcp, port: PORT }\n", dead_port(SOCK_STREAM), NULL);

	cr_expect_not(r.ok);
	cr_expect_str_eq(r.reason, "connect refused");
	cr_expect_eq(r.state, PROBE_DOWN);
}

Test(probe_net, tcp_timeout_accept_queue_full)
{
	/* Backlog 0 and one connection nobody accepts fill the accept queue:
	 * Linux then drops the next SYN, so the probe's connect never ends. */
	struct sockaddr_in a = loopback(0);
	socklen_t al = sizeof(a);
	int lfd = socket(AF_INET, SOCK_STREAM, 0), fill[4];

	cr_assert_eq(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(lfd, 0), 0);
	cr_assert_eq(getsockname(lfd, (struct sockaddr *)&a, &al), 0);
	for (int i = 0; i < 4; i++) {
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		(void)connect(fill[i], (struct sockaddr *)&a, sizeof(a));
	}
	probe_result_t r = probe_once("checks:\n  c: { kind: tcp, port: PORT, timeout: 200ms }\n",
				      ntohs(a.sin_port), NULL);
	for (int i = 0; i < 4; i++)
		close(fill[i]);
	close(lfd);
	cr_expect_not(r.ok);
	cr_expect_str_eq(r.reason, "timeout");
}

Test(probe_net, tcp_ipv6)
{
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	socklen_t al = sizeof(a);
	int lfd = socket(AF_INET6, SOCK_STREAM, 0);
	cfg_t c;
	sink_t s = {.want = 1};
	char err[256] = "";
	struct timeval limit = {10, 0};

	if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(lfd);
		cr_skip_test("no IPv6 loopback");
	}
	cr_assert_eq(listen(lfd, 4), 0);
	cr_assert_eq(getsockname(lfd, (struct sockaddr *)&a, &al), 0);
	char yaml[128];
	snprintf(yaml, sizeof(yaml), "checks:\n  c: { kind: tcp, port: %u }\n", ntohs(a.sin6_port));
	cfg_good(&c, yaml);
	probe_target_t t = {
	    .member = 3, .check = 0, .addr = (struct sockaddr *)&a, .addr_len = sizeof(a)};
	s.base = event_base_new();
	s.thread = pthread_self();
	prober_t *p = prober_new(c.conf, &t, 1, sink_cb, &s, err, sizeof(err));
	cr_assert_not_null(p, "%s", err);
	cr_assert_eq(prober_attach(p, s.base, false), 0);
	cr_assert_eq(prober_probe_now(p, 0), 0);
	event_base_loopexit(s.base, &limit);
	event_base_dispatch(s.base);
	prober_free(p);
	event_base_free(s.base);
	cfg_free(&c);
	close(lfd);
	cr_assert_eq(s.n, 1);
	cr_expect(s.last.ok, "%s", s.last.reason);
}

Test(probe_net, bad_targets_refused)
{
	cfg_t c;
	char err[256] = "";
	probe_target_t t = {.member = 1, .check = 1};

	cfg_good(&c, "checks:\n  c: { kind: tcp, port: 1 }\n");
	cr_expect_null(prober_new(c.conf, &t, 1, sink_cb, NULL, err, sizeof(err)));
	cr_expect_str_eq(err, "probe: target 0: no check 1");
	t.check = 0;
	cr_expect_null(prober_new(c.conf, &t, 1, sink_cb, NULL, err, sizeof(err)));
	cr_expect_str_eq(err, "probe: target 0: no address");
	cfg_free(&c);
}

/* ---- http ------------------------------------------------------------------------------- */

static probe_result_t http_against(peer_mode_t mode, const char *reply, const char *opts,
				   char *request_out)
{
	peer_t pe = {.mode = mode, .reply = reply, .accept = true};
	char fmt[512];

	peer_start(&pe);
	snprintf(fmt, sizeof(fmt), "checks:\n  c: { kind: http, port: PORT, timeout: 300ms%s }\n",
		 opts);
	probe_result_t r = probe_once(fmt, pe.port, "lyncdiscover.contoso.test");
	peer_join(&pe);
	if (request_out)
		strcpy(request_out, pe.request);
	return r;
}

Test(probe_net, http_200_and_request_line)
{
	char req[4096];
	probe_result_t r =
	    http_against(PEER_REPLY, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
			 ", path: /autodiscover/autodiscoverservice.svc/root", req);

	cr_expect(r.ok, "%s", r.reason);
	cr_expect_str_eq(r.reason, "HTTP 200");
	cr_expect(strncmp(req, "GET /autodiscover/autodiscoverservice.svc/root HTTP/1.1\r\n", 57) ==
		      0,
		  "%s", req);
	cr_expect_not_null(strstr(req, "\r\nHost: lyncdiscover.contoso.test:"), "%s", req);
	cr_expect_not_null(strstr(req, "\r\nConnection: close\r\n"));
}

Test(probe_net, http_503)
{
	probe_result_t r =
	    http_against(PEER_REPLY, "HTTP/1.1 503 Service Unavailable\r\n\r\n", "", NULL);

	cr_expect_not(r.ok);
	cr_expect_str_eq(r.reason, "HTTP 503");
}

Test(probe_net, http_status_list_and_host_option)
{
	char req[4096];
	probe_result_t r = http_against(PEER_REPLY, "HTTP/1.0 401 Unauthorized\r\n\r\n",
					", status: [200, 401], host: web.test, method: HEAD", req);

	cr_expect(r.ok, "%s", r.reason);
	cr_expect(strncmp(req, "HEAD / HTTP/1.1\r\nHost: web.test\r\n", 33) == 0, "%s", req);
}

Test(probe_net, http_body_match_and_mismatch)
{
	probe_result_t r = http_against(
	    PEER_REPLY, "HTTP/1.1 200 OK\r\n\r\n{\"AccessLocation\":\"External\",\"Root\":1}",
	    ", body: AccessLocation", NULL);

	cr_expect(r.ok, "%s", r.reason);
	cr_expect_str_eq(r.reason, "body matched");
	r = http_against(PEER_REPLY, "HTTP/1.1 200 OK\r\n\r\nmaintenance page",
			 ", body: AccessLocation", NULL);
	cr_expect_not(r.ok);
	cr_expect_str_eq(r.reason, "body mismatch");
}

Test(probe_net, http_endless_body_is_bounded)
{
	probe_result_t r =
	    http_against(PEER_ENDLESS, "HTTP/1.1 200 OK\r\n\r\n", ", body: NeverThere", NULL);

	cr_expect_not(r.ok);
	cr_expect_str_eq(r.reason, "body mismatch (read limit)");
}

Test(probe_net, http_slow_peer_times_out)
{
	probe_result_t r = http_against(PEER_SILENT, NULL, "", NULL);

	cr_expect_not(r.ok);
	cr_expect_str_eq(r.reason, "timeout");
	/* libevent's timers run on CLOCK_MONOTONIC_COARSE (a few ms of
	 * granularity), the latency on CLOCK_MONOTONIC. */
	cr_expect_geq(r.latency_us, 280000, "%llu", (unsigned long long)r.latency_us);
	cr_expect_lt(r.latency_us, 2000000, "%llu", (unsigned long long)r.latency_us);
}

Test(probe_net, http_garbage)
{
	probe_result_t r = http_against(PEER_REPLY, "SSH-2.0-OpenSSH_9.6\r\n", "", NULL);

	cr_expect_not(r.ok);
	cr_expect_str_eq(r.reason, "bad HTTP response");
	r = http_against(PEER_REPLY, "HTTP/1.1 2x0 OK\r\n\r\n", "", NULL);
	cr_expect_str_eq(r.reason, "bad HTTP response");
}

Test(probe_net, http_unaccepted_connection_times_out)
{
	/* Listening, never accepting: the kernel completes the handshake, the
	 * request sits in a queue, nothing answers. */
	peer_t pe = {.accept = false};

	peer_start(&pe);
	probe_result_t r =
	    probe_once("checks:\n  c: { kind: http, port: PORT, timeout: 200ms }\n", pe.port, NULL);
	peer_join(&pe);
	cr_expect_str_eq(r.reason, "timeout");
}

/* ---- sip -------------------------------------------------------------------------------- */

static probe_result_t sip_against(peer_mode_t mode, const char *reply, char *req)
{
	peer_t pe = {.mode = mode, .reply = reply, .accept = true};

	peer_start(&pe);
	probe_result_t r = probe_once("checks:\n  c: { kind: sip, port: PORT, timeout: 300ms }\n",
				      pe.port, "sip.contoso.test");
	peer_join(&pe);
	if (req)
		strcpy(req, pe.request);
	return r;
}

Test(probe_net, sip_options_good)
{
	char req[4096];
	probe_result_t r = sip_against(PEER_SIP_ECHO, NULL, req);

	cr_expect(r.ok, "%s", r.reason);
	cr_expect_str_eq(r.reason, "SIP 200");
	cr_expect(strncmp(req, "OPTIONS sip:sip.contoso.test:", 29) == 0, "%s", req);
	cr_expect_not_null(strstr(req, " SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:"));
	cr_expect_not_null(strstr(req, ";branch=z9hG4bK"));
	cr_expect_not_null(strstr(req, "\r\nMax-Forwards: 70\r\n"));
	cr_expect_not_null(strstr(req, "\r\nFrom: <sip:"));
	cr_expect_not_null(strstr(req, "\r\nTo: <sip:sip.contoso.test:"));
	cr_expect_not_null(strstr(req, "\r\nCSeq: 1 OPTIONS\r\n"));
	cr_expect_not_null(strstr(req, "\r\nContent-Length: 0\r\n\r\n"));
}

Test(probe_net, sip_wrong_callid)
{
	probe_result_t r = sip_against(PEER_SIP_OTHER, NULL, NULL);

	cr_expect_not(r.ok);
	cr_expect_str_eq(r.reason, "bad SIP response: Call-ID mismatch");
}

Test(probe_net, sip_garbage_and_silence)
{
	probe_result_t r = sip_against(PEER_REPLY, "HTTP/1.1 400 Bad Request\r\n\r\n", NULL);

	cr_expect_not(r.ok);
	cr_expect_str_eq(r.reason, "bad SIP response");
	r = sip_against(PEER_REPLY, "SIP/2.0 200 OK\r\nCSeq: 1 OPTIONS\r\n\r\n", NULL);
	cr_expect_str_eq(r.reason, "bad SIP response: no Call-ID");
	r = sip_against(PEER_SILENT, NULL, NULL);
	cr_expect_str_eq(r.reason, "timeout");
}

/* ---- stun ------------------------------------------------------------------------------- */

typedef enum { STUN_GOOD, STUN_WRONG_TXID, STUN_GARBAGE, STUN_NO_XMA, STUN_SILENT } stun_mode_t;

typedef struct {
	int fd;
	uint16_t port;
	stun_mode_t mode;
	pthread_t th;
	uint8_t req[64];
	ssize_t req_len;
} stun_peer_t;

static void *stun_main(void *arg)
{
	stun_peer_t *sp = arg;
	struct sockaddr_in from;
	socklen_t fl = sizeof(from);
	uint8_t resp[64];
	size_t n = 20;

	sp->req_len = recvfrom(sp->fd, sp->req, sizeof(sp->req), 0, (struct sockaddr *)&from, &fl);
	if (sp->req_len != 20 || sp->mode == STUN_SILENT)
		return NULL;
	memcpy(resp, sp->req, 20);
	resp[0] = 0x01; /* Binding success */
	resp[1] = 0x01;
	if (sp->mode != STUN_NO_XMA) {
		uint8_t *v = resp + 24;
		uint32_t xa = ntohl(from.sin_addr.s_addr) ^ 0x2112A442u;
		uint16_t xp = ntohs(from.sin_port) ^ 0x2112;

		resp[20] = 0x00, resp[21] = 0x20, resp[22] = 0, resp[23] = 8;
		v[0] = 0, v[1] = 0x01, v[2] = (uint8_t)(xp >> 8), v[3] = (uint8_t)xp;
		v[4] = (uint8_t)(xa >> 24), v[5] = (uint8_t)(xa >> 16), v[6] = (uint8_t)(xa >> 8);
		v[7] = (uint8_t)xa;
		n = 32;
	}
	resp[2] = 0;
	resp[3] = (uint8_t)(n - 20);
	if (sp->mode == STUN_WRONG_TXID)
		resp[19] ^= 0xff;
	if (sp->mode == STUN_GARBAGE) {
		memcpy(resp, "garbage, not STUN at all", 24);
		n = 24;
	}
	sendto(sp->fd, resp, n, 0, (struct sockaddr *)&from, fl);
	return NULL;
}

static probe_result_t stun_against(stun_mode_t mode, stun_peer_t *sp)
{
	struct sockaddr_in a = loopback(0);
	socklen_t al = sizeof(a);

	memset(sp, 0, sizeof(*sp));
	sp->mode = mode;
	sp->fd = socket(AF_INET, SOCK_DGRAM, 0);
	cr_assert_eq(bind(sp->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(getsockname(sp->fd, (struct sockaddr *)&a, &al), 0);
	sp->port = ntohs(a.sin_port);
	set_rcvtimeo(sp->fd, 10);
	cr_assert_eq(pthread_create(&sp->th, NULL, stun_main, sp), 0);
	probe_result_t r = probe_once("checks:\n  c: { kind: stun, port: PORT, timeout: 300ms }\n",
				      sp->port, NULL);
	pthread_join(sp->th, NULL);
	close(sp->fd);
	return r;
}

Test(probe_net, stun_good)
{
	stun_peer_t sp;
	probe_result_t r = stun_against(STUN_GOOD, &sp);

	cr_expect(r.ok, "%s", r.reason);
	cr_expect_str_eq(r.reason, "STUN binding success");
	/* RFC 5389 §6: a Binding request, no attributes, the magic cookie. */
	cr_assert_eq(sp.req_len, 20);
	cr_expect_eq(sp.req[0], 0x00);
	cr_expect_eq(sp.req[1], 0x01);
	cr_expect_eq(sp.req[3], 0);
	cr_expect_eq(memcmp(sp.req + 4, "\x21\x12\xA4\x42", 4), 0);
}

Test(probe_net, stun_transaction_ids_differ)
{
	stun_peer_t a, b;

	stun_against(STUN_GOOD, &a);
	stun_against(STUN_GOOD, &b);
	cr_expect_neq(memcmp(a.req + 8, b.req + 8, 12), 0);
}

Test(probe_net, stun_bad_responses)
{
	stun_peer_t sp;
	probe_result_t r = stun_against(STUN_WRONG_TXID, &sp);

	cr_expect_not(r.ok);
	cr_expect_str_eq(r.reason, "bad STUN response: transaction ID mismatch");
	r = stun_against(STUN_GARBAGE, &sp);
	cr_expect_str_eq(r.reason, "bad STUN response");
	r = stun_against(STUN_NO_XMA, &sp);
	cr_expect_str_eq(r.reason, "bad STUN response: no XOR-MAPPED-ADDRESS");
	r = stun_against(STUN_SILENT, &sp);
	cr_expect_str_eq(r.reason, "timeout");
}

Test(probe_net, stun_port_unreachable)
{
	probe_result_t r = probe_once("checks:\n  c: { kind: stun, port: PORT, timeout: 1s }\n",
				      dead_port(SOCK_DGRAM), NULL);

	cr_expect_not(r.ok);
	cr_expect_str_eq(r.reason, "connect refused");
}

/* ---- tls -------------------------------------------------------------------------------- */

typedef struct {
	X509 *cert;
	EVP_PKEY *key;
} cert_t;

/* A self-signed certificate for CN=localhost valid from now+from_days to
 * now+to_days. */
static cert_t make_cert(long from_days, long to_days)
{
	cert_t c;
	X509_NAME *name;

	c.key = EVP_EC_gen("P-256");
	cr_assert_not_null(c.key);
	c.cert = X509_new();
	X509_set_version(c.cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(c.cert), 1);
	X509_gmtime_adj(X509_getm_notBefore(c.cert), from_days * 86400);
	X509_gmtime_adj(X509_getm_notAfter(c.cert), to_days * 86400);
	X509_set_pubkey(c.cert, c.key);
	name = X509_get_subject_name(c.cert);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1,
				   -1, 0);
	X509_set_issuer_name(c.cert, name);
	cr_assert_gt(X509_sign(c.cert, c.key, EVP_sha256()), 0);
	return c;
}

static void cert_free(cert_t *c)
{
	X509_free(c->cert);
	EVP_PKEY_free(c->key);
}

static SSL_CTX *server_ctx(const cert_t *c)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	cr_assert_eq(SSL_CTX_use_certificate(ctx, c->cert), 1);
	cr_assert_eq(SSL_CTX_use_PrivateKey(ctx, c->key), 1);
	return ctx;
}

/* Write `c` as a PEM CA file; returns its path (static buffer). */
static const char *write_ca(const cert_t *c)
{
	static char path[64];
	int fd;
	FILE *f;

	strcpy(path, "/tmp/waymark-probe-ca-XXXXXX");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	f = fdopen(fd, "w");
	cr_assert_eq(PEM_write_X509(f, c->cert), 1);
	fclose(f);
	return path;
}

static probe_result_t tls_against(const cert_t *c, peer_mode_t mode, const char *reply,
				  const char *fmt)
{
	peer_t pe = {.mode = mode, .reply = reply, .accept = true, .tls = server_ctx(c)};

	peer_start(&pe);
	probe_result_t r = probe_once(fmt, pe.port, "localhost");
	peer_join(&pe);
	SSL_CTX_free(pe.tls);
	return r;
}

Test(probe_tls, handshake_and_expiry_days)
{
	cert_t c = make_cert(-1, 30);
	probe_result_t r = tls_against(
	    &c, PEER_SILENT, NULL, "checks:\n  c: { kind: tls, port: PORT, cert_warn_days: 60 }\n");

	cr_expect(r.ok, "%s", r.reason);
	cr_expect_str_eq(r.reason, "TLS handshake done");
	cr_expect(r.cert_days_left == 29 || r.cert_days_left == 30, "%d", r.cert_days_left);
	cert_free(&c);
}

Test(probe_tls, expired_certificate)
{
	cert_t c = make_cert(-10, -2);
	probe_result_t r =
	    tls_against(&c, PEER_SILENT, NULL, "checks:\n  c: { kind: tls, port: PORT }\n");

	/* Only a warning by default: the server still answers. */
	cr_expect(r.ok, "%s", r.reason);
	cr_expect_lt(r.cert_days_left, 0);
	r = tls_against(&c, PEER_SILENT, NULL,
			"checks:\n  c: { kind: tls, port: PORT, down_when_expired: true }\n");
	cr_expect_not(r.ok);
	cr_expect_str_eq(r.reason, "certificate expired");
	cert_free(&c);
}

Test(probe_tls, verify_against_ca)
{
	cert_t c = make_cert(-1, 30), other = make_cert(-1, 30), old = make_cert(-10, -2);
	char fmt[256], ca[64], other_ca[64], old_ca[64];

	strcpy(ca, write_ca(&c));
	strcpy(other_ca, write_ca(&other));
	strcpy(old_ca, write_ca(&old));
	snprintf(fmt, sizeof(fmt), "checks:\n  c: { kind: tls, port: PORT, verify: %s }\n", ca);
	probe_result_t r = tls_against(&c, PEER_SILENT, NULL, fmt);
	cr_expect(r.ok, "%s", r.reason);

	snprintf(fmt, sizeof(fmt), "checks:\n  c: { kind: tls, port: PORT, verify: %s }\n",
		 other_ca);
	r = tls_against(&c, PEER_SILENT, NULL, fmt);
	cr_expect_not(r.ok);
	cr_expect(strncmp(r.reason, "certificate verify failed: ", 27) == 0, "%s", r.reason);

	snprintf(fmt, sizeof(fmt), "checks:\n  c: { kind: tls, port: PORT, verify: %s }\n", old_ca);
	r = tls_against(&old, PEER_SILENT, NULL, fmt);
	cr_expect_str_eq(r.reason, "certificate expired");

	/* The name must match as well: SNI says another host. */
	snprintf(fmt, sizeof(fmt),
		 "checks:\n  c: { kind: tls, port: PORT, verify: %s, sni: other.test }\n", ca);
	r = tls_against(&c, PEER_SILENT, NULL, fmt);
	cr_expect(strncmp(r.reason, "certificate verify failed: ", 27) == 0, "%s", r.reason);
	unlink(ca);
	unlink(other_ca);
	unlink(old_ca);
	cert_free(&c);
	cert_free(&other);
	cert_free(&old);
}

Test(probe_tls, not_tls_peer)
{
	peer_t pe = {.mode = PEER_BANNER, .reply = "220 smtp.test ESMTP ready\r\n", .accept = true};

	peer_start(&pe);
	probe_result_t r =
	    probe_once("checks:\n  c: { kind: tls, port: PORT, timeout: 500ms }\n", pe.port, NULL);
	peer_join(&pe);
	cr_expect_not(r.ok);
	cr_expect(strncmp(r.reason, "TLS handshake failed", 20) == 0, "%s", r.reason);
}

Test(probe_tls, tls_handshake_timeout)
{
	peer_t pe = {.accept = false};

	peer_start(&pe);
	probe_result_t r =
	    probe_once("checks:\n  c: { kind: tls, port: PORT, timeout: 200ms }\n", pe.port, NULL);
	peer_join(&pe);
	cr_expect_str_eq(r.reason, "timeout");
}

Test(probe_tls, https_and_sip_tls)
{
	cert_t c = make_cert(-1, 30);
	probe_result_t r = tls_against(&c, PEER_REPLY, "HTTP/1.1 200 OK\r\n\r\nAccessLocation",
				       "checks:\n  c: { kind: https, port: PORT, body: Access }\n");

	cr_expect(r.ok, "%s", r.reason);
	r = tls_against(&c, PEER_SIP_ECHO, NULL,
			"checks:\n  c: { kind: sip, transport: tls, port: PORT }\n");
	cr_expect(r.ok, "%s", r.reason);
	cr_expect_str_eq(r.reason, "SIP 200");
	cert_free(&c);
}

/* ---- exec ------------------------------------------------------------------------------- */

Test(probe_exec, true_false)
{
	probe_result_t r =
	    probe_once("checks:\n  c: { kind: exec, command: [/bin/true] }\n", 0, NULL);

	cr_expect(r.ok, "%s", r.reason);
	cr_expect_str_eq(r.reason, "exit 0");
	r = probe_once("checks:\n  c: { kind: exec, command: [/bin/sh, -c, 'exit 3'] }\n", 0, NULL);
	cr_expect_not(r.ok);
	cr_expect_str_eq(r.reason, "exit 3");
	r = probe_once("checks:\n  c: { kind: exec, command: [/bin/false] }\n", 0, NULL);
	cr_expect_str_eq(r.reason, "exit 1");
}

Test(probe_exec, timeout_kills_and_reaps)
{
	probe_result_t r = probe_once(
	    "checks:\n  c: { kind: exec, command: [/bin/sleep, '30'], timeout: 200ms }\n", 0, NULL);

	cr_expect_not(r.ok);
	cr_expect_str_eq(r.reason, "timeout");
	cr_expect_lt(r.latency_us, 5000000);
	/* prober_free reaped the killed child: no child is left. */
	errno = 0;
	cr_expect_eq(waitpid(-1, NULL, WNOHANG), -1);
	cr_expect_eq(errno, ECHILD);
}

Test(probe_exec, not_a_file)
{
	expect_error("checks:\n  c: { kind: exec, command: [/tmp] }\n",
		     "t.yaml:2:30: command: /tmp: not a file");
}

/* ---- hysteresis ------------------------------------------------------------------------- */

typedef struct {
	cfg_t c;
	sink_t s;
	prober_t *p;
} hyst_t;

static void hyst_setup(hyst_t *h, const char *yaml, const probe_target_t *t, size_t n)
{
	char err[256] = "";

	memset(h, 0, sizeof(*h));
	cfg_good(&h->c, yaml);
	h->s.base = event_base_new();
	h->s.thread = pthread_self();
	h->s.want = 1000;
	h->p = prober_new(h->c.conf, t, n, sink_cb, &h->s, err, sizeof(err));
	cr_assert_not_null(h->p, "%s", err);
	cr_assert_eq(prober_attach(h->p, h->s.base, false), 0);
}

static void hyst_free(hyst_t *h)
{
	prober_free(h->p);
	event_base_free(h->s.base);
	cfg_free(&h->c);
}

static const char hyst_yaml[] = "checks:\n"
				"  a: { kind: exec, command: [/bin/true], interval: 10s, rise: 2, "
				"fall: 3, fastinter: 1s, jitter: 0ms }\n"
				"  b: { kind: exec, command: [/bin/true], interval: 10s, rise: 1, "
				"fall: 1, jitter: 0ms }\n";

Test(probe_exec, program_gone_after_load)
{
	char path[] = "/tmp/waymark-probe-exec-XXXXXX", yaml[256];
	int fd = mkstemp(path);
	probe_target_t t = {.member = 1, .check = 0};
	struct timeval limit = {10, 0};
	hyst_t h;

	cr_assert_geq(fd, 0);
	close(fd);
	chmod(path, 0700);
	snprintf(yaml, sizeof(yaml), "checks:\n  c: { kind: exec, command: [%s] }\n", path);
	hyst_setup(&h, yaml, &t, 1);
	prober_report_all(h.p, true);
	h.s.want = 1;
	unlink(path);
	cr_assert_eq(prober_probe_now(h.p, 0), 0);
	event_base_loopexit(h.s.base, &limit);
	event_base_dispatch(h.s.base);
	cr_assert_eq(h.s.n, 1);
	cr_expect_not(h.s.last.ok);
	/* glibc reports a spawn failure either from posix_spawn or as exit 127. */
	cr_expect(strcmp(h.s.last.reason, "exec: No such file or directory") == 0 ||
		      strcmp(h.s.last.reason, "exit 127") == 0,
		  "%s", h.s.last.reason);
	hyst_free(&h);
}

Test(probe_state, rise_fall_and_fastinter)
{
	probe_target_t t = {.member = 1, .check = 0};
	hyst_t h;

	hyst_setup(&h, hyst_yaml, &t, 1);
	/* Unknown: the first result decides, and is reported. */
	prober_feed_for_test(h.p, 0, false, "connect refused");
	cr_assert_eq(h.s.n, 1);
	cr_expect_eq(h.s.last.state, PROBE_DOWN);
	cr_expect_str_eq(h.s.last.reason, "connect refused");
	cr_expect_eq(prober_next_delay_ms(h.p, 0), 10000);
	/* Down, one success: recovering, probed at fastinter, still down. */
	prober_feed_for_test(h.p, 0, true, "ok");
	cr_expect_eq(h.s.n, 1);
	cr_expect_eq(prober_next_delay_ms(h.p, 0), 1000);
	/* A failure while recovering starts over. */
	prober_feed_for_test(h.p, 0, false, "timeout");
	cr_expect_eq(h.s.n, 1);
	cr_expect_eq(prober_next_delay_ms(h.p, 0), 10000);
	prober_feed_for_test(h.p, 0, true, "ok");
	prober_feed_for_test(h.p, 0, true, "ok");
	cr_assert_eq(h.s.n, 2);
	cr_expect_eq(h.s.last.state, PROBE_UP);
	cr_expect(h.s.last.changed);
	cr_expect_eq(prober_next_delay_ms(h.p, 0), 10000);
	/* Up: fall = 3 failures to go down; fastinter meanwhile. */
	prober_feed_for_test(h.p, 0, false, "HTTP 503");
	cr_expect_eq(prober_next_delay_ms(h.p, 0), 1000);
	prober_feed_for_test(h.p, 0, false, "HTTP 503");
	cr_expect_eq(h.s.n, 2);
	prober_feed_for_test(h.p, 0, false, "HTTP 503");
	cr_assert_eq(h.s.n, 3);
	cr_expect_eq(h.s.last.state, PROBE_DOWN);
	cr_expect_str_eq(h.s.last.reason, "HTTP 503");
	hyst_free(&h);
}

Test(probe_state, success_climbs_back_while_up)
{
	probe_target_t t = {.member = 1, .check = 0};
	hyst_t h;

	hyst_setup(&h, hyst_yaml, &t, 1);
	prober_feed_for_test(h.p, 0, true, "ok");
	cr_expect_eq(h.s.last.state, PROBE_UP);
	/* fail, fail, ok, fail, fail: never three below the top: stays up. */
	prober_feed_for_test(h.p, 0, false, "x");
	prober_feed_for_test(h.p, 0, false, "x");
	prober_feed_for_test(h.p, 0, true, "ok");
	prober_feed_for_test(h.p, 0, false, "x");
	cr_expect_eq(h.s.n, 1);
	prober_feed_for_test(h.p, 0, false, "x");
	cr_expect_eq(h.s.n, 2);
	cr_expect_eq(h.s.last.state, PROBE_DOWN);
	hyst_free(&h);
}

Test(probe_state, member_up_only_if_all_checks_up)
{
	probe_target_t t[] = {
	    {.member = 4, .check = 0}, {.member = 5, .check = 1}, {.member = 4, .check = 1}};
	hyst_t h;

	hyst_setup(&h, hyst_yaml, t, 3);
	prober_feed_for_test(h.p, 0, true, "ok");
	cr_expect_eq(h.s.last.member, 4);
	cr_expect_eq(h.s.last.member_state, PROBE_UNKNOWN);
	prober_feed_for_test(h.p, 1, true, "ok");
	cr_expect_eq(h.s.last.member_state, PROBE_UP);
	prober_feed_for_test(h.p, 2, true, "ok");
	cr_expect_eq(h.s.last.member, 4);
	cr_expect_eq(h.s.last.check, 1);
	cr_expect_eq(h.s.last.member_state, PROBE_UP);
	prober_feed_for_test(h.p, 2, false, "exit 1");
	cr_expect_eq(h.s.last.state, PROBE_DOWN);
	cr_expect_eq(h.s.last.member_state, PROBE_DOWN);
	hyst_free(&h);
}

Test(probe_state, initial_state_from_config)
{
	probe_target_t t = {.member = 1, .check = 0};
	hyst_t h;

	hyst_setup(&h,
		   "checks:\n  a: { kind: exec, command: [/bin/true], rise: 2, fall: 2, initial: "
		   "up }\n",
		   &t, 1);
	prober_feed_for_test(h.p, 0, false, "x");
	cr_expect_eq(h.s.n, 0);
	prober_feed_for_test(h.p, 0, false, "x");
	cr_assert_eq(h.s.n, 1);
	cr_expect_eq(h.s.last.state, PROBE_DOWN);
	hyst_free(&h);
}

Test(probe_state, jitter_spreads)
{
	probe_target_t t = {.member = 1, .check = 0};
	hyst_t h;
	uint32_t lo = UINT32_MAX, hi = 0;

	hyst_setup(&h, "checks:\n  a: { kind: exec, command: [/bin/true], jitter: 20% }\n", &t, 1);
	for (int i = 0; i < 500; i++) {
		uint32_t d = prober_next_delay_ms(h.p, 0);

		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
	}
	cr_expect_geq(lo, 9000);
	cr_expect_leq(hi, 11000);
	cr_expect_gt(hi - lo, 1000, "no spread: %u..%u", lo, hi);
	hyst_free(&h);
}

/* ---- thread and delivery ---------------------------------------------------------------- */

Test(probe_thread, results_on_the_notify_base_thread)
{
	probe_target_t t[] = {{.member = 1, .check = 0}, {.member = 2, .check = 1}};
	cfg_t c;
	sink_t s = {.want = 2};
	char err[256] = "";
	struct timeval limit = {10, 0};

	cfg_good(&c, "checks:\n"
		     "  a: { kind: exec, command: [/bin/true], interval: 1s, timeout: 500ms }\n"
		     "  b: { kind: exec, command: [/bin/false], interval: 1s, timeout: 500ms }\n");
	s.thread = pthread_self();
	/* prober_new turns libevent locking on: the notify base comes after,
	 * as waymarkd's main base comes after evthread_use_pthreads(). */
	prober_t *p = prober_new(c.conf, t, 2, sink_cb, &s, err, sizeof(err));
	cr_assert_not_null(p, "%s", err);
	s.base = event_base_new();
	cr_assert_eq(prober_set_notify(p, s.base), 0);
	cr_assert_eq(prober_start(p, err, sizeof(err)), 0, "%s", err);
	event_base_loopexit(s.base, &limit);
	event_base_dispatch(s.base);
	prober_stop(p);
	prober_free(p);
	event_base_free(s.base);
	cfg_free(&c);
	cr_assert_eq(s.n, 2);
	cr_expect_not(s.wrong_thread);
	/* Each target reported its first result once: a state change. */
	cr_expect_neq(s.all[0].member, s.all[1].member);
	for (int i = 0; i < 2; i++) {
		cr_expect(s.all[i].changed);
		cr_expect_eq(s.all[i].state, s.all[i].member == 1 ? PROBE_UP : PROBE_DOWN);
	}
}

Test(probe_thread, stop_with_probes_in_flight)
{
	probe_target_t t = {.member = 1, .check = 0};
	cfg_t c;
	sink_t s = {.want = 1};
	char err[256] = "";

	cfg_good(&c, "checks:\n  a: { kind: exec, command: [/bin/sleep, '30'], interval: 2s, "
		     "timeout: 1s, jitter: 0ms }\n");
	s.thread = pthread_self();
	prober_t *p = prober_new(c.conf, &t, 1, sink_cb, &s, err, sizeof(err));
	cr_assert_not_null(p, "%s", err);
	s.base = event_base_new();
	cr_assert_eq(prober_set_notify(p, s.base), 0);
	cr_assert_eq(prober_start(p, err, sizeof(err)), 0, "%s", err);
	prober_stop(p);
	prober_free(p);
	event_base_free(s.base);
	cfg_free(&c);
	errno = 0;
	cr_expect_eq(waitpid(-1, NULL, WNOHANG), -1);
	cr_expect_eq(errno, ECHILD);
}
