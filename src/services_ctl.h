/* services_ctl.h -- control commands for services (set, explain, geo, health) and health timers. */
#ifndef WAYMARK_SERVICES_CTL_H
#define WAYMARK_SERVICES_CTL_H

#include "ctl/ctl.h"
#include "world.h"

struct event_base;

/* Everything here runs on the main thread: the command handlers, the timer
 * that re-evaluates health when a hold-down ends or an override expires, and
 * the calls below. `worldp` points at the main thread's pointer to the world
 * being served; only the main thread writes it. */
typedef struct services_ctl services_ctl_t;

/* Register `set`, `explain`, `geo` and `health` on `ctl` (which may be NULL:
 * then only the timer runs). NULL on allocation or registration failure. */
services_ctl_t *services_ctl_new(struct event_base *base, ctl_t *ctl, world_t *const *worldp);
/* A new world was published: reschedule the timer, and start probing its
 * members (the previous world's prober must have been stopped). */
void services_ctl_world_changed(services_ctl_t *sc);

/* Start probing the current world's targets. 0, or -1 with a message. */
int services_ctl_start_probes(services_ctl_t *sc, char *err, size_t errlen);
/* Stop the prober: before the world it probes is replaced or freed. */
void services_ctl_stop_probes(services_ctl_t *sc);
/* Every target has a first result (or there is nothing to probe). */
bool services_ctl_probes_ready(const services_ctl_t *sc);
/* How long the first round may take at most: the first probes go out within
 * min(interval, 1 s), plus their timeout; in ms (0: nothing to probe). */
uint64_t services_ctl_first_round_ms(const services_ctl_t *sc);
void services_ctl_free(services_ctl_t *sc);

/* Health as JSON members ("members", "pools", "sites") into an open object:
 * what `waymarkctl health` shows, also put in /status. */
void services_ctl_health_json(const services_ctl_t *sc, ctl_jw_t *jw);
/* Health as Prometheus text: member, pool and check states, transitions,
 * the probe latency histogram and failures by reason. */
void services_ctl_metrics(const services_ctl_t *sc, ctl_buf_t *b);

/* The answer `name` `qtype` would get for a client, as JSON members written
 * into `w` (an open object): client, geo decision, each candidate site's
 * state, the records and TTL, fail-open. `client` is "ADDR" or
 * "ADDR/PREFIX" (then as EDNS Client Subnet), or NULL for 0.0.0.0.
 * Returns 0, or -1 with a message. Also used by the tests. */
int services_explain(const world_t *w, const char *name, const char *qtype, const char *client,
		     ctl_jw_t *jw, char *err, size_t errlen);

#endif
