/* world.c -- build a world snapshot from the config file (see world.h). */
#include "config.h"
#include "world.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* The probe targets: one per (member, check) that members name. A member
 * with checks starts down (it is unproven) unless all of its checks say
 * `initial: up`; one without keeps the default: up. */
static int load_targets(world_t *w, conf_errs_t *e)
{
	const conf_doc_t *d = w->conf->doc;
	const gslb_t *g = w->gslb;
	size_t cap = 0;
	for (unsigned m = 0; m < g->n_members; m++)
		if (g->members[m].checks)
			cap += conf_kind(g->members[m].checks) == CONF_SEQ ? conf_len(g->members[m].checks)
									    : 1;
	w->targets = calloc(cap + 1, sizeof(*w->targets));
	w->target_addrs = calloc(cap + 1, sizeof(*w->target_addrs));
	w->probe_status = calloc(cap + 1, sizeof(*w->probe_status));
	w->target_hosts = calloc(cap + 1, sizeof(*w->target_hosts));
	if (!w->targets || !w->target_addrs || !w->probe_status || !w->target_hosts)
		return -1;
	int rc = 0;
	for (unsigned m = 0; m < g->n_members; m++) {
		const gslb_member_t *mb = &g->members[m];
		const conf_node_t *cn = mb->checks;
		if (!cn)
			continue;
		size_t n = conf_kind(cn) == CONF_SEQ ? conf_len(cn) : 1;
		bool all_up = n > 0;
		for (size_t i = 0; i < n; i++) {
			const conf_node_t *item = conf_kind(cn) == CONF_SEQ ? conf_seq_at(cn, i) : cn;
			const char *name;
			if (conf_get_str(e, d, item, "checks", &name) < 0) {
				rc = -1;
				continue;
			}
			long c = probe_conf_find(w->probe, name);
			if (c < 0) {
				conf_err(e, d, item, "member '%s': no check named '%s' in 'checks:'",
					 mb->name, name);
				rc = -1;
				continue;
			}
			size_t t = w->n_targets++;
			struct sockaddr_storage *ss = &w->target_addrs[t];
			if (mb->probe.family == 4) {
				struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
				s4->sin_family = AF_INET;
				memcpy(&s4->sin_addr, mb->probe.a, 4);
				w->targets[t].addr_len = sizeof(*s4);
			} else {
				struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
				s6->sin6_family = AF_INET6;
				memcpy(&s6->sin6_addr, mb->probe.a, 16);
				w->targets[t].addr_len = sizeof(*s6);
			}
			w->targets[t].member = m;
			w->targets[t].check = (unsigned)c;
			w->targets[t].addr = (const struct sockaddr *)ss;
			w->targets[t].name = mb->name;
			/* The member's host name (in a zone of ours) is the default
			 * SNI, HTTP Host and SIP URI of its checks. */
			for (unsigned k = 0; k < g->n_names; k++) {
				if (g->names[k].kind != GSLB_HOST || g->names[k].member != m)
					continue;
				char text[1024];
				wire_name_to_text(g->names[k].name, text, sizeof(text));
				size_t tl = strlen(text);
				if (tl > 1 && text[tl - 1] == '.')
					text[tl - 1] = '\0';
				if (!(w->target_hosts[t] = strdup(text)))
					return -1;
				break;
			}
			w->targets[t].host = w->target_hosts[t];
			w->probe_status[t].state = PROBE_UNKNOWN;
			snprintf(w->probe_status[t].reason, sizeof(w->probe_status[t].reason),
				 "not probed yet");
			all_up &= w->probe->checks[c].initial == PROBE_INITIAL_UP;
		}
		w->state->member_probe_up[m] = all_up;
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
	const conf_node_t *of = conf_map_get(conf_root(w->conf->doc), "overrides_file");
	if (of) {
		const char *text;
		if (conf_get_str(e, w->conf->doc, of, "overrides_file", &text) < 0)
			goto fail;
		if (!(w->overrides_file = conf_resolve_path(w->conf->doc, text)))
			goto fail;
	}
	w->state = gslb_state_new(w->gslb);
	if (!w->state)
		goto fail;
	w->probe = probe_conf_load(w->conf->doc, e);
	if (!w->probe || load_targets(w, e) < 0)
		goto fail;
	gslb_state_settle(w->state, w->gslb);
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
	free(w->overrides_file);
	for (size_t i = 0; w->target_hosts && i < w->n_targets; i++)
		free(w->target_hosts[i]);
	free(w->target_hosts);
	free(w->targets);
	free(w->target_addrs);
	free(w->probe_status);
	probe_conf_free(w->probe);
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
	/* What the prober knew of each (member, check) carries over by name:
	 * the new prober starts from it (hysteresis included). */
	for (size_t t = 0; t < w->n_targets; t++) {
		const char *mn = w->gslb->members[w->targets[t].member].name;
		const char *cn = w->probe->checks[w->targets[t].check].name;
		for (size_t o = 0; o < old->n_targets; o++) {
			if (strcmp(old->gslb->members[old->targets[o].member].name, mn) != 0 ||
			    strcmp(old->probe->checks[old->targets[o].check].name, cn) != 0)
				continue;
			w->probe_status[t] = old->probe_status[o];
			break;
		}
	}
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
	if (kind == 1)
		gslb_state_undrain(w->state, idx); /* an override on a pool ends its drain */
	static const char *const kinds[] = {"member", "pool", "site"};
	static const char *const forces[] = {"auto", "up", "down"};
	log_info("override set %s=%s state=%s until=%lld", kinds[kind], name, forces[force],
		 (long long)o->until);
	return 0;
}

int world_drain(world_t *w, const char *pool, time_t now, time_t *withdraw_at, char *err,
		size_t errlen)
{
	int kind;
	unsigned idx;
	if (gslb_find_object(w->gslb, pool, &kind, &idx) < 0 || kind != 1) {
		snprintf(err, errlen, "no pool named '%s'", pool);
		return -1;
	}
	*withdraw_at = gslb_state_drain(w->state, w->gslb, idx, now);
	log_info("drain started pool=%s withdraw_at=%lld", pool, (long long)*withdraw_at);
	return 0;
}

static const char *const force_words[] = {"auto", "up", "down"};

int world_save_overrides(const world_t *w, char *err, size_t errlen)
{
	if (!w->overrides_file)
		return 0;
	const gslb_t *g = w->gslb;
	const gslb_state_t *s = w->state;
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", w->overrides_file, (long)getpid());
	FILE *f = fopen(tmp, "w");
	if (!f) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	fprintf(f, "# waymarkd overrides: KIND NAME up|down|drain UNTIL [DRAIN_UNTIL]\n");
	for (unsigned i = 0; i < g->n_members; i++)
		if (s->member_force[i].force != GSLB_FORCE_AUTO)
			fprintf(f, "member %s %s %lld\n", g->members[i].name,
				force_words[s->member_force[i].force],
				(long long)s->member_force[i].until);
	for (unsigned i = 0; i < g->n_pools; i++) {
		if (s->pool_force[i].force != GSLB_FORCE_AUTO)
			fprintf(f, "pool %s %s %lld\n", g->pools[i].name,
				force_words[s->pool_force[i].force], (long long)s->pool_force[i].until);
		if (s->pool_drain_since[i])
			fprintf(f, "pool %s drain %lld %lld\n", g->pools[i].name,
				(long long)s->pool_drain_since[i], (long long)s->pool_drain_until[i]);
	}
	for (unsigned i = 0; i < w->geo->n_sites; i++)
		if (s->site_force[i].force != GSLB_FORCE_AUTO)
			fprintf(f, "site %s %s %lld\n", w->geo->site_names[i],
				force_words[s->site_force[i].force], (long long)s->site_force[i].until);
	/* The new file is whole on disk before it replaces the old one, and
	 * the rename is on disk before we say it is saved. */
	int rc = fflush(f) == 0 && fsync(fileno(f)) == 0 ? 0 : -1;
	if (fclose(f) != 0)
		rc = -1;
	if (rc == 0 && rename(tmp, w->overrides_file) < 0)
		rc = -1;
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", w->overrides_file, strerror(errno));
		unlink(tmp);
		return -1;
	}
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s", w->overrides_file);
	char *slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	int dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

void world_restore_overrides(world_t *w, time_t now)
{
	if (!w->overrides_file)
		return;
	FILE *f = fopen(w->overrides_file, "r");
	if (!f) {
		if (errno != ENOENT)
			log_err("overrides not restored file=%s error=\"%s\"", w->overrides_file,
				strerror(errno));
		return;
	}
	char line[1024];
	unsigned lineno = 0, applied = 0;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		char kind[16], name[512], word[16];
		long long a = 0, b = 0;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		int n = sscanf(line, "%15s %511s %15s %lld %lld", kind, name, word, &a, &b);
		int k;
		unsigned idx;
		if (n < 4 || gslb_find_object(w->gslb, name, &k, &idx) < 0 ||
		    strcmp(kind, k == 0 ? "member" : k == 1 ? "pool" : "site") != 0) {
			log_warn("%s:%u: override skipped (unknown name or bad line)", w->overrides_file,
				 lineno);
			continue;
		}
		if (strcmp(word, "drain") == 0 && k == 1 && n == 5) {
			w->state->pool_drain_since[idx] = (time_t)a;
			w->state->pool_drain_until[idx] = (time_t)b;
			applied++;
			continue;
		}
		gslb_force_t f2 = strcmp(word, "up") == 0     ? GSLB_FORCE_UP
				  : strcmp(word, "down") == 0 ? GSLB_FORCE_DOWN
							      : GSLB_FORCE_AUTO;
		if (f2 == GSLB_FORCE_AUTO || (a != 0 && a <= now))
			continue; /* expired while we were down */
		gslb_override_t *o = k == 0 ? &w->state->member_force[idx]
				     : k == 1 ? &w->state->pool_force[idx]
					      : &w->state->site_force[idx];
		o->force = f2;
		o->until = (time_t)a;
		applied++;
	}
	fclose(f);
	gslb_state_eval(w->state, w->gslb, now);
	gslb_live_t *live = gslb_build(w->gslb, w->state, now);
	if (live) {
		gslb_live_free(w->gslb->live); /* not published yet */
		w->gslb->live = live;
	}
	log_info("overrides restored file=%s applied=%u", w->overrides_file, applied);
}
