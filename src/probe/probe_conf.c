/* probe_conf.c -- parse and check the `checks:` section (see probe_conf.h). */
#include "config.h"
#include "probe/probe_conf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const kind_names[] = {"tcp", "tls", "http", "https", "stun", "sip", "exec"};

const char *probe_kind_name(probe_kind_t k)
{
	return (unsigned)k < sizeof(kind_names) / sizeof(kind_names[0]) ? kind_names[k] : "?";
}

/* Allowed keys per kind: a key that means nothing for a kind is an error,
 * so that a typo or a misplaced option never silently does nothing. */
#define COMMON_KEYS "kind", "interval", "timeout", "rise", "fall", "fastinter", "jitter", "initial"
#define TLS_KEYS "sni", "verify", "cert_warn_days", "down_when_expired"
#define HTTP_KEYS "method", "path", "host", "status", "body"
static const char *const tcp_keys[] = {COMMON_KEYS, "port", NULL};
static const char *const tls_keys[] = {COMMON_KEYS, "port", TLS_KEYS, NULL};
static const char *const http_keys[] = {COMMON_KEYS, "port", HTTP_KEYS, NULL};
static const char *const https_keys[] = {COMMON_KEYS, "port", HTTP_KEYS, TLS_KEYS, NULL};
static const char *const stun_keys[] = {COMMON_KEYS, "port", NULL};
static const char *const sip_keys[] = {COMMON_KEYS, "port", "transport", TLS_KEYS, NULL};
static const char *const exec_keys[] = {COMMON_KEYS, "command", NULL};
static const char *const *const keys_of[] = {tcp_keys,  tls_keys, http_keys, https_keys,
					     stun_keys, sip_keys, exec_keys};

static void check_free(probe_check_t *c)
{
	free(c->name);
	free(c->sni);
	free(c->verify_ca);
	free(c->method);
	free(c->path);
	free(c->host);
	free(c->body);
	if (c->argv)
		for (char **a = c->argv; *a; a++)
			free(*a);
	free(c->argv);
}

void probe_conf_free(probe_conf_t *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_checks; i++)
		check_free(&c->checks[i]);
	free(c->checks);
	free(c);
}

long probe_conf_find(const probe_conf_t *c, const char *name)
{
	for (size_t i = 0; c && i < c->n_checks; i++)
		if (strcmp(c->checks[i].name, name) == 0)
			return (long)i;
	return -1;
}

/* Shared state of one load: `oom` turns into a single error at the end. */
typedef struct {
	const conf_doc_t *d;
	conf_errs_t *e;
	bool oom;
} ld_t;

static char *dup_str(ld_t *ld, const char *s)
{
	char *r = strdup(s);

	if (!r)
		ld->oom = true;
	return r;
}

/* An optional string option: 0 when absent or good (*out set), -1 when bad. */
static int get_str(ld_t *ld, const conf_node_t *v, const char *key, char **out)
{
	const conf_node_t *n = conf_map_get(v, key);
	const char *s;

	if (!n)
		return 0;
	if (conf_get_str(ld->e, ld->d, n, key, &s) < 0)
		return -1;
	free(*out);
	*out = dup_str(ld, s);
	return 0;
}

static int get_dur(ld_t *ld, const conf_node_t *v, const char *key, uint64_t min, uint32_t *out)
{
	const conf_node_t *n = conf_map_get(v, key);
	uint64_t ms;

	if (!n)
		return 0;
	if (conf_get_duration_ms(ld->e, ld->d, n, key, min, PROBE_INTERVAL_MAX_MS, &ms) < 0)
		return -1;
	*out = (uint32_t)ms;
	return 0;
}

static int get_uint(ld_t *ld, const conf_node_t *v, const char *key, uint64_t min, uint64_t max,
		    unsigned *out)
{
	const conf_node_t *n = conf_map_get(v, key);
	uint64_t u;

	if (!n)
		return 0;
	if (conf_get_uint(ld->e, ld->d, n, key, min, max, &u) < 0)
		return -1;
	*out = (unsigned)u;
	return 0;
}

/* jitter: "N%" (0..50), "0.N" (a fraction below 1) or a duration below the
 * interval. Percent and fractions are of the interval. */
static void get_jitter(ld_t *ld, const conf_node_t *v, probe_check_t *c)
{
	const conf_node_t *n = conf_map_get(v, "jitter");
	const char *s = n ? conf_scalar(n) : NULL;
	size_t len = s ? strlen(s) : 0;
	uint64_t ms;

	c->jitter_ms = c->interval_ms / 10;
	if (!n)
		return;
	if (!s || len == 0) {
		conf_err(ld->e, ld->d, n, "jitter: missing value");
		return;
	}
	if (s[len - 1] == '%' || (len > 2 && s[0] == '0' && s[1] == '.')) {
		char *end;
		double f;

		errno = 0;
		f = strtod(s, &end);
		if (s[len - 1] == '%')
			f /= 100.0;
		if (errno || end == s || (*end && !(*end == '%' && end[1] == '\0')) || f < 0 ||
		    f >= 1.0) {
			conf_err(ld->e, ld->d, n,
				 "jitter: want a percentage below 100%%, a fraction below 1 or a "
				 "duration");
			return;
		}
		c->jitter_ms = (uint32_t)(f * c->interval_ms);
		return;
	}
	if (conf_get_duration_ms(ld->e, ld->d, n, "jitter", 0, PROBE_INTERVAL_MAX_MS, &ms) < 0)
		return;
	if (ms >= c->interval_ms) {
		conf_err(ld->e, ld->d, n, "jitter (%llu ms) must be below the interval (%u ms)",
			 (unsigned long long)ms, c->interval_ms);
		return;
	}
	c->jitter_ms = (uint32_t)ms;
}

static void get_status(ld_t *ld, const conf_node_t *v, probe_check_t *c)
{
	const conf_node_t *n = conf_map_get(v, "status");

	c->status[0] = 200;
	c->n_status = 1;
	if (!n)
		return;
	if (conf_kind(n) == CONF_SCALAR) {
		uint64_t u;

		if (conf_get_uint(ld->e, ld->d, n, "status", 100, 599, &u) == 0)
			c->status[0] = (unsigned)u;
		return;
	}
	if (conf_kind(n) != CONF_SEQ || conf_len(n) == 0 || conf_len(n) > PROBE_STATUS_MAX) {
		conf_err(ld->e, ld->d, n, "status: want a code or a list of 1 to %d codes",
			 PROBE_STATUS_MAX);
		return;
	}
	c->n_status = 0;
	for (size_t i = 0; i < conf_len(n); i++) {
		uint64_t u;

		if (conf_get_uint(ld->e, ld->d, conf_seq_at(n, i), "status", 100, 599, &u) == 0)
			c->status[c->n_status++] = (unsigned)u;
	}
}

static void get_command(ld_t *ld, const conf_node_t *v, probe_check_t *c)
{
	const conf_node_t *n = conf_map_get(v, "command");
	size_t argc;
	struct stat st;

	if (!n) {
		conf_err(ld->e, ld->d, v, "exec check: missing command");
		return;
	}
	argc = conf_len(n);
	if (conf_kind(n) != CONF_SEQ || argc == 0 || argc > PROBE_ARGV_MAX) {
		conf_err(ld->e, ld->d, n,
			 "command: want a list [program, arguments...] of at most %d items (no "
			 "shell)",
			 PROBE_ARGV_MAX);
		return;
	}
	c->argv = calloc(argc + 1, sizeof(*c->argv));
	if (!c->argv) {
		ld->oom = true;
		return;
	}
	for (size_t i = 0; i < argc; i++) {
		const char *s;

		if (conf_get_str(ld->e, ld->d, conf_seq_at(n, i), "command", &s) < 0)
			return;
		c->argv[i] = i == 0 ? conf_resolve_path(ld->d, s) : strdup(s);
		if (!c->argv[i]) {
			ld->oom = true;
			return;
		}
	}
	/* Checked at load so that a typo is a config error, not a member that
	 * is down forever. */
	if (stat(c->argv[0], &st) < 0 || access(c->argv[0], X_OK) < 0)
		conf_err(ld->e, ld->d, conf_seq_at(n, 0), "command: %s: %s", c->argv[0],
			 strerror(errno));
	else if (!S_ISREG(st.st_mode))
		conf_err(ld->e, ld->d, conf_seq_at(n, 0), "command: %s: not a file", c->argv[0]);
}

static void get_verify(ld_t *ld, const conf_node_t *v, probe_check_t *c)
{
	const conf_node_t *n = conf_map_get(v, "verify");
	const char *s;

	if (!n || conf_get_str(ld->e, ld->d, n, "verify", &s) < 0)
		return;
	c->verify_ca = conf_resolve_path(ld->d, s);
	if (!c->verify_ca) {
		ld->oom = true;
		return;
	}
	if (access(c->verify_ca, R_OK) < 0)
		conf_err(ld->e, ld->d, n, "verify: %s: %s", c->verify_ca, strerror(errno));
}

static uint16_t default_port(const probe_check_t *c)
{
	switch (c->kind) {
	case PROBE_TLS:
	case PROBE_HTTPS:
		return 443;
	case PROBE_HTTP:
		return 80;
	case PROBE_STUN:
		return 3478;
	case PROBE_SIP:
		return c->sip_tls ? 5061 : 5060;
	default:
		return 0;
	}
}

/* Read one check; errors go to ld->e. */
static void read_check(ld_t *ld, const conf_node_t *key, const conf_node_t *v, probe_check_t *c)
{
	const conf_node_t *n;
	const char *s;
	unsigned kind = 0;
	uint32_t u32;

	c->name = dup_str(ld, conf_scalar(key));
	c->line = conf_line(key);
	c->interval_ms = 10000;
	c->timeout_ms = 2000;
	c->rise = 2;
	c->fall = 3;
	if (conf_expect(ld->e, ld->d, v, CONF_MAP, "check") < 0)
		return;
	n = conf_map_get(v, "kind");
	if (!n) {
		conf_err(ld->e, ld->d, v, "check '%s': missing kind", conf_scalar(key));
		return;
	}
	if (conf_get_str(ld->e, ld->d, n, "kind", &s) < 0)
		return;
	while (kind < sizeof(kind_names) / sizeof(kind_names[0]) && strcmp(kind_names[kind], s))
		kind++;
	if (kind == sizeof(kind_names) / sizeof(kind_names[0])) {
		conf_err(ld->e, ld->d, n,
			 "unknown check kind '%s' (tcp, tls, http, https, stun, sip, exec)", s);
		return;
	}
	c->kind = (probe_kind_t)kind;
	/* Go on after an unknown key: the other errors are worth reporting. */
	(void)conf_check_map(ld->e, ld->d, v, "check", keys_of[kind]);

	get_dur(ld, v, "interval", 1, &c->interval_ms);
	get_dur(ld, v, "timeout", 1, &c->timeout_ms);
	if (c->timeout_ms >= c->interval_ms) {
		n = conf_map_get(v, "timeout");
		conf_err(ld->e, ld->d, n ? n : conf_map_get(v, "interval"),
			 "timeout (%u ms) must be below the interval (%u ms)", c->timeout_ms,
			 c->interval_ms);
	}
	get_uint(ld, v, "rise", 1, PROBE_RISE_FALL_MAX, &c->rise);
	get_uint(ld, v, "fall", 1, PROBE_RISE_FALL_MAX, &c->fall);
	c->fastinter_ms = c->interval_ms / 4 > 1000 ? c->interval_ms / 4 : 1000;
	if (c->fastinter_ms > c->interval_ms)
		c->fastinter_ms = c->interval_ms;
	u32 = 0;
	if (conf_map_get(v, "fastinter") && get_dur(ld, v, "fastinter", 1, &u32) == 0) {
		if (u32 > c->interval_ms)
			conf_err(ld->e, ld->d, conf_map_get(v, "fastinter"),
				 "fastinter (%u ms) must not exceed the interval (%u ms)", u32,
				 c->interval_ms);
		else
			c->fastinter_ms = u32;
	}
	get_jitter(ld, v, c);
	n = conf_map_get(v, "initial");
	if (n && conf_get_str(ld->e, ld->d, n, "initial", &s) == 0) {
		if (strcmp(s, "up") == 0)
			c->initial = PROBE_INITIAL_UP;
		else if (strcmp(s, "down") == 0)
			c->initial = PROBE_INITIAL_DOWN;
		else
			conf_err(ld->e, ld->d, n, "initial: want up or down, not '%s'", s);
	}

	n = conf_map_get(v, "transport");
	if (n && conf_get_str(ld->e, ld->d, n, "transport", &s) == 0) {
		if (strcmp(s, "tls") == 0)
			c->sip_tls = true;
		else if (strcmp(s, "tcp") != 0)
			conf_err(ld->e, ld->d, n, "transport: want tcp or tls, not '%s'", s);
	}
	/* TLS options only mean something when TLS is used. */
	if (c->kind == PROBE_SIP && !c->sip_tls) {
		static const char *const tls_only[] = {TLS_KEYS, NULL};

		for (const char *const *k = tls_only; *k; k++)
			if ((n = conf_map_get(v, *k)))
				conf_err(ld->e, ld->d, n, "%s needs transport: tls", *k);
	}

	n = conf_map_get(v, "port");
	c->port = default_port(c);
	if (n) {
		unsigned p = 0;

		if (get_uint(ld, v, "port", 1, 65535, &p) == 0)
			c->port = (uint16_t)p;
	} else if (c->kind == PROBE_TCP) {
		conf_err(ld->e, ld->d, v, "tcp check '%s': missing port", c->name ? c->name : "");
	}

	get_str(ld, v, "sni", &c->sni);
	get_verify(ld, v, c);
	get_uint(ld, v, "cert_warn_days", 0, 3650, &c->cert_warn_days);
	n = conf_map_get(v, "down_when_expired");
	if (n)
		(void)conf_get_bool(ld->e, ld->d, n, "down_when_expired", &c->down_when_expired);

	if (c->kind == PROBE_HTTP || c->kind == PROBE_HTTPS) {
		static const char *const methods[] = {"GET", "HEAD", "POST", "OPTIONS", NULL};
		const char *const *m;

		c->method = dup_str(ld, "GET");
		get_str(ld, v, "method", &c->method);
		for (m = methods; c->method && *m && strcmp(*m, c->method); m++)
			;
		if (c->method && !*m)
			conf_err(ld->e, ld->d, conf_map_get(v, "method"),
				 "method: want GET, HEAD, POST or OPTIONS, not '%s'", c->method);
		c->path = dup_str(ld, "/");
		get_str(ld, v, "path", &c->path);
		if (c->path && (c->path[0] != '/' || strpbrk(c->path, " \r\n")))
			conf_err(ld->e, ld->d, conf_map_get(v, "path"),
				 "path: must start with '/' and hold no space or line break");
		get_str(ld, v, "host", &c->host);
		if (c->host && (c->host[0] == '\0' || strpbrk(c->host, " \r\n")))
			conf_err(ld->e, ld->d, conf_map_get(v, "host"),
				 "host: must be non-empty and hold no space or line break");
		get_status(ld, v, c);
		get_str(ld, v, "body", &c->body);
		if (c->body && c->body[0] == '\0')
			conf_err(ld->e, ld->d, conf_map_get(v, "body"), "body: must not be empty");
	}
	if (c->sni && (c->sni[0] == '\0' || strpbrk(c->sni, " \r\n")))
		conf_err(ld->e, ld->d, conf_map_get(v, "sni"), "sni: not a host name");
	if (c->kind == PROBE_EXEC)
		get_command(ld, v, c);
}

probe_conf_t *probe_conf_load(const conf_doc_t *d, conf_errs_t *e)
{
	const conf_node_t *root = conf_root(d);
	const conf_node_t *checks = conf_map_get(root, "checks");
	unsigned errs0 = e->count;
	ld_t ld = {.d = d, .e = e};
	probe_conf_t *c = calloc(1, sizeof(*c));

	if (!c)
		goto oom;
	if (!checks)
		return c;
	if (conf_expect(e, d, checks, CONF_MAP, "checks") < 0)
		goto fail;
	c->checks = calloc(conf_len(checks) ? conf_len(checks) : 1, sizeof(*c->checks));
	if (!c->checks)
		goto oom;
	for (size_t i = 0; i < conf_len(checks); i++) {
		read_check(&ld, conf_map_key(checks, i), conf_map_val(checks, i),
			   &c->checks[c->n_checks]);
		c->n_checks++;
	}
	if (ld.oom)
		goto oom;
	if (e->count != errs0)
		goto fail;
	return c;
oom:
	conf_err(e, d, NULL, "checks: out of memory");
fail:
	probe_conf_free(c);
	return NULL;
}
