/* gslb_answer.h -- prepared dynamic answers: built when health changes, picked per query. */
#ifndef WAYMARK_GSLB_GSLB_ANSWER_H
#define WAYMARK_GSLB_GSLB_ANSWER_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "gslb/gslb.h"
#include "wire/wire.h"
#include "zone/answer.h"
#include "zone/zone.h"

/* The answers for one (name, site-order class), decided once by gslb_build():
 * the RRsets are in wire form with the TTL of the decision baked in. */
typedef struct gslb_prep {
	uint32_t ttl;
	bool failopen;	   /* no site in the client's order was usable */
	bool first_choice; /* the client's first site was chosen */
	int site;	   /* the chosen site (failover, cname), or -1 */
	zone_rrset_t a, aaaa, srv, cname;
	/* srv: the A/AAAA of the targets, for the additional section */
	const uint8_t **extra_owner;
	zone_rrset_t *extra;
	unsigned n_extra;
	/* weighted: the up members' own A/AAAA, and their weights */
	zone_rrset_t *cand_a, *cand_aaaa;
	uint32_t *cand_weight;
	unsigned *cand_member;
	unsigned n_cand;
} gslb_prep_t;

typedef struct gslb_live {
	uint64_t version;
	time_t built;
	unsigned n_names;
	gslb_prep_t **prep; /* prep[name]: n_prep[name] entries, one per class or just one */
	unsigned *n_prep;
	unsigned *failopen_names; /* how many preps of each name failed open */
	/* Pool health when these answers were built, for explanations read on
	 * worker threads (the live gslb_state_t belongs to the main thread). */
	bool *pool_up;
	bool *pool_dep_down;
	unsigned *pool_members_up;
	time_t *pool_hold_from; /* its hold-down runs from here (0: none applies) */
} gslb_live_t;

/* Prepare every dynamic answer of `g` from the state at `now`. NULL only
 * when out of memory. */
gslb_live_t *gslb_build(const gslb_t *g, const gslb_state_t *s, time_t now);
void gslb_live_free(gslb_live_t *l);

/* The provider of dynamic names for the query path (an answer_dyn_fn):
 * `ctx` is the gslb_t, `name` a gslb_name_t of it. Reads the live answers
 * with rcu_dereference(): call inside an RCU read-side section. */
void gslb_plan(const void *ctx, const void *name, const answer_client_t *c, uint16_t qtype,
	       answer_plan_t *plan);

/* The `_explain.<name>` answer for dynamic name `n` (any kind but host):
 * TXT records saying which address decided, the geo class and site order,
 * each candidate pool's state when the answers were built, and the answer's
 * site, TTL and fail-open, with TTL 0. Worker threads; no allocation. */
void gslb_explain_txt(const gslb_t *g, const gslb_name_t *n, const answer_client_t *c,
		      answer_plan_t *plan);

/* The class (and 128-bit address, source bits and scope) a client falls in
 * for map `m`: ECS when present, non-zero and the map uses it, else the
 * packet source. */
uint32_t gslb_client_class(const geo_conf_map_t *m, const answer_client_t *c, uint8_t addr[16],
			   unsigned *source_bits, unsigned *scope_bits, bool *used_ecs);

#endif
