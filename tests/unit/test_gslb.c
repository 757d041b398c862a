/* test_gslb.c -- unit tests of gslb/gslb_conf.c (members, pools, services) and gslb_state.c. */
#include "config.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "geo/geo_conf.h"
#include "gslb/gslb.h"
#include "wire/wire.h"

/* ---- helpers ---------------------------------------------------------------------------- */

static const char *const zones[] = {"lyncweb.contoso.test", "contoso.test"};

typedef struct model {
	conf_errs_t e;
	conf_doc_t *d;
	geo_conf_t *geo;
	gslb_t *g;
} model_t;

static void log_errs(const conf_errs_t *e)
{
	for (unsigned i = 0; i < e->count && i < CONF_ERRS_MAX; i++)
		cr_log_info("error %u: %s", i, e->msg[i]);
}

/* Parse the document and its geo sections (which must be valid), then the
 * services; m->g is NULL if gslb_load() failed. */
static gslb_t *model_doc(model_t *m, conf_doc_t *d)
{
	cr_assert_not_null(d, "YAML: %s", m->e.count ? m->e.msg[0] : "?");
	m->d = d;
	m->geo = geo_conf_load(m->d, &m->e);
	log_errs(&m->e);
	cr_assert_not_null(m->geo, "geo: %s", m->e.count ? m->e.msg[0] : "?");
	m->g = gslb_load(m->d, m->geo, zones, 2, &m->e);
	log_errs(&m->e);
	return m->g;
}

static gslb_t *model_text(model_t *m, const char *text)
{
	conf_errs_init(&m->e);
	return model_doc(m, conf_load_string("t.yaml", text, strlen(text), &m->e));
}

static gslb_t *model_lync(model_t *m)
{
	char path[4096];
	const char *top = getenv("top_srcdir");
	snprintf(path, sizeof(path), "%s/tests/unit/data/gslb/lync.yaml", top ? top : ".");
	conf_errs_init(&m->e);
	gslb_t *g = model_doc(m, conf_load_file(path, &m->e));
	cr_assert_not_null(g, "lync.yaml: %s", m->e.count ? m->e.msg[0] : "?");
	cr_assert_eq(m->e.count, 0);
	return g;
}

static void model_free(model_t *m)
{
	gslb_free(m->g);
	geo_conf_free(m->geo);
	conf_free(m->d);
	conf_errs_free(&m->e);
}

/* Assert that `e` holds exactly the NULL-terminated list `want`. */
static void expect_errs(const conf_errs_t *e, const char *const *want)
{
	unsigned n = 0;
	while (want[n])
		n++;
	cr_assert_eq(e->count, n, "expected %u errors, got %u, first: %s", n, e->count,
		     e->count ? e->msg[0] : "(none)");
	for (unsigned i = 0; i < n; i++)
		cr_assert_str_eq(e->msg[i], want[i], "error %u:\n got: %s\nwant: %s", i, e->msg[i],
				 want[i]);
}

/* Sites and a map, 7 lines: the text of a test starts at line 8. */
#define BASE                                                                                       \
	"sites:\n"                                                                                 \
	"  nyc: {}\n"                                                                              \
	"  lon: {}\n"                                                                              \
	"geo_maps:\n"                                                                              \
	"  lync:\n"                                                                                \
	"    default: [nyc, lon]\n"                                                                \
	"    nets: { 10.2.0.0/16: [lon, nyc] }\n"

/* Members and pools used by the service tests: lines 8-21. */
#define POOLS                                                                                      \
	"members:\n"                                  /*  8 */                                     \
	"  n1: { address: 192.0.2.1, host: n1 }\n"    /*  9 */                                     \
	"  n2: { address: 192.0.2.2 }\n"              /* 10 */                                     \
	"  l1: { address: 198.51.100.1, host: l1 }\n" /* 11 */                                     \
	"  l2: { address: 198.51.100.2, host: l2 }\n" /* 12 */                                     \
	"  x1: { address: 198.51.100.3 }\n"           /* 13 */                                     \
	"pools:\n"                                    /* 14 */                                     \
	"  nyc-p: { site: nyc, members: [n1, n2] }\n" /* 15 */                                     \
	"  lon-p: { site: lon, members: [l1] }\n"     /* 16 */                                     \
	"  lon-q: { site: lon, members: [l2] }\n"     /* 17 */                                     \
	"  lon-x: { site: lon, members: [x1] }\n"     /* 18 */                                     \
	"services:\n"                                 /* 19 */                                     \
	"  s:\n"                                      /* 20 */                                     \
	"    map: lync\n"                             /* 21 */                                     \
	"    zone: lyncweb.contoso.test\n"            /* 22 */

/* Load `yaml` and expect gslb_load() to fail with exactly these errors. */
#define EXPECT_FAIL(yaml, ...)                                                                     \
	do {                                                                                       \
		model_t m_;                                                                        \
		cr_assert_null(model_text(&m_, (yaml)));                                           \
		expect_errs(&m_.e, (const char *const[]){__VA_ARGS__, NULL});                      \
		model_free(&m_);                                                                   \
	} while (0)

static const char *name_text(const uint8_t *w)
{
	static char buf[4][WIRE_NAME_MAX * 4 + 1];
	static int k;
	char *b = buf[k++ & 3];
	if (!w)
		return "(null)";
	wire_name_to_text(w, b, sizeof(buf[0]));
	return b;
}

static unsigned member_id(const gslb_t *g, const char *name)
{
	int kind;
	unsigned idx;
	cr_assert_eq(gslb_find_object(g, name, &kind, &idx), 0, "no object %s", name);
	cr_assert_eq(kind, 0, "%s is not a member", name);
	return idx;
}

static unsigned pool_id(const gslb_t *g, const char *name)
{
	int kind;
	unsigned idx;
	cr_assert_eq(gslb_find_object(g, name, &kind, &idx), 0, "no object %s", name);
	cr_assert_eq(kind, 1, "%s is not a pool", name);
	return idx;
}

/* ---- the Lync model --------------------------------------------------------------------- */

Test(gslb_conf, lync_members)
{
	model_t m;
	gslb_t *g = model_lync(&m);
	cr_assert_eq(g->n_members, 14);

	const gslb_member_t *e1 = &g->members[member_id(g, "nyc-edge1")];
	cr_assert_eq(e1->probe.family, 4);
	cr_assert_arr_eq(e1->probe.a, ((uint8_t[]){192, 0, 2, 11}), 4);
	cr_assert_eq(e1->n_answer, 2);
	cr_assert_eq(e1->answer[0].family, 4);
	cr_assert_arr_eq(e1->answer[0].a, ((uint8_t[]){203, 0, 113, 11}), 4);
	cr_assert_eq(e1->answer[1].family, 6);
	cr_assert_arr_eq(
	    e1->answer[1].a,
	    ((uint8_t[]){0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x11}), 16);
	cr_assert_eq(e1->weight, 100);
	cr_assert(e1->host_relative);
	cr_assert_str_eq(name_text(e1->host), "edge1-nyc.");
	cr_assert_eq(e1->pool, pool_id(g, "nyc-edge"));
	cr_assert_eq(e1->line, 20);

	/* Host names are lower-cased. */
	cr_assert_str_eq(name_text(g->members[member_id(g, "nyc-edge2")].host), "edge2-nyc.");

	/* No answer: the probed address; no weight: 1. */
	const gslb_member_t *l1 = &g->members[member_id(g, "lon-edge1")];
	cr_assert_eq(l1->n_answer, 1);
	cr_assert_eq(l1->answer[0].family, 6);
	cr_assert_arr_eq(l1->answer[0].a, l1->probe.a, 16);
	cr_assert_eq(l1->weight, 1);

	const gslb_member_t *l2 = &g->members[member_id(g, "lon-edge2")];
	cr_assert_not(l2->host_relative);
	cr_assert_str_eq(name_text(l2->host), "edge2-lon.lyncweb.contoso.test.");

	/* A single address stands for a list of one. */
	const gslb_member_t *rp = &g->members[member_id(g, "nyc-rp1")];
	cr_assert_eq(rp->n_answer, 1);
	cr_assert_arr_eq(rp->answer[0].a, ((uint8_t[]){203, 0, 113, 31}), 4);
	cr_assert_null(rp->host);
	model_free(&m);
}

Test(gslb_conf, lync_pools)
{
	model_t m;
	gslb_t *g = model_lync(&m);
	cr_assert_eq(g->n_pools, 8);

	const gslb_pool_t *fe = &g->pools[pool_id(g, "nyc-fe")];
	cr_assert_str_eq(fe->role, "front end");
	cr_assert_eq(fe->site, 0);
	cr_assert_eq(fe->n_members, 3);
	cr_assert_eq(fe->quorum, GSLB_QUORUM_MAJORITY);
	cr_assert_eq(fe->min_up, 2);
	cr_assert_eq(fe->n_requires, 0);

	/* 67% of 3 is 2.01: rounded up to 3. */
	const gslb_pool_t *lfe = &g->pools[pool_id(g, "lon-fe")];
	cr_assert_eq(lfe->site, 1);
	cr_assert_eq(lfe->quorum, GSLB_QUORUM_PERCENT);
	cr_assert_eq(lfe->min_up_value, 67);
	cr_assert_eq(lfe->min_up, 3);

	/* No min_up: a majority (DESIGN.md §2), 2 of 2. */
	const gslb_pool_t *edge = &g->pools[pool_id(g, "nyc-edge")];
	cr_assert_eq(edge->quorum, GSLB_QUORUM_MAJORITY);
	cr_assert_eq(edge->min_up, 2);
	cr_assert_eq(edge->n_members, 2);
	cr_assert_eq(edge->members[0], member_id(g, "nyc-edge1"));
	cr_assert_eq(edge->members[1], member_id(g, "nyc-edge2"));
	cr_assert_eq(edge->n_requires, 1);
	cr_assert_eq(edge->requires[0], pool_id(g, "nyc-fe"));
	cr_assert_eq(edge->n_vip, 2);
	cr_assert_eq(edge->vip[0].family, 4);
	cr_assert_eq(edge->vip[1].family, 6);
	cr_assert_arr_eq(edge->vip[0].a, ((uint8_t[]){203, 0, 113, 10}), 4);

	/* 50% of 2 is 1. */
	cr_assert_eq(g->pools[pool_id(g, "lon-edge")].min_up, 1);
	cr_assert_null(g->pools[pool_id(g, "nyc-rp")].role);

	/* Every pool comes after the pools it requires. */
	unsigned pos[8];
	for (unsigned k = 0; k < g->n_pools; k++)
		pos[g->pool_order[k]] = k;
	for (unsigned p = 0; p < g->n_pools; p++)
		for (unsigned r = 0; r < g->pools[p].n_requires; r++)
			cr_assert_lt(pos[g->pools[p].requires[r]], pos[p]);
	model_free(&m);
}

Test(gslb_conf, lync_services)
{
	model_t m;
	gslb_t *g = model_lync(&m);
	cr_assert_eq(g->n_services, 2);
	const gslb_service_t *s = &g->services[0];
	cr_assert_str_eq(s->name, "lync");
	cr_assert_eq(s->map, geo_conf_map(m.geo, "lync"));
	/* Named as in `zones:`, whatever the case and trailing dot in the service. */
	cr_assert_str_eq(s->zone, "lyncweb.contoso.test");
	cr_assert_str_eq(name_text(s->zone_wire), "lyncweb.contoso.test.");
	cr_assert_eq(s->ttl, 300);
	cr_assert_eq(s->failover_ttl, 20);
	cr_assert_eq(s->hold_down_s, 600);

	/* Defaults: failover_ttl min(30, ttl), hold_down 2 x ttl. */
	const gslb_service_t *f = &g->services[1];
	cr_assert_str_eq(f->zone, "contoso.test");
	cr_assert_eq(f->ttl, 60);
	cr_assert_eq(f->failover_ttl, 30);
	cr_assert_eq(f->hold_down_s, 120);
	model_free(&m);
}

Test(gslb_conf, lync_names)
{
	model_t m;
	gslb_t *g = model_lync(&m);
	static const struct {
		const char *name;
		gslb_kind_t kind;
		unsigned service;
	} want[] = {
	    {"lyncdiscover.lyncweb.contoso.test.", GSLB_FAILOVER, 0},
	    {"meet.lyncweb.contoso.test.", GSLB_WEIGHTED, 0},
	    {"sip.lyncweb.contoso.test.", GSLB_MULTI, 0},
	    {"_sip._tls.lyncweb.contoso.test.", GSLB_SRV, 0},
	    {"_sipfederationtls._tcp.lyncweb.contoso.test.", GSLB_SRV, 0},
	    {"web.lyncweb.contoso.test.", GSLB_CNAME, 0},
	    {"av.lyncweb.contoso.test.", GSLB_FAILOVER, 0},
	    {"_stun._udp.lyncweb.contoso.test.", GSLB_SRV, 0},
	    {"lyncweb.contoso.test.", GSLB_FAILOVER, 0},
	    {"_sipfederationtls._tcp.contoso.test.", GSLB_SRV, 1},
	    /* member hosts: one per (member, zone), in order of first use */
	    {"edge1-nyc.lyncweb.contoso.test.", GSLB_HOST, 0},
	    {"edge2-nyc.lyncweb.contoso.test.", GSLB_HOST, 0},
	    {"edge1-lon.lyncweb.contoso.test.", GSLB_HOST, 0},
	    {"edge2-lon.lyncweb.contoso.test.", GSLB_HOST, 0},
	    {"av-nyc.lyncweb.contoso.test.", GSLB_HOST, 0},
	    {"edge1-nyc.contoso.test.", GSLB_HOST, 1},
	    {"edge2-nyc.contoso.test.", GSLB_HOST, 1},
	    {"edge1-lon.contoso.test.", GSLB_HOST, 1},
	};
	size_t n = sizeof(want) / sizeof(want[0]);
	cr_assert_eq(g->n_names, n, "got %u names", g->n_names);
	for (size_t i = 0; i < n; i++) {
		const gslb_name_t *nm = &g->names[i];
		cr_assert_str_eq(name_text(nm->name), want[i].name, "name %zu", i);
		cr_assert_eq(nm->kind, want[i].kind, "name %zu", i);
		cr_assert_eq(nm->service, want[i].service, "name %zu", i);
	}

	unsigned nyc_edge = pool_id(g, "nyc-edge"), lon_edge = pool_id(g, "lon-edge");
	/* lyncdiscover: its own pools. */
	cr_assert_eq(g->names[0].pool_of_site[0], pool_id(g, "nyc-rp"));
	cr_assert_eq(g->names[0].pool_of_site[1], pool_id(g, "lon-rp"));
	cr_assert_eq(g->names[0].line, 78);
	/* meet */
	cr_assert_eq(g->names[1].count, 2);
	cr_assert(g->names[1].sticky);
	/* sip: the service's pools */
	cr_assert_eq(g->names[2].max, 4);
	cr_assert_eq(g->names[2].pool_of_site[0], nyc_edge);
	cr_assert_eq(g->names[2].pool_of_site[1], lon_edge);
	/* SRV */
	cr_assert_eq(g->names[3].port, 443);
	cr_assert_eq(g->names[3].prio_base, 10);
	cr_assert_eq(g->names[3].prio_step, 10);
	cr_assert_eq(g->names[4].port, 5061);
	cr_assert_eq(g->names[4].prio_base, 1);
	cr_assert_eq(g->names[4].prio_step, 5);
	/* cname */
	cr_assert_str_eq(name_text(g->names[5].cname_hosts[0]), "web-nyc.lyncweb.contoso.test.");
	cr_assert_str_eq(name_text(g->names[5].cname_hosts[1]), "web-lon.lyncweb.contoso.test.");
	/* federation lists lon first: pool_of_site is by site id all the same */
	cr_assert_eq(g->names[9].pool_of_site[0], nyc_edge);
	cr_assert_eq(g->names[9].pool_of_site[1], lon_edge);
	/* a host name knows its member and has no pools */
	cr_assert_eq(g->names[10].member, member_id(g, "nyc-edge1"));
	cr_assert_null(g->names[10].pool_of_site);
	cr_assert_eq(g->names[13].member, member_id(g, "lon-edge2"));
	cr_assert_eq(g->names[15].member, member_id(g, "nyc-edge1"));
	model_free(&m);
}

Test(gslb_conf, lync_member_hosts_per_zone)
{
	model_t m;
	gslb_t *g = model_lync(&m);
	const gslb_service_t *lync = &g->services[0], *fed = &g->services[1];
	unsigned e1 = member_id(g, "nyc-edge1"), l2 = member_id(g, "lon-edge2");
	unsigned av_l = member_id(g, "lon-av1"), fe = member_id(g, "nyc-fe1");

	cr_assert_str_eq(name_text(lync->member_host[e1]), "edge1-nyc.lyncweb.contoso.test.");
	cr_assert_str_eq(name_text(fed->member_host[e1]), "edge1-nyc.contoso.test.");
	/* An absolute host is the same name in every zone, and one GSLB_HOST name. */
	cr_assert_str_eq(name_text(lync->member_host[l2]), "edge2-lon.lyncweb.contoso.test.");
	cr_assert_eq(lync->member_host[l2], fed->member_host[l2]);
	/* Outside our zones: an SRV target only, no name of ours. */
	cr_assert_str_eq(name_text(lync->member_host[av_l]), "av.partner.example.");
	cr_assert_null(fed->member_host[av_l]);
	/* No host, or a pool this service does not use. */
	cr_assert_null(lync->member_host[fe]);
	cr_assert_null(fed->member_host[member_id(g, "nyc-av1")]);
	model_free(&m);
}

Test(gslb_conf, find_object)
{
	model_t m;
	gslb_t *g = model_lync(&m);
	int kind;
	unsigned idx;
	cr_assert_eq(gslb_find_object(g, "lon-fe2", &kind, &idx), 0);
	cr_assert_eq(kind, 0);
	cr_assert_eq(idx, 4);
	cr_assert_eq(gslb_find_object(g, "lon-edge", &kind, &idx), 0);
	cr_assert_eq(kind, 1);
	cr_assert_eq(idx, 3);
	cr_assert_eq(gslb_find_object(g, "lon", &kind, &idx), 0);
	cr_assert_eq(kind, 2);
	cr_assert_eq(idx, 1);
	cr_assert_eq(gslb_find_object(g, "paris", &kind, &idx), -1);
	model_free(&m);
}

Test(gslb_conf, empty_sections)
{
	model_t m;
	gslb_t *g = model_text(&m, BASE);
	cr_assert_not_null(g);
	cr_assert_eq(g->n_members + g->n_pools + g->n_services + g->n_names, 0);
	model_free(&m);
}

/* ---- errors: members -------------------------------------------------------------------- */

Test(gslb_conf_err, member_values)
{
	EXPECT_FAIL(BASE "members:\n"
			 "  a: { answer: [192.0.2.1] }\n"
			 "  b: { address: 192.0.2.300 }\n"
			 "  c: { address: 192.0.2.3, weight: 0 }\n"
			 "  d: { address: 192.0.2.4, weight: -5 }\n"
			 "  e: { address: 192.0.2.5, weight: 70000 }\n"
			 "  f: { address: 192.0.2.6, answer: [], port: 80 }\n"
			 "  g: { address: 192.0.2.7, answer: [2001:db8::1, x] }\n"
			 "  h: { address: 192.0.2.8, host: a..b }\n"
			 "  i: { address: 192.0.2.9, host: a_b.c*d }\n"
			 "  j: { address: 192.0.2.10, weight: 65535, answer: 2001:db8::2 }\n",
		    "t.yaml:9:3: member 'a' has no address",
		    "t.yaml:10:17: address: '192.0.2.300' is not an IPv4 or IPv6 address",
		    "t.yaml:11:36: weight must be > 0", "t.yaml:12:36: weight must be > 0",
		    "t.yaml:13:36: weight: 70000 is out of range 1..65535",
		    "t.yaml:14:40: unknown key 'port' in member 'f'",
		    "t.yaml:15:50: answer: 'x' is not an IPv4 or IPv6 address",
		    "t.yaml:16:34: host: 'a..b' is not a valid name: empty label",
		    "t.yaml:17:34: host: 'a_b.c*d' is not a valid name: only letters, digits, '-' "
		    "and '_' may appear in a label");
}

Test(gslb_conf_err, member_answer_empty)
{
	EXPECT_FAIL(BASE "members:\n"
			 "  f: { address: 192.0.2.6, answer: [] }\n",
		    "t.yaml:9:36: answer: an empty list");
}

Test(gslb_conf_err, host_too_long)
{
	/* 64 characters in a label; then a name of 4 x 63 + 4 bytes + root = 257. */
	char yaml[2048];
	char l63[64];
	memset(l63, 'a', 63);
	l63[63] = '\0';
	snprintf(yaml, sizeof(yaml),
		 BASE "members:\n"
		      "  a: { address: 192.0.2.1, host: %sb }\n"
		      "  b: { address: 192.0.2.2, host: %s.%s.%s.%s. }\n",
		 l63, l63, l63, l63, l63);
	char want1[256];
	snprintf(want1, sizeof(want1),
		 "t.yaml:9:34: host: '%sb' is not a valid name: label longer than 63 characters",
		 l63);
	char want2[512];
	snprintf(want2, sizeof(want2),
		 "t.yaml:10:34: host: '%s.%s.%s.%s.' is not a valid name: name longer than 255 "
		 "bytes",
		 l63, l63, l63, l63);
	EXPECT_FAIL(yaml, want1, want2);
}

/* A relative host fits alone but not in the service's zone. */
Test(gslb_conf_err, host_too_long_in_zone)
{
	char l63[64], l50[51];
	memset(l63, 'a', 63);
	l63[63] = '\0';
	memset(l50, 'b', 50);
	l50[50] = '\0';
	char yaml[2048];
	/* 3 x 64 + 51 + root = 244 bytes; in contoso.test (14 more, root
	 * shared) 257. */
	snprintf(yaml, sizeof(yaml),
		 BASE "members:\n"
		      "  a: { address: 192.0.2.1, host: %s.%s.%s.%s }\n"
		      "pools:\n"
		      "  p: { site: nyc, members: [a] }\n"
		      "services:\n"
		      "  s:\n"
		      "    map: lync\n"
		      "    zone: contoso.test\n"
		      "    pools: { nyc: p }\n"
		      "    names: { x: { kind: failover } }\n",
		 l63, l63, l63, l50);
	char want[512];
	snprintf(want, sizeof(want),
		 "t.yaml:9:34: host '%s.%s.%s.%s' of member 'a' is longer than 255 bytes in zone "
		 "'contoso.test'",
		 l63, l63, l63, l50);
	EXPECT_FAIL(yaml, want);
}

/* ---- errors: pools ---------------------------------------------------------------------- */

Test(gslb_conf_err, pool_references)
{
	EXPECT_FAIL(BASE "members:\n"
			 "  a: { address: 192.0.2.1 }\n"
			 "  b: { address: 192.0.2.2 }\n"
			 "pools:\n"
			 "  p: { site: paris, members: [a, ghost, a] }\n"
			 "  q: { site: nyc, members: [b, a] }\n"
			 "  r: { members: [] }\n"
			 "  s: { site: nyc, role: x }\n"
			 "  t: { site: lon, members: [b], requires: [t, nobody, p, p] }\n",
		    "t.yaml:12:14: site: unknown site 'paris'",
		    "t.yaml:12:34: members: unknown member 'ghost'",
		    "t.yaml:12:41: members: member 'a' listed twice",
		    "t.yaml:13:32: members: member 'a' is already in pool 'p'",
		    "t.yaml:14:3: pool 'r' has no site", "t.yaml:14:17: members: an empty list",
		    "t.yaml:15:3: pool 's' has no members",
		    "t.yaml:16:29: members: member 'b' is already in pool 'q'",
		    "t.yaml:16:44: requires: pool 't' cannot require itself",
		    "t.yaml:16:47: requires: unknown pool 'nobody'",
		    "t.yaml:16:58: requires: pool 'p' listed twice");
}

Test(gslb_conf_err, pool_min_up)
{
	EXPECT_FAIL(BASE "members:\n"
			 "  a: { address: 192.0.2.1 }\n"
			 "  b: { address: 192.0.2.2 }\n"
			 "  c: { address: 192.0.2.3 }\n"
			 "  d: { address: 192.0.2.4 }\n"
			 "  e: { address: 192.0.2.5 }\n"
			 "  f: { address: 192.0.2.6 }\n"
			 "pools:\n"
			 "  p: { site: nyc, members: [a, b, c], min_up: 0 }\n"
			 "  q: { site: nyc, members: [d], min_up: 2 }\n"
			 "  r: { site: nyc, members: [e], min_up: 0% }\n"
			 "  s: { site: nyc, members: [f], min_up: 101% }\n"
			 "  t: { site: nyc, members: [f], min_up: most }\n"
			 "  u: { site: nyc, min_up: -1 }\n",
		    "t.yaml:16:47: min_up: 0 is out of range 1..3 (the pool's members)",
		    "t.yaml:17:41: min_up: 2 is out of range 1..1 (the pool's members)",
		    "t.yaml:18:41: min_up: 0% is out of range 1%..100%",
		    "t.yaml:19:41: min_up: 101% is out of range 1%..100%",
		    "t.yaml:20:29: members: member 'f' is already in pool 's'",
		    "t.yaml:20:41: min_up: 'most' is not a count, a percentage or 'majority'",
		    "t.yaml:21:3: pool 'u' has no members",
		    "t.yaml:21:27: min_up: '-1' is not a count, a percentage or 'majority'");
}

Test(gslb_conf, pool_min_up_values)
{
	model_t m;
	gslb_t *g =
	    model_text(&m, BASE "members:\n"
				"  a: { address: 192.0.2.1 }\n"
				"  b: { address: 192.0.2.2 }\n"
				"  c: { address: 192.0.2.3 }\n"
				"  d: { address: 192.0.2.4 }\n"
				"  e: { address: 192.0.2.5 }\n"
				"  f: { address: 192.0.2.6 }\n"
				"pools:\n"
				"  four: { site: nyc, members: [a, b, c, d], min_up: majority }\n"
				"  one: { site: nyc, members: [e], min_up: 1% }\n"
				"  solo: { site: lon, members: [f], min_up: majority }\n");
	cr_assert_not_null(g);
	cr_assert_eq(g->pools[0].min_up, 3); /* 4/2 + 1 */
	cr_assert_eq(g->pools[1].min_up, 1); /* 1% of 1, at least 1 */
	cr_assert_eq(g->pools[1].min_up_value, 1);
	cr_assert_eq(g->pools[2].min_up, 1);
	model_free(&m);
}

Test(gslb_conf_err, requires_cycles)
{
	EXPECT_FAIL(BASE "members:\n"
			 "  m1: { address: 192.0.2.1 }\n"
			 "  m2: { address: 192.0.2.2 }\n"
			 "  m3: { address: 192.0.2.3 }\n"
			 "  m4: { address: 192.0.2.4 }\n"
			 "  m5: { address: 192.0.2.5 }\n"
			 "pools:\n"
			 "  a: { site: nyc, members: [m1], requires: [b] }\n"
			 "  b: { site: nyc, members: [m2], requires: [a] }\n"
			 "  c: { site: lon, members: [m3], requires: [e] }\n"
			 "  d: { site: lon, members: [m4], requires: [c] }\n"
			 "  e: { site: lon, members: [m5], requires: [d, a] }\n",
		    "t.yaml:15:3: cyclic requires: a -> b -> a",
		    "t.yaml:17:3: cyclic requires: c -> e -> d -> c");
}

/* ---- errors: services ------------------------------------------------------------------- */

Test(gslb_conf_err, service_references)
{
	EXPECT_FAIL(BASE POOLS /* map and zone at lines 21, 22 are valid */
		    "    pools: { nyc: nyc-p, paris: lon-p, lon: nyc-p }\n"
		    "    names: { www: { kind: failover } }\n"
		    "  t:\n"
		    "    map: world\n"
		    "    zone: example.test\n"
		    "    pools: { lon: ghost }\n"
		    "    names: { www: { kind: failover } }\n"
		    "  u:\n"
		    "    names: {}\n"
		    "    ttl: 30\n"
		    "    pools: [nyc-p]\n",
		    "t.yaml:23:26: pools: unknown site 'paris'",
		    "t.yaml:23:45: pools: pool 'nyc-p' is at site 'nyc', not 'lon'",
		    "t.yaml:26:10: map: unknown geo map 'world'",
		    "t.yaml:27:11: zone: 'example.test' is not one of the configured zones",
		    "t.yaml:28:19: pools: unknown pool 'ghost'",
		    "t.yaml:30:3: service 'u' has no map", "t.yaml:30:3: service 'u' has no zone",
		    "t.yaml:33:12: pools must be a mapping, not a sequence");
}

Test(gslb_conf_err, service_timers)
{
	EXPECT_FAIL(BASE POOLS "    pools: { nyc: nyc-p }\n"
			       "    ttl: 0\n"
			       "    hold_down: 5 minutes\n"
			       "    names: { www: { kind: failover } }\n"
			       "  t:\n"
			       "    map: lync\n"
			       "    zone: contoso.test\n"
			       "    pools: { nyc: nyc-p }\n"
			       "    ttl: 20\n"
			       "    failover_ttl: 21\n"
			       "    hold_down: 8d\n"
			       "    names: { www: { kind: failover } }\n"
			       "  u:\n"
			       "    map: lync\n"
			       "    zone: contoso.test\n"
			       "    ttl: 604801\n"
			       "    failover_ttl: 0\n",
		    "t.yaml:24:10: ttl: 0 is out of range 1..604800",
		    "t.yaml:25:16: hold_down: '5 minutes' is not a duration (e.g. 250ms, 1.5s, 2m, "
		    "1h, 1d)",
		    "t.yaml:32:19: failover_ttl: 21 is more than ttl (20)",
		    "t.yaml:33:16: hold_down: 8d is out of range 0ms..7d",
		    "t.yaml:38:10: ttl: 604801 is out of range 1..604800",
		    "t.yaml:39:19: failover_ttl: 0 is out of range 1..604800",
		    "t.yaml:35:3: service 'u' has no names");
}

Test(gslb_conf, service_timers_values)
{
	model_t m;
	gslb_t *g = model_text(&m, BASE POOLS "    pools: { nyc: nyc-p }\n"
					      "    ttl: 10\n"
					      "    hold_down: 1500ms\n"
					      "    names: { www: { kind: failover } }\n"
					      "  t:\n"
					      "    map: lync\n"
					      "    zone: contoso.test\n"
					      "    pools: { nyc: nyc-p }\n"
					      "    hold_down: 0\n"
					      "    names: { www: { kind: failover } }\n");
	cr_assert_not_null(g);
	cr_assert_eq(g->services[0].ttl, 10);
	cr_assert_eq(g->services[0].failover_ttl, 10); /* min(30, ttl) */
	cr_assert_eq(g->services[0].hold_down_s, 2);   /* rounded up */
	cr_assert_eq(g->services[1].hold_down_s, 0);
	cr_assert_eq(g->services[1].ttl, 300);
	cr_assert_eq(g->services[1].failover_ttl, 30);
	model_free(&m);
}

Test(gslb_conf_err, name_kinds_and_keys)
{
	EXPECT_FAIL(BASE POOLS "    pools: { nyc: nyc-p, lon: lon-p }\n"
			       "    names:\n"
			       "      a: { kind: geo }\n"
			       "      b: { pools: { nyc: nyc-p } }\n"
			       "      c: { kind: failover, max: 3 }\n"
			       "      d: { kind: multi, max: 65, count: 1 }\n"
			       "      e: { kind: weighted, count: 0, sticky: maybe }\n"
			       "      f: { kind: srv, priority_step: 70000 }\n"
			       "      g: { kind: srv, port: 0, hosts: {} }\n"
			       "      h: { kind: cname }\n"
			       "      i: failover\n",
		    "t.yaml:25:18: kind: 'geo' is not one of failover, multi, weighted, srv, cname",
		    "t.yaml:26:7: name 'b' has no kind",
		    "t.yaml:27:28: unknown key 'max' in failover name 'c'",
		    "t.yaml:28:34: unknown key 'count' in multi name 'd'",
		    "t.yaml:29:35: count: 0 is out of range 1..64",
		    "t.yaml:29:46: sticky: 'maybe' is not a boolean (true/false, yes/no, on/off)",
		    "t.yaml:30:7: srv name 'f' has no port",
		    "t.yaml:30:38: priority_step: 70000 is out of range 0..65535",
		    "t.yaml:31:32: unknown key 'hosts' in srv name 'g'",
		    "t.yaml:32:7: cname name 'h' has no hosts",
		    "t.yaml:33:10: name 'i' must be a mapping, not a scalar");
}

Test(gslb_conf_err, name_placement)
{
	EXPECT_FAIL(
	    BASE POOLS "    pools: { nyc: nyc-p, lon: lon-p }\n"
		       "    names:\n"
		       "      www: { kind: failover }\n"
		       "      www.contoso.test.: { kind: failover }\n"
		       "      WWW.LyncWeb.Contoso.Test.: { kind: multi }\n"
		       "      a..b: { kind: failover }\n"
		       "  t:\n"
		       "    map: lync\n"
		       "    zone: contoso.test\n"
		       "    names:\n"
		       "      www.lyncweb: { kind: failover, pools: { nyc: nyc-p } }\n"
		       "      \"@\": { kind: failover }\n",
	    "t.yaml:26:7: name 'www.contoso.test.' is not inside zone 'lyncweb.contoso.test'",
	    "t.yaml:27:7: name 'WWW.LyncWeb.Contoso.Test.' is already defined in service 's' "
	    "at line 25",
	    "t.yaml:28:7: name 'a..b' is not a valid name: empty label",
	    "t.yaml:33:7: name 'www.lyncweb' is already defined in service 's' at line 25",
	    "t.yaml:34:7: name '@' has no pools: give 'pools' here or in the service");
}

Test(gslb_conf_err, name_too_long)
{
	char l63[64], yaml[2048], want[512];
	memset(l63, 'a', 63);
	l63[63] = '\0';
	/* 3 x 64 bytes, then lyncweb.contoso.test (22 with the root): 214. One
	 * more label of 40 makes 255: the limit, still fine; 41 is one too many. */
	snprintf(yaml, sizeof(yaml),
		 BASE POOLS "    pools: { nyc: nyc-p }\n"
			    "    names:\n"
			    "      %s.%s.%s.%.40s: { kind: failover }\n"
			    "      %s.%s.%s.%.41s: { kind: failover }\n",
		 l63, l63, l63, l63, l63, l63, l63, l63);
	snprintf(want, sizeof(want),
		 "t.yaml:26:7: name '%s.%s.%s.%.41s' is not a valid name: name longer than 255 "
		 "bytes",
		 l63, l63, l63, l63);
	EXPECT_FAIL(yaml, want);
}

Test(gslb_conf_err, srv_needs_hosts)
{
	EXPECT_FAIL(BASE POOLS "    pools: { nyc: nyc-p, lon: lon-p }\n"
			       "    names:\n"
			       "      _sip._tls: { kind: srv, port: 443 }\n"
			       "      _sip._tcp: { kind: srv, port: 5060, pools: { lon: lon-x } }\n"
			       "      _ok._tcp: { kind: srv, port: 1, pools: { lon: lon-q } }\n"
			       "      _prio._tcp:\n"
			       "        kind: srv\n"
			       "        port: 1\n"
			       "        priority_base: 65000\n"
			       "        priority_step: 536\n"
			       "        pools: { lon: lon-q, nyc: nyc-p }\n",
		    "t.yaml:25:7: srv name '_sip._tls': member 'n2' (pool 'nyc-p') has no host",
		    "t.yaml:26:7: srv name '_sip._tcp': member 'x1' (pool 'lon-x') has no host",
		    "t.yaml:28:7: srv name '_prio._tcp': member 'n2' (pool 'nyc-p') has no host",
		    "t.yaml:28:7: srv name '_prio._tcp': priority_base + priority_step * 1 exceeds "
		    "65535");
}

Test(gslb_conf_err, cname_hosts)
{
	EXPECT_FAIL(BASE POOLS
		    "    pools: { nyc: nyc-p, lon: lon-p }\n"
		    "    names:\n"
		    "      a: { kind: cname, hosts: { nyc: a-nyc } }\n"
		    "      b: { kind: cname, hosts: { nyc: b-nyc, lon: b-lon, paris: p } }\n"
		    "      c: { kind: cname, pools: { lon: lon-p }, hosts: { nyc: c, lon: c. } }\n"
		    "      d: { kind: cname, hosts: [a] }\n",
		    "t.yaml:25:7: cname name 'a' has no host for site 'lon'",
		    "t.yaml:26:58: hosts: unknown site 'paris'",
		    "t.yaml:27:57: hosts: site 'nyc' has no pool for this name",
		    "t.yaml:28:32: hosts must be a mapping, not a sequence");
}

Test(gslb_conf_err, host_collisions)
{
	EXPECT_FAIL(
	    BASE "members:\n"
		 "  a: { address: 192.0.2.1, host: edge }\n"
		 "  b: { address: 192.0.2.2, host: edge.contoso.test. }\n"
		 "  c: { address: 192.0.2.3, host: www }\n"
		 "pools:\n"
		 "  p: { site: nyc, members: [a, b, c] }\n"
		 "services:\n"
		 "  s:\n"
		 "    map: lync\n"
		 "    zone: contoso.test\n"
		 "    pools: { nyc: p }\n"
		 "    names: { www: { kind: failover } }\n",
	    "t.yaml:10:34: host 'edge.contoso.test.' of member 'b' is also the host of member "
	    "'a'",
	    "t.yaml:11:34: host 'www' of member 'c' is also a name of service 's' at line 19");
}

Test(gslb_conf_err, sections_of_wrong_type)
{
	EXPECT_FAIL(BASE "members: [a]\n"
			 "pools: x\n"
			 "services:\n"
			 "  s: [1]\n",
		    "t.yaml:8:10: members must be a mapping, not a sequence",
		    "t.yaml:9:8: pools must be a mapping, not a scalar",
		    "t.yaml:11:6: service 's' must be a mapping, not a sequence");
}

/* ---- state ------------------------------------------------------------------------------ */

/* A site per side, front ends with three quorum kinds, edges requiring them. */
static const char state_yaml[] =
    BASE "members:\n"
	 "  f1: { address: 10.0.0.1 }\n"
	 "  f2: { address: 10.0.0.2 }\n"
	 "  f3: { address: 10.0.0.3 }\n"
	 "  f4: { address: 10.0.0.4 }\n"
	 "  f5: { address: 10.0.0.5 }\n"
	 "  g1: { address: 10.0.1.1 }\n"
	 "  g2: { address: 10.0.1.2 }\n"
	 "  g3: { address: 10.0.1.3 }\n"
	 "  g4: { address: 10.0.1.4 }\n"
	 "  e1: { address: 10.0.2.1 }\n"
	 "  e2: { address: 10.0.2.2 }\n"
	 "  k1: { address: 10.0.3.1 }\n"
	 "  k2: { address: 10.0.3.2 }\n"
	 "  r1: { address: 10.0.4.1 }\n"
	 "pools:\n"
	 /* listed before what it requires: eval order must not matter */
	 "  proxy: { site: nyc, members: [r1], requires: [edge] }\n"
	 "  edge: { site: nyc, members: [e1, e2], min_up: 1, requires: [fe] }\n"
	 "  fe: { site: nyc, members: [f1, f2, f3, f4, f5], min_up: majority }\n"
	 "  lfe: { site: lon, members: [g1, g2, g3, g4], min_up: 75% }\n"
	 "  ledge: { site: lon, members: [k1, k2], min_up: 2, requires: [lfe] }\n"
	 "services:\n"
	 "  s:\n"
	 "    map: lync\n"
	 "    zone: lyncweb.contoso.test\n"
	 "    hold_down: 100\n"
	 "    pools: { nyc: edge, lon: ledge }\n"
	 "    names: { www: { kind: failover } }\n"
	 "  t:\n"
	 "    map: lync\n"
	 "    zone: contoso.test\n"
	 "    hold_down: 30\n"
	 "    pools: { nyc: proxy }\n"
	 "    names: { www: { kind: failover } }\n";

typedef struct world {
	model_t m;
	gslb_t *g;
	gslb_state_t *s;
} world_t;

static void world_new(world_t *w, const char *yaml)
{
	w->g = model_text(&w->m, yaml);
	cr_assert_not_null(w->g);
	w->s = gslb_state_new(w->g);
	cr_assert_not_null(w->s);
}

static void world_free(world_t *w)
{
	gslb_state_free(w->s);
	model_free(&w->m);
}

static void set_probe(world_t *w, const char *member, bool up)
{
	w->s->member_probe_up[member_id(w->g, member)] = up;
}

static bool pool_up(const world_t *w, const char *pool)
{
	return w->s->pool_up[pool_id(w->g, pool)];
}

static bool dep_down(const world_t *w, const char *pool)
{
	return w->s->pool_dep_down[pool_id(w->g, pool)];
}

static time_t up_since(const world_t *w, const char *pool)
{
	return w->s->pool_up_since[pool_id(w->g, pool)];
}

Test(gslb_state, starts_up)
{
	world_t w;
	world_new(&w, state_yaml);
	cr_assert_eq(w.s->n_members, 14);
	cr_assert_eq(w.s->n_pools, 5);
	cr_assert_eq(w.s->n_sites, 2);
	for (unsigned p = 0; p < w.s->n_pools; p++) {
		cr_assert(w.s->pool_up[p], "pool %u", p);
		cr_assert_eq(w.s->pool_up_since[p], 0);
		cr_assert_not(w.s->pool_dep_down[p]);
	}
	cr_assert_eq(w.s->pool_members_up[pool_id(w.g, "fe")], 5);
	/* Nothing changes by itself, and nothing changed since new(). */
	cr_assert_eq(gslb_state_next_event(w.s, w.g, 1000), 0);
	cr_assert_not(gslb_state_eval(w.s, w.g, 1000));
	world_free(&w);
}

Test(gslb_state, quorum_majority)
{
	world_t w;
	world_new(&w, state_yaml);
	/* 5 members: majority is 3. */
	set_probe(&w, "f1", false);
	set_probe(&w, "f2", false);
	cr_assert(gslb_state_eval(w.s, w.g, 10));
	cr_assert(pool_up(&w, "fe"));
	cr_assert_eq(w.s->pool_members_up[pool_id(w.g, "fe")], 3);
	set_probe(&w, "f3", false);
	cr_assert(gslb_state_eval(w.s, w.g, 11));
	cr_assert_not(pool_up(&w, "fe"));
	cr_assert_eq(w.s->pool_members_up[pool_id(w.g, "fe")], 2);
	cr_assert_not(dep_down(&w, "fe"));
	world_free(&w);
}

Test(gslb_state, quorum_percent_and_count)
{
	world_t w;
	world_new(&w, state_yaml);
	/* 75% of 4 is 3. */
	set_probe(&w, "g4", false);
	gslb_state_eval(w.s, w.g, 10);
	cr_assert(pool_up(&w, "lfe"));
	set_probe(&w, "g3", false);
	gslb_state_eval(w.s, w.g, 11);
	cr_assert_not(pool_up(&w, "lfe"));
	/* ledge needs both members (min_up 2), and lfe. */
	cr_assert_not(pool_up(&w, "ledge"));
	cr_assert(dep_down(&w, "ledge"));
	set_probe(&w, "k2", false);
	gslb_state_eval(w.s, w.g, 12);
	cr_assert_not(pool_up(&w, "ledge"));
	cr_assert_not(dep_down(&w, "ledge")); /* below its own quorum now */
	world_free(&w);
}

/* Scenario 2 of LYNC.md: the Edge is up, the Front End pool below quorum. */
Test(gslb_state, requires_chain)
{
	world_t w;
	world_new(&w, state_yaml);
	set_probe(&w, "f1", false);
	set_probe(&w, "f2", false);
	set_probe(&w, "f3", false);
	cr_assert(gslb_state_eval(w.s, w.g, 50));
	cr_assert_not(pool_up(&w, "fe"));
	cr_assert_not(pool_up(&w, "edge"));
	cr_assert(dep_down(&w, "edge"));
	cr_assert_eq(w.s->pool_members_up[pool_id(w.g, "edge")], 2);
	/* The proxy requires the edge: down in turn, also because of a requirement. */
	cr_assert_not(pool_up(&w, "proxy"));
	cr_assert(dep_down(&w, "proxy"));
	/* London is not affected. */
	cr_assert(pool_up(&w, "ledge"));

	/* The front ends come back: the whole chain is up again, since 60. */
	set_probe(&w, "f1", true);
	cr_assert(gslb_state_eval(w.s, w.g, 60));
	cr_assert(pool_up(&w, "fe"));
	cr_assert(pool_up(&w, "edge"));
	cr_assert(pool_up(&w, "proxy"));
	cr_assert_not(dep_down(&w, "edge"));
	/* a recovery is stamped the next second (times are whole seconds) */
	cr_assert_eq(up_since(&w, "fe"), 61);
	cr_assert_eq(up_since(&w, "edge"), 61);
	cr_assert_eq(up_since(&w, "proxy"), 61);
	cr_assert_eq(up_since(&w, "ledge"), 0);
	world_free(&w);
}

Test(gslb_state, member_force_with_expiry)
{
	world_t w;
	world_new(&w, state_yaml);
	unsigned e1 = member_id(w.g, "e1"), e2 = member_id(w.g, "e2");
	w.s->member_force[e1] = (gslb_override_t){GSLB_FORCE_DOWN, 200};
	w.s->member_force[e2] = (gslb_override_t){GSLB_FORCE_DOWN, 0};
	cr_assert(gslb_state_eval(w.s, w.g, 100));
	cr_assert_not(w.s->member_up[e1]);
	cr_assert_not(pool_up(&w, "edge"));
	cr_assert_not(dep_down(&w, "edge"));
	cr_assert_eq(gslb_state_next_event(w.s, w.g, 100), 200);

	/* A forced-up member counts though its probe says down. */
	set_probe(&w, "e2", false);
	w.s->member_force[e2] = (gslb_override_t){GSLB_FORCE_UP, 0};
	cr_assert(gslb_state_eval(w.s, w.g, 150));
	cr_assert(w.s->member_up[e2]);
	cr_assert(pool_up(&w, "edge"));
	cr_assert_eq(up_since(&w, "edge"), 151);

	/* At 200 e1's force runs out: back to its probe (up). */
	cr_assert(gslb_state_eval(w.s, w.g, 200));
	cr_assert_eq(w.s->member_force[e1].force, GSLB_FORCE_AUTO);
	cr_assert_eq(w.s->member_force[e1].until, 0);
	cr_assert(w.s->member_up[e1]);
	cr_assert_eq(w.s->pool_members_up[pool_id(w.g, "edge")], 2);
	world_free(&w);
}

Test(gslb_state, pool_force)
{
	world_t w;
	world_new(&w, state_yaml);
	unsigned fe = pool_id(w.g, "fe");
	w.s->pool_force[fe] = (gslb_override_t){GSLB_FORCE_DOWN, 500};
	gslb_state_eval(w.s, w.g, 100);
	cr_assert_not(pool_up(&w, "fe"));
	cr_assert_not(dep_down(&w, "fe"));
	cr_assert(dep_down(&w, "edge"));

	/* Forced up below quorum. */
	for (int i = 1; i <= 5; i++) {
		char name[4];
		snprintf(name, sizeof(name), "f%d", i);
		set_probe(&w, name, false);
	}
	w.s->pool_force[fe] = (gslb_override_t){GSLB_FORCE_UP, 500};
	gslb_state_eval(w.s, w.g, 110);
	cr_assert(pool_up(&w, "fe"));
	cr_assert(pool_up(&w, "edge"));
	cr_assert_eq(w.s->pool_members_up[fe], 0);

	/* Expired: quorum decides again. */
	cr_assert(gslb_state_eval(w.s, w.g, 600));
	cr_assert_eq(w.s->pool_force[fe].force, GSLB_FORCE_AUTO);
	cr_assert_not(pool_up(&w, "fe"));
	cr_assert_not(pool_up(&w, "edge"));
	world_free(&w);
}

Test(gslb_state, site_force)
{
	world_t w;
	world_new(&w, state_yaml);
	/* Down: every pool at the site, whatever its health. */
	w.s->site_force[0] = (gslb_override_t){GSLB_FORCE_DOWN, 300};
	gslb_state_eval(w.s, w.g, 100);
	cr_assert_not(pool_up(&w, "fe"));
	cr_assert_not(pool_up(&w, "edge"));
	cr_assert_not(pool_up(&w, "proxy"));
	cr_assert_not(dep_down(&w, "edge"));
	cr_assert(pool_up(&w, "lfe"));

	/* A pool's own force is more specific than its site's. */
	w.s->pool_force[pool_id(w.g, "edge")] = (gslb_override_t){GSLB_FORCE_UP, 250};
	gslb_state_eval(w.s, w.g, 110);
	cr_assert(pool_up(&w, "edge"));
	cr_assert_not(pool_up(&w, "fe"));
	cr_assert_eq(gslb_state_next_event(w.s, w.g, 110), 250);

	/* Up: London's pools, below quorum. */
	set_probe(&w, "k1", false);
	w.s->site_force[1] = (gslb_override_t){GSLB_FORCE_UP, 0};
	gslb_state_eval(w.s, w.g, 120);
	cr_assert(pool_up(&w, "ledge"));

	/* 250: edge's force ends (site still down); 300: the site's. */
	gslb_state_eval(w.s, w.g, 250);
	cr_assert_not(pool_up(&w, "edge"));
	cr_assert_eq(gslb_state_next_event(w.s, w.g, 250), 300);
	gslb_state_eval(w.s, w.g, 300);
	cr_assert(pool_up(&w, "fe"));
	cr_assert(pool_up(&w, "edge"));
	cr_assert(pool_up(&w, "proxy"));
	cr_assert_eq(up_since(&w, "fe"), 301);
	world_free(&w);
}

Test(gslb_state, hold_down_events)
{
	world_t w;
	world_new(&w, state_yaml);
	unsigned edge = pool_id(w.g, "edge"), proxy = pool_id(w.g, "proxy");
	set_probe(&w, "e1", false);
	set_probe(&w, "e2", false);
	gslb_state_eval(w.s, w.g, 1000);
	cr_assert_not(pool_up(&w, "edge"));
	cr_assert_eq(gslb_state_next_event(w.s, w.g, 1000), 0);

	set_probe(&w, "e2", true);
	cr_assert(gslb_state_eval(w.s, w.g, 1010));
	/* stamped the next second: a hold-down is never cut short */
	cr_assert_eq(up_since(&w, "edge"), 1011);
	cr_assert_eq(up_since(&w, "proxy"), 1011);
	/* proxy: service t, 30 s; edge: service s, 100 s. */
	cr_assert_eq(gslb_state_next_event(w.s, w.g, 1010), 1041);
	cr_assert_not(gslb_state_pool_usable(w.s, w.g, 1, proxy, 1040));
	cr_assert(gslb_state_pool_usable(w.s, w.g, 1, proxy, 1041));
	cr_assert_eq(gslb_state_next_event(w.s, w.g, 1041), 1111);
	cr_assert_not(gslb_state_pool_usable(w.s, w.g, 0, edge, 1110));
	cr_assert(gslb_state_pool_usable(w.s, w.g, 0, edge, 1111));
	cr_assert_eq(gslb_state_next_event(w.s, w.g, 1111), 0);
	/* Up since start: no hold-down. */
	cr_assert(gslb_state_pool_usable(w.s, w.g, 0, pool_id(w.g, "ledge"), 1010));

	/* An override's expiry counts too, whichever is first. */
	w.s->member_force[member_id(w.g, "r1")] = (gslb_override_t){GSLB_FORCE_DOWN, 1020};
	cr_assert_eq(gslb_state_next_event(w.s, w.g, 1010), 1020);
	/* Not evaluated yet at 1030: due now. */
	cr_assert_eq(gslb_state_next_event(w.s, w.g, 1030), 1030);

	/* Forced up: usable at once, no hold-down event for it. */
	set_probe(&w, "e2", false);
	w.s->member_force[member_id(w.g, "r1")] = (gslb_override_t){0};
	gslb_state_eval(w.s, w.g, 2000);
	w.s->pool_force[edge] = (gslb_override_t){GSLB_FORCE_UP, 0};
	gslb_state_eval(w.s, w.g, 2001);
	cr_assert(gslb_state_pool_usable(w.s, w.g, 0, edge, 2001));
	cr_assert_not(gslb_state_pool_usable(w.s, w.g, 1, proxy, 2001));
	cr_assert_eq(gslb_state_next_event(w.s, w.g, 2001), 2032);
	world_free(&w);
}

/* The reloaded model drops `proxy`, renames nothing else, adds member f6 to
 * fe and moves sites around: state follows names, not indexes. */
static const char state_yaml2[] =
    "sites:\n"
    "  lon: {}\n"
    "  nyc: {}\n"
    "geo_maps:\n"
    "  lync: { default: [nyc, lon] }\n"
    "members:\n"
    "  f6: { address: 10.0.0.6 }\n"
    "  k2: { address: 10.0.3.2 }\n"
    "  k1: { address: 10.0.3.1 }\n"
    "  f1: { address: 10.0.0.1 }\n"
    "  f2: { address: 10.0.0.2 }\n"
    "  f3: { address: 10.0.0.3 }\n"
    "  f4: { address: 10.0.0.4 }\n"
    "  f5: { address: 10.0.0.5 }\n"
    "  e1: { address: 10.0.2.1 }\n"
    "  e2: { address: 10.0.2.2 }\n"
    "pools:\n"
    "  ledge: { site: lon, members: [k1, k2], min_up: 1 }\n"
    "  edge: { site: nyc, members: [e1, e2], min_up: 1, requires: [fe] }\n"
    "  fe: { site: nyc, members: [f1, f2, f3, f4, f5, f6], min_up: 2 }\n"
    "services:\n"
    "  s:\n"
    "    map: lync\n"
    "    zone: lyncweb.contoso.test\n"
    "    hold_down: 100\n"
    "    pools: { nyc: edge, lon: ledge }\n"
    "    names: { www: { kind: failover } }\n";

Test(gslb_state, carry_by_name)
{
	world_t a, b;
	world_new(&a, state_yaml);
	/* Old state: fe below quorum (and so edge down), ledge came back at 500,
	 * overrides on a member, a pool and a site. */
	set_probe(&a, "f1", false);
	set_probe(&a, "f2", false);
	set_probe(&a, "f3", false);
	set_probe(&a, "k1", false);
	gslb_state_eval(a.s, a.g, 400);
	set_probe(&a, "k1", true);
	gslb_state_eval(a.s, a.g, 500);
	cr_assert_eq(up_since(&a, "ledge"), 501);
	a.s->member_force[member_id(a.g, "e2")] = (gslb_override_t){GSLB_FORCE_DOWN, 900};
	a.s->pool_force[pool_id(a.g, "ledge")] = (gslb_override_t){GSLB_FORCE_AUTO, 0};
	a.s->site_force[1] = (gslb_override_t){GSLB_FORCE_DOWN, 800}; /* lon */
	a.s->site_force[1] = (gslb_override_t){GSLB_FORCE_AUTO, 0};
	a.s->pool_force[pool_id(a.g, "lfe")] = (gslb_override_t){GSLB_FORCE_UP, 0};
	a.s->site_force[0] = (gslb_override_t){GSLB_FORCE_UP, 700}; /* nyc */
	gslb_state_eval(a.s, a.g, 510);
	cr_assert(pool_up(&a, "fe")); /* forced up by its site */
	a.s->site_force[0] = (gslb_override_t){GSLB_FORCE_AUTO, 0};
	gslb_state_eval(a.s, a.g, 520);
	cr_assert_not(pool_up(&a, "fe"));
	a.s->site_force[1] = (gslb_override_t){GSLB_FORCE_UP, 700}; /* lon */

	world_new(&b, state_yaml2);
	gslb_state_carry(b.s, b.g, a.s, a.g);
	gslb_state_eval(b.s, b.g, 530);

	cr_assert_not(b.s->member_probe_up[member_id(b.g, "f1")]);
	cr_assert(b.s->member_probe_up[member_id(b.g, "f4")]);
	cr_assert(b.s->member_probe_up[member_id(b.g, "f6")]); /* new: up */
	cr_assert_eq(b.s->member_force[member_id(b.g, "e2")].force, GSLB_FORCE_DOWN);
	cr_assert_eq(b.s->member_force[member_id(b.g, "e2")].until, 900);
	/* Sites by name: lon is site 0 in the new model. */
	cr_assert_eq(b.s->site_force[0].force, GSLB_FORCE_UP);
	cr_assert_eq(b.s->site_force[0].until, 700);
	cr_assert_eq(b.s->site_force[1].force, GSLB_FORCE_AUTO);
	/* fe now needs 2 of 6, has 3: it comes up at the reload, as a recovery. */
	cr_assert(pool_up(&b, "fe"));
	cr_assert_eq(up_since(&b, "fe"), 531);
	cr_assert(pool_up(&b, "edge"));
	cr_assert_eq(up_since(&b, "edge"), 531);
	/* ledge keeps its hold-down from before the reload... */
	cr_assert_eq(up_since(&b, "ledge"), 501);
	/* ...but London is forced up until 700, so no hold-down event for it. */
	cr_assert_eq(gslb_state_next_event(b.s, b.g, 530), 631);
	world_free(&a);
	world_free(&b);
}
