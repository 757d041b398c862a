/* test_zone.c -- unit tests of src/zone/zone.c: loading master files, and rejecting bad ones at file:line. */
#include "config.h"

#include "testutil.h"
#include "wire/wire.h"
#include "zone/zone.h"

static zoneset_t *load1(const char *name, const char *rel, conf_errs_t *e)
{
	const char *file = tu_src(rel);
	conf_errs_init(e);
	return zoneset_load(&name, &file, 1, e);
}

/* Load a bad zone and check that exactly one error came back, naming the
 * file and the line, and containing `what`. */
static void expect_error(const char *rel, int line, const char *what)
{
	conf_errs_t e;
	zoneset_t *zs = load1("example.test", rel, &e);
	cr_assert_null(zs, "%s loaded", rel);
	cr_assert_eq(e.count, 1, "%s: %u errors, first: %s", rel, e.count,
		     e.count ? e.msg[0] : "-");
	char want[4200];
	snprintf(want, sizeof(want), "%s:%d: ", tu_src(rel), line);
	cr_assert_eq(strncmp(e.msg[0], want, strlen(want)), 0, "got '%s', want prefix '%s'",
		     e.msg[0], want);
	cr_assert_not_null(strstr(e.msg[0], what), "got '%s', want '%s' in it", e.msg[0], what);
	conf_errs_free(&e);
}

Test(zone_load, good_zone)
{
	conf_errs_t e;
	zoneset_t *zs = load1("Example.Test.", "tests/unit/data/zone/example.test.zone", &e);
	cr_assert_not_null(zs, "%s", e.count ? e.msg[0] : "?");
	cr_assert_eq(zoneset_count(zs), 1);
	const zone_t *z = zoneset_zone(zs, 0);
	cr_assert_str_eq(z->name_text, "example.test");
	cr_assert_eq(z->serial, 2026112301u);
	cr_assert_eq(z->neg_soa.ttl, 300, "negative TTL = min(SOA TTL, MINIMUM)");

	const zone_node_t *www = zone_lookup(z, (const uint8_t *)"\3www\7example\4test", 18);
	cr_assert_not_null(www);
	const zone_rrset_t *a = zone_node_rrset(www, WIRE_T_A);
	cr_assert_not_null(a);
	cr_assert_eq(a->count, 2, "the duplicate A record is dropped");
	cr_assert_eq(a->ttl, 3600);

	/* Empty non-terminals exist as nodes without data. */
	const zone_node_t *ent = zone_lookup(z, (const uint8_t *)"\1b\3ent\7example\4test", 20);
	cr_assert_not_null(ent);
	cr_assert_eq(ent->n_rrsets, 0);

	/* Names are stored lower-case; $ORIGIN changes are honoured. */
	cr_assert_not_null(zone_lookup(z, (const uint8_t *)"\11mixedcase\7example\4test", 24));
	cr_assert_not_null(
		zone_lookup(z, (const uint8_t *)"\4host\5other\7example\4test", 25));

	/* The cut and its glue. */
	const zone_node_t *sub = zone_lookup(z, (const uint8_t *)"\3sub\7example\4test", 18);
	const zone_node_t *glue =
		zone_lookup(z, (const uint8_t *)"\3ns1\3sub\7example\4test", 22);
	cr_assert_not_null(sub);
	cr_assert_not_null(glue);
	cr_assert_eq(sub->cut, sub);
	cr_assert_eq(glue->cut, sub);
	cr_assert_null(www->cut);
	const zone_rrset_t *ns = zone_node_rrset(sub, WIRE_T_NS);
	cr_assert_eq(ns->n_targets, 1, "only the in-zone NS target has glue");
	cr_assert_eq(ns->targets[0], glue);

	/* The wildcard hangs off its parent. */
	const zone_node_t *wild = zone_lookup(z, (const uint8_t *)"\4wild\7example\4test", 19);
	cr_assert_not_null(wild);
	cr_assert_not_null(wild->wild);
	zoneset_free(zs);
	conf_errs_free(&e);
}

Test(zone_load, nested_zones_pick_the_deepest)
{
	const char *names[2] = {"example.test", "nested.example.test"};
	const char *files[2];
	files[0] = tu_src("tests/unit/data/zone/example.test.zone");
	files[1] = tu_src("tests/unit/data/zone/nested.example.test.zone");
	conf_errs_t e;
	conf_errs_init(&e);
	zoneset_t *zs = zoneset_load(names, files, 2, &e);
	cr_assert_not_null(zs);
	uint8_t off[4] = {0, 4, 11, 19};
	const zone_t *z =
		zoneset_find(zs, (const uint8_t *)"\3www\6nested\7example\4test", off, 4);
	cr_assert_not_null(z);
	cr_assert_str_eq(z->name_text, "nested.example.test");
	uint8_t off2[4] = {0, 4, 12, 17};
	z = zoneset_find(zs, (const uint8_t *)"\3www\7example\4test", off2, 3);
	cr_assert_str_eq(z->name_text, "example.test");
	uint8_t off3[3] = {0, 8, 12};
	cr_assert_null(zoneset_find(zs, (const uint8_t *)"\7example\3org", off3, 2));
	zoneset_free(zs);
	conf_errs_free(&e);
}

Test(zone_bad, no_soa)
{
	expect_error("tests/unit/data/zone/bad-no-soa.zone", 3, "no SOA record");
}

Test(zone_bad, no_apex_ns)
{
	expect_error("tests/unit/data/zone/bad-no-ns.zone", 3, "no NS records");
}

Test(zone_bad, data_outside_the_origin)
{
	expect_error("tests/unit/data/zone/bad-outside.zone", 5, "'www.example.org.' is outside");
}

Test(zone_bad, syntax_error_has_its_line)
{
	expect_error("tests/unit/data/zone/bad-syntax.zone", 6, "");
}

Test(zone_bad, cname_and_other_data)
{
	expect_error("tests/unit/data/zone/bad-cname.zone", 6, "CNAME and other data");
}

Test(zone_bad, soa_not_at_apex)
{
	expect_error("tests/unit/data/zone/bad-soa-not-apex.zone", 5, "SOA record not at the zone apex");
}

Test(zone_bad, include_rejected)
{
	expect_error("tests/unit/data/zone/bad-include.zone", 4, "$INCLUDE");
}

Test(zone_bad, class_not_in)
{
	expect_error("tests/unit/data/zone/bad-class.zone", 4, "class is not IN");
}

Test(zone_bad, missing_file)
{
	conf_errs_t e;
	zoneset_t *zs = load1("example.test", "tests/unit/data/zone/does-not-exist.zone", &e);
	cr_assert_null(zs);
	cr_assert_eq(e.count, 1);
	cr_assert_not_null(strstr(e.msg[0], "No such file"), "%s", e.msg[0]);
	conf_errs_free(&e);
}

Test(zone_bad, every_bad_zone_is_reported_together)
{
	const char *names[2] = {"example.test", "example.test"};
	const char *files[2];
	files[0] = tu_src("tests/unit/data/zone/bad-no-soa.zone");
	files[1] = tu_src("tests/unit/data/zone/bad-cname.zone");
	conf_errs_t e;
	conf_errs_init(&e);
	cr_assert_null(zoneset_load(names, files, 2, &e));
	cr_assert_eq(e.count, 2);
	conf_errs_free(&e);
}
