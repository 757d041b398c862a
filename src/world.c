/* world.c -- build a world snapshot from the config file (see world.h). */
#include "config.h"
#include "world.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <urcu/urcu-memb.h>

#include "core/log.h"

/* The provider of every dynamic name: service names go to gslb_plan(),
 * `_explain.` nodes get their TXT explanation when the asker is allowed
 * (the packet's source: the resolver, not the ECS client), else NODATA. */
static void world_dyn(const void *ctx, const void *name, const answer_client_t *c,
		      uint16_t qtype, answer_plan_t *plan)
{
	const world_t *w = ctx;
	uintptr_t p = (uintptr_t)name, first = (uintptr_t)w->gslb->names;
	if (p >= first && p < first + w->gslb->n_names * sizeof(gslb_name_t)) {
		gslb_plan(w->gslb, name, c, qtype, plan);
		return;
	}
	const world_explain_node_t *e = name;
	plan->n_an = 0;
	plan->n_ad = 0;
	plan->rotate = 0;
	plan->cname_target = NULL;
	plan->ecs_used = false;
	plan->scope = 0;
	plan->failopen = false;
	if (qtype != WIRE_T_TXT && qtype != WIRE_T_ANY)
		return;
	uint8_t a[16];
	if (!c->peer || geo_addr_from_sockaddr(c->peer, a) < 0)
		return;
	for (size_t i = 0; i < w->n_explain_allow; i++) {
		const uint8_t *net = w->explain_allow[i];
		unsigned bits = w->explain_allow_bits[i];
		if (memcmp(a, net, bits / 8) != 0)
			continue;
		if (bits % 8 && ((a[bits / 8] ^ net[bits / 8]) & (0xFF00u >> (bits % 8))))
			continue;
		gslb_explain_txt(w->gslb, e->target, c, plan);
		return;
	}
}

/* explain: { txt: BOOL, allow: [CIDR, ...] } (default: off; loopback). */
static int load_explain(world_t *w, conf_errs_t *e)
{
	const conf_doc_t *d = w->conf->doc;
	const conf_node_t *n = conf_map_get(conf_root(d), "explain");
	static const char *const keys[] = {"txt", "allow", NULL};
	static const char *const dflt[] = {"127.0.0.0/8", "::1/128"};
	const conf_node_t *allow = NULL;
	if (n) {
		if (conf_check_map(e, d, n, "explain", keys) < 0)
			return -1;
		const conf_node_t *t = conf_map_get(n, "txt");
		if (t && conf_get_bool(e, d, t, "txt", &w->explain_txt) < 0)
			return -1;
		allow = conf_map_get(n, "allow");
		if (allow && conf_expect(e, d, allow, CONF_SEQ, "allow") < 0)
			return -1;
	}
	size_t na = allow ? conf_len(allow) : 2;
	w->explain_allow = calloc(na ? na : 1, sizeof(*w->explain_allow));
	w->explain_allow_bits = calloc(na ? na : 1, sizeof(*w->explain_allow_bits));
	if (!w->explain_allow || !w->explain_allow_bits)
		return -1;
	int rc = 0;
	for (size_t i = 0; i < na; i++) {
		const char *text = dflt[i % 2];
		const conf_node_t *item = allow ? conf_seq_at(allow, i) : NULL;
		char err[256];
		if (item && conf_get_str(e, d, item, "allow", &text) < 0) {
			rc = -1;
			continue;
		}
		if (geo_parse_prefix(text, w->explain_allow[i], &w->explain_allow_bits[i], err,
				     sizeof(err)) < 0) {
			conf_err(e, d, item, "allow: %s", err);
			rc = -1;
			continue;
		}
		w->n_explain_allow = i + 1;
	}
	if (rc < 0 || !w->explain_txt)
		return rc;
	/* One `_explain.` node in front of every service name (host names
	 * are plain addresses: nothing to explain). */
	w->explain_nodes = calloc(w->gslb->n_names + 1, sizeof(*w->explain_nodes));
	if (!w->explain_nodes)
		return -1;
	for (unsigned i = 0; i < w->gslb->n_names; i++) {
		const gslb_name_t *gn = &w->gslb->names[i];
		unsigned len = wire_name_len(gn->name);
		if (gn->kind == GSLB_HOST || len + 9 > WIRE_NAME_MAX)
			continue;
		world_explain_node_t *x = &w->explain_nodes[w->n_explain_nodes++];
		x->target = gn;
		memcpy(x->name, "\10_explain", 9);
		memcpy(x->name + 9, gn->name, len);
		char err[512];
		if (zoneset_attach_dynamic(w->zones, x->name, x, err, sizeof(err)) < 0) {
			conf_err_raw(e, "%s:%u: explain: %s", w->conf->path, gn->line, err);
			rc = -1;
		}
	}
	return rc;
}

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
	if (attach_names(w, e) < 0 || load_explain(w, e) < 0)
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
	w->answer.dyn = world_dyn;
	w->answer.dyn_ctx = w;
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
	free(w->explain_allow);
	free(w->explain_allow_bits);
	free(w->explain_nodes);
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
