/* report.h -- status and stats as JSON, and /metrics in the Prometheus text format. */
#ifndef WAYMARK_CTL_REPORT_H
#define WAYMARK_CTL_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/stats.h"
#include "ctl/json.h"

/* One listening socket, as bound (port 0 resolved). */
typedef struct ctl_listener_info {
	char address[64]; /* "127.0.0.1", "::1" */
	unsigned port;
	const char *transports; /* "udp,tcp", "http" */
} ctl_listener_info_t;

typedef struct ctl_zone_info {
	const char *name;
	uint32_t serial;
	uint64_t answers; /* queries answered from this zone, since start */
} ctl_zone_info_t;

/* A plain-data snapshot, filled by the main thread (which owns the reload
 * counters and sums the workers' counter blocks), formatted here. Nothing
 * in it is shared with other threads. */
typedef struct ctl_report {
	const char *version;
	long pid;
	time_t now, started;
	uint64_t generation; /* of the world being served */
	time_t loaded_at;    /* when that world was loaded */
	unsigned threads;
	const ctl_listener_info_t *listeners;
	size_t n_listeners;
	const char *control_socket; /* NULL: none */
	const ctl_zone_info_t *zones;
	size_t n_zones;
	uint64_t counters[STAT_COUNT];  /* summed over the workers */
	const uint64_t *worker_queries; /* [n_workers]: UDP + TCP queries of each */
	unsigned n_workers;
	uint64_t reloads_ok, reloads_failed;
	time_t last_reload; /* 0: none yet */
	bool last_reload_ok;
	bool reloading;
	/* More members for the status object (the services' health), written
	 * before it is closed; NULL: none. */
	void (*status_extra)(ctl_jw_t *w, void *arg);
	void *status_extra_arg;
} ctl_report_t;

/* Write one JSON object: version, uptime, generation, threads, listeners,
 * zones with serials, query counters, reloads. */
void ctl_report_status(const ctl_report_t *r, ctl_jw_t *w);
/* Write one JSON object: every counter by name, answers by zone, per worker. */
void ctl_report_stats(const ctl_report_t *r, ctl_jw_t *w);
/* Append the Prometheus text exposition (format 0.0.4) to `b`. */
void ctl_report_metrics(const ctl_report_t *r, ctl_buf_t *b);

/* Append `s` as a Prometheus label value body: \ " and newline escaped. */
void ctl_prom_escape(ctl_buf_t *b, const char *s);
/* The "# HELP" and "# TYPE" lines of a metric. */
void ctl_prom_head(ctl_buf_t *b, const char *name, const char *type, const char *help);
/* "2026-11-23T10:00:00Z" (UTC) into buf, or "" for 0. */
void ctl_format_time(time_t t, char *buf, size_t size);

#endif
