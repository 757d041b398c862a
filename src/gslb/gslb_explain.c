/* gslb_explain.c -- `_explain.<name>` TXT answers: why a client gets what it gets, in DNS. */
#include "config.h"
#include "gslb/gslb_answer.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <urcu/urcu-memb.h>

/* Each worker thread formats into its own buffer: the explanation is opt-in
 * and answered only to configured networks, so a little formatting per query
 * is fine, but it must not allocate. The RRset is valid until the thread's
 * next explain query, long after the response has been written. */
static _Thread_local uint8_t txt_wire[6144];
static _Thread_local zone_rrset_t txt_set;

static void add_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void add_line(const char *fmt, ...)
{
	char line[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > 255)
		n = 255;
	size_t need = 10u + 1u + (size_t)n;
	if (txt_set.wire_len + need > sizeof(txt_wire))
		return;
	/* type TXT, class IN, TTL 0 (an explanation is not to be cached) */
	uint8_t *w = txt_wire + txt_set.wire_len;
	uint8_t h[10] = {0, WIRE_T_TXT, 0, WIRE_C_IN, 0, 0, 0, 0, 0, (uint8_t)(n + 1)};
	memcpy(w, h, sizeof(h));
	w[10] = (uint8_t)n;
	memcpy(w + 11, line, (size_t)n);
	txt_set.wire_len += (uint32_t)need;
	txt_set.count++;
}

static const char *const kinds[] = {"failover", "multi", "weighted", "srv", "cname", "host"};

void gslb_explain_txt(const gslb_t *g, const gslb_name_t *n, const answer_client_t *c,
		      answer_plan_t *plan)
{
	memset(&txt_set, 0, sizeof(txt_set));
	txt_set.type = WIRE_T_TXT;
	txt_set.wire = txt_wire;
	const gslb_live_t *l = rcu_dereference(g->live);
	if (!l)
		return;
	const gslb_service_t *sv = &g->services[n->service];
	char text[1024];
	wire_name_to_text(n->name, text, sizeof(text));
	add_line("name %s kind %s service %s", text, kinds[n->kind], sv->name);

	uint8_t addr[16];
	unsigned source, scope;
	bool used_ecs;
	uint32_t cls = gslb_client_class(sv->map, c, addr, &source, &scope, &used_ecs);
	char pfx[128];
	geo_prefix_format(addr, source, pfx, sizeof(pfx));
	add_line("client %s from %s", pfx, used_ecs ? "ecs" : "packet source");

	unsigned norder;
	const uint16_t *order = geo_class_sites(sv->map->map, cls, &norder);
	char sites[200] = "";
	for (unsigned i = 0; i < norder; i++) {
		size_t len = strlen(sites);
		snprintf(sites + len, sizeof(sites) - len, "%s%s", i ? "," : "",
			 g->geo->site_names[order[i]]);
	}
	add_line("geo map %s class %u scope %u order %s", sv->map->name, cls,
		 used_ecs ? geo_scope_family(addr, scope) : 0, sites);

	unsigned idx = (unsigned)(n - g->names);
	const gslb_prep_t *pr = &l->prep[idx][cls < l->n_prep[idx] ? cls : 0];
	for (unsigned i = 0; i < norder && n->kind != GSLB_HOST; i++) {
		unsigned p = n->pool_of_site[order[i]];
		if (p == GSLB_NONE)
			continue;
		const gslb_pool_t *pool = &g->pools[p];
		time_t from = l->pool_hold_from[p], now = time(NULL);
		long held = from && now < from + (time_t)sv->hold_down_s
				    ? (long)(from + (time_t)sv->hold_down_s - now)
				    : 0;
		char hold[64] = "";
		if (held > 0)
			snprintf(hold, sizeof(hold), " (held down %lds more)", held);
		add_line("site %s pool %s %s members %u/%u min_up %u%s%s",
			 g->geo->site_names[order[i]], pool->name, l->pool_up[p] ? "up" : "down",
			 l->pool_members_up[p], pool->n_members, pool->min_up,
			 l->pool_dep_down[p] ? " (a required pool is down)" : "", hold);
	}
	add_line("answer site %s ttl %u first_choice %s failopen %s",
		 pr->site >= 0 ? g->geo->site_names[pr->site] : "-", pr->ttl,
		 pr->first_choice ? "yes" : "no", pr->failopen ? "yes" : "no");
	plan->an[plan->n_an++] = &txt_set;
}
