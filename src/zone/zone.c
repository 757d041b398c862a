/* zone.c -- load RFC 1035 master files with ldns into immutable, answer-ready zone data. */
#include "config.h"
#include "zone/zone.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "core/log.h"
#include "wire/wire.h"

struct zoneset {
	zone_t **zones;
	size_t n;
	/* Apex names hashed like owner names, for zoneset_find(). */
	zone_t **table;
	size_t table_mask;
};

/* FNV-1a: the keys are our own zone's names (a query can only look them
 * up, not insert), so a simple fast hash is enough. */
static uint32_t name_hash(const uint8_t *name, unsigned len)
{
	uint32_t h = 2166136261u;
	for (unsigned i = 0; i < len; i++) {
		h ^= name[i];
		h *= 16777619u;
	}
	return h;
}

const zone_node_t *zone_lookup(const zone_t *z, const uint8_t *name, unsigned len)
{
	const zone_node_t *n = z->table[name_hash(name, len) & z->table_mask];
	for (; n; n = n->hnext)
		if (n->name_len == len && memcmp(n->name, name, len) == 0)
			return n;
	return NULL;
}

const zone_rrset_t *zone_node_rrset(const zone_node_t *n, uint16_t type)
{
	for (unsigned i = 0; i < n->n_rrsets; i++)
		if (n->rrsets[i].type == type)
			return &n->rrsets[i];
	return NULL;
}

const zone_t *zoneset_find(const zoneset_t *zs, const uint8_t *name, const uint8_t *label_off,
			   unsigned labels)
{
	unsigned len = wire_name_len(name);
	/* From the full name up: the first apex found is the longest one. */
	for (unsigned i = 0; i <= labels; i++) {
		const uint8_t *s = name + label_off[i];
		unsigned slen = len - label_off[i];
		for (size_t k = name_hash(s, slen) & zs->table_mask;; k = (k + 1) & zs->table_mask) {
			zone_t *z = zs->table[k];
			if (!z)
				break;
			if (z->apex_len == slen && memcmp(z->apex_name, s, slen) == 0)
				return z;
		}
	}
	return NULL;
}

size_t zoneset_count(const zoneset_t *zs)
{
	return zs->n;
}

const zone_t *zoneset_zone(const zoneset_t *zs, size_t i)
{
	return i < zs->n ? zs->zones[i] : NULL;
}

/* ---- building one zone ---------------------------------------------------- */

typedef struct zbuild {
	zone_t *z;
	const char *file;
	conf_errs_t *e;
	int errors;
	/* growable owner table while building */
	zone_node_t **table;
	size_t mask;
	size_t count;
} zbuild_t;

typedef struct zrec {
	zone_node_t *node;
	uint16_t type;
	uint32_t ttl;
	int line;
	size_t idx; /* order in the file: RRs keep it inside their RRset */
	ldns_rr *rr;
} zrec_t;

static void zb_err(zbuild_t *b, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void zb_err(zbuild_t *b, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	conf_err_raw(b->e, "%s:%d: %s", b->file, line, msg);
	b->errors++;
}

static int zb_grow(zbuild_t *b)
{
	size_t nsize = (b->mask + 1) * 2;
	zone_node_t **nt = calloc(nsize, sizeof(*nt));
	if (!nt)
		return -1;
	for (size_t i = 0; i <= b->mask; i++) {
		zone_node_t *n = b->table[i];
		while (n) {
			zone_node_t *next = (zone_node_t *)n->hnext;
			size_t h = name_hash(n->name, n->name_len) & (nsize - 1);
			n->hnext = nt[h];
			nt[h] = n;
			n = next;
		}
	}
	free(b->table);
	b->table = nt;
	b->mask = nsize - 1;
	return 0;
}

/* The node for `name` (lower-case wire, at or below the apex), created with
 * its missing ancestors (the empty non-terminals of RFC 4592 §2.2.2). */
static zone_node_t *zb_node(zbuild_t *b, const uint8_t *name)
{
	unsigned len = wire_name_len(name);
	size_t h = name_hash(name, len) & b->mask;
	for (zone_node_t *n = b->table[h]; n; n = (zone_node_t *)n->hnext)
		if (n->name_len == len && memcmp(n->name, name, len) == 0)
			return n;
	zone_node_t *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->name = malloc(len);
	if (!n->name) {
		free(n);
		return NULL;
	}
	memcpy(n->name, name, len);
	n->name_len = (uint8_t)len;
	n->labels = (uint8_t)wire_name_labels(name);
	n->zone = b->z;
	n->hnext = b->table[h];
	b->table[h] = n;
	b->count++;
	if (n->labels > b->z->apex_labels) {
		n->parent = zb_node(b, name + 1 + name[0]);
		if (!n->parent)
			return NULL; /* n stays in the table and is freed with it */
	}
	if (b->count * 4 > (b->mask + 1) * 3 && zb_grow(b) < 0)
		return NULL;
	return n;
}

static int zrec_cmp(const void *pa, const void *pb)
{
	const zrec_t *a = pa, *b = pb;
	if (a->node != b->node)
		return a->node < b->node ? -1 : 1;
	if (a->type != b->type)
		return a->type < b->type ? -1 : 1;
	return a->idx < b->idx ? -1 : (a->idx > b->idx);
}

static char *rdf_text(const ldns_rdf *r)
{
	char *s = ldns_rdf2str(r);
	return s ? s : strdup("?");
}

/* Build the wire blob of one RRset from recs[0..n) (same node and type). */
static int zb_rrset(zbuild_t *b, zone_rrset_t *set, zrec_t *recs, size_t n)
{
	ldns_buffer *buf = ldns_buffer_new(512);
	if (!buf)
		return -1;
	set->type = recs[0].type;
	set->ttl = recs[0].ttl;
	set->count = 0;
	size_t *starts = calloc(n, sizeof(*starts));
	if (!starts) {
		ldns_buffer_free(buf);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (recs[i].ttl != set->ttl)
			log_warn("%s:%d: TTL %u differs from the RRset's %u, using %u (RFC 2181 §5.2)",
				 b->file, recs[i].line, recs[i].ttl, set->ttl, set->ttl);
		size_t start = ldns_buffer_position(buf);
		ldns_buffer_write_u16(buf, set->type);
		ldns_buffer_write_u16(buf, WIRE_C_IN);
		ldns_buffer_write_u32(buf, set->ttl);
		size_t rdlen_at = ldns_buffer_position(buf);
		ldns_buffer_write_u16(buf, 0);
		if (ldns_rr_rdata2buffer_wire(buf, recs[i].rr) != LDNS_STATUS_OK ||
		    !ldns_buffer_status_ok(buf)) {
			zb_err(b, recs[i].line, "cannot convert record to wire format");
			break;
		}
		size_t rdlen = ldns_buffer_position(buf) - rdlen_at - 2;
		if (rdlen > 65535) {
			zb_err(b, recs[i].line, "record data longer than 65535 bytes");
			break;
		}
		ldns_buffer_write_u16_at(buf, rdlen_at, (uint16_t)rdlen);
		/* RFC 2181 §5: an RRset has no duplicates; drop identical RRs. */
		bool dup = false;
		for (size_t k = 0; k < set->count && !dup; k++) {
			size_t klen = (k + 1 < set->count ? starts[k + 1] : start) - starts[k];
			dup = klen == ldns_buffer_position(buf) - start &&
			      memcmp(ldns_buffer_at(buf, starts[k]), ldns_buffer_at(buf, start),
				     klen) == 0;
		}
		if (dup) {
			ldns_buffer_set_position(buf, start);
			continue;
		}
		starts[set->count++] = start;
	}
	free(starts);
	set->wire_len = (uint32_t)ldns_buffer_position(buf);
	set->wire = malloc(set->wire_len ? set->wire_len : 1);
	if (!set->wire) {
		ldns_buffer_free(buf);
		return -1;
	}
	memcpy(set->wire, ldns_buffer_begin(buf), set->wire_len);
	ldns_buffer_free(buf);
	return 0;
}

/* Read every RR of the file. Directives ($ORIGIN, $TTL) are handled by ldns. */
static int zb_read(zbuild_t *b, FILE *fp, ldns_rdf *origin, zrec_t **out, size_t *nout,
		   int *last_line)
{
	ldns_rdf *cur_origin = ldns_rdf_clone(origin);
	ldns_rdf *prev = ldns_rdf_clone(origin);
	uint32_t default_ttl = 3600;
	/* ldns counts the newline that ends a record: starting from 0, `line`
	 * is the record's (last) line once it has been read. */
	int line = 0;
	size_t cap = 64, n = 0;
	zrec_t *recs = malloc(cap * sizeof(*recs));
	if (!recs || !cur_origin || !prev)
		goto fail;
	while (!feof(fp)) {
		ldns_rr *rr = NULL;
		ldns_status s = ldns_rr_new_frm_fp_l(&rr, fp, &default_ttl, &cur_origin, &prev, &line);
		switch (s) {
		case LDNS_STATUS_OK:
			break;
		case LDNS_STATUS_SYNTAX_EMPTY:
		case LDNS_STATUS_SYNTAX_TTL:
		case LDNS_STATUS_SYNTAX_ORIGIN:
			continue;
		case LDNS_STATUS_SYNTAX_INCLUDE:
			zb_err(b, line, "$INCLUDE is not supported");
			continue;
		default:
			zb_err(b, line, "%s", ldns_get_errorstr_by_id(s));
			continue;
		}
		if (n == cap) {
			zrec_t *nr = realloc(recs, 2 * cap * sizeof(*recs));
			if (!nr) {
				ldns_rr_free(rr);
				goto fail;
			}
			recs = nr;
			cap *= 2;
		}
		recs[n].rr = rr;
		recs[n].line = line;
		recs[n].idx = n;
		recs[n].type = ldns_rr_get_type(rr);
		recs[n].ttl = ldns_rr_ttl(rr);
		recs[n].node = NULL;
		n++;
	}
	ldns_rdf_deep_free(cur_origin);
	ldns_rdf_deep_free(prev);
	*out = recs;
	*nout = n;
	*last_line = line;
	return 0;
fail:
	for (size_t i = 0; i < n; i++)
		ldns_rr_free(recs[i].rr);
	free(recs);
	ldns_rdf_deep_free(cur_origin);
	ldns_rdf_deep_free(prev);
	return -1;
}

/* The target name of NS / MX / SRV data, for the additional section. */
static const ldns_rdf *rr_target(const ldns_rr *rr)
{
	switch (ldns_rr_get_type(rr)) {
	case LDNS_RR_TYPE_NS:
		return ldns_rr_rdf(rr, 0);
	case LDNS_RR_TYPE_MX:
		return ldns_rr_rdf(rr, 1);
	case LDNS_RR_TYPE_SRV:
		return ldns_rr_rdf(rr, 3);
	default:
		return NULL;
	}
}

/* Resolve the additional-section targets of one RRset to nodes of this zone
 * that hold A or AAAA (glue included: nodes below a cut count too). */
static int zb_targets(zbuild_t *b, zone_rrset_t *set, zrec_t *recs, size_t n)
{
	if (set->type != WIRE_T_NS && set->type != WIRE_T_MX && set->type != WIRE_T_SRV)
		return 0;
	set->targets = calloc(n, sizeof(*set->targets));
	if (!set->targets)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const ldns_rdf *t = rr_target(recs[i].rr);
		if (!t || ldns_rdf_size(t) > WIRE_NAME_MAX)
			continue;
		uint8_t lc[WIRE_NAME_MAX];
		wire_name_lower(ldns_rdf_data(t), lc);
		unsigned len = (unsigned)ldns_rdf_size(t);
		const zone_node_t *tn = NULL;
		size_t h = name_hash(lc, len) & b->mask;
		for (zone_node_t *c = b->table[h]; c; c = (zone_node_t *)c->hnext)
			if (c->name_len == len && memcmp(c->name, lc, len) == 0)
				tn = c;
		if (!tn || (!zone_node_rrset(tn, WIRE_T_A) && !zone_node_rrset(tn, WIRE_T_AAAA)))
			continue;
		bool seen = false;
		for (unsigned k = 0; k < set->n_targets; k++)
			seen |= set->targets[k] == tn;
		if (!seen)
			set->targets[set->n_targets++] = tn;
	}
	return 0;
}

static void node_free(zone_node_t *n)
{
	for (unsigned i = 0; i < n->n_rrsets; i++) {
		free(n->rrsets[i].wire);
		free(n->rrsets[i].targets);
	}
	free(n->rrsets);
	free(n->name);
	free(n);
}

static void zone_free(zone_t *z)
{
	if (!z)
		return;
	if (z->table) {
		for (size_t i = 0; i <= z->table_mask; i++) {
			zone_node_t *n = (zone_node_t *)z->table[i];
			while (n) {
				zone_node_t *next = (zone_node_t *)n->hnext;
				node_free(n);
				n = next;
			}
		}
		free(z->table);
	}
	free(z->neg_soa.wire);
	free(z->name_text);
	free(z->file);
	free(z->apex_name);
	free(z);
}

static zone_t *zone_load(const char *name, const char *file, conf_errs_t *e)
{
	zbuild_t b = {.file = file, .e = e};
	zrec_t *recs = NULL;
	size_t nrecs = 0;
	int last_line = 0;
	FILE *fp = NULL;
	ldns_rdf *origin = NULL;
	zone_t *z = calloc(1, sizeof(*z));
	if (!z)
		goto fail;
	z->file = strdup(file);
	if (ldns_str2rdf_dname(&origin, name) != LDNS_STATUS_OK || ldns_rdf_size(origin) > 255) {
		conf_err_raw(e, "%s: bad zone name '%s'", file, name);
		goto fail;
	}
	ldns_dname2canonical(origin);
	z->apex_len = (uint8_t)ldns_rdf_size(origin);
	z->apex_name = malloc(z->apex_len);
	char *ntext = ldns_rdf2str(origin);
	if (!z->apex_name || !ntext || !z->file) {
		free(ntext);
		goto fail;
	}
	size_t tl = strlen(ntext);
	if (tl > 1 && ntext[tl - 1] == '.')
		ntext[tl - 1] = '\0';
	z->name_text = ntext;
	memcpy(z->apex_name, ldns_rdf_data(origin), z->apex_len);
	z->apex_labels = (uint8_t)wire_name_labels(z->apex_name);

	fp = fopen(file, "r");
	if (!fp) {
		conf_err_raw(e, "%s: cannot open zone file: %s", file, strerror(errno));
		goto fail;
	}
	b.z = z;
	b.mask = 255;
	b.table = calloc(b.mask + 1, sizeof(*b.table));
	if (!b.table || zb_read(&b, fp, origin, &recs, &nrecs, &last_line) < 0)
		goto fail;
	fclose(fp);
	fp = NULL;

	zone_node_t *apex = zb_node(&b, z->apex_name);
	if (!apex)
		goto fail;
	z->apex = apex;
	for (size_t i = 0; i < nrecs; i++) {
		ldns_rr *rr = recs[i].rr;
		ldns_rdf *owner = ldns_rr_owner(rr);
		char *otext;
		if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN) {
			zb_err(&b, recs[i].line, "class is not IN");
			continue;
		}
		if (ldns_dname_compare(owner, origin) != 0 && !ldns_dname_is_subdomain(owner, origin)) {
			otext = rdf_text(owner);
			zb_err(&b, recs[i].line, "'%s' is outside the zone '%s'", otext, z->name_text);
			free(otext);
			continue;
		}
		if (recs[i].type == WIRE_T_SOA && ldns_dname_compare(owner, origin) != 0) {
			zb_err(&b, recs[i].line, "SOA record not at the zone apex");
			continue;
		}
		if (recs[i].type == WIRE_T_OPT || recs[i].type == WIRE_T_ANY ||
		    recs[i].type == WIRE_T_AXFR || recs[i].type == WIRE_T_IXFR) {
			zb_err(&b, recs[i].line, "type %u cannot be zone data", recs[i].type);
			continue;
		}
		uint8_t lc[WIRE_NAME_MAX];
		wire_name_lower(ldns_rdf_data(owner), lc);
		recs[i].node = zb_node(&b, lc);
		if (!recs[i].node)
			goto fail;
	}

	/* Records that passed the checks, grouped into RRsets. */
	size_t kept = 0;
	for (size_t i = 0; i < nrecs; i++) {
		if (recs[i].node)
			recs[kept++] = recs[i];
		else
			ldns_rr_free(recs[i].rr);
	}
	nrecs = kept;
	qsort(recs, nrecs, sizeof(*recs), zrec_cmp);
	for (size_t i = 0; i < nrecs;) {
		zone_node_t *n = recs[i].node;
		size_t j = i, nsets = 0;
		while (j < nrecs && recs[j].node == n) {
			if (j == i || recs[j].type != recs[j - 1].type)
				nsets++;
			j++;
		}
		n->rrsets = calloc(nsets, sizeof(*n->rrsets));
		if (!n->rrsets)
			goto fail;
		for (size_t k = i; k < j;) {
			size_t m = k;
			while (m < j && recs[m].type == recs[k].type)
				m++;
			if (zb_rrset(&b, &n->rrsets[n->n_rrsets++], recs + k, m - k) < 0)
				goto fail;
			k = m;
		}
		z->n_rrs += j - i;
		/* RFC 1034 §3.6.2 / RFC 2181 §10.1: a CNAME stands alone. */
		const zone_rrset_t *cn = zone_node_rrset(n, WIRE_T_CNAME);
		if (cn && (n->n_rrsets > 1 || cn->count > 1)) {
			char text[1024];
			wire_name_to_text(n->name, text, sizeof(text));
			int line = 0;
			for (size_t k = i; k < j; k++)
				if (recs[k].type == WIRE_T_CNAME)
					line = recs[k].line;
			zb_err(&b, line, "'%s' has a CNAME and other data", text);
		}
		i = j;
	}

	/* Apex checks: one SOA, some NS (RFC 1035 §5.2, RFC 1034 §4.2.1). */
	z->soa = zone_node_rrset(apex, WIRE_T_SOA);
	if (!z->soa)
		zb_err(&b, last_line, "zone '%s' has no SOA record at its apex", z->name_text);
	else if (z->soa->count != 1)
		zb_err(&b, last_line, "zone '%s' has %u SOA records", z->name_text, z->soa->count);
	if (!zone_node_rrset(apex, WIRE_T_NS))
		zb_err(&b, last_line, "zone '%s' has no NS records at its apex", z->name_text);
	if (b.errors)
		goto fail;

	/* SOA for negative answers: TTL = min(SOA TTL, MINIMUM). */
	{
		const uint8_t *w = z->soa->wire;
		uint16_t rdlen = wire_get_u16(w + 8);
		uint32_t minimum = wire_get_u32(w + 10 + rdlen - 4);
		uint32_t ttl = z->soa->ttl < minimum ? z->soa->ttl : minimum;
		z->neg_soa = *z->soa;
		z->neg_soa.targets = NULL;
		z->neg_soa.wire = malloc(z->soa->wire_len);
		if (!z->neg_soa.wire)
			goto fail;
		memcpy(z->neg_soa.wire, w, z->soa->wire_len);
		z->neg_soa.ttl = ttl;
		z->neg_soa.wire[4] = (uint8_t)(ttl >> 24);
		z->neg_soa.wire[5] = (uint8_t)(ttl >> 16);
		z->neg_soa.wire[6] = (uint8_t)(ttl >> 8);
		z->neg_soa.wire[7] = (uint8_t)ttl;
		/* SERIAL is the third field, after MNAME and RNAME. */
		const uint8_t *rd = w + 10;
		unsigned o = wire_name_len(rd);
		o += wire_name_len(rd + o);
		z->serial = wire_get_u32(rd + o);
	}

	/* Cuts, wildcards and additional-section targets. */
	for (size_t i = 0; i <= b.mask; i++) {
		for (zone_node_t *n = b.table[i]; n; n = (zone_node_t *)n->hnext) {
			for (const zone_node_t *a = n; a && a != apex; a = a->parent)
				if (zone_node_rrset(a, WIRE_T_NS))
					n->cut = a;
			if (n->name[0] == 1 && n->name[1] == '*' && n->parent)
				n->parent->wild = n;
		}
	}
	for (size_t i = 0; i < nrecs;) {
		zone_node_t *n = recs[i].node;
		size_t k = i;
		for (unsigned s = 0; s < n->n_rrsets; s++) {
			size_t m = k;
			while (m < nrecs && recs[m].node == n && recs[m].type == recs[k].type)
				m++;
			if (zb_targets(&b, &n->rrsets[s], recs + k, m - k) < 0)
				goto fail;
			k = m;
		}
		i = k;
	}
	z->table = (const zone_node_t **)b.table;
	z->table_mask = b.mask;
	z->n_nodes = b.count;
	b.table = NULL;
	for (size_t i = 0; i < nrecs; i++)
		ldns_rr_free(recs[i].rr);
	free(recs);
	ldns_rdf_deep_free(origin);
	return z;

fail:
	if (fp)
		fclose(fp);
	for (size_t i = 0; i < nrecs; i++)
		ldns_rr_free(recs[i].rr);
	free(recs);
	if (b.table) {
		z->table = (const zone_node_t **)b.table;
		z->table_mask = b.mask;
	}
	zone_free(z);
	ldns_rdf_deep_free(origin);
	if (e->count == 0)
		conf_err_raw(e, "%s: out of memory", file);
	return NULL;
}

/* Find or create the node for `name` in a loaded zone, with its missing
 * ancestors; new nodes inherit their parent's cut. */
static zone_node_t *zone_node_make(zone_t *z, const uint8_t *name)
{
	unsigned len = wire_name_len(name);
	zone_node_t *n = (zone_node_t *)zone_lookup(z, name, len);
	if (n)
		return n;
	zone_node_t *parent = zone_node_make(z, name + 1 + name[0]);
	if (!parent)
		return NULL;
	n = calloc(1, sizeof(*n));
	if (!n || !(n->name = malloc(len))) {
		free(n);
		return NULL;
	}
	memcpy(n->name, name, len);
	n->name_len = (uint8_t)len;
	n->labels = (uint8_t)wire_name_labels(name);
	n->zone = z;
	n->parent = parent;
	n->cut = parent->cut;
	size_t h = name_hash(name, len) & z->table_mask;
	n->hnext = z->table[h];
	z->table[h] = n;
	z->n_nodes++;
	return n;
}

int zoneset_attach_dynamic(zoneset_t *zs, const uint8_t *name, const void *dyn, char *err,
			   size_t errlen)
{
	uint8_t off[WIRE_LABELS_MAX];
	unsigned labels = 0, o = 0;
	char text[1024];
	wire_name_to_text(name, text, sizeof(text));
	while (name[o]) {
		off[labels++] = (uint8_t)o;
		o += 1u + name[o];
	}
	off[labels] = (uint8_t)o;
	zone_t *z = (zone_t *)zoneset_find(zs, name, off, labels);
	if (!z) {
		snprintf(err, errlen, "'%s' is in none of the configured zones", text);
		return -1;
	}
	if (name[0] == 1 && name[1] == '*') {
		snprintf(err, errlen, "'%s': a dynamic name cannot be a wildcard", text);
		return -1;
	}
	const zone_node_t *old = zone_lookup(z, name, o + 1);
	if (old && old->n_rrsets > 0) {
		snprintf(err, errlen, "'%s' already has static data in zone '%s'", text,
			 z->name_text);
		return -1;
	}
	if (old && old->dyn) {
		snprintf(err, errlen, "'%s' is dynamic twice", text);
		return -1;
	}
	zone_node_t *n = zone_node_make(z, name);
	if (!n) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (n->cut) {
		snprintf(err, errlen, "'%s' is at or below a delegation in zone '%s'", text,
			 z->name_text);
		return -1;
	}
	n->dyn = dyn;
	return 0;
}

void zoneset_free(zoneset_t *zs)
{
	if (!zs)
		return;
	for (size_t i = 0; i < zs->n; i++)
		zone_free(zs->zones[i]);
	free(zs->zones);
	free(zs->table);
	free(zs);
}

zoneset_t *zoneset_load(const char *const *names, const char *const *files, size_t n,
			conf_errs_t *e)
{
	zoneset_t *zs = calloc(1, sizeof(*zs));
	unsigned before = e->count;
	if (!zs)
		return NULL;
	zs->zones = calloc(n ? n : 1, sizeof(*zs->zones));
	size_t tsize = 16;
	while (tsize < 2 * n)
		tsize *= 2;
	zs->table = calloc(tsize, sizeof(*zs->table));
	zs->table_mask = tsize - 1;
	if (!zs->zones || !zs->table)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		zone_t *z = zone_load(names[i], files[i], e);
		if (!z)
			continue;
		/* Open addressing: apex names are unique (the config checks). */
		size_t k = name_hash(z->apex_name, z->apex_len) & zs->table_mask;
		while (zs->table[k])
			k = (k + 1) & zs->table_mask;
		zs->table[k] = z;
		z->index = (uint32_t)zs->n;
		zs->zones[zs->n++] = z;
		log_info("zone loaded zone=%s serial=%u records=%zu names=%zu file=%s", z->name_text,
			 z->serial, z->n_rrs, z->n_nodes, z->file);
	}
	if (e->count != before)
		goto fail;
	return zs;
fail:
	zoneset_free(zs);
	return NULL;
}
