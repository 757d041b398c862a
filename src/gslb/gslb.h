/* gslb.h -- services: members, pools, services, their names; health state; dynamic answers. */
#ifndef WAYMARK_GSLB_GSLB_H
#define WAYMARK_GSLB_GSLB_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "conf/conf.h"
#include "geo/geo_conf.h"

/*
 * The model (gslb_t) is read from the config and is immutable, like the rest
 * of the world it belongs to. Health (gslb_state_t) changes: it is owned by
 * the main thread (admin overrides; later the prober feeds it). From model +
 * state + time, gslb_build() prepares every dynamic answer (gslb_live_t), one
 * per (name, site-order class); workers pick one per query. See DESIGN.md §2.
 *
 * Config (all names are YAML mapping keys, so duplicates are errors):
 *
 * members:
 *   nyc-edge1:
 *     address: 192.0.2.11              # the address probed (issue 6); required
 *     answer: [203.0.113.11, 2001:db8::11]  # what answers carry; default [address]
 *     weight: 100                      # capacity, > 0; default 1
 *     host: edge1-nyc                  # optional name (relative to the zone of each
 *                                      #   service using the member's pool, or absolute
 *                                      #   with a trailing dot) for SRV targets; inside a
 *                                      #   configured zone it answers `answer` as A/AAAA
 * pools:
 *   nyc-edge:
 *     site: nyc
 *     role: edge                       # free text, shown by explain
 *     members: [nyc-edge1, nyc-edge2]
 *     min_up: majority                 # N | N% | majority (the default)
 *     requires: [nyc-fe]               # pools that must be up for this one to be up
 *     vip: [203.0.113.10]              # optional: failover/cname answer these instead
 * services:
 *   lync:
 *     map: lync                        # a geo map
 *     zone: lyncweb.contoso.test       # names are relative to it (absolute if ending in '.')
 *     pools: { nyc: nyc-edge, lon: lon-edge }   # the pool per site
 *     ttl: 300                         # default 300
 *     failover_ttl: 30                 # default min(30, ttl), 1..ttl
 *     hold_down: 10m                   # default 2 × ttl; 0 disables; whole seconds (rounded up)
 *     names:
 *       lyncdiscover: { kind: failover }
 *       pool: { kind: multi, max: 4 }
 *       meet: { kind: weighted, count: 1, sticky: true }
 *       _sip._tls: { kind: srv, port: 443, priority_base: 10, priority_step: 10 }
 *       web: { kind: cname, hosts: { nyc: web-nyc, lon: web-lon } }
 *       av: { kind: failover, pools: { nyc: nyc-av, lon: lon-av } }  # per-name pools
 */

typedef enum {
	GSLB_FAILOVER,
	GSLB_MULTI,
	GSLB_WEIGHTED,
	GSLB_SRV,
	GSLB_CNAME,
	GSLB_HOST, /* a member's `host:` name: its own addresses, whatever the health */
} gslb_kind_t;

/* An answer address: 4 or 16 bytes. */
typedef struct gslb_addr {
	uint8_t family; /* 4 or 6 */
	uint8_t a[16];
} gslb_addr_t;

typedef struct gslb_member {
	char *name;
	gslb_addr_t probe;
	gslb_addr_t *answer;
	unsigned n_answer;
	uint32_t weight;
	/* `host:` as lower-case wire, or NULL. When host_relative, the labels as
	 * written followed by the root label: the name in a given service's zone
	 * is gslb_service_t.member_host[], not this. */
	uint8_t *host;
	bool host_relative;
	unsigned pool; /* the pool it belongs to, or GSLB_NONE if no pool lists it */
	unsigned line;
	/* `checks: [NAME, ...]`, the health checks it must pass (all of them),
	 * as written: the prober's config resolves the names. NULL: none. The
	 * node belongs to the config document. */
	const conf_node_t *checks;
} gslb_member_t;

typedef enum { GSLB_QUORUM_COUNT, GSLB_QUORUM_PERCENT, GSLB_QUORUM_MAJORITY } gslb_quorum_t;

typedef struct gslb_pool {
	char *name;
	char *role;        /* or NULL */
	unsigned site;     /* geo site id */
	unsigned *members; /* member indexes */
	unsigned n_members;
	gslb_quorum_t quorum;
	unsigned min_up_value; /* the count or the percentage */
	unsigned min_up;       /* resolved: members that must be up (1..n_members) */
	unsigned *requires;    /* pool indexes; the graph has no cycle */
	unsigned n_requires;
	gslb_addr_t *vip;
	unsigned n_vip;
	unsigned line;
} gslb_pool_t;

/* One dynamic name of a service. */
typedef struct gslb_name {
	uint8_t *name; /* lower-case wire form, absolute */
	gslb_kind_t kind;
	unsigned service;
	/* pool per site for this name: pool_of_site[site id] = pool index, or
	 * GSLB_NONE when the service has no pool at that site. */
	unsigned *pool_of_site; /* NULL for GSLB_HOST */
	unsigned max;           /* multi */
	unsigned count;         /* weighted */
	bool sticky;            /* weighted */
	uint16_t port;          /* srv */
	uint16_t prio_base;     /* srv */
	uint16_t prio_step;     /* srv */
	uint8_t **cname_hosts;  /* cname: absolute wire target per site id (NULL where none) */
	unsigned member;        /* host: the member */
	unsigned line;
} gslb_name_t;
#define GSLB_NONE UINT32_MAX

typedef struct gslb_service {
	char *name;
	const geo_conf_map_t *map;
	char *zone;         /* text, as the zone is named in `zones:` */
	uint8_t *zone_wire; /* the same, lower-case wire */
	uint32_t ttl, failover_ttl, hold_down_s;
	/* Per member id: its `host:` resolved in this service's zone (absolute
	 * wire, owned by the model), for members of the pools the service's names
	 * use; NULL for others and for members without a host. An SRV name's
	 * targets are member_host[m] of its members. */
	const uint8_t **member_host;
	unsigned line;
} gslb_service_t;

typedef struct gslb {
	const geo_conf_t *geo; /* borrowed: the world owns it */
	gslb_member_t *members;
	unsigned n_members;
	gslb_pool_t *pools;
	unsigned n_pools;
	unsigned *pool_order; /* n_pools pool ids, each after every pool it requires */
	gslb_service_t *services;
	unsigned n_services;
	gslb_name_t *names; /* every dynamic name, member hosts included */
	unsigned n_names;
	/* The prepared answers now in force; replaced by the main thread with
	 * rcu_xchg_pointer() when health changes, read by workers with
	 * rcu_dereference(). NULL until the first gslb_build(). */
	struct gslb_live *live;
} gslb_t;

/* Read `members:`, `pools:` and `services:` from `d`. `geo` gives sites and
 * maps. Errors (each at file:line:col): unknown site, pool, member or map; a
 * member in two pools; a cyclic `requires`; `min_up` larger than the pool or
 * zero; a weight <= 0; failover_ttl > ttl; an unknown kind or a key that does
 * not belong to the kind; an SRV name whose pools have a member without
 * `host`; a name that is not inside the service's zone (`zone_names` lists
 * the configured zones, lower-case text without trailing dot). Collisions
 * with static zone data are checked by the caller (world), which knows the
 * zones. NULL on any error.
 *
 * g->names holds each service's names in file order, services in file order,
 * then the GSLB_HOST names: one per distinct wire name of a member `host:`
 * resolved in the zone of a service using the member's pool, when that name
 * lies inside a configured zone (an absolute host elsewhere is only an SRV
 * target). Its `service` is the first such service. */
gslb_t *gslb_load(const conf_doc_t *d, const geo_conf_t *geo, const char *const *zone_names,
		  size_t n_zones, conf_errs_t *e);
void gslb_free(gslb_t *g); /* frees `live` too */

/* ---- health -------------------------------------------------------------- */

typedef enum { GSLB_FORCE_AUTO = 0, GSLB_FORCE_UP, GSLB_FORCE_DOWN } gslb_force_t;

typedef struct gslb_override {
	gslb_force_t force;
	time_t until; /* 0: no expiry */
} gslb_override_t;

/* Health inputs and derived state. Owned and written by the main thread only. */
typedef struct gslb_state {
	unsigned n_members, n_pools, n_sites;
	bool *member_probe_up; /* from the prober; true when nothing probes it */
	gslb_override_t *member_force;
	gslb_override_t *pool_force;
	gslb_override_t *site_force;
	/* derived by gslb_state_eval() */
	bool *member_up;
	unsigned *pool_members_up;
	bool *pool_up;         /* quorum met, requires up, not forced down (or forced up) */
	bool *pool_dep_down;   /* down because a required pool is down */
	time_t *pool_up_since; /* when it last went up; 0: up since start */
	/* Drain (waymarkctl drain POOL): from drain_since the pool's answers get
	 * TTL 1; at drain_until (the longest TTL it was served with has run
	 * out) it is withdrawn, until an override on the pool clears the drain.
	 * 0: not draining. */
	time_t *pool_drain_since;
	time_t *pool_drain_until;
	/* Has been up: a pool's first time up (unproven members just proven,
	 * a new pool) starts no hold-down; only a recovery does. */
	bool *pool_seen_up;
} gslb_state_t;

/* A state for `g`: every member probe-up, no override, evaluated once so that
 * every pool whose quorum holds is up since start (up_since 0). NULL when out
 * of memory. */
gslb_state_t *gslb_state_new(const gslb_t *g);
void gslb_state_free(gslb_state_t *s);
/* Carry member probe states and overrides from `old` (of another model) by
 * member / pool / site name, for a reload; pool_up and pool_up_since too, so
 * that hold-downs go on and a pool that was down counts as coming up. `s`
 * is fresh from gslb_state_new(g); call gslb_state_eval() afterwards. */
void gslb_state_carry(gslb_state_t *s, const gslb_t *g, const gslb_state_t *old,
		      const gslb_t *old_g);
/* Recompute member_up, pool_up (with requires, in dependency order) and
 * pool_up_since at time `now`; expired overrides go back to auto. Returns
 * true if anything derived changed or an override expired.
 *
 * Forces, most specific first: a pool's own force; else its site's force;
 * else quorum (members up >= min_up) and every required pool up. A member's
 * force replaces its probe state. */
bool gslb_state_eval(gslb_state_t *s, const gslb_t *g, time_t now);
/* The earliest time at which something changes by itself (an override
 * expiry, a hold-down end for any service), or 0. Call after
 * gslb_state_eval(s, g, now): an expired override not yet evaluated counts
 * as `now`. */
time_t gslb_state_next_event(const gslb_state_t *s, const gslb_t *g, time_t now);
/* May service `svc` answer with pool `pool` at `now`? It must be up, and out
 * of the service's hold-down: up since start (up_since 0), or up for
 * hold_down_s seconds, or forced up (its own or its site's force: an admin
 * forcing a pool up means now). */
bool gslb_state_pool_usable(const gslb_state_t *s, const gslb_t *g, unsigned svc, unsigned pool,
			    time_t now);

/* Member probe states were set before anything was known (at load): take
 * them as the state at start, with no hold-down for anything. */
void gslb_state_settle(gslb_state_t *s, const gslb_t *g);

/* Forced up (its own override, or its site's): no hold-down applies. */
bool gslb_state_pool_forced_up(const gslb_state_t *s, const gslb_t *g, unsigned pool);

/* Start draining pool `pool` at `now`. Returns when it will be withdrawn
 * (now + the longest `ttl` of the services answering with it); the last
 * answers naming it expire 1 s after that. */
time_t gslb_state_drain(gslb_state_t *s, const gslb_t *g, unsigned pool, time_t now);
/* Stop draining (the pool's next override clears it). */
void gslb_state_undrain(gslb_state_t *s, unsigned pool);
/* Draining and not yet withdrawn: answers with it carry TTL 1. */
bool gslb_state_pool_draining(const gslb_state_t *s, unsigned pool, time_t now);

/* Find a member, pool or site by name: returns 0 and sets *kind (0 member,
 * 1 pool, 2 site) and *idx, or -1. Names may repeat across kinds: members
 * are searched first, then pools, then sites. */
int gslb_find_object(const gslb_t *g, const char *name, int *kind, unsigned *idx);

#endif
