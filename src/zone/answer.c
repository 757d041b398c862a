/* answer.c -- the per-query path: RFC 1034 §4.3.2 lookup with RFC 4592 wildcards, RFC 6891 EDNS. */
#include "config.h"
#include "zone/answer.h"

#include <string.h>

#include "wire/wire.h"

/* Longest CNAME chain followed inside a zone (BIND and NSD use similar bounds). */
#define CHAIN_MAX 12

/* A name being resolved: lower-case wire form plus label offsets. */
typedef struct qname {
	const uint8_t *name;
	unsigned len;
	unsigned labels;
	uint8_t off[WIRE_LABELS_MAX];
} qname_t;

typedef struct resp {
	wire_buf_t b;
	const wire_query_t *q;
	const answer_params_t *p;
	const answer_client_t *client;
	uint16_t an, ns, ar;
	bool tc;
	/* ECS: the longest scope of the dynamic answers used (RFC 7871 §7.2.1);
	 * stays 0 when nothing depended on the client's address. */
	unsigned scope;
	bool dynamic, failopen; /* a dynamic name answered; one of them failed open */
	/* RRsets placed in the answer, for additional-section processing. */
	const zone_rrset_t *asets[CHAIN_MAX + 2];
	unsigned n_asets;
} resp_t;

static void qname_set(qname_t *n, const uint8_t *name)
{
	unsigned o = 0, l = 0;
	while (name[o]) {
		n->off[l++] = (uint8_t)o;
		o += 1u + name[o];
	}
	n->off[l] = (uint8_t)o;
	n->name = name;
	n->len = o + 1;
	n->labels = l;
}

/* Copy an RRset with `owner` into the response. All or nothing: an RRset
 * that does not fit is taken out again (RFC 2181 §9: truncate at RRset
 * boundaries), and false is returned. */
static bool put_rrset_from(resp_t *r, const uint8_t *owner, const zone_rrset_t *s,
			   unsigned first, uint16_t *counter)
{
	size_t mark = r->b.len;
	const uint8_t *w = s->wire;
	const uint8_t *end = s->wire + s->wire_len;
	/* Round-robin: skip to RR `first`, write to the end, then wrap. */
	for (unsigned i = 0; s->count && i < first % s->count; i++)
		w += 10u + wire_get_u16(w + 8);
	for (unsigned i = 0; i < s->count; i++) {
		if (w >= end)
			w = s->wire;
		size_t rrlen = 10u + wire_get_u16(w + 8);
		wire_put_name_q(&r->b, owner, r->q);
		wire_put(&r->b, w, rrlen);
		w += rrlen;
	}
	if (r->b.full) {
		r->b.len = mark;
		r->b.full = false;
		return false;
	}
	*counter = (uint16_t)(*counter + s->count);
	return true;
}

static bool put_rrset(resp_t *r, const uint8_t *owner, const zone_rrset_t *s, uint16_t *counter)
{
	return put_rrset_from(r, owner, s, 0, counter);
}

/* A/AAAA of in-zone targets. `required` (in-domain glue of a referral,
 * RFC 9471) sets TC when it does not fit; the rest is dropped quietly. */
static void put_additional(resp_t *r, const zone_rrset_t *s, const zone_node_t *cut)
{
	for (unsigned i = 0; i < s->n_targets; i++) {
		const zone_node_t *t = s->targets[i];
		bool required = cut && t->cut == cut;
		static const uint16_t types[2] = {WIRE_T_A, WIRE_T_AAAA};
		for (unsigned k = 0; k < 2; k++) {
			const zone_rrset_t *a = zone_node_rrset(t, types[k]);
			if (a && !put_rrset(r, t->name, a, &r->ar) && required)
				r->tc = true;
		}
	}
}

static void put_negative(resp_t *r, const zone_t *z)
{
	if (!put_rrset(r, z->apex_name, &z->neg_soa, &r->ns))
		r->tc = true;
}

static void put_answer_from(resp_t *r, const uint8_t *owner, const zone_rrset_t *s,
			    unsigned first)
{
	if (put_rrset_from(r, owner, s, first, &r->an)) {
		if (r->n_asets < sizeof(r->asets) / sizeof(r->asets[0]))
			r->asets[r->n_asets++] = s;
	} else {
		r->tc = true;
	}
}

static void put_answer(resp_t *r, const uint8_t *owner, const zone_rrset_t *s)
{
	put_answer_from(r, owner, s, 0);
}

/* A dynamic name: ask its provider, write what it decided. Returns true
 * when the plan is a CNAME to follow (*cname set). */
static bool put_dynamic(resp_t *r, const zone_t *z, const uint8_t *owner, const zone_node_t *src,
			answer_plan_t *plan, const zone_rrset_t **cname)
{
	uint16_t qtype = r->q->qtype;
	r->p->dyn(r->p->dyn_ctx, src->dyn, r->client, qtype, plan);
	r->dynamic = true;
	r->failopen |= plan->failopen;
	if (plan->ecs_used && plan->scope > r->scope)
		r->scope = plan->scope;
	if (plan->cname_target && plan->n_an > 0) {
		if (qtype != WIRE_T_CNAME && qtype != WIRE_T_ANY) {
			*cname = plan->an[0];
			return true;
		}
		put_answer(r, owner, plan->an[0]);
		return false;
	}
	if (plan->n_an == 0) {
		put_negative(r, z); /* NODATA: e.g. AAAA where the site has only A */
		return false;
	}
	for (unsigned i = 0; i < plan->n_an && !r->tc; i++)
		put_answer_from(r, owner, plan->an[i], i == 0 ? plan->rotate : 0);
	/* Additional data is optional: what does not fit is left out. */
	for (unsigned i = 0; i < plan->n_ad && !r->tc; i++)
		put_rrset(r, plan->ad_owner[i], plan->ad[i], &r->ar);
	return false;
}

/* Resolve q in zone z. Returns the rcode; sets *aa. */
static unsigned resolve(resp_t *r, const zone_t *z, bool *aa)
{
	const wire_query_t *q = r->q;
	uint8_t target_buf[WIRE_NAME_MAX];
	const zone_node_t *visited[CHAIN_MAX];
	qname_t cur;
	qname_set(&cur, q->qname_lc);
	*aa = true;

	for (unsigned chain = 0;; chain++) {
		const zone_node_t *node = zone_lookup(z, cur.name, cur.len);
		const zone_node_t *ce = node;
		/* Closest encloser (RFC 4592 §3.3.1): the apex always exists. */
		for (unsigned i = 1; !ce && i <= cur.labels - z->apex_labels; i++)
			ce = zone_lookup(z, cur.name + cur.off[i], cur.len - cur.off[i]);
		if (!ce)
			return WIRE_RCODE_SERVFAIL; /* cannot happen: cur is in z */

		const zone_node_t *cut = ce->cut;
		/* DS sits on the parent side of a cut (RFC 4035 §3.1.4.1). */
		if (cut && !(node == cut && q->qtype == WIRE_T_DS)) {
			if (chain > 0)
				return WIRE_RCODE_NOERROR; /* the CNAMEs so far; the resolver goes on */
			const zone_rrset_t *ns = zone_node_rrset(cut, WIRE_T_NS);
			*aa = false;
			if (!put_rrset(r, cut->name, ns, &r->ns))
				r->tc = true;
			else
				put_additional(r, ns, cut);
			return WIRE_RCODE_NOERROR;
		}

		const zone_node_t *src = node;
		if (!src) {
			src = ce->wild;
			if (!src) {
				put_negative(r, z);
				return WIRE_RCODE_NXDOMAIN; /* RFC 6604: rcode of the last name */
			}
		}

		const zone_rrset_t *cname = NULL;
		if (src->dyn && r->p->dyn) {
			answer_plan_t plan;
			if (!put_dynamic(r, z, cur.name, src, &plan, &cname))
				return WIRE_RCODE_NOERROR;
		} else {
			cname = zone_node_rrset(src, WIRE_T_CNAME);
			if (q->qtype == WIRE_T_CNAME || q->qtype == WIRE_T_ANY)
				cname = NULL;
		}
		if (cname) {
			put_answer(r, cur.name, cname);
			if (r->tc)
				return WIRE_RCODE_NOERROR;
			visited[chain] = src;
			/* Follow the target while it stays in this zone. */
			const uint8_t *t = cname->wire + 10;
			wire_name_lower(t, target_buf);
			qname_t next;
			qname_set(&next, target_buf);
			if (chain + 1 >= CHAIN_MAX || next.labels < z->apex_labels ||
			    memcmp(next.name + next.off[next.labels - z->apex_labels], z->apex_name,
				   z->apex_len) != 0)
				return WIRE_RCODE_NOERROR;
			const zone_node_t *tn = zone_lookup(z, next.name, next.len);
			for (unsigned k = 0; tn && k <= chain; k++)
				if (visited[k] == tn)
					return WIRE_RCODE_NOERROR; /* a loop: stop, as BIND does */
			cur = next;
			continue;
		}

		if (q->qtype == WIRE_T_ANY) {
			/* RFC 8482 §4.1: one RRset is enough; the lowest type, so
			 * the choice is stable. */
			if (src->n_rrsets > 0) {
				put_answer(r, cur.name, &src->rrsets[0]);
				return WIRE_RCODE_NOERROR;
			}
		} else {
			const zone_rrset_t *set = zone_node_rrset(src, q->qtype);
			if (set) {
				put_answer(r, cur.name, set);
				return WIRE_RCODE_NOERROR;
			}
		}
		put_negative(r, z); /* NODATA, RFC 2308 §2.2 */
		return WIRE_RCODE_NOERROR;
	}
}

static void count_rcode(stats_t *st, unsigned rcode)
{
	static const stat_id_t ids[] = {
		[WIRE_RCODE_NOERROR] = STAT_RCODE_NOERROR, [WIRE_RCODE_FORMERR] = STAT_RCODE_FORMERR,
		[WIRE_RCODE_SERVFAIL] = STAT_RCODE_SERVFAIL, [WIRE_RCODE_NXDOMAIN] = STAT_RCODE_NXDOMAIN,
		[WIRE_RCODE_NOTIMP] = STAT_RCODE_NOTIMP, [WIRE_RCODE_REFUSED] = STAT_RCODE_REFUSED,
	};
	if (rcode == WIRE_RCODE_BADVERS)
		stats_inc(st, STAT_RCODE_BADVERS);
	else if (rcode < sizeof(ids) / sizeof(ids[0]))
		stats_inc(st, ids[rcode]);
}

size_t answer_query(const answer_params_t *p, const uint8_t *req, size_t len, bool tcp,
		    uint8_t *out, size_t cap, stats_t *st)
{
	return answer_query_from(p, req, len, tcp, NULL, out, cap, st);
}

size_t answer_query_from(const answer_params_t *p, const uint8_t *req, size_t len, bool tcp,
			 const struct sockaddr *peer, uint8_t *out, size_t cap, stats_t *st)
{
	wire_query_t q;
	wire_verdict_t v = wire_parse_query(req, len, &q);
	if (v == WIRE_DROP) {
		stats_inc(st, STAT_DROPPED);
		if (len < WIRE_HDR_LEN)
			stats_inc(st, STAT_MALFORMED);
		return 0;
	}

	/* Size limit: 512 without EDNS (RFC 1035 §4.2.1), the requestor's
	 * size (at least 512) up to ours with it (RFC 6891 §6.2.5); TCP: all. */
	size_t limit = cap;
	if (!tcp) {
		size_t udp = WIRE_UDP_MIN;
		if (q.has_edns && q.edns_udp > WIRE_UDP_MIN)
			udp = q.edns_udp < p->edns_udp_size ? q.edns_udp : p->edns_udp_size;
		if (udp < limit)
			limit = udp;
	}
	const wire_ecs_t *ecs = q.has_ecs ? &q.ecs : NULL;
	size_t opt_len = q.has_edns ? wire_opt_len(ecs) : 0;
	if (limit < WIRE_HDR_LEN + opt_len)
		return 0;

	answer_client_t client = {.peer = peer, .ecs = q.has_ecs ? &q.ecs : NULL};
	resp_t r = {.q = &q, .p = p, .client = &client};
	wire_buf_init(&r.b, out, limit - opt_len);
	uint16_t flags = (uint16_t)(WIRE_F_QR | (q.flags & (0x7800u | WIRE_F_RD | WIRE_F_CD)));
	unsigned rcode;
	bool aa = false;
	bool question = q.has_question;

	if (q.has_edns)
		stats_inc(st, STAT_EDNS);
	if (question)
		stats_inc(st, stats_qtype_id(q.qtype));
	switch (v) {
	case WIRE_NOTIMP:
		rcode = WIRE_RCODE_NOTIMP;
		break;
	case WIRE_FORMERR:
		rcode = WIRE_RCODE_FORMERR;
		stats_inc(st, STAT_MALFORMED);
		ecs = NULL;
		break;
	case WIRE_BADVERS:
		rcode = WIRE_RCODE_BADVERS;
		ecs = NULL;
		break;
	default:
		rcode = WIRE_RCODE_NOERROR;
		break;
	}
	wire_put_header_question(&r.b, &q, req, 0, question ? 1 : 0);
	if (r.b.full)
		return 0; /* cannot even echo the question within the limit */

	if (v == WIRE_OK) {
		const zone_t *z = NULL;
		if (q.qtype == WIRE_T_OPT) {
			rcode = WIRE_RCODE_FORMERR; /* RFC 6891 §6.1.1: OPT is no query type */
			stats_inc(st, STAT_MALFORMED);
		} else if (q.qtype == WIRE_T_MAILA || q.qtype == WIRE_T_MAILB) {
			rcode = WIRE_RCODE_NOTIMP;
		} else if (q.qclass != WIRE_C_IN || q.qtype == WIRE_T_AXFR ||
			   q.qtype == WIRE_T_IXFR ||
			   !(z = zoneset_find(p->zones, q.qname_lc, q.label_off, q.qname_labels))) {
			rcode = WIRE_RCODE_REFUSED; /* not ours, or no transfers */
		} else {
			stats_zone_inc(st, z->index);
			rcode = resolve(&r, z, &aa);
			for (unsigned i = 0; i < r.n_asets && !r.tc; i++)
				put_additional(&r, r.asets[i], NULL);
			if (!aa)
				stats_inc(st, STAT_REFERRAL);
			else if (rcode == WIRE_RCODE_NOERROR && r.an == 0)
				stats_inc(st, STAT_NODATA);
		}
	}

	flags |= (uint16_t)(rcode & 0x0F);
	if (aa)
		flags |= WIRE_F_AA;
	if (r.dynamic)
		stats_inc(st, STAT_DYNAMIC);
	if (r.failopen)
		stats_inc(st, STAT_FAILOPEN);
	if (r.tc) {
		flags |= WIRE_F_TC;
		stats_inc(st, STAT_TRUNCATED);
	}
	if (q.has_edns) {
		r.b.cap = limit; /* the room kept for OPT */
		wire_put_opt(&r.b, p->edns_udp_size, rcode, q.edns_flags, ecs, (uint8_t)r.scope);
		r.ar++;
	}
	wire_set_u16(out + 2, flags);
	wire_set_counts(&r.b, r.an, r.ns, r.ar);
	count_rcode(st, rcode);
	return r.b.full ? 0 : r.b.len;
}
