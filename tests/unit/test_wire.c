/* test_wire.c -- unit tests of src/wire: query parsing (good and malformed), EDNS/ECS, writing. */
#include "config.h"

#include "testutil.h"
#include "wire/wire.h"

/* A raw packet under construction, for the malformed cases ldns will not build. */
typedef struct {
	uint8_t b[1024];
	size_t n;
} raw_t;

static void raw_hdr(raw_t *r, uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns, uint16_t ar)
{
	uint8_t h[12] = {0xab, 0xcd, (uint8_t)(flags >> 8), (uint8_t)flags, 0, (uint8_t)qd,
			 0, (uint8_t)an, 0, (uint8_t)ns, 0, (uint8_t)ar};
	memcpy(r->b, h, 12);
	r->n = 12;
}

static void raw_add(raw_t *r, const void *p, size_t n)
{
	memcpy(r->b + r->n, p, n);
	r->n += n;
}

static void raw_u16(raw_t *r, uint16_t v)
{
	uint8_t t[2] = {(uint8_t)(v >> 8), (uint8_t)v};
	raw_add(r, t, 2);
}

/* www.example.test IN A */
static void raw_question(raw_t *r)
{
	raw_add(r, "\3www\7example\4test\0", 18);
	raw_u16(r, 1);
	raw_u16(r, 1);
}

/* An OPT record with the given rdata. */
static void raw_opt(raw_t *r, uint8_t version, const uint8_t *rd, uint16_t rdlen)
{
	uint8_t o[11] = {0, 0, 41, 0x04, 0xd0, 0, version, 0, 0, (uint8_t)(rdlen >> 8),
			 (uint8_t)rdlen};
	raw_add(r, o, sizeof(o));
	if (rdlen)
		raw_add(r, rd, rdlen);
}

static wire_verdict_t parse(raw_t *r, wire_query_t *q)
{
	return wire_parse_query(r->b, r->n, q);
}

Test(wire_parse, good_query_from_ldns)
{
	uint8_t pkt[512];
	wire_query_t q;
	size_t n = tu_query(pkt, sizeof(pkt), "WwW.ExAmPlE.TeSt.", LDNS_RR_TYPE_AAAA, 0, false);
	cr_assert_eq(wire_parse_query(pkt, n, &q), WIRE_OK);
	cr_assert_eq(q.id, 0x1234);
	cr_assert_eq(q.qtype, WIRE_T_AAAA);
	cr_assert_eq(q.qclass, WIRE_C_IN);
	cr_assert_eq(q.qname_len, 18);
	cr_assert_eq(q.qname_labels, 3);
	cr_assert_eq(memcmp(q.qname, "\3WwW\7ExAmPlE\4TeSt", 17), 0, "case kept as received");
	cr_assert_eq(memcmp(q.qname_lc, "\3www\7example\4test\0", 18), 0, "lower-cased copy");
	cr_assert_eq(q.label_off[0], 0);
	cr_assert_eq(q.label_off[1], 4);
	cr_assert_eq(q.label_off[2], 12);
	cr_assert_eq(q.label_off[3], 17);
	cr_assert_eq(q.question_len, 22);
	cr_assert(!q.has_edns);
}

Test(wire_parse, root_name)
{
	raw_t r;
	wire_query_t q;
	raw_hdr(&r, 0, 1, 0, 0, 0);
	raw_add(&r, "\0", 1);
	raw_u16(&r, 2);
	raw_u16(&r, 1);
	cr_assert_eq(parse(&r, &q), WIRE_OK);
	cr_assert_eq(q.qname_labels, 0);
	cr_assert_eq(q.qname_len, 1);
}

Test(wire_parse, truncated_header_dropped)
{
	raw_t r;
	wire_query_t q;
	raw_hdr(&r, 0, 1, 0, 0, 0);
	for (size_t n = 0; n < 12; n++)
		cr_assert_eq(wire_parse_query(r.b, n, &q), WIRE_DROP, "len %zu", n);
}

Test(wire_parse, response_bit_dropped)
{
	raw_t r;
	wire_query_t q;
	raw_hdr(&r, 0x8000, 1, 0, 0, 0);
	raw_question(&r);
	cr_assert_eq(parse(&r, &q), WIRE_DROP);
}

Test(wire_parse, opcode_notimp_keeps_question)
{
	raw_t r;
	wire_query_t q;
	raw_hdr(&r, 4u << 11, 1, 0, 0, 0); /* NOTIFY */
	raw_question(&r);
	cr_assert_eq(parse(&r, &q), WIRE_NOTIMP);
	cr_assert(q.has_question);
	cr_assert_eq(q.opcode, 4);
}

Test(wire_parse, qdcount_zero_and_two)
{
	raw_t r;
	wire_query_t q;
	raw_hdr(&r, 0, 0, 0, 0, 0);
	cr_assert_eq(parse(&r, &q), WIRE_FORMERR);
	cr_assert(!q.has_question);
	raw_hdr(&r, 0, 2, 0, 0, 0);
	raw_question(&r);
	raw_question(&r);
	cr_assert_eq(parse(&r, &q), WIRE_FORMERR);
	cr_assert(!q.has_question);
}

Test(wire_parse, compression_pointer_in_qname)
{
	raw_t r;
	wire_query_t q;
	raw_hdr(&r, 0, 1, 0, 0, 0);
	raw_add(&r, "\3www\xc0\x0c", 6);
	raw_u16(&r, 1);
	raw_u16(&r, 1);
	cr_assert_eq(parse(&r, &q), WIRE_FORMERR);
}

Test(wire_parse, label_longer_than_63)
{
	raw_t r;
	wire_query_t q;
	raw_hdr(&r, 0, 1, 0, 0, 0);
	uint8_t lab[65];
	lab[0] = 64; /* 0x40: the reserved "extended label" type */
	memset(lab + 1, 'a', 64);
	raw_add(&r, lab, sizeof(lab));
	raw_add(&r, "\0", 1);
	raw_u16(&r, 1);
	raw_u16(&r, 1);
	cr_assert_eq(parse(&r, &q), WIRE_FORMERR);
}

static void long_name(raw_t *r, unsigned total)
{
	/* labels of 63 then one to make the wire length `total` (root included) */
	unsigned left = total - 1;
	while (left > 0) {
		unsigned l = left - 1 > 63 ? 63 : left - 1;
		uint8_t lab[64];
		lab[0] = (uint8_t)l;
		memset(lab + 1, 'x', l);
		raw_add(r, lab, l + 1);
		left -= l + 1;
	}
	raw_add(r, "\0", 1);
}

Test(wire_parse, name_of_255_ok_256_formerr)
{
	raw_t r;
	wire_query_t q;
	raw_hdr(&r, 0, 1, 0, 0, 0);
	long_name(&r, 255);
	raw_u16(&r, 1);
	raw_u16(&r, 1);
	cr_assert_eq(parse(&r, &q), WIRE_OK);
	cr_assert_eq(q.qname_len, 255);
	raw_hdr(&r, 0, 1, 0, 0, 0);
	long_name(&r, 257);
	raw_u16(&r, 1);
	raw_u16(&r, 1);
	cr_assert_eq(parse(&r, &q), WIRE_FORMERR);
}

Test(wire_parse, question_cut_short)
{
	raw_t r;
	wire_query_t q;
	raw_hdr(&r, 0, 1, 0, 0, 0);
	raw_add(&r, "\3www\7example\4test\0\0\1\0", 21); /* class half missing */
	cr_assert_eq(parse(&r, &q), WIRE_FORMERR);
	raw_hdr(&r, 0, 1, 0, 0, 0);
	raw_add(&r, "\3www\7exa", 8); /* name cut inside a label */
	cr_assert_eq(parse(&r, &q), WIRE_FORMERR);
}

Test(wire_parse, answer_or_authority_records_in_query)
{
	raw_t r;
	wire_query_t q;
	raw_hdr(&r, 0, 1, 1, 0, 0);
	raw_question(&r);
	cr_assert_eq(parse(&r, &q), WIRE_FORMERR);
	raw_hdr(&r, 0, 1, 0, 1, 0);
	raw_question(&r);
	cr_assert_eq(parse(&r, &q), WIRE_FORMERR);
}

Test(wire_parse, trailing_bytes)
{
	raw_t r;
	wire_query_t q;
	raw_hdr(&r, 0, 1, 0, 0, 0);
	raw_question(&r);
	raw_add(&r, "\0", 1);
	cr_assert_eq(parse(&r, &q), WIRE_FORMERR);
}

Test(wire_parse, edns_from_ldns)
{
	uint8_t pkt[512];
	wire_query_t q;
	size_t n = tu_query(pkt, sizeof(pkt), "example.test.", LDNS_RR_TYPE_SOA, 4096, true);
	cr_assert_eq(wire_parse_query(pkt, n, &q), WIRE_OK);
	cr_assert(q.has_edns);
	cr_assert_eq(q.edns_udp, 4096);
	cr_assert_eq(q.edns_version, 0);
	cr_assert(q.edns_flags & WIRE_EDNS_DO);
	cr_assert(!q.has_ecs);
}

Test(wire_parse, two_opts)
{
	raw_t r;
	wire_query_t q;
	raw_hdr(&r, 0, 1, 0, 0, 2);
	raw_question(&r);
	raw_opt(&r, 0, NULL, 0);
	raw_opt(&r, 0, NULL, 0);
	cr_assert_eq(parse(&r, &q), WIRE_FORMERR);
}

Test(wire_parse, opt_not_last)
{
	raw_t r;
	wire_query_t q;
	raw_hdr(&r, 0, 1, 0, 0, 2);
	raw_question(&r);
	raw_opt(&r, 0, NULL, 0);
	/* then an A record owned by the root */
	uint8_t a[15] = {0, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1};
	raw_add(&r, a, sizeof(a));
	cr_assert_eq(parse(&r, &q), WIRE_FORMERR);
}

Test(wire_parse, other_record_before_opt_is_skipped)
{
	raw_t r;
	wire_query_t q;
	raw_hdr(&r, 0, 1, 0, 0, 2);
	raw_question(&r);
	uint8_t a[16] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1};
	raw_add(&r, a, sizeof(a));
	raw_opt(&r, 0, NULL, 0);
	cr_assert_eq(parse(&r, &q), WIRE_OK);
	cr_assert(q.has_edns);
}

Test(wire_parse, opt_not_at_root)
{
	raw_t r;
	wire_query_t q;
	raw_hdr(&r, 0, 1, 0, 0, 1);
	raw_question(&r);
	uint8_t o[13] = {1, 'x', 0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0};
	raw_add(&r, o, sizeof(o));
	cr_assert_eq(parse(&r, &q), WIRE_FORMERR);
}

Test(wire_parse, opt_bad_lengths)
{
	raw_t r;
	wire_query_t q;
	/* option says 8 bytes, rdata has 4 after the option header */
	uint8_t rd[8] = {0, 10, 0, 8, 1, 2, 3, 4};
	raw_hdr(&r, 0, 1, 0, 0, 1);
	raw_question(&r);
	raw_opt(&r, 0, rd, sizeof(rd));
	cr_assert_eq(parse(&r, &q), WIRE_FORMERR);
	/* rdlength beyond the packet */
	raw_hdr(&r, 0, 1, 0, 0, 1);
	raw_question(&r);
	uint8_t o[11] = {0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 20};
	raw_add(&r, o, sizeof(o));
	cr_assert_eq(parse(&r, &q), WIRE_FORMERR);
	/* a dangling option header (3 bytes) */
	uint8_t rd3[3] = {0, 10, 0};
	raw_hdr(&r, 0, 1, 0, 0, 1);
	raw_question(&r);
	raw_opt(&r, 0, rd3, sizeof(rd3));
	cr_assert_eq(parse(&r, &q), WIRE_FORMERR);
}

Test(wire_parse, unknown_option_ignored)
{
	raw_t r;
	wire_query_t q;
	uint8_t rd[12] = {0xfd, 0xe9, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8};
	raw_hdr(&r, 0, 1, 0, 0, 1);
	raw_question(&r);
	raw_opt(&r, 0, rd, sizeof(rd));
	cr_assert_eq(parse(&r, &q), WIRE_OK);
}

Test(wire_parse, badvers)
{
	raw_t r;
	wire_query_t q;
	raw_hdr(&r, 0, 1, 0, 0, 1);
	raw_question(&r);
	raw_opt(&r, 1, NULL, 0);
	cr_assert_eq(parse(&r, &q), WIRE_BADVERS);
	cr_assert(q.has_question);
}

static wire_verdict_t ecs_case(const uint8_t *ecs, uint16_t len, wire_query_t *q)
{
	raw_t r;
	uint8_t rd[64] = {0, 8, (uint8_t)(len >> 8), (uint8_t)len};
	memcpy(rd + 4, ecs, len);
	raw_hdr(&r, 0, 1, 0, 0, 1);
	raw_question(&r);
	raw_opt(&r, 0, rd, (uint16_t)(4 + len));
	return parse(&r, q);
}

Test(wire_ecs, valid_v4_v6_and_zero)
{
	wire_query_t q;
	uint8_t v4[7] = {0, 1, 24, 0, 198, 51, 100};
	cr_assert_eq(ecs_case(v4, sizeof(v4), &q), WIRE_OK);
	cr_assert(q.has_ecs);
	cr_assert_eq(q.ecs.family, 1);
	cr_assert_eq(q.ecs.source, 24);
	cr_assert_eq(q.ecs.addr[2], 100);
	cr_assert_eq(q.ecs.addr[3], 0);
	uint8_t v6[10] = {0, 2, 48, 0, 0x20, 0x01, 0x0d, 0xb8, 0, 1};
	cr_assert_eq(ecs_case(v6, sizeof(v6), &q), WIRE_OK);
	cr_assert_eq(q.ecs.family, 2);
	cr_assert_eq(q.ecs.source, 48);
	uint8_t zero[4] = {0, 1, 0, 0};
	cr_assert_eq(ecs_case(zero, sizeof(zero), &q), WIRE_OK);
	cr_assert_eq(q.ecs.source, 0);
	uint8_t v4_20[7] = {0, 1, 20, 0, 10, 1, 0x10};
	cr_assert_eq(ecs_case(v4_20, sizeof(v4_20), &q), WIRE_OK);
}

Test(wire_ecs, malformed_is_formerr)
{
	wire_query_t q;
	uint8_t fam[7] = {0, 3, 24, 0, 1, 2, 3}; /* unknown family */
	cr_assert_eq(ecs_case(fam, sizeof(fam), &q), WIRE_FORMERR);
	uint8_t src33[9] = {0, 1, 33, 0, 1, 2, 3, 4, 0}; /* SOURCE > 32 */
	cr_assert_eq(ecs_case(src33, sizeof(src33), &q), WIRE_FORMERR);
	uint8_t src129[21] = {0, 2, 129, 0};
	cr_assert_eq(ecs_case(src129, sizeof(src129), &q), WIRE_FORMERR);
	uint8_t bits[7] = {0, 1, 20, 0, 10, 1, 0x11}; /* bit set beyond /20 */
	cr_assert_eq(ecs_case(bits, sizeof(bits), &q), WIRE_FORMERR);
	uint8_t extra[8] = {0, 1, 24, 0, 10, 1, 2, 0}; /* 4 octets for a /24 */
	cr_assert_eq(ecs_case(extra, sizeof(extra), &q), WIRE_FORMERR);
	uint8_t shortb[6] = {0, 1, 24, 0, 10, 1}; /* 2 octets for a /24 */
	cr_assert_eq(ecs_case(shortb, sizeof(shortb), &q), WIRE_FORMERR);
	uint8_t tiny[3] = {0, 1, 24};
	cr_assert_eq(ecs_case(tiny, sizeof(tiny), &q), WIRE_FORMERR);
}

Test(wire_parse, every_prefix_of_a_query_is_safe)
{
	/* Cut a valid EDNS+ECS query at every length: never OK, never a crash. */
	raw_t r;
	wire_query_t q;
	uint8_t rd[11] = {0, 8, 0, 7, 0, 1, 24, 0, 198, 51, 100};
	raw_hdr(&r, 0, 1, 0, 0, 1);
	raw_question(&r);
	raw_opt(&r, 0, rd, sizeof(rd));
	cr_assert_eq(parse(&r, &q), WIRE_OK);
	for (size_t n = 0; n < r.n; n++) {
		wire_verdict_t v = wire_parse_query(r.b, n, &q);
		cr_assert(v == WIRE_DROP || v == WIRE_FORMERR, "len %zu gave %d", n, v);
	}
}

Test(wire_buf, overflow_writes_nothing)
{
	uint8_t mem[8];
	wire_buf_t b;
	wire_buf_init(&b, mem, sizeof(mem));
	wire_put_u32(&b, 0x01020304);
	wire_put_u16(&b, 0x0506);
	cr_assert_eq(b.len, 6);
	wire_put_u32(&b, 0xffffffff);
	cr_assert(b.full);
	cr_assert_eq(b.len, 6);
	wire_put_u8(&b, 7); /* stays full: a partial RRset is never written */
	cr_assert_eq(b.len, 6);
}

/* Build a response by hand with compressed names and let ldns read it. */
Test(wire_buf, name_compression_against_question)
{
	uint8_t pkt[512], out[512];
	wire_query_t q;
	size_t n = tu_query(pkt, sizeof(pkt), "WWW.Example.TEST.", LDNS_RR_TYPE_A, 0, false);
	cr_assert_eq(wire_parse_query(pkt, n, &q), WIRE_OK);
	wire_buf_t b;
	wire_buf_init(&b, out, sizeof(out));
	wire_put_header_question(&b, &q, pkt, WIRE_F_QR | WIRE_F_AA, 1);
	static const uint8_t names[3][32] = {
		"\3www\7example\4test", /* the qname itself: a bare pointer */
		"\4mail\7example\4test", /* shares example.test */
		"\2ns\7example\3net",	 /* shares nothing */
	};
	size_t lens[3];
	for (int i = 0; i < 3; i++) {
		size_t before = b.len;
		wire_put_name_q(&b, names[i], &q);
		lens[i] = b.len - before;
		uint8_t rr[14] = {0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, (uint8_t)i};
		wire_put(&b, rr, sizeof(rr));
	}
	cr_assert_eq(lens[0], 2);
	cr_assert_eq(lens[1], 5 + 2);
	cr_assert_eq(lens[2], 16);
	cr_assert_eq(out[12 + q.question_len], 0xc0);
	cr_assert_eq(out[12 + q.question_len + 1], 12);
	wire_set_counts(&b, 3, 0, 0);
	ldns_pkt *p = tu_parse(out, b.len);
	ldns_rr_list *an = ldns_pkt_answer(p);
	tu_assert_rr(an, 0, "WWW.Example.TEST. 60 IN A 192.0.2.0");
	tu_assert_rr(an, 1, "mail.Example.TEST. 60 IN A 192.0.2.1");
	tu_assert_rr(an, 2, "ns.example.net. 60 IN A 192.0.2.2");
	ldns_pkt_free(p);
}

Test(wire_buf, opt_with_ecs_parses)
{
	uint8_t pkt[512], out[512];
	wire_query_t q;
	size_t n = tu_query(pkt, sizeof(pkt), "example.test.", LDNS_RR_TYPE_A, 1232, true);
	cr_assert_eq(wire_parse_query(pkt, n, &q), WIRE_OK);
	wire_buf_t b;
	wire_buf_init(&b, out, sizeof(out));
	wire_put_header_question(&b, &q, pkt, WIRE_F_QR, 1);
	wire_ecs_t ecs = {.family = 1, .source = 24, .addr = {198, 51, 100}};
	size_t before = b.len;
	wire_put_opt(&b, 1232, WIRE_RCODE_BADVERS, WIRE_EDNS_DO, &ecs, 16);
	cr_assert_eq(b.len - before, wire_opt_len(&ecs));
	wire_set_counts(&b, 0, 0, 1);
	ldns_pkt *p = tu_parse(out, b.len);
	cr_assert_eq(ldns_pkt_edns_udp_size(p), 1232);
	cr_assert_eq(ldns_pkt_edns_extended_rcode(p), 1);
	cr_assert(ldns_pkt_edns_do(p));
	ldns_rdf *data = ldns_pkt_edns_data(p);
	cr_assert_not_null(data);
	cr_assert_eq(ldns_rdf_size(data), 11);
	const uint8_t *d = ldns_rdf_data(data);
	uint8_t want[11] = {0, 8, 0, 7, 0, 1, 24, 16, 198, 51, 100};
	cr_assert_eq(memcmp(d, want, 11), 0);
	ldns_pkt_free(p);
}

Test(wire_name, text_and_helpers)
{
	char t[64];
	wire_name_to_text((const uint8_t *)"\3a.b\7example\0", t, sizeof(t));
	cr_assert_str_eq(t, "a\\.b.example.");
	wire_name_to_text((const uint8_t *)"\0", t, sizeof(t));
	cr_assert_str_eq(t, ".");
	cr_assert_eq(wire_name_len((const uint8_t *)"\3www\7example\4test"), 18);
	cr_assert_eq(wire_name_labels((const uint8_t *)"\3www\7example\4test"), 3);
	cr_assert_eq(wire_name_check((const uint8_t *)"\3www\0", 5), 5);
	cr_assert_eq(wire_name_check((const uint8_t *)"\3www", 4), -1);
	cr_assert_eq(wire_name_check((const uint8_t *)"\xc0\x0c", 2), -1);
}
