/* gslb_answer.c -- prepared dynamic answers: built when health changes, picked per query. */
#include "config.h"
#include "gslb/gslb_answer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <urcu/urcu-memb.h>

/* ---- RRsets in wire form --------------------------------------------------- */

typedef struct rrb {
	uint8_t *buf;
	size_t len, cap;
	uint16_t count;
	bool oom;
} rrb_t;

static void rrb_put(rrb_t *b, const void *p, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n > b->cap) {
		size_t ncap = b->cap ? b->cap * 2 : 256;
		while (ncap < b->len + n)
			ncap *= 2;
		uint8_t *nb = realloc(b->buf, ncap);
		if (!nb) {
			b->oom = true;
			return;
		}
		b->buf = nb;
		b->cap = ncap;
	}
	memcpy(b->buf + b->len, p, n);
	b->len += n;
}

/* One RR: type, class IN, TTL, RDLENGTH, then rdata in two parts. */
static void rrb_rr(rrb_t *b, uint16_t type, uint32_t ttl, const void *rd1, size_t n1,
		   const void *rd2, size_t n2)
{
	uint8_t h[10] = {(uint8_t)(type >> 8), (uint8_t)type,	     0, WIRE_C_IN,
			 (uint8_t)(ttl >> 24),	(uint8_t)(ttl >> 16), (uint8_t)(ttl >> 8),
			 (uint8_t)ttl,		(uint8_t)((n1 + n2) >> 8), (uint8_t)(n1 + n2)};
	rrb_put(b, h, sizeof(h));
	rrb_put(b, rd1, n1);
	if (n2)
		rrb_put(b, rd2, n2);
	b->count++;
}

static int rrb_done(rrb_t *b, uint16_t type, uint32_t ttl, zone_rrset_t *out)
{
	memset(out, 0, sizeof(*out));
	if (b->oom) {
		free(b->buf);
		return -1;
	}
	out->type = type;
	out->ttl = ttl;
	out->count = b->count;
	out->wire_len = (uint32_t)b->len;
	out->wire = b->buf;
	memset(b, 0, sizeof(*b));
	return 0;
}

static void rrb_addrs(rrb_t *a, rrb_t *aaaa, const gslb_addr_t *addrs, unsigned n, uint32_t ttl,
		      unsigned *left4, unsigned *left6)
{
	for (unsigned i = 0; i < n; i++) {
		if (addrs[i].family == 4 && (!left4 || *left4 > 0)) {
			rrb_rr(a, WIRE_T_A, ttl, addrs[i].a, 4, NULL, 0);
			if (left4)
				(*left4)--;
		} else if (addrs[i].family == 6 && (!left6 || *left6 > 0)) {
			rrb_rr(aaaa, WIRE_T_AAAA, ttl, addrs[i].a, 16, NULL, 0);
			if (left6)
				(*left6)--;
		}
	}
}

/* ---- decisions ------------------------------------------------------------- */

static bool per_class(gslb_kind_t k)
{
	return k == GSLB_FAILOVER || k == GSLB_MULTI || k == GSLB_SRV || k == GSLB_CNAME;
}

static bool pool_any_member_up(const gslb_t *g, const gslb_state_t *s, unsigned p)
{
	const gslb_pool_t *pool = &g->pools[p];
	for (unsigned i = 0; i < pool->n_members; i++)
		if (s->member_up[pool->members[i]])
			return true;
	return false;
}

static bool pool_all_members_up(const gslb_t *g, const gslb_state_t *s, unsigned p)
{
	const gslb_pool_t *pool = &g->pools[p];
	for (unsigned i = 0; i < pool->n_members; i++)
		if (!s->member_up[pool->members[i]])
			return false;
	return true;
}

/* The addresses a pool answers with: its VIPs, else its up members' (all of
 * them when failing open, or when the pool is forced up with none up). */
static void pool_addrs(rrb_t *a, rrb_t *aaaa, const gslb_t *g, const gslb_state_t *s, unsigned p,
		       bool all, uint32_t ttl, unsigned *left4, unsigned *left6)
{
	const gslb_pool_t *pool = &g->pools[p];
	if (pool->n_vip) {
		rrb_addrs(a, aaaa, pool->vip, pool->n_vip, ttl, left4, left6);
		return;
	}
	bool any = pool_any_member_up(g, s, p);
	for (unsigned i = 0; i < pool->n_members; i++) {
		unsigned m = pool->members[i];
		if (all || !any || s->member_up[m])
			rrb_addrs(a, aaaa, g->members[m].answer, g->members[m].n_answer, ttl, left4,
				  left6);
	}
}

typedef struct build {
	const gslb_t *g;
	const gslb_state_t *s;
	time_t now;
	unsigned *cand; /* scratch: candidate sites of one decision */
	bool *usable;
	int oom;
} build_t;

/* The A/AAAA of an SRV target, for the additional section. A target
 * outside our zones gets none: resolvers ask its own servers. */
static void prep_extra(build_t *b, gslb_prep_t *pr, unsigned member, const uint8_t *host,
		       uint32_t ttl)
{
	const gslb_member_t *m = &b->g->members[member];
	for (int fam = 4; fam <= 6; fam += 2) {
		rrb_t r = {0}, dummy = {0};
		if (fam == 4)
			rrb_addrs(&r, &dummy, m->answer, m->n_answer, ttl, NULL, NULL);
		else
			rrb_addrs(&dummy, &r, m->answer, m->n_answer, ttl, NULL, NULL);
		free(dummy.buf);
		if (r.count == 0) {
			free(r.buf);
			continue;
		}
		if (rrb_done(&r, fam == 4 ? WIRE_T_A : WIRE_T_AAAA, ttl,
			     &pr->extra[pr->n_extra]) < 0) {
			b->oom = 1;
			return;
		}
		pr->extra_owner[pr->n_extra++] = host;
	}
}

/* One (name, class) of the kinds that follow the client's site order. */
static void prep_sited(build_t *b, const gslb_name_t *n, const uint16_t *order, unsigned norder,
		       gslb_prep_t *pr)
{
	const gslb_t *g = b->g;
	const gslb_state_t *s = b->s;
	const gslb_service_t *sv = &g->services[n->service];
	unsigned ncand = 0;
	bool all_up = true;
	int chosen = -1;
	for (unsigned i = 0; i < norder; i++) {
		if (n->pool_of_site[order[i]] == GSLB_NONE)
			continue;
		b->cand[ncand] = order[i];
		b->usable[ncand] =
			gslb_state_pool_usable(s, g, n->service, n->pool_of_site[order[i]], b->now);
		if (b->usable[ncand] && chosen < 0)
			chosen = (int)ncand;
		all_up &= b->usable[ncand];
		ncand++;
	}
	pr->site = -1;
	pr->ttl = sv->failover_ttl;
	if (ncand == 0)
		return; /* the service has no pool at any site of this order: NODATA */
	/* No usable site, but some are up inside their hold-down (after they
	 * all were down): take those. The hold-down keeps clients from bouncing
	 * between working sites; it must not push them to a fail-open pick. */
	for (unsigned i = 0; chosen < 0 && i < ncand; i++)
		if (s->pool_up[n->pool_of_site[b->cand[i]]])
			chosen = (int)i;
	if (chosen >= 0 && !b->usable[chosen])
		for (unsigned i = 0; i < ncand; i++)
			b->usable[i] = s->pool_up[n->pool_of_site[b->cand[i]]];
	/* Fail open: no site in the client's order is up. A broken health check
	 * must not take the service off the air: answer as if all were up. */
	pr->failopen = chosen < 0;
	if (pr->failopen)
		chosen = 0;
	pr->site = (int)b->cand[chosen];
	pr->first_choice = chosen == 0 && !pr->failopen;
	/* The long TTL only for a client's first choice with every candidate
	 * site usable and every server behind the answer up: while anything
	 * is degraded, clients come back soon (DESIGN.md §2). */
	bool degraded = !all_up;
	if (n->kind == GSLB_FAILOVER || n->kind == GSLB_CNAME) {
		degraded |= !pool_all_members_up(g, s, n->pool_of_site[pr->site]);
	} else {
		for (unsigned i = 0; i < ncand; i++)
			degraded |= !pool_all_members_up(g, s, n->pool_of_site[b->cand[i]]);
	}
	pr->ttl = pr->first_choice && !degraded ? sv->ttl : sv->failover_ttl;
	/* A pool being drained: the shortest TTL, so that caches let go of it
	 * before it is withdrawn. */
	bool draining = false;
	if (n->kind == GSLB_FAILOVER || n->kind == GSLB_CNAME) {
		draining = gslb_state_pool_draining(s, n->pool_of_site[pr->site], b->now);
	} else {
		for (unsigned i = 0; i < ncand; i++)
			if (b->usable[i] || pr->failopen)
				draining |= gslb_state_pool_draining(
					s, n->pool_of_site[b->cand[i]], b->now);
	}
	if (draining)
		pr->ttl = 1;
	uint32_t ttl = pr->ttl;
	rrb_t a = {0}, aaaa = {0}, other = {0};

	switch (n->kind) {
	case GSLB_FAILOVER:
		pool_addrs(&a, &aaaa, g, s, n->pool_of_site[pr->site], pr->failopen, ttl, NULL, NULL);
		break;
	case GSLB_MULTI: {
		unsigned left4 = n->max, left6 = n->max;
		for (unsigned i = 0; i < ncand; i++)
			if (b->usable[i] || pr->failopen)
				pool_addrs(&a, &aaaa, g, s, n->pool_of_site[b->cand[i]], pr->failopen,
					   ttl, &left4, &left6);
		break;
	}
	case GSLB_CNAME: {
		const uint8_t *t = n->cname_hosts ? n->cname_hosts[pr->site] : NULL;
		if (t)
			rrb_rr(&other, WIRE_T_CNAME, ttl, t, wire_name_len(t), NULL, 0);
		break;
	}
	case GSLB_SRV: {
		/* One SRV per target of a usable pool; priority follows the
		 * site's rank in the client's order, weight its capacity. */
		unsigned ntargets = 0;
		for (unsigned i = 0; i < ncand; i++)
			ntargets += g->pools[n->pool_of_site[b->cand[i]]].n_members;
		pr->extra = calloc(2 * ntargets + 1, sizeof(*pr->extra));
		pr->extra_owner = calloc(2 * ntargets + 1, sizeof(*pr->extra_owner));
		if (!pr->extra || !pr->extra_owner) {
			b->oom = 1;
			break;
		}
		for (unsigned i = 0; i < ncand; i++) {
			if (!b->usable[i] && !pr->failopen)
				continue;
			unsigned p = n->pool_of_site[b->cand[i]];
			bool any = pool_any_member_up(g, s, p);
			uint16_t prio = (uint16_t)(n->prio_base + i * n->prio_step);
			for (unsigned k = 0; k < g->pools[p].n_members; k++) {
				unsigned m = g->pools[p].members[k];
				if (!pr->failopen && any && !s->member_up[m])
					continue; /* a dead Edge is withdrawn */
				const uint8_t *host = sv->member_host[m];
				if (!host)
					continue;
				uint8_t rd[6] = {(uint8_t)(prio >> 8),
						 (uint8_t)prio,
						 (uint8_t)(g->members[m].weight >> 8),
						 (uint8_t)g->members[m].weight,
						 (uint8_t)(n->port >> 8),
						 (uint8_t)n->port};
				rrb_rr(&other, WIRE_T_SRV, ttl, rd, 6, host, wire_name_len(host));
				prep_extra(b, pr, m, host, ttl);
			}
		}
		break;
	}
	default:
		break;
	}
	uint16_t otype = n->kind == GSLB_SRV ? WIRE_T_SRV : WIRE_T_CNAME;
	if (rrb_done(&a, WIRE_T_A, ttl, &pr->a) < 0 ||
	    rrb_done(&aaaa, WIRE_T_AAAA, ttl, &pr->aaaa) < 0 ||
	    rrb_done(&other, otype, ttl, n->kind == GSLB_SRV ? &pr->srv : &pr->cname) < 0)
		b->oom = 1;
}

/* Weighted: the up members of every pool of the name, with their weights. */
static void prep_weighted(build_t *b, const gslb_name_t *n, gslb_prep_t *pr)
{
	const gslb_t *g = b->g;
	const gslb_state_t *s = b->s;
	const gslb_service_t *sv = &g->services[n->service];
	unsigned total = 0, nsites = g->geo->n_sites;
	for (unsigned site = 0; site < nsites; site++)
		if (n->pool_of_site[site] != GSLB_NONE)
			total += g->pools[n->pool_of_site[site]].n_members;
	pr->cand_a = calloc(total + 1, sizeof(*pr->cand_a));
	pr->cand_aaaa = calloc(total + 1, sizeof(*pr->cand_aaaa));
	pr->cand_weight = calloc(total + 1, sizeof(*pr->cand_weight));
	pr->cand_member = calloc(total + 1, sizeof(*pr->cand_member));
	if (!pr->cand_a || !pr->cand_aaaa || !pr->cand_weight || !pr->cand_member) {
		b->oom = 1;
		return;
	}
	pr->site = -1;
	bool all_up = true, draining = false;
	/* pass 0: usable pools; 1: up ones inside their hold-down; 2: fail-open,
	 * nothing was up: everyone */
	for (int pass = 0; pass < 3 && pr->n_cand == 0; pass++) {
		pr->failopen = pass == 2;
		for (unsigned site = 0; site < nsites; site++) {
			unsigned p = n->pool_of_site[site];
			if (p == GSLB_NONE)
				continue;
			bool usable = gslb_state_pool_usable(s, g, n->service, p, b->now);
			all_up &= usable;
			bool take = pass == 0 ? usable : pass == 1 ? s->pool_up[p] : true;
			if (!take)
				continue;
			draining |= gslb_state_pool_draining(s, p, b->now);
			bool any = pool_any_member_up(g, s, p);
			for (unsigned k = 0; k < g->pools[p].n_members; k++) {
				unsigned m = g->pools[p].members[k];
				if (!s->member_up[m])
					all_up = false;
				if (!pr->failopen && any && !s->member_up[m])
					continue;
				pr->cand_member[pr->n_cand] = m;
				pr->cand_weight[pr->n_cand] = g->members[m].weight;
				pr->n_cand++;
			}
		}
	}
	pr->ttl = draining ? 1 : all_up ? sv->ttl : sv->failover_ttl;
	for (unsigned i = 0; i < pr->n_cand; i++) {
		const gslb_member_t *m = &g->members[pr->cand_member[i]];
		rrb_t a = {0}, aaaa = {0};
		rrb_addrs(&a, &aaaa, m->answer, m->n_answer, pr->ttl, NULL, NULL);
		if (rrb_done(&a, WIRE_T_A, pr->ttl, &pr->cand_a[i]) < 0 ||
		    rrb_done(&aaaa, WIRE_T_AAAA, pr->ttl, &pr->cand_aaaa[i]) < 0)
			b->oom = 1;
	}
}

static void prep_host(build_t *b, const gslb_name_t *n, gslb_prep_t *pr)
{
	const gslb_member_t *m = &b->g->members[n->member];
	rrb_t a = {0}, aaaa = {0};
	pr->ttl = b->g->services[n->service].ttl;
	pr->site = -1;
	rrb_addrs(&a, &aaaa, m->answer, m->n_answer, pr->ttl, NULL, NULL);
	if (rrb_done(&a, WIRE_T_A, pr->ttl, &pr->a) < 0 ||
	    rrb_done(&aaaa, WIRE_T_AAAA, pr->ttl, &pr->aaaa) < 0)
		b->oom = 1;
}

static void prep_free(gslb_prep_t *pr)
{
	free(pr->a.wire);
	free(pr->aaaa.wire);
	free(pr->srv.wire);
	free(pr->cname.wire);
	for (unsigned i = 0; i < pr->n_extra; i++)
		free(pr->extra[i].wire);
	free(pr->extra);
	free(pr->extra_owner);
	for (unsigned i = 0; pr->cand_a && i < pr->n_cand; i++) {
		free(pr->cand_a[i].wire);
		free(pr->cand_aaaa[i].wire);
	}
	free(pr->cand_a);
	free(pr->cand_aaaa);
	free(pr->cand_weight);
	free(pr->cand_member);
}

void gslb_live_free(gslb_live_t *l)
{
	if (!l)
		return;
	for (unsigned i = 0; l->prep && l->n_prep && i < l->n_names; i++) {
		for (unsigned k = 0; l->prep[i] && k < l->n_prep[i]; k++)
			prep_free(&l->prep[i][k]);
		free(l->prep[i]);
	}
	free(l->prep);
	free(l->n_prep);
	free(l->failopen_names);
	free(l->pool_up);
	free(l->pool_dep_down);
	free(l->pool_members_up);
	free(l->pool_hold_from);
	free(l);
}

gslb_live_t *gslb_build(const gslb_t *g, const gslb_state_t *s, time_t now)
{
	static _Atomic uint64_t versions;
	unsigned nsites = g->geo ? g->geo->n_sites : 0;
	build_t b = {.g = g, .s = s, .now = now};
	gslb_live_t *l = calloc(1, sizeof(*l));
	b.cand = calloc(nsites + 1, sizeof(*b.cand));
	b.usable = calloc(nsites + 1, sizeof(*b.usable));
	if (!l || !b.cand || !b.usable)
		goto fail;
	l->version = ++versions;
	l->built = now;
	l->n_names = g->n_names;
	l->prep = calloc(g->n_names + 1, sizeof(*l->prep));
	l->n_prep = calloc(g->n_names + 1, sizeof(*l->n_prep));
	l->failopen_names = calloc(g->n_names + 1, sizeof(*l->failopen_names));
	l->pool_up = calloc(g->n_pools + 1, sizeof(*l->pool_up));
	l->pool_dep_down = calloc(g->n_pools + 1, sizeof(*l->pool_dep_down));
	l->pool_members_up = calloc(g->n_pools + 1, sizeof(*l->pool_members_up));
	l->pool_hold_from = calloc(g->n_pools + 1, sizeof(*l->pool_hold_from));
	if (!l->prep || !l->n_prep || !l->failopen_names || !l->pool_up || !l->pool_dep_down ||
	    !l->pool_members_up || !l->pool_hold_from)
		goto fail;
	for (unsigned p = 0; p < g->n_pools; p++) {
		l->pool_up[p] = s->pool_up[p];
		l->pool_dep_down[p] = s->pool_dep_down[p];
		l->pool_members_up[p] = s->pool_members_up[p];
		if (s->pool_up[p] && !gslb_state_pool_forced_up(s, g, p))
			l->pool_hold_from[p] = s->pool_up_since[p];
	}
	for (unsigned i = 0; i < g->n_names && !b.oom; i++) {
		const gslb_name_t *n = &g->names[i];
		const geo_map_t *map = g->services[n->service].map->map;
		unsigned np = per_class(n->kind) ? geo_class_count(map) : 1;
		l->prep[i] = calloc(np, sizeof(**l->prep));
		if (!l->prep[i])
			goto fail;
		l->n_prep[i] = np;
		for (unsigned c = 0; c < np && !b.oom; c++) {
			gslb_prep_t *pr = &l->prep[i][c];
			if (n->kind == GSLB_HOST) {
				prep_host(&b, n, pr);
			} else if (n->kind == GSLB_WEIGHTED) {
				prep_weighted(&b, n, pr);
			} else {
				unsigned norder;
				const uint16_t *order = geo_class_sites(map, c, &norder);
				prep_sited(&b, n, order, norder, pr);
			}
			l->failopen_names[i] += pr->failopen;
		}
	}
	if (b.oom)
		goto fail;
	free(b.cand);
	free(b.usable);
	return l;
fail:
	free(b.cand);
	free(b.usable);
	gslb_live_free(l);
	return NULL;
}

/* ---- per query ------------------------------------------------------------- */

/* The address that decides for this client under map `m`, and how many of
 * its bits count. */
static void client_addr(const geo_conf_map_t *m, const answer_client_t *c, uint8_t addr[16],
			unsigned *source_bits, bool *used_ecs)
{
	memset(addr, 0, 16);
	*source_bits = 128;
	*used_ecs = false;
	/* RFC 7871 §7.1.2: SOURCE 0 asks for an answer not tailored to the
	 * client: decide on the resolver's own address, answer scope 0. */
	if (c && c->ecs && m->ecs_use && c->ecs->source > 0) {
		if (c->ecs->family == 1) {
			geo_addr_from_v4(addr, c->ecs->addr);
			*source_bits = 96u + c->ecs->source;
		} else {
			memcpy(addr, c->ecs->addr, 16);
			*source_bits = c->ecs->source;
		}
		*used_ecs = true;
	} else if (c && c->peer) {
		geo_addr_from_sockaddr(c->peer, addr);
	}
}

uint32_t gslb_client_class(const geo_conf_map_t *m, const answer_client_t *c, uint8_t addr[16],
			   unsigned *source_bits, unsigned *scope_bits, bool *used_ecs)
{
	client_addr(m, c, addr, source_bits, used_ecs);
	return geo_lookup(m->map, addr, *source_bits, scope_bits);
}

static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* Per-thread state for rotation and unsticky draws: no sharing, no locks. */
static _Thread_local uint64_t rng_state;
static _Thread_local uint32_t rotation;

static uint64_t rng_next(void)
{
	if (rng_state == 0)
		rng_state = mix64((uint64_t)(uintptr_t)&rng_state ^ (uint64_t)time(NULL));
	rng_state = mix64(rng_state);
	return rng_state;
}

/* Draw `count` members by weight for one family. Sticky draws are a
 * rendezvous (highest random weight) hash of the client's prefix: when a
 * member fails, only its own clients move. */
static void plan_weighted(const gslb_name_t *n, const gslb_prep_t *pr, bool v6,
			  const uint8_t *prefix, answer_plan_t *plan)
{
	enum { MAXC = 256 };
	const zone_rrset_t *sets = v6 ? pr->cand_aaaa : pr->cand_a;
	unsigned n_cand = pr->n_cand < MAXC ? pr->n_cand : MAXC;
	double score[MAXC];
	bool taken[MAXC];
	uint64_t seed = 0;
	if (prefix)
		for (int i = 0; i < 16; i += 8) {
			uint64_t w;
			memcpy(&w, prefix + i, 8);
			seed = mix64(seed ^ w);
		}
	for (unsigned i = 0; i < n_cand; i++) {
		taken[i] = sets[i].count == 0;
		double u = (double)((prefix ? mix64(seed ^ pr->cand_member[i]) : rng_next()) >> 11) *
			   (1.0 / 9007199254740992.0);
		if (u <= 0)
			u = 1e-300;
		score[i] = -(double)pr->cand_weight[i] / log(u); /* weighted HRW */
	}
	for (unsigned k = 0; k < n->count && plan->n_an < ANSWER_PLAN_MAX; k++) {
		int best = -1;
		for (unsigned i = 0; i < n_cand; i++)
			if (!taken[i] && (best < 0 || score[i] > score[best]))
				best = (int)i;
		if (best < 0)
			break;
		taken[best] = true;
		plan->an[plan->n_an++] = &sets[best];
	}
}

void gslb_plan(const void *ctx, const void *name, const answer_client_t *c, uint16_t qtype,
	       answer_plan_t *plan)
{
	const gslb_t *g = ctx;
	const gslb_name_t *n = name;
	plan->n_an = 0;
	plan->n_ad = 0;
	plan->rotate = rotation++;
	plan->cname_target = NULL;
	plan->ecs_used = false;
	plan->scope = 0;
	plan->failopen = false;
	const gslb_live_t *l = rcu_dereference(g->live);
	if (!l)
		return;
	unsigned idx = (unsigned)(n - g->names);
	const gslb_service_t *sv = &g->services[n->service];
	const gslb_prep_t *pr = &l->prep[idx][0];
	uint8_t addr[16];
	unsigned source = 128, scope = 0;
	bool used_ecs = false;
	if (per_class(n->kind)) {
		uint32_t cls = gslb_client_class(sv->map, c, addr, &source, &scope, &used_ecs);
		if (cls < l->n_prep[idx])
			pr = &l->prep[idx][cls];
		plan->ecs_used = used_ecs;
		plan->scope = used_ecs ? geo_scope_family(addr, scope) : 0;
	}
	plan->failopen = pr->failopen;

	switch (n->kind) {
	case GSLB_CNAME:
		if (pr->cname.count) {
			plan->an[plan->n_an++] = &pr->cname;
			plan->cname_target = pr->cname.wire + 10;
		}
		return;
	case GSLB_SRV:
		if ((qtype == WIRE_T_SRV || qtype == WIRE_T_ANY) && pr->srv.count) {
			plan->an[plan->n_an++] = &pr->srv;
			for (unsigned i = 0; i < pr->n_extra && i < ANSWER_PLAN_MAX; i++) {
				plan->ad[plan->n_ad] = &pr->extra[i];
				plan->ad_owner[plan->n_ad++] = pr->extra_owner[i];
			}
		}
		return;
	case GSLB_WEIGHTED: {
		if (qtype != WIRE_T_A && qtype != WIRE_T_AAAA && qtype != WIRE_T_ANY)
			return;
		const uint8_t *prefix = NULL;
		uint8_t masked[16];
		if (n->sticky) {
			/* The client's /24 (IPv4) or /56 (IPv6), or its ECS
			 * prefix when shorter: that is also the scope. */
			client_addr(sv->map, c, addr, &source, &used_ecs); /* no geo walk */
			unsigned bits = geo_addr_is_v4(addr) ? 96 + 24 : 56;
			if (source < bits)
				bits = source;
			memset(masked, 0, sizeof(masked));
			memcpy(masked, addr, bits / 8);
			if (bits % 8)
				masked[bits / 8] = (uint8_t)(addr[bits / 8] & (0xFF00u >> (bits % 8)));
			prefix = masked;
			plan->ecs_used = used_ecs;
			plan->scope = used_ecs ? geo_scope_family(addr, bits) : 0;
		}
		bool v6 = qtype == WIRE_T_AAAA;
		plan_weighted(n, pr, v6, prefix, plan);
		if (qtype == WIRE_T_ANY && plan->n_an == 0)
			plan_weighted(n, pr, true, prefix, plan);
		return;
	}
	default: /* failover, multi, host */
		if ((qtype == WIRE_T_A || qtype == WIRE_T_ANY) && pr->a.count)
			plan->an[plan->n_an++] = &pr->a;
		else if ((qtype == WIRE_T_AAAA || qtype == WIRE_T_ANY) && pr->aaaa.count)
			plan->an[plan->n_an++] = &pr->aaaa;
		return;
	}
}
