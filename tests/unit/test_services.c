/* test_services.c -- unit tests of src/gslb/gslb_answer.c: the answer each kind gives, by client and health. */
#include "config.h"

#include <arpa/inet.h>

#include "testutil.h"
#include "gslb/gslb_answer.h"

static const char *const zones[] = {"example.test"};

/* Two sites; the map places 10.1/16 in New York and 10.2/16 in London. */
static const char cfg[] = "sites:\n"
			  "  nyc: {}\n"
			  "  lon: {}\n"
			  "geo_maps:\n"
			  "  m:\n"
			  "    nets:\n"
			  "      10.1.0.0/16: [nyc, lon]\n"
			  "      10.2.0.0/16: [lon, nyc]\n"
			  "      2001:db8:2::/48: [lon, nyc]\n"
			  "    default: [nyc, lon]\n"
			  "members:\n"
			  "  n1: { address: 10.1.2.1, answer: [192.0.2.11], weight: 100, host: e1.nyc }\n"
			  "  n2: { address: 10.1.2.2, answer: [192.0.2.12], weight: 100, host: e2.nyc }\n"
			  "  l1: { address: 10.2.2.1, answer: [198.51.100.11, \"2001:db8:2::11\"], weight: 100, host: e1.lon }\n"
			  "  l2: { address: 10.2.2.2, answer: [198.51.100.12], weight: 50, host: e2.lon }\n"
			  "  nf1: { address: 10.1.1.1 }\n"
			  "  nf2: { address: 10.1.1.2 }\n"
			  "  nf3: { address: 10.1.1.3 }\n"
			  "  lf1: { address: 10.2.1.1 }\n"
			  "  lf2: { address: 10.2.1.2 }\n"
			  "  lf3: { address: 10.2.1.3 }\n"
			  "pools:\n"
			  "  nyc-fe: { site: nyc, members: [nf1, nf2, nf3] }\n"
			  "  lon-fe: { site: lon, members: [lf1, lf2, lf3] }\n"
			  "  nyc-edge: { site: nyc, members: [n1, n2], min_up: 1, requires: [nyc-fe] }\n"
			  "  lon-edge: { site: lon, members: [l1, l2], min_up: 1, requires: [lon-fe] }\n"
			  "services:\n"
			  "  s:\n"
			  "    map: m\n"
			  "    zone: example.test\n"
			  "    pools: { nyc: nyc-edge, lon: lon-edge }\n"
			  "    ttl: 300\n"
			  "    failover_ttl: 30\n"
			  "    hold_down: 600s\n"
			  "    names:\n"
			  "      fo: { kind: failover }\n"
			  "      mu: { kind: multi, max: 3 }\n"
			  "      we: { kind: weighted, count: 1, sticky: true }\n"
			  "      sr: { kind: srv, port: 443 }\n"
			  "      cn: { kind: cname, hosts: { nyc: web-nyc, lon: web-lon } }\n";

static conf_errs_t errs;
static conf_doc_t *doc;
static geo_conf_t *geo;
static gslb_t *g;
static gslb_state_t *st;

static void setup(void)
{
	conf_errs_init(&errs);
	doc = conf_load_string("t.yaml", cfg, strlen(cfg), &errs);
	cr_assert_not_null(doc, "%s", errs.count ? errs.msg[0] : "?");
	geo = geo_conf_load(doc, &errs);
	cr_assert_not_null(geo, "%s", errs.count ? errs.msg[0] : "?");
	g = gslb_load(doc, geo, zones, 1, &errs);
	cr_assert_not_null(g, "%s", errs.count ? errs.msg[0] : "?");
	st = gslb_state_new(g);
	cr_assert_not_null(st);
}

static void teardown(void)
{
	gslb_state_free(st);
	gslb_free(g);
	geo_conf_free(geo);
	conf_free(doc);
	conf_errs_free(&errs);
}

TestSuite(services, .init = setup, .fini = teardown);

/* Evaluate health at `now` and prepare the answers (what the main thread does). */
static void rebuild(time_t now)
{
	gslb_state_eval(st, g, now);
	gslb_live_t *l = gslb_build(g, st, now);
	cr_assert_not_null(l);
	gslb_live_free(g->live);
	g->live = l;
}

static const gslb_name_t *name(const char *label)
{
	uint8_t w[64];
	size_t n = strlen(label);
	w[0] = (uint8_t)n;
	memcpy(w + 1, label, n);
	memcpy(w + 1 + n, "\7example\4test", 14);
	for (unsigned i = 0; i < g->n_names; i++)
		if (memcmp(g->names[i].name, w, n + 15) == 0)
			return &g->names[i];
	cr_assert_fail("no name %s", label);
	return NULL;
}

static void force(const char *obj, gslb_force_t f)
{
	int kind;
	unsigned idx;
	cr_assert_eq(gslb_find_object(g, obj, &kind, &idx), 0, "%s", obj);
	gslb_override_t *o = kind == 0 ? &st->member_force[idx]
			     : kind == 1 ? &st->pool_force[idx]
					 : &st->site_force[idx];
	o->force = f;
	o->until = 0;
}

/* Ask as a client at `ip` (the packet's source) or with ECS `ecs`/`bits`. */
static void ask(const char *label, uint16_t qtype, const char *ip, const char *ecs, unsigned bits,
		answer_plan_t *p)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	wire_ecs_t e = {.family = 1, .source = (uint8_t)bits};
	answer_client_t c = {0};
	if (ip) {
		cr_assert_eq(inet_pton(AF_INET, ip, &sin.sin_addr), 1);
		c.peer = (const struct sockaddr *)&sin;
	}
	if (ecs) {
		cr_assert_eq(inet_pton(AF_INET, ecs, e.addr), 1);
		c.ecs = &e;
	}
	gslb_plan(g, name(label), &c, qtype, p);
}

/* The addresses of an A RRset as "a,b,c" and its TTL. */
static const char *addrs(const zone_rrset_t *s, uint32_t *ttl)
{
	static char buf[512];
	buf[0] = '\0';
	const uint8_t *w = s->wire;
	for (unsigned i = 0; i < s->count; i++) {
		char a[64];
		uint16_t rdlen = wire_get_u16(w + 8);
		inet_ntop(rdlen == 4 ? AF_INET : AF_INET6, w + 10, a, sizeof(a));
		if (i)
			strcat(buf, ",");
		strcat(buf, a);
		*ttl = wire_get_u32(w + 4);
		w += 10 + rdlen;
	}
	return buf;
}

static void expect_a(const answer_plan_t *p, const char *want, uint32_t want_ttl)
{
	uint32_t ttl = 0;
	cr_assert_eq(p->n_an, 1, "n_an %u", p->n_an);
	cr_assert_str_eq(addrs(p->an[0], &ttl), want);
	cr_assert_eq(ttl, want_ttl);
}

Test(services, failover_follows_the_client)
{
	answer_plan_t p;
	rebuild(100);
	ask("fo", WIRE_T_A, "10.1.0.5", NULL, 0, &p);
	expect_a(&p, "192.0.2.11,192.0.2.12", 300);
	cr_assert(!p.ecs_used);
	ask("fo", WIRE_T_A, "10.2.0.5", NULL, 0, &p);
	expect_a(&p, "198.51.100.11,198.51.100.12", 300);
	/* ECS decides when present: a London subnet behind a New York resolver */
	ask("fo", WIRE_T_A, "10.1.0.5", "10.2.3.0", 24, &p);
	expect_a(&p, "198.51.100.11,198.51.100.12", 300);
	cr_assert(p.ecs_used);
	cr_assert_eq(p.scope, 16, "the net is a /16");
	/* SOURCE 0: not tailored, decided on the resolver's address */
	ask("fo", WIRE_T_A, "10.2.0.5", "0.0.0.0", 0, &p);
	cr_assert(!p.ecs_used);
	expect_a(&p, "198.51.100.11,198.51.100.12", 300);
	/* A and AAAA together: New York has no AAAA, so NODATA (not London) */
	ask("fo", WIRE_T_AAAA, "10.1.0.5", NULL, 0, &p);
	cr_assert_eq(p.n_an, 0);
	ask("fo", WIRE_T_AAAA, "10.2.0.5", NULL, 0, &p);
	cr_assert_eq(p.n_an, 1);
	/* other types at a failover name: NODATA */
	ask("fo", WIRE_T_SRV, "10.2.0.5", NULL, 0, &p);
	cr_assert_eq(p.n_an, 0);
}

Test(services, alice_ny_edge_down)
{
	answer_plan_t p;
	force("n1", GSLB_FORCE_DOWN);
	rebuild(100);
	ask("fo", WIRE_T_A, "10.1.0.5", NULL, 0, &p);
	expect_a(&p, "192.0.2.12", 30); /* one NY Edge left: still NY, short TTL */
	force("n2", GSLB_FORCE_DOWN);
	rebuild(101);
	ask("fo", WIRE_T_A, "10.1.0.5", NULL, 0, &p);
	expect_a(&p, "198.51.100.11,198.51.100.12", 30);
	cr_assert(!p.failopen);
	/* London clients keep their first choice, but a candidate is down */
	ask("fo", WIRE_T_A, "10.2.0.5", NULL, 0, &p);
	expect_a(&p, "198.51.100.11,198.51.100.12", 30);
}

Test(services, bob_london_pool_below_quorum)
{
	answer_plan_t p;
	force("lf1", GSLB_FORCE_DOWN);
	rebuild(100);
	ask("fo", WIRE_T_A, "10.2.0.5", NULL, 0, &p);
	/* 2 of 3: quorum holds, and the Edges in the answer are all up */
	expect_a(&p, "198.51.100.11,198.51.100.12", 300);
	force("lf2", GSLB_FORCE_DOWN);
	rebuild(101);
	/* The London Edge is up but requires the London pool: Bob goes to NY. */
	ask("fo", WIRE_T_A, "10.2.0.5", NULL, 0, &p);
	expect_a(&p, "192.0.2.11,192.0.2.12", 30);
	cr_assert(st->pool_dep_down[1 + 2], "lon-edge is down by dependency");
}

Test(services, everything_down_fails_open)
{
	answer_plan_t p;
	force("nyc", GSLB_FORCE_DOWN);
	force("lon", GSLB_FORCE_DOWN);
	rebuild(100);
	ask("fo", WIRE_T_A, "10.2.0.5", NULL, 0, &p);
	expect_a(&p, "198.51.100.11,198.51.100.12", 30);
	cr_assert(p.failopen);
	cr_assert_gt(g->live->failopen_names[name("fo") - g->names], 0);
}

Test(services, recovery_waits_out_the_hold_down)
{
	answer_plan_t p;
	force("nyc-edge", GSLB_FORCE_DOWN);
	rebuild(100);
	ask("fo", WIRE_T_A, "10.1.0.5", NULL, 0, &p);
	expect_a(&p, "198.51.100.11,198.51.100.12", 30);
	force("nyc-edge", GSLB_FORCE_AUTO);
	rebuild(1000);
	/* back at 1000.x: stamped 1001, so 600 s are never cut short */
	cr_assert_eq(gslb_state_next_event(st, g, 1000), 1601);
	ask("fo", WIRE_T_A, "10.1.0.5", NULL, 0, &p);
	expect_a(&p, "198.51.100.11,198.51.100.12", 30); /* held down */
	rebuild(1600);
	ask("fo", WIRE_T_A, "10.1.0.5", NULL, 0, &p);
	expect_a(&p, "198.51.100.11,198.51.100.12", 30);
	rebuild(1601);
	ask("fo", WIRE_T_A, "10.1.0.5", NULL, 0, &p);
	expect_a(&p, "192.0.2.11,192.0.2.12", 300);
}

/* SRV records as "prio weight port target" lines. */
static void srv_lines(const zone_rrset_t *s, char out[][320], unsigned *n)
{
	const uint8_t *w = s->wire;
	*n = s->count;
	for (unsigned i = 0; i < s->count; i++) {
		char t[256];
		uint16_t rdlen = wire_get_u16(w + 8);
		wire_name_to_text(w + 16, t, sizeof(t));
		snprintf(out[i], 320, "%u %u %u %s", wire_get_u16(w + 10), wire_get_u16(w + 12),
			 wire_get_u16(w + 14), t);
		w += 10 + rdlen;
	}
}

Test(services, srv_priorities_follow_the_client_and_dead_edges_go)
{
	answer_plan_t p;
	char l[8][320];
	unsigned n;
	rebuild(100);
	ask("sr", WIRE_T_SRV, "10.2.0.5", NULL, 0, &p);
	cr_assert_eq(p.n_an, 1);
	srv_lines(p.an[0], l, &n);
	cr_assert_eq(n, 4);
	cr_assert_str_eq(l[0], "10 100 443 e1.lon.example.test.");
	cr_assert_str_eq(l[1], "10 50 443 e2.lon.example.test.");
	cr_assert_str_eq(l[2], "20 100 443 e1.nyc.example.test.");
	cr_assert_str_eq(l[3], "20 100 443 e2.nyc.example.test.");
	cr_assert_eq(p.n_ad, 5, "A of four targets and the AAAA of e1.lon");
	ask("sr", WIRE_T_SRV, "10.1.0.5", NULL, 0, &p);
	srv_lines(p.an[0], l, &n);
	cr_assert_str_eq(l[0], "10 100 443 e1.nyc.example.test.");
	cr_assert_str_eq(l[2], "20 100 443 e1.lon.example.test.");
	force("l2", GSLB_FORCE_DOWN);
	rebuild(101);
	ask("sr", WIRE_T_SRV, "10.2.0.5", NULL, 0, &p);
	srv_lines(p.an[0], l, &n);
	cr_assert_eq(n, 3, "the dead Edge is withdrawn");
	for (unsigned i = 0; i < n; i++)
		cr_assert_null(strstr(l[i], "e2.lon"));
	ask("sr", WIRE_T_A, "10.2.0.5", NULL, 0, &p);
	cr_assert_eq(p.n_an, 0, "A at an SRV name: NODATA");
}

Test(services, multi_nearest_first_at_most_max)
{
	answer_plan_t p;
	rebuild(100);
	ask("mu", WIRE_T_A, "10.2.0.5", NULL, 0, &p);
	expect_a(&p, "198.51.100.11,198.51.100.12,192.0.2.11", 300);
	force("l1", GSLB_FORCE_DOWN);
	rebuild(101);
	ask("mu", WIRE_T_A, "10.2.0.5", NULL, 0, &p);
	expect_a(&p, "198.51.100.12,192.0.2.11,192.0.2.12", 30);
}

Test(services, cname_to_the_chosen_site)
{
	answer_plan_t p;
	char t[256];
	rebuild(100);
	ask("cn", WIRE_T_A, "10.2.0.5", NULL, 0, &p);
	cr_assert_not_null(p.cname_target);
	wire_name_to_text(p.cname_target, t, sizeof(t));
	cr_assert_str_eq(t, "web-lon.example.test.");
	force("lon-edge", GSLB_FORCE_DOWN);
	rebuild(101);
	ask("cn", WIRE_T_A, "10.2.0.5", NULL, 0, &p);
	wire_name_to_text(p.cname_target, t, sizeof(t));
	cr_assert_str_eq(t, "web-nyc.example.test.");
}

Test(services, sticky_weighted_moves_only_the_failed_members_clients)
{
	answer_plan_t p;
	uint32_t ttl;
	char first[256][32];
	rebuild(100);
	/* 256 client /24s: each always gets the same Edge. */
	for (int i = 0; i < 256; i++) {
		char ecs[32];
		snprintf(ecs, sizeof(ecs), "10.9.%d.0", i);
		ask("we", WIRE_T_A, "10.1.0.5", ecs, 24, &p);
		cr_assert_eq(p.n_an, 1);
		snprintf(first[i], sizeof(first[i]), "%s", addrs(p.an[0], &ttl));
		ask("we", WIRE_T_A, "10.1.0.5", ecs, 24, &p);
		cr_assert_str_eq(addrs(p.an[0], &ttl), first[i], "sticky");
		cr_assert_eq(p.scope, 24);
	}
	/* Kill n1: its clients move, nobody else does. */
	force("n1", GSLB_FORCE_DOWN);
	rebuild(101);
	int moved = 0, on_n1 = 0;
	for (int i = 0; i < 256; i++) {
		char ecs[32];
		snprintf(ecs, sizeof(ecs), "10.9.%d.0", i);
		ask("we", WIRE_T_A, "10.1.0.5", ecs, 24, &p);
		const char *now = addrs(p.an[0], &ttl);
		cr_assert_str_neq(now, "192.0.2.11");
		if (strcmp(first[i], "192.0.2.11") == 0)
			on_n1++;
		else if (strcmp(now, first[i]) != 0)
			moved++;
	}
	cr_assert_gt(on_n1, 0);
	cr_assert_eq(moved, 0, "%d clients of other Edges moved", moved);
}

Test(services, drain_lowers_the_ttl_then_withdraws)
{
	answer_plan_t p;
	rebuild(100);
	int kind;
	unsigned pool;
	cr_assert_eq(gslb_find_object(g, "nyc-edge", &kind, &pool), 0);
	/* withdrawn when the longest TTL it was served with (300 s) has run out */
	cr_assert_eq(gslb_state_drain(st, g, pool, 100), 400);
	rebuild(100);
	ask("fo", WIRE_T_A, "10.1.0.5", NULL, 0, &p);
	expect_a(&p, "192.0.2.11,192.0.2.12", 1);
	ask("fo", WIRE_T_A, "10.2.0.5", NULL, 0, &p);
	expect_a(&p, "198.51.100.11,198.51.100.12", 300); /* London answers do not name it */
	ask("mu", WIRE_T_A, "10.2.0.5", NULL, 0, &p);
	expect_a(&p, "198.51.100.11,198.51.100.12,192.0.2.11", 1); /* multi does */
	cr_assert_eq(gslb_state_next_event(st, g, 100), 400);
	rebuild(399);
	ask("fo", WIRE_T_A, "10.1.0.5", NULL, 0, &p);
	expect_a(&p, "192.0.2.11,192.0.2.12", 1);
	rebuild(400);
	ask("fo", WIRE_T_A, "10.1.0.5", NULL, 0, &p);
	expect_a(&p, "198.51.100.11,198.51.100.12", 30); /* withdrawn */
	/* draining again does not restart the clock */
	cr_assert_eq(gslb_state_drain(st, g, pool, 450), 400);
	gslb_state_undrain(st, pool);
	rebuild(500);
	ask("fo", WIRE_T_A, "10.1.0.5", NULL, 0, &p);
	expect_a(&p, "198.51.100.11,198.51.100.12", 30); /* back up, in hold-down */
	rebuild(1101);
	ask("fo", WIRE_T_A, "10.1.0.5", NULL, 0, &p);
	expect_a(&p, "192.0.2.11,192.0.2.12", 300);
}

Test(services, all_back_but_held_down_is_not_fail_open)
{
	answer_plan_t p;
	force("nyc", GSLB_FORCE_DOWN);
	force("lon", GSLB_FORCE_DOWN);
	rebuild(100);
	ask("fo", WIRE_T_A, "10.1.0.5", NULL, 0, &p);
	cr_assert(p.failopen);
	force("nyc", GSLB_FORCE_AUTO);
	force("lon", GSLB_FORCE_AUTO);
	rebuild(1000); /* both up again, both inside their 600 s hold-down */
	ask("fo", WIRE_T_A, "10.1.0.5", NULL, 0, &p);
	expect_a(&p, "192.0.2.11,192.0.2.12", 30);
	cr_assert(!p.failopen, "an up site in hold-down beats failing open");
	ask("we", WIRE_T_A, "10.1.0.5", "10.9.1.0", 24, &p);
	cr_assert_eq(p.n_an, 1);
	cr_assert(!p.failopen);
	ask("sr", WIRE_T_SRV, "10.2.0.5", NULL, 0, &p);
	cr_assert_eq(p.an[0]->count, 4);
	cr_assert(!p.failopen);
	/* with New York still down, London (held down) is taken, not fail-open */
	force("nyc-edge", GSLB_FORCE_DOWN);
	rebuild(1001);
	ask("fo", WIRE_T_A, "10.1.0.5", NULL, 0, &p);
	expect_a(&p, "198.51.100.11,198.51.100.12", 30);
	cr_assert(!p.failopen);
}
