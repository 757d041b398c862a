/* world.h -- one immutable snapshot of everything the workers answer from. */
#ifndef WAYMARK_WORLD_H
#define WAYMARK_WORLD_H

#include <stdint.h>
#include <time.h>

#include "conf/server_conf.h"
#include "geo/geo_conf.h"
#include "gslb/gslb.h"
#include "gslb/gslb_answer.h"
#include "probe/probe.h"
#include "zone/answer.h"
#include "zone/zone.h"

/* Built whole by world_load(), published by pointer (RCU), never changed
 * after, except for one thing: the prepared dynamic answers (gslb->live),
 * which the main thread replaces when health changes (world_health_update).
 * Worker threads read the world without locks. The old world is freed only
 * after a grace period (urcu_memb_synchronize_rcu). */
/* `_explain.<name>` TXT (off unless `explain: { txt: true }`): one node per
 * service name, answered only to clients inside `allow`. */
typedef struct world_explain_node {
	const gslb_name_t *target;
	uint8_t name[WIRE_NAME_MAX];
} world_explain_node_t;

/* What the prober last said about one (member, check) target. Main thread. */
typedef struct world_probe_status {
	probe_state_t state;
	time_t since; /* when it last changed (0: never probed) */
	char reason[128];
	uint64_t latency_us;
	int cert_days_left;
	uint64_t probes, failures;
} world_probe_status_t;

typedef struct world {
	server_conf_t *conf;
	zoneset_t *zones;
	geo_conf_t *geo;
	gslb_t *gslb;
	gslb_state_t *state; /* main thread only */
	bool explain_txt;
	uint8_t (*explain_allow)[16]; /* 128-bit prefixes (IPv4 mapped) */
	unsigned *explain_allow_bits;
	size_t n_explain_allow;
	world_explain_node_t *explain_nodes;
	size_t n_explain_nodes;
	char *overrides_file; /* `overrides_file:`, resolved; NULL: not kept */
	/* Health checks: `checks:`, and one target per (member, check) named
	 * in the members' `checks:`. Probed by the main thread's prober. */
	probe_conf_t *probe;
	probe_target_t *targets;
	struct sockaddr_storage *target_addrs;
	char **target_hosts; /* the member's host name as text, or NULL */
	size_t n_targets;
	world_probe_status_t *probe_status; /* n_targets, main thread only */
	answer_params_t answer;
	uint64_t generation;
	time_t loaded_at;
} world_t;

/* Load the config at `path` and everything it names. All or nothing: NULL
 * with every error in `e` ("file:line[:col]: message"). */
world_t *world_load(const char *path, uint64_t generation, conf_errs_t *e);
/* Main thread, before `w` is published: take health (probe states,
 * overrides, hold-downs) over from `old` by name, and prepare the dynamic
 * answers from it. Done at swap time, not on the loader thread, because the
 * main thread is the only writer of `old`'s state. */
void world_carry_health(world_t *w, const world_t *old, time_t now);
void world_free(world_t *w);

/* Main thread: re-evaluate health at `now` and, if any answer may change,
 * prepare new dynamic answers and publish them (the old ones are freed after
 * an RCU grace period). Returns the next time something changes by itself
 * (hold-down end, override expiry), or 0. */
time_t world_health_update(world_t *w, time_t now);

/* Main thread: set an admin override on a member, pool or site by name.
 * `force` GSLB_FORCE_AUTO clears it; `until` 0 never expires. Returns 0, or
 * -1 with a message for an unknown name. Call world_health_update after. */
int world_set_override(world_t *w, const char *name, gslb_force_t force, time_t until, char *err,
		       size_t errlen);

/* Main thread: start draining a pool by name. *withdraw_at gets the time it
 * leaves the answers. 0, or -1 with a message. Saves the overrides. */
int world_drain(world_t *w, const char *pool, time_t now, time_t *withdraw_at, char *err,
		size_t errlen);

/* Main thread: write every override and drain to `overrides_file` (write a
 * temporary file, fsync, rename, fsync the directory), so that they survive
 * a restart. 0 when there is no file to keep or it was written; -1 with a
 * message. */
int world_save_overrides(const world_t *w, char *err, size_t errlen);

/* Main thread, at startup, before `w` is published: apply the overrides
 * saved in `overrides_file` (expired ones and unknown names are skipped and
 * logged) and prepare the answers from them. */
void world_restore_overrides(world_t *w, time_t now);

#endif
