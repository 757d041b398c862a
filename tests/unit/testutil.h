/* testutil.h -- shared helpers of the unit tests: building queries and reading answers with ldns. */
#ifndef WAYMARK_TESTS_TESTUTIL_H
#define WAYMARK_TESTS_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <ldns/ldns.h>

/* A path under the source tree (the harness exports top_srcdir). */
static inline const char *tu_src(const char *rel)
{
	static char buf[4][4096];
	static int k;
	const char *top = getenv("top_srcdir");
	char *b = buf[k++ & 3];
	snprintf(b, sizeof(buf[0]), "%s/%s", top ? top : ".", rel);
	return b;
}

/* Build a query with ldns. udp = 0: no EDNS. Returns its length in out. */
static inline size_t tu_query(uint8_t *out, size_t cap, const char *name, ldns_rr_type type,
			      uint16_t udp, bool do_bit)
{
	ldns_rdf *dn = ldns_dname_new_frm_str(name);
	cr_assert_not_null(dn, "bad test name %s", name);
	ldns_pkt *p = ldns_pkt_query_new(dn, type, LDNS_RR_CLASS_IN, 0);
	ldns_pkt_set_id(p, 0x1234);
	if (udp) {
		ldns_pkt_set_edns_udp_size(p, udp);
		if (do_bit)
			ldns_pkt_set_edns_do(p, true);
	}
	uint8_t *w = NULL;
	size_t len = 0;
	cr_assert_eq(ldns_pkt2wire(&w, p, &len), LDNS_STATUS_OK);
	cr_assert_leq(len, cap);
	memcpy(out, w, len);
	free(w);
	ldns_pkt_free(p);
	return len;
}

/* Parse a response with ldns (it must parse) and check the header basics. */
static inline ldns_pkt *tu_parse(const uint8_t *resp, size_t len)
{
	ldns_pkt *p = NULL;
	cr_assert_gt(len, 0, "no response");
	cr_assert_eq(ldns_wire2pkt(&p, resp, len), LDNS_STATUS_OK, "ldns cannot parse the response");
	cr_assert(ldns_pkt_qr(p), "QR not set");
	return p;
}

/* The i-th RR of a section, rendered as text without the trailing newline. */
static inline char *tu_rr_text(const ldns_rr_list *l, size_t i)
{
	cr_assert_lt(i, ldns_rr_list_rr_count(l));
	char *s = ldns_rr2str(ldns_rr_list_rr(l, i));
	size_t n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
	for (char *t = s; *t; t++)
		if (*t == '\t')
			*t = ' ';
	return s;
}

static inline void tu_assert_rr(const ldns_rr_list *l, size_t i, const char *want)
{
	char *s = tu_rr_text(l, i);
	cr_assert_str_eq(s, want, "RR %zu: got '%s', want '%s'", i, s, want);
	free(s);
}

#endif
