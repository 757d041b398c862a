/* services_ctl.c -- control commands for services (set, explain, geo, health) and health timers. */
#include "config.h"
#include "services_ctl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>
#include <ldns/ldns.h>

#include "core/log.h"
#include "ctl/report.h"

struct services_ctl {
	struct event_base *base;
	world_t *const *worldp;
	struct event *timer;
	struct event *dirty; /* made active by probe results: one update per burst */
	prober_t *prober;
	size_t unknown; /* targets without a first result yet */
	/* For /metrics; main thread only, kept across reloads. */
	uint64_t check_transitions, member_transitions;
	uint64_t latency_buckets[12], latency_count;
	double latency_sum;
	uint64_t failures[16];
};

/* Probe latency histogram bounds, seconds (the last bucket is +Inf). */
static const double latency_le[11] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
				      0.1,   0.25,	  0.5,	 1,    2.5};

/* Failure reasons, by class: the detail after a colon or a number is left out. */
static const char *const failure_class[] = {
	"connect refused", "timeout", "unreachable", "connection reset", "HTTP",  "certificate",
	"TLS",		   "STUN",    "SIP",	     "exec",		"body",	 "other"};
enum { N_FAILURE_CLASS = sizeof(failure_class) / sizeof(failure_class[0]) };

static unsigned classify(const char *reason)
{
	for (unsigned i = 0; i < 4; i++) /* the network ones, by their start */
		if (strncasecmp(reason, failure_class[i], strlen(failure_class[i])) == 0)
			return i;
	if (strstr(reason, "certificate"))
		return 5;
	if (strstr(reason, "body"))
		return 10;
	/* "HTTP 503", "bad HTTP response", "TLS handshake failed", ... */
	static const unsigned proto[] = {4, 6, 7, 8};
	for (unsigned k = 0; k < 4; k++)
		if (strstr(reason, failure_class[proto[k]]))
			return proto[k];
	if (strncmp(reason, "exit", 4) == 0 || strncmp(reason, "exec", 4) == 0 ||
	    strncmp(reason, "killed", 6) == 0)
		return 9;
	return N_FAILURE_CLASS - 1;
}

static const char *const force_names[] = {"auto", "up", "down"};
static const char *const kind_names[] = {"failover", "multi", "weighted", "srv", "cname", "host"};

/* ---- health re-evaluation ---------------------------------------------------- */

static void schedule(services_ctl_t *sc, time_t next, time_t now)
{
	evtimer_del(sc->timer);
	if (next <= 0)
		return;
	struct timeval tv = {.tv_sec = next > now ? next - now : 0, .tv_usec = 1000};
	evtimer_add(sc->timer, &tv);
}

/* Publish answers for the current health and plan the next look. */
static void update(services_ctl_t *sc)
{
	world_t *w = *sc->worldp;
	time_t now = time(NULL);
	schedule(sc, world_health_update(w, now), now);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	update(arg);
}

void services_ctl_world_changed(services_ctl_t *sc)
{
	world_t *w = *sc->worldp;
	time_t now = time(NULL);
	schedule(sc, gslb_state_next_event(w->state, w->gslb, now), now);
	char err[256];
	if (services_ctl_start_probes(sc, err, sizeof(err)) < 0)
		log_err("health checks not started error=\"%s\"", err);
}

/* ---- the prober -------------------------------------------------------------------------- */

static void on_dirty(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	update(arg);
}

/* A probe result, on the main thread. Every result updates the target's
 * status (waymarkctl health); a member's up/down is what the answers use. */
static void on_probe_result(const probe_result_t *r, void *arg)
{
	services_ctl_t *sc = arg;
	world_t *w = *sc->worldp;
	if (r->target >= w->n_targets)
		return;
	world_probe_status_t *st = &w->probe_status[r->target];
	time_t now = time(NULL);
	if (st->state == PROBE_UNKNOWN && r->state != PROBE_UNKNOWN && sc->unknown > 0)
		sc->unknown--;
	if (r->state != st->state)
		st->since = now;
	st->state = r->state;
	snprintf(st->reason, sizeof(st->reason), "%s", r->reason);
	st->latency_us = r->latency_us;
	st->cert_days_left = r->cert_days_left;
	st->probes++;
	st->failures += !r->ok;
	double secs = (double)r->latency_us / 1e6;
	unsigned b = 0;
	while (b < 11 && secs > latency_le[b])
		b++;
	sc->latency_buckets[b]++;
	sc->latency_count++;
	sc->latency_sum += secs;
	if (!r->ok)
		sc->failures[classify(r->reason)]++;
	sc->check_transitions += r->changed;
	const char *member = w->gslb->members[r->member].name;
	if (r->changed)
		log_info("check state changed member=%s check=%s state=%s reason=\"%s\" "
			 "latency_ms=%.1f",
			 member, w->probe->checks[r->check].name,
			 r->state == PROBE_UP ? "up" : r->state == PROBE_DOWN ? "down" : "unknown",
			 r->reason, (double)r->latency_us / 1000.0);
	if (r->member_state == PROBE_UNKNOWN)
		return;
	bool up = r->member_state == PROBE_UP;
	if (w->state->member_probe_up[r->member] != up) {
		w->state->member_probe_up[r->member] = up;
		log_info("member state changed member=%s state=%s reason=\"%s\"", member,
			 up ? "up" : "down", r->reason);
		sc->member_transitions++;
		event_active(sc->dirty, 0, 0);
	}
}

int services_ctl_start_probes(services_ctl_t *sc, char *err, size_t errlen)
{
	world_t *w = *sc->worldp;
	services_ctl_stop_probes(sc);
	sc->unknown = 0;
	for (size_t t = 0; t < w->n_targets; t++) {
		/* a reload: start from what the previous prober had reached */
		probe_state_t st = w->probe_status[t].state;
		w->targets[t].has_start = st != PROBE_UNKNOWN;
		w->targets[t].start = st;
		sc->unknown += st == PROBE_UNKNOWN;
	}
	if (w->n_targets == 0)
		return 0;
	sc->prober = prober_new(w->probe, w->targets, w->n_targets, on_probe_result, sc, err, errlen);
	if (!sc->prober)
		return -1;
	prober_report_all(sc->prober, true);
	if (prober_set_notify(sc->prober, sc->base) < 0 || prober_start(sc->prober, err, errlen) < 0) {
		prober_free(sc->prober);
		sc->prober = NULL;
		return -1;
	}
	log_info("health checks started targets=%zu checks=%zu", w->n_targets, w->probe->n_checks);
	return 0;
}

void services_ctl_stop_probes(services_ctl_t *sc)
{
	if (!sc->prober)
		return;
	prober_free(sc->prober); /* stops and joins the thread first */
	sc->prober = NULL;
}

bool services_ctl_probes_ready(const services_ctl_t *sc)
{
	return sc->unknown == 0;
}

uint64_t services_ctl_first_round_ms(const services_ctl_t *sc)
{
	const world_t *w = *sc->worldp;
	uint64_t worst = 0;
	for (size_t i = 0; i < w->n_targets; i++) {
		/* first probes go out within min(interval, 1 s) (prober_start) */
		const probe_check_t *c = &w->probe->checks[w->targets[i].check];
		uint64_t first = (c->interval_ms < 1000 ? c->interval_ms : 1000) + c->timeout_ms;
		if (first > worst)
			worst = first;
	}
	return worst;
}

/* Keep overrides across a restart. A failure to write is logged: the
 * override is in force all the same. */
static void save(services_ctl_t *sc)
{
	char err[512];
	if (world_save_overrides(*sc->worldp, err, sizeof(err)) < 0)
		log_err("overrides not saved error=\"%s\"", err);
}

/* ---- drain POOL ------------------------------------------------------------------ */

static void cmd_drain(ctl_req_t *req, void *arg)
{
	services_ctl_t *sc = arg;
	const char *pool = ctl_json_get_str(ctl_req_args(req), "pool");
	if (!pool) {
		ctl_req_fail(req, "usage: drain POOL");
		return;
	}
	char err[256];
	time_t now = time(NULL), withdraw_at;
	if (world_drain(*sc->worldp, pool, now, &withdraw_at, err, sizeof(err)) < 0) {
		ctl_req_fail(req, err);
		return;
	}
	update(sc);
	save(sc);
	ctl_jw_t *jw = ctl_req_reply(req, NULL);
	ctl_jw_key(jw, "result");
	ctl_jw_obj(jw);
	ctl_jw_kstr(jw, "pool", pool);
	ctl_jw_kint(jw, "withdraw_at", (int64_t)withdraw_at);
	/* answers given until the withdrawal carry TTL 1 */
	ctl_jw_kint(jw, "safe_at", (int64_t)withdraw_at + 1);
	ctl_jw_kint(jw, "safe_in_seconds", (int64_t)(withdraw_at + 1 - now));
	ctl_jw_obj_end(jw);
	ctl_req_send(req);
}

/* ---- set TARGET up|down|auto [for DURATION] --------------------------------------- */

static void cmd_set(ctl_req_t *req, void *arg)
{
	services_ctl_t *sc = arg;
	const ctl_json_t *a = ctl_req_args(req);
	const char *target = ctl_json_get_str(a, "target");
	const char *state = ctl_json_get_str(a, "state");
	const char *dur = ctl_json_get_str(a, "for");
	if (!target || !state) {
		ctl_req_fail(req, "usage: set target=MEMBER|POOL|SITE state=up|down|auto [for=DURATION]");
		return;
	}
	gslb_force_t f;
	if (strcmp(state, "up") == 0)
		f = GSLB_FORCE_UP;
	else if (strcmp(state, "down") == 0)
		f = GSLB_FORCE_DOWN;
	else if (strcmp(state, "auto") == 0)
		f = GSLB_FORCE_AUTO;
	else {
		ctl_req_fail(req, "state must be up, down or auto");
		return;
	}
	long secs = 0;
	if (dur) {
		/* the config's duration syntax; rounded up to whole seconds */
		uint64_t ms;
		if (conf_parse_duration_ms(dur, &ms) < 0 || ms == 0 || ms > 3650ull * 86400000) {
			ctl_req_fail(req, "for: a duration such as 90s, 1.5m, 2h or 1d (at most 10 years)");
			return;
		}
		secs = (long)((ms + 999) / 1000);
	}
	char err[256];
	time_t now = time(NULL);
	if (world_set_override(*sc->worldp, target, f, secs ? now + secs : 0, err, sizeof(err)) <
	    0) {
		ctl_req_fail(req, err);
		return;
	}
	update(sc);
	save(sc);
	ctl_jw_t *jw = ctl_req_reply(req, NULL);
	ctl_jw_key(jw, "result");
	ctl_jw_obj(jw);
	ctl_jw_kstr(jw, "target", target);
	ctl_jw_kstr(jw, "state", force_names[f]);
	ctl_jw_kint(jw, "until", secs ? (int64_t)(now + secs) : 0);
	ctl_jw_obj_end(jw);
	ctl_req_send(req);
}

/* ---- health ------------------------------------------------------------------------- */

static void write_force(ctl_jw_t *jw, const char *key, const gslb_override_t *o)
{
	ctl_jw_key(jw, key);
	ctl_jw_obj(jw);
	ctl_jw_kstr(jw, "state", force_names[o->force]);
	ctl_jw_kint(jw, "until", (int64_t)o->until);
	ctl_jw_obj_end(jw);
}

void services_ctl_health_json(const services_ctl_t *sc, ctl_jw_t *jw)
{
	const world_t *w = *sc->worldp;
	const gslb_t *g = w->gslb;
	const gslb_state_t *s = w->state;
	ctl_jw_key(jw, "members");
	ctl_jw_arr(jw);
	for (unsigned i = 0; i < g->n_members; i++) {
		ctl_jw_obj(jw);
		ctl_jw_kstr(jw, "name", g->members[i].name);
		ctl_jw_kstr(jw, "pool",
			    g->members[i].pool < g->n_pools ? g->pools[g->members[i].pool].name : NULL);
		ctl_jw_kbool(jw, "up", s->member_up[i]);
		ctl_jw_kbool(jw, "probe_up", s->member_probe_up[i]);
		write_force(jw, "override", &s->member_force[i]);
		ctl_jw_key(jw, "checks");
		ctl_jw_arr(jw);
		for (size_t t = 0; t < w->n_targets; t++) {
			if (w->targets[t].member != i)
				continue;
			const world_probe_status_t *ps = &w->probe_status[t];
			const probe_check_t *c = &w->probe->checks[w->targets[t].check];
			ctl_jw_obj(jw);
			ctl_jw_kstr(jw, "check", c->name);
			ctl_jw_kstr(jw, "kind", probe_kind_name(c->kind));
			ctl_jw_kstr(jw, "state", ps->state == PROBE_UP     ? "up"
						 : ps->state == PROBE_DOWN ? "down"
									   : "unknown");
			ctl_jw_kint(jw, "since", (int64_t)ps->since);
			ctl_jw_kstr(jw, "last", ps->reason);
			ctl_jw_kuint(jw, "latency_us", ps->latency_us);
			ctl_jw_kuint(jw, "probes", ps->probes);
			ctl_jw_kuint(jw, "failures", ps->failures);
			if (c->kind == PROBE_TLS || c->kind == PROBE_HTTPS || (c->kind == PROBE_SIP && c->sip_tls))
				ctl_jw_kint(jw, "cert_days_left", ps->cert_days_left);
			ctl_jw_obj_end(jw);
		}
		ctl_jw_arr_end(jw);
		ctl_jw_obj_end(jw);
	}
	ctl_jw_arr_end(jw);
	ctl_jw_key(jw, "pools");
	ctl_jw_arr(jw);
	for (unsigned i = 0; i < g->n_pools; i++) {
		const gslb_pool_t *p = &g->pools[i];
		ctl_jw_obj(jw);
		ctl_jw_kstr(jw, "name", p->name);
		ctl_jw_kstr(jw, "site", w->geo->site_names[p->site]);
		ctl_jw_kbool(jw, "up", s->pool_up[i]);
		ctl_jw_kuint(jw, "members_up", s->pool_members_up[i]);
		ctl_jw_kuint(jw, "members", p->n_members);
		ctl_jw_kuint(jw, "min_up", p->min_up);
		ctl_jw_kbool(jw, "dependency_down", s->pool_dep_down[i]);
		ctl_jw_kint(jw, "up_since", (int64_t)s->pool_up_since[i]);
		ctl_jw_kint(jw, "drain_since", (int64_t)s->pool_drain_since[i]);
		ctl_jw_kint(jw, "drain_until", (int64_t)s->pool_drain_until[i]);
		write_force(jw, "override", &s->pool_force[i]);
		ctl_jw_obj_end(jw);
	}
	ctl_jw_arr_end(jw);
	ctl_jw_key(jw, "sites");
	ctl_jw_arr(jw);
	for (unsigned i = 0; i < w->geo->n_sites; i++) {
		ctl_jw_obj(jw);
		ctl_jw_kstr(jw, "name", w->geo->site_names[i]);
		write_force(jw, "override", &s->site_force[i]);
		ctl_jw_obj_end(jw);
	}
	ctl_jw_arr_end(jw);
}

static void cmd_health(ctl_req_t *req, void *arg)
{
	ctl_jw_t *jw = ctl_req_reply(req, NULL);
	ctl_jw_key(jw, "result");
	ctl_jw_obj(jw);
	services_ctl_health_json(arg, jw);
	ctl_jw_obj_end(jw);
	ctl_req_send(req);
}

/* ---- explain --------------------------------------------------------------------------- */

/* A client as an operator types it: "ADDR" or "ADDR/PREFIX". Unlike `nets:`
 * in the config, bits beyond the prefix are simply dropped: "192.0.2.7/24"
 * means that client's /24. *p128 is the prefix in the 128-bit space. */
static int parse_client(const char *text, uint8_t a16[16], unsigned *p128, bool *has_prefix,
			char *err, size_t errlen)
{
	char addr[128];
	snprintf(addr, sizeof(addr), "%s", text);
	char *slash = strchr(addr, '/');
	*has_prefix = slash != NULL;
	if (slash)
		*slash = '\0';
	if (geo_parse_prefix(addr, a16, p128, err, errlen) < 0)
		return -1;
	if (!slash)
		return 0;
	char *end;
	unsigned long plen = strtoul(slash + 1, &end, 10);
	unsigned max = geo_addr_is_v4(a16) ? 32 : 128;
	if (end == slash + 1 || *end || plen > max) {
		snprintf(err, errlen, "'%s': the prefix length must be 0..%u", text, max);
		return -1;
	}
	*p128 = (unsigned)plen + (max == 32 ? 96 : 0);
	for (unsigned b = *p128; b < 128; b++)
		a16[b / 8] &= (uint8_t)~(0x80u >> (b % 8));
	return 0;
}

/* One RR of a prepared RRset as zone-file text. */
static void rr_text(const uint8_t *owner, const uint8_t *rr, char *out, size_t len)
{
	char o[1024], data[1100];
	uint16_t type = wire_get_u16(rr);
	uint32_t ttl = wire_get_u32(rr + 4);
	uint16_t rdlen = wire_get_u16(rr + 8);
	const uint8_t *rd = rr + 10;
	wire_name_to_text(owner, o, sizeof(o));
	const char *tname = "TYPE";
	switch (type) {
	case WIRE_T_A:
		tname = "A";
		inet_ntop(AF_INET, rd, data, sizeof(data));
		break;
	case WIRE_T_AAAA:
		tname = "AAAA";
		inet_ntop(AF_INET6, rd, data, sizeof(data));
		break;
	case WIRE_T_CNAME:
		tname = "CNAME";
		wire_name_to_text(rd, data, sizeof(data));
		break;
	case WIRE_T_SRV: {
		char t[1024];
		tname = "SRV";
		wire_name_to_text(rd + 6, t, sizeof(t));
		snprintf(data, sizeof(data), "%u %u %u %s", wire_get_u16(rd), wire_get_u16(rd + 2),
			 wire_get_u16(rd + 4), t);
		break;
	}
	default:
		snprintf(data, sizeof(data), "(%u bytes)", rdlen);
	}
	snprintf(out, len, "%s %u IN %s %s", o, ttl, tname, data);
}

static void write_rrset(ctl_jw_t *jw, const uint8_t *owner, const zone_rrset_t *s)
{
	const uint8_t *p = s->wire;
	for (unsigned i = 0; i < s->count; i++) {
		char line[2300];
		rr_text(owner, p, line, sizeof(line));
		ctl_jw_str(jw, line);
		p += 10u + wire_get_u16(p + 8);
	}
}

int services_explain(const world_t *w, const char *name, const char *qtype, const char *client,
		     ctl_jw_t *jw, char *err, size_t errlen)
{
	ldns_rdf *dn = NULL;
	if (ldns_str2rdf_dname(&dn, name) != LDNS_STATUS_OK) {
		snprintf(err, errlen, "bad name '%s'", name);
		return -1;
	}
	uint8_t lc[WIRE_NAME_MAX];
	wire_name_lower(ldns_rdf_data(dn), lc);
	ldns_rdf_deep_free(dn);
	ldns_rr_type t = ldns_get_rr_type_by_name(qtype);
	if (t == 0) {
		snprintf(err, errlen, "unknown type '%s'", qtype);
		return -1;
	}
	uint8_t off[WIRE_LABELS_MAX];
	unsigned labels = 0, o = 0;
	while (lc[o]) {
		off[labels++] = (uint8_t)o;
		o += 1u + lc[o];
	}
	off[labels] = (uint8_t)o;
	const zone_t *z = zoneset_find(w->zones, lc, off, labels);
	const zone_node_t *node = z ? zone_lookup(z, lc, o + 1) : NULL;
	if (!node || !node->dyn) {
		snprintf(err, errlen, "'%s' is not a service name (static data or not ours)", name);
		return -1;
	}
	const gslb_t *g = w->gslb;
	const gslb_name_t *n = node->dyn;
	const gslb_service_t *sv = &g->services[n->service];

	/* The client: an address (the packet source), or ADDR/PREFIX (ECS),
	 * read with the same rules as `geo` (no bits beyond the prefix). */
	struct sockaddr_storage ss = {0};
	wire_ecs_t ecs = {0};
	answer_client_t c = {.peer = (const struct sockaddr *)&ss};
	char abuf[128] = "0.0.0.0";
	uint8_t a16[16];
	unsigned p128;
	bool has_prefix = false;
	if (parse_client(client ? client : "0.0.0.0", a16, &p128, &has_prefix, err, errlen) < 0)
		return -1;
	if (has_prefix)
		c.ecs = &ecs;
	if (client) {
		snprintf(abuf, sizeof(abuf), "%s", client);
		*strchrnul(abuf, '/') = '\0';
	}
	unsigned plen;
	if (geo_addr_is_v4(a16)) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, a16 + 12, 4);
		ecs.family = 1;
		memcpy(ecs.addr, a16 + 12, 4);
		plen = p128 - 96;
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, a16, 16);
		ecs.family = 2;
		memcpy(ecs.addr, a16, 16);
		plen = p128;
	}
	ecs.source = (uint8_t)plen;

	const geo_conf_map_t *map = sv->map;
	uint8_t addr[16];
	unsigned source, scope;
	bool used_ecs;
	uint32_t cls = gslb_client_class(map, &c, addr, &source, &scope, &used_ecs);
	geo_explain_t ex;
	char gtext[1024] = "";
	char gerr[256];
	if (geo_explain(map->map, addr, source, &ex, gerr, sizeof(gerr)) == 0)
		geo_explain_format(map->map, &ex, gtext, sizeof(gtext));
	else
		snprintf(gtext, sizeof(gtext), "(%s)", gerr);

	char ntext[1024];
	wire_name_to_text(n->name, ntext, sizeof(ntext));
	ctl_jw_kstr(jw, "name", ntext);
	ctl_jw_kstr(jw, "type", qtype);
	ctl_jw_kstr(jw, "service", sv->name);
	ctl_jw_kstr(jw, "kind", kind_names[n->kind]);
	ctl_jw_key(jw, "client");
	ctl_jw_obj(jw);
	ctl_jw_kstr(jw, "address", abuf);
	ctl_jw_kstr(jw, "from", used_ecs ? "ecs" : "packet source");
	ctl_jw_kuint(jw, "source_prefix", used_ecs ? plen : (ecs.family == 1 ? 32 : 128));
	ctl_jw_obj_end(jw);
	ctl_jw_key(jw, "geo");
	ctl_jw_obj(jw);
	ctl_jw_kstr(jw, "map", map->name);
	ctl_jw_kstr(jw, "decision", gtext);
	ctl_jw_kuint(jw, "class", cls);
	ctl_jw_kuint(jw, "scope", geo_scope_family(addr, scope));
	ctl_jw_key(jw, "order");
	ctl_jw_arr(jw);
	unsigned norder;
	const uint16_t *order = geo_class_sites(map->map, cls, &norder);
	for (unsigned i = 0; i < norder; i++)
		ctl_jw_str(jw, w->geo->site_names[order[i]]);
	ctl_jw_arr_end(jw);
	ctl_jw_obj_end(jw);

	time_t now = time(NULL);
	const gslb_state_t *s = w->state;
	ctl_jw_key(jw, "candidates");
	ctl_jw_arr(jw);
	for (unsigned i = 0; i < norder && n->kind != GSLB_HOST; i++) {
		unsigned p = n->pool_of_site[order[i]];
		if (p == GSLB_NONE)
			continue;
		const gslb_pool_t *pool = &g->pools[p];
		ctl_jw_obj(jw);
		ctl_jw_kstr(jw, "site", w->geo->site_names[order[i]]);
		ctl_jw_kstr(jw, "pool", pool->name);
		ctl_jw_kstr(jw, "role", pool->role);
		ctl_jw_kbool(jw, "up", s->pool_up[p]);
		ctl_jw_kbool(jw, "usable", gslb_state_pool_usable(s, g, n->service, p, now));
		ctl_jw_kuint(jw, "members_up", s->pool_members_up[p]);
		ctl_jw_kuint(jw, "members", pool->n_members);
		ctl_jw_kuint(jw, "min_up", pool->min_up);
		ctl_jw_kbool(jw, "dependency_down", s->pool_dep_down[p]);
		ctl_jw_key(jw, "requires");
		ctl_jw_arr(jw);
		for (unsigned r = 0; r < pool->n_requires; r++) {
			ctl_jw_obj(jw);
			ctl_jw_kstr(jw, "pool", g->pools[pool->requires[r]].name);
			ctl_jw_kbool(jw, "up", s->pool_up[pool->requires[r]]);
			ctl_jw_obj_end(jw);
		}
		ctl_jw_arr_end(jw);
		write_force(jw, "pool_override", &s->pool_force[p]);
		write_force(jw, "site_override", &s->site_force[pool->site]);
		/* Only a pool that is up and not usable yet is held down (a pool
		 * forced up is usable at once). */
		time_t since = s->pool_up_since[p];
		bool usable = gslb_state_pool_usable(s, g, n->service, p, now);
		long left = s->pool_up[p] && !usable && since
				    ? (long)(since + (time_t)sv->hold_down_s - now)
				    : 0;
		ctl_jw_kint(jw, "hold_down_left", left > 0 ? left : 0);
		ctl_jw_obj_end(jw);
	}
	ctl_jw_arr_end(jw);

	/* The answer, from the prepared answers now in force. */
	answer_plan_t plan;
	gslb_plan(g, n, &c, (uint16_t)t, &plan);
	const gslb_live_t *l = g->live;
	unsigned idx = (unsigned)(n - g->names);
	const gslb_prep_t *pr = &l->prep[idx][cls < l->n_prep[idx] ? cls : 0];
	ctl_jw_key(jw, "answer");
	ctl_jw_obj(jw);
	ctl_jw_kstr(jw, "site", pr->site >= 0 ? w->geo->site_names[pr->site] : NULL);
	ctl_jw_kbool(jw, "first_choice", pr->first_choice);
	ctl_jw_kbool(jw, "failopen", pr->failopen);
	ctl_jw_kuint(jw, "ttl", pr->ttl);
	ctl_jw_kuint(jw, "ecs_scope", plan.ecs_used ? plan.scope : 0);
	ctl_jw_key(jw, "records");
	ctl_jw_arr(jw);
	for (unsigned i = 0; i < plan.n_an; i++)
		write_rrset(jw, n->name, plan.an[i]);
	ctl_jw_arr_end(jw);
	ctl_jw_key(jw, "additional");
	ctl_jw_arr(jw);
	for (unsigned i = 0; i < plan.n_ad; i++)
		write_rrset(jw, plan.ad_owner[i], plan.ad[i]);
	ctl_jw_arr_end(jw);
	ctl_jw_obj_end(jw);
	return 0;
}

static void cmd_explain(ctl_req_t *req, void *arg)
{
	services_ctl_t *sc = arg;
	const ctl_json_t *a = ctl_req_args(req);
	const char *name = ctl_json_get_str(a, "name");
	const char *type = ctl_json_get_str(a, "type");
	const char *client = ctl_json_get_str(a, "client");
	if (!name) {
		ctl_req_fail(req, "usage: explain name=NAME [type=A] [client=ADDR[/PREFIX]]");
		return;
	}
	ctl_buf_t b;
	ctl_jw_t tmp;
	char err[256];
	ctl_buf_init(&b);
	ctl_jw_init(&tmp, &b);
	ctl_jw_obj(&tmp);
	/* Rendered aside first: an error must not leave half a result in the
	 * reply, and the work is done once. */
	if (services_explain(*sc->worldp, name, type ? type : "A", client, &tmp, err, sizeof(err)) <
	    0) {
		ctl_buf_free(&b);
		ctl_req_fail(req, err);
		return;
	}
	ctl_jw_obj_end(&tmp);
	if (b.oom || tmp.bad) {
		ctl_buf_free(&b);
		ctl_req_fail(req, "out of memory");
		return;
	}
	ctl_jw_t *jw = ctl_req_reply(req, NULL);
	ctl_jw_key(jw, "result");
	ctl_jw_raw(jw, b.p, b.len);
	ctl_buf_free(&b);
	ctl_req_send(req);
}

/* ---- geo ADDRESS[/PREFIX] [map=NAME] --------------------------------------------------- */

static void cmd_geo(ctl_req_t *req, void *arg)
{
	services_ctl_t *sc = arg;
	const world_t *w = *sc->worldp;
	const ctl_json_t *a = ctl_req_args(req);
	const char *address = ctl_json_get_str(a, "address");
	const char *mapname = ctl_json_get_str(a, "map");
	if (!address) {
		ctl_req_fail(req, "usage: geo address=ADDR[/PREFIX] [map=NAME]");
		return;
	}
	if (w->geo->n_maps == 0) {
		ctl_req_fail(req, "no geo maps are configured");
		return;
	}
	const geo_conf_map_t *m = mapname ? geo_conf_map(w->geo, mapname) : &w->geo->maps[0];
	if (!m) {
		ctl_req_fail(req, "no such geo map");
		return;
	}
	uint8_t addr[16];
	unsigned prefix;
	bool has_prefix;
	char err[256];
	if (parse_client(address, addr, &prefix, &has_prefix, err, sizeof(err)) < 0) {
		ctl_req_fail(req, err);
		return;
	}
	geo_explain_t ex;
	if (geo_explain(m->map, addr, prefix, &ex, err, sizeof(err)) < 0) {
		ctl_req_fail(req, err);
		return;
	}
	char text[1024], pfx[128];
	geo_explain_format(m->map, &ex, text, sizeof(text));
	geo_prefix_format(ex.prefix, ex.scope, pfx, sizeof(pfx));
	ctl_jw_t *jw = ctl_req_reply(req, NULL);
	ctl_jw_key(jw, "result");
	ctl_jw_obj(jw);
	ctl_jw_kstr(jw, "map", m->name);
	ctl_jw_kstr(jw, "decision", text);
	ctl_jw_kstr(jw, "prefix", pfx);
	ctl_jw_kuint(jw, "class", ex.cls);
	ctl_jw_kuint(jw, "scope", geo_scope_family(addr, ex.scope));
	ctl_jw_key(jw, "sites");
	ctl_jw_arr(jw);
	unsigned ns;
	const uint16_t *sites = geo_class_sites(m->map, ex.cls, &ns);
	for (unsigned i = 0; i < ns; i++)
		ctl_jw_str(jw, w->geo->site_names[sites[i]]);
	ctl_jw_arr_end(jw);
	if (ex.db_found) {
		ctl_jw_key(jw, "record");
		ctl_jw_obj(jw);
		ctl_jw_kstr(jw, "continent", ex.rec.continent);
		ctl_jw_kstr(jw, "country", ex.rec.country);
		ctl_jw_kstr(jw, "subdivision", ex.rec.n_subdivisions ? ex.rec.subdivisions[0] : "");
		ctl_jw_obj_end(jw);
	}
	ctl_jw_obj_end(jw);
	ctl_req_send(req);
}

services_ctl_t *services_ctl_new(struct event_base *base, ctl_t *ctl, world_t *const *worldp)
{
	services_ctl_t *sc = calloc(1, sizeof(*sc));
	if (!sc)
		return NULL;
	sc->base = base;
	sc->worldp = worldp;
	sc->timer = evtimer_new(base, on_timer, sc);
	sc->dirty = event_new(base, -1, 0, on_dirty, sc);
	if (!sc->timer || !sc->dirty)
		goto fail;
	if (ctl && (ctl_register(ctl, "set", cmd_set, sc) < 0 ||
		    ctl_register(ctl, "explain", cmd_explain, sc) < 0 ||
		    ctl_register(ctl, "geo", cmd_geo, sc) < 0 ||
		    ctl_register(ctl, "health", cmd_health, sc) < 0 ||
		    ctl_register(ctl, "drain", cmd_drain, sc) < 0))
		goto fail;
	time_t now = time(NULL);
	schedule(sc, gslb_state_next_event((*worldp)->state, (*worldp)->gslb, now), now);
	return sc;
fail:
	services_ctl_free(sc);
	return NULL;
}

void services_ctl_free(services_ctl_t *sc)
{
	if (!sc)
		return;
	services_ctl_stop_probes(sc);
	if (sc->timer)
		event_free(sc->timer);
	if (sc->dirty)
		event_free(sc->dirty);
	free(sc);
}


void services_ctl_metrics(const services_ctl_t *sc, ctl_buf_t *b)
{
	const world_t *w = *sc->worldp;
	const gslb_t *g = w->gslb;
	const gslb_state_t *s = w->state;
	ctl_prom_head(b, "waymark_member_up", "gauge",
		      "1 if the member counts as up (checks, overrides).");
	for (unsigned i = 0; i < g->n_members; i++) {
		ctl_buf_str(b, "waymark_member_up{member=\"");
		ctl_prom_escape(b, g->members[i].name);
		ctl_buf_printf(b, "\"} %d\n", s->member_up[i] ? 1 : 0);
	}
	ctl_prom_head(b, "waymark_pool_up", "gauge",
		  "1 if the pool is up (quorum, requires, overrides, drain).");
	for (unsigned i = 0; i < g->n_pools; i++) {
		ctl_buf_str(b, "waymark_pool_up{pool=\"");
		ctl_prom_escape(b, g->pools[i].name);
		ctl_buf_printf(b, "\"} %d\n", s->pool_up[i] ? 1 : 0);
	}
	ctl_prom_head(b, "waymark_check_up", "gauge",
		  "Each member's check: 1 up, 0 down, -1 not probed yet.");
	for (size_t t = 0; t < w->n_targets; t++) {
		ctl_buf_str(b, "waymark_check_up{member=\"");
		ctl_prom_escape(b, g->members[w->targets[t].member].name);
		ctl_buf_str(b, "\",check=\"");
		ctl_prom_escape(b, w->probe->checks[w->targets[t].check].name);
		ctl_buf_printf(b, "\"} %d\n",
			       w->probe_status[t].state == PROBE_UP     ? 1
			       : w->probe_status[t].state == PROBE_DOWN ? 0
									: -1);
	}
	ctl_prom_head(b, "waymark_check_transitions_total", "counter",
		  "Checks changing state (after rise/fall).");
	ctl_buf_printf(b, "waymark_check_transitions_total %llu\n",
		       (unsigned long long)sc->check_transitions);
	ctl_prom_head(b, "waymark_member_transitions_total", "counter",
		  "Members going up or down by their checks.");
	ctl_buf_printf(b, "waymark_member_transitions_total %llu\n",
		       (unsigned long long)sc->member_transitions);
	ctl_prom_head(b, "waymark_probe_latency_seconds", "histogram", "Probe durations.");
	uint64_t cum = 0;
	for (unsigned i = 0; i < 11; i++) {
		cum += sc->latency_buckets[i];
		ctl_buf_printf(b, "waymark_probe_latency_seconds_bucket{le=\"%g\"} %llu\n",
			       latency_le[i], (unsigned long long)cum);
	}
	ctl_buf_printf(b, "waymark_probe_latency_seconds_bucket{le=\"+Inf\"} %llu\n",
		       (unsigned long long)sc->latency_count);
	ctl_buf_printf(b, "waymark_probe_latency_seconds_sum %.6f\n", sc->latency_sum);
	ctl_buf_printf(b, "waymark_probe_latency_seconds_count %llu\n",
		       (unsigned long long)sc->latency_count);
	ctl_prom_head(b, "waymark_probe_failures_total", "counter", "Failed probes, by reason.");
	for (unsigned i = 0; i < N_FAILURE_CLASS; i++)
		ctl_buf_printf(b, "waymark_probe_failures_total{reason=\"%s\"} %llu\n",
			       failure_class[i], (unsigned long long)sc->failures[i]);
}
