/* geo.c -- compile a geo map (nets, GeoIP2 database, rules) into a multibit prefix tree. */
#include "config.h"
#include "geo/geo.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <maxminddb.h>

/*
 * How it works (see geo.h for the contract).
 *
 * Compilation goes through a binary trie held in an array of nodes, each with
 * two references; a reference is either a node index or a leaf (a class). The
 * trie is hash-consed: equal (left, right) pairs are one node, and a pair of
 * equal leaves is that leaf -- this is the "merge equal neighbours" step, and
 * it happens as nodes are made, so a merged trie is never built twice. Because
 * nodes are shared, the trie is a DAG: the database's IPv4 subtree, aliased at
 * ::/96, ::ffff:0:0/96, 2001::/32 and 2002::/16, is one set of nodes.
 *
 * 1. The database's search tree is walked depth-first with an explicit stack
 *    (128 frames at most). Each database node is compiled once and remembered
 *    (memo[]), so aliases cost nothing and a tree that loops or lies about its
 *    depth is caught rather than followed. Each data record is decoded once
 *    (rc_key/rc_val: data offset -> class).
 * 2. The IPv4 subtree (::/96) is grafted at ::ffff:0:0/96 and the nets are
 *    laid over the result, least specific first, by path copying.
 * 3. The binary trie is packed into blocks of 2^GEO_STRIDE entries (leaf
 *    pushing): an entry is a child block or a leaf carrying its class and how
 *    many bits into the block the binary leaf was, so the lookup still knows
 *    the exact prefix length (the ECS scope) of the answer. Blocks are made
 *    per binary node, so shared subtrees stay shared.
 */

/* Measured (tests/bench/geo_bench, 1.2M networks): stride 8 was no faster
 * than 4 once the table outgrew the caches, and six times the memory. */
#ifndef GEO_STRIDE
#define GEO_STRIDE 4
#endif
#if GEO_STRIDE != 1 && GEO_STRIDE != 2 && GEO_STRIDE != 4 && GEO_STRIDE != 8
#error "GEO_STRIDE must divide 8"
#endif
#define BLOCK_ENTRIES (1u << GEO_STRIDE)
/* The first 16 bits (of the address, and of IPv4 after ::ffff:0:0/96) are
 * looked up in one direct table each: four fewer dependent loads per lookup
 * for 2 x 256 KiB. */
#define TOP_BITS 16
#define TOP_ENTRIES (1u << TOP_BITS)
_Static_assert(TOP_BITS == 16 && TOP_BITS % GEO_STRIDE == 0, "geo_lookup() reads two bytes");

/* Binary trie references. */
#define REF_LEAF 0x80000000u
#define REF_IS_LEAF(r) (((r)&REF_LEAF) != 0)
#define REF_CLASS(r) ((r) & ~REF_LEAF)

/* Packed entries: bit 31 leaf, bits 24..30 depth of the leaf (relative to the
 * block, or absolute in the top tables), bits 0..23 the class. A non-leaf
 * entry is a block number. */
#define ENT_LEAF 0x80000000u
#define ENT_DEPTH(e) (((e) >> 24) & 0x7fu)
#define ENT_CLASS(e) ((e)&0xffffffu)
#define ENT_MAKE_LEAF(cls, depth) (ENT_LEAF | ((uint32_t)(depth) << 24) | (cls))

#define MEMO_UNSET 0xffffffffu
#define MEMO_BUSY 0xfffffffeu
#define NO_CLASS 0xffffffffu

typedef struct geo_class {
	uint32_t off; /* into sites_pool */
	uint32_t n;
} geo_class_t;

/* A rule as kept by the map: code normalised to upper case. */
typedef struct map_rule {
	geo_match_t match;
	char code[12];
	uint32_t cls;
	unsigned line;
} map_rule_t;

typedef struct map_net {
	uint8_t addr[16];
	unsigned prefix;
	uint32_t cls;
	unsigned line;
} map_net_t;

typedef struct map_site {
	char *name;
	bool has_coords;
	double lat, lon;
} map_site_t;

struct geo_map {
	/* hot: the lookup touches only these */
	const uint32_t *table;
	uint32_t *top;    /* the first TOP_BITS bits; then v4_top */
	uint32_t *v4_top; /* bits 96..96+TOP_BITS of ::ffff:0:0/96 */

	uint32_t *table_mem;
	uint32_t n_blocks;

	geo_class_t *classes;
	uint32_t n_classes, cap_classes;
	uint16_t *sites_pool;
	size_t pool_len, pool_cap;
	uint32_t *class_hash; /* class id + 1, 0 = free */
	uint32_t class_hash_cap;

	map_site_t *sites;
	unsigned n_sites;
	map_rule_t *rules;
	size_t n_rules;
	map_net_t *nets;
	size_t n_nets;
	bool nearest;
	uint32_t default_cls;

	/* the database, for geo_explain() */
	char *db_path;
	uint64_t db_build_epoch;
	uint32_t db_node_count;
	off_t db_size;
	struct timespec db_mtime;

	uint32_t trie_nodes;
	uint32_t db_records;
};

/* ------------------------------------------------------------------------- */
/* errors */

static void errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void errf(char *err, size_t errlen, const char *fmt, ...)
{
	if (err == NULL || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* "file:line: msg" for mistakes in the spec, so the config loader's caller
 * sees where to look. */
static void spec_err(const geo_spec_t *s, unsigned line, char *err, size_t errlen, const char *fmt,
		     ...) __attribute__((format(printf, 5, 6)));
static void spec_err(const geo_spec_t *s, unsigned line, char *err, size_t errlen, const char *fmt,
		     ...)
{
	if (err == NULL || errlen == 0)
		return;
	int n;
	if (s->source != NULL && line != 0)
		n = snprintf(err, errlen, "%s:%u: ", s->source, line);
	else if (s->source != NULL)
		n = snprintf(err, errlen, "%s: ", s->source);
	else if (line != 0)
		n = snprintf(err, errlen, "line %u: ", line);
	else
		n = snprintf(err, errlen, "geo: ");
	if (n < 0 || (size_t)n >= errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------------------- */
/* small helpers */

static inline unsigned addr_bit(const uint8_t a[16], unsigned i)
{
	return (a[i >> 3] >> (7 - (i & 7))) & 1u;
}

static void addr_mask(uint8_t out[16], const uint8_t in[16], unsigned bits)
{
	for (unsigned i = 0; i < 16; i++) {
		if (bits >= 8 * (i + 1))
			out[i] = in[i];
		else if (bits <= 8 * i)
			out[i] = 0;
		else
			out[i] = in[i] & (uint8_t)(0xff00u >> (bits - 8 * i));
	}
}

static bool prefix_contains(const uint8_t net[16], unsigned len, const uint8_t a[16])
{
	uint8_t m[16];
	addr_mask(m, a, len);
	return memcmp(m, net, 16) == 0;
}

static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return p;
	size_t n = *cap ? *cap : 16;
	while (n < need)
		n *= 2;
	void *q = realloc(p, n * elem);
	if (q != NULL)
		*cap = n;
	return q;
}

/* ------------------------------------------------------------------------- */
/* classes: deduplicated site-order lists */

static uint64_t order_hash(const uint16_t *ids, unsigned n)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
	for (unsigned i = 0; i < n; i++)
		h = mix64(h ^ ids[i]);
	return h;
}

static bool class_equal(const geo_map_t *m, uint32_t c, const uint16_t *ids, unsigned n)
{
	return m->classes[c].n == n &&
	       memcmp(m->sites_pool + m->classes[c].off, ids, n * sizeof(*ids)) == 0;
}

static uint32_t class_find(const geo_map_t *m, const uint16_t *ids, unsigned n)
{
	if (m->class_hash_cap == 0)
		return NO_CLASS;
	uint32_t mask = m->class_hash_cap - 1;
	for (uint32_t i = (uint32_t)order_hash(ids, n) & mask;; i = (i + 1) & mask) {
		uint32_t v = m->class_hash[i];
		if (v == 0)
			return NO_CLASS;
		if (class_equal(m, v - 1, ids, n))
			return v - 1;
	}
}

static int class_rehash(geo_map_t *m, uint32_t cap)
{
	uint32_t *h = calloc(cap, sizeof(*h));
	if (h == NULL)
		return -1;
	for (uint32_t c = 0; c < m->n_classes; c++) {
		const uint16_t *ids = m->sites_pool + m->classes[c].off;
		uint32_t i = (uint32_t)order_hash(ids, m->classes[c].n) & (cap - 1);
		while (h[i] != 0)
			i = (i + 1) & (cap - 1);
		h[i] = c + 1;
	}
	free(m->class_hash);
	m->class_hash = h;
	m->class_hash_cap = cap;
	return 0;
}

/* The class of an order, made if new. Returns NO_CLASS on allocation failure
 * or when there are too many classes (err says which). */
static uint32_t class_intern(geo_map_t *m, const uint16_t *ids, unsigned n, char *err,
			     size_t errlen)
{
	uint32_t c = class_find(m, ids, n);
	if (c != NO_CLASS)
		return c;
	if (m->n_classes >= GEO_CLASSES_MAX) {
		errf(err, errlen, "geo: more than %u distinct site orders", GEO_CLASSES_MAX);
		return NO_CLASS;
	}
	if (2 * (m->n_classes + 1) > m->class_hash_cap &&
	    class_rehash(m, m->class_hash_cap ? 2 * m->class_hash_cap : 64) != 0)
		goto oom;
	size_t cap = m->cap_classes;
	geo_class_t *cl = grow(m->classes, &cap, m->n_classes + 1, sizeof(*cl));
	if (cl == NULL)
		goto oom;
	m->classes = cl;
	m->cap_classes = (uint32_t)cap;
	uint16_t *pool = grow(m->sites_pool, &m->pool_cap, m->pool_len + n, sizeof(*pool));
	if (pool == NULL)
		goto oom;
	m->sites_pool = pool;
	memcpy(pool + m->pool_len, ids, n * sizeof(*ids));
	c = m->n_classes++;
	m->classes[c].off = (uint32_t)m->pool_len;
	m->classes[c].n = n;
	m->pool_len += n;
	uint32_t mask = m->class_hash_cap - 1;
	uint32_t i = (uint32_t)order_hash(ids, n) & mask;
	while (m->class_hash[i] != 0)
		i = (i + 1) & mask;
	m->class_hash[i] = c + 1;
	return c;
oom:
	errf(err, errlen, "geo: out of memory");
	return NO_CLASS;
}

/* ------------------------------------------------------------------------- */
/* spec checks */

static int check_order(const geo_spec_t *s, const geo_order_t *o, unsigned line, const char *what,
		       char *err, size_t errlen)
{
	if (o->n == 0 || o->ids == NULL) {
		spec_err(s, line, err, errlen, "%s: empty site list", what);
		return -1;
	}
	uint8_t seen[GEO_SITES_MAX] = {0};
	for (unsigned i = 0; i < o->n; i++) {
		if (o->ids[i] >= s->n_sites) {
			spec_err(s, line, err, errlen, "%s: site id %u out of range (%u sites)",
				 what, o->ids[i], s->n_sites);
			return -1;
		}
		if (seen[o->ids[i]]++) {
			spec_err(s, line, err, errlen, "%s: site '%s' listed twice", what,
				 s->sites[o->ids[i]].name);
			return -1;
		}
	}
	return 0;
}

static const char *const continents[] = {"AF", "AN", "AS", "EU", "NA", "OC", "SA"};

/* Normalise and check a rule's code. */
static int rule_code(const geo_spec_t *s, const geo_rule_t *r, char out[12], char *err,
		     size_t errlen)
{
	const char *c = r->code ? r->code : "";
	size_t len = strlen(c);
	bool ok = false;
	if (len < 12) {
		for (size_t i = 0; i <= len; i++)
			out[i] = (char)toupper((unsigned char)c[i]);
	}
	switch (r->match) {
	case GEO_MATCH_CONTINENT:
		for (size_t i = 0; len == 2 && i < sizeof(continents) / sizeof(*continents); i++)
			ok = ok || strcmp(out, continents[i]) == 0;
		if (!ok)
			spec_err(s, r->line, err, errlen,
				 "unknown continent code '%s' (AF AN AS EU NA OC SA)", c);
		break;
	case GEO_MATCH_COUNTRY:
		ok = len == 2 && isalpha((unsigned char)c[0]) && isalpha((unsigned char)c[1]);
		if (!ok)
			spec_err(s, r->line, err, errlen,
				 "country code '%s' is not ISO 3166-1 alpha-2 (\"GB\")", c);
		break;
	case GEO_MATCH_SUBDIVISION:
		ok = len >= 4 && len <= 6 && isalpha((unsigned char)c[0]) &&
		     isalpha((unsigned char)c[1]) && c[2] == '-';
		for (size_t i = 3; ok && i < len; i++)
			ok = isalnum((unsigned char)c[i]) != 0;
		if (!ok)
			spec_err(s, r->line, err, errlen,
				 "subdivision code '%s' is not ISO 3166-2 (\"GB-ENG\", \"US-CA\")",
				 c);
		break;
	default:
		spec_err(s, r->line, err, errlen, "bad rule kind %d", (int)r->match);
		break;
	}
	return ok ? 0 : -1;
}

static int net_cmp(const void *a, const void *b)
{
	const map_net_t *x = a, *y = b;
	int c = memcmp(x->addr, y->addr, 16);
	if (c != 0)
		return c;
	if (x->prefix != y->prefix)
		return x->prefix < y->prefix ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

static int net_cmp_len(const void *a, const void *b)
{
	const map_net_t *x = a, *y = b;
	if (x->prefix != y->prefix)
		return x->prefix < y->prefix ? -1 : 1;
	return memcmp(x->addr, y->addr, 16);
}

/* Copy and check everything of the spec but the database. */
static int load_spec(geo_map_t *m, const geo_spec_t *s, char *err, size_t errlen)
{
	if (s->n_sites == 0 || s->n_sites > GEO_SITES_MAX || s->sites == NULL) {
		spec_err(s, 0, err, errlen, "a geo map needs 1 to %u sites, got %u", GEO_SITES_MAX,
			 s->n_sites);
		return -1;
	}
	m->sites = calloc(s->n_sites, sizeof(*m->sites));
	if (m->sites == NULL)
		goto oom;
	m->n_sites = s->n_sites;
	bool any_coords = false;
	for (unsigned i = 0; i < s->n_sites; i++) {
		const geo_site_t *st = &s->sites[i];
		if (st->name == NULL || *st->name == '\0') {
			spec_err(s, 0, err, errlen, "site %u has no name", i);
			return -1;
		}
		if (st->has_coords && !(fabs(st->lat) <= 90 && fabs(st->lon) <= 180)) {
			spec_err(s, 0, err, errlen, "site '%s': coordinates %g,%g out of range",
				 st->name, st->lat, st->lon);
			return -1;
		}
		m->sites[i].name = strdup(st->name);
		if (m->sites[i].name == NULL)
			goto oom;
		m->sites[i].has_coords = st->has_coords;
		m->sites[i].lat = st->lat;
		m->sites[i].lon = st->lon;
		any_coords = any_coords || st->has_coords;
	}
	m->nearest = s->nearest;
	if (s->nearest && !any_coords) {
		spec_err(s, 0, err, errlen, "nearest needs at least one site with coordinates");
		return -1;
	}

	/* class 0 is the default order, whatever other orders equal it */
	if (s->default_order.n == 0) {
		uint16_t all[GEO_SITES_MAX];
		for (unsigned i = 0; i < s->n_sites; i++)
			all[i] = (uint16_t)i;
		m->default_cls = class_intern(m, all, s->n_sites, err, errlen);
	} else {
		if (check_order(s, &s->default_order, 0, "default order", err, errlen) != 0)
			return -1;
		m->default_cls =
		    class_intern(m, s->default_order.ids, s->default_order.n, err, errlen);
	}
	if (m->default_cls == NO_CLASS)
		return -1;

	if (s->n_rules > 0) {
		m->rules = calloc(s->n_rules, sizeof(*m->rules));
		if (m->rules == NULL)
			goto oom;
	}
	for (size_t i = 0; i < s->n_rules; i++) {
		const geo_rule_t *r = &s->rules[i];
		map_rule_t *mr = &m->rules[i];
		if (rule_code(s, r, mr->code, err, errlen) != 0)
			return -1;
		for (size_t j = 0; j < i; j++) {
			if (m->rules[j].match == r->match &&
			    strcmp(m->rules[j].code, mr->code) == 0) {
				spec_err(s, r->line, err, errlen,
					 "rule for '%s' duplicates the one at line %u", mr->code,
					 m->rules[j].line);
				return -1;
			}
		}
		if (check_order(s, &r->order, r->line, mr->code, err, errlen) != 0)
			return -1;
		mr->match = r->match;
		mr->line = r->line;
		mr->cls = class_intern(m, r->order.ids, r->order.n, err, errlen);
		if (mr->cls == NO_CLASS)
			return -1;
		m->n_rules++;
	}

	if (s->n_nets > 0) {
		m->nets = calloc(s->n_nets, sizeof(*m->nets));
		if (m->nets == NULL)
			goto oom;
	}
	for (size_t i = 0; i < s->n_nets; i++) {
		const geo_net_t *n = &s->nets[i];
		map_net_t *mn = &m->nets[i];
		char txt[64];
		geo_prefix_format(n->addr, n->prefix > 128 ? 128 : n->prefix, txt, sizeof(txt));
		if (n->prefix > 128) {
			spec_err(s, n->line, err, errlen, "net prefix length %u > 128", n->prefix);
			return -1;
		}
		if (!prefix_contains(n->addr, n->prefix, n->addr)) {
			spec_err(s, n->line, err, errlen, "net %s has bits set beyond its prefix",
				 txt);
			return -1;
		}
		if (check_order(s, &n->order, n->line, txt, err, errlen) != 0)
			return -1;
		memcpy(mn->addr, n->addr, 16);
		mn->prefix = n->prefix;
		mn->line = n->line;
		mn->cls = class_intern(m, n->order.ids, n->order.n, err, errlen);
		if (mn->cls == NO_CLASS)
			return -1;
		m->n_nets++;
	}
	if (m->n_nets > 1) {
		qsort(m->nets, m->n_nets, sizeof(*m->nets), net_cmp);
		for (size_t i = 1; i < m->n_nets; i++) {
			const map_net_t *a = &m->nets[i - 1], *b = &m->nets[i];
			if (a->prefix == b->prefix && memcmp(a->addr, b->addr, 16) == 0) {
				char txt[64];
				geo_prefix_format(b->addr, b->prefix, txt, sizeof(txt));
				spec_err(s, b->line, err, errlen,
					 "net %s duplicates the one at line %u", txt, a->line);
				return -1;
			}
		}
		/* least specific first: each insert overrides what it covers */
		qsort(m->nets, m->n_nets, sizeof(*m->nets), net_cmp_len);
	}
	return 0;
oom:
	errf(err, errlen, "geo: out of memory");
	return -1;
}

/* ------------------------------------------------------------------------- */
/* database records */

typedef const MMDB_entry_data_list_s *ecur_t;

/* The entry after the whole value at `p` (a map or array spans its items). */
static ecur_t entry_skip(ecur_t p)
{
	uint64_t need = 1;
	while (p != NULL && need > 0) {
		need--;
		if (p->entry_data.type == MMDB_DATA_TYPE_MAP)
			need += 2ull * p->entry_data.data_size;
		else if (p->entry_data.type == MMDB_DATA_TYPE_ARRAY)
			need += p->entry_data.data_size;
		p = p->next;
	}
	return p;
}

static bool entry_is_key(ecur_t p, const char *key)
{
	size_t len = strlen(key);
	return p != NULL && p->entry_data.type == MMDB_DATA_TYPE_UTF8_STRING &&
	       p->entry_data.data_size == len && memcmp(p->entry_data.utf8_string, key, len) == 0;
}

/* The value of `key` in the map at `map`, or NULL. */
static ecur_t entry_get(ecur_t map, const char *key)
{
	if (map == NULL || map->entry_data.type != MMDB_DATA_TYPE_MAP)
		return NULL;
	uint32_t n = map->entry_data.data_size;
	ecur_t p = map->next;
	for (uint32_t i = 0; i < n && p != NULL; i++) {
		ecur_t val = p->next;
		if (entry_is_key(p, key))
			return val;
		p = entry_skip(val);
	}
	return NULL;
}

/* Copy a string value that fits; anything else leaves `out` empty, so that a
 * long or odd value never matches a rule by accident of truncation. */
static void entry_str(ecur_t p, char *out, size_t len)
{
	out[0] = '\0';
	if (p == NULL || p->entry_data.type != MMDB_DATA_TYPE_UTF8_STRING ||
	    p->entry_data.data_size >= len)
		return;
	memcpy(out, p->entry_data.utf8_string, p->entry_data.data_size);
	out[p->entry_data.data_size] = '\0';
}

static bool entry_num(ecur_t p, double *out)
{
	if (p == NULL)
		return false;
	if (p->entry_data.type == MMDB_DATA_TYPE_DOUBLE)
		*out = p->entry_data.double_value;
	else if (p->entry_data.type == MMDB_DATA_TYPE_FLOAT)
		*out = p->entry_data.float_value;
	else
		return false;
	return isfinite(*out);
}

/* Decode the data record at `offset` completely (so that any corruption in
 * it is found now, not at explain time) and keep the fields we use. */
static int rec_decode(const MMDB_s *db, uint32_t offset, geo_record_t *rec, char *err,
		      size_t errlen)
{
	memset(rec, 0, sizeof(*rec));
	MMDB_entry_s entry = {.mmdb = db, .offset = offset};
	MMDB_entry_data_list_s *list = NULL;
	int rc = MMDB_get_entry_data_list(&entry, &list);
	if (rc != MMDB_SUCCESS) {
		errf(err, errlen, "geo: %s: data record at offset %u: %s", db->filename, offset,
		     MMDB_strerror(rc));
		MMDB_free_entry_data_list(list);
		return -1;
	}
	if (entry_skip(list) != NULL) {
		/* libmaxminddb returns exactly one value; more means we misread it */
		errf(err, errlen, "geo: %s: data record at offset %u does not decode as one value",
		     db->filename, offset);
		MMDB_free_entry_data_list(list);
		return -1;
	}
	entry_str(entry_get(entry_get(list, "continent"), "code"), rec->continent,
		  sizeof(rec->continent));
	entry_str(entry_get(entry_get(list, "country"), "iso_code"), rec->country,
		  sizeof(rec->country));
	if (rec->country[0] == '\0') {
		/* GeoIP2 leaves `country` out for satellite and anycast networks; the
		 * registered country is the better guess than nothing */
		entry_str(entry_get(entry_get(list, "registered_country"), "iso_code"),
			  rec->country, sizeof(rec->country));
		rec->country_is_registered = rec->country[0] != '\0';
	}
	ecur_t subs = entry_get(list, "subdivisions");
	if (subs != NULL && subs->entry_data.type == MMDB_DATA_TYPE_ARRAY) {
		uint32_t n = subs->entry_data.data_size;
		ecur_t p = subs->next;
		for (uint32_t i = 0; i < n && p != NULL; i++) {
			if (rec->n_subdivisions < 4) {
				char *s = rec->subdivisions[rec->n_subdivisions];
				entry_str(entry_get(p, "iso_code"), s,
					  sizeof(rec->subdivisions[0]));
				if (s[0] != '\0')
					rec->n_subdivisions++;
			}
			p = entry_skip(p);
		}
	}
	ecur_t loc = entry_get(list, "location");
	double lat, lon;
	if (entry_num(entry_get(loc, "latitude"), &lat) &&
	    entry_num(entry_get(loc, "longitude"), &lon) && fabs(lat) <= 90 && fabs(lon) <= 180) {
		rec->has_location = true;
		rec->lat = lat;
		rec->lon = lon;
	}
	MMDB_free_entry_data_list(list);
	return 0;
}

static bool rec_useful(const geo_record_t *r)
{
	return r->continent[0] != '\0' || r->country[0] != '\0' || r->has_location;
}

typedef struct decision {
	geo_source_t source;
	unsigned line;
	geo_match_t match;
} decision_t;

static const map_rule_t *rule_find(const geo_map_t *m, geo_match_t match, const char *code)
{
	for (size_t i = 0; i < m->n_rules; i++) {
		if (m->rules[i].match == match && strcasecmp(m->rules[i].code, code) == 0)
			return &m->rules[i];
	}
	return NULL;
}

typedef struct site_dist {
	double d;
	uint16_t id;
} site_dist_t;

static int site_dist_cmp(const void *a, const void *b)
{
	const site_dist_t *x = a, *y = b;
	if (x->d != y->d)
		return x->d < y->d ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* Great-circle angle (haversine); the order is all we need, not kilometres. */
static double angle(double lat1, double lon1, double lat2, double lon2)
{
	const double r = M_PI / 180.0;
	double dlat = (lat2 - lat1) * r, dlon = (lon2 - lon1) * r;
	double h = sin(dlat / 2) * sin(dlat / 2) +
		   cos(lat1 * r) * cos(lat2 * r) * sin(dlon / 2) * sin(dlon / 2);
	return 2 * asin(sqrt(h > 1 ? 1 : h));
}

/* The class for a record. With `add` false (explain, on a const map) an order
 * the map does not have yields NO_CLASS. */
static uint32_t rec_class(geo_map_t *m, const geo_record_t *rec, bool add, decision_t *d, char *err,
			  size_t errlen)
{
	const map_rule_t *r = NULL;
	if (rec->country[0] != '\0') {
		/* the smallest subdivision is the most specific */
		for (unsigned i = rec->n_subdivisions; i-- > 0 && r == NULL;) {
			char code[16];
			snprintf(code, sizeof(code), "%s-%s", rec->country, rec->subdivisions[i]);
			r = rule_find(m, GEO_MATCH_SUBDIVISION, code);
		}
		if (r == NULL)
			r = rule_find(m, GEO_MATCH_COUNTRY, rec->country);
	}
	if (r == NULL && rec->continent[0] != '\0')
		r = rule_find(m, GEO_MATCH_CONTINENT, rec->continent);
	if (r != NULL) {
		*d = (decision_t){.source = GEO_SRC_RULE, .line = r->line, .match = r->match};
		return r->cls;
	}
	if (m->nearest && rec->has_location) {
		site_dist_t sd[GEO_SITES_MAX];
		uint16_t ids[GEO_SITES_MAX];
		for (unsigned i = 0; i < m->n_sites; i++) {
			const map_site_t *s = &m->sites[i];
			/* sites without coordinates go last, in id order */
			sd[i].d = s->has_coords ? angle(rec->lat, rec->lon, s->lat, s->lon) : 10.0;
			sd[i].id = (uint16_t)i;
		}
		qsort(sd, m->n_sites, sizeof(*sd), site_dist_cmp);
		for (unsigned i = 0; i < m->n_sites; i++)
			ids[i] = sd[i].id;
		*d = (decision_t){.source = GEO_SRC_NEAREST};
		if (!add)
			return class_find(m, ids, m->n_sites);
		return class_intern(m, ids, m->n_sites, err, errlen);
	}
	*d = (decision_t){.source = GEO_SRC_DEFAULT};
	return m->default_cls;
}

/* ------------------------------------------------------------------------- */
/* compile state */

typedef struct bnode {
	uint32_t c[2];
} bnode_t;

typedef struct build {
	geo_map_t *m;
	char *err;
	size_t errlen;

	bnode_t *nodes;
	size_t n_nodes, cap_nodes;
	uint32_t *hc; /* hash-consing: node index + 1, 0 = free */
	size_t hc_cap;

	/* database walk */
	MMDB_s db;
	bool db_open;
	uint32_t *memo;   /* db node -> reference, MEMO_UNSET / MEMO_BUSY */
	uint8_t *height;  /* db node -> bits below it */
	uint32_t *rc_key; /* data offset -> class; key MEMO_UNSET = free */
	uint32_t *rc_val;
	size_t rc_cap, rc_len;
	uint32_t useful_records;
} build_t;

static int build_oom(build_t *b)
{
	errf(b->err, b->errlen, "geo: out of memory");
	return -1;
}

static inline uint64_t pair_hash(uint32_t l, uint32_t r)
{
	return mix64(((uint64_t)l << 32) | r);
}

static int hc_rehash(build_t *b, size_t cap)
{
	uint32_t *h = calloc(cap, sizeof(*h));
	if (h == NULL)
		return -1;
	for (size_t n = 0; n < b->n_nodes; n++) {
		size_t i = pair_hash(b->nodes[n].c[0], b->nodes[n].c[1]) & (cap - 1);
		while (h[i] != 0)
			i = (i + 1) & (cap - 1);
		h[i] = (uint32_t)n + 1;
	}
	free(b->hc);
	b->hc = h;
	b->hc_cap = cap;
	return 0;
}

/* The node (l, r): an existing equal node, or the leaf itself when both
 * halves are the same leaf (the merge), or a new node. */
static int mk(build_t *b, uint32_t l, uint32_t r, uint32_t *out)
{
	if (l == r && REF_IS_LEAF(l)) {
		*out = l;
		return 0;
	}
	if (2 * (b->n_nodes + 1) > b->hc_cap && hc_rehash(b, b->hc_cap ? 2 * b->hc_cap : 1024))
		return build_oom(b);
	size_t mask = b->hc_cap - 1;
	size_t i = pair_hash(l, r) & mask;
	for (; b->hc[i] != 0; i = (i + 1) & mask) {
		const bnode_t *n = &b->nodes[b->hc[i] - 1];
		if (n->c[0] == l && n->c[1] == r) {
			*out = b->hc[i] - 1;
			return 0;
		}
	}
	if (b->n_nodes >= REF_LEAF - 1) {
		errf(b->err, b->errlen, "geo: prefix tree too large");
		return -1;
	}
	bnode_t *nodes = grow(b->nodes, &b->cap_nodes, b->n_nodes + 1, sizeof(*nodes));
	if (nodes == NULL)
		return build_oom(b);
	b->nodes = nodes;
	nodes[b->n_nodes] = (bnode_t){{l, r}};
	b->hc[i] = (uint32_t)b->n_nodes + 1;
	*out = (uint32_t)b->n_nodes++;
	return 0;
}

/* Make the subtree at addr/len be `ref` (path copying: nodes are shared). */
static int trie_set(build_t *b, uint32_t *root, const uint8_t addr[16], unsigned len, uint32_t ref)
{
	uint32_t path[128][2];
	uint32_t cur = *root;
	for (unsigned i = 0; i < len; i++) {
		if (REF_IS_LEAF(cur)) {
			path[i][0] = path[i][1] = cur;
		} else {
			path[i][0] = b->nodes[cur].c[0];
			path[i][1] = b->nodes[cur].c[1];
		}
		cur = path[i][addr_bit(addr, i)];
	}
	for (unsigned i = len; i-- > 0;) {
		path[i][addr_bit(addr, i)] = ref;
		if (mk(b, path[i][0], path[i][1], &ref) != 0)
			return -1;
	}
	*root = ref;
	return 0;
}

/* The subtree at addr/len; a leaf above it stands for it. */
static uint32_t trie_get(const build_t *b, uint32_t root, const uint8_t addr[16], unsigned len,
			 unsigned *depth)
{
	unsigned i = 0;
	for (; i < len && !REF_IS_LEAF(root); i++)
		root = b->nodes[root].c[addr_bit(addr, i)];
	*depth = i;
	return root;
}

/* ------------------------------------------------------------------------- */
/* the database walk */

static int rc_rehash(build_t *b, size_t cap)
{
	uint32_t *k = malloc(cap * sizeof(*k)), *v = malloc(cap * sizeof(*v));
	if (k == NULL || v == NULL) {
		free(k);
		free(v);
		return -1;
	}
	memset(k, 0xff, cap * sizeof(*k));
	for (size_t j = 0; j < b->rc_cap; j++) {
		if (b->rc_key[j] == MEMO_UNSET)
			continue;
		size_t i = mix64(b->rc_key[j]) & (cap - 1);
		while (k[i] != MEMO_UNSET)
			i = (i + 1) & (cap - 1);
		k[i] = b->rc_key[j];
		v[i] = b->rc_val[j];
	}
	free(b->rc_key);
	free(b->rc_val);
	b->rc_key = k;
	b->rc_val = v;
	b->rc_cap = cap;
	return 0;
}

/* The class of the data record at `offset`, decoding it the first time. */
static int record_class(build_t *b, uint32_t offset, uint32_t *cls)
{
	if (2 * (b->rc_len + 1) > b->rc_cap && rc_rehash(b, b->rc_cap ? 2 * b->rc_cap : 1024))
		return build_oom(b);
	size_t mask = b->rc_cap - 1;
	size_t i = mix64(offset) & mask;
	for (; b->rc_key[i] != MEMO_UNSET; i = (i + 1) & mask) {
		if (b->rc_key[i] == offset) {
			*cls = b->rc_val[i];
			return 0;
		}
	}
	geo_record_t rec;
	if (rec_decode(&b->db, offset, &rec, b->err, b->errlen) != 0)
		return -1;
	if (rec_useful(&rec))
		b->useful_records++;
	decision_t d;
	uint32_t c = rec_class(b->m, &rec, true, &d, b->err, b->errlen);
	if (c == NO_CLASS)
		return -1;
	b->rc_key[i] = offset;
	b->rc_val[i] = c;
	b->rc_len++;
	*cls = c;
	return 0;
}

typedef struct frame {
	uint32_t node;
	uint8_t side; /* 3: not read yet, 0: left next, 1: right next, 2: both done */
	uint8_t h[2];
	uint32_t ref[2];
	uint64_t rec[2];
} frame_t;

/* Resolve one record of the node on top of the stack. Returns 1 when a child
 * node was pushed (resolve again once it is done), 0 when resolved, -1. */
static int walk_record(build_t *b, frame_t *stack, unsigned *sp, unsigned maxdepth)
{
	frame_t *f = &stack[*sp - 1];
	unsigned depth = *sp - 1; /* of f->node; its records are at depth + 1 */
	uint64_t r = f->rec[f->side];
	uint32_t nc = b->db.metadata.node_count;
	const char *file = b->db.filename;

	if (r < nc) {
		uint32_t child = (uint32_t)r;
		uint32_t mv = b->memo[child];
		if (mv == MEMO_BUSY) {
			errf(b->err, b->errlen,
			     "geo: %s: search tree loops (node %u points to node %u)", file,
			     f->node, child);
			return -1;
		}
		if (mv == MEMO_UNSET) {
			if (depth + 1 >= maxdepth) {
				errf(b->err, b->errlen,
				     "geo: %s: search tree deeper than %u bits at node %u", file,
				     maxdepth, child);
				return -1;
			}
			b->memo[child] = MEMO_BUSY;
			stack[*sp] = (frame_t){.node = child, .side = 3};
			(*sp)++;
			return 1;
		}
		/* a shared node (an alias): it must still end within the address */
		if (depth + 1 + b->height[child] > maxdepth) {
			errf(b->err, b->errlen,
			     "geo: %s: search tree deeper than %u bits at node %u", file, maxdepth,
			     child);
			return -1;
		}
		f->ref[f->side] = mv;
		f->h[f->side] = b->height[child];
	} else if (r == nc) {
		f->ref[f->side] = REF_LEAF | b->m->default_cls; /* no data */
		f->h[f->side] = 0;
	} else if (r - nc >= 16 && r - nc - 16 < b->db.data_section_size) {
		uint32_t cls;
		if (record_class(b, (uint32_t)(r - nc - 16), &cls) != 0)
			return -1;
		f->ref[f->side] = REF_LEAF | cls;
		f->h[f->side] = 0;
	} else {
		errf(b->err, b->errlen,
		     "geo: %s: search tree node %u points outside the data section (record %llu)",
		     file, f->node, (unsigned long long)r);
		return -1;
	}
	f->side++;
	return 0;
}

/* Compile the database's whole search tree; *root gets its reference. */
static int walk_db(build_t *b, uint32_t *root)
{
	uint32_t nc = b->db.metadata.node_count;
	unsigned maxdepth = b->db.metadata.ip_version == 4 ? 32 : 128;
	frame_t stack[129];
	unsigned sp = 0;

	b->memo = malloc((size_t)nc * sizeof(*b->memo));
	b->height = malloc(nc);
	if (b->memo == NULL || b->height == NULL)
		return build_oom(b);
	memset(b->memo, 0xff, (size_t)nc * sizeof(*b->memo));
	b->memo[0] = MEMO_BUSY;
	stack[sp++] = (frame_t){.node = 0, .side = 3};
	while (sp > 0) {
		frame_t *f = &stack[sp - 1];
		if (f->side == 3) {
			MMDB_search_node_s sn;
			int rc = MMDB_read_node(&b->db, f->node, &sn);
			if (rc != MMDB_SUCCESS) {
				errf(b->err, b->errlen, "geo: %s: search tree node %u: %s",
				     b->db.filename, f->node, MMDB_strerror(rc));
				return -1;
			}
			f->rec[0] = sn.left_record;
			f->rec[1] = sn.right_record;
			f->side = 0;
		}
		if (f->side < 2) {
			if (walk_record(b, stack, &sp, maxdepth) < 0)
				return -1;
			continue;
		}
		uint32_t ref;
		if (mk(b, f->ref[0], f->ref[1], &ref) != 0)
			return -1;
		b->memo[f->node] = ref;
		b->height[f->node] = (uint8_t)(1 + (f->h[0] > f->h[1] ? f->h[0] : f->h[1]));
		sp--;
	}
	*root = b->memo[0];
	return 0;
}

static int open_db(build_t *b, const char *path)
{
	geo_map_t *m = b->m;
	int rc = MMDB_open(path, MMDB_MODE_MMAP, &b->db);
	if (rc != MMDB_SUCCESS) {
		if (rc == MMDB_IO_ERROR || rc == MMDB_FILE_OPEN_ERROR)
			errf(b->err, b->errlen, "geo: %s: %s (%s)", path, MMDB_strerror(rc),
			     strerror(errno));
		else
			errf(b->err, b->errlen, "geo: %s: %s", path, MMDB_strerror(rc));
		return -1;
	}
	b->db_open = true;
	const MMDB_metadata_s *md = &b->db.metadata;
	if ((md->ip_version != 4 && md->ip_version != 6) || md->node_count == 0) {
		errf(b->err, b->errlen, "geo: %s: unusable metadata (ip_version %u, %u nodes)",
		     path, md->ip_version, md->node_count);
		return -1;
	}
	struct stat st;
	if (stat(path, &st) == 0) {
		m->db_size = st.st_size;
		m->db_mtime = st.st_mtim;
	}
	m->db_path = strdup(path);
	if (m->db_path == NULL)
		return build_oom(b);
	m->db_build_epoch = md->build_epoch;
	m->db_node_count = md->node_count;
	return 0;
}

/* ------------------------------------------------------------------------- */
/* packing into blocks */

typedef struct pack {
	build_t *b;
	uint32_t *table;
	size_t cap_entries;
	uint32_t n_blocks;
	uint32_t *block_of; /* binary node -> block, MEMO_UNSET */
	uint32_t *pending;     /* binary nodes whose blocks are to be filled */
	size_t n_pending, cap_pending;
} pack_t;

static int block_get(pack_t *p, uint32_t node, uint32_t *blk)
{
	if (p->block_of[node] != MEMO_UNSET) {
		*blk = p->block_of[node];
		return 0;
	}
	if (p->n_blocks >= (REF_LEAF >> GEO_STRIDE)) {
		errf(p->b->err, p->b->errlen, "geo: prefix tree too large");
		return -1;
	}
	size_t need = ((size_t)p->n_blocks + 1) * BLOCK_ENTRIES;
	uint32_t *t = grow(p->table, &p->cap_entries, need, sizeof(*t));
	if (t == NULL)
		return build_oom(p->b);
	p->table = t;
	uint32_t *pending = grow(p->pending, &p->cap_pending, p->n_pending + 1, sizeof(*pending));
	if (pending == NULL)
		return build_oom(p->b);
	p->pending = pending;
	pending[p->n_pending++] = node;
	*blk = p->block_of[node] = p->n_blocks++;
	return 0;
}

/* Fill the 2^(width - k) entries from `lo` with the subtree `ref`, which is k
 * bits below the root of what is being filled: block `blk` (top == NULL,
 * width GEO_STRIDE) or a top table (width TOP_BITS, leaf depths absolute from
 * `base`). Recursion is at most `width` deep. */
static int fill(pack_t *p, uint32_t *top, uint32_t blk, unsigned width, unsigned base, uint32_t ref,
		unsigned k, uint32_t lo)
{
	if (REF_IS_LEAF(ref)) {
		uint32_t e = ENT_MAKE_LEAF(REF_CLASS(ref), base + k);
		uint32_t *t = top ? top : p->table + (size_t)blk * BLOCK_ENTRIES;
		for (uint32_t j = 0; j < (1u << (width - k)); j++)
			t[lo + j] = e;
		return 0;
	}
	if (k == width) {
		uint32_t child;
		if (block_get(p, ref, &child) != 0)
			return -1;
		/* block_get() may have moved p->table */
		uint32_t *t = top ? top : p->table + (size_t)blk * BLOCK_ENTRIES;
		t[lo] = child;
		return 0;
	}
	const bnode_t *n = &p->b->nodes[ref];
	uint32_t c0 = n->c[0], c1 = n->c[1];
	if (fill(p, top, blk, width, base, c0, k + 1, lo) != 0)
		return -1;
	return fill(p, top, blk, width, base, c1, k + 1, lo + (1u << (width - k - 1)));
}

static int pack(build_t *b, uint32_t root)
{
	geo_map_t *m = b->m;
	pack_t p = {.b = b};
	int ret = -1;
	static const uint8_t v4[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	size_t nb = b->n_nodes ? b->n_nodes : 1;

	p.block_of = malloc(nb * sizeof(*p.block_of));
	m->top = malloc(2 * TOP_ENTRIES * sizeof(*m->top));
	if (p.block_of == NULL || m->top == NULL) {
		build_oom(b);
		goto fail;
	}
	memset(p.block_of, 0xff, nb * sizeof(*p.block_of));
	m->v4_top = m->top + TOP_ENTRIES;
	if (fill(&p, m->top, 0, TOP_BITS, 0, root, 0, 0) != 0)
		goto fail;
	unsigned d;
	uint32_t v4ref = trie_get(b, root, v4, 96, &d);
	if (d < 96) {
		/* IPv4 lies inside a leaf above ::ffff:0:0/96 */
		for (uint32_t j = 0; j < TOP_ENTRIES; j++)
			m->v4_top[j] = ENT_MAKE_LEAF(REF_CLASS(v4ref), d);
	} else if (fill(&p, m->v4_top, 0, TOP_BITS, 96, v4ref, 0, 0) != 0) {
		goto fail;
	}
	while (p.n_pending > 0) {
		uint32_t node = p.pending[--p.n_pending];
		if (fill(&p, NULL, p.block_of[node], GEO_STRIDE, 0, node, 0, 0) != 0)
			goto fail;
	}
	/* one block per cache line (64 bytes at stride 4): a step of the walk
	 * costs at most one miss */
	size_t bytes = (size_t)p.n_blocks * BLOCK_ENTRIES * sizeof(uint32_t);
	m->table_mem = aligned_alloc(64, bytes ? (bytes + 63) / 64 * 64 : 64);
	if (m->table_mem == NULL) {
		build_oom(b);
		goto fail;
	}
	if (bytes > 0)
		memcpy(m->table_mem, p.table, bytes);
	m->table = m->table_mem;
	m->n_blocks = p.n_blocks;
	ret = 0;
fail:
	free(p.table);
	free(p.block_of);
	free(p.pending);
	return ret;
}

/* ------------------------------------------------------------------------- */
/* compile */

geo_map_t *geo_map_compile(const geo_spec_t *spec, char *err, size_t errlen)
{
	build_t b = {.err = err, .errlen = errlen};
	geo_map_t *ret = NULL, *m = calloc(1, sizeof(*m));
	static const uint8_t v4[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	static const uint8_t zero[16] = {0};

	if (m == NULL) {
		errf(err, errlen, "geo: out of memory");
		return NULL;
	}
	b.m = m;
	if (load_spec(m, spec, err, errlen) != 0)
		goto fail;

	uint32_t root = REF_LEAF | m->default_cls;
	if (spec->db_path != NULL) {
		if (open_db(&b, spec->db_path) != 0)
			goto fail;
		uint32_t dbroot;
		if (walk_db(&b, &dbroot) != 0)
			goto fail;
		if (b.useful_records == 0) {
			errf(err, errlen,
			     "geo: %s: no record has a continent, country or location: not a "
			     "GeoIP2/GeoLite2 City or Country database (type '%s')",
			     spec->db_path, b.db.metadata.database_type);
			goto fail;
		}
		m->db_records = (uint32_t)b.rc_len;
		uint32_t v4root = dbroot;
		if (b.db.metadata.ip_version == 6) {
			/* libmaxminddb answers AF_INET from ::/96; do the same for
			 * ::ffff:a.b.c.d whether or not the file aliases it */
			unsigned d;
			root = dbroot;
			v4root = trie_get(&b, dbroot, zero, 96, &d);
		}
		if (trie_set(&b, &root, v4, 96, v4root) != 0)
			goto fail;
	}
	for (size_t i = 0; i < m->n_nets; i++) {
		const map_net_t *n = &m->nets[i];
		if (trie_set(&b, &root, n->addr, n->prefix, REF_LEAF | n->cls) != 0)
			goto fail;
	}
	m->trie_nodes = (uint32_t)b.n_nodes;
	if (pack(&b, root) != 0)
		goto fail;
	ret = m;
	m = NULL;
fail:
	if (b.db_open)
		MMDB_close(&b.db);
	free(b.nodes);
	free(b.hc);
	free(b.memo);
	free(b.height);
	free(b.rc_key);
	free(b.rc_val);
	geo_map_free(m);
	return ret;
}

void geo_map_free(geo_map_t *m)
{
	if (m == NULL)
		return;
	free(m->table_mem);
	free(m->top);
	free(m->classes);
	free(m->sites_pool);
	free(m->class_hash);
	for (unsigned i = 0; m->sites != NULL && i < m->n_sites; i++)
		free(m->sites[i].name);
	free(m->sites);
	free(m->rules);
	free(m->nets);
	free(m->db_path);
	free(m);
}

/* ------------------------------------------------------------------------- */
/* lookup */

#if GEO_STRIDE == 8
#define CHUNK(p, d) ((p)[(d) >> 3])
#else
#define CHUNK(p, d) (((p)[(d) >> 3] >> (8 - GEO_STRIDE - ((d)&7))) & (BLOCK_ENTRIES - 1))
#endif

uint32_t geo_lookup(const geo_map_t *m, const uint8_t addr[16], unsigned source_bits,
		    unsigned *scope_bits)
{
	uint8_t masked[16];
	const uint8_t *p = addr;
	if (source_bits < 128) {
		addr_mask(masked, addr, source_bits);
		p = masked;
	} else {
		source_bits = 128;
	}
	uint32_t e;
	unsigned depth, scope;
	if (geo_addr_is_v4(p)) {
		e = m->v4_top[(unsigned)p[12] << 8 | p[13]];
		depth = 96 + TOP_BITS;
	} else {
		e = m->top[(unsigned)p[0] << 8 | p[1]];
		depth = TOP_BITS;
	}
	if (e & ENT_LEAF) {
		scope = ENT_DEPTH(e);
	} else {
		const uint32_t *t = m->table;
		/* the compiler checked that every path ends by bit 128 */
		for (;;) {
			e = t[((size_t)e << GEO_STRIDE) | CHUNK(p, depth)];
			if (e & ENT_LEAF)
				break;
			depth += GEO_STRIDE;
		}
		scope = depth + ENT_DEPTH(e);
	}
	if (scope_bits != NULL)
		*scope_bits = scope < source_bits ? scope : source_bits;
	return ENT_CLASS(e);
}

uint32_t geo_class_count(const geo_map_t *m)
{
	return m->n_classes;
}

const uint16_t *geo_class_sites(const geo_map_t *m, uint32_t cls, unsigned *n)
{
	if (cls >= m->n_classes) {
		*n = 0;
		return NULL;
	}
	*n = m->classes[cls].n;
	return m->sites_pool + m->classes[cls].off;
}

const char *geo_site_name(const geo_map_t *m, unsigned id)
{
	return id < m->n_sites ? m->sites[id].name : NULL;
}

void geo_map_info(const geo_map_t *m, geo_map_info_t *out)
{
	memset(out, 0, sizeof(*out));
	out->table_bytes =
	    ((size_t)m->n_blocks * BLOCK_ENTRIES + 2 * TOP_ENTRIES) * sizeof(uint32_t);
	out->total_bytes = sizeof(*m) + out->table_bytes + m->cap_classes * sizeof(*m->classes) +
			   m->pool_cap * sizeof(*m->sites_pool) +
			   m->class_hash_cap * sizeof(*m->class_hash) +
			   m->n_sites * sizeof(*m->sites) + m->n_rules * sizeof(*m->rules) +
			   m->n_nets * sizeof(*m->nets);
	for (unsigned i = 0; i < m->n_sites; i++)
		out->total_bytes += strlen(m->sites[i].name) + 1;
	out->blocks = m->n_blocks;
	out->classes = m->n_classes;
	out->trie_nodes = m->trie_nodes;
	out->db_nodes = m->db_node_count;
	out->db_records = m->db_records;
	out->stride = GEO_STRIDE;
}

/* ------------------------------------------------------------------------- */
/* explain */

int geo_explain(const geo_map_t *m, const uint8_t addr[16], unsigned source_bits, geo_explain_t *ex,
		char *err, size_t errlen)
{
	memset(ex, 0, sizeof(*ex));
	if (source_bits > 128)
		source_bits = 128;
	uint8_t *a = ex->addr;
	addr_mask(a, addr, source_bits);
	ex->cls = geo_lookup(m, a, source_bits, &ex->scope);
	addr_mask(ex->prefix, a, ex->scope);

	/* nets are sorted least specific first: the last match is the winner */
	const map_net_t *net = NULL;
	for (size_t i = 0; i < m->n_nets; i++) {
		if (prefix_contains(m->nets[i].addr, m->nets[i].prefix, a))
			net = &m->nets[i];
	}
	if (net != NULL) {
		ex->source = GEO_SRC_NET;
		ex->line = net->line;
		return 0;
	}
	ex->source = GEO_SRC_DEFAULT;
	if (m->db_path == NULL)
		return 0;

	MMDB_s db;
	int rc = MMDB_open(m->db_path, MMDB_MODE_MMAP, &db);
	if (rc != MMDB_SUCCESS) {
		errf(err, errlen, "geo: %s: %s", m->db_path, MMDB_strerror(rc));
		return -1;
	}
	int ret = -1;
	struct stat st;
	ex->db_used = true;
	ex->db_changed = stat(m->db_path, &st) != 0 || st.st_size != m->db_size ||
			 st.st_mtim.tv_sec != m->db_mtime.tv_sec ||
			 st.st_mtim.tv_nsec != m->db_mtime.tv_nsec ||
			 db.metadata.build_epoch != m->db_build_epoch ||
			 db.metadata.node_count != m->db_node_count;

	/* the same subtree the compiler used: AF_INET for ::ffff:a.b.c.d */
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	bool v4 = geo_addr_is_v4(a);
	if (v4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, a + 12, 4);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, a, 16);
	}
	MMDB_lookup_result_s res = MMDB_lookup_sockaddr(&db, (struct sockaddr *)&ss, &rc);
	if (rc == MMDB_IPV6_LOOKUP_IN_IPV4_DATABASE_ERROR) {
		ret = 0; /* an IPv4 database knows nothing of IPv6: default */
		goto fail;
	}
	if (rc != MMDB_SUCCESS) {
		errf(err, errlen, "geo: %s: lookup: %s", m->db_path, MMDB_strerror(rc));
		goto fail;
	}
	ex->db_prefix = res.netmask + (db.metadata.ip_version == 4 ? 96u : 0u);
	if (res.found_entry) {
		if (rec_decode(&db, res.entry.offset, &ex->rec, err, errlen) != 0)
			goto fail;
		ex->db_found = true;
		decision_t d;
		/* const is cast away only to share rec_class(); with add false it
		 * does not write */
		uint32_t c = rec_class((geo_map_t *)m, &ex->rec, false, &d, NULL, 0);
		ex->source = d.source;
		ex->line = d.line;
		ex->rule_match = d.match;
		if (c != ex->cls)
			ex->db_changed = true;
	}
	ret = 0;
fail:
	MMDB_close(&db);
	return ret;
}

static const char *match_name(geo_match_t m)
{
	switch (m) {
	case GEO_MATCH_CONTINENT:
		return "continent";
	case GEO_MATCH_COUNTRY:
		return "country";
	case GEO_MATCH_SUBDIVISION:
		return "subdivision";
	}
	return "?";
}

int geo_explain_format(const geo_map_t *m, const geo_explain_t *ex, char *buf, size_t len)
{
	char pfx[64];
	size_t off = 0;
	int total = 0;
#define OUT(...)                                                                                   \
	do {                                                                                       \
		int n_ = snprintf(buf + off, len > off ? len - off : 0, __VA_ARGS__);              \
		if (n_ > 0) {                                                                      \
			total += n_;                                                               \
			off = (size_t)total < len ? (size_t)total : len;                           \
		}                                                                                  \
	} while (0)
	if (len > 0)
		buf[0] = '\0';
	geo_prefix_format(ex->prefix, ex->scope, pfx, sizeof(pfx));
	OUT("prefix %s", pfx);
	switch (ex->source) {
	case GEO_SRC_NET:
		OUT(" decided by net (line %u)", ex->line);
		break;
	case GEO_SRC_RULE:
		OUT(" decided by %s rule (line %u)", match_name(ex->rule_match), ex->line);
		break;
	case GEO_SRC_NEAREST:
		OUT(" decided by nearest site");
		break;
	case GEO_SRC_DEFAULT:
		OUT(" decided by default order");
		break;
	}
	unsigned n;
	const uint16_t *ids = geo_class_sites(m, ex->cls, &n);
	OUT("; class %u:", ex->cls);
	for (unsigned i = 0; i < n; i++)
		OUT(" %s", m->sites[ids[i]].name);
	if (ex->db_used && !ex->db_found)
		OUT("; database: no record");
	if (ex->db_found) {
		const geo_record_t *r = &ex->rec;
		uint8_t dbp[16];
		addr_mask(dbp, ex->addr, ex->db_prefix);
		geo_prefix_format(dbp, ex->db_prefix, pfx, sizeof(pfx));
		OUT("; database: continent %s country %s%s", r->continent[0] ? r->continent : "-",
		    r->country[0] ? r->country : "-",
		    r->country_is_registered ? " (registered)" : "");
		for (unsigned i = 0; i < r->n_subdivisions; i++)
			OUT("%s%s", i ? "," : " subdivisions ", r->subdivisions[i]);
		if (r->has_location)
			OUT(" location %.4f,%.4f", r->lat, r->lon);
		OUT(" (database prefix %s)", pfx);
	}
	if (ex->db_changed)
		OUT("; the database file changed since it was loaded");
#undef OUT
	return total;
}

/* ------------------------------------------------------------------------- */
/* addresses */

int geo_parse_prefix(const char *text, uint8_t addr[16], unsigned *prefix, char *err, size_t errlen)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(text, '/');
	size_t alen = slash ? (size_t)(slash - text) : strlen(text);
	if (alen == 0 || alen >= sizeof(buf)) {
		errf(err, errlen, "'%s' is not an address or prefix", text);
		return -1;
	}
	memcpy(buf, text, alen);
	buf[alen] = '\0';
	unsigned max, base;
	uint8_t a[16];
	if (inet_pton(AF_INET, buf, a + 12) == 1) {
		geo_addr_from_v4(a, a + 12);
		max = 32;
		base = 96;
	} else if (inet_pton(AF_INET6, buf, a) == 1) {
		max = 128;
		base = 0;
	} else {
		errf(err, errlen, "'%s' is not an address or prefix", text);
		return -1;
	}
	unsigned len = max;
	if (slash != NULL) {
		const char *s = slash + 1;
		char *end;
		errno = 0;
		unsigned long v = strtoul(s, &end, 10);
		if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 || v > max) {
			errf(err, errlen, "'%s': prefix length must be 0..%u", text, max);
			return -1;
		}
		len = (unsigned)v;
	}
	if (!prefix_contains(a, base + len, a)) {
		errf(err, errlen, "'%s' has bits set beyond /%u", text, len);
		return -1;
	}
	memcpy(addr, a, 16);
	*prefix = base + len;
	return 0;
}

void geo_prefix_format(const uint8_t addr[16], unsigned prefix, char *buf, size_t len)
{
	char txt[INET6_ADDRSTRLEN];
	if (geo_addr_is_v4(addr) && prefix >= 96) {
		inet_ntop(AF_INET, addr + 12, txt, sizeof(txt));
		snprintf(buf, len, "%s/%u", txt, prefix - 96);
	} else {
		inet_ntop(AF_INET6, addr, txt, sizeof(txt));
		snprintf(buf, len, "%s/%u", txt, prefix);
	}
}

int geo_addr_from_sockaddr(const struct sockaddr *sa, uint8_t out[16])
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)sa;
		geo_addr_from_v4(out, (const uint8_t *)&sin->sin_addr);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)sa;
		memcpy(out, &sin6->sin6_addr, 16);
		return 0;
	}
	return -1;
}
