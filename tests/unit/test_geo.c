/* test_geo.c -- unit tests of src/geo: compiling geo maps and looking up sites and ECS scopes. */
#include "config.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <maxminddb.h>

#include "geo/geo.h"

/* --- fixtures ------------------------------------------------------------- */

/* MaxMind's test databases live beside the project, in
 * $top_srcdir/../shared/geo/maxmind-test/, or where WAYMARK_MAXMIND_TEST_DIR
 * says (an unpacked distribution, as in `make distcheck`, has no ../shared). */
static const char *mm(const char *name)
{
	static char buf[4][4096];
	static int k;
	const char *dir = getenv("WAYMARK_MAXMIND_TEST_DIR");
	const char *top = getenv("top_srcdir");
	char *b = buf[k++ & 3];
	if (dir != NULL)
		snprintf(b, sizeof(buf[0]), "%s/%s", dir, name);
	else
		snprintf(b, sizeof(buf[0]), "%s/../shared/geo/maxmind-test/%s", top ? top : ".",
			 name);
	return b;
}

/* Skip (visibly, in the TAP output) a test that needs MaxMind's databases
 * when they are not there. */
#define NEED_MAXMIND()                                                                             \
	do {                                                                                       \
		if (access(mm("GeoIP2-City-Test.mmdb"), R_OK) != 0)                                \
			cr_skip_test("MaxMind test databases not found (%s); set "                 \
				     "WAYMARK_MAXMIND_TEST_DIR",                                   \
				     mm(""));                                                      \
	} while (0)

/* The lab database as the build just made it from geo/lab.csv (the
 * checked-in geo/lab.mmdb is compared with it in geo_lab). */
static const char *lab_db(void)
{
	static char buf[4096];
	const char *b = getenv("top_builddir");
	snprintf(buf, sizeof(buf), "%s/geo/lab-fromcsv.mmdb", b ? b : ".");
	return buf;
}

enum { NY, LON, SG, NOWHERE };

static const geo_site_t sites[] = {
    {.name = "newyork", .has_coords = true, .lat = 40.7128, .lon = -74.0060},
    {.name = "london", .has_coords = true, .lat = 51.5074, .lon = -0.1278},
    {.name = "singapore", .has_coords = true, .lat = 1.3521, .lon = 103.8198},
    {.name = "nowhere"}, /* no coordinates: last in any nearest order */
};

static const uint16_t o_na[] = {NY, LON, SG};
static const uint16_t o_eu[] = {LON, NY, SG};
static const uint16_t o_as[] = {SG, LON, NY};
static const uint16_t o_def[] = {NY, SG, LON}; /* differs from every rule's order */
static const uint16_t o_sg[] = {SG};
static const uint16_t o_lon[] = {LON};
static const uint16_t o_ny[] = {NY};
static const uint16_t o_nowhere[] = {NOWHERE};

#define ORDER(a) ((geo_order_t){.ids = (a), .n = sizeof(a) / sizeof((a)[0])})

static const geo_rule_t continent_rules[] = {
    {.match = GEO_MATCH_CONTINENT, .code = "NA", .order = ORDER(o_na), .line = 10},
    {.match = GEO_MATCH_CONTINENT, .code = "EU", .order = ORDER(o_eu), .line = 11},
    {.match = GEO_MATCH_CONTINENT, .code = "AS", .order = ORDER(o_as), .line = 12},
};

static geo_spec_t base_spec(const char *db)
{
	return (geo_spec_t){
	    .source = "test.yaml",
	    .db_path = db,
	    .sites = sites,
	    .n_sites = 3,
	    .rules = continent_rules,
	    .n_rules = 3,
	    .default_order = ORDER(o_def),
	};
}

static geo_map_t *compile_ok(const geo_spec_t *s)
{
	char err[512] = "";
	geo_map_t *m = geo_map_compile(s, err, sizeof(err));
	cr_assert_not_null(m, "compile failed: %s", err);
	return m;
}

/* Compile expecting failure; returns the message (static). */
static const char *compile_err(const geo_spec_t *s)
{
	static char err[512];
	err[0] = '\0';
	geo_map_t *m = geo_map_compile(s, err, sizeof(err));
	cr_assert_null(m, "compile should have failed");
	cr_assert_neq(err[0], '\0', "no error message");
	return err;
}

static void parse_addr(const char *text, uint8_t a[16])
{
	uint8_t v4[4];
	if (inet_pton(AF_INET, text, v4) == 1)
		geo_addr_from_v4(a, v4);
	else
		cr_assert_eq(inet_pton(AF_INET6, text, a), 1, "bad test address %s", text);
}

/* The sites for `text` as "a,b,c"; `fam_source` is the source prefix in the
 * address's own family (-1: the whole address); *fam_scope likewise. */
static const char *look(const geo_map_t *m, const char *text, int fam_source, unsigned *fam_scope)
{
	static char buf[4][256];
	static int k;
	char *out = buf[k++ & 3];
	uint8_t a[16];
	parse_addr(text, a);
	unsigned src = 128;
	if (fam_source >= 0)
		src = (unsigned)fam_source + (geo_addr_is_v4(a) ? 96 : 0);
	unsigned scope = 999;
	uint32_t cls = geo_lookup(m, a, src, &scope);
	cr_assert_lt(cls, geo_class_count(m));
	cr_assert_leq(scope, src);
	if (fam_scope != NULL)
		*fam_scope = geo_scope_family(a, scope);
	unsigned n;
	const uint16_t *ids = geo_class_sites(m, cls, &n);
	out[0] = '\0';
	for (unsigned i = 0; i < n; i++) {
		strcat(out, i ? "," : "");
		strcat(out, geo_site_name(m, ids[i]));
	}
	return out;
}

#define S_NA "newyork,london,singapore"
#define S_EU "london,newyork,singapore"
#define S_AS "singapore,london,newyork"
#define S_DEF "newyork,singapore,london"

#define CHECK(m, addr, fam_source, sites_expected, scope_expected)                                 \
	do {                                                                                       \
		unsigned sc_;                                                                      \
		const char *got_ = look(m, addr, fam_source, &sc_);                                \
		cr_expect_str_eq(got_, sites_expected, "%s: sites", addr);                         \
		cr_expect_eq(sc_, (unsigned)(scope_expected), "%s: scope %u, expected %u", addr,   \
			     sc_, (unsigned)(scope_expected));                                     \
	} while (0)

/* --- the addresses ----------------------------------------------- */

/*
 * Expected scopes, from `mmdblookup -v` (record prefix length) and the merge:
 *  81.2.69.142   db /31 (::81.2.69.142/127); its sibling 81.2.69.140/31 has no
 *                record (default class), so nothing merges: /31.
 *  89.160.20.112 db /28; sibling 89.160.20.96/28 is empty: /28.
 *  216.160.83.56 db /29; sibling 216.160.83.48/29 is empty: /29.
 *  2001:218::1   db /32 (JP); sibling 2001:219::/32 is empty: /32.
 *  1.2.3.4       no record; db prefix 0.0.0.0/8. 1.0.0.0/8 is empty too, so
 *                they merge into 0.0.0.0/7, whose sibling 2.0.0.0/7 holds
 *                GB records (EU class): /7.
 */
Test(geo_city, five_addresses)
{
	NEED_MAXMIND();
	geo_spec_t s = base_spec(mm("GeoIP2-City-Test.mmdb"));
	geo_map_t *m = compile_ok(&s);
	CHECK(m, "81.2.69.142", -1, S_EU, 31);
	CHECK(m, "89.160.20.112", -1, S_EU, 28);
	CHECK(m, "216.160.83.56", -1, S_NA, 29);
	CHECK(m, "2001:218::1", -1, S_AS, 32);
	CHECK(m, "1.2.3.4", -1, S_DEF, 7);
	geo_map_free(m);
}

Test(geo_city, ipv4_forms_and_aliases)
{
	NEED_MAXMIND();
	geo_spec_t s = base_spec(mm("GeoIP2-City-Test.mmdb"));
	geo_map_t *m = compile_ok(&s);
	/* ::ffff:a.b.c.d is how IPv4 is given; the same answer and scope */
	CHECK(m, "::ffff:81.2.69.142", -1, S_EU, 31);
	/* the database's own IPv4 subtree at ::/96 is a 128-bit scope */
	CHECK(m, "::81.2.69.142", -1, S_EU, 127);
	/* 6to4 (2002:5102:458e::/48 = 81.2.69.142) follows the file's alias */
	CHECK(m, "2002:5102:458e::1", -1, S_EU, 47);
	/* addresses nobody lists: 3000::/4 is the sibling of 2000::/4, where
	 * the IPv6 data is */
	CHECK(m, "3fff::1", -1, S_DEF, 4);
	geo_map_free(m);
}

/* Where the default order equals a rule's, the classes are one and the same,
 * and neighbours merge across records: the scope gets shorter than the
 * database's own prefix. */
Test(geo_city, merge_across_records)
{
	NEED_MAXMIND();
	static const geo_rule_t r[] = {
	    {.match = GEO_MATCH_CONTINENT, .code = "EU", .order = ORDER(o_eu), .line = 3},
	};
	geo_spec_t s = base_spec(mm("GeoIP2-City-Test.mmdb"));
	s.rules = r;
	s.n_rules = 1;
	s.default_order = ORDER(o_eu);
	geo_map_t *m = compile_ok(&s);
	cr_expect_eq(geo_class_count(m), 1);
	/* one class for everything: the whole space is one leaf */
	CHECK(m, "81.2.69.142", -1, S_EU, 0);
	CHECK(m, "2001:218::1", -1, S_EU, 0);
	geo_map_free(m);

	/* NA stays apart: 216.160.83.56/29 keeps its prefix, EU neighbours merge */
	static const geo_rule_t r2[] = {
	    {.match = GEO_MATCH_CONTINENT, .code = "NA", .order = ORDER(o_na), .line = 3},
	};
	s.rules = r2;
	m = compile_ok(&s);
	CHECK(m, "216.160.83.56", -1, S_NA, 29);
	unsigned sc;
	cr_expect_str_eq(look(m, "81.2.69.142", -1, &sc), S_EU);
	cr_expect_lt(sc, 31, "merged scope %u should be shorter than the database's /31", sc);
	geo_map_free(m);
}

/* --- nets ------------------------------------------------------------------ */

static geo_net_t net(const char *cidr, geo_order_t o, unsigned line)
{
	geo_net_t n = {.order = o, .line = line};
	char err[128];
	cr_assert_eq(geo_parse_prefix(cidr, n.addr, &n.prefix, err, sizeof(err)), 0, "%s", err);
	return n;
}

Test(geo_nets, override_database)
{
	NEED_MAXMIND();
	geo_net_t nets[] = {
	    net("81.2.69.0/24", ORDER(o_sg), 20),
	    net("2001:218::/48", ORDER(o_lon), 21),
	};
	geo_spec_t s = base_spec(mm("GeoIP2-City-Test.mmdb"));
	s.nets = nets;
	s.n_nets = 2;
	geo_map_t *m = compile_ok(&s);
	CHECK(m, "81.2.69.142", -1, "singapore", 24);
	CHECK(m, "::ffff:81.2.69.200", -1, "singapore", 24);
	CHECK(m, "2001:218::1", -1, "london", 48);
	/* outside the net the database answers; the net splits its /32 */
	CHECK(m, "2001:218:1::1", -1, S_AS, 48);
	CHECK(m, "89.160.20.112", -1, S_EU, 28);
	geo_map_free(m);
}

Test(geo_nets, most_specific_wins)
{
	/* given most specific first, on purpose */
	geo_net_t nets[] = {
	    net("10.1.2.0/24", ORDER(o_sg), 7),        net("10.1.0.0/16", ORDER(o_lon), 6),
	    net("10.0.0.0/8", ORDER(o_ny), 5),         net("2001:db8:1::/48", ORDER(o_lon), 8),
	    net("2001:db8::/32", ORDER(o_ny), 9),      net("192.0.2.1/32", ORDER(o_nowhere), 10),
	    net("2001:db8:1::1/128", ORDER(o_sg), 11),
	};
	geo_spec_t s = base_spec(NULL);
	s.n_sites = 4;
	s.nets = nets;
	s.n_nets = sizeof(nets) / sizeof(nets[0]);
	geo_map_t *m = compile_ok(&s);
	CHECK(m, "10.1.2.3", -1, "singapore", 24);
	CHECK(m, "10.1.3.1", -1, "london", 24);   /* sibling of 10.1.2.0/24 */
	CHECK(m, "10.1.128.1", -1, "london", 17); /* 10.1.128.0/17 */
	CHECK(m, "10.2.0.1", -1, "newyork", 15);  /* 10.2.0.0/15 */
	CHECK(m, "10.128.0.1", -1, "newyork", 9);
	CHECK(m, "192.0.2.1", -1, "nowhere", 32);
	CHECK(m, "192.0.2.0", -1, "newyork,singapore,london", 32);
	CHECK(m, "11.0.0.1", -1, S_DEF, 8);
	CHECK(m, "2001:db8:1::1", -1, "singapore", 128);
	CHECK(m, "2001:db8:1::2", -1, "london", 127);
	CHECK(m, "2001:db8:2::1", -1, "newyork", 47);
	CHECK(m, "2001:db9::1", -1, S_DEF, 32);
	geo_map_free(m);
}

Test(geo_nets, duplicate_is_an_error_with_both_lines)
{
	geo_net_t nets[] = {
	    net("10.0.0.0/8", ORDER(o_ny), 7),
	    net("10.1.0.0/16", ORDER(o_lon), 9),
	    net("10.0.0.0/8", ORDER(o_sg), 12),
	};
	geo_spec_t s = base_spec(NULL);
	s.nets = nets;
	s.n_nets = 3;
	const char *e = compile_err(&s);
	cr_expect(strstr(e, "test.yaml:12:") != NULL, "message '%s' lacks the second line", e);
	cr_expect(strstr(e, "line 7") != NULL, "message '%s' lacks the first line", e);
	cr_expect(strstr(e, "10.0.0.0/8") != NULL, "message '%s' lacks the net", e);

	/* the same for IPv6, spelled differently */
	geo_net_t n6[] = {
	    net("2001:db8::/32", ORDER(o_ny), 3),
	    net("2001:0db8:0::/32", ORDER(o_ny), 4),
	};
	s.nets = n6;
	s.n_nets = 2;
	e = compile_err(&s);
	cr_expect(strstr(e, ":4:") != NULL && strstr(e, "line 3") != NULL, "%s", e);
}

Test(geo_nets, host_bits_rejected)
{
	geo_net_t n = {.order = ORDER(o_ny), .line = 4};
	parse_addr("10.1.0.1", n.addr);
	n.prefix = 96 + 16;
	geo_spec_t s = base_spec(NULL);
	s.nets = &n;
	s.n_nets = 1;
	const char *e = compile_err(&s);
	cr_expect(strstr(e, "test.yaml:4:") != NULL, "%s", e);
}

/* --- ECS source prefixes --------------------------------------------------- */

Test(geo_ecs, scope_capped_at_source)
{
	NEED_MAXMIND();
	geo_net_t nets[] = {
	    net("10.1.2.0/24", ORDER(o_sg), 1),
	    net("2001:db8:1:100::/56", ORDER(o_lon), 2),
	};
	geo_spec_t s = base_spec(NULL);
	s.nets = nets;
	s.n_nets = 2;
	geo_map_t *m = compile_ok(&s);
	/* the client's /28 lies inside the net: the net's /24 is the scope */
	CHECK(m, "10.1.2.64", 28, "singapore", 24);
	/* a /20 source: only 10.1.0.0 counts, which the net does not hold; the
	 * leaf there is 10.1.0.0/23, longer than the source: capped to /20 */
	CHECK(m, "10.1.0.0", 20, S_DEF, 20);
	/* bits beyond the source are ignored even if the caller sent them */
	CHECK(m, "10.1.2.77", 20, S_DEF, 20);
	/* a packet's source address: full length, leaf depth */
	CHECK(m, "10.1.2.77", -1, "singapore", 24);
	CHECK(m, "10.1.3.77", -1, S_DEF, 24);
	/* source /0: scope 0 */
	CHECK(m, "10.1.2.77", 0, S_DEF, 0);
	/* IPv6 */
	CHECK(m, "2001:db8:1:100::", 56, "london", 56);
	CHECK(m, "2001:db8:1:100::", 64, "london", 56);
	CHECK(m, "2001:db8:1:100::", 48, S_DEF, 48);
	CHECK(m, "2001:db8:1:100::", 24, S_DEF, 24);
	geo_map_free(m);

	/* against the database: 216.160.83.56/29 */
	geo_spec_t c = base_spec(mm("GeoIP2-City-Test.mmdb"));
	m = compile_ok(&c);
	CHECK(m, "216.160.83.56", 32, S_NA, 29);
	CHECK(m, "216.160.83.57", 30, S_NA, 29);
	CHECK(m, "216.160.83.56", 29, S_NA, 29);
	CHECK(m, "216.160.83.56", 24, S_DEF, 24); /* 216.160.83.0 has no record */
	CHECK(m, "2001:218::1", 24, S_DEF, 24);
	geo_map_free(m);
}

/* --- rules ----------------------------------------------------------------- */

Test(geo_rules, most_specific_wins)
{
	NEED_MAXMIND();
	static const uint16_t o1[] = {SG}, o2[] = {NY}, o3[] = {LON}, o4[] = {LON, SG};
	static const uint16_t o5[] = {NY, SG}, o6[] = {SG, NY};
	static const geo_rule_t r[] = {
	    {.match = GEO_MATCH_CONTINENT, .code = "eu", .order = ORDER(o1), .line = 1},
	    {.match = GEO_MATCH_COUNTRY, .code = "GB", .order = ORDER(o2), .line = 2},
	    {.match = GEO_MATCH_SUBDIVISION, .code = "GB-ENG", .order = ORDER(o3), .line = 3},
	    {.match = GEO_MATCH_SUBDIVISION, .code = "gb-wbk", .order = ORDER(o4), .line = 4},
	    {.match = GEO_MATCH_COUNTRY, .code = "US", .order = ORDER(o5), .line = 5},
	    {.match = GEO_MATCH_SUBDIVISION, .code = "US-WA", .order = ORDER(o6), .line = 6},
	    {.match = GEO_MATCH_CONTINENT, .code = "NA", .order = ORDER(o_na), .line = 7},
	};
	geo_spec_t s = base_spec(mm("GeoIP2-City-Test.mmdb"));
	s.rules = r;
	s.n_rules = sizeof(r) / sizeof(r[0]);
	geo_map_t *m = compile_ok(&s);
	CHECK(m, "2.125.160.217", -1, "london,singapore", 29);   /* GB, ENG, WBK */
	CHECK(m, "81.2.69.142", -1, "london", 31);               /* GB, ENG */
	CHECK(m, "2a02:d3c0::1", -1, "newyork", 29);             /* GB */
	CHECK(m, "89.160.20.112", -1, "singapore", 28);          /* SE: continent EU */
	CHECK(m, "2a02:d500::1", -1, "singapore", 29);           /* EU, no country */
	CHECK(m, "216.160.83.56", -1, "singapore,newyork", 29);  /* US, WA */
	CHECK(m, "149.101.100.1", -1, "newyork,singapore", 28);  /* US */
	CHECK(m, "2001:480:10::1", -1, "newyork,singapore", 48); /* US, CA: no rule */
	geo_map_free(m);
}

Test(geo_rules, bad_rules)
{
	geo_rule_t r[2] = {
	    {.match = GEO_MATCH_CONTINENT, .code = "XX", .order = ORDER(o_na), .line = 31},
	};
	geo_spec_t s = base_spec(NULL);
	s.rules = r;
	s.n_rules = 1;
	cr_expect(strstr(compile_err(&s), "test.yaml:31:") != NULL);
	r[0] = (geo_rule_t){
	    .match = GEO_MATCH_COUNTRY, .code = "GBR", .order = ORDER(o_na), .line = 2};
	cr_expect(strstr(compile_err(&s), ":2:") != NULL);
	r[0] = (geo_rule_t){
	    .match = GEO_MATCH_SUBDIVISION, .code = "ENG", .order = ORDER(o_na), .line = 3};
	cr_expect(strstr(compile_err(&s), ":3:") != NULL);
	/* the same code twice, in different case */
	r[0] =
	    (geo_rule_t){.match = GEO_MATCH_COUNTRY, .code = "gb", .order = ORDER(o_na), .line = 4};
	r[1] =
	    (geo_rule_t){.match = GEO_MATCH_COUNTRY, .code = "GB", .order = ORDER(o_eu), .line = 8};
	s.n_rules = 2;
	const char *e = compile_err(&s);
	cr_expect(strstr(e, ":8:") != NULL && strstr(e, "line 4") != NULL, "%s", e);
	/* bad site ids and empty lists */
	static const uint16_t bad[] = {NY, 7};
	static const uint16_t twice[] = {NY, LON, NY};
	r[1] =
	    (geo_rule_t){.match = GEO_MATCH_COUNTRY, .code = "FR", .order = ORDER(bad), .line = 9};
	cr_expect(strstr(compile_err(&s), ":9:") != NULL);
	r[1].order = ORDER(twice);
	cr_expect(strstr(compile_err(&s), ":9:") != NULL);
	r[1].order = (geo_order_t){0};
	cr_expect(strstr(compile_err(&s), ":9:") != NULL);
}

/* --- nearest --------------------------------------------------------------- */

Test(geo_nearest, by_coordinates)
{
	NEED_MAXMIND();
	static const geo_rule_t r[] = {
	    {.match = GEO_MATCH_CONTINENT, .code = "EU", .order = ORDER(o_eu), .line = 1},
	};
	geo_spec_t s = base_spec(mm("GeoIP2-City-Test.mmdb"));
	s.rules = r;
	s.n_rules = 1;
	s.nearest = true;
	s.n_sites = 4; /* "nowhere" has no coordinates: always last */
	geo_map_t *m = compile_ok(&s);
	/* Tokyo: Singapore 5300 km, London 9600, New York 10900 */
	CHECK(m, "2001:218::1", -1, "singapore,london,newyork,nowhere", 32);
	/* western Washington: New York 3900 km, London 7700, Singapore 13000 */
	CHECK(m, "216.160.83.56", -1, "newyork,london,singapore,nowhere", 29);
	/* a rule still beats nearest */
	CHECK(m, "81.2.69.142", -1, S_EU, 31);
	/* no record: default */
	CHECK(m, "1.2.3.4", -1, S_DEF, 7);
	/* an empty record (214.1.1.0/24 is {}): default, and as the rest of
	 * 214.1.0.0/16 has no record, merged into it */
	CHECK(m, "214.1.1.1", -1, S_DEF, 16);
	geo_map_free(m);

	/* nearest needs coordinates */
	s.sites = sites + 3;
	s.n_sites = 1;
	s.rules = NULL;
	s.n_rules = 0;
	s.default_order = (geo_order_t){0};
	compile_err(&s);
}

/* --- bad databases --------------------------------------------------------- */

static void expect_rejected(const char *path)
{
	geo_spec_t s = base_spec(path);
	const char *e = compile_err(&s);
	cr_log_info("%s", e);
	cr_expect(strstr(e, strrchr(path, '/') + 1) != NULL, "message '%s' does not name the file",
		  e);
}

Test(geo_baddb, broken_files_rejected)
{
	NEED_MAXMIND();
	expect_rejected(mm("GeoIP2-City-Test-Broken-Double-Format.mmdb"));
	expect_rejected(mm("GeoIP2-City-Test-Invalid-Node-Count.mmdb"));
	expect_rejected(mm("MaxMind-DB-test-broken-pointers-24.mmdb"));
	expect_rejected(mm("MaxMind-DB-test-broken-search-tree-24.mmdb"));
	expect_rejected(mm("does-not-exist.mmdb"));
	/* a database without geography */
	expect_rejected(mm("GeoLite2-ASN-Test.mmdb"));
}

Test(geo_baddb, truncated_and_damaged)
{
	NEED_MAXMIND();
	FILE *f = fopen(mm("GeoIP2-City-Test.mmdb"), "rb");
	cr_assert_not_null(f);
	static uint8_t buf[1 << 16];
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	cr_assert_gt(n, 20000);
	char path[] = "/tmp/test_geo_XXXXXX.mmdb";
	int fd = mkstemps(path, 5);
	cr_assert_geq(fd, 0);
	close(fd);

	/* cut anywhere: the metadata at the end is lost */
	size_t cuts[] = {n / 2, n - 200, 100};
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		f = fopen(path, "wb");
		fwrite(buf, 1, cuts[i], f);
		fclose(f);
		expect_rejected(path);
	}

	/* a search tree record pointing past the data section: the first node's
	 * left record (28-bit records: 3 bytes + the high nibble of byte 3) */
	uint8_t bad[sizeof(buf)];
	memcpy(bad, buf, n);
	bad[0] = bad[1] = bad[2] = 0xff;
	bad[3] |= 0xf0;
	f = fopen(path, "wb");
	fwrite(bad, 1, n, f);
	fclose(f);
	expect_rejected(path);

	/* a record pointing back at the root: a loop */
	memcpy(bad, buf, n);
	bad[0] = bad[1] = bad[2] = 0;
	bad[3] &= 0x0f;
	f = fopen(path, "wb");
	fwrite(bad, 1, n, f);
	fclose(f);
	expect_rejected(path);
	unlink(path);
}

/* --- other MaxMind databases ------------------------------------------------ */

Test(geo_other, country_and_geolite)
{
	NEED_MAXMIND();
	const char *dbs[] = {"GeoIP2-Country-Test.mmdb", "GeoLite2-City-Test.mmdb",
			     "GeoLite2-Country-Test.mmdb"};
	for (size_t i = 0; i < 3; i++) {
		geo_spec_t s = base_spec(mm(dbs[i]));
		geo_map_t *m = compile_ok(&s);
		unsigned sc;
		cr_expect_str_eq(look(m, "81.2.69.142", -1, &sc), S_EU, "%s", dbs[i]);
		cr_expect_str_eq(look(m, "2001:218::1", -1, &sc), S_AS, "%s", dbs[i]);
		geo_map_free(m);
	}
}

/* --- the bundled lab world --------------------------------------------------- */

Test(geo_lab, sites_from_lab_csv)
{
	static const uint16_t o_ca[] = {NY, SG, LON};
	static const geo_rule_t r[] = {
	    {.match = GEO_MATCH_CONTINENT, .code = "NA", .order = ORDER(o_na), .line = 1},
	    {.match = GEO_MATCH_CONTINENT, .code = "EU", .order = ORDER(o_eu), .line = 2},
	    {.match = GEO_MATCH_CONTINENT, .code = "AS", .order = ORDER(o_as), .line = 3},
	    {.match = GEO_MATCH_SUBDIVISION, .code = "US-CA", .order = ORDER(o_ca), .line = 4},
	};
	geo_spec_t s = base_spec(lab_db());
	s.rules = r;
	s.n_rules = 4;
	s.nearest = true;
	s.default_order = ORDER(o_def);
	geo_map_t *m = compile_ok(&s);
	CHECK(m, "10.1.2.3", -1, S_NA, 16);
	CHECK(m, "10.2.0.1", -1, S_EU, 16);
	CHECK(m, "10.3.255.255", -1, S_AS, 16);
	CHECK(m, "::ffff:10.2.0.1", -1, S_EU, 16);
	CHECK(m, "192.0.2.1", -1, S_NA, 25);
	CHECK(m, "192.0.2.200", -1, "newyork,singapore,london", 25); /* US-CA rule */
	/* 198.51.100.0/24 holds London (EU rule), Paris (FR: EU rule) and
	 * Reykjavik (no country: nearest, London first): three records, one
	 * class, merged back into the /24 */
	CHECK(m, "198.51.100.1", -1, S_EU, 24);
	CHECK(m, "198.51.100.129", -1, S_EU, 24);
	CHECK(m, "198.51.100.70", -1, S_EU, 24);
	CHECK(m, "203.0.113.1", -1, S_AS, 25);
	/* Sydney: OC has no rule; nearest: Singapore, New York, London */
	CHECK(m, "203.0.113.200", -1, "singapore,newyork,london", 25);
	CHECK(m, "2001:db8:1::1", -1, S_NA, 48);
	CHECK(m, "2001:db8:2::1", -1, S_EU, 48);
	CHECK(m, "2001:db8:3::1", -1, S_AS, 49);
	CHECK(m, "2001:db8:3:8000::1", -1, "singapore,newyork,london", 49);
	CHECK(m, "10.4.0.1", -1, S_DEF, 14);
	geo_map_free(m);
}

/* --- explain --------------------------------------------------------------- */

Test(geo_explain, says_why)
{
	NEED_MAXMIND();
	geo_net_t nets[] = {net("10.1.0.0/16", ORDER(o_sg), 40)};
	geo_spec_t s = base_spec(mm("GeoIP2-City-Test.mmdb"));
	s.nets = nets;
	s.n_nets = 1;
	s.nearest = true;
	geo_map_t *m = compile_ok(&s);
	geo_explain_t ex;
	char err[256], line[1024];
	uint8_t a[16];

	parse_addr("81.2.69.142", a);
	cr_assert_eq(geo_explain(m, a, 128, &ex, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(ex.source, GEO_SRC_RULE);
	cr_expect_eq(ex.line, 11);
	cr_expect_eq(ex.rule_match, GEO_MATCH_CONTINENT);
	cr_expect_eq(ex.scope, 127);
	cr_expect(ex.db_found);
	cr_expect_eq(ex.db_prefix, 127);
	cr_expect_str_eq(ex.rec.continent, "EU");
	cr_expect_str_eq(ex.rec.country, "GB");
	cr_expect_eq(ex.rec.n_subdivisions, 1);
	cr_expect_str_eq(ex.rec.subdivisions[0], "ENG");
	cr_expect(ex.rec.has_location && fabs(ex.rec.lat - 51.5142) < 1e-6);
	cr_expect_not(ex.db_changed);
	geo_explain_format(m, &ex, line, sizeof(line));
	cr_log_info("%s", line);
	cr_expect(strstr(line, "81.2.69.142/31") != NULL, "%s", line);
	cr_expect(strstr(line, "london,") == NULL && strstr(line, "london newyork") != NULL, "%s",
		  line);

	parse_addr("10.1.2.3", a);
	cr_assert_eq(geo_explain(m, a, 128, &ex, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(ex.source, GEO_SRC_NET);
	cr_expect_eq(ex.line, 40);
	cr_expect_not(ex.db_used);

	parse_addr("2001:218::1", a);
	cr_assert_eq(geo_explain(m, a, 128, &ex, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(ex.source, GEO_SRC_RULE); /* AS rule */
	cr_expect_str_eq(ex.rec.country, "JP");

	parse_addr("1.2.3.4", a);
	cr_assert_eq(geo_explain(m, a, 128, &ex, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(ex.source, GEO_SRC_DEFAULT);
	cr_expect(ex.db_used && !ex.db_found);
	cr_expect_eq(ex.db_prefix, 104);
	geo_explain_format(m, &ex, line, sizeof(line));
	cr_log_info("%s", line);

	/* a tiny buffer is cut, not overrun */
	char tiny[8];
	int want = geo_explain_format(m, &ex, tiny, sizeof(tiny));
	cr_expect_gt(want, 7);
	cr_expect_eq(strlen(tiny), 7);
	geo_map_free(m);

	/* nearest is named as such */
	s.rules = NULL;
	s.n_rules = 0;
	m = compile_ok(&s);
	parse_addr("2001:218::1", a);
	cr_assert_eq(geo_explain(m, a, 128, &ex, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(ex.source, GEO_SRC_NEAREST);
	cr_expect_not(ex.db_changed);
	geo_map_free(m);
}

/* --- addresses --------------------------------------------------------------- */

Test(geo_addr, parse_and_format)
{
	uint8_t a[16];
	unsigned p;
	char err[128], txt[64];
	cr_assert_eq(geo_parse_prefix("10.1.0.0/16", a, &p, err, sizeof(err)), 0);
	cr_expect_eq(p, 112);
	cr_expect(geo_addr_is_v4(a));
	geo_prefix_format(a, p, txt, sizeof(txt));
	cr_expect_str_eq(txt, "10.1.0.0/16");
	cr_assert_eq(geo_parse_prefix("2001:db8::/32", a, &p, err, sizeof(err)), 0);
	cr_expect_eq(p, 32);
	geo_prefix_format(a, p, txt, sizeof(txt));
	cr_expect_str_eq(txt, "2001:db8::/32");
	cr_assert_eq(geo_parse_prefix("192.0.2.7", a, &p, err, sizeof(err)), 0);
	cr_expect_eq(p, 128);
	cr_assert_eq(geo_parse_prefix("::ffff:0:0/96", a, &p, err, sizeof(err)), 0);
	geo_prefix_format(a, p, txt, sizeof(txt));
	cr_expect_str_eq(txt, "0.0.0.0/0");
	cr_expect_eq(geo_parse_prefix("10.1.0.1/16", a, &p, err, sizeof(err)), -1);
	cr_expect_eq(geo_parse_prefix("10.0.0.0/33", a, &p, err, sizeof(err)), -1);
	cr_expect_eq(geo_parse_prefix("2001:db8::/129", a, &p, err, sizeof(err)), -1);
	cr_expect_eq(geo_parse_prefix("10.0.0.0/", a, &p, err, sizeof(err)), -1);
	cr_expect_eq(geo_parse_prefix("10.0.0.0/-1", a, &p, err, sizeof(err)), -1);
	cr_expect_eq(geo_parse_prefix("example.com", a, &p, err, sizeof(err)), -1);
	cr_expect_eq(geo_parse_prefix("", a, &p, err, sizeof(err)), -1);
	cr_expect_eq(geo_scope_family(a, 0), 0);

	struct sockaddr_in sin = {.sin_family = AF_INET};
	inet_pton(AF_INET, "198.51.100.9", &sin.sin_addr);
	cr_assert_eq(geo_addr_from_sockaddr((struct sockaddr *)&sin, a), 0);
	geo_prefix_format(a, 128, txt, sizeof(txt));
	cr_expect_str_eq(txt, "198.51.100.9/32");
	cr_expect_eq(geo_scope_family(a, 120), 24);
	cr_expect_eq(geo_scope_family(a, 90), 0);
}

Test(geo_nodb, default_only)
{
	geo_spec_t s = base_spec(NULL);
	s.rules = NULL;
	s.n_rules = 0;
	s.default_order = (geo_order_t){0}; /* every site in id order */
	geo_map_t *m = compile_ok(&s);
	CHECK(m, "192.0.2.1", -1, "newyork,london,singapore", 0);
	CHECK(m, "2001:db8::1", -1, "newyork,london,singapore", 0);
	cr_expect_eq(geo_class_count(m), 1);
	unsigned n;
	cr_expect_null(geo_class_sites(m, 1, &n));
	cr_expect_eq(n, 0);
	geo_map_free(m);
}

/* --- cross-check against libmaxminddb ------------------------------------- */

/* The test's own mapping, from MMDB_lookup_sockaddr + MMDB_get_value (not the
 * code under test), for continent rules and nearest. Writes "a,b,c". */
static const geo_rule_t *xc_rules;
static size_t xc_n_rules;
static bool xc_nearest;
static unsigned xc_n_sites;

static bool xc_str(MMDB_entry_s *e, char *out, size_t len, ...)
{
	MMDB_entry_data_s d;
	va_list ap;
	va_start(ap, len);
	int rc = MMDB_vget_value(e, &d, ap);
	va_end(ap);
	out[0] = '\0';
	if (rc != MMDB_SUCCESS || !d.has_data || d.type != MMDB_DATA_TYPE_UTF8_STRING ||
	    d.data_size >= len)
		return false;
	memcpy(out, d.utf8_string, d.data_size);
	out[d.data_size] = '\0';
	return true;
}

static void order_text(const uint16_t *ids, unsigned n, char *out)
{
	out[0] = '\0';
	for (unsigned i = 0; i < n; i++) {
		strcat(out, i ? "," : "");
		strcat(out, sites[ids[i]].name);
	}
}

static const geo_rule_t *xc_rule(geo_match_t k, const char *code)
{
	for (size_t i = 0; i < xc_n_rules; i++)
		if (xc_rules[i].match == k && strcasecmp(xc_rules[i].code, code) == 0)
			return &xc_rules[i];
	return NULL;
}

static double xc_angle(double la1, double lo1, double la2, double lo2)
{
	const double r = M_PI / 180.0;
	double h =
	    sin((la2 - la1) * r / 2) * sin((la2 - la1) * r / 2) +
	    cos(la1 * r) * cos(la2 * r) * sin((lo2 - lo1) * r / 2) * sin((lo2 - lo1) * r / 2);
	return 2 * asin(sqrt(h > 1 ? 1 : h));
}

static void xc_expected(MMDB_s *db, const uint8_t a[16], char *out)
{
	struct sockaddr_storage ss = {0};
	if (geo_addr_is_v4(a)) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, a + 12, 4);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, a, 16);
	}
	int rc;
	MMDB_lookup_result_s r = MMDB_lookup_sockaddr(db, (struct sockaddr *)&ss, &rc);
	cr_assert_eq(rc, MMDB_SUCCESS);
	if (!r.found_entry) {
		order_text(o_def, 3, out);
		return;
	}
	char cont[8], cc[8], sub[8], code[24];
	xc_str(&r.entry, cont, sizeof(cont), "continent", "code", NULL);
	if (!xc_str(&r.entry, cc, sizeof(cc), "country", "iso_code", NULL))
		xc_str(&r.entry, cc, sizeof(cc), "registered_country", "iso_code", NULL);
	const geo_rule_t *rule = NULL;
	for (int i = 3; i >= 0 && rule == NULL && cc[0]; i--) {
		char idx[12];
		snprintf(idx, sizeof(idx), "%d", i);
		if (xc_str(&r.entry, sub, sizeof(sub), "subdivisions", idx, "iso_code", NULL)) {
			snprintf(code, sizeof(code), "%s-%s", cc, sub);
			rule = xc_rule(GEO_MATCH_SUBDIVISION, code);
		}
	}
	if (rule == NULL && cc[0])
		rule = xc_rule(GEO_MATCH_COUNTRY, cc);
	if (rule == NULL && cont[0])
		rule = xc_rule(GEO_MATCH_CONTINENT, cont);
	if (rule != NULL) {
		order_text(rule->order.ids, rule->order.n, out);
		return;
	}
	MMDB_entry_data_s la, lo;
	if (xc_nearest && MMDB_get_value(&r.entry, &la, "location", "latitude", NULL) == 0 &&
	    la.has_data && MMDB_get_value(&r.entry, &lo, "location", "longitude", NULL) == 0 &&
	    lo.has_data) {
		uint16_t ids[4];
		double d[4];
		for (unsigned i = 0; i < xc_n_sites; i++) {
			ids[i] = (uint16_t)i;
			d[i] = sites[i].has_coords ? xc_angle(la.double_value, lo.double_value,
							      sites[i].lat, sites[i].lon)
						   : 10.0;
		}
		for (unsigned i = 1; i < xc_n_sites; i++) /* insertion sort, stable */
			for (unsigned j = i; j > 0 && d[ids[j]] < d[ids[j - 1]]; j--) {
				uint16_t t = ids[j];
				ids[j] = ids[j - 1];
				ids[j - 1] = t;
			}
		order_text(ids, xc_n_sites, out);
		return;
	}
	order_text(o_def, 3, out);
}

static uint64_t rng_state = 0x243f6a8885a308d3ull;
static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* An address that lands on data more often than a uniform one: follow the
 * database's own tree with random turns, preferring non-empty records. */
static void random_addr(MMDB_s *db, uint8_t a[16])
{
	for (int i = 0; i < 16; i++)
		a[i] = (uint8_t)rng();
	unsigned kind = (unsigned)(rng() % 4);
	if (kind == 0)
		return; /* uniform IPv6 */
	if (kind == 1) {
		uint8_t v4[4] = {a[0], a[1], a[2], a[3]};
		geo_addr_from_v4(a, v4); /* uniform IPv4 */
		return;
	}
	uint32_t node = kind == 2 ? db->ipv4_start_node.node_value : 0;
	unsigned depth = kind == 2 ? 96 : 0;
	if (kind == 2)
		memcpy(a, (uint8_t[12]){0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, 12);
	while (depth < 128 && node < db->metadata.node_count) {
		MMDB_search_node_s sn;
		cr_assert_eq(MMDB_read_node(db, node, &sn), MMDB_SUCCESS);
		unsigned bit = (unsigned)(rng() & 1);
		uint8_t t = bit ? sn.right_record_type : sn.left_record_type;
		if (t == MMDB_RECORD_TYPE_EMPTY && (rng() & 3) != 0)
			bit ^= 1; /* prefer the side with data */
		if (bit)
			a[depth / 8] |= (uint8_t)(0x80 >> (depth % 8));
		else
			a[depth / 8] &= (uint8_t) ~(0x80 >> (depth % 8));
		uint64_t next = bit ? sn.right_record : sn.left_record;
		if (next >= db->metadata.node_count)
			break;
		node = (uint32_t)next;
		depth++;
	}
}

static void cross_check(const char *dbfile, const geo_rule_t *rules, size_t n_rules, bool nearest,
			unsigned n_sites, unsigned samples)
{
	geo_spec_t s = base_spec(dbfile);
	s.rules = rules;
	s.n_rules = n_rules;
	s.nearest = nearest;
	s.n_sites = n_sites;
	xc_rules = rules;
	xc_n_rules = n_rules;
	xc_nearest = nearest;
	xc_n_sites = n_sites;
	geo_map_t *m = compile_ok(&s);
	MMDB_s db;
	cr_assert_eq(MMDB_open(dbfile, MMDB_MODE_MMAP, &db), MMDB_SUCCESS);
	unsigned checked_inside = 0;
	for (unsigned i = 0; i < samples; i++) {
		uint8_t a[16];
		random_addr(&db, a);
		unsigned scope;
		uint32_t cls = geo_lookup(m, a, 128, &scope);
		unsigned n;
		const uint16_t *ids = geo_class_sites(m, cls, &n);
		char got[128], want[128], txt[64];
		order_text(ids, n, got);
		xc_expected(&db, a, want);
		geo_prefix_format(a, 128, txt, sizeof(txt));
		cr_assert_str_eq(got, want, "%s: %s", dbfile, txt);

		/* every address inside the scope has the same class */
		for (unsigned j = 0; j < 8; j++) {
			uint8_t b[16];
			for (unsigned k = 0; k < 16; k++) {
				uint8_t r = (uint8_t)rng();
				uint8_t keep = scope >= 8 * (k + 1) ? 0xff
					       : scope <= 8 * k
						   ? 0
						   : (uint8_t)(0xff00u >> (scope - 8 * k));
				b[k] = (uint8_t)((a[k] & keep) | (r & ~keep));
			}
			unsigned sc2;
			cr_assert_eq(geo_lookup(m, b, 128, &sc2), cls);
			cr_assert_geq(sc2, scope);
			/* and libmaxminddb agrees */
			xc_expected(&db, b, want);
			cr_assert_str_eq(got, want, "%s: inside scope of %s/%u", dbfile, txt,
					 scope);
			checked_inside++;
		}
		/* a shorter ECS source never gives a longer scope */
		unsigned src = (unsigned)(rng() % 129), sc3;
		geo_lookup(m, a, src, &sc3);
		cr_assert_leq(sc3, src);
	}
	cr_log_info("%s: %u samples, %u inside-scope checks", dbfile, samples, checked_inside);
	MMDB_close(&db);
	geo_map_free(m);
}

Test(geo_cross, city_matches_libmaxminddb)
{
	NEED_MAXMIND();
	cross_check(mm("GeoIP2-City-Test.mmdb"), continent_rules, 3, false, 3, 4000);
}

Test(geo_cross, city_rules_and_nearest)
{
	NEED_MAXMIND();
	static const geo_rule_t r[] = {
	    {.match = GEO_MATCH_CONTINENT, .code = "EU", .order = ORDER(o_eu), .line = 1},
	    {.match = GEO_MATCH_COUNTRY, .code = "JP", .order = ORDER(o_na), .line = 2},
	    {.match = GEO_MATCH_SUBDIVISION, .code = "GB-WBK", .order = ORDER(o_as), .line = 3},
	};
	cross_check(mm("GeoIP2-City-Test.mmdb"), r, 3, true, 4, 4000);
}

Test(geo_cross, other_databases)
{
	NEED_MAXMIND();
	cross_check(mm("GeoLite2-City-Test.mmdb"), continent_rules, 3, true, 3, 2000);
	cross_check(mm("GeoIP2-Country-Test.mmdb"), continent_rules, 3, false, 3, 2000);
	cross_check(mm("GeoLite2-Country-Test.mmdb"), continent_rules, 2, true, 3, 2000);
}

Test(geo_cross, lab)
{
	cross_check(lab_db(), continent_rules, 3, true, 3, 2000);
}

/* Any other database, e.g. the synthetic one of geo/make-synthetic:
 * GEO_CROSS_DB=geo/synthetic.mmdb tests/unit/test_geo --filter geo_cross/extra_database */
Test(geo_cross, extra_database)
{
	const char *db = getenv("GEO_CROSS_DB");
	if (db == NULL)
		cr_skip_test("GEO_CROSS_DB not set");
	cross_check(db, continent_rules, 3, true, 3, 20000);
}

/* The lab database is also checked in (geo/lab.mmdb: the bundled example
 * config reads it). It must say what geo/lab.csv says: every address of a
 * sample gets the same class and scope from the checked-in copy as from the
 * one the build just made from the CSV. */
Test(geo_lab, checked_in_copy_matches_csv)
{
	const char *top = getenv("top_srcdir"), *build = getenv("top_builddir");
	cr_assert_not_null(top);
	cr_assert_not_null(build);
	char src_db[4096], built_db[4096];
	snprintf(src_db, sizeof(src_db), "%s/geo/lab.mmdb", top);
	snprintf(built_db, sizeof(built_db), "%s/geo/lab-fromcsv.mmdb", build);
	cr_assert_eq(access(src_db, R_OK), 0, "%s is missing", src_db);
	cr_assert_eq(access(built_db, R_OK), 0, "%s is missing", built_db);
	geo_spec_t s1 = base_spec(src_db), s2 = base_spec(built_db);
	s1.nearest = s2.nearest = true;
	geo_map_t *a = compile_ok(&s1), *b = compile_ok(&s2);
	unsigned seed = 7;
	for (int i = 0; i < 20000; i++) {
		uint8_t addr[16] = {0};
		if (i % 2) {
			/* IPv4 inside 10/8, 192.0.2/24, 198.51.100/24, 203.0.113/24 */
			static const uint8_t nets[4][3] = {
				{10, 0, 0}, {192, 0, 2}, {198, 51, 100}, {203, 0, 113}};
			const uint8_t *n = nets[rand_r(&seed) % 4];
			uint8_t v4[4] = {n[0], n[1], n[2], (uint8_t)rand_r(&seed)};
			if (n[0] == 10)
				v4[1] = (uint8_t)(rand_r(&seed) % 5), v4[2] = (uint8_t)rand_r(&seed);
			geo_addr_from_v4(addr, v4);
		} else {
			static const uint8_t p6[6] = {0x20, 0x01, 0x0d, 0xb8, 0, 0};
			memcpy(addr, p6, 6);
			addr[5] = (uint8_t)(rand_r(&seed) % 5);
			for (int k = 6; k < 16; k++)
				addr[k] = (uint8_t)rand_r(&seed);
		}
		unsigned sa, sb;
		uint32_t ca = geo_lookup(a, addr, 128, &sa), cb = geo_lookup(b, addr, 128, &sb);
		unsigned na, nb;
		const uint16_t *ia = geo_class_sites(a, ca, &na), *ib = geo_class_sites(b, cb, &nb);
		cr_assert_eq(na, nb, "sample %d: the checked-in geo/lab.mmdb differs from geo/lab.csv", i);
		cr_assert_eq(memcmp(ia, ib, na * sizeof(*ia)), 0,
			     "sample %d: the checked-in geo/lab.mmdb differs from geo/lab.csv", i);
		cr_assert_eq(sa, sb, "sample %d: scope %u vs %u", i, sa, sb);
	}
	geo_map_free(a);
	geo_map_free(b);
}
