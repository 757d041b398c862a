/* server_conf.c -- read and check the daemon's top-level configuration (see server_conf.h). */
#include "config.h"
#include "conf/server_conf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define SERVER_CONF_DEFAULT_PORT 53
#define SERVER_CONF_MAX_THREADS 256

static const char *const core_keys[] = {"listen",  "threads", "log_level", "edns_udp_size",
					"tcp",	   "zones",   "control",   "metrics",
					"user",	   "group",   NULL};
static const char *const tcp_keys[] = {"idle_timeout", "max_clients", NULL};
static const char *const control_keys[] = {"socket", "mode", "idle_timeout", NULL};
static const char *const metrics_keys[] = {"enabled", "listen", NULL};
static const char *const zone_keys[] = {"name", "file", NULL};

const char *const server_conf_extension_keys[] = {"geo_maps", "sites",    "pools",   "members",
						  "checks",   "services", "explain", "overrides_file",
						  NULL};

void server_conf_free(server_conf_t *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_listen; i++)
		free(c->listen_text[i]);
	free(c->listen);
	free(c->listen_len);
	free(c->listen_text);
	for (size_t i = 0; i < c->n_zones; i++) {
		free(c->zones[i].name);
		free(c->zones[i].file);
	}
	free(c->zones);
	free(c->control_socket);
	free(c->metrics_text);
	free(c->user);
	free(c->group);
	conf_free(c->doc);
	free(c->path);
	free(c);
}

/* `listen:` is one address or a non-empty sequence of them. Returns -1 on
 * allocation failure only; bad input is reported in `e`. */
static int read_listen(server_conf_t *c, conf_errs_t *e, const conf_node_t *n)
{
	const conf_doc_t *d = c->doc;
	size_t count;

	switch (conf_kind(n)) {
	case CONF_SCALAR:
		count = 1;
		break;
	case CONF_SEQ:
		count = conf_len(n);
		if (count == 0) {
			conf_err(e, d, n, "listen must not be empty");
			return 0;
		}
		break;
	default:
		conf_err(e, d, n,
			 "listen must be an address or a sequence of addresses, not a mapping");
		return 0;
	}

	c->listen = calloc(count, sizeof(*c->listen));
	c->listen_len = calloc(count, sizeof(*c->listen_len));
	c->listen_text = calloc(count, sizeof(*c->listen_text));
	if (!c->listen || !c->listen_len || !c->listen_text)
		goto fail;

	for (size_t i = 0; i < count; i++) {
		const conf_node_t *item = conf_kind(n) == CONF_SEQ ? conf_seq_at(n, i) : n;
		struct sockaddr_storage ss;
		socklen_t len;
		if (conf_get_sockaddr(e, d, item, "listen", SERVER_CONF_DEFAULT_PORT, &ss, &len) <
		    0)
			continue;
		/* conf_get_sockaddr() zeroes the whole storage first, so equal
		 * addresses are equal bytes. "127.0.0.1" and "127.0.0.1:53"
		 * are the same listener. */
		size_t dup = 0;
		while (dup < c->n_listen &&
		       !(c->listen_len[dup] == len && memcmp(&c->listen[dup], &ss, len) == 0))
			dup++;
		if (dup < c->n_listen) {
			conf_err(e, d, item, "duplicate listen address '%s' (same as '%s')",
				 conf_scalar(item), c->listen_text[dup]);
			continue;
		}
		c->listen_text[c->n_listen] = strdup(conf_scalar(item));
		if (!c->listen_text[c->n_listen])
			goto fail;
		c->listen[c->n_listen] = ss;
		c->listen_len[c->n_listen] = len;
		c->n_listen++;
	}
	return 0;
fail:
	return -1;
}

/* Why `s` is not a usable zone name, or NULL when it is. Letters, digits,
 * '-' and '_' only: zone names in the config are host-like names, and
 * anything else (escapes, spaces, '*') is far likelier a typo. Limits per
 * RFC 1035 section 2.3.4, counted in presentation form without the root dot. */
static const char *zone_name_problem(const char *s, size_t len, char *buf, size_t size)
{
	if (len == 0)
		return "empty name";
	if (len > 253)
		return "longer than 253 characters";
	size_t label = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == '.') {
			if (label == 0)
				return "empty label";
			if (label > 63)
				return "label longer than 63 characters";
			label = 0;
			continue;
		}
		unsigned char ch = (unsigned char)s[i];
		if (!isalnum(ch) && ch != '-' && ch != '_') {
			if (isprint(ch))
				snprintf(buf, size, "invalid character '%c'", ch);
			else
				snprintf(buf, size, "invalid character 0x%02X", ch);
			return buf;
		}
		label++;
	}
	return NULL;
}

/* The normalized name (lowercase, no trailing dot) in `*out`, or NULL after
 * reporting why the name is bad. Returns -1 on allocation failure only. */
static int read_zone_name(const conf_doc_t *d, conf_errs_t *e, const conf_node_t *n, char **out)
{
	const char *s;
	char why[64];

	*out = NULL;
	if (conf_get_str(e, d, n, "zone name", &s) < 0)
		return 0;
	size_t len = strlen(s);
	if (len > 1 && s[len - 1] == '.')
		len--;
	const char *problem = zone_name_problem(s, len, why, sizeof(why));
	if (problem) {
		conf_err(e, d, n, "bad zone name '%s': %s", s, problem);
		return 0;
	}
	char *name = malloc(len + 1);
	if (!name)
		return -1;
	for (size_t i = 0; i < len; i++)
		name[i] = (char)tolower((unsigned char)s[i]);
	name[len] = '\0';
	*out = name;
	return 0;
}

/* The resolved path of an existing zone file in `*out`, or NULL after
 * reporting the problem. Returns -1 on allocation failure only. */
static int read_zone_file(const conf_doc_t *d, conf_errs_t *e, const conf_node_t *n, char **out)
{
	const char *s;
	struct stat st;

	*out = NULL;
	if (conf_get_str(e, d, n, "zone file", &s) < 0)
		return 0;
	if (s[0] == '\0') {
		conf_err(e, d, n, "zone file must not be empty");
		return 0;
	}
	char *path = conf_resolve_path(d, s);
	if (!path)
		return -1;
	/* Checked now so that a typo is reported with its position, at
	 * startup, rather than when the zone loader opens the file. */
	int err = 0;
	if (stat(path, &st) < 0)
		err = errno;
	else if (S_ISDIR(st.st_mode))
		err = EISDIR;
	if (err) {
		conf_err(e, d, n, "zone file '%s': %s", s, strerror(err));
		free(path);
		return 0;
	}
	*out = path;
	return 0;
}

static int read_zones(server_conf_t *c, conf_errs_t *e, const conf_node_t *n)
{
	const conf_doc_t *d = c->doc;

	if (conf_expect(e, d, n, CONF_SEQ, "zones") < 0)
		return 0;
	size_t count = conf_len(n);
	/* One spare slot: the entry being read is always c->zones[n_zones]. */
	c->zones = calloc(count + 1, sizeof(*c->zones));
	if (!c->zones)
		goto fail;

	for (size_t i = 0; i < count; i++) {
		const conf_node_t *item = conf_seq_at(n, i);
		conf_zone_t *z = &c->zones[c->n_zones];

		conf_check_map(e, d, item, "zone", zone_keys);
		if (conf_kind(item) != CONF_MAP)
			continue;
		const conf_node_t *name = conf_map_get(item, "name");
		const conf_node_t *file = conf_map_get(item, "file");
		if (!name)
			conf_err(e, d, item, "missing required key 'name' in zone");
		else if (read_zone_name(d, e, name, &z->name) < 0)
			goto fail;
		if (!file)
			conf_err(e, d, item, "missing required key 'file' in zone");
		else if (read_zone_file(d, e, file, &z->file) < 0)
			goto fail;

		if (z->name) {
			for (size_t j = 0; j < c->n_zones; j++) {
				if (strcmp(c->zones[j].name, z->name) == 0) {
					conf_err(
					    e, d, name,
					    "duplicate zone '%s' (first at line %u, column %u)",
					    z->name, c->zones[j].line, c->zones[j].col);
					free(z->name);
					z->name = NULL;
					break;
				}
			}
		}
		/* Kept even without a valid file, so that a later duplicate of
		 * this name is still found; the load fails anyway then. */
		if (!z->name) {
			free(z->file);
			z->file = NULL;
			continue;
		}
		z->line = conf_line(item);
		z->col = conf_col(item);
		c->n_zones++;
	}
	return 0;
fail:
	if (c->zones) {
		free(c->zones[c->n_zones].name);
		free(c->zones[c->n_zones].file);
	}
	return -1;
}

static int read_tcp(server_conf_t *c, conf_errs_t *e, const conf_node_t *n)
{
	const conf_doc_t *d = c->doc;
	const conf_node_t *v;
	uint64_t u;

	conf_check_map(e, d, n, "tcp", tcp_keys);
	if (conf_kind(n) != CONF_MAP)
		return 0;
	v = conf_map_get(n, "idle_timeout");
	if (v && conf_get_duration_ms(e, d, v, "tcp.idle_timeout", 1, 86400000, &u) == 0)
		c->tcp_idle_timeout_ms = (unsigned)u;
	v = conf_map_get(n, "max_clients");
	if (v && conf_get_uint(e, d, v, "tcp.max_clients", 1, 1000000, &u) == 0)
		c->tcp_max_clients = (unsigned)u;
	return 0;
}

/* A path that fits in sockaddr_un.sun_path with its NUL. */
#define SERVER_CONF_SUN_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

/* control.mode: "0660", "660" -- permission bits only, written in octal
 * (as chmod(1) takes them), so that a YAML reader never sees a decimal 432. */
static int parse_mode(const char *s, unsigned *out)
{
	size_t len = strlen(s);
	unsigned v = 0;
	if (len < 3 || len > 4 || (len == 4 && s[0] != '0'))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '7')
			return -1;
		v = v * 8 + (unsigned)(s[i] - '0');
	}
	*out = v;
	return 0;
}

static int read_control(server_conf_t *c, conf_errs_t *e, const conf_node_t *n)
{
	const conf_doc_t *d = c->doc;
	const conf_node_t *v;
	const char *s;
	uint64_t u;

	conf_check_map(e, d, n, "control", control_keys);
	if (conf_kind(n) != CONF_MAP)
		return 0;
	v = conf_map_get(n, "socket");
	if (v && conf_get_str(e, d, v, "control.socket", &s) == 0) {
		if (s[0] == '\0') {
			conf_err(e, d, v, "control.socket must not be empty");
		} else {
			char *path = conf_resolve_path(d, s);
			if (!path)
				return -1;
			if (strlen(path) > SERVER_CONF_SUN_PATH_MAX) {
				conf_err(e, d, v, "control.socket: '%s' is longer than %zu bytes",
					 path, SERVER_CONF_SUN_PATH_MAX);
				free(path);
			} else {
				free(c->control_socket);
				c->control_socket = path;
			}
		}
	}
	v = conf_map_get(n, "mode");
	if (v && conf_get_str(e, d, v, "control.mode", &s) == 0 &&
	    parse_mode(s, &c->control_mode) < 0)
		conf_err(e, d, v, "control.mode: '%s' is not an octal mode such as \"0660\"", s);
	v = conf_map_get(n, "idle_timeout");
	if (v && conf_get_duration_ms(e, d, v, "control.idle_timeout", 1, 3600000, &u) == 0)
		c->control_idle_timeout_ms = (unsigned)u;
	return 0;
}

static int read_metrics(server_conf_t *c, conf_errs_t *e, const conf_node_t *n)
{
	const conf_doc_t *d = c->doc;
	const conf_node_t *v;

	conf_check_map(e, d, n, "metrics", metrics_keys);
	if (conf_kind(n) != CONF_MAP)
		return 0;
	v = conf_map_get(n, "enabled");
	if (v)
		conf_get_bool(e, d, v, "metrics.enabled", &c->metrics_enabled);
	v = conf_map_get(n, "listen");
	if (v && conf_get_sockaddr(e, d, v, "metrics.listen", SERVER_CONF_METRICS_PORT,
				   &c->metrics_addr, &c->metrics_addr_len) == 0) {
		char *text = strdup(conf_scalar(v));
		if (!text)
			return -1;
		free(c->metrics_text);
		c->metrics_text = text;
	}
	return 0;
}

/* `user:` and `group:` must name an existing account now: a typo is then
 * found by `waymarkd -t`, not at the moment privileges are dropped. */
static int read_account(server_conf_t *c, conf_errs_t *e, const conf_node_t *n, bool group)
{
	const conf_doc_t *d = c->doc;
	const char *what = group ? "group" : "user";
	const char *s;
	char buf[4096];
	int err;

	if (conf_get_str(e, d, n, what, &s) < 0)
		return 0;
	if (s[0] == '\0') {
		conf_err(e, d, n, "%s must not be empty", what);
		return 0;
	}
	/* The _r forms: at reload this runs on the loader thread. Not found
	 * is 0 with a NULL result (or ENOENT and friends, per libc). */
	bool found;
	if (group) {
		struct group gr, *res = NULL;
		err = getgrnam_r(s, &gr, buf, sizeof(buf), &res);
		found = res != NULL;
	} else {
		struct passwd pw, *res = NULL;
		err = getpwnam_r(s, &pw, buf, sizeof(buf), &res);
		found = res != NULL;
	}
	if (!found && (err == 0 || err == ENOENT || err == ESRCH || err == EBADF || err == EPERM)) {
		conf_err(e, d, n, "%s '%s': no such %s", what, s, what);
		return 0;
	}
	if (!found) {
		conf_err(e, d, n, "%s '%s': %s", what, s, strerror(err));
		return 0;
	}
	char *copy = strdup(s);
	if (!copy)
		return -1;
	if (group)
		c->group = copy;
	else
		c->user = copy;
	return 0;
}

/* The top-level keys accepted: ours, then the extension sections. */
static const char **allowed_keys(void)
{
	size_t nc = 0, nx = 0;
	while (core_keys[nc])
		nc++;
	while (server_conf_extension_keys[nx])
		nx++;
	const char **keys = malloc((nc + nx + 1) * sizeof(*keys));
	if (!keys)
		return NULL;
	memcpy(keys, core_keys, nc * sizeof(*keys));
	memcpy(keys + nc, server_conf_extension_keys, (nx + 1) * sizeof(*keys));
	return keys;
}

static int read_root(server_conf_t *c, conf_errs_t *e)
{
	const conf_doc_t *d = c->doc;
	const conf_node_t *root = conf_root(d);
	const conf_node_t *n;
	const char **keys = NULL;
	uint64_t u;
	const char *s;

	keys = allowed_keys();
	if (!keys)
		goto fail;
	conf_check_map(e, d, root, "the configuration", keys);
	free(keys);
	if (conf_kind(root) != CONF_MAP)
		return 0;

	n = conf_map_get(root, "listen");
	if (!n)
		conf_err(e, d, root, "missing required key 'listen'");
	else if (read_listen(c, e, n) < 0)
		goto fail;

	n = conf_map_get(root, "threads");
	if (n && conf_get_uint(e, d, n, "threads", 1, SERVER_CONF_MAX_THREADS, &u) == 0)
		c->threads = (unsigned)u;

	n = conf_map_get(root, "log_level");
	if (n && conf_get_str(e, d, n, "log_level", &s) == 0 &&
	    log_level_parse(s, &c->log_level) < 0)
		conf_err(e, d, n, "log_level: '%s' is not one of error, warning, info, debug", s);

	n = conf_map_get(root, "edns_udp_size");
	if (n && conf_get_uint(e, d, n, "edns_udp_size", 512, 4096, &u) == 0)
		c->edns_udp_size = (unsigned)u;

	n = conf_map_get(root, "tcp");
	if (n && read_tcp(c, e, n) < 0)
		goto fail;

	n = conf_map_get(root, "zones");
	if (n && read_zones(c, e, n) < 0)
		goto fail;

	n = conf_map_get(root, "control");
	if (n && read_control(c, e, n) < 0)
		goto fail;
	n = conf_map_get(root, "metrics");
	if (n && read_metrics(c, e, n) < 0)
		goto fail;
	n = conf_map_get(root, "user");
	if (n && read_account(c, e, n, false) < 0)
		goto fail;
	n = conf_map_get(root, "group");
	if (n && read_account(c, e, n, true) < 0)
		goto fail;
	if (n && !conf_map_get(root, "user"))
		conf_err(e, d, n, "group needs user: the group is what the daemon switches to "
				  "with the user");
	return 0;
fail:
	return -1;
}

/* Takes `doc` (freed on failure). */
static server_conf_t *server_conf_from_doc(conf_doc_t *doc, const char *path, conf_errs_t *e)
{
	unsigned errs_before = e->count;
	server_conf_t *c = calloc(1, sizeof(*c));
	if (!c) {
		conf_free(doc);
		goto nomem;
	}
	c->doc = doc;
	c->path = strdup(path);
	if (!c->path)
		goto nomem;

	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	c->threads = cpus < 1                         ? 1
		     : cpus > SERVER_CONF_MAX_THREADS ? SERVER_CONF_MAX_THREADS
						      : (unsigned)cpus;
	c->tcp_idle_timeout_ms = 10000;
	c->tcp_max_clients = 1000;
	c->edns_udp_size = 1232;
	c->log_level = LOG_LVL_INFO;
	c->control_socket = strdup(SERVER_CONF_CONTROL_SOCKET);
	c->control_mode = 0660;
	c->control_idle_timeout_ms = 10000;
	c->metrics_enabled = true;
	c->metrics_text = strdup(SERVER_CONF_METRICS_LISTEN);
	if (!c->control_socket || !c->metrics_text)
		goto nomem;
	struct sockaddr_in *m4 = (struct sockaddr_in *)&c->metrics_addr;
	m4->sin_family = AF_INET;
	m4->sin_port = htons(SERVER_CONF_METRICS_PORT);
	m4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->metrics_addr_len = sizeof(*m4);

	if (read_root(c, e) < 0)
		goto nomem;
	if (e->count != errs_before)
		goto fail;
	return c;

nomem:
	conf_err_raw(e, "%s: out of memory", path);
fail:
	server_conf_free(c);
	return NULL;
}

server_conf_t *server_conf_load(const char *path, conf_errs_t *e)
{
	conf_doc_t *doc = conf_load_file(path, e);
	if (!doc)
		return NULL;
	return server_conf_from_doc(doc, path, e);
}

server_conf_t *server_conf_load_string(const char *name, const char *text, size_t len,
				       conf_errs_t *e)
{
	conf_doc_t *doc = conf_load_string(name, text, len, e);
	if (!doc)
		return NULL;
	return server_conf_from_doc(doc, name, e);
}

char *server_conf_control_socket(const char *path, conf_errs_t *e)
{
	char *out = NULL;
	const char *s;
	conf_doc_t *doc = conf_load_file(path, e);
	if (!doc)
		return NULL;
	const conf_node_t *ctl = conf_map_get(conf_root(doc), "control");
	const conf_node_t *sock = ctl ? conf_map_get(ctl, "socket") : NULL;
	if (!sock) {
		out = strdup(SERVER_CONF_CONTROL_SOCKET);
	} else if (conf_get_str(e, doc, sock, "control.socket", &s) == 0) {
		if (s[0] == '\0')
			conf_err(e, doc, sock, "control.socket must not be empty");
		else
			out = conf_resolve_path(doc, s);
	}
	conf_free(doc);
	return out;
}
