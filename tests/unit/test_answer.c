/* test_answer.c -- unit tests of src/zone/answer.c: DNS answer semantics, every response read back with ldns. */
#include "config.h"

#include "testutil.h"
#include "wire/wire.h"
#include "zone/answer.h"

static zoneset_t *zs;
static stats_t st;
static answer_params_t params;
static uint8_t out[65535];

static void setup(void)
{
	const char *names[2] = {"example.test", "nested.example.test"};
	const char *files[2];
	files[0] = tu_src("tests/unit/data/zone/example.test.zone");
	files[1] = tu_src("tests/unit/data/zone/nested.example.test.zone");
	conf_errs_t e;
	conf_errs_init(&e);
	zs = zoneset_load(names, files, 2, &e);
	cr_assert_not_null(zs, "fixture zones: %s", e.count ? e.msg[0] : "?");
	conf_errs_free(&e);
	memset(&st, 0, sizeof(st));
	params.zones = zs;
	params.edns_udp_size = 1232;
}

static void teardown(void)
{
	zoneset_free(zs);
}

TestSuite(answer, .init = setup, .fini = teardown);

/* Ask with ldns, answer, read back with ldns. */
static ldns_pkt *ask(const char *name, ldns_rr_type type, uint16_t udp, bool tcp)
{
	uint8_t q[512];
	size_t qn = tu_query(q, sizeof(q), name, type, udp, false);
	size_t n = answer_query(&params, q, qn, tcp, out, tcp ? 65535 : sizeof(out), &st);
	ldns_pkt *p = tu_parse(out, n);
	cr_assert_eq(ldns_pkt_id(p), 0x1234);
	if (!tcp)
		cr_assert_leq(n, udp ? (udp < 1232 ? (udp < 512 ? 512 : udp) : 1232) : 512,
			      "UDP answer of %zu bytes over the limit", n);
	return p;
}

static void counts(ldns_pkt *p, size_t an, size_t ns, size_t ar)
{
	cr_assert_eq(ldns_pkt_ancount(p), an, "ancount %u, want %zu", ldns_pkt_ancount(p), an);
	cr_assert_eq(ldns_pkt_nscount(p), ns, "nscount %u, want %zu", ldns_pkt_nscount(p), ns);
	cr_assert_eq(ldns_pkt_arcount(p), ar, "arcount %u, want %zu", ldns_pkt_arcount(p), ar);
}

static void negative(ldns_pkt *p, ldns_pkt_rcode rcode)
{
	cr_assert_eq(ldns_pkt_get_rcode(p), rcode);
	cr_assert(ldns_pkt_aa(p));
	cr_assert_eq(ldns_pkt_ancount(p), 0);
	cr_assert_eq(ldns_pkt_nscount(p), 1);
	tu_assert_rr(ldns_pkt_authority(p), 0,
		     "example.test. 300 IN SOA ns1.example.test. hostmaster.example.test. "
		     "2026112301 7200 3600 1209600 300");
}

Test(answer, positive_a)
{
	ldns_pkt *p = ask("www.example.test.", LDNS_RR_TYPE_A, 0, false);
	cr_assert_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	cr_assert(ldns_pkt_aa(p));
	cr_assert(!ldns_pkt_tc(p));
	cr_assert(!ldns_pkt_ra(p));
	counts(p, 2, 0, 0);
	tu_assert_rr(ldns_pkt_answer(p), 0, "www.example.test. 3600 IN A 192.0.2.80");
	tu_assert_rr(ldns_pkt_answer(p), 1, "www.example.test. 3600 IN A 192.0.2.81");
	ldns_pkt_free(p);
	cr_assert_eq(st.c[STAT_RCODE_NOERROR], 1);
}

Test(answer, question_echoed_exactly)
{
	uint8_t q[512];
	size_t qn = tu_query(q, sizeof(q), "wWw.EXAMPLE.tEsT.", LDNS_RR_TYPE_AAAA, 0, false);
	size_t n = answer_query(&params, q, qn, false, out, sizeof(out), &st);
	cr_assert_gt(n, qn);
	cr_assert_eq(memcmp(out + 12, q + 12, qn - 12), 0, "question bytes differ");
	ldns_pkt *p = tu_parse(out, n);
	/* The owner is a pointer to the question: the client's case comes back. */
	tu_assert_rr(ldns_pkt_answer(p), 0, "wWw.EXAMPLE.tEsT. 3600 IN AAAA 2001:db8::80");
	ldns_pkt_free(p);
}

Test(answer, rd_and_cd_copied)
{
	uint8_t q[512];
	size_t qn = tu_query(q, sizeof(q), "www.example.test.", LDNS_RR_TYPE_A, 0, false);
	q[2] |= 0x01; /* RD */
	q[3] |= 0x10; /* CD */
	size_t n = answer_query(&params, q, qn, false, out, sizeof(out), &st);
	ldns_pkt *p = tu_parse(out, n);
	cr_assert(ldns_pkt_rd(p));
	cr_assert(ldns_pkt_cd(p));
	cr_assert(!ldns_pkt_ra(p));
	ldns_pkt_free(p);
}

Test(answer, nxdomain_with_soa_and_negative_ttl)
{
	ldns_pkt *p = ask("nothere.example.test.", LDNS_RR_TYPE_A, 0, false);
	negative(p, LDNS_RCODE_NXDOMAIN);
	ldns_pkt_free(p);
	cr_assert_eq(st.c[STAT_RCODE_NXDOMAIN], 1);
}

Test(answer, nodata_with_soa)
{
	ldns_pkt *p = ask("www.example.test.", LDNS_RR_TYPE_MX, 0, false);
	negative(p, LDNS_RCODE_NOERROR);
	ldns_pkt_free(p);
	cr_assert_eq(st.c[STAT_NODATA], 1);
}

Test(answer, refused_outside_our_zones)
{
	ldns_pkt *p = ask("www.example.org.", LDNS_RR_TYPE_A, 0, false);
	cr_assert_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_REFUSED);
	cr_assert(!ldns_pkt_aa(p));
	counts(p, 0, 0, 0);
	ldns_pkt_free(p);
	p = ask("test.", LDNS_RR_TYPE_SOA, 0, false); /* the parent of our zone */
	cr_assert_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_REFUSED);
	ldns_pkt_free(p);
}

Test(answer, apex_soa_ns_with_additional)
{
	ldns_pkt *p = ask("example.test.", LDNS_RR_TYPE_NS, 0, false);
	counts(p, 2, 0, 2);
	tu_assert_rr(ldns_pkt_additional(p), 0, "ns1.example.test. 3600 IN A 192.0.2.53");
	tu_assert_rr(ldns_pkt_additional(p), 1, "ns1.example.test. 3600 IN AAAA 2001:db8::53");
	ldns_pkt_free(p);
	p = ask("example.test.", LDNS_RR_TYPE_SOA, 0, false);
	counts(p, 1, 0, 0);
	tu_assert_rr(ldns_pkt_answer(p), 0,
		     "example.test. 3600 IN SOA ns1.example.test. hostmaster.example.test. "
		     "2026112301 7200 3600 1209600 300");
	ldns_pkt_free(p);
}

Test(answer, mx_and_srv_targets_in_additional)
{
	ldns_pkt *p = ask("example.test.", LDNS_RR_TYPE_MX, 0, false);
	counts(p, 1, 0, 1);
	tu_assert_rr(ldns_pkt_additional(p), 0, "mail.example.test. 3600 IN A 192.0.2.25");
	ldns_pkt_free(p);
	p = ask("_sip._tls.example.test.", LDNS_RR_TYPE_SRV, 0, false);
	counts(p, 1, 0, 1);
	tu_assert_rr(ldns_pkt_answer(p), 0,
		     "_sip._tls.example.test. 3600 IN SRV 10 50 443 sip.example.test.");
	tu_assert_rr(ldns_pkt_additional(p), 0, "sip.example.test. 3600 IN A 192.0.2.60");
	ldns_pkt_free(p);
}

Test(answer, cname_followed_in_zone)
{
	ldns_pkt *p = ask("chain1.example.test.", LDNS_RR_TYPE_A, 0, false);
	cr_assert_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	cr_assert(ldns_pkt_aa(p));
	counts(p, 4, 0, 0);
	tu_assert_rr(ldns_pkt_answer(p), 0,
		     "chain1.example.test. 3600 IN CNAME chain2.example.test.");
	tu_assert_rr(ldns_pkt_answer(p), 1, "chain2.example.test. 3600 IN CNAME www.example.test.");
	tu_assert_rr(ldns_pkt_answer(p), 2, "www.example.test. 3600 IN A 192.0.2.80");
	ldns_pkt_free(p);
}

Test(answer, cname_query_type_not_followed)
{
	ldns_pkt *p = ask("alias.example.test.", LDNS_RR_TYPE_CNAME, 0, false);
	counts(p, 1, 0, 0);
	tu_assert_rr(ldns_pkt_answer(p), 0, "alias.example.test. 3600 IN CNAME www.example.test.");
	ldns_pkt_free(p);
}

Test(answer, cname_out_of_zone_stops)
{
	ldns_pkt *p = ask("ext.example.test.", LDNS_RR_TYPE_A, 0, false);
	cr_assert_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	counts(p, 1, 0, 0);
	ldns_pkt_free(p);
}

Test(answer, cname_to_nothing_is_nxdomain)
{
	/* RFC 6604 §2.1: the rcode is that of the last name of the chain. */
	ldns_pkt *p = ask("dangling.example.test.", LDNS_RR_TYPE_A, 0, false);
	cr_assert_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
	cr_assert(ldns_pkt_aa(p));
	counts(p, 1, 1, 0);
	ldns_pkt_free(p);
}

Test(answer, cname_loop_ends)
{
	ldns_pkt *p = ask("loop1.example.test.", LDNS_RR_TYPE_A, 0, false);
	cr_assert_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	counts(p, 2, 0, 0);
	ldns_pkt_free(p);
}

Test(answer, wildcard_synthesis)
{
	ldns_pkt *p = ask("anything.wild.example.test.", LDNS_RR_TYPE_A, 0, false);
	cr_assert_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	cr_assert(ldns_pkt_aa(p));
	counts(p, 1, 0, 0);
	tu_assert_rr(ldns_pkt_answer(p), 0, "anything.wild.example.test. 3600 IN A 192.0.2.99");
	ldns_pkt_free(p);
	/* deeper names match too (RFC 4592 §2.1.1) */
	p = ask("a.b.c.wild.example.test.", LDNS_RR_TYPE_TXT, 0, false);
	tu_assert_rr(ldns_pkt_answer(p), 0, "a.b.c.wild.example.test. 3600 IN TXT \"wild\"");
	ldns_pkt_free(p);
	/* a type the wildcard does not have: NODATA */
	p = ask("x.wild.example.test.", LDNS_RR_TYPE_MX, 0, false);
	negative(p, LDNS_RCODE_NOERROR);
	ldns_pkt_free(p);
}

Test(answer, wildcard_parent_is_empty_non_terminal)
{
	ldns_pkt *p = ask("wild.example.test.", LDNS_RR_TYPE_A, 0, false);
	negative(p, LDNS_RCODE_NOERROR);
	ldns_pkt_free(p);
}

Test(answer, wildcard_cname)
{
	ldns_pkt *p = ask("foo.wcname.example.test.", LDNS_RR_TYPE_A, 0, false);
	counts(p, 3, 0, 0);
	tu_assert_rr(ldns_pkt_answer(p), 0,
		     "foo.wcname.example.test. 3600 IN CNAME www.example.test.");
	ldns_pkt_free(p);
}

Test(answer, empty_non_terminals)
{
	ldns_pkt *p = ask("b.ent.example.test.", LDNS_RR_TYPE_A, 0, false);
	negative(p, LDNS_RCODE_NOERROR);
	ldns_pkt_free(p);
	p = ask("ent.example.test.", LDNS_RR_TYPE_A, 0, false);
	negative(p, LDNS_RCODE_NOERROR);
	ldns_pkt_free(p);
	/* The ENT is the closest encloser, and it has no wildcard. */
	p = ask("c.b.ent.example.test.", LDNS_RR_TYPE_A, 0, false);
	negative(p, LDNS_RCODE_NXDOMAIN);
	ldns_pkt_free(p);
	p = ask("a.b.ent.example.test.", LDNS_RR_TYPE_A, 0, false);
	counts(p, 1, 0, 0);
	ldns_pkt_free(p);
}

Test(answer, referral_with_glue)
{
	ldns_pkt *p = ask("www.sub.example.test.", LDNS_RR_TYPE_A, 0, false);
	cr_assert_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	cr_assert(!ldns_pkt_aa(p), "a referral is not authoritative");
	counts(p, 0, 2, 1);
	tu_assert_rr(ldns_pkt_authority(p), 0, "sub.example.test. 3600 IN NS ns1.sub.example.test.");
	tu_assert_rr(ldns_pkt_authority(p), 1, "sub.example.test. 3600 IN NS ns.example.net.");
	tu_assert_rr(ldns_pkt_additional(p), 0, "ns1.sub.example.test. 3600 IN A 192.0.2.54");
	ldns_pkt_free(p);
	cr_assert_eq(st.c[STAT_REFERRAL], 1);
	/* the cut itself, and glue names below it, are referrals too */
	p = ask("sub.example.test.", LDNS_RR_TYPE_NS, 0, false);
	cr_assert(!ldns_pkt_aa(p));
	counts(p, 0, 2, 1);
	ldns_pkt_free(p);
	p = ask("ns1.sub.example.test.", LDNS_RR_TYPE_A, 0, false);
	cr_assert(!ldns_pkt_aa(p));
	counts(p, 0, 2, 1);
	ldns_pkt_free(p);
}

Test(answer, ds_answered_by_the_parent)
{
	ldns_pkt *p = ask("sub.example.test.", LDNS_RR_TYPE_DS, 0, false);
	cr_assert(ldns_pkt_aa(p));
	counts(p, 1, 0, 0);
	ldns_pkt_free(p);
}

Test(answer, nested_zone_is_authoritative_for_its_names)
{
	ldns_pkt *p = ask("www.nested.example.test.", LDNS_RR_TYPE_A, 0, false);
	cr_assert(ldns_pkt_aa(p));
	tu_assert_rr(ldns_pkt_answer(p), 0, "www.nested.example.test. 600 IN A 192.0.2.201");
	ldns_pkt_free(p);
	p = ask("nope.nested.example.test.", LDNS_RR_TYPE_A, 0, false);
	cr_assert_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
	tu_assert_rr(ldns_pkt_authority(p), 0,
		     "nested.example.test. 60 IN SOA ns1.nested.example.test. "
		     "hostmaster.nested.example.test. 1 7200 3600 1209600 60");
	ldns_pkt_free(p);
}

Test(answer, any_gets_one_rrset)
{
	ldns_pkt *p = ask("www.example.test.", LDNS_RR_TYPE_ANY, 0, false);
	cr_assert_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	cr_assert_eq(ldns_rr_list_rr_count(ldns_pkt_answer(p)), 2);
	cr_assert_eq(ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_answer(p), 0)), LDNS_RR_TYPE_A);
	ldns_pkt_free(p);
	p = ask("alias.example.test.", LDNS_RR_TYPE_ANY, 0, false);
	counts(p, 1, 0, 0);
	cr_assert_eq(ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_answer(p), 0)), LDNS_RR_TYPE_CNAME);
	ldns_pkt_free(p);
	p = ask("b.ent.example.test.", LDNS_RR_TYPE_ANY, 0, false);
	negative(p, LDNS_RCODE_NOERROR);
	ldns_pkt_free(p);
}

Test(answer, edns_echo_and_do_bit)
{
	uint8_t q[512];
	size_t qn = tu_query(q, sizeof(q), "www.example.test.", LDNS_RR_TYPE_A, 4096, true);
	size_t n = answer_query(&params, q, qn, false, out, sizeof(out), &st);
	ldns_pkt *p = tu_parse(out, n);
	cr_assert_eq(ldns_pkt_edns_udp_size(p), 1232);
	cr_assert_eq(ldns_pkt_edns_version(p), 0);
	cr_assert(ldns_pkt_edns_do(p), "DO copied (RFC 3225 §3)");
	cr_assert_eq(out[11], 1, "ARCOUNT counts the OPT (ldns hides it)");
	ldns_pkt_free(p);
	/* without EDNS in the query, none in the answer */
	p = ask("www.example.test.", LDNS_RR_TYPE_A, 0, false);
	cr_assert(!ldns_pkt_edns(p));
	ldns_pkt_free(p);
}

Test(answer, truncation_at_rrset_boundary)
{
	/* big TXT: 4 RRs of ~220 bytes: > 512, < 1232 */
	ldns_pkt *p = ask("big.example.test.", LDNS_RR_TYPE_TXT, 0, false);
	cr_assert(ldns_pkt_tc(p));
	counts(p, 0, 0, 0);
	ldns_pkt_free(p);
	cr_assert_eq(st.c[STAT_TRUNCATED], 1);
	p = ask("big.example.test.", LDNS_RR_TYPE_TXT, 1232, false);
	cr_assert(!ldns_pkt_tc(p));
	counts(p, 4, 0, 0); /* ldns does not count the OPT */
	cr_assert_eq(out[11], 1);
	ldns_pkt_free(p);
	/* a small EDNS size is taken as 512 (RFC 6891 §6.2.5) */
	p = ask("big.example.test.", LDNS_RR_TYPE_TXT, 100, false);
	cr_assert(ldns_pkt_tc(p));
	counts(p, 0, 0, 0);
	cr_assert(ldns_pkt_edns(p), "OPT kept when truncated");
	ldns_pkt_free(p);
	p = ask("big.example.test.", LDNS_RR_TYPE_TXT, 0, true);
	cr_assert(!ldns_pkt_tc(p));
	counts(p, 4, 0, 0);
	ldns_pkt_free(p);
}

Test(answer, ecs_echoed_with_scope_zero_for_static_data)
{
	uint8_t q[512];
	size_t qn = tu_query(q, sizeof(q), "www.example.test.", LDNS_RR_TYPE_A, 0, false);
	/* append OPT with ECS 198.51.100.0/24, ARCOUNT 1 */
	uint8_t opt[] = {0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 11, 0, 8, 0, 7, 0, 1, 24, 0,
			 198, 51, 100};
	memcpy(q + qn, opt, sizeof(opt));
	qn += sizeof(opt);
	q[11] = 1;
	size_t n = answer_query(&params, q, qn, false, out, sizeof(out), &st);
	ldns_pkt *p = tu_parse(out, n);
	ldns_rdf *data = ldns_pkt_edns_data(p);
	cr_assert_not_null(data);
	uint8_t want[11] = {0, 8, 0, 7, 0, 1, 24, 0, 198, 51, 100};
	cr_assert_eq(ldns_rdf_size(data), 11);
	cr_assert_eq(memcmp(ldns_rdf_data(data), want, 11), 0);
	ldns_pkt_free(p);
}

/* The error paths, on raw packets. */
static size_t raw_answer(uint8_t *q, size_t qn)
{
	return answer_query(&params, q, qn, false, out, sizeof(out), &st);
}

Test(answer, notimp_for_other_opcodes)
{
	uint8_t q[512];
	size_t qn = tu_query(q, sizeof(q), "www.example.test.", LDNS_RR_TYPE_SOA, 0, false);
	q[2] = (uint8_t)(q[2] | (4 << 3)); /* NOTIFY */
	ldns_pkt *p = tu_parse(out, raw_answer(q, qn));
	cr_assert_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NOTIMPL);
	cr_assert_eq(ldns_pkt_get_opcode(p), LDNS_PACKET_NOTIFY);
	cr_assert_eq(ldns_pkt_qdcount(p), 1);
	counts(p, 0, 0, 0);
	ldns_pkt_free(p);
}

Test(answer, formerr_for_qdcount_two)
{
	uint8_t q[512];
	size_t qn = tu_query(q, sizeof(q), "www.example.test.", LDNS_RR_TYPE_A, 0, false);
	memcpy(q + qn, q + 12, qn - 12);
	q[5] = 2;
	ldns_pkt *p = tu_parse(out, raw_answer(q, qn + qn - 12));
	cr_assert_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_FORMERR);
	cr_assert_eq(ldns_pkt_qdcount(p), 0);
	ldns_pkt_free(p);
	cr_assert_eq(st.c[STAT_MALFORMED], 1);
	cr_assert_eq(st.c[STAT_RCODE_FORMERR], 1);
}

Test(answer, badvers)
{
	uint8_t q[512];
	size_t qn = tu_query(q, sizeof(q), "www.example.test.", LDNS_RR_TYPE_A, 1232, false);
	q[qn - 11 + 6] = 1; /* the OPT's version byte */
	ldns_pkt *p = tu_parse(out, raw_answer(q, qn));
	cr_assert_eq(ldns_pkt_get_rcode(p), 0);
	cr_assert_eq(ldns_pkt_edns_extended_rcode(p), 1, "BADVERS = 16 = ext 1, rcode 0");
	cr_assert_eq(ldns_pkt_edns_version(p), 0);
	cr_assert_eq(ldns_pkt_ancount(p), 0);
	ldns_pkt_free(p);
	cr_assert_eq(st.c[STAT_RCODE_BADVERS], 1);
}

Test(answer, responses_are_never_answered)
{
	uint8_t q[512];
	size_t qn = tu_query(q, sizeof(q), "www.example.test.", LDNS_RR_TYPE_A, 0, false);
	q[2] |= 0x80;
	cr_assert_eq(raw_answer(q, qn), 0);
	cr_assert_eq(raw_answer(q, 5), 0);
	cr_assert_eq(st.c[STAT_DROPPED], 2);
	cr_assert_eq(st.c[STAT_MALFORMED], 1, "only the short one is malformed");
}

Test(answer, refused_for_other_classes_and_transfers)
{
	uint8_t q[512];
	size_t qn = tu_query(q, sizeof(q), "example.test.", LDNS_RR_TYPE_AXFR, 0, false);
	ldns_pkt *p = tu_parse(out, raw_answer(q, qn));
	cr_assert_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_REFUSED);
	ldns_pkt_free(p);
	qn = tu_query(q, sizeof(q), "example.test.", LDNS_RR_TYPE_A, 0, false);
	q[qn - 1] = 3; /* CHAOS */
	p = tu_parse(out, raw_answer(q, qn));
	cr_assert_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_REFUSED);
	ldns_pkt_free(p);
}

Test(answer, opt_as_qtype_is_formerr)
{
	uint8_t q[512];
	size_t qn = tu_query(q, sizeof(q), "example.test.", LDNS_RR_TYPE_A, 0, false);
	q[qn - 3] = 41;
	ldns_pkt *p = tu_parse(out, raw_answer(q, qn));
	cr_assert_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_FORMERR);
	ldns_pkt_free(p);
}

Test(answer, random_bytes_never_crash)
{
	/* A bounded fuzz: mutate a real query many times; any answer must parse. */
	uint8_t base[512], q[512];
	size_t qn = tu_query(base, sizeof(base), "www.example.test.", LDNS_RR_TYPE_A, 1232, true);
	unsigned seed = 12345;
	for (int i = 0; i < 20000; i++) {
		memcpy(q, base, qn);
		size_t n = qn;
		int flips = 1 + (int)(rand_r(&seed) % 4);
		for (int k = 0; k < flips; k++)
			q[rand_r(&seed) % qn] = (uint8_t)rand_r(&seed);
		if (rand_r(&seed) % 4 == 0)
			n = (size_t)rand_r(&seed) % qn;
		size_t rn = answer_query(&params, q, n, false, out, sizeof(out), &st);
		if (rn == 0)
			continue;
		cr_assert_leq(rn, 1232);
		ldns_pkt *p = NULL;
		cr_assert_eq(ldns_wire2pkt(&p, out, rn), LDNS_STATUS_OK, "iteration %d", i);
		ldns_pkt_free(p);
	}
}
