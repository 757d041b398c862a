/* test_ctl.c -- unit tests of src/ctl: JSON, the control protocol and socket, metrics text. */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "ctl/ctl.h"
#include "ctl/json.h"
#include "ctl/report.h"

/* No test may hang the suite (no Criterion .timeout: see HACKING). */
static void watchdog(void)
{
	alarm(20);
}

/* ---- JSON writer ------------------------------------------------------------------------- */

static char *escaped(const char *s, size_t n)
{
	static ctl_buf_t b;
	ctl_buf_free(&b);
	ctl_json_escape(&b, s, n);
	return b.p ? b.p : (char *)"";
}

#define ESC(lit) escaped((lit), sizeof(lit) - 1)

Test(json_escape, specials_and_controls, .init = watchdog)
{
	cr_assert_str_eq(ESC("plain"), "plain");
	cr_assert_str_eq(ESC("a\"b\\c"), "a\\\"b\\\\c");
	cr_assert_str_eq(ESC("\n\r\t\b\f"), "\\n\\r\\t\\b\\f");
	cr_assert_str_eq(ESC("\x01\x1f\x7f"), "\\u0001\\u001f\\u007f");
	cr_assert_str_eq(ESC("a\0b"), "a\\u0000b");
	cr_assert_str_eq(ESC("/"), "/");
}

Test(json_escape, utf8_kept_and_garbage_replaced, .init = watchdog)
{
	cr_assert_str_eq(ESC("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
			 "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	cr_assert_str_eq(ESC("\xff"), "\\ufffd");
	cr_assert_str_eq(ESC("\xc0\xaf"), "\\ufffd\\ufffd");            /* overlong '/' */
	cr_assert_str_eq(ESC("\xed\xa0\x80"), "\\ufffd\\ufffd\\ufffd"); /* a surrogate */
	cr_assert_str_eq(ESC("\xf4\x90\x80\x80"), "\\ufffd\\ufffd\\ufffd\\ufffd"); /* > U+10FFFF */
	cr_assert_str_eq(ESC("\xe2\x82"), "\\ufffd\\ufffd");                       /* cut short */
	cr_assert_str_eq(ESC("ok\xc3"), "ok\\ufffd");
}

Test(json_writer, nesting_and_commas, .init = watchdog)
{
	ctl_buf_t b;
	ctl_jw_t w;
	ctl_buf_init(&b);
	ctl_jw_init(&w, &b);
	ctl_jw_obj(&w);
	ctl_jw_kstr(&w, "s", "x\"y");
	ctl_jw_kuint(&w, "u", 18446744073709551615ull);
	ctl_jw_kint(&w, "i", -5);
	ctl_jw_kbool(&w, "b", false);
	ctl_jw_key(&w, "n");
	ctl_jw_null(&w);
	ctl_jw_kstr(&w, "null", NULL);
	ctl_jw_key(&w, "a");
	ctl_jw_arr(&w);
	ctl_jw_uint(&w, 1);
	ctl_jw_arr(&w);
	ctl_jw_arr_end(&w);
	ctl_jw_obj(&w);
	ctl_jw_obj_end(&w);
	ctl_jw_str(&w, "");
	ctl_jw_arr_end(&w);
	ctl_jw_obj_end(&w);
	cr_assert_not(w.bad);
	cr_assert_not(b.oom);
	cr_assert_str_eq(b.p, "{\"s\":\"x\\\"y\",\"u\":18446744073709551615,\"i\":-5,\"b\":false,"
			      "\"n\":null,\"null\":null,\"a\":[1,[],{},\"\"]}");
	ctl_buf_free(&b);
}

Test(json_writer, misuse_is_flagged, .init = watchdog)
{
	ctl_buf_t b;
	ctl_jw_t w;

	ctl_buf_init(&b);
	ctl_jw_init(&w, &b);
	ctl_jw_obj(&w);
	ctl_jw_uint(&w, 1); /* a value where a key is due */
	cr_assert(w.bad);

	ctl_buf_reset(&b);
	ctl_jw_init(&w, &b);
	ctl_jw_arr(&w);
	ctl_jw_key(&w, "k"); /* a key in an array */
	cr_assert(w.bad);

	ctl_buf_reset(&b);
	ctl_jw_init(&w, &b);
	ctl_jw_obj(&w);
	ctl_jw_key(&w, "k");
	ctl_jw_obj_end(&w); /* a key without its value */
	cr_assert(w.bad);

	ctl_buf_reset(&b);
	ctl_jw_init(&w, &b);
	ctl_jw_uint(&w, 1);
	ctl_jw_uint(&w, 2); /* two values at the top */
	cr_assert(w.bad);

	ctl_buf_reset(&b);
	ctl_jw_init(&w, &b);
	for (int i = 0; i < CTL_JW_DEPTH + 1; i++)
		ctl_jw_arr(&w);
	cr_assert(w.bad);
	ctl_buf_free(&b);
}

/* ---- JSON parser ------------------------------------------------------------------------- */

static ctl_json_t *parse(const char *s)
{
	char err[128];
	ctl_json_t *v = ctl_json_parse(s, strlen(s), err, sizeof(err));
	cr_assert_not_null(v, "%s: %s", s, err);
	return v;
}

static void parse_fails(const char *s, size_t len, const char *want)
{
	char err[128];
	ctl_json_t *v = ctl_json_parse(s, len, err, sizeof(err));
	cr_assert_null(v, "accepted: %.*s", (int)len, s);
	cr_assert(strstr(err, want), "%.*s: got '%s', want '%s'", (int)len, s, err, want);
}

#define FAILS(lit, want) parse_fails((lit), sizeof(lit) - 1, (want))

Test(json_parse, values, .init = watchdog)
{
	ctl_json_t *v =
	    parse(" {\"a\": [1, -2.5e1, true, false, null, \"x\"], \"b\": {},"
		  " \"c\": \"\\u00e9\\ud83d\\ude00\\n\\/\", \"big\": 18446744073709551615} ");
	cr_assert_eq(v->type, CTL_JSON_OBJ);
	cr_assert_eq(v->len, 4);
	const ctl_json_t *a = ctl_json_get(v, "a");
	cr_assert_eq(a->type, CTL_JSON_ARR);
	cr_assert_eq(a->len, 6);
	cr_assert(a->child->is_int);
	cr_assert_eq(a->child->i, 1);
	cr_assert_not(a->child->next->is_int);
	cr_assert_float_eq(a->child->next->num, -25.0, 1e-9);
	cr_assert_eq(a->child->next->next->type, CTL_JSON_BOOL);
	cr_assert(a->child->next->next->b);
	cr_assert_eq(ctl_json_get(v, "b")->type, CTL_JSON_OBJ);
	cr_assert_str_eq(ctl_json_get_str(v, "c"), "\xc3\xa9\xf0\x9f\x98\x80\n/");
	uint64_t u;
	cr_assert_eq(ctl_json_uint(ctl_json_get(v, "big"), &u), 0);
	cr_assert_eq(u, 18446744073709551615ull);
	cr_assert_eq(ctl_json_uint(a->child->next, &u), -1);
	cr_assert_eq(ctl_json_get_uint(v, "missing", 7), 7);
	cr_assert_null(ctl_json_get_str(v, "a"));
	ctl_json_free(v);

	v = parse("\"\"");
	cr_assert_str_eq(v->str, "");
	ctl_json_free(v);
	v = parse("0");
	cr_assert(v->is_int);
	ctl_json_free(v);
}

Test(json_parse, rejects, .init = watchdog)
{
	FAILS("", "expected a value");
	FAILS("   ", "expected a value");
	FAILS("{", "expected a string key");
	FAILS("{\"a\" 1}", "expected ':'");
	FAILS("{\"a\":1,}", "expected a string key");
	FAILS("[1,]", "unexpected character");
	FAILS("[1 2]", "expected ',' or ']'");
	FAILS("{\"a\":1,\"a\":2}", "duplicate key");
	FAILS("{a:1}", "expected a string key");
	FAILS("01", "trailing characters");
	FAILS("1.", "bad number");
	FAILS("-", "bad number");
	FAILS("1e", "bad number");
	FAILS("+1", "unexpected character");
	FAILS("tru", "unexpected word");
	FAILS("nul", "unexpected word");
	FAILS("\"abc", "unterminated string");
	FAILS("\"a\tb\"", "control character");
	FAILS("\"\\x\"", "bad escape");
	FAILS("\"\\u12\"", "bad \\u escape");
	FAILS("\"\\ud800\"", "unpaired surrogate");
	FAILS("\"\\ud800\\u0041\"", "unpaired surrogate");
	FAILS("\"\\udc00\"", "lone low surrogate");
	FAILS("\"\\u0000\"", "\\u0000");
	FAILS("\"\xff\"", "invalid UTF-8");
	FAILS("\"\xc0\xaf\"", "invalid UTF-8");
	FAILS("{} x", "trailing characters");
	FAILS("{}\0", "NUL byte");
	FAILS("1111111111111111111111111111111111111111111111111111111111111111111", "too long");
	char deep[2 * CTL_JSON_DEPTH + 8];
	memset(deep, '[', CTL_JSON_DEPTH + 1);
	memset(deep + CTL_JSON_DEPTH + 1, ']', CTL_JSON_DEPTH + 1);
	parse_fails(deep, 2 * CTL_JSON_DEPTH + 2, "nested too deep");
	/* One level less is fine. */
	ctl_json_t *v = ctl_json_parse(deep + 1, 2 * CTL_JSON_DEPTH, NULL, 0);
	cr_assert_not_null(v);
	ctl_json_free(v);
}

/* Whatever bytes go in, the writer's output parses, and valid UTF-8 comes
 * back unchanged. */
Test(json, writer_output_always_parses, .init = watchdog)
{
	char in[300];
	size_t n = 0;
	for (int c = 1; c < 256; c++)
		in[n++] = (char)c;
	ctl_buf_t b;
	ctl_jw_t w;
	ctl_buf_init(&b);
	ctl_jw_init(&w, &b);
	ctl_jw_obj(&w);
	ctl_jw_key(&w, "all bytes \xff");
	ctl_jw_strn(&w, in, n);
	ctl_jw_kstr(&w, "ascii", "tab\there \"q\" back\\slash \x01");
	ctl_jw_kstr(&w, "utf8", "\xe2\x82\xac");
	ctl_jw_obj_end(&w);
	char err[128];
	ctl_json_t *v = ctl_json_parse(b.p, b.len, err, sizeof(err));
	cr_assert_not_null(v, "%s", err);
	cr_assert_str_eq(ctl_json_get_str(v, "ascii"), "tab\there \"q\" back\\slash \x01");
	cr_assert_str_eq(ctl_json_get_str(v, "utf8"), "\xe2\x82\xac");
	const char *all = ctl_json_get_str(v, "all bytes \xef\xbf\xbd");
	cr_assert_not_null(all);
	cr_assert_eq(memcmp(all, in, 127), 0); /* ASCII, control characters included */
	ctl_json_free(v);
	ctl_buf_free(&b);
}

/* ---- protocol ---------------------------------------------------------------------------- */

Test(ctl_protocol, requests, .init = watchdog)
{
	char err[192];
	static const struct {
		const char *line, *want;
	} bad[] = {
	    {"garbage", "bad request: unexpected character at byte 1"},
	    {"{\"cmd\":\"status\"", "bad request: expected ',' or '}' at end of input"},
	    {"[\"status\"]", "bad request: not a JSON object"},
	    {"\"status\"", "bad request: not a JSON object"},
	    {"{}", "bad request: no \"cmd\" string"},
	    {"{\"cmd\":1}", "bad request: no \"cmd\" string"},
	    {"{\"cmd\":\"\"}", "bad request: no \"cmd\" string"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ctl_json_t *r =
		    ctl_parse_request(bad[i].line, strlen(bad[i].line), err, sizeof(err));
		cr_assert_null(r, "%s", bad[i].line);
		cr_assert_str_eq(err, bad[i].want);
	}
	const char *ok = "{\"cmd\":\"explain\",\"client\":\"192.0.2.1\",\"id\":\"a\"}";
	ctl_json_t *r = ctl_parse_request(ok, strlen(ok), err, sizeof(err));
	cr_assert_not_null(r);
	cr_assert_str_eq(ctl_json_get_str(r, "cmd"), "explain");
	cr_assert_str_eq(ctl_json_get_str(r, "client"), "192.0.2.1");

	ctl_buf_t b;
	ctl_buf_init(&b);
	ctl_format_error(&b, ctl_json_get(r, "id"), "no such \"thing\"\n");
	cr_assert_str_eq(b.p,
			 "{\"ok\":false,\"id\":\"a\",\"error\":\"no such \\\"thing\\\"\\n\"}\n");
	ctl_buf_reset(&b);
	ctl_format_error(&b, NULL, "x");
	cr_assert_str_eq(b.p, "{\"ok\":false,\"error\":\"x\"}\n");
	ctl_buf_free(&b);
	ctl_json_free(r);
}

/* ---- the socket, driven in-process ------------------------------------------------------- */

typedef struct fixture {
	char dir[64];
	char path[108];
	struct event_base *base;
	ctl_t *ctl;
	ctl_req_t *held; /* a deferred request */
} fixture_t;

static fixture_t fx;

static void cmd_echo(ctl_req_t *req, void *arg)
{
	(void)arg;
	ctl_jw_t *w = ctl_req_reply(req, NULL);
	ctl_jw_kstr(w, "result", ctl_json_get_str(ctl_req_args(req), "say"));
	ctl_req_send(req);
}

static void cmd_later(ctl_req_t *req, void *arg)
{
	(void)arg;
	fx.held = req; /* replied to by the test */
}

static void cmd_fail(ctl_req_t *req, void *arg)
{
	(void)arg;
	ctl_jw_t *w = ctl_req_reply(req, "it failed");
	ctl_jw_key(w, "errors");
	ctl_jw_arr(w);
	ctl_jw_str(w, "f.zone:3: bad");
	ctl_jw_arr_end(w);
	ctl_req_send(req);
}

static ctl_t *start_ctl(unsigned idle_ms, unsigned max_clients, char *err, size_t errlen)
{
	ctl_params_t p = {.path = fx.path,
			  .mode = 0600,
			  .idle_timeout_ms = idle_ms,
			  .max_request = 64,
			  .max_clients = max_clients};
	return ctl_new(fx.base, &p, err, errlen);
}

static void setup(void)
{
	char err[256];
	watchdog();
	signal(SIGPIPE, SIG_IGN); /* as waymarkd does: a client gone is an error, not a death */
	snprintf(fx.dir, sizeof(fx.dir), "/tmp/waymark-ctl.XXXXXX");
	cr_assert_not_null(mkdtemp(fx.dir));
	snprintf(fx.path, sizeof(fx.path), "%s/sub/ctl.sock", fx.dir);
	fx.base = event_base_new();
	fx.ctl = start_ctl(300, 3, err, sizeof(err));
	cr_assert_not_null(fx.ctl, "%s", err);
	cr_assert_eq(ctl_register(fx.ctl, "echo", cmd_echo, NULL), 0);
	cr_assert_eq(ctl_register(fx.ctl, "later", cmd_later, NULL), 0);
	cr_assert_eq(ctl_register(fx.ctl, "fail", cmd_fail, NULL), 0);
	cr_assert_eq(ctl_register(fx.ctl, "echo", cmd_echo, NULL), -1);
}

static void teardown(void)
{
	char cmd[128];
	ctl_free(fx.ctl);
	event_base_free(fx.base);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", fx.dir);
	cr_assert_eq(system(cmd), 0);
}

static int client(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, fx.path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "%s", strerror(errno));
	return fd;
}

static void say(int fd, const char *s)
{
	cr_assert_eq(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

/* Run the loop until `fd` has received `lines` newlines or was closed, or
 * 5 s pass. Returns what arrived; *closed tells whether the server closed. */
static char *pump(int fd, int lines, bool *closed)
{
	static char got[8192];
	size_t n = 0;
	int seen = 0;
	*closed = false;
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	got[0] = '\0';
	for (;;) {
		event_base_loop(fx.base, EVLOOP_NONBLOCK);
		ssize_t r = recv(fd, got + n, sizeof(got) - 1 - n, 0);
		if (r > 0) {
			for (ssize_t i = 0; i < r; i++)
				seen += got[n + (size_t)i] == '\n';
			n += (size_t)r;
			got[n] = '\0';
			if (lines >= 0 && seen >= lines)
				break;
			continue;
		}
		if (r == 0) {
			*closed = true;
			break;
		}
		cr_assert(errno == EAGAIN || errno == EWOULDBLOCK, "%s", strerror(errno));
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec >= 5)
			break;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		poll(&p, 1, 5);
	}
	return got;
}

TestSuite(ctl_socket, .init = setup, .fini = teardown);

Test(ctl_socket, file_and_mode)
{
	struct stat st;
	cr_assert_eq(lstat(fx.path, &st), 0);
	cr_assert(S_ISSOCK(st.st_mode));
	cr_assert_eq(st.st_mode & 07777, 0600);
	cr_assert_str_eq(ctl_path(fx.ctl), fx.path);
}

Test(ctl_socket, commands_in_order)
{
	bool closed;
	int fd = client();
	say(fd, "{\"cmd\":\"echo\",\"say\":\"hi\",\"id\":1}\r\n{\"cmd\":\"help\"}\n{\"cmd\":"
		"\"fail\"}\n");
	const char *got = pump(fd, 3, &closed);
	cr_assert_str_eq(got,
			 "{\"ok\":true,\"id\":1,\"result\":\"hi\"}\n"
			 "{\"ok\":true,\"result\":{\"commands\":[\"help\",\"echo\",\"later\","
			 "\"fail\"]}}\n"
			 "{\"ok\":false,\"error\":\"it failed\",\"errors\":[\"f.zone:3: bad\"]}\n");
	cr_assert_not(closed);
	close(fd);
}

Test(ctl_socket, garbage_gets_an_error_and_the_connection_lives)
{
	bool closed;
	int fd = client();
	say(fd, "garbage\n\n{\"cmd\":\"nope\",\"id\":\"x\"}\n\x01\x02\xff\n{\"cmd\":\"echo\","
		"\"say\":\"ok\"}\n");
	const char *got = pump(fd, 4, &closed);
	cr_assert_str_eq(
	    got,
	    "{\"ok\":false,\"error\":\"bad request: unexpected character at byte 1\"}\n"
	    "{\"ok\":false,\"id\":\"x\",\"error\":\"unknown command 'nope' (try \\\"help\\\")\"}\n"
	    "{\"ok\":false,\"error\":\"bad request: unexpected character at byte 1\"}\n"
	    "{\"ok\":true,\"result\":\"ok\"}\n");
	cr_assert_not(closed);
	close(fd);
}

Test(ctl_socket, too_long_is_refused_and_closed)
{
	bool closed;
	int fd = client();
	char line[200];
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	say(fd, line);
	const char *got = pump(fd, -1, &closed);
	cr_assert_str_eq(got, "{\"ok\":false,\"error\":\"request longer than 64 bytes\"}\n");
	cr_assert(closed);
	close(fd);
}

Test(ctl_socket, silent_client_times_out)
{
	bool closed;
	int fd = client();
	const char *got = pump(fd, -1, &closed);
	cr_assert_str_eq(got,
			 "{\"ok\":false,\"error\":\"idle timeout: no request within 300 ms\"}\n");
	cr_assert(closed);
	close(fd);
}

Test(ctl_socket, deferred_reply_waits_without_timeout)
{
	bool closed;
	int fd = client();
	say(fd, "{\"cmd\":\"later\"}\n{\"cmd\":\"echo\",\"say\":\"after\"}\n");
	/* Longer than the idle timeout: a pending request is not idle. */
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		event_base_loop(fx.base, EVLOOP_NONBLOCK);
		usleep(10000);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < 600);
	cr_assert_not_null(fx.held);
	cr_assert_str_eq(ctl_req_cmd(fx.held), "later");
	char buf[16];
	cr_assert_eq(recv(fd, buf, sizeof(buf), 0), -1); /* nothing yet, not closed */
	ctl_jw_t *w = ctl_req_reply(fx.held, NULL);
	ctl_jw_kuint(w, "result", 42);
	ctl_req_send(fx.held);
	fx.held = NULL;
	const char *got = pump(fd, 2, &closed);
	cr_assert_str_eq(got, "{\"ok\":true,\"result\":42}\n{\"ok\":true,\"result\":\"after\"}\n");
	close(fd);
}

Test(ctl_socket, client_gone_while_pending)
{
	int fd = client();
	say(fd, "{\"cmd\":\"later\"}\n");
	for (int i = 0; i < 50 && !fx.held; i++) {
		event_base_loop(fx.base, EVLOOP_NONBLOCK);
		usleep(2000);
	}
	cr_assert_not_null(fx.held);
	close(fd);
	for (int i = 0; i < 20; i++) {
		event_base_loop(fx.base, EVLOOP_NONBLOCK);
		usleep(2000);
	}
	/* The request stays valid until answered; answering frees it (ASan
	 * checks there is no use after free). */
	ctl_req_fail(fx.held, "too late");
	fx.held = NULL;
	event_base_loop(fx.base, EVLOOP_NONBLOCK);
}

Test(ctl_socket, half_closed_client_gets_its_replies)
{
	bool closed;
	int fd = client();
	say(fd, "{\"cmd\":\"echo\",\"say\":\"a\"}\n{\"cmd\":\"echo\",\"say\":\"b\"}");
	shutdown(fd, SHUT_WR);
	const char *got = pump(fd, -1, &closed);
	cr_assert_str_eq(got, "{\"ok\":true,\"result\":\"a\"}\n{\"ok\":true,\"result\":\"b\"}\n");
	cr_assert(closed);
	close(fd);
}

Test(ctl_socket, client_limit)
{
	bool closed;
	int fds[3];
	for (int i = 0; i < 3; i++)
		fds[i] = client();
	for (int i = 0; i < 10; i++)
		event_base_loop(fx.base, EVLOOP_NONBLOCK);
	int extra = client();
	const char *got = pump(extra, -1, &closed);
	cr_assert_str_eq(got, "{\"ok\":false,\"error\":\"too many clients\"}\n");
	cr_assert(closed);
	close(extra);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
}

Test(ctl_socket, live_socket_is_refused)
{
	char err[256];
	ctl_t *second = start_ctl(300, 3, err, sizeof(err));
	cr_assert_null(second);
	cr_assert(strstr(err, "in use by a running daemon"), "%s", err);
	struct stat st;
	cr_assert_eq(lstat(fx.path, &st), 0, "the first socket must stay");
}

Test(ctl_socket, stale_socket_is_replaced_and_removed_at_exit)
{
	char err[256];
	ctl_free(fx.ctl);
	fx.ctl = NULL;
	/* A socket file nobody listens on: what a crashed daemon leaves. */
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, fx.path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	fx.ctl = start_ctl(300, 3, err, sizeof(err));
	cr_assert_not_null(fx.ctl, "%s", err);
	ctl_free(fx.ctl);
	fx.ctl = NULL;
	struct stat st;
	cr_assert_eq(lstat(fx.path, &st), -1, "the socket file is removed");
}

Test(ctl_socket, a_file_in_the_way_is_left_alone)
{
	char err[256];
	ctl_free(fx.ctl);
	fx.ctl = NULL;
	FILE *f = fopen(fx.path, "w");
	cr_assert_not_null(f);
	fclose(f);
	cr_assert_null(start_ctl(300, 3, err, sizeof(err)));
	cr_assert(strstr(err, "exists and is not a socket"), "%s", err);
	struct stat st;
	cr_assert_eq(lstat(fx.path, &st), 0);
	cr_assert(S_ISREG(st.st_mode));
}

/* ---- reports ----------------------------------------------------------------------------- */

static ctl_report_t sample_report(void)
{
	static ctl_listener_info_t ls[2] = {{"127.0.0.1", 53, "udp,tcp"}, {"::1", 9153, "http"}};
	static ctl_zone_info_t zs[2] = {{"example.test", 7, 40}, {"we\"ird\\zo\nne", 1, 2}};
	static uint64_t workers[2] = {30, 12};
	ctl_report_t r = {
	    .version = "1.2.3",
	    .pid = 99,
	    .now = 1000000,
	    .started = 1000000 - 3661,
	    .generation = 4,
	    .loaded_at = 999999,
	    .threads = 2,
	    .listeners = ls,
	    .n_listeners = 2,
	    .control_socket = "/run/waymark/waymarkd.sock",
	    .zones = zs,
	    .n_zones = 2,
	    .worker_queries = workers,
	    .n_workers = 2,
	    .reloads_ok = 3,
	    .reloads_failed = 1,
	    .last_reload = 999999,
	    .last_reload_ok = false,
	};
	for (unsigned k = 0; k < STAT_COUNT; k++)
		r.counters[k] = 100 + k;
	return r;
}

Test(report, prom_escape, .init = watchdog)
{
	ctl_buf_t b;
	ctl_buf_init(&b);
	ctl_prom_escape(&b, "a\"b\\c\nd");
	cr_assert_str_eq(b.p, "a\\\"b\\\\c\\nd");
	ctl_buf_free(&b);
}

Test(report, metrics_text_format, .init = watchdog)
{
	ctl_report_t r = sample_report();
	ctl_buf_t b;
	ctl_buf_init(&b);
	ctl_report_metrics(&r, &b);
	cr_assert_not(b.oom);
	const char *t = b.p;
	cr_assert(strstr(t, "# HELP waymark_queries_total "));
	cr_assert(strstr(t, "\n# TYPE waymark_queries_total counter\n"
			    "waymark_queries_total{transport=\"udp\"} 100\n"
			    "waymark_queries_total{transport=\"tcp\"} 101\n"));
	cr_assert(strstr(t, "\nwaymark_responses_total{rcode=\"NXDOMAIN\"} 105\n"));
	char want[96];
	snprintf(want, sizeof(want), "\nwaymark_query_types_total{qtype=\"AAAA\"} %u\n",
		 100 + STAT_QTYPE_AAAA);
	cr_assert(strstr(t, want), "%s", want);
	cr_assert(strstr(t, "\nwaymark_query_types_total{qtype=\"other\"} "));
	cr_assert(strstr(t, "\nwaymark_zone_answers_total{zone=\"example.test\"} 40\n"));
	cr_assert(strstr(t, "\nwaymark_zone_answers_total{zone=\"we\\\"ird\\\\zo\\nne\"} 2\n"));
	cr_assert(strstr(t, "\nwaymark_zone_serial{zone=\"example.test\"} 7\n"));
	cr_assert(strstr(t, "\nwaymark_worker_queries_total{worker=\"1\"} 12\n"));
	cr_assert(strstr(t, "\nwaymark_reloads_total{result=\"ok\"} 3\n"
			    "waymark_reloads_total{result=\"failed\"} 1\n"));
	cr_assert(strstr(t, "\nwaymark_last_reload_time_seconds 999999\n"));
	cr_assert(strstr(t, "\nwaymark_last_reload_success 0\n"));
	cr_assert(strstr(t, "\nwaymark_build_info{version=\"1.2.3\"} 1\n"));

	/* Line by line: every sample follows the HELP and TYPE of its metric
	 * family, each family is declared once, and every line ends in \n. */
	cr_assert_eq(t[b.len - 1], '\n');
	char family[128] = "", declared[64][128];
	int n_declared = 0;
	for (const char *line = t; *line;) {
		const char *end = strchr(line, '\n');
		size_t len = (size_t)(end - line);
		char l[512];
		cr_assert_lt(len, sizeof(l));
		memcpy(l, line, len);
		l[len] = '\0';
		if (strncmp(l, "# HELP ", 7) == 0) {
			sscanf(l + 7, "%127s", family);
			for (int i = 0; i < n_declared; i++)
				cr_assert_str_neq(declared[i], family, "declared twice: %s",
						  family);
			cr_assert_lt(n_declared, 64);
			strcpy(declared[n_declared++], family);
		} else if (strncmp(l, "# TYPE ", 7) == 0) {
			char name[128], type[32];
			cr_assert_eq(sscanf(l + 7, "%127s %31s", name, type), 2);
			cr_assert_str_eq(name, family, "TYPE right after its HELP: %s", l);
			cr_assert(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0);
		} else {
			char name[128];
			size_t nl = strcspn(l, "{ ");
			cr_assert_lt(nl, sizeof(name));
			memcpy(name, l, nl);
			name[nl] = '\0';
			cr_assert_str_eq(name, family, "sample outside its family: %s", l);
			const char *val = strrchr(l, ' ');
			cr_assert_not_null(val);
			for (const char *p = val + 1; *p; p++)
				cr_assert(*p >= '0' && *p <= '9', "value: %s", l);
			for (const char *p = name; *p; p++)
				cr_assert((*p >= 'a' && *p <= 'z') || *p == '_', "name: %s", l);
		}
		line = end + 1;
	}
	ctl_buf_free(&b);
}

Test(report, status_and_stats_json, .init = watchdog)
{
	ctl_report_t r = sample_report();
	ctl_buf_t b;
	ctl_jw_t w;
	char err[128];

	ctl_buf_init(&b);
	ctl_jw_init(&w, &b);
	ctl_report_status(&r, &w);
	cr_assert_not(w.bad);
	ctl_json_t *v = ctl_json_parse(b.p, b.len, err, sizeof(err));
	cr_assert_not_null(v, "%s: %s", err, b.p);
	cr_assert_str_eq(ctl_json_get_str(v, "version"), "1.2.3");
	cr_assert_eq(ctl_json_get_uint(v, "uptime_seconds", 0), 3661);
	cr_assert_eq(ctl_json_get_uint(v, "generation", 0), 4);
	cr_assert_str_eq(ctl_json_get_str(v, "started"), "1970-01-12T12:45:39Z");
	const ctl_json_t *zones = ctl_json_get(v, "zones");
	cr_assert_eq(zones->len, 2);
	cr_assert_str_eq(ctl_json_get_str(zones->child->next, "name"), "we\"ird\\zo\nne");
	cr_assert_eq(ctl_json_get_uint(zones->child, "serial", 0), 7);
	const ctl_json_t *ls = ctl_json_get(v, "listeners");
	cr_assert_str_eq(ctl_json_get_str(ls->child->next, "transports"), "http");
	const ctl_json_t *rl = ctl_json_get(v, "reloads");
	cr_assert_eq(ctl_json_get(rl, "last_ok")->type, CTL_JSON_BOOL);
	cr_assert_not(ctl_json_get(rl, "last_ok")->b);
	ctl_json_free(v);

	ctl_buf_reset(&b);
	ctl_jw_init(&w, &b);
	ctl_report_stats(&r, &w);
	v = ctl_json_parse(b.p, b.len, err, sizeof(err));
	cr_assert_not_null(v, "%s: %s", err, b.p);
	const ctl_json_t *c = ctl_json_get(v, "counters");
	cr_assert_eq(c->len, STAT_COUNT);
	cr_assert_eq(ctl_json_get_uint(c, "udp_queries", 0), 100);
	cr_assert_eq(ctl_json_get_uint(c, "qtype_other", 0), 100 + STAT_QTYPE_OTHER);
	cr_assert_eq(ctl_json_get_uint(ctl_json_get(v, "zone_answers"), "example.test", 0), 40);
	cr_assert_eq(ctl_json_get(v, "worker_queries")->len, 2);
	ctl_json_free(v);

	/* No reload yet: last is null. */
	r.last_reload = 0;
	ctl_buf_reset(&b);
	ctl_jw_init(&w, &b);
	ctl_report_status(&r, &w);
	cr_assert(strstr(b.p, "\"last\":null,\"last_ok\":null"));
	ctl_buf_free(&b);
}

Test(json_writer, raw_value_rendered_elsewhere)
{
	/* a value rendered by one writer, placed by another */
	ctl_buf_t inner, outer;
	ctl_jw_t wi, wo;
	ctl_buf_init(&inner);
	ctl_buf_init(&outer);
	ctl_jw_init(&wi, &inner);
	ctl_jw_obj(&wi);
	ctl_jw_kstr(&wi, "a", "x\"y");
	ctl_jw_obj_end(&wi);
	ctl_jw_init(&wo, &outer);
	ctl_jw_obj(&wo);
	ctl_jw_kuint(&wo, "n", 1);
	ctl_jw_key(&wo, "result");
	ctl_jw_raw(&wo, inner.p, inner.len);
	ctl_jw_kbool(&wo, "ok", true);
	ctl_jw_obj_end(&wo);
	cr_assert(!wo.bad);
	cr_assert_str_eq(outer.p, "{\"n\":1,\"result\":{\"a\":\"x\\\"y\"},\"ok\":true}");
	ctl_buf_free(&inner);
	ctl_buf_free(&outer);
}
