/* report.c -- status and stats as JSON, /metrics in the Prometheus text format (see report.h). */
#include "config.h"
#include "ctl/report.h"

#include <stdio.h>
#include <string.h>

void ctl_format_time(time_t t, char *buf, size_t size)
{
	struct tm tm;
	if (t == 0 || !gmtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		buf[0] = '\0';
}

static uint64_t uptime(const ctl_report_t *r)
{
	return r->now > r->started ? (uint64_t)(r->now - r->started) : 0;
}

static void put_time(ctl_jw_t *w, const char *key, time_t t)
{
	char buf[32];
	ctl_format_time(t, buf, sizeof(buf));
	ctl_jw_kstr(w, key, t ? buf : NULL);
}

static void put_reloads(const ctl_report_t *r, ctl_jw_t *w)
{
	ctl_jw_key(w, "reloads");
	ctl_jw_obj(w);
	ctl_jw_kuint(w, "ok", r->reloads_ok);
	ctl_jw_kuint(w, "failed", r->reloads_failed);
	put_time(w, "last", r->last_reload);
	ctl_jw_key(w, "last_ok");
	if (r->last_reload)
		ctl_jw_bool(w, r->last_reload_ok);
	else
		ctl_jw_null(w);
	ctl_jw_kbool(w, "in_progress", r->reloading);
	ctl_jw_obj_end(w);
}

void ctl_report_status(const ctl_report_t *r, ctl_jw_t *w)
{
	const uint64_t *c = r->counters;
	ctl_jw_obj(w);
	ctl_jw_kstr(w, "version", r->version);
	ctl_jw_kint(w, "pid", r->pid);
	put_time(w, "started", r->started);
	ctl_jw_kuint(w, "uptime_seconds", uptime(r));
	ctl_jw_kuint(w, "generation", r->generation);
	put_time(w, "loaded", r->loaded_at);
	ctl_jw_kuint(w, "threads", r->threads);
	ctl_jw_kstr(w, "control_socket", r->control_socket);

	ctl_jw_key(w, "listeners");
	ctl_jw_arr(w);
	for (size_t i = 0; i < r->n_listeners; i++) {
		ctl_jw_obj(w);
		ctl_jw_kstr(w, "address", r->listeners[i].address);
		ctl_jw_kuint(w, "port", r->listeners[i].port);
		ctl_jw_kstr(w, "transports", r->listeners[i].transports);
		ctl_jw_obj_end(w);
	}
	ctl_jw_arr_end(w);

	ctl_jw_key(w, "zones");
	ctl_jw_arr(w);
	for (size_t i = 0; i < r->n_zones; i++) {
		ctl_jw_obj(w);
		ctl_jw_kstr(w, "name", r->zones[i].name);
		ctl_jw_kuint(w, "serial", r->zones[i].serial);
		ctl_jw_kuint(w, "answers", r->zones[i].answers);
		ctl_jw_obj_end(w);
	}
	ctl_jw_arr_end(w);

	ctl_jw_key(w, "queries");
	ctl_jw_obj(w);
	ctl_jw_kuint(w, "udp", c[STAT_UDP_QUERIES]);
	ctl_jw_kuint(w, "tcp", c[STAT_TCP_QUERIES]);
	ctl_jw_kuint(w, "noerror", c[STAT_RCODE_NOERROR]);
	ctl_jw_kuint(w, "nxdomain", c[STAT_RCODE_NXDOMAIN]);
	ctl_jw_kuint(w, "refused", c[STAT_RCODE_REFUSED]);
	ctl_jw_kuint(w, "formerr", c[STAT_RCODE_FORMERR]);
	ctl_jw_kuint(w, "servfail", c[STAT_RCODE_SERVFAIL]);
	ctl_jw_kuint(w, "truncated", c[STAT_TRUNCATED]);
	ctl_jw_kuint(w, "malformed", c[STAT_MALFORMED]);
	ctl_jw_kuint(w, "dropped", c[STAT_DROPPED]);
	ctl_jw_obj_end(w);

	put_reloads(r, w);
	if (r->status_extra)
		r->status_extra(w, r->status_extra_arg);
	ctl_jw_obj_end(w);
}

void ctl_report_stats(const ctl_report_t *r, ctl_jw_t *w)
{
	ctl_jw_obj(w);
	ctl_jw_kuint(w, "uptime_seconds", uptime(r));
	ctl_jw_kuint(w, "generation", r->generation);
	ctl_jw_key(w, "counters");
	ctl_jw_obj(w);
	for (unsigned k = 0; k < STAT_COUNT; k++)
		ctl_jw_kuint(w, stats_name((stat_id_t)k), r->counters[k]);
	ctl_jw_obj_end(w);
	ctl_jw_key(w, "zone_answers");
	ctl_jw_obj(w);
	for (size_t i = 0; i < r->n_zones; i++)
		ctl_jw_kuint(w, r->zones[i].name, r->zones[i].answers);
	ctl_jw_obj_end(w);
	ctl_jw_key(w, "worker_queries");
	ctl_jw_arr(w);
	for (unsigned i = 0; i < r->n_workers; i++)
		ctl_jw_uint(w, r->worker_queries[i]);
	ctl_jw_arr_end(w);
	put_reloads(r, w);
	ctl_jw_obj_end(w);
}

/* ---- Prometheus -------------------------------------------------------------------------- */

void ctl_prom_escape(ctl_buf_t *b, const char *s)
{
	size_t run = 0, i = 0;
	for (; s[i]; i++) {
		const char *esc = s[i] == '\\'   ? "\\\\"
				  : s[i] == '"'  ? "\\\""
				  : s[i] == '\n' ? "\\n"
						 : NULL;
		if (!esc)
			continue;
		ctl_buf_add(b, s + run, i - run);
		ctl_buf_str(b, esc);
		run = i + 1;
	}
	ctl_buf_add(b, s + run, i - run);
}

void ctl_prom_head(ctl_buf_t *b, const char *name, const char *type, const char *help)
{
	ctl_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void prom_value(ctl_buf_t *b, const char *name, uint64_t v)
{
	ctl_buf_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

static void prom_labelled(ctl_buf_t *b, const char *name, const char *label, const char *value,
			  uint64_t v)
{
	ctl_buf_printf(b, "%s{%s=\"", name, label);
	ctl_prom_escape(b, value);
	ctl_buf_printf(b, "\"} %llu\n", (unsigned long long)v);
}

static void prom_single(ctl_buf_t *b, const char *name, const char *type, const char *help,
			uint64_t v)
{
	ctl_prom_head(b, name, type, help);
	prom_value(b, name, v);
}

void ctl_report_metrics(const ctl_report_t *r, ctl_buf_t *b)
{
	const uint64_t *c = r->counters;
	char num[24];

	ctl_prom_head(b, "waymark_build_info", "gauge", "Always 1; the version is a label.");
	prom_labelled(b, "waymark_build_info", "version", r->version, 1);
	prom_single(b, "waymark_start_time_seconds", "gauge",
		    "When the daemon started, in seconds since the epoch.", (uint64_t)r->started);
	prom_single(b, "waymark_threads", "gauge", "Worker threads.", r->threads);

	ctl_prom_head(b, "waymark_queries_total", "counter", "DNS queries received, by transport.");
	prom_labelled(b, "waymark_queries_total", "transport", "udp", c[STAT_UDP_QUERIES]);
	prom_labelled(b, "waymark_queries_total", "transport", "tcp", c[STAT_TCP_QUERIES]);

	ctl_prom_head(b, "waymark_query_types_total", "counter",
		  "DNS queries with a question, by QTYPE (uncommon types are \"other\").");
	for (unsigned k = STAT_QTYPE_FIRST; k <= STAT_QTYPE_LAST; k++)
		prom_labelled(b, "waymark_query_types_total", "qtype",
			      stats_qtype_label((stat_id_t)k), c[k]);

	static const struct {
		stat_id_t id;
		const char *rcode;
	} rcodes[] = {
	    {STAT_RCODE_NOERROR, "NOERROR"},   {STAT_RCODE_FORMERR, "FORMERR"},
	    {STAT_RCODE_SERVFAIL, "SERVFAIL"}, {STAT_RCODE_NXDOMAIN, "NXDOMAIN"},
	    {STAT_RCODE_NOTIMP, "NOTIMP"},     {STAT_RCODE_REFUSED, "REFUSED"},
	    {STAT_RCODE_BADVERS, "BADVERS"},
	};
	ctl_prom_head(b, "waymark_responses_total", "counter", "DNS responses sent, by RCODE.");
	for (size_t i = 0; i < sizeof(rcodes) / sizeof(rcodes[0]); i++)
		prom_labelled(b, "waymark_responses_total", "rcode", rcodes[i].rcode,
			      c[rcodes[i].id]);

	prom_single(b, "waymark_nodata_responses_total", "counter",
		    "NOERROR responses without an answer (NODATA).", c[STAT_NODATA]);
	prom_single(b, "waymark_referral_responses_total", "counter",
		    "Referrals to delegated subzones.", c[STAT_REFERRAL]);
	prom_single(b, "waymark_truncated_total", "counter",
		    "Responses sent with TC=1 because the answer did not fit.", c[STAT_TRUNCATED]);
	prom_single(b, "waymark_malformed_total", "counter",
		    "Malformed packets: FORMERR answers and drops of unparseable packets.",
		    c[STAT_MALFORMED]);
	prom_single(b, "waymark_dropped_total", "counter",
		    "Packets not answered (QR=1, shorter than a header, no room to answer).",
		    c[STAT_DROPPED]);
	prom_single(b, "waymark_edns_queries_total", "counter", "Queries with an OPT record.",
		    c[STAT_EDNS]);
	prom_single(b, "waymark_dynamic_answers_total", "counter",
		    "Answers that used a service name (geography and health).", c[STAT_DYNAMIC]);
	prom_single(b, "waymark_failopen_answers_total", "counter",
		    "Dynamic answers given as if every site were up, because none was usable.",
		    c[STAT_FAILOPEN]);

	ctl_prom_head(b, "waymark_tcp_connections_total", "counter",
		  "TCP connections, accepted or rejected at the connection limit.");
	prom_labelled(b, "waymark_tcp_connections_total", "result", "accepted",
		      c[STAT_TCP_ACCEPTED]);
	prom_labelled(b, "waymark_tcp_connections_total", "result", "rejected",
		      c[STAT_TCP_REJECTED]);
	prom_single(b, "waymark_tcp_timeouts_total", "counter",
		    "TCP connections closed after the idle timeout.", c[STAT_TCP_TIMEOUTS]);

	ctl_prom_head(b, "waymark_worker_queries_total", "counter",
		  "DNS queries received by each worker thread (UDP and TCP).");
	for (unsigned i = 0; i < r->n_workers; i++) {
		snprintf(num, sizeof(num), "%u", i);
		prom_labelled(b, "waymark_worker_queries_total", "worker", num,
			      r->worker_queries[i]);
	}

	prom_single(b, "waymark_zones", "gauge", "Zones served.", r->n_zones);
	ctl_prom_head(b, "waymark_zone_answers_total", "counter",
		  "Queries answered from each zone (kept across reloads while the zone exists).");
	for (size_t i = 0; i < r->n_zones; i++)
		prom_labelled(b, "waymark_zone_answers_total", "zone", r->zones[i].name,
			      r->zones[i].answers);
	ctl_prom_head(b, "waymark_zone_serial", "gauge", "SOA serial of each zone served.");
	for (size_t i = 0; i < r->n_zones; i++)
		prom_labelled(b, "waymark_zone_serial", "zone", r->zones[i].name,
			      r->zones[i].serial);

	prom_single(b, "waymark_generation", "gauge",
		    "Generation of the configuration being served (1 at start, +1 per reload).",
		    r->generation);
	prom_single(b, "waymark_loaded_time_seconds", "gauge",
		    "When the configuration being served was loaded.", (uint64_t)r->loaded_at);
	ctl_prom_head(b, "waymark_reloads_total", "counter", "Reloads, by result.");
	prom_labelled(b, "waymark_reloads_total", "result", "ok", r->reloads_ok);
	prom_labelled(b, "waymark_reloads_total", "result", "failed", r->reloads_failed);
	prom_single(b, "waymark_last_reload_time_seconds", "gauge",
		    "When the last reload finished (0: none yet).", (uint64_t)r->last_reload);
	prom_single(b, "waymark_last_reload_success", "gauge",
		    "1 if the last reload succeeded (or there was none), 0 if it failed.",
		    r->last_reload == 0 || r->last_reload_ok ? 1 : 0);
	prom_single(b, "waymark_reload_in_progress", "gauge", "1 while a reload is loading.",
		    r->reloading ? 1 : 0);
}
