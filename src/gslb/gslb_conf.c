/* gslb_conf.c -- the `members:`, `pools:` and `services:` config sections, read into a gslb_t. */
#include "config.h"
#include "gslb/gslb.h"
#include "gslb/gslb_answer.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wire/wire.h"

#define GSLB_TTL_MAX 604800u                       /* 7 days, as RFC 8767 suggests for a cap */
#define GSLB_HOLD_DOWN_MAX_MS (7ull * 86400000ull) /* a week: longer is surely a typo */
#define GSLB_PICK_MAX 64                           /* multi `max`, weighted `count` */

/* Everything the loader needs besides the model: positions for late errors
 * (cycles, host names are checked once everything is read). */
typedef struct load {
	gslb_t *g;
	const conf_doc_t *d;
	conf_errs_t *e;
	const char *const *zone_names;
	size_t n_zones;
	uint8_t **zone_wire;             /* per configured zone, NULL if not a name */
	const conf_node_t **member_host; /* per member: its `host:` node, or NULL */
	bool *member_host_bad;           /* an error was reported for it already */
	const conf_node_t **pool_key;    /* per pool: its name in `pools:` */
	size_t names_cap;
	bool oom;
} load_t;

static const uint8_t root_wire[1] = {0};

static void *xcalloc(load_t *ld, size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	if (!p)
		ld->oom = true;
	return p;
}

static char *xstrdup(load_t *ld, const char *s)
{
	char *r = strdup(s);
	if (!r)
		ld->oom = true;
	return r;
}

static void *xmemdup(load_t *ld, const void *p, size_t n)
{
	void *r = malloc(n);
	if (!r)
		ld->oom = true;
	else
		memcpy(r, p, n);
	return r;
}

/* ---- names --------------------------------------------------------------------------- */

static bool name_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

/* Text -> lower-case wire name in out[WIRE_NAME_MAX]. A name ending in '.' is
 * absolute, "@" is `origin`, any other name is relative to `origin`. Only
 * host-name characters and '_' (for SRV owners), no escapes: these are names
 * an operator types, and anything else is more likely a typo than intended.
 * Returns the wire length, or -1 with the reason in *why. */
static int name_to_wire(const char *text, const uint8_t *origin, uint8_t *out, const char **why)
{
	size_t len = strlen(text), o = 0;
	if (strcmp(text, "@") == 0) {
		unsigned ol = wire_name_len(origin);
		memcpy(out, origin, ol);
		return (int)ol;
	}
	if (len == 0) {
		*why = "empty name";
		return -1;
	}
	if (strcmp(text, ".") == 0) {
		out[0] = 0;
		return 1;
	}
	bool absolute = text[len - 1] == '.';
	size_t end = absolute ? len - 1 : len;
	for (size_t i = 0;;) {
		size_t j = i;
		while (j < end && text[j] != '.')
			j++;
		size_t l = j - i;
		if (l == 0) {
			*why = "empty label";
			return -1;
		}
		if (l > WIRE_LABEL_MAX) {
			*why = "label longer than 63 characters";
			return -1;
		}
		if (o + 1 + l + 1 > WIRE_NAME_MAX) {
			*why = "name longer than 255 bytes";
			return -1;
		}
		out[o++] = (uint8_t)l;
		for (size_t k = i; k < j; k++) {
			char c = text[k];
			if (!name_char_ok(c)) {
				*why = "only letters, digits, '-' and '_' may appear in a label";
				return -1;
			}
			out[o++] = (uint8_t)((c >= 'A' && c <= 'Z') ? c + 32 : c);
		}
		if (j == end)
			break;
		i = j + 1;
	}
	const uint8_t *tail = absolute ? root_wire : origin;
	unsigned tl = wire_name_len(tail);
	if (o + tl > WIRE_NAME_MAX) {
		*why = "name longer than 255 bytes";
		return -1;
	}
	memcpy(out + o, tail, tl);
	return (int)(o + tl);
}

/* Zone names as text: any case, with or without the trailing dot. */
static bool zone_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 0 && a[la - 1] == '.')
		la--;
	if (lb > 0 && b[lb - 1] == '.')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

static bool name_eq(const uint8_t *a, const uint8_t *b)
{
	unsigned la = wire_name_len(a);
	return la == wire_name_len(b) && memcmp(a, b, la) == 0;
}

/* Is `name` equal to or below `zone` (both lower-case wire)? */
static bool name_in(const uint8_t *name, const uint8_t *zone)
{
	unsigned nl = wire_name_len(name), zl = wire_name_len(zone);
	for (const uint8_t *p = name;; p += 1u + *p) {
		unsigned rest = nl - (unsigned)(p - name);
		if (rest == zl)
			return memcmp(p, zone, zl) == 0;
		if (rest < zl || *p == 0)
			return false;
	}
}

/* ---- values -------------------------------------------------------------------------- */

static int get_addr(load_t *ld, const conf_node_t *n, const char *what, gslb_addr_t *out)
{
	const char *s;
	if (conf_get_str(ld->e, ld->d, n, what, &s) < 0)
		return -1;
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, s, out->a) == 1) {
		out->family = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, s, out->a) == 1) {
		out->family = 6;
		return 0;
	}
	conf_err(ld->e, ld->d, n, "%s: '%s' is not an IPv4 or IPv6 address", what, s);
	return -1;
}

/* A list, where a single scalar stands for a list of one. */
static size_t list_len(const conf_node_t *n)
{
	return conf_kind(n) == CONF_SCALAR ? 1 : conf_len(n);
}

static const conf_node_t *list_at(const conf_node_t *n, size_t i)
{
	return conf_kind(n) == CONF_SCALAR ? n : conf_seq_at(n, i);
}

static int check_list(load_t *ld, const conf_node_t *n, const char *what)
{
	if (conf_kind(n) == CONF_MAP) {
		conf_err(ld->e, ld->d, n, "%s must be a sequence, not a mapping", what);
		return -1;
	}
	if (conf_kind(n) == CONF_SEQ && conf_len(n) == 0) {
		conf_err(ld->e, ld->d, n, "%s: an empty list", what);
		return -1;
	}
	return 0;
}

static int get_addr_list(load_t *ld, const conf_node_t *n, const char *what, gslb_addr_t **out,
			 unsigned *n_out)
{
	if (check_list(ld, n, what) < 0)
		return -1;
	size_t len = list_len(n);
	gslb_addr_t *a = xcalloc(ld, len, sizeof(*a));
	if (!a)
		return -1;
	int rc = 0;
	for (size_t i = 0; i < len; i++)
		if (get_addr(ld, list_at(n, i), what, &a[i]) < 0)
			rc = -1;
	*out = a;
	*n_out = (unsigned)len;
	return rc;
}

static bool all_digits(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* A weight must be a positive integer; say so plainly for 0 and negative
 * numbers rather than with conf_get_uint()'s "not an integer". */
static int get_weight(load_t *ld, const conf_node_t *n, uint32_t *out)
{
	const char *s = conf_scalar(n);
	if (s) {
		bool neg = s[0] == '-' && all_digits(s + 1, strlen(s + 1));
		bool zero = all_digits(s, strlen(s)) && strspn(s, "0") == strlen(s);
		if (neg || zero) {
			conf_err(ld->e, ld->d, n, "weight must be > 0");
			return -1;
		}
	}
	uint64_t v;
	if (conf_get_uint(ld->e, ld->d, n, "weight", 1, 65535, &v) < 0)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int get_u(load_t *ld, const conf_node_t *n, const char *what, uint64_t min, uint64_t max,
		 unsigned *out)
{
	uint64_t v;
	if (conf_get_uint(ld->e, ld->d, n, what, min, max, &v) < 0)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int find_member(const gslb_t *g, const char *name)
{
	for (unsigned i = 0; i < g->n_members; i++)
		if (strcmp(g->members[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int find_pool(const gslb_t *g, const char *name)
{
	for (unsigned i = 0; i < g->n_pools; i++)
		if (strcmp(g->pools[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* ---- members ------------------------------------------------------------------------- */

static void load_member(load_t *ld, unsigned i, const conf_node_t *key, const conf_node_t *v)
{
	static const char *const keys[] = {"address", "answer", "weight", "host", "checks", NULL};
	gslb_member_t *m = &ld->g->members[i];
	const conf_node_t *n;
	char what[300];

	snprintf(what, sizeof(what), "member '%s'", m->name);
	if (conf_check_map(ld->e, ld->d, v, what, keys) < 0)
		return;
	bool have_probe = false;
	if (!(n = conf_map_get(v, "address")))
		conf_err(ld->e, ld->d, key, "member '%s' has no address", m->name);
	else
		have_probe = get_addr(ld, n, "address", &m->probe) == 0;
	if ((n = conf_map_get(v, "answer"))) {
		get_addr_list(ld, n, "answer", &m->answer, &m->n_answer);
	} else if (have_probe) {
		if (!(m->answer = xmemdup(ld, &m->probe, sizeof(m->probe))))
			return;
		m->n_answer = 1;
	}
	if ((n = conf_map_get(v, "weight")))
		get_weight(ld, n, &m->weight);
	if ((n = conf_map_get(v, "checks"))) {
		if (conf_kind(n) == CONF_SCALAR || conf_expect(ld->e, ld->d, n, CONF_SEQ, "checks") == 0)
			m->checks = n; /* one name, or a list of names */
	}
	if ((n = conf_map_get(v, "host"))) {
		const char *text, *why;
		uint8_t w[WIRE_NAME_MAX];
		if (conf_get_str(ld->e, ld->d, n, "host", &text) < 0)
			return;
		/* Relative names are kept against the root, to be moved into each
		 * service's zone later; here only their syntax is checked. */
		int len = name_to_wire(text, root_wire, w, &why);
		if (len < 0) {
			conf_err(ld->e, ld->d, n, "host: '%s' is not a valid name: %s", text, why);
			return;
		}
		m->host_relative = text[strlen(text) - 1] != '.';
		m->host = xmemdup(ld, w, (size_t)len);
		ld->member_host[i] = n;
	}
}

static void load_members(load_t *ld, const conf_node_t *sec)
{
	gslb_t *g = ld->g;
	if (conf_expect(ld->e, ld->d, sec, CONF_MAP, "members") < 0)
		return;
	size_t n = conf_len(sec);
	g->members = xcalloc(ld, n, sizeof(*g->members));
	ld->member_host = xcalloc(ld, n, sizeof(*ld->member_host));
	ld->member_host_bad = xcalloc(ld, n, sizeof(*ld->member_host_bad));
	if (ld->oom)
		return;
	/* Name them all first: a member's name is all that later errors need. */
	for (size_t i = 0; i < n; i++) {
		gslb_member_t *m = &g->members[i];
		m->pool = GSLB_NONE;
		m->weight = 1;
		m->line = conf_line(conf_map_key(sec, i));
		if (!(m->name = xstrdup(ld, conf_scalar(conf_map_key(sec, i)))))
			return;
		g->n_members = (unsigned)i + 1;
	}
	for (size_t i = 0; i < n && !ld->oom; i++)
		load_member(ld, (unsigned)i, conf_map_key(sec, i), conf_map_val(sec, i));
}

/* ---- pools --------------------------------------------------------------------------- */

/* min_up: "N", "N%" or "majority", resolved against `n` listed members. */
static void get_min_up(load_t *ld, gslb_pool_t *p, const conf_node_t *n, unsigned listed)
{
	const char *s;
	if (conf_get_str(ld->e, ld->d, n, "min_up", &s) < 0)
		return;
	size_t len = strlen(s);
	if (strcmp(s, "majority") == 0) {
		p->quorum = GSLB_QUORUM_MAJORITY;
		p->min_up_value = 0;
		p->min_up = listed / 2 + 1;
		return;
	}
	bool pct = len > 0 && s[len - 1] == '%';
	size_t dl = pct ? len - 1 : len;
	if (!all_digits(s, dl)) {
		conf_err(ld->e, ld->d, n, "min_up: '%s' is not a count, a percentage or 'majority'",
			 s);
		return;
	}
	/* More than 9 digits is out of range anyway; keep strtoul from overflowing. */
	unsigned long v = dl > 9 ? 999999999ul : strtoul(s, NULL, 10);
	if (pct) {
		if (v < 1 || v > 100) {
			conf_err(ld->e, ld->d, n, "min_up: %s is out of range 1%%..100%%", s);
			return;
		}
		p->quorum = GSLB_QUORUM_PERCENT;
		p->min_up_value = (unsigned)v;
		/* Round up: 50% of 3 members is 2, not 1. */
		p->min_up = (unsigned)((listed * v + 99) / 100);
		if (p->min_up < 1)
			p->min_up = 1;
		return;
	}
	/* With no members listed, the pool's own error says enough. */
	if (listed > 0 && (v < 1 || v > listed)) {
		conf_err(ld->e, ld->d, n, "min_up: %s is out of range 1..%u (the pool's members)",
			 s, listed);
		return;
	}
	p->quorum = GSLB_QUORUM_COUNT;
	p->min_up_value = (unsigned)v;
	p->min_up = (unsigned)v;
}

static void load_pool(load_t *ld, unsigned pi, const conf_node_t *key, const conf_node_t *v)
{
	static const char *const keys[] = {"site",     "role", "members", "min_up",
					   "requires", "vip",  NULL};
	gslb_t *g = ld->g;
	gslb_pool_t *p = &g->pools[pi];
	const conf_node_t *n;
	const char *s;
	char what[300];

	snprintf(what, sizeof(what), "pool '%s'", p->name);
	if (conf_check_map(ld->e, ld->d, v, what, keys) < 0)
		return;
	if (!(n = conf_map_get(v, "site"))) {
		conf_err(ld->e, ld->d, key, "pool '%s' has no site", p->name);
	} else if (conf_get_str(ld->e, ld->d, n, "site", &s) == 0) {
		int site = geo_conf_site(g->geo, s);
		if (site < 0)
			conf_err(ld->e, ld->d, n, "site: unknown site '%s'", s);
		else
			p->site = (unsigned)site;
	}
	if ((n = conf_map_get(v, "role")) && conf_get_str(ld->e, ld->d, n, "role", &s) == 0 &&
	    !(p->role = xstrdup(ld, s)))
		return;

	unsigned listed = 0;
	if (!(n = conf_map_get(v, "members"))) {
		conf_err(ld->e, ld->d, key, "pool '%s' has no members", p->name);
	} else if (check_list(ld, n, "members") == 0) {
		listed = (unsigned)list_len(n);
		if (!(p->members = xcalloc(ld, listed, sizeof(*p->members))))
			return;
		for (unsigned i = 0; i < listed; i++) {
			const conf_node_t *item = list_at(n, i);
			if (conf_get_str(ld->e, ld->d, item, "members", &s) < 0)
				continue;
			int m = find_member(g, s);
			if (m < 0) {
				conf_err(ld->e, ld->d, item, "members: unknown member '%s'", s);
				continue;
			}
			gslb_member_t *mm = &g->members[m];
			if (mm->pool == pi) {
				conf_err(ld->e, ld->d, item, "members: member '%s' listed twice",
					 s);
				continue;
			}
			if (mm->pool != GSLB_NONE) {
				conf_err(ld->e, ld->d, item,
					 "members: member '%s' is already in pool '%s'", s,
					 g->pools[mm->pool].name);
				continue;
			}
			mm->pool = pi;
			p->members[p->n_members++] = (unsigned)m;
		}
	}

	/* DESIGN.md §2: the default quorum is a majority (a Lync pool stops
	 * below it); a pool that survives on one server says `min_up: 1`. */
	p->quorum = GSLB_QUORUM_MAJORITY;
	p->min_up_value = 0;
	p->min_up = listed / 2 + 1;
	if ((n = conf_map_get(v, "min_up")))
		get_min_up(ld, p, n, listed);

	if ((n = conf_map_get(v, "requires")) && check_list(ld, n, "requires") == 0) {
		size_t len = list_len(n);
		if (!(p->requires = xcalloc(ld, len, sizeof(*p->requires))))
			return;
		for (size_t i = 0; i < len; i++) {
			const conf_node_t *item = list_at(n, i);
			if (conf_get_str(ld->e, ld->d, item, "requires", &s) < 0)
				continue;
			int r = find_pool(g, s);
			if (r < 0) {
				conf_err(ld->e, ld->d, item, "requires: unknown pool '%s'", s);
				continue;
			}
			if ((unsigned)r == pi) {
				conf_err(ld->e, ld->d, item,
					 "requires: pool '%s' cannot require itself", s);
				continue;
			}
			bool dup = false;
			for (unsigned k = 0; k < p->n_requires; k++)
				if (p->requires[k] == (unsigned)r)
					dup = true;
			if (dup) {
				conf_err(ld->e, ld->d, item, "requires: pool '%s' listed twice", s);
				continue;
			}
			p->requires[p->n_requires++] = (unsigned)r;
		}
	}
	if ((n = conf_map_get(v, "vip")))
		get_addr_list(ld, n, "vip", &p->vip, &p->n_vip);
}

/* Depth-first walk of `requires`: each pool joins pool_order after the pools
 * it requires; a pool met again while still on the path closes a cycle. The
 * depth is bounded by the number of pools, which a config keeps small. */
static void visit_pool(load_t *ld, unsigned p, uint8_t *mark, unsigned *path, unsigned depth,
		       unsigned *n_order)
{
	gslb_t *g = ld->g;
	mark[p] = 1;
	path[depth] = p;
	for (unsigned i = 0; i < g->pools[p].n_requires; i++) {
		unsigned r = g->pools[p].requires[i];
		if (mark[r] == 0) {
			visit_pool(ld, r, mark, path, depth + 1, n_order);
			continue;
		}
		if (mark[r] != 1)
			continue;
		/* The cycle is path[k..depth] -> r, where path[k] == r. */
		unsigned k = 0;
		while (path[k] != r)
			k++;
		size_t len = 1;
		for (unsigned j = k; j <= depth; j++)
			len += strlen(g->pools[path[j]].name) + 4;
		len += strlen(g->pools[r].name);
		char *msg = malloc(len);
		if (!msg) {
			ld->oom = true;
			continue;
		}
		size_t o = 0;
		for (unsigned j = k; j <= depth; j++)
			o += (size_t)sprintf(msg + o, "%s -> ", g->pools[path[j]].name);
		sprintf(msg + o, "%s", g->pools[r].name);
		conf_err(ld->e, ld->d, ld->pool_key[r], "cyclic requires: %s", msg);
		free(msg);
	}
	mark[p] = 2;
	g->pool_order[(*n_order)++] = p;
}

static void order_pools(load_t *ld)
{
	gslb_t *g = ld->g;
	uint8_t *mark = xcalloc(ld, g->n_pools, sizeof(*mark));
	unsigned *path = xcalloc(ld, g->n_pools, sizeof(*path));
	g->pool_order = xcalloc(ld, g->n_pools, sizeof(*g->pool_order));
	if (!ld->oom) {
		unsigned n_order = 0;
		for (unsigned p = 0; p < g->n_pools; p++)
			if (mark[p] == 0)
				visit_pool(ld, p, mark, path, 0, &n_order);
	}
	free(mark);
	free(path);
}

static void load_pools(load_t *ld, const conf_node_t *sec)
{
	gslb_t *g = ld->g;
	if (conf_expect(ld->e, ld->d, sec, CONF_MAP, "pools") < 0)
		return;
	size_t n = conf_len(sec);
	g->pools = xcalloc(ld, n, sizeof(*g->pools));
	ld->pool_key = xcalloc(ld, n, sizeof(*ld->pool_key));
	if (ld->oom)
		return;
	/* Name them all first, so that `requires` may name a pool further down. */
	for (size_t i = 0; i < n; i++) {
		gslb_pool_t *p = &g->pools[i];
		ld->pool_key[i] = conf_map_key(sec, i);
		p->site = GSLB_NONE;
		p->line = conf_line(ld->pool_key[i]);
		if (!(p->name = xstrdup(ld, conf_scalar(ld->pool_key[i]))))
			return;
		g->n_pools = (unsigned)i + 1;
	}
	for (size_t i = 0; i < n && !ld->oom; i++)
		load_pool(ld, (unsigned)i, conf_map_key(sec, i), conf_map_val(sec, i));
}

/* ---- services ------------------------------------------------------------------------ */

/* `pools: { site: pool, ... }` -> *out, a pool id per site id (GSLB_NONE for
 * sites not given). Returns -1 after an error (*out may still be set). */
static int get_pool_map(load_t *ld, const conf_node_t *n, unsigned **out)
{
	gslb_t *g = ld->g;
	if (conf_expect(ld->e, ld->d, n, CONF_MAP, "pools") < 0)
		return -1;
	if (conf_len(n) == 0) {
		conf_err(ld->e, ld->d, n, "pools: an empty mapping");
		return -1;
	}
	unsigned *ps = xcalloc(ld, g->geo->n_sites, sizeof(*ps));
	if (!ps)
		return -1;
	for (unsigned i = 0; i < g->geo->n_sites; i++)
		ps[i] = GSLB_NONE;
	*out = ps;
	int rc = 0;
	for (size_t i = 0; i < conf_len(n); i++) {
		const conf_node_t *k = conf_map_key(n, i), *v = conf_map_val(n, i);
		const char *site_name = conf_scalar(k), *pool_name;
		int site = geo_conf_site(g->geo, site_name);
		if (site < 0) {
			conf_err(ld->e, ld->d, k, "pools: unknown site '%s'", site_name);
			rc = -1;
			continue;
		}
		if (conf_get_str(ld->e, ld->d, v, "pools", &pool_name) < 0) {
			rc = -1;
			continue;
		}
		int p = find_pool(g, pool_name);
		if (p < 0) {
			conf_err(ld->e, ld->d, v, "pools: unknown pool '%s'", pool_name);
			rc = -1;
			continue;
		}
		unsigned at = g->pools[p].site;
		if (at != GSLB_NONE && at != (unsigned)site) {
			conf_err(ld->e, ld->d, v, "pools: pool '%s' is at site '%s', not '%s'",
				 pool_name, g->geo->site_names[at], site_name);
			rc = -1;
			continue;
		}
		ps[site] = (unsigned)p;
	}
	return rc;
}

static gslb_name_t *name_push(load_t *ld)
{
	gslb_t *g = ld->g;
	if (g->n_names == ld->names_cap) {
		size_t cap = ld->names_cap ? 2 * ld->names_cap : 16;
		gslb_name_t *nn = realloc(g->names, cap * sizeof(*nn));
		if (!nn) {
			ld->oom = true;
			return NULL;
		}
		g->names = nn;
		ld->names_cap = cap;
	}
	gslb_name_t *nm = &g->names[g->n_names++];
	memset(nm, 0, sizeof(*nm));
	nm->member = GSLB_NONE;
	return nm;
}

static const char *const kind_names[] = {"failover", "multi", "weighted", "srv", "cname"};

/* The keys each kind accepts, `kind` and `pools` included. */
static const char *const *kind_keys(gslb_kind_t k)
{
	static const char *const failover[] = {"kind", "pools", NULL};
	static const char *const multi[] = {"kind", "max", "pools", NULL};
	static const char *const weighted[] = {"kind", "count", "sticky", "pools", NULL};
	static const char *const srv[] = {"kind",          "port",  "priority_base",
					  "priority_step", "pools", NULL};
	static const char *const cname[] = {"kind", "hosts", "pools", NULL};
	switch (k) {
	case GSLB_MULTI:
		return multi;
	case GSLB_WEIGHTED:
		return weighted;
	case GSLB_SRV:
		return srv;
	case GSLB_CNAME:
		return cname;
	default:
		return failover;
	}
}

/* An SRV answer names every member of its pools as a target: each needs a host. */
static void check_srv(load_t *ld, const conf_node_t *key, const gslb_name_t *nm, const char *text)
{
	gslb_t *g = ld->g;
	unsigned sites = 0;
	for (unsigned s = 0; s < g->geo->n_sites; s++) {
		unsigned p = nm->pool_of_site[s];
		if (p == GSLB_NONE)
			continue;
		sites++;
		for (unsigned i = 0; i < g->pools[p].n_members; i++) {
			const gslb_member_t *m = &g->members[g->pools[p].members[i]];
			if (!m->host)
				conf_err(ld->e, ld->d, key,
					 "srv name '%s': member '%s' (pool '%s') has no host", text,
					 m->name, g->pools[p].name);
		}
	}
	/* The last site in a client's order gets base + step * (sites - 1). */
	if (sites > 0 && nm->prio_base + (unsigned long)nm->prio_step * (sites - 1) > 65535)
		conf_err(ld->e, ld->d, key,
			 "srv name '%s': priority_base + priority_step * %u exceeds 65535", text,
			 sites - 1);
}

static void get_cname_hosts(load_t *ld, const gslb_service_t *svc, const conf_node_t *key,
			    const conf_node_t *n, gslb_name_t *nm, const char *text)
{
	gslb_t *g = ld->g;
	if (conf_expect(ld->e, ld->d, n, CONF_MAP, "hosts") < 0)
		return;
	if (!(nm->cname_hosts = xcalloc(ld, g->geo->n_sites, sizeof(*nm->cname_hosts))))
		return;
	for (size_t i = 0; i < conf_len(n); i++) {
		const conf_node_t *k = conf_map_key(n, i), *v = conf_map_val(n, i);
		const char *site_name = conf_scalar(k), *target, *why;
		int site = geo_conf_site(g->geo, site_name);
		if (site < 0) {
			conf_err(ld->e, ld->d, k, "hosts: unknown site '%s'", site_name);
			continue;
		}
		if (nm->pool_of_site && nm->pool_of_site[site] == GSLB_NONE) {
			conf_err(ld->e, ld->d, k, "hosts: site '%s' has no pool for this name",
				 site_name);
			continue;
		}
		if (conf_get_str(ld->e, ld->d, v, "hosts", &target) < 0 || !svc->zone_wire)
			continue;
		uint8_t w[WIRE_NAME_MAX];
		int len = name_to_wire(target, svc->zone_wire, w, &why);
		if (len < 0) {
			conf_err(ld->e, ld->d, v, "hosts: '%s' is not a valid name: %s", target,
				 why);
			continue;
		}
		if (!(nm->cname_hosts[site] = xmemdup(ld, w, (size_t)len)))
			return;
	}
	if (!nm->pool_of_site)
		return;
	/* Every site that can be chosen needs somewhere to point to. */
	for (unsigned s = 0; s < g->geo->n_sites; s++)
		if (nm->pool_of_site[s] != GSLB_NONE && !nm->cname_hosts[s])
			conf_err(ld->e, ld->d, key, "cname name '%s' has no host for site '%s'",
				 text, g->geo->site_names[s]);
}

static void load_name(load_t *ld, unsigned si, const conf_node_t *key, const conf_node_t *v,
		      const unsigned *svc_pools, bool svc_pools_bad)
{
	gslb_t *g = ld->g;
	gslb_service_t *svc = &g->services[si];
	const char *text = conf_scalar(key), *s, *why;
	const conf_node_t *n;
	char what[300];

	gslb_name_t *nm = name_push(ld);
	if (!nm)
		return;
	unsigned ni = g->n_names - 1;
	nm->service = si;
	nm->line = conf_line(key);
	if (svc->zone_wire) {
		uint8_t w[WIRE_NAME_MAX];
		int len = name_to_wire(text, svc->zone_wire, w, &why);
		if (len < 0) {
			conf_err(ld->e, ld->d, key, "name '%s' is not a valid name: %s", text, why);
		} else if (!name_in(w, svc->zone_wire)) {
			conf_err(ld->e, ld->d, key, "name '%s' is not inside zone '%s'", text,
				 svc->zone);
		} else {
			for (unsigned i = 0; i < ni; i++) {
				const gslb_name_t *o = &g->names[i];
				if (o->name && name_eq(o->name, w)) {
					conf_err(ld->e, ld->d, key,
						 "name '%s' is already defined in service '%s' "
						 "at line %u",
						 text, g->services[o->service].name, o->line);
					break;
				}
			}
			if (!(nm->name = xmemdup(ld, w, (size_t)len)))
				return;
		}
	}

	snprintf(what, sizeof(what), "name '%s'", text);
	if (conf_expect(ld->e, ld->d, v, CONF_MAP, what) < 0)
		return;
	if (!(n = conf_map_get(v, "kind"))) {
		conf_err(ld->e, ld->d, key, "name '%s' has no kind", text);
		return;
	}
	if (conf_get_str(ld->e, ld->d, n, "kind", &s) < 0)
		return;
	unsigned k = 0;
	while (k < 5 && strcmp(s, kind_names[k]) != 0)
		k++;
	if (k == 5) {
		conf_err(ld->e, ld->d, n,
			 "kind: '%s' is not one of failover, multi, weighted, srv, cname", s);
		return;
	}
	nm->kind = (gslb_kind_t)k;
	snprintf(what, sizeof(what), "%s name '%s'", kind_names[k], text);
	if (conf_check_map(ld->e, ld->d, v, what, kind_keys(nm->kind)) < 0)
		return;

	if ((n = conf_map_get(v, "pools"))) {
		if (get_pool_map(ld, n, &nm->pool_of_site) < 0) {
			free(nm->pool_of_site);
			nm->pool_of_site = NULL;
		}
	} else if (svc_pools) {
		nm->pool_of_site = xcalloc(ld, g->geo->n_sites, sizeof(*nm->pool_of_site));
		if (!nm->pool_of_site)
			return;
		memcpy(nm->pool_of_site, svc_pools, g->geo->n_sites * sizeof(*svc_pools));
	} else if (!svc_pools_bad) {
		conf_err(ld->e, ld->d, key,
			 "name '%s' has no pools: give 'pools' here or in the service", text);
	}

	switch (nm->kind) {
	case GSLB_MULTI:
		nm->max = 8;
		if ((n = conf_map_get(v, "max")))
			get_u(ld, n, "max", 1, GSLB_PICK_MAX, &nm->max);
		break;
	case GSLB_WEIGHTED:
		nm->count = 1;
		if ((n = conf_map_get(v, "count")))
			get_u(ld, n, "count", 1, GSLB_PICK_MAX, &nm->count);
		if ((n = conf_map_get(v, "sticky")))
			conf_get_bool(ld->e, ld->d, n, "sticky", &nm->sticky);
		break;
	case GSLB_SRV: {
		unsigned port = 0, base = 10, step = 10;
		bool ok = true;
		if (!(n = conf_map_get(v, "port"))) {
			conf_err(ld->e, ld->d, key, "srv name '%s' has no port", text);
			ok = false;
		} else if (get_u(ld, n, "port", 1, 65535, &port) < 0) {
			ok = false;
		}
		if ((n = conf_map_get(v, "priority_base")) &&
		    get_u(ld, n, "priority_base", 0, 65535, &base) < 0)
			ok = false;
		if ((n = conf_map_get(v, "priority_step")) &&
		    get_u(ld, n, "priority_step", 0, 65535, &step) < 0)
			ok = false;
		nm->port = (uint16_t)port;
		nm->prio_base = (uint16_t)base;
		nm->prio_step = (uint16_t)step;
		if (ok && nm->pool_of_site)
			check_srv(ld, key, nm, text);
		break;
	}
	case GSLB_CNAME:
		if (!(n = conf_map_get(v, "hosts")))
			conf_err(ld->e, ld->d, key, "cname name '%s' has no hosts", text);
		else
			get_cname_hosts(ld, svc, key, n, nm, text);
		break;
	default:
		break;
	}
}

static void load_service(load_t *ld, unsigned si, const conf_node_t *key, const conf_node_t *v)
{
	static const char *const keys[] = {"map",          "zone",      "pools", "ttl",
					   "failover_ttl", "hold_down", "names", NULL};
	gslb_t *g = ld->g;
	gslb_service_t *svc = &g->services[si];
	const conf_node_t *n;
	const char *s;
	char what[300];

	snprintf(what, sizeof(what), "service '%s'", svc->name);
	if (!(svc->member_host = xcalloc(ld, g->n_members, sizeof(*svc->member_host))))
		return;
	if (conf_check_map(ld->e, ld->d, v, what, keys) < 0)
		return;
	if (!(n = conf_map_get(v, "map"))) {
		conf_err(ld->e, ld->d, key, "service '%s' has no map", svc->name);
	} else if (conf_get_str(ld->e, ld->d, n, "map", &s) == 0) {
		if (!(svc->map = geo_conf_map(g->geo, s)))
			conf_err(ld->e, ld->d, n, "map: unknown geo map '%s'", s);
	}
	if (!(n = conf_map_get(v, "zone"))) {
		conf_err(ld->e, ld->d, key, "service '%s' has no zone", svc->name);
	} else if (conf_get_str(ld->e, ld->d, n, "zone", &s) == 0) {
		size_t z = 0;
		while (z < ld->n_zones && !zone_eq(ld->zone_names[z], s))
			z++;
		if (z == ld->n_zones || !ld->zone_wire[z]) {
			conf_err(ld->e, ld->d, n, "zone: '%s' is not one of the configured zones",
				 s);
		} else {
			svc->zone = xstrdup(ld, ld->zone_names[z]);
			svc->zone_wire =
			    xmemdup(ld, ld->zone_wire[z], wire_name_len(ld->zone_wire[z]));
			if (ld->oom)
				return;
		}
	}
	unsigned *pools = NULL;
	bool pools_bad = false;
	if ((n = conf_map_get(v, "pools")))
		pools_bad = get_pool_map(ld, n, &pools) < 0;
	if (ld->oom)
		goto done;

	svc->ttl = 300;
	if ((n = conf_map_get(v, "ttl")))
		get_u(ld, n, "ttl", 1, GSLB_TTL_MAX, &svc->ttl);
	svc->failover_ttl = svc->ttl < 30 ? svc->ttl : 30;
	if ((n = conf_map_get(v, "failover_ttl"))) {
		unsigned ft;
		if (get_u(ld, n, "failover_ttl", 1, GSLB_TTL_MAX, &ft) == 0) {
			if (ft > svc->ttl)
				conf_err(ld->e, ld->d, n, "failover_ttl: %u is more than ttl (%u)",
					 ft, (unsigned)svc->ttl);
			else
				svc->failover_ttl = ft;
		}
	}
	svc->hold_down_s = 2 * svc->ttl;
	if ((n = conf_map_get(v, "hold_down"))) {
		uint64_t ms;
		/* Health is tracked in whole seconds: round up, so that a hold-down
		 * is never shorter than asked. */
		if (conf_get_duration_ms(ld->e, ld->d, n, "hold_down", 0, GSLB_HOLD_DOWN_MAX_MS,
					 &ms) == 0)
			svc->hold_down_s = (uint32_t)((ms + 999) / 1000);
	}

	if (!(n = conf_map_get(v, "names"))) {
		conf_err(ld->e, ld->d, key, "service '%s' has no names", svc->name);
	} else if (conf_expect(ld->e, ld->d, n, CONF_MAP, "names") == 0) {
		for (size_t i = 0; i < conf_len(n) && !ld->oom; i++)
			load_name(ld, si, conf_map_key(n, i), conf_map_val(n, i), pools, pools_bad);
	}
done:
	free(pools);
}

static void load_services(load_t *ld, const conf_node_t *sec)
{
	gslb_t *g = ld->g;
	if (conf_expect(ld->e, ld->d, sec, CONF_MAP, "services") < 0)
		return;
	size_t n = conf_len(sec);
	if (!(g->services = xcalloc(ld, n, sizeof(*g->services))))
		return;
	for (size_t i = 0; i < n; i++) {
		gslb_service_t *svc = &g->services[i];
		svc->line = conf_line(conf_map_key(sec, i));
		if (!(svc->name = xstrdup(ld, conf_scalar(conf_map_key(sec, i)))))
			return;
		g->n_services = (unsigned)i + 1;
	}
	for (size_t i = 0; i < n && !ld->oom; i++)
		load_service(ld, (unsigned)i, conf_map_key(sec, i), conf_map_val(sec, i));
}

/* ---- member host names --------------------------------------------------------------- */

static void host_err(load_t *ld, unsigned m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "host 'x' of member 'm' <fmt>", once per member host however many
 * services run into it. */
static void host_err(load_t *ld, unsigned m, const char *fmt, ...)
{
	if (ld->member_host_bad[m])
		return;
	ld->member_host_bad[m] = true;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	conf_err(ld->e, ld->d, ld->member_host[m], "host '%s' of member '%s' %s",
		 conf_scalar(ld->member_host[m]), ld->g->members[m].name, msg);
}

/* Resolve member `m`'s host in service `si`'s zone, and make it a GSLB_HOST
 * name when it lies inside one of our zones. */
static void resolve_host(load_t *ld, unsigned si, unsigned m)
{
	gslb_t *g = ld->g;
	gslb_service_t *svc = &g->services[si];
	const gslb_member_t *mm = &g->members[m];
	uint8_t w[WIRE_NAME_MAX];
	const uint8_t *name = mm->host;

	if (mm->host_relative) {
		unsigned hl = wire_name_len(mm->host) - 1, zl = wire_name_len(svc->zone_wire);
		if (hl + zl > WIRE_NAME_MAX) {
			host_err(ld, m, "is longer than 255 bytes in zone '%s'", svc->zone);
			return;
		}
		memcpy(w, mm->host, hl);
		memcpy(w + hl, svc->zone_wire, zl);
		name = w;
	}
	bool ours = false;
	for (size_t z = 0; z < ld->n_zones && !ours; z++)
		ours = ld->zone_wire[z] && name_in(name, ld->zone_wire[z]);
	if (!ours) {
		/* Only absolute names get here: an SRV target someone else serves. */
		svc->member_host[m] = mm->host;
		return;
	}
	for (unsigned i = 0; i < g->n_names; i++) {
		const gslb_name_t *o = &g->names[i];
		if (!o->name || !name_eq(o->name, name))
			continue;
		if (o->kind == GSLB_HOST && o->member == m) {
			svc->member_host[m] = o->name;
			return;
		}
		if (o->kind == GSLB_HOST)
			host_err(ld, m, "is also the host of member '%s'",
				 g->members[o->member].name);
		else
			host_err(ld, m, "is also a name of service '%s' at line %u",
				 g->services[o->service].name, o->line);
		return;
	}
	gslb_name_t *nm = name_push(ld);
	if (!nm)
		return;
	nm->kind = GSLB_HOST;
	nm->service = si;
	nm->member = m;
	nm->line = conf_line(ld->member_host[m]);
	if (!(nm->name = xmemdup(ld, name, wire_name_len(name))))
		return;
	svc->member_host[m] = nm->name;
}

static void build_hosts(load_t *ld)
{
	gslb_t *g = ld->g;
	unsigned n_service_names = g->n_names;
	for (unsigned i = 0; i < n_service_names && !ld->oom; i++) {
		/* Copy what is needed: name_push() may move g->names. */
		unsigned si = g->names[i].service;
		const unsigned *pos = g->names[i].pool_of_site;
		if (!pos || !g->services[si].zone_wire)
			continue;
		for (unsigned s = 0; s < g->geo->n_sites && !ld->oom; s++) {
			if (pos[s] == GSLB_NONE)
				continue;
			const gslb_pool_t *p = &g->pools[pos[s]];
			for (unsigned k = 0; k < p->n_members && !ld->oom; k++) {
				unsigned m = p->members[k];
				if (g->members[m].host && !g->services[si].member_host[m] &&
				    !ld->member_host_bad[m])
					resolve_host(ld, si, m);
			}
		}
	}
}

/* ---- load and free ------------------------------------------------------------------- */

/* `waymarkctl set NAME` finds a member, pool or site by name: one name must
 * not stand for two of them. */
static void check_unique_names(load_t *ld)
{
	const gslb_t *g = ld->g;
	const char *file = conf_doc_file(ld->d);
	for (unsigned i = 0; i < g->n_pools; i++) {
		for (unsigned m = 0; m < g->n_members; m++)
			if (strcmp(g->pools[i].name, g->members[m].name) == 0)
				conf_err_raw(ld->e, "%s:%u: pool '%s' has the name of a member (line %u)",
					     file, g->pools[i].line, g->pools[i].name, g->members[m].line);
		if (g->geo && geo_conf_site(g->geo, g->pools[i].name) >= 0)
			conf_err_raw(ld->e, "%s:%u: pool '%s' has the name of a site", file,
				     g->pools[i].line, g->pools[i].name);
	}
	for (unsigned m = 0; g->geo && m < g->n_members; m++)
		if (geo_conf_site(g->geo, g->members[m].name) >= 0)
			conf_err_raw(ld->e, "%s:%u: member '%s' has the name of a site", file,
				     g->members[m].line, g->members[m].name);
}

gslb_t *gslb_load(const conf_doc_t *d, const geo_conf_t *geo, const char *const *zone_names,
		  size_t n_zones, conf_errs_t *e)
{
	unsigned before = e->count;
	load_t ld = {.d = d, .e = e, .zone_names = zone_names, .n_zones = n_zones};
	const conf_node_t *root = conf_root(d), *sec;

	if (!(ld.g = xcalloc(&ld, 1, sizeof(*ld.g))))
		goto fail;
	ld.g->geo = geo;
	if (!(ld.zone_wire = xcalloc(&ld, n_zones, sizeof(*ld.zone_wire))))
		goto fail;
	for (size_t z = 0; z < n_zones; z++) {
		uint8_t w[WIRE_NAME_MAX];
		const char *why;
		const char *zn = zone_names[z];
		int len = zn[0] == '\0' ? name_to_wire(".", root_wire, w, &why)
					: name_to_wire(zn, root_wire, w, &why);
		/* The zone loader has vetted zone names; one this loader cannot
		 * spell simply cannot hold a service. */
		if (len > 0 && !(ld.zone_wire[z] = xmemdup(&ld, w, (size_t)len)))
			goto fail;
	}

	if ((sec = conf_map_get(root, "members")))
		load_members(&ld, sec);
	if (ld.oom)
		goto fail;
	if ((sec = conf_map_get(root, "pools")))
		load_pools(&ld, sec);
	if (ld.oom)
		goto fail;
	order_pools(&ld);
	if (ld.oom)
		goto fail;
	if ((sec = conf_map_get(root, "services")))
		load_services(&ld, sec);
	if (ld.oom)
		goto fail;
	build_hosts(&ld);
	check_unique_names(&ld);
	if (ld.oom || e->count != before)
		goto fail;

	for (size_t z = 0; z < n_zones; z++)
		free(ld.zone_wire[z]);
	free(ld.zone_wire);
	free(ld.member_host);
	free(ld.member_host_bad);
	free(ld.pool_key);
	return ld.g;
fail:
	if (e->count == before)
		conf_err_raw(e, "%s: out of memory", conf_doc_file(d));
	if (ld.zone_wire)
		for (size_t z = 0; z < n_zones; z++)
			free(ld.zone_wire[z]);
	free(ld.zone_wire);
	free(ld.member_host);
	free(ld.member_host_bad);
	free(ld.pool_key);
	gslb_free(ld.g);
	return NULL;
}

void gslb_free(gslb_t *g)
{
	if (!g)
		return;
	gslb_live_free(g->live);
	for (unsigned i = 0; i < g->n_members; i++) {
		free(g->members[i].name);
		free(g->members[i].answer);
		free(g->members[i].host);
	}
	free(g->members);
	for (unsigned i = 0; i < g->n_pools; i++) {
		free(g->pools[i].name);
		free(g->pools[i].role);
		free(g->pools[i].members);
		free(g->pools[i].requires);
		free(g->pools[i].vip);
	}
	free(g->pools);
	free(g->pool_order);
	for (unsigned i = 0; i < g->n_services; i++) {
		free(g->services[i].name);
		free(g->services[i].zone);
		free(g->services[i].zone_wire);
		free(g->services[i].member_host);
	}
	free(g->services);
	for (unsigned i = 0; i < g->n_names; i++) {
		gslb_name_t *nm = &g->names[i];
		free(nm->name);
		free(nm->pool_of_site);
		if (nm->cname_hosts)
			for (unsigned s = 0; s < g->geo->n_sites; s++)
				free(nm->cname_hosts[s]);
		free(nm->cname_hosts);
	}
	free(g->names);
	/* g->live: struct gslb_live and its free function come with
	 * gslb_answer.c, which must free it here. */
	free(g);
}

int gslb_find_object(const gslb_t *g, const char *name, int *kind, unsigned *idx)
{
	for (unsigned i = 0; i < g->n_members; i++)
		if (strcmp(g->members[i].name, name) == 0) {
			*kind = 0;
			*idx = i;
			return 0;
		}
	for (unsigned i = 0; i < g->n_pools; i++)
		if (strcmp(g->pools[i].name, name) == 0) {
			*kind = 1;
			*idx = i;
			return 0;
		}
	int s = geo_conf_site(g->geo, name);
	if (s < 0)
		return -1;
	*kind = 2;
	*idx = (unsigned)s;
	return 0;
}
