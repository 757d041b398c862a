/* answer.h -- the per-query path: a parsed query and a zone set in, a response out. */
#ifndef WAYMARK_ZONE_ANSWER_H
#define WAYMARK_ZONE_ANSWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#include "core/stats.h"
#include "wire/wire.h"
#include "zone/zone.h"

/* The client of one query, as the query path knows it. */
typedef struct answer_client {
	const struct sockaddr *peer; /* the packet's source (NULL in some tests) */
	const wire_ecs_t *ecs;	     /* the query's ECS option, or NULL */
} answer_client_t;

#define ANSWER_PLAN_MAX 80

/* What a dynamic name answers to one query, decided by its provider (the
 * gslb module): RRsets for the answer section, owned by the name queried;
 * additional RRsets with their owners; or a CNAME (an[0]) whose target the
 * query path follows like a static CNAME. n_an == 0 without a CNAME is
 * NODATA. The RRsets must stay valid for the RCU read-side section. */
typedef struct answer_plan {
	const zone_rrset_t *an[ANSWER_PLAN_MAX];
	unsigned n_an;
	unsigned rotate; /* start an[0] at this RR (round-robin) */
	const zone_rrset_t *ad[ANSWER_PLAN_MAX];
	const uint8_t *ad_owner[ANSWER_PLAN_MAX];
	unsigned n_ad;
	const uint8_t *cname_target; /* lower-case wire name, with an[0] the CNAME */
	bool ecs_used;		     /* the answer was tailored to the ECS address */
	unsigned scope;		     /* ECS SCOPE, family-relative (with ecs_used) */
	bool failopen;		     /* no usable site: answered as if all were up */
} answer_plan_t;

/* The provider of dynamic names: `name` is the `dyn` pointer of a zone node.
 * Called on worker threads: no allocation, no locks. */
typedef void (*answer_dyn_fn)(const void *ctx, const void *name, const answer_client_t *c,
			      uint16_t qtype, answer_plan_t *plan);

typedef struct answer_params {
	const zoneset_t *zones;
	uint16_t edns_udp_size; /* what we advertise, and the most we send over UDP */
	answer_dyn_fn dyn;	/* NULL: no dynamic names */
	const void *dyn_ctx;
} answer_params_t;

/* Answer the DNS message req[0..len) into out[0..cap). Returns the response
 * length, or 0 when the packet must not be answered (it is counted). Accepts
 * any bytes. Does not allocate, takes no locks; `st` is the calling thread's
 * own counter block. `tcp` lifts the UDP size limit (cap is then the limit). */
size_t answer_query(const answer_params_t *p, const uint8_t *req, size_t len, bool tcp,
		    uint8_t *out, size_t cap, stats_t *st);
/* The same, knowing the packet's source address (dynamic names need it). */
size_t answer_query_from(const answer_params_t *p, const uint8_t *req, size_t len, bool tcp,
			 const struct sockaddr *peer, uint8_t *out, size_t cap, stats_t *st);

#endif
