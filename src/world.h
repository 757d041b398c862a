/* world.h -- one immutable snapshot of everything the workers answer from. */
#ifndef WAYMARK_WORLD_H
#define WAYMARK_WORLD_H

#include <stdint.h>
#include <time.h>

#include "conf/server_conf.h"
#include "zone/answer.h"
#include "zone/zone.h"

/* Built whole by world_load(), published by pointer (RCU), never changed
 * after: worker threads read it without locks. The old world is freed only
 * after a grace period (urcu_memb_synchronize_rcu). */
typedef struct world {
	server_conf_t *conf;
	zoneset_t *zones;
	answer_params_t answer;
	uint64_t generation;
	time_t loaded_at;
} world_t;

/* Load the config at `path` and everything it names. All or nothing: NULL
 * with every error in `e` ("file:line[:col]: message"). */
world_t *world_load(const char *path, uint64_t generation, conf_errs_t *e);
void world_free(world_t *w);

#endif
