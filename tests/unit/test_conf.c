/* test_conf.c -- unit tests of conf/conf.c (YAML documents, getters) and conf/server_conf.c. */
#include "config.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/server_conf.h"

/* ---- helpers ---------------------------------------------------------------------------- */

/* Test data lives in the source tree: the harness exports top_srcdir as an
 * absolute path, so this also works from a VPATH build (make distcheck). */
static const char *data_path(const char *file)
{
	static char buf[512];
	const char *top = getenv("top_srcdir");
	snprintf(buf, sizeof(buf), "%s/tests/unit/data/conf/%s", top ? top : ".", file);
	return buf;
}

static conf_doc_t *load(const char *yaml, conf_errs_t *e)
{
	return conf_load_string("t.yaml", yaml, strlen(yaml), e);
}

/* Assert that `e` holds exactly the NULL-terminated list `want`. */
static void expect_errs(const conf_errs_t *e, const char *const *want)
{
	unsigned n = 0;
	while (want[n])
		n++;
	for (unsigned i = 0; i < e->count && i < CONF_ERRS_MAX; i++)
		cr_log_info("error %u: %s", i, e->msg[i]);
	cr_assert_eq(e->count, n, "expected %u errors, got %u, first: %s", n, e->count,
		     e->count ? e->msg[0] : "(none)");
	for (unsigned i = 0; i < n; i++)
		cr_assert_str_eq(e->msg[i], want[i], "error %u:\n got: %s\nwant: %s", i, e->msg[i],
				 want[i]);
}

#define EXPECT_ERRS(e, ...) expect_errs((e), (const char *const[]){__VA_ARGS__, NULL})

/* Load `yaml` as a document and expect it to fail with exactly these errors. */
#define EXPECT_LOAD_FAILS(yaml, ...)                                                               \
	do {                                                                                       \
		conf_errs_t e_;                                                                    \
		conf_errs_init(&e_);                                                               \
		cr_assert_null(load((yaml), &e_));                                                 \
		EXPECT_ERRS(&e_, __VA_ARGS__);                                                     \
		conf_errs_free(&e_);                                                               \
	} while (0)

/* ---- errors ----------------------------------------------------------------------------- */

Test(conf_errs, keeps_max_and_counts_on)
{
	conf_errs_t e;
	conf_errs_init(&e);
	for (int i = 0; i < CONF_ERRS_MAX + 6; i++)
		conf_err_raw(&e, "f:%d: error %d", i + 1, i);
	cr_assert_eq(e.count, CONF_ERRS_MAX + 6);
	cr_assert_str_eq(e.msg[0], "f:1: error 0");
	cr_assert_str_eq(e.msg[CONF_ERRS_MAX - 1], "f:64: error 63");
	conf_errs_free(&e);
	cr_assert_eq(e.count, 0);
}

Test(conf_errs, located_and_unlocated)
{
	conf_errs_t e;
	conf_errs_init(&e);
	conf_doc_t *d = load("a:\n  - x\n  - y\n", &e);
	cr_assert_not_null(d);
	const conf_node_t *y = conf_seq_at(conf_map_get(conf_root(d), "a"), 1);
	conf_err(&e, d, y, "bad %s", "y");
	conf_err(&e, d, NULL, "whole file");
	EXPECT_ERRS(&e, "t.yaml:3:5: bad y", "t.yaml: whole file");
	conf_free(d);
	conf_errs_free(&e);
}

/* ---- documents -------------------------------------------------------------------------- */

Test(conf_doc, nodes_and_positions)
{
	conf_errs_t e;
	conf_errs_init(&e);
	conf_doc_t *d = load("name: 'quoted'\nlist:\n  - 1\n  - {k: v}\nempty: []\n", &e);
	cr_assert_not_null(d);
	cr_assert_eq(e.count, 0);
	cr_assert_str_eq(conf_doc_file(d), "t.yaml");

	const conf_node_t *r = conf_root(d);
	cr_assert_eq(conf_kind(r), CONF_MAP);
	cr_assert_eq(conf_len(r), 3);
	cr_assert_eq(conf_line(r), 1);
	cr_assert_eq(conf_col(r), 1);
	cr_assert_str_eq(conf_scalar(conf_map_key(r, 1)), "list");
	cr_assert_eq(conf_line(conf_map_key(r, 1)), 2);
	cr_assert_null(conf_map_key(r, 3));
	cr_assert_null(conf_map_val(r, 3));

	const conf_node_t *name = conf_map_get(r, "name");
	cr_assert_eq(conf_kind(name), CONF_SCALAR);
	cr_assert_str_eq(conf_scalar(name), "quoted");
	cr_assert_eq(conf_line(name), 1);
	cr_assert_eq(conf_col(name), 7);
	cr_assert_eq(conf_len(name), 0);

	const conf_node_t *list = conf_map_val(r, 1);
	cr_assert_eq(conf_kind(list), CONF_SEQ);
	cr_assert_eq(conf_len(list), 2);
	cr_assert_null(conf_scalar(list));
	const conf_node_t *m = conf_seq_at(list, 1);
	cr_assert_eq(conf_kind(m), CONF_MAP);
	cr_assert_eq(conf_line(m), 4);
	cr_assert_eq(conf_col(m), 5);
	cr_assert_str_eq(conf_scalar(conf_map_get(m, "k")), "v");
	cr_assert_eq(conf_col(conf_map_get(m, "k")), 9);
	cr_assert_null(conf_seq_at(list, 2));
	cr_assert_null(conf_map_get(list, "k"));

	cr_assert_eq(conf_len(conf_map_get(r, "empty")), 0);
	cr_assert_null(conf_map_get(r, "missing"));
	conf_free(d);
	conf_errs_free(&e);
}

Test(conf_doc, aliases_are_resolved)
{
	conf_errs_t e;
	conf_errs_init(&e);
	conf_doc_t *d = load("a: &x {p: 1}\nb: *x\n", &e);
	cr_assert_not_null(d);
	const conf_node_t *b = conf_map_get(conf_root(d), "b");
	cr_assert_eq(conf_kind(b), CONF_MAP);
	cr_assert_str_eq(conf_scalar(conf_map_get(b, "p")), "1");
	/* The alias is the anchored node itself, positions included. */
	cr_assert_eq(b, conf_map_get(conf_root(d), "a"));
	cr_assert_eq(conf_line(b), 1);
	conf_free(d);
	conf_errs_free(&e);
}

Test(conf_doc, duplicate_key_at_second)
{
	EXPECT_LOAD_FAILS("a: 1\nb: 2\na: 3\n",
			  "t.yaml:3:1: duplicate key 'a' (first at line 1, column 1)");
}

Test(conf_doc, duplicate_keys_nested_and_quoted)
{
	/* 'k' and "k" are the same key; every duplicate is reported, those of
	 * a mapping before those nested in it. */
	EXPECT_LOAD_FAILS("top:\n  inner: {k: 1, 'k': 2}\nx: [{a: 1, b: 2, a: 3}]\nx: 0\n",
			  "t.yaml:4:1: duplicate key 'x' (first at line 3, column 1)",
			  "t.yaml:2:17: duplicate key 'k' (first at line 2, column 11)",
			  "t.yaml:3:18: duplicate key 'a' (first at line 3, column 6)");
}

Test(conf_doc, invalid_yaml_position)
{
	EXPECT_LOAD_FAILS("a: 1\nb: [1, 2\nc: 3\n",
			  "t.yaml:3:2: invalid YAML: did not find expected ',' or ']' (while "
			  "parsing a flow sequence at line 2, column 4)");
	EXPECT_LOAD_FAILS(
	    "a: 1\n b: 2\n",
	    "t.yaml:2:3: invalid YAML: mapping values are not allowed in this context");
	EXPECT_LOAD_FAILS("a: *nothing\n", "t.yaml:1:4: invalid YAML: found undefined alias");
}

Test(conf_doc, invalid_utf8_position)
{
	EXPECT_LOAD_FAILS("a: 1\nb: x\xff\n",
			  "t.yaml:2:5: invalid YAML: invalid leading UTF-8 octet (#FF)");
}

Test(conf_doc, empty_document)
{
	EXPECT_LOAD_FAILS("", "t.yaml: empty document");
	EXPECT_LOAD_FAILS("# only a comment\n\n", "t.yaml: empty document");
	EXPECT_LOAD_FAILS("---\n# nothing\n...\n", "t.yaml: empty document");
}

Test(conf_doc, one_document_only)
{
	EXPECT_LOAD_FAILS("a: 1\n---\nb: 2\n", "t.yaml:3:1: only one YAML document is allowed");
}

Test(conf_doc, complex_key)
{
	EXPECT_LOAD_FAILS("? [a, b]\n: 1\n", "t.yaml:1:3: mapping key must be a scalar");
}

Test(conf_doc, nul_in_string)
{
	EXPECT_LOAD_FAILS("a: \"x\\0y\"\n", "t.yaml:1:4: NUL character in a string");
}

Test(conf_doc, recursive_alias)
{
	EXPECT_LOAD_FAILS("a: &x [1, *x]\n", "t.yaml:1:4: alias refers to a node that contains it");
}

Test(conf_doc, too_deep)
{
	char yaml[200];
	memset(yaml, '[', 100);
	memset(yaml + 100, ']', 100);
	conf_errs_t e;
	conf_errs_init(&e);
	cr_assert_null(conf_load_string("t.yaml", yaml, sizeof(yaml), &e));
	EXPECT_ERRS(&e, "t.yaml:1:66: nesting deeper than 64 levels");
	conf_errs_free(&e);
}

Test(conf_doc, shared_aliases_stay_linear)
{
	/* 10 levels of 10 aliases each: 10^10 paths, but checked once per node. */
	char yaml[4096];
	int n = snprintf(yaml, sizeof(yaml), "l0: &l0 [x]\n");
	for (int i = 1; i < 10; i++)
		n += snprintf(yaml + n, sizeof(yaml) - (size_t)n,
			      "l%d: &l%d [*l%d,*l%d,*l%d,*l%d,*l%d,*l%d,*l%d,*l%d,*l%d,*l%d]\n", i,
			      i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1,
			      i - 1);
	conf_errs_t e;
	conf_errs_init(&e);
	conf_doc_t *d = load(yaml, &e);
	cr_assert_not_null(d);
	conf_free(d);
	conf_errs_free(&e);
}

Test(conf_doc, missing_file)
{
	conf_errs_t e;
	conf_errs_init(&e);
	cr_assert_null(conf_load_file("/nonexistent/waymark.yaml", &e));
	EXPECT_ERRS(&e, "/nonexistent/waymark.yaml: No such file or directory");
	conf_errs_free(&e);
}

Test(conf_doc, load_file)
{
	conf_errs_t e;
	conf_errs_init(&e);
	const char *path = data_path("minimal.yaml");
	conf_doc_t *d = conf_load_file(path, &e);
	cr_assert_not_null(d);
	cr_assert_str_eq(conf_doc_file(d), path);
	const conf_node_t *l = conf_map_get(conf_root(d), "listen");
	cr_assert_str_eq(conf_scalar(l), "[::]:53");
	cr_assert_eq(conf_line(l), 2);
	cr_assert_eq(conf_col(l), 9);
	conf_free(d);
	conf_errs_free(&e);
}

/* ---- schema helpers --------------------------------------------------------------------- */

/* A one-scalar document "v: <text>" and its value node, for the getters. */
struct one {
	conf_errs_t e;
	conf_doc_t *d;
	const conf_node_t *v;
};

static void one_load(struct one *o, const char *text)
{
	char yaml[512];
	snprintf(yaml, sizeof(yaml), "v: %s\n", text);
	conf_errs_init(&o->e);
	o->d = load(yaml, &o->e);
	cr_assert_not_null(o->d, "cannot load: %s", yaml);
	o->v = conf_map_get(conf_root(o->d), "v");
}

static void one_done(struct one *o)
{
	conf_free(o->d);
	conf_errs_free(&o->e);
}

Test(conf_schema, check_map)
{
	static const char *const allowed[] = {"a", "b", NULL};
	conf_errs_t e;
	conf_errs_init(&e);
	conf_doc_t *d = load("m: {a: 1, c: 2, b: 3, d: 4}\ns: [1]\nok: {b: 1}\n", &e);
	cr_assert_not_null(d);
	const conf_node_t *r = conf_root(d);
	cr_assert_eq(conf_check_map(&e, d, conf_map_get(r, "ok"), "thing", allowed), 0);
	cr_assert_eq(e.count, 0);
	cr_assert_eq(conf_check_map(&e, d, conf_map_get(r, "m"), "thing", allowed), -1);
	cr_assert_eq(conf_check_map(&e, d, conf_map_get(r, "s"), "thing", allowed), -1);
	EXPECT_ERRS(&e, "t.yaml:1:11: unknown key 'c' in thing",
		    "t.yaml:1:23: unknown key 'd' in thing",
		    "t.yaml:2:4: thing must be a mapping, not a sequence");
	conf_free(d);
	conf_errs_free(&e);
}

Test(conf_schema, expect_kind)
{
	struct one o;
	one_load(&o, "{x: 1}");
	cr_assert_eq(conf_expect(&o.e, o.d, o.v, CONF_MAP, "v"), 0);
	cr_assert_eq(conf_expect(&o.e, o.d, o.v, CONF_SEQ, "v"), -1);
	cr_assert_eq(conf_expect(&o.e, o.d, o.v, CONF_SCALAR, "v"), -1);
	EXPECT_ERRS(&o.e, "t.yaml:1:4: v must be a sequence, not a mapping",
		    "t.yaml:1:4: v must be a scalar, not a mapping");
	one_done(&o);
}

Test(conf_schema, get_str)
{
	struct one o;
	const char *s = NULL;
	one_load(&o, "\"\"");
	cr_assert_eq(conf_get_str(&o.e, o.d, o.v, "v", &s), 0);
	cr_assert_str_eq(s, "");
	one_done(&o);

	one_load(&o, "");
	cr_assert_eq(conf_get_str(&o.e, o.d, o.v, "v", &s), -1);
	EXPECT_ERRS(&o.e, "t.yaml:1:3: v: missing value");
	one_done(&o);

	one_load(&o, "[a]");
	cr_assert_eq(conf_get_str(&o.e, o.d, o.v, "v", &s), -1);
	EXPECT_ERRS(&o.e, "t.yaml:1:4: v must be a string, not a sequence");
	one_done(&o);
}

Test(conf_schema, get_uint)
{
	static const struct {
		const char *in;
		uint64_t out;
	} good[] = {
	    {"0", 0}, {"7", 7}, {"'42'", 42}, {"007", 7}, {"18446744073709551615", UINT64_MAX}};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct one o;
		uint64_t v = 1234;
		one_load(&o, good[i].in);
		cr_assert_eq(conf_get_uint(&o.e, o.d, o.v, "n", 0, UINT64_MAX, &v), 0, "%s",
			     good[i].in);
		cr_assert_eq(v, good[i].out, "%s", good[i].in);
		one_done(&o);
	}

	static const struct {
		const char *in;
		const char *msg;
	} bad[] = {
	    {"-1", "t.yaml:1:4: n: '-1' is not an integer"},
	    {"+1", "t.yaml:1:4: n: '+1' is not an integer"},
	    {"1.5", "t.yaml:1:4: n: '1.5' is not an integer"},
	    {"0x10", "t.yaml:1:4: n: '0x10' is not an integer"},
	    {"'1 '", "t.yaml:1:4: n: '1 ' is not an integer"},
	    {"abc", "t.yaml:1:4: n: 'abc' is not an integer"},
	    {"''", "t.yaml:1:4: n: '' is not an integer"},
	    {"9", "t.yaml:1:4: n: 9 is out of range 1..8"},
	    {"0", "t.yaml:1:4: n: 0 is out of range 1..8"},
	    {"18446744073709551616", "t.yaml:1:4: n: 18446744073709551616 is out of range 1..8"},
	    {"{}", "t.yaml:1:4: n must be an integer, not a mapping"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct one o;
		uint64_t v = 1234;
		one_load(&o, bad[i].in);
		cr_assert_eq(conf_get_uint(&o.e, o.d, o.v, "n", 1, 8, &v), -1, "%s", bad[i].in);
		cr_assert_eq(v, 1234, "untouched on error");
		EXPECT_ERRS(&o.e, bad[i].msg);
		one_done(&o);
	}
}

Test(conf_schema, get_bool)
{
	static const struct {
		const char *in;
		bool out;
	} good[] = {{"true", true},   {"yes", true}, {"on", true},   {"True", true},
		    {"false", false}, {"no", false}, {"OFF", false}, {"'no'", false}};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct one o;
		bool v = !good[i].out;
		one_load(&o, good[i].in);
		cr_assert_eq(conf_get_bool(&o.e, o.d, o.v, "b", &v), 0, "%s", good[i].in);
		cr_assert_eq(v, good[i].out, "%s", good[i].in);
		one_done(&o);
	}
	struct one o;
	bool v;
	one_load(&o, "1");
	cr_assert_eq(conf_get_bool(&o.e, o.d, o.v, "b", &v), -1);
	EXPECT_ERRS(&o.e, "t.yaml:1:4: b: '1' is not a boolean (true/false, yes/no, on/off)");
	one_done(&o);
}

Test(conf_schema, durations)
{
	static const struct {
		const char *in;
		uint64_t ms;
	} good[] = {
	    {"250ms", 250},
	    {"1s", 1000},
	    {"1.5s", 1500},
	    {"2m", 120000},
	    {"1h", 3600000},
	    {"1d", 86400000},
	    {"30", 30000},
	    {"0.25", 250},
	    {"0", 0},
	    {"1.500s", 1500},
	    {"0.001s", 1},
	    {"1.5m", 90000},
	    {"'10s'", 10000},
	    {"0ms", 0},
	    {"1.0000000000ms", 1},
	    {"18446744073709551615ms", UINT64_MAX},
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct one o;
		uint64_t v = 1234;
		one_load(&o, good[i].in);
		cr_assert_eq(conf_get_duration_ms(&o.e, o.d, o.v, "t", 0, UINT64_MAX, &v), 0, "%s",
			     good[i].in);
		cr_assert_eq(v, good[i].ms, "%s: %llu", good[i].in, (unsigned long long)v);
		one_done(&o);
	}

	static const struct {
		const char *in;
		const char *msg;
	} bad[] = {
	    {"-1s", "t.yaml:1:4: t: '-1s' is not a duration (e.g. 250ms, 1.5s, 2m, 1h, 1d)"},
	    {"1w", "t.yaml:1:4: t: '1w' is not a duration (e.g. 250ms, 1.5s, 2m, 1h, 1d)"},
	    {"s", "t.yaml:1:4: t: 's' is not a duration (e.g. 250ms, 1.5s, 2m, 1h, 1d)"},
	    {"1.s", "t.yaml:1:4: t: '1.s' is not a duration (e.g. 250ms, 1.5s, 2m, 1h, 1d)"},
	    {".5s", "t.yaml:1:4: t: '.5s' is not a duration (e.g. 250ms, 1.5s, 2m, 1h, 1d)"},
	    {"'1 s'", "t.yaml:1:4: t: '1 s' is not a duration (e.g. 250ms, 1.5s, 2m, 1h, 1d)"},
	    {"1S", "t.yaml:1:4: t: '1S' is not a duration (e.g. 250ms, 1.5s, 2m, 1h, 1d)"},
	    {"1sms", "t.yaml:1:4: t: '1sms' is not a duration (e.g. 250ms, 1.5s, 2m, 1h, 1d)"},
	    {"1.5ms", "t.yaml:1:4: t: '1.5ms' is finer than a millisecond"},
	    {"0.0001", "t.yaml:1:4: t: '0.0001' is finer than a millisecond"},
	    {"0ms", "t.yaml:1:4: t: 0ms is out of range 1ms..1h"},
	    {"2h", "t.yaml:1:4: t: 2h is out of range 1ms..1h"},
	    {"3600001ms", "t.yaml:1:4: t: 3600001ms is out of range 1ms..1h"},
	    {"213503982335d", "t.yaml:1:4: t: 213503982335d is out of range 1ms..1h"},
	    {"99999999999999999999", "t.yaml:1:4: t: 99999999999999999999 is out of range 1ms..1h"},
	    {"[1s]", "t.yaml:1:4: t must be a duration, not a sequence"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct one o;
		uint64_t v = 1234;
		one_load(&o, bad[i].in);
		cr_assert_eq(conf_get_duration_ms(&o.e, o.d, o.v, "t", 1, 3600000, &v), -1, "%s",
			     bad[i].in);
		cr_assert_eq(v, 1234);
		EXPECT_ERRS(&o.e, bad[i].msg);
		one_done(&o);
	}
}

/* Parse `in` as a sockaddr with default port 53, expect `family`, `addr` (as
 * inet_ntop prints it) and `port`. */
static void expect_sockaddr(const char *in, int family, const char *addr, uint16_t port)
{
	struct one o;
	struct sockaddr_storage ss;
	socklen_t len = 0;
	char text[INET6_ADDRSTRLEN];
	one_load(&o, in);
	cr_assert_eq(conf_get_sockaddr(&o.e, o.d, o.v, "listen", 53, &ss, &len), 0, "%s", in);
	cr_assert_eq(ss.ss_family, family, "%s", in);
	if (family == AF_INET) {
		struct sockaddr_in sin;
		memcpy(&sin, &ss, sizeof(sin));
		cr_assert_eq(len, sizeof(sin));
		inet_ntop(AF_INET, &sin.sin_addr, text, sizeof(text));
		cr_assert_eq(ntohs(sin.sin_port), port, "%s", in);
	} else {
		struct sockaddr_in6 sin6;
		memcpy(&sin6, &ss, sizeof(sin6));
		cr_assert_eq(len, sizeof(sin6));
		inet_ntop(AF_INET6, &sin6.sin6_addr, text, sizeof(text));
		cr_assert_eq(ntohs(sin6.sin6_port), port, "%s", in);
	}
	cr_assert_str_eq(text, addr, "%s", in);
	one_done(&o);
}

Test(conf_schema, sockaddr_good)
{
	expect_sockaddr("127.0.0.1:5300", AF_INET, "127.0.0.1", 5300);
	expect_sockaddr("'[::1]:5300'", AF_INET6, "::1", 5300);
	expect_sockaddr("192.0.2.1", AF_INET, "192.0.2.1", 53);
	expect_sockaddr("2001:db8::1", AF_INET6, "2001:db8::1", 53);
	expect_sockaddr("'[2001:db8::1]'", AF_INET6, "2001:db8::1", 53);
	expect_sockaddr("'*:53'", AF_INET, "0.0.0.0", 53);
	expect_sockaddr("'*'", AF_INET, "0.0.0.0", 53);
	expect_sockaddr("'[::]:53'", AF_INET6, "::", 53);
	expect_sockaddr("127.0.0.1:0", AF_INET, "127.0.0.1", 0);
	expect_sockaddr("127.0.0.1:65535", AF_INET, "127.0.0.1", 65535);
	expect_sockaddr("'[::ffff:192.0.2.1]:1'", AF_INET6, "::ffff:192.0.2.1", 1);
}

Test(conf_schema, sockaddr_bad)
{
#define NOT_ADDR(s)                                                                                \
	"t.yaml:1:4: listen: '" s                                                                  \
	"' is not an address (IPv4, IPv4:port, IPv6, [IPv6]:port or *:port)"
#define BAD_PORT(s) "t.yaml:1:4: listen: bad port in '" s "' (0..65535)"
	static const struct {
		const char *in;
		const char *msg;
	} bad[] = {
	    {"127.0.0.1:65536", BAD_PORT("127.0.0.1:65536")},
	    {"'127.0.0.1:'", BAD_PORT("127.0.0.1:")},
	    {"127.0.0.1:-1", BAD_PORT("127.0.0.1:-1")},
	    {"127.0.0.1:053x", BAD_PORT("127.0.0.1:053x")},
	    {"127.0.0.1:000053", BAD_PORT("127.0.0.1:000053")},
	    {"'[::1]:99999'", BAD_PORT("[::1]:99999")},
	    {"localhost:53", NOT_ADDR("localhost:53")},
	    {"256.0.0.1", NOT_ADDR("256.0.0.1")},
	    {"'[::1'", NOT_ADDR("[::1")},
	    {"'[::1]x'", NOT_ADDR("[::1]x")},
	    {"'[127.0.0.1]:53'", NOT_ADDR("[127.0.0.1]:53")},
	    {"'[*]:53'", NOT_ADDR("[*]:53")},
	    {"'::1::2'", NOT_ADDR("::1::2")},
	    {"'1.2.3.4 '", NOT_ADDR("1.2.3.4 ")},
	    {"''", NOT_ADDR("")},
	    {"'[]:53'", NOT_ADDR("[]:53")},
	};
#undef NOT_ADDR
#undef BAD_PORT
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct one o;
		struct sockaddr_storage ss;
		socklen_t len = 0;
		one_load(&o, bad[i].in);
		cr_assert_eq(conf_get_sockaddr(&o.e, o.d, o.v, "listen", 53, &ss, &len), -1, "%s",
			     bad[i].in);
		EXPECT_ERRS(&o.e, bad[i].msg);
		one_done(&o);
	}
}

Test(conf_schema, resolve_path)
{
	static const struct {
		const char *file, *rel, *want;
	} cases[] = {
	    {"/etc/waymark/waymark.yaml", "zones/a.zone", "/etc/waymark/zones/a.zone"},
	    {"/etc/waymark/waymark.yaml", "/var/a.zone", "/var/a.zone"},
	    {"conf/w.yaml", "a.zone", "conf/a.zone"},
	    {"w.yaml", "a.zone", "a.zone"},
	    {"/w.yaml", "a.zone", "/a.zone"},
	    {"./w.yaml", "../a.zone", "./../a.zone"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		conf_errs_t e;
		conf_errs_init(&e);
		conf_doc_t *d = conf_load_string(cases[i].file, "a: 1", 4, &e);
		cr_assert_not_null(d);
		char *p = conf_resolve_path(d, cases[i].rel);
		cr_assert_str_eq(p, cases[i].want);
		free(p);
		conf_free(d);
		conf_errs_free(&e);
	}
}

/* ---- server_conf ------------------------------------------------------------------------ */

static void expect_v4(const server_conf_t *c, size_t i, const char *addr, uint16_t port)
{
	struct sockaddr_in sin;
	char text[INET_ADDRSTRLEN];
	cr_assert_eq(c->listen[i].ss_family, AF_INET, "listen %zu", i);
	cr_assert_eq(c->listen_len[i], sizeof(sin));
	memcpy(&sin, &c->listen[i], sizeof(sin));
	inet_ntop(AF_INET, &sin.sin_addr, text, sizeof(text));
	cr_assert_str_eq(text, addr);
	cr_assert_eq(ntohs(sin.sin_port), port);
}

static void expect_v4_addr(const struct sockaddr_storage *ss, socklen_t len, const char *addr,
			   uint16_t port)
{
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
	char buf[INET_ADDRSTRLEN];
	cr_assert_eq(ss->ss_family, AF_INET);
	cr_assert_eq(len, sizeof(struct sockaddr_in));
	inet_ntop(AF_INET, &s4->sin_addr, buf, sizeof(buf));
	cr_assert_str_eq(buf, addr);
	cr_assert_eq(ntohs(s4->sin_port), port);
}

Test(server_conf, every_key)
{
	conf_errs_t e;
	conf_errs_init(&e);
	server_conf_t *c = server_conf_load(data_path("good.yaml"), &e);
	for (unsigned i = 0; i < e.count && i < CONF_ERRS_MAX; i++)
		cr_log_error("%s", e.msg[i]);
	cr_assert_not_null(c);
	cr_assert_eq(e.count, 0);
	cr_assert_str_eq(c->path, data_path("good.yaml"));
	cr_assert_not_null(c->doc);

	cr_assert_eq(c->n_listen, 4);
	expect_v4(c, 0, "127.0.0.1", 5300);
	cr_assert_eq(c->listen[1].ss_family, AF_INET6);
	cr_assert_eq(c->listen_len[1], sizeof(struct sockaddr_in6));
	expect_v4(c, 2, "0.0.0.0", 0);
	expect_v4(c, 3, "192.0.2.1", 53);
	cr_assert_str_eq(c->listen_text[0], "127.0.0.1:5300");
	cr_assert_str_eq(c->listen_text[1], "[::1]:5300");
	cr_assert_str_eq(c->listen_text[2], "*:0");
	cr_assert_str_eq(c->listen_text[3], "192.0.2.1");

	cr_assert_eq(c->threads, 2);
	cr_assert_eq(c->log_level, LOG_LVL_DEBUG);
	cr_assert_eq(c->edns_udp_size, 1400);
	cr_assert_eq(c->tcp_idle_timeout_ms, 1500);
	cr_assert_eq(c->tcp_max_clients, 50);

	cr_assert_eq(c->n_zones, 2);
	cr_assert_str_eq(c->zones[0].name, "example.test");
	cr_assert_str_eq(c->zones[0].file, data_path("example.test.zone"));
	cr_assert_eq(c->zones[0].line, 10);
	cr_assert_eq(c->zones[0].col, 5);
	cr_assert_str_eq(c->zones[1].name, "other.test");
	cr_assert_str_eq(c->zones[1].file, data_path("sub/other.test.zone"));
	cr_assert_eq(c->zones[1].line, 12);

	/* Extension sections are left in the document for their modules. */
	const conf_node_t *svc = conf_map_get(conf_root(c->doc), "services");
	cr_assert_eq(conf_kind(svc), CONF_SEQ);
	cr_assert_eq(conf_line(svc), 17);
	server_conf_free(c);
	conf_errs_free(&e);
}

Test(server_conf, defaults)
{
	conf_errs_t e;
	conf_errs_init(&e);
	server_conf_t *c = server_conf_load(data_path("minimal.yaml"), &e);
	cr_assert_not_null(c);
	cr_assert_eq(c->n_listen, 1);
	cr_assert_eq(c->listen[0].ss_family, AF_INET6);
	cr_assert_str_eq(c->listen_text[0], "[::]:53");
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	cr_assert_eq(c->threads, cpus < 1 ? 1u : cpus > 256 ? 256u : (unsigned)cpus);
	cr_assert_eq(c->log_level, LOG_LVL_INFO);
	cr_assert_eq(c->edns_udp_size, 1232);
	cr_assert_eq(c->tcp_idle_timeout_ms, 10000);
	cr_assert_eq(c->tcp_max_clients, 1000);
	cr_assert_eq(c->n_zones, 0);
	cr_assert_str_eq(c->control_socket, "/run/waymark/waymarkd.sock");
	cr_assert_eq(c->control_mode, 0660);
	cr_assert_eq(c->control_idle_timeout_ms, 10000);
	cr_assert(c->metrics_enabled);
	cr_assert_str_eq(c->metrics_text, "127.0.0.1:9153");
	expect_v4_addr(&c->metrics_addr, c->metrics_addr_len, "127.0.0.1", 9153);
	cr_assert_null(c->user);
	cr_assert_null(c->group);
	server_conf_free(c);
	conf_errs_free(&e);
}

Test(server_conf, all_errors_of_a_file)
{
	conf_errs_t e;
	conf_errs_init(&e);
	const char *path = data_path("bad.yaml");
	cr_assert_null(server_conf_load(path, &e));
	static const char *const want[] = {
	    ":17:1: unknown key 'wat' in the configuration",
	    ":2:28: duplicate listen address '127.0.0.1:5300' (same as '127.0.0.1:5300')",
	    ":2:46: listen: bad port in '1.2.3.4:70000' (0..65535)",
	    ":3:10: threads: 0 is out of range 1..256",
	    ":4:12: log_level: 'loud' is not one of error, warning, info, debug",
	    ":5:16: edns_udp_size: 100 is out of range 512..4096",
	    ":6:46: unknown key 'keepalive' in tcp",
	    ":6:22: tcp.idle_timeout: '-1s' is not a duration (e.g. 250ms, 1.5s, 2m, 1h, 1d)",
	    ":6:40: tcp.max_clients: 'many' is not an integer",
	    ":10:11: duplicate zone 'example.test' (first at line 8, column 5)",
	    ":12:11: bad zone name 'bad..name': empty label",
	    ":13:11: zone file 'missing.zone': No such file or directory",
	    ":14:5: missing required key 'name' in zone",
	    ":16:5: unknown key 'path' in zone",
	    ":15:5: missing required key 'file' in zone",
	    NULL,
	};
	char full[16][1024];
	const char *expect[CONF_ERRS_MAX];
	size_t n = 0;
	for (; want[n]; n++) {
		snprintf(full[n], sizeof(full[n]), "%s%s", path, want[n]);
		expect[n] = full[n];
	}
	expect[n] = NULL;
	expect_errs(&e, expect);
	conf_errs_free(&e);
}

/* Load `yaml` as a config named data_path("inline.yaml") (so zone files
 * resolve to the test data), expect failure with the single error `want`,
 * given without its "file" prefix. */
static void expect_server_err(const char *yaml, const char *want)
{
	conf_errs_t e;
	char full[1024];
	const char *name = data_path("inline.yaml");
	snprintf(full, sizeof(full), "%s%s", name, want);
	conf_errs_init(&e);
	server_conf_t *c = server_conf_load_string(name, yaml, strlen(yaml), &e);
	cr_assert_null(c, "%s", yaml);
	EXPECT_ERRS(&e, full);
	conf_errs_free(&e);
}

static server_conf_t *server_ok(const char *yaml)
{
	conf_errs_t e;
	conf_errs_init(&e);
	server_conf_t *c =
	    server_conf_load_string(data_path("inline.yaml"), yaml, strlen(yaml), &e);
	for (unsigned i = 0; i < e.count && i < CONF_ERRS_MAX; i++)
		cr_log_error("%s", e.msg[i]);
	cr_assert_not_null(c, "%s", yaml);
	conf_errs_free(&e);
	return c;
}

Test(server_conf, listen_forms)
{
	server_conf_t *c = server_ok("listen: 127.0.0.1\n");
	cr_assert_eq(c->n_listen, 1);
	expect_v4(c, 0, "127.0.0.1", 53);
	server_conf_free(c);

	/* The same address with the default port spelled out is a duplicate. */
	expect_server_err("listen: [127.0.0.1, '127.0.0.1:53']\n",
			  ":1:21: duplicate listen address '127.0.0.1:53' (same as '127.0.0.1')");
	expect_server_err("listen: ['[::1]:53', '[0:0::1]:53']\n",
			  ":1:22: duplicate listen address '[0:0::1]:53' (same as '[::1]:53')");
	expect_server_err("listen: []\n", ":1:9: listen must not be empty");
	expect_server_err(
	    "listen: {a: 1}\n",
	    ":1:9: listen must be an address or a sequence of addresses, not a mapping");
	expect_server_err("listen: [[1]]\n", ":1:10: listen must be an address, not a sequence");
	expect_server_err("listen:\n", ":1:8: listen: missing value");
	expect_server_err("threads: 1\n", ":1:1: missing required key 'listen'");
}

Test(server_conf, top_level)
{
	expect_server_err("- listen\n",
			  ":1:1: the configuration must be a mapping, not a sequence");
	expect_server_err("listen\n", ":1:1: the configuration must be a mapping, not a scalar");
	expect_server_err("listen: '*'\nzone: []\n",
			  ":2:1: unknown key 'zone' in the configuration");
	expect_server_err("listen: '*'\nthreads: [2]\n",
			  ":2:10: threads must be an integer, not a sequence");
	expect_server_err("listen: '*'\nthreads: 257\n",
			  ":2:10: threads: 257 is out of range 1..256");
	expect_server_err("listen: '*'\nedns_udp_size: 4097\n",
			  ":2:16: edns_udp_size: 4097 is out of range 512..4096");
	expect_server_err("listen: '*'\ntcp: 5\n", ":2:6: tcp must be a mapping, not a scalar");
	expect_server_err("listen: '*'\ntcp: {idle_timeout: 2d}\n",
			  ":2:21: tcp.idle_timeout: 2d is out of range 1ms..1d");
	expect_server_err("listen: '*'\ntcp: {max_clients: 0}\n",
			  ":2:20: tcp.max_clients: 0 is out of range 1..1000000");
	expect_server_err("listen: '*'\nlog_level: [info]\n",
			  ":2:12: log_level must be a string, not a sequence");

	/* Every extension section is accepted, whatever its content. */
	server_conf_t *c = server_ok("listen: '*'\ngeo_maps: 1\nsites: []\npools: {}\n"
				     "members: x\nchecks: []\nservices: {}\nexplain: {}\n"
				     "overrides_file: x\nlog_level: error\n");
	cr_assert_eq(c->log_level, LOG_LVL_ERR);
	server_conf_free(c);
	size_t n = 0;
	while (server_conf_extension_keys[n])
		n++;
	cr_assert_eq(n, 8);
}

Test(server_conf, zones)
{
	server_conf_t *c = server_ok("listen: '*'\nzones: []\n");
	cr_assert_eq(c->n_zones, 0);
	server_conf_free(c);

	c = server_ok(
	    "listen: '*'\nzones:\n- {name: 'A-b_c.EXAMPLE.test', file: example.test.zone}\n"
	    "- {name: test., file: 'sub/other.test.zone'}\n");
	cr_assert_eq(c->n_zones, 2);
	cr_assert_str_eq(c->zones[0].name, "a-b_c.example.test");
	cr_assert_str_eq(c->zones[1].name, "test");
	cr_assert_eq(c->zones[1].line, 4);
	cr_assert_eq(c->zones[1].col, 3);
	server_conf_free(c);

	expect_server_err("listen: '*'\nzones: {}\n",
			  ":2:8: zones must be a sequence, not a mapping");
	expect_server_err("listen: '*'\nzones: [x]\n",
			  ":2:9: zone must be a mapping, not a scalar");
	expect_server_err("listen: '*'\nzones: [{name: a, file: sub}]\n",
			  ":2:25: zone file 'sub': Is a directory");
	expect_server_err("listen: '*'\nzones: [{name: a, file: ''}]\n",
			  ":2:25: zone file must not be empty");
	expect_server_err("listen: '*'\nzones: [{name: a, file: [x]}]\n",
			  ":2:25: zone file must be a string, not a sequence");
	expect_server_err("listen: '*'\nzones: [{name: a, file: example.test.zone},"
			  " {name: A., file: example.test.zone}]\n",
			  ":2:52: duplicate zone 'a' (first at line 2, column 9)");
}

Test(server_conf, zone_names)
{
	char label64[65], long_name[300];
	memset(label64, 'a', 64);
	label64[64] = '\0';
	/* 4 x 63 + 3 dots = 255 characters. */
	snprintf(long_name, sizeof(long_name), "%.63s.%.63s.%.63s.%.63s", label64, label64, label64,
		 label64);

	static const struct {
		const char *name;
		const char *why;
	} bad[] = {
	    {".", "empty label"},
	    {"''", "empty name"},
	    {"a..b", "empty label"},
	    {".a", "empty label"},
	    {"a..", "empty label"},
	    {"'a b'", "invalid character ' '"},
	    {"'*.a'", "invalid character '*'"},
	    {"'a\\\\.b'", "invalid character '\\'"},
	    {"\"a\\tb\"", "invalid character 0x09"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char yaml[256], want[256], shown[64];
		snprintf(yaml, sizeof(yaml),
			 "listen: '*'\nzones: [{name: %s, file: example.test.zone}]\n",
			 bad[i].name);
		/* The message quotes the name as YAML decoded it. */
		conf_errs_t e;
		conf_errs_init(&e);
		conf_doc_t *d = load(yaml, &e);
		cr_assert_not_null(d, "%s", yaml);
		const conf_node_t *z = conf_seq_at(conf_map_get(conf_root(d), "zones"), 0);
		snprintf(shown, sizeof(shown), "%s", conf_scalar(conf_map_get(z, "name")));
		conf_free(d);
		conf_errs_free(&e);
		snprintf(want, sizeof(want), ":2:16: bad zone name '%s': %s", shown, bad[i].why);
		expect_server_err(yaml, want);
	}

	char yaml[1024], want[1024];
	snprintf(yaml, sizeof(yaml),
		 "listen: '*'\nzones: [{name: %s.b, file: example.test.zone}]\n", label64);
	snprintf(want, sizeof(want), ":2:16: bad zone name '%s.b': label longer than 63 characters",
		 label64);
	expect_server_err(yaml, want);

	snprintf(yaml, sizeof(yaml), "listen: '*'\nzones: [{name: %s, file: example.test.zone}]\n",
		 long_name);
	snprintf(want, sizeof(want), ":2:16: bad zone name '%s': longer than 253 characters",
		 long_name);
	expect_server_err(yaml, want);

	/* 253 characters, and the same with the root dot: both fine. */
	long_name[253] = '\0';
	snprintf(yaml, sizeof(yaml),
		 "listen: '*'\nzones: [{name: %s, file: example.test.zone},"
		 " {name: x%s., file: example.test.zone}]\n",
		 long_name, long_name + 1);
	server_conf_t *c = server_ok(yaml);
	cr_assert_eq(c->n_zones, 2);
	cr_assert_eq(strlen(c->zones[0].name), 253);
	cr_assert_eq(strlen(c->zones[1].name), 253);
	server_conf_free(c);
}

Test(server_conf, missing_file)
{
	conf_errs_t e;
	conf_errs_init(&e);
	cr_assert_null(server_conf_load("/nonexistent/waymark.yaml", &e));
	EXPECT_ERRS(&e, "/nonexistent/waymark.yaml: No such file or directory");
	conf_errs_free(&e);
}

/* ---- operations keys: control, metrics, user, group ------------------------------------- */

Test(server_conf, operations_keys)
{
	server_conf_t *c =
	    server_ok("listen: '*'\n"
		      "control: {socket: run/w.sock, mode: '0600', idle_timeout: 2s}\n"
		      "metrics: {listen: '[::1]:0', enabled: no}\n"
		      "user: nobody\ngroup: root\n");
	char want[600];
	snprintf(want, sizeof(want), "%s", data_path("run/w.sock"));
	cr_assert_str_eq(c->control_socket, want);
	cr_assert_eq(c->control_mode, 0600);
	cr_assert_eq(c->control_idle_timeout_ms, 2000);
	cr_assert_not(c->metrics_enabled);
	cr_assert_eq(c->metrics_addr.ss_family, AF_INET6);
	cr_assert_str_eq(c->metrics_text, "[::1]:0");
	cr_assert_str_eq(c->user, "nobody");
	cr_assert_str_eq(c->group, "root");
	server_conf_free(c);

	/* Absolute paths stay; a mode may be written as chmod takes it; the
	 * metrics port defaults to 9153. */
	c = server_ok("listen: '*'\ncontrol: {socket: /tmp/x.sock, mode: 660}\n"
		      "metrics: {listen: 127.0.0.2}\n");
	cr_assert_str_eq(c->control_socket, "/tmp/x.sock");
	cr_assert_eq(c->control_mode, 0660);
	cr_assert(c->metrics_enabled);
	expect_v4_addr(&c->metrics_addr, c->metrics_addr_len, "127.0.0.2", 9153);
	server_conf_free(c);
}

Test(server_conf, operations_errors)
{
	expect_server_err("listen: '*'\ncontrol: {sock: x}\n",
			  ":2:11: unknown key 'sock' in control");
	expect_server_err("listen: '*'\ncontrol: x\n",
			  ":2:10: control must be a mapping, not a scalar");
	expect_server_err("listen: '*'\ncontrol: {socket: ''}\n",
			  ":2:19: control.socket must not be empty");
	expect_server_err("listen: '*'\ncontrol: {socket: [a]}\n",
			  ":2:19: control.socket must be a string, not a sequence");
	char yaml[400], want[400];
	char long_path[200];
	memset(long_path, 'a', 150);
	long_path[0] = '/';
	long_path[150] = '\0';
	snprintf(yaml, sizeof(yaml), "listen: '*'\ncontrol: {socket: %s}\n", long_path);
	snprintf(want, sizeof(want), ":2:19: control.socket: '%s' is longer than 107 bytes",
		 long_path);
	expect_server_err(yaml, want);
	expect_server_err("listen: '*'\ncontrol: {mode: '0888'}\n",
			  ":2:17: control.mode: '0888' is not an octal mode such as \"0660\"");
	expect_server_err("listen: '*'\ncontrol: {mode: '1660'}\n",
			  ":2:17: control.mode: '1660' is not an octal mode such as \"0660\"");
	expect_server_err("listen: '*'\ncontrol: {mode: 66}\n",
			  ":2:17: control.mode: '66' is not an octal mode such as \"0660\"");
	expect_server_err("listen: '*'\ncontrol: {idle_timeout: 2h}\n",
			  ":2:25: control.idle_timeout: 2h is out of range 1ms..1h");
	expect_server_err("listen: '*'\nmetrics: {port: 1}\n",
			  ":2:11: unknown key 'port' in metrics");
	expect_server_err("listen: '*'\nmetrics: {enabled: maybe}\n",
			  ":2:20: metrics.enabled: 'maybe' is not a boolean "
			  "(true/false, yes/no, on/off)");
	expect_server_err("listen: '*'\nmetrics: {listen: localhost}\n",
			  ":2:19: metrics.listen: 'localhost' is not an address (IPv4, IPv4:port, "
			  "IPv6, [IPv6]:port or *:port)");
	expect_server_err("listen: '*'\nuser: no-such-user-waymark\n",
			  ":2:7: user 'no-such-user-waymark': no such user");
	expect_server_err("listen: '*'\nuser: nobody\ngroup: no-such-group-waymark\n",
			  ":3:8: group 'no-such-group-waymark': no such group");
	expect_server_err("listen: '*'\ngroup: root\n",
			  ":2:8: group needs user: the group is what the daemon switches to with "
			  "the user");
	expect_server_err("listen: '*'\nuser: ''\n", ":2:7: user must not be empty");
	expect_server_err("listen: '*'\nuser: [a]\n",
			  ":2:7: user must be a string, not a sequence");
}

Test(server_conf, control_socket_only)
{
	char path[] = "/tmp/waymark-conf.XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	/* Broken elsewhere (unknown key, missing zone file): the socket is
	 * still found, so that waymarkctl can ask for a reload and get the
	 * errors back. */
	const char *text = "listen: 1\nbogus: 2\ncontrol: {socket: ctl.sock}\n"
			   "zones: [{name: a, file: nowhere}]\n";
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	conf_errs_t e;
	conf_errs_init(&e);
	char *s = server_conf_control_socket(path, &e);
	cr_assert_not_null(s);
	cr_assert_str_eq(s, "/tmp/ctl.sock");
	cr_assert_eq(e.count, 0);
	free(s);

	FILE *f = fopen(path, "w");
	fputs("listen: 1\n", f);
	fclose(f);
	s = server_conf_control_socket(path, &e);
	cr_assert_str_eq(s, "/run/waymark/waymarkd.sock");
	free(s);

	f = fopen(path, "w");
	fputs("control: {socket: [x]}\n", f);
	fclose(f);
	cr_assert_null(server_conf_control_socket(path, &e));
	cr_assert_eq(e.count, 1);
	conf_errs_free(&e);
	unlink(path);

	conf_errs_init(&e);
	cr_assert_null(server_conf_control_socket("/nonexistent/w.yaml", &e));
	cr_assert_eq(e.count, 1);
	conf_errs_free(&e);
}
