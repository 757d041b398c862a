/* world.c -- build a world snapshot from the config file (see world.h). */
#include "config.h"
#include "world.h"

#include <stdio.h>
#include <stdlib.h>

#include <urcu/urcu-memb.h>

#include "core/log.h"

/* Make every name of every service a dynamic name of its zone. */
static int attach_names(world_t *w, conf_errs_t *e)
{
	int rc = 0;
	for (unsigned i = 0; i < w->gslb->n_names; i++) {
		const gslb_name_t *n = &w->gslb->names[i];
		char err[512];
		if (zoneset_attach_dynamic(w->zones, n->name, n, err, sizeof(err)) < 0) {
			conf_err_raw(e, "%s:%u: %s", w->conf->path, n->line, err);
			rc = -1;
		}
	}
	return rc;
}

world_t *world_load(const char *path, uint64_t generation, conf_errs_t *e)
{
	const char **names = NULL, **files = NULL;
	world_t *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->generation = generation;
	w->loaded_at = time(NULL);
	w->conf = server_conf_load(path, e);
	if (!w->conf)
		goto fail;
	size_t n = w->conf->n_zones;
	names = calloc(n ? n : 1, sizeof(*names));
	files = calloc(n ? n : 1, sizeof(*files));
	if (!names || !files)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		names[i] = w->conf->zones[i].name;
		files[i] = w->conf->zones[i].file;
	}
	/* Everything is checked, so that one run reports every error. */
	w->zones = zoneset_load(names, files, n, e);
	w->geo = geo_conf_load(w->conf->doc, e);
	if (w->geo)
		w->gslb = gslb_load(w->conf->doc, w->geo, names, n, e);
	if (!w->zones || !w->geo || !w->gslb)
		goto fail;
	if (attach_names(w, e) < 0)
		goto fail;
	w->state = gslb_state_new(w->gslb);
	if (!w->state)
		goto fail;
	time_t now = time(NULL);
	gslb_state_eval(w->state, w->gslb, now);
	w->gslb->live = gslb_build(w->gslb, w->state, now);
	if (!w->gslb->live)
		goto fail;
	w->answer.zones = w->zones;
	w->answer.edns_udp_size = (uint16_t)w->conf->edns_udp_size;
	w->answer.dyn = gslb_plan;
	w->answer.dyn_ctx = w->gslb;
	free(names);
	free(files);
	return w;
fail:
	if (e->count == 0)
		conf_err_raw(e, "%s: out of memory", path);
	free(names);
	free(files);
	world_free(w);
	return NULL;
}

void world_free(world_t *w)
{
	if (!w)
		return;
	gslb_free(w->gslb); /* its live answers too */
	gslb_state_free(w->state);
	geo_conf_free(w->geo);
	zoneset_free(w->zones);
	server_conf_free(w->conf);
	free(w);
}

void world_carry_health(world_t *w, const world_t *old, time_t now)
{
	if (!old)
		return;
	gslb_state_carry(w->state, w->gslb, old->state, old->gslb);
	gslb_state_eval(w->state, w->gslb, now);
	gslb_live_t *live = gslb_build(w->gslb, w->state, now);
	if (!live) {
		log_err("reload: out of memory preparing answers, health starts afresh");
		return;
	}
	/* `w` is not published yet: no reader can hold the old answers. */
	gslb_live_free(w->gslb->live);
	w->gslb->live = live;
}

time_t world_health_update(world_t *w, time_t now)
{
	/* Rebuild even when no derived state changed: a hold-down that ended
	 * changes answers without changing state. Building is cheap (tens of
	 * classes per name) and happens on the main thread only. */
	gslb_state_eval(w->state, w->gslb, now);
	gslb_live_t *live = gslb_build(w->gslb, w->state, now);
	if (!live) {
		log_err("health update failed: out of memory, keeping the previous answers");
		return now + 1;
	}
	gslb_live_t *old = rcu_xchg_pointer(&w->gslb->live, live);
	urcu_memb_synchronize_rcu();
	gslb_live_free(old);
	return gslb_state_next_event(w->state, w->gslb, now);
}

int world_set_override(world_t *w, const char *name, gslb_force_t force, time_t until, char *err,
		       size_t errlen)
{
	int kind;
	unsigned idx;
	if (gslb_find_object(w->gslb, name, &kind, &idx) < 0) {
		snprintf(err, errlen, "no member, pool or site named '%s'", name);
		return -1;
	}
	gslb_override_t *o = kind == 0 ? &w->state->member_force[idx]
			     : kind == 1 ? &w->state->pool_force[idx]
					 : &w->state->site_force[idx];
	o->force = force;
	o->until = force == GSLB_FORCE_AUTO ? 0 : until;
	static const char *const kinds[] = {"member", "pool", "site"};
	static const char *const forces[] = {"auto", "up", "down"};
	log_info("override set %s=%s state=%s until=%lld", kinds[kind], name, forces[force],
		 (long long)o->until);
	return 0;
}
