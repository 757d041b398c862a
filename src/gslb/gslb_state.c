/* gslb_state.c -- health: member probes and admin overrides -> pool quorum and dependencies. */
#include "config.h"
#include "gslb/gslb.h"

#include <stdlib.h>
#include <string.h>

void gslb_state_free(gslb_state_t *s)
{
	if (!s)
		return;
	free(s->member_probe_up);
	free(s->member_force);
	free(s->pool_force);
	free(s->site_force);
	free(s->member_up);
	free(s->pool_members_up);
	free(s->pool_up);
	free(s->pool_dep_down);
	free(s->pool_up_since);
	free(s->pool_drain_since);
	free(s->pool_drain_until);
	free(s->pool_seen_up);
	free(s);
}

/* Evaluate at `now`; an up transition stamps pool_up_since with `now`. */
static bool eval(gslb_state_t *s, const gslb_t *g, time_t now);

gslb_state_t *gslb_state_new(const gslb_t *g)
{
	gslb_state_t *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->n_members = g->n_members;
	s->n_pools = g->n_pools;
	s->n_sites = g->geo ? g->geo->n_sites : 0;
	size_t nm = s->n_members ? s->n_members : 1, np = s->n_pools ? s->n_pools : 1,
	       ns = s->n_sites ? s->n_sites : 1;
	s->member_probe_up = calloc(nm, sizeof(*s->member_probe_up));
	s->member_force = calloc(nm, sizeof(*s->member_force));
	s->member_up = calloc(nm, sizeof(*s->member_up));
	s->pool_force = calloc(np, sizeof(*s->pool_force));
	s->pool_members_up = calloc(np, sizeof(*s->pool_members_up));
	s->pool_up = calloc(np, sizeof(*s->pool_up));
	s->pool_dep_down = calloc(np, sizeof(*s->pool_dep_down));
	s->pool_up_since = calloc(np, sizeof(*s->pool_up_since));
	s->site_force = calloc(ns, sizeof(*s->site_force));
	s->pool_drain_since = calloc(np, sizeof(*s->pool_drain_since));
	s->pool_drain_until = calloc(np, sizeof(*s->pool_drain_until));
	s->pool_seen_up = calloc(np, sizeof(*s->pool_seen_up));
	if (!s->member_probe_up || !s->member_force || !s->member_up || !s->pool_force ||
	    !s->pool_members_up || !s->pool_up || !s->pool_dep_down || !s->pool_up_since ||
	    !s->site_force || !s->pool_drain_since || !s->pool_drain_until || !s->pool_seen_up)
		goto fail;
	/* Until a prober says otherwise a member counts as up: a server with no
	 * checks yet must not be withdrawn. */
	for (unsigned i = 0; i < s->n_members; i++)
		s->member_probe_up[i] = true;
	/* Time 0 makes every pool that comes up here "up since start": no
	 * hold-down at startup, when there is nothing to hold down from. */
	gslb_state_settle(s, g);
	return s;
fail:
	gslb_state_free(s);
	return NULL;
}

/* An override that has run out goes back to auto. Returns true if it did. */
static bool expire(gslb_override_t *o, time_t now)
{
	if (o->force == GSLB_FORCE_AUTO || o->until == 0 || o->until > now)
		return false;
	o->force = GSLB_FORCE_AUTO;
	o->until = 0;
	return true;
}

static bool eval(gslb_state_t *s, const gslb_t *g, time_t now)
{
	bool changed = false;
	for (unsigned i = 0; i < s->n_members; i++)
		changed |= expire(&s->member_force[i], now);
	for (unsigned i = 0; i < s->n_pools; i++)
		changed |= expire(&s->pool_force[i], now);
	for (unsigned i = 0; i < s->n_sites; i++)
		changed |= expire(&s->site_force[i], now);

	for (unsigned i = 0; i < s->n_members; i++) {
		gslb_force_t f = s->member_force[i].force;
		bool up = f == GSLB_FORCE_AUTO ? s->member_probe_up[i] : f == GSLB_FORCE_UP;
		changed |= up != s->member_up[i];
		s->member_up[i] = up;
	}

	/* pool_order puts each pool after the pools it requires, so their
	 * pool_up is already final when it is read. */
	for (unsigned k = 0; k < s->n_pools; k++) {
		unsigned p = g->pool_order[k];
		const gslb_pool_t *pool = &g->pools[p];
		unsigned up_count = 0;
		for (unsigned i = 0; i < pool->n_members; i++)
			up_count += s->member_up[pool->members[i]];

		gslb_force_t f = s->pool_force[p].force;
		if (f == GSLB_FORCE_AUTO && pool->site < s->n_sites)
			f = s->site_force[pool->site].force;
		bool up, dep_down = false;
		if (s->pool_drain_until[p] && now >= s->pool_drain_until[p]) {
			up = false; /* drained: withdrawn */
		} else if (f != GSLB_FORCE_AUTO) {
			up = f == GSLB_FORCE_UP;
		} else {
			bool requires_up = true;
			for (unsigned i = 0; i < pool->n_requires; i++)
				requires_up &= s->pool_up[pool->requires[i]];
			bool quorum = up_count >= pool->min_up;
			up = quorum && requires_up;
			dep_down = quorum && !requires_up;
		}

		if (up && !s->pool_up[p]) {
			/* Times are whole seconds: a pool that came back at 10.9 s
			 * is stamped 11, so that its hold-down is never cut short
			 * (it may last up to a second longer). */
			s->pool_up_since[p] = s->pool_seen_up[p] ? now + 1 : 0;
			changed = true;
		}
		s->pool_seen_up[p] |= up;
		changed |= up != s->pool_up[p] || dep_down != s->pool_dep_down[p] ||
			   up_count != s->pool_members_up[p];
		s->pool_up[p] = up;
		s->pool_dep_down[p] = dep_down;
		s->pool_members_up[p] = up_count;
	}
	return changed;
}

bool gslb_state_eval(gslb_state_t *s, const gslb_t *g, time_t now)
{
	return eval(s, g, now);
}

static bool pool_forced_up(const gslb_state_t *s, const gslb_t *g, unsigned p)
{
	gslb_force_t f = s->pool_force[p].force;
	unsigned site = g->pools[p].site;
	if (f == GSLB_FORCE_AUTO && site < s->n_sites)
		f = s->site_force[site].force;
	return f == GSLB_FORCE_UP;
}

bool gslb_state_pool_usable(const gslb_state_t *s, const gslb_t *g, unsigned svc, unsigned pool,
			    time_t now)
{
	if (!s->pool_up[pool])
		return false;
	time_t since = s->pool_up_since[pool];
	uint32_t hold = g->services[svc].hold_down_s;
	return since == 0 || hold == 0 || now - since >= (time_t)hold || pool_forced_up(s, g, pool);
}

static void earliest(time_t *best, time_t t)
{
	if (*best == 0 || t < *best)
		*best = t;
}

time_t gslb_state_next_event(const gslb_state_t *s, const gslb_t *g, time_t now)
{
	time_t best = 0;
	const gslb_override_t *ov[3] = {s->member_force, s->pool_force, s->site_force};
	unsigned n[3] = {s->n_members, s->n_pools, s->n_sites};
	for (int k = 0; k < 3; k++)
		for (unsigned i = 0; i < n[k]; i++)
			if (ov[k][i].force != GSLB_FORCE_AUTO && ov[k][i].until != 0)
				earliest(&best, ov[k][i].until > now ? ov[k][i].until : now);

	for (unsigned p = 0; p < s->n_pools; p++)
		if (s->pool_drain_until[p] > now)
			earliest(&best, s->pool_drain_until[p]);

	/* A hold-down belongs to a service, and a pool may serve several
	 * services with different hold-downs: look at every name's pools. */
	for (unsigned i = 0; i < g->n_names; i++) {
		const gslb_name_t *nm = &g->names[i];
		uint32_t hold = g->services[nm->service].hold_down_s;
		if (!nm->pool_of_site || hold == 0)
			continue;
		for (unsigned site = 0; site < s->n_sites; site++) {
			unsigned p = nm->pool_of_site[site];
			if (p == GSLB_NONE || !s->pool_up[p] || s->pool_up_since[p] == 0 ||
			    pool_forced_up(s, g, p))
				continue;
			time_t end = s->pool_up_since[p] + (time_t)hold;
			if (end > now)
				earliest(&best, end);
		}
	}
	return best;
}

static int find_pool(const gslb_t *g, const char *name)
{
	for (unsigned i = 0; i < g->n_pools; i++)
		if (strcmp(g->pools[i].name, name) == 0)
			return (int)i;
	return -1;
}

void gslb_state_carry(gslb_state_t *s, const gslb_t *g, const gslb_state_t *old,
		      const gslb_t *old_g)
{
	for (unsigned i = 0; i < s->n_members; i++) {
		for (unsigned j = 0; j < old->n_members; j++) {
			if (strcmp(g->members[i].name, old_g->members[j].name) != 0)
				continue;
			s->member_probe_up[i] = old->member_probe_up[j];
			s->member_force[i] = old->member_force[j];
			break;
		}
	}
	for (unsigned i = 0; i < s->n_pools; i++) {
		int j = find_pool(old_g, g->pools[i].name);
		if (j < 0)
			continue;
		s->pool_force[i] = old->pool_force[j];
		/* With pool_up carried too, the next eval sees a pool that was
		 * down and is now up as coming up (hold-down starts), and one that
		 * stays up keeps its up_since (a running hold-down goes on). */
		s->pool_up[i] = old->pool_up[j];
		s->pool_up_since[i] = old->pool_up_since[j];
		s->pool_drain_since[i] = old->pool_drain_since[j];
		s->pool_drain_until[i] = old->pool_drain_until[j];
		s->pool_seen_up[i] = old->pool_seen_up[j];
	}
	for (unsigned i = 0; i < s->n_sites; i++) {
		int j = geo_conf_site(old_g->geo, g->geo->site_names[i]);
		if (j >= 0 && (unsigned)j < old->n_sites)
			s->site_force[i] = old->site_force[j];
	}
}

time_t gslb_state_drain(gslb_state_t *s, const gslb_t *g, unsigned pool, time_t now)
{
	/* Clients may hold an answer naming the pool for the longest TTL any
	 * service gave it with: withdraw only when that has run out. */
	uint32_t ttl = 0;
	for (unsigned i = 0; i < g->n_names; i++) {
		const gslb_name_t *nm = &g->names[i];
		for (unsigned site = 0; nm->pool_of_site && site < s->n_sites; site++)
			if (nm->pool_of_site[site] == pool && g->services[nm->service].ttl > ttl)
				ttl = g->services[nm->service].ttl;
	}
	if (!s->pool_drain_since[pool]) {
		s->pool_drain_since[pool] = now;
		s->pool_drain_until[pool] = now + (time_t)ttl;
	}
	return s->pool_drain_until[pool];
}

void gslb_state_undrain(gslb_state_t *s, unsigned pool)
{
	s->pool_drain_since[pool] = 0;
	s->pool_drain_until[pool] = 0;
}

bool gslb_state_pool_draining(const gslb_state_t *s, unsigned pool, time_t now)
{
	return s->pool_drain_since[pool] && now < s->pool_drain_until[pool];
}

bool gslb_state_pool_forced_up(const gslb_state_t *s, const gslb_t *g, unsigned pool)
{
	return pool_forced_up(s, g, pool);
}

void gslb_state_settle(gslb_state_t *s, const gslb_t *g)
{
	/* Time 0: every pool that is up is "up since start". */
	for (unsigned p = 0; p < s->n_pools; p++) {
		s->pool_up[p] = false;
		s->pool_seen_up[p] = false;
	}
	eval(s, g, 0);
}
