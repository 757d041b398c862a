/* main.c -- waymarkd(8): the authoritative GeoDNS / GSLB server. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <urcu/urcu-memb.h>

#include "core/log.h"
#include "ctl/ctl.h"
#include "ctl/http.h"
#include "ctl/report.h"
#include "ctl/sys.h"
#include "net/net.h"
#include "services_ctl.h"
#include "wire/wire.h"
#include "world.h"

/* Threads of waymarkd:
 *   main    -- startup, signals, the control socket, the metrics listener,
 *              reload bookkeeping and the world swap, health re-evaluation
 *              (services_ctl); the only writer of `current` and of
 *              everything in `d` below;
 *   workers -- (src/net) answer queries from rcu_dereference(current);
 *   loader  -- one at a time, started by a reload: builds a new world from
 *              the files and hands it to the main thread (see reload_*). */

/* What the workers answer from: a world and the per-zone answer counters
 * that belong to it. One pointer, so a worker counts an answer in the rows
 * of the very world it answered from. */
typedef struct served {
	world_t *w;
	uint32_t n_zones;
	/* [threads][stride]: one row per worker thread, each row on its own
	 * cache lines; written by that worker only (relaxed atomics). */
	_Atomic uint64_t *zone_answers;
	size_t stride;
	/* [n_zones]: answers counted for the same zone (by name) in earlier
	 * worlds, so that the counters survive reloads. Main thread only. */
	uint64_t *carried;
} served_t;

static served_t *current; /* RCU-published; see above */

/* Main-thread state. */
static struct {
	const char *config_path;
	const char *control_path; /* -s: overrides control.socket */
	bool level_forced;
	struct event_base *base;
	net_server_t *net;
	ctl_t *ctl;
	ctl_http_t *http;
	services_ctl_t *svc;
	world_t *world; /* == current->w, for the main thread's readers (services_ctl) */
	unsigned threads;
	time_t started;
	ctl_listener_info_t *listeners; /* DNS listeners, then the metrics one */
	size_t n_listeners;
	uint64_t reloads_ok, reloads_failed;
	time_t last_reload;
	bool last_reload_ok;
} d;

/* Reload: at most one loader thread at a time. Requests that arrive while
 * one runs are queued and served together by one more load once it is done
 * (they may be about edits made after the running load read the files). */
typedef struct req_list {
	ctl_req_t **v;
	size_t n, cap;
} req_list_t;

static struct {
	bool running; /* a loader thread exists (main thread only) */
	bool again;   /* load once more when it is done */
	pthread_t thread;
	struct event *done; /* made active by the loader when it finishes */
	struct timespec t0;
	const char *source;
	req_list_t waiting; /* replied to when the running load finishes */
	req_list_t queued;  /* for the next load */
	/* Written by the loader thread, read by main after pthread_join(). */
	uint64_t generation;
	world_t *result;
	conf_errs_t errs;
} ld;

/* ---- startup ------------------------------------------------------------------------------ */

static void on_first_round_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	*(bool *)arg = true;
}

/* Run the main loop (probe results, health updates) until the first round
 * of health checks is in: the first probes go out within a second, so at
 * most a second plus the longest timeout (and never more than 30 s). */
static void wait_first_round(void)
{
	uint64_t max_ms = services_ctl_first_round_ms(d.svc);
	if (max_ms == 0 || services_ctl_probes_ready(d.svc))
		return;
	/* a check may have a very long timeout: do not hold the service (and
	 * systemd's start) for it; what is still unknown then stays down */
	if (max_ms > 30000)
		max_ms = 30000;
	log_info("waiting for the first round of health checks max_ms=%llu",
		 (unsigned long long)max_ms);
	bool passed = false;
	struct event *t = evtimer_new(d.base, on_first_round_deadline, &passed);
	struct timeval tv = {.tv_sec = (time_t)(max_ms / 1000),
			     .tv_usec = (suseconds_t)(max_ms % 1000) * 1000};
	if (!t || evtimer_add(t, &tv) < 0) {
		if (t)
			event_free(t);
		return;
	}
	while (!passed && !services_ctl_probes_ready(d.svc))
		event_base_loop(d.base, EVLOOP_ONCE);
	event_free(t);
	/* the results' health update may still be pending: publish it now */
	event_base_loop(d.base, EVLOOP_NONBLOCK);
	log_info("first round of health checks %s", passed ? "timed out" : "done");
}

/* ---- the query path ---------------------------------------------------------------------- */

static size_t handle_query(void *ctx, net_query_t *q)
{
	(void)ctx;
	const served_t *s = rcu_dereference(current);
	/* The zone counters of the world about to be used; see stats_t. */
	q->stats->zone_answers = s->zone_answers + (size_t)q->worker * s->stride;
	q->stats->n_zones = s->n_zones;
	return answer_query_from(&s->w->answer, q->req, q->req_len, q->tcp, q->peer, q->resp,
				 q->resp_cap, q->stats);
}

/* ---- served worlds ----------------------------------------------------------------------- */

static void served_free(served_t *s)
{
	if (!s)
		return;
	world_free(s->w);
	free(s->zone_answers);
	free(s->carried);
	free(s);
}

/* Wrap `w` (taken only on success). */
static served_t *served_new(world_t *w)
{
	served_t *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	size_t n = zoneset_count(w->zones);
	size_t per_line = 64 / sizeof(uint64_t);
	s->n_zones = (uint32_t)n;
	s->stride = (n + per_line - 1) / per_line * per_line;
	if (s->stride == 0)
		s->stride = per_line;
	size_t cells = d.threads * s->stride;
	s->zone_answers = aligned_alloc(64, cells * sizeof(*s->zone_answers));
	s->carried = calloc(n ? n : 1, sizeof(*s->carried));
	if (!s->zone_answers || !s->carried) {
		free(s->zone_answers);
		free(s->carried);
		free(s);
		return NULL;
	}
	for (size_t i = 0; i < cells; i++)
		atomic_init(&s->zone_answers[i], 0);
	s->w = w;
	return s;
}

/* Answers for zone i of `s` counted so far in this world alone. */
static uint64_t served_zone_count(const served_t *s, size_t i)
{
	uint64_t sum = 0;
	for (unsigned t = 0; t < d.threads; t++)
		sum +=
		    atomic_load_explicit(&s->zone_answers[t * s->stride + i], memory_order_relaxed);
	return sum;
}

/* Carry the answer counts of `old` (no longer used by any worker) into
 * `s`, zone by zone, matched by name. */
static void served_carry(served_t *s, const served_t *old)
{
	for (size_t i = 0; i < s->n_zones; i++) {
		const char *name = zoneset_zone(s->w->zones, i)->name_text;
		size_t j = i;
		/* Usually the zones keep their order: try the same slot first. */
		if (j >= old->n_zones || strcmp(zoneset_zone(old->w->zones, j)->name_text, name))
			for (j = 0; j < old->n_zones; j++)
				if (strcmp(zoneset_zone(old->w->zones, j)->name_text, name) == 0)
					break;
		if (j < old->n_zones)
			s->carried[i] = old->carried[j] + served_zone_count(old, j);
	}
}

/* ---- reports ----------------------------------------------------------------------------- */

/* Fill `r` from the live counters. Returns -1 on allocation failure;
 * free zones/workers with report_free(). */
static void status_health(ctl_jw_t *w, void *arg)
{
	ctl_jw_key(w, "health");
	ctl_jw_obj(w);
	services_ctl_health_json(arg, w);
	ctl_jw_obj_end(w);
}

static int report_fill(ctl_report_t *r)
{
	const served_t *s = current; /* the main thread is its only writer */
	unsigned nb = 0;
	stats_t *blocks = net_stats(d.net, &nb);
	ctl_zone_info_t *zones = calloc(s->n_zones ? s->n_zones : 1, sizeof(*zones));
	uint64_t *workers = calloc(nb ? nb : 1, sizeof(*workers));

	memset(r, 0, sizeof(*r));
	if (!zones || !workers) {
		free(zones);
		free(workers);
		return -1;
	}
	r->version = PACKAGE_VERSION;
	r->pid = (long)getpid();
	r->now = time(NULL);
	r->started = d.started;
	r->generation = s->w->generation;
	r->loaded_at = s->w->loaded_at;
	r->threads = d.threads;
	r->listeners = d.listeners;
	r->n_listeners = d.n_listeners;
	r->control_socket = d.ctl ? ctl_path(d.ctl) : NULL;
	for (size_t i = 0; i < s->n_zones; i++) {
		const zone_t *z = zoneset_zone(s->w->zones, i);
		zones[i].name = z->name_text;
		zones[i].serial = z->serial;
		zones[i].answers = s->carried[i] + served_zone_count(s, i);
	}
	r->zones = zones;
	r->n_zones = s->n_zones;
	stats_sum(blocks, nb, r->counters);
	for (unsigned t = 0; t < nb; t++)
		workers[t] =
		    atomic_load_explicit(&blocks[t].c[STAT_UDP_QUERIES], memory_order_relaxed) +
		    atomic_load_explicit(&blocks[t].c[STAT_TCP_QUERIES], memory_order_relaxed);
	r->worker_queries = workers;
	r->n_workers = nb;
	r->reloads_ok = d.reloads_ok;
	r->reloads_failed = d.reloads_failed;
	r->last_reload = d.last_reload;
	r->last_reload_ok = d.last_reload_ok;
	r->reloading = ld.running;
	r->status_extra = d.svc ? status_health : NULL;
	r->status_extra_arg = d.svc;
	return 0;
}

static void report_free(ctl_report_t *r)
{
	free((void *)r->zones);
	free((void *)r->worker_queries);
}

/* status and stats: a report, written by the writer the command names. */
typedef void (*report_writer_fn)(const ctl_report_t *r, ctl_jw_t *w);

static void cmd_report(ctl_req_t *req, void *arg)
{
	report_writer_fn write = *(const report_writer_fn *)arg;
	ctl_report_t r;
	if (report_fill(&r) < 0) {
		ctl_req_fail(req, "out of memory");
		return;
	}
	ctl_jw_t *w = ctl_req_reply(req, NULL);
	ctl_jw_key(w, "result");
	write(&r, w);
	ctl_req_send(req);
	report_free(&r);
}

static const report_writer_fn write_status = ctl_report_status;
static const report_writer_fn write_stats = ctl_report_stats;

static void http_metrics(ctl_buf_t *out, void *arg)
{
	ctl_report_t r;
	(void)arg;
	if (report_fill(&r) < 0) {
		out->oom = true;
		return;
	}
	ctl_report_metrics(&r, out);
	services_ctl_metrics(d.svc, out);
	report_free(&r);
}

static void http_status(ctl_buf_t *out, void *arg)
{
	ctl_report_t r;
	ctl_jw_t w;
	(void)arg;
	if (report_fill(&r) < 0) {
		out->oom = true;
		return;
	}
	ctl_jw_init(&w, out);
	ctl_report_status(&r, &w);
	ctl_buf_add(out, "\n", 1);
	if (w.bad)
		out->oom = true;
	report_free(&r);
}

/* ---- reload ------------------------------------------------------------------------------ */

static int req_list_add(req_list_t *l, ctl_req_t *req)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 4;
		ctl_req_t **v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = req;
	return 0;
}

/* What changed between `a` and `b` that a reload cannot apply, as a
 * comma-separated list of keys in `out` (empty: nothing). */
static void needs_restart(const server_conf_t *a, const server_conf_t *b, char *out, size_t size)
{
	bool listen = a->n_listen != b->n_listen;
	for (size_t i = 0; !listen && i < a->n_listen; i++)
		listen = a->listen_len[i] != b->listen_len[i] ||
			 memcmp(&a->listen[i], &b->listen[i], a->listen_len[i]) != 0;
	struct {
		bool changed;
		const char *key;
	} keys[] = {
	    {listen, "listen"},
	    {a->threads != b->threads, "threads"},
	    {a->tcp_idle_timeout_ms != b->tcp_idle_timeout_ms, "tcp.idle_timeout"},
	    {a->tcp_max_clients != b->tcp_max_clients, "tcp.max_clients"},
	    {!d.control_path && strcmp(a->control_socket, b->control_socket) != 0,
	     "control.socket"},
	    {a->control_mode != b->control_mode, "control.mode"},
	    {a->control_idle_timeout_ms != b->control_idle_timeout_ms, "control.idle_timeout"},
	    {a->metrics_enabled != b->metrics_enabled, "metrics.enabled"},
	    {a->metrics_addr_len != b->metrics_addr_len ||
		 memcmp(&a->metrics_addr, &b->metrics_addr, a->metrics_addr_len) != 0,
	     "metrics.listen"},
	    {(a->user == NULL) != (b->user == NULL) || (a->user && strcmp(a->user, b->user) != 0),
	     "user"},
	    {(a->group == NULL) != (b->group == NULL) ||
		 (a->group && strcmp(a->group, b->group) != 0),
	     "group"},
	};
	size_t len = 0;
	out[0] = '\0';
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (!keys[i].changed)
			continue;
		int n = snprintf(out + len, size - len, "%s%s", len ? "," : "", keys[i].key);
		if (n < 0 || (size_t)n >= size - len)
			break;
		len += (size_t)n;
	}
}

static void *loader_main(void *arg)
{
	(void)arg;
	ld.result = world_load(d.config_path, ld.generation, &ld.errs);
	/* Wake the main thread (the base was made thread-aware at startup). */
	event_active(ld.done, 0, 0);
	return NULL;
}

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (long)((t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000);
}

static void reply_all(req_list_t *l, bool ok, const served_t *s, long ms, const conf_errs_t *errs)
{
	for (size_t i = 0; i < l->n; i++) {
		ctl_req_t *req = l->v[i];
		ctl_jw_t *w;
		if (ok) {
			w = ctl_req_reply(req, NULL);
			ctl_jw_key(w, "result");
			ctl_jw_obj(w);
			ctl_jw_kuint(w, "generation", s->w->generation);
			ctl_jw_kuint(w, "zones", s->n_zones);
			ctl_jw_kint(w, "duration_ms", ms);
			ctl_jw_obj_end(w);
		} else {
			char msg[160];
			snprintf(msg, sizeof(msg),
				 "reload failed: %u error(s); still serving generation %llu",
				 errs->count, (unsigned long long)current->w->generation);
			w = ctl_req_reply(req, msg);
			ctl_jw_key(w, "errors");
			ctl_jw_arr(w);
			for (unsigned k = 0; k < errs->count && k < CONF_ERRS_MAX; k++)
				ctl_jw_str(w, errs->msg[k]);
			ctl_jw_arr_end(w);
			ctl_jw_kuint(w, "error_count", errs->count);
		}
		ctl_req_send(req);
	}
	l->n = 0;
}

static void reload_start(const char *source);

/* The loader finished: swap the new world in, or keep the old one. */
static void on_load_done(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	pthread_join(ld.thread, NULL);
	ld.running = false;
	long ms = elapsed_ms(&ld.t0);
	served_t *s = NULL;
	if (ld.result) {
		s = served_new(ld.result);
		if (!s) {
			world_free(ld.result);
			conf_err_raw(&ld.errs, "%s: out of memory", d.config_path);
		}
		ld.result = NULL;
	}
	d.last_reload = time(NULL);
	d.last_reload_ok = s != NULL;
	if (s) {
		char keys[256];
		needs_restart(current->w->conf, s->w->conf, keys, sizeof(keys));
		if (keys[0])
			log_warn("reload: restart needed to apply keys=%s", keys);
		if (!d.level_forced)
			log_set_level(s->w->conf->log_level);
		/* Health lives on the main thread: take it over now, not on the
		 * loader, which must not read the world being served. */
		world_carry_health(s->w, current->w, time(NULL));
		/* The prober reads the old world's checks: stop it before that
		 * world can be freed; world_changed starts the new world's. */
		services_ctl_stop_probes(d.svc);
		served_t *old = rcu_xchg_pointer(&current, s);
		d.world = s->w;
		urcu_memb_synchronize_rcu(); /* no worker holds `old` any more */
		served_carry(s, old);
		served_free(old);
		services_ctl_world_changed(d.svc);
		d.reloads_ok++;
		log_info("reload done generation=%llu zones=%u duration_ms=%ld source=%s",
			 (unsigned long long)s->w->generation, s->n_zones, ms, ld.source);
	} else {
		for (unsigned i = 0; i < ld.errs.count && i < CONF_ERRS_MAX; i++)
			log_err("reload error: %s", ld.errs.msg[i]);
		d.reloads_failed++;
		log_err("reload failed errors=%u generation=%llu duration_ms=%ld source=%s "
			"(still serving)",
			ld.errs.count, (unsigned long long)current->w->generation, ms, ld.source);
	}
	/* Take what this load answers out of `ld` first: a reply can make its
	 * client's next request (a pipelined reload) arrive right away, and
	 * that one belongs to a later load. The next load, if requests were
	 * queued meanwhile, starts before the replies go out. */
	req_list_t done = ld.waiting;
	conf_errs_t errs = ld.errs;
	ld.waiting = ld.queued;
	ld.queued = (req_list_t){0};
	conf_errs_init(&ld.errs);
	if (ld.again) {
		ld.again = false;
		reload_start("coalesced");
	}
	reply_all(&done, s != NULL, current, ms, &errs);
	free(done.v);
	conf_errs_free(&errs);
	if (!ld.running)
		ctl_notify("READY=1");
}

static void reload_start(const char *source)
{
	char state[64];
	struct timespec now;
	sigset_t all, old;

	conf_errs_init(&ld.errs);
	ld.generation = current->w->generation + 1;
	ld.result = NULL;
	ld.source = source;
	clock_gettime(CLOCK_MONOTONIC, &ld.t0);
	clock_gettime(CLOCK_MONOTONIC, &now);
	snprintf(state, sizeof(state), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)now.tv_sec * 1000000ull +
		     (unsigned long long)now.tv_nsec / 1000);
	ctl_notify(state);
	log_info("reload started source=%s config=%s", source, d.config_path);
	/* The loader inherits a mask that blocks every signal: they are the
	 * main thread's business. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&ld.thread, NULL, loader_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		conf_err_raw(&ld.errs, "%s: cannot start the loader thread: %s", d.config_path,
			     strerror(rc));
		log_err("reload failed error=\"cannot start the loader thread: %s\"", strerror(rc));
		d.reloads_failed++;
		d.last_reload = time(NULL);
		d.last_reload_ok = false;
		req_list_t done = ld.waiting;
		ld.waiting = (req_list_t){0};
		conf_errs_t errs = ld.errs;
		conf_errs_init(&ld.errs);
		reply_all(&done, false, current, 0, &errs);
		free(done.v);
		conf_errs_free(&errs);
		ctl_notify("READY=1");
		return;
	}
	ld.running = true;
}

/* SIGHUP (req NULL) or `waymarkctl reload` (the reply goes out when the
 * reload that covers this request has finished). */
static void reload_request(ctl_req_t *req, const char *source)
{
	req_list_t *l = ld.running ? &ld.queued : &ld.waiting;
	if (req && req_list_add(l, req) < 0) {
		ctl_req_fail(req, "out of memory");
		return;
	}
	if (ld.running) {
		ld.again = true;
		log_info("reload queued source=%s", source);
		return;
	}
	reload_start(source);
}

static void cmd_reload(ctl_req_t *req, void *arg)
{
	(void)arg;
	reload_request(req, "control");
}

/* ---- startup and shutdown ---------------------------------------------------------------- */

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct event_base *base = arg;
	(void)what;
	if (sig == SIGHUP) {
		reload_request(NULL, "signal");
		return;
	}
	log_info("stopping signal=%s", sig == SIGTERM ? "TERM" : "INT");
	event_base_loopbreak(base);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: waymarkd -c FILE [-t] [-l LEVEL] [-s SOCKET] [--allow-root]\n"
		   "  -c, --config FILE          configuration file (YAML)\n"
		   "  -t, --check                check the configuration and zones, then exit\n"
		   "  -l, --log-level LEVEL      error|warning|info|debug (overrides the config)\n"
		   "  -s, --control-socket PATH  control socket (overrides control.socket)\n"
		   "      --allow-root           run as root even without 'user:' in the config\n"
		   "  -V, --version              print the version\n"
		   "  -h, --help                 this text\n");
}

/* Record (room was made at startup) and log one bound listener. */
static void add_listener(const struct sockaddr_storage *ss, const char *transports)
{
	ctl_listener_info_t *l = &d.listeners[d.n_listeners++];
	ctl_addr_split(ss, l->address, sizeof(l->address), &l->port);
	l->transports = transports;
	log_info("listening address=%s port=%u transports=%s", l->address, l->port, transports);
}

int main(int argc, char **argv)
{
	enum { OPT_ALLOW_ROOT = 256 };
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"check", no_argument, NULL, 't'},
	    {"log-level", required_argument, NULL, 'l'},
	    {"control-socket", required_argument, NULL, 's'},
	    {"allow-root", no_argument, NULL, OPT_ALLOW_ROOT},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	bool check_only = false, allow_root = false;
	const char *level_arg = NULL;
	struct event *sigs[3] = {NULL, NULL, NULL};
	char err[512];
	int status = 1;
	int c;

	while ((c = getopt_long(argc, argv, "c:tl:s:Vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			d.config_path = optarg;
			break;
		case 't':
			check_only = true;
			break;
		case 'l':
			level_arg = optarg;
			break;
		case 's':
			d.control_path = optarg;
			break;
		case OPT_ALLOW_ROOT:
			allow_root = true;
			break;
		case 'V':
			printf("waymarkd %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!d.config_path || optind != argc || (d.control_path && !d.control_path[0])) {
		usage(stderr);
		return 2;
	}
	log_level_t forced = LOG_LVL_INFO;
	if (level_arg && log_level_parse(level_arg, &forced) < 0) {
		fprintf(stderr, "waymarkd: unknown log level '%s'\n", level_arg);
		return 2;
	}
	if (level_arg) {
		log_set_level(forced);
		d.level_forced = true;
	}

	conf_errs_t e;
	conf_errs_init(&e);
	world_t *w = world_load(d.config_path, 1, &e);
	if (!w) {
		conf_errs_print(&e);
		conf_errs_free(&e);
		if (!check_only)
			log_err("startup failed config=%s", d.config_path);
		return 1;
	}
	conf_errs_free(&e);
	if (check_only) {
		printf("%s: ok, %zu zone(s)\n", d.config_path, zoneset_count(w->zones));
		world_free(w);
		return 0;
	}
	const server_conf_t *sc = w->conf;
	if (!d.level_forced)
		log_set_level(sc->log_level);
	/* Overrides an operator set survive a restart (overrides_file:). */
	world_restore_overrides(w, time(NULL));

	/* Refuse root unless the config says whom to become (or the operator
	 * insists): a DNS server has no use for root once its ports are bound. */
	uid_t uid = 0;
	gid_t gid = 0;
	if (geteuid() == 0 && !sc->user && !allow_root) {
		log_err("startup failed error=\"refusing to run as root without 'user:' in the "
			"configuration (or --allow-root)\"");
		world_free(w);
		return 1;
	}
	if (sc->user && ctl_lookup_account(sc->user, sc->group, &uid, &gid, err, sizeof(err)) < 0) {
		log_err("startup failed error=\"%s\"", err);
		world_free(w);
		return 1;
	}

	signal(SIGPIPE, SIG_IGN);
	/* exec checks wait for their children: an inherited SIG_IGN would
	 * make the kernel reap them first and every exec probe fail */
	signal(SIGCHLD, SIG_DFL);
	evthread_use_pthreads();
	d.base = event_base_new();
	d.threads = sc->threads;
	d.started = time(NULL);
	current = served_new(w);
	d.world = w;
	d.listeners = calloc(sc->n_listen + 1, sizeof(*d.listeners));
	ld.done = d.base ? event_new(d.base, -1, 0, on_load_done, NULL) : NULL;
	if (!d.base || !current || !ld.done || !d.listeners) {
		log_err("startup failed error=\"out of memory\"");
		if (!current)
			world_free(w);
		goto out;
	}

	net_params_t np = {
	    .addrs = sc->listen,
	    .addr_lens = sc->listen_len,
	    .n_addrs = sc->n_listen,
	    .threads = sc->threads,
	    .tcp_idle_timeout_ms = sc->tcp_idle_timeout_ms,
	    .tcp_max_clients = sc->tcp_max_clients,
	    .handler = handle_query,
	    .handler_ctx = NULL,
	};
	d.net = net_bind(&np, err, sizeof(err));
	if (!d.net) {
		log_err("startup failed error=\"%s\"", err);
		goto out;
	}
	unsigned nb;
	stats_t *blocks = net_stats(d.net, &nb);
	for (unsigned t = 0; t < nb; t++) {
		blocks[t].zone_answers = NULL;
		blocks[t].n_zones = 0;
	}

	ctl_params_t cp = {
	    .path = d.control_path ? d.control_path : sc->control_socket,
	    .mode = sc->control_mode,
	    .idle_timeout_ms = sc->control_idle_timeout_ms,
	    .max_request = 4096,
	    .max_clients = 16,
	};
	d.ctl = ctl_new(d.base, &cp, err, sizeof(err));
	if (!d.ctl || ctl_register(d.ctl, "status", cmd_report, (void *)&write_status) < 0 ||
	    ctl_register(d.ctl, "stats", cmd_report, (void *)&write_stats) < 0 ||
	    ctl_register(d.ctl, "reload", cmd_reload, NULL) < 0 ||
	    !(d.svc = services_ctl_new(d.base, d.ctl, &d.world))) {
		if (d.ctl)
			snprintf(err, sizeof(err), "control socket: out of memory");
		log_err("startup failed error=\"%s\"", err);
		goto out;
	}
	if (sc->metrics_enabled) {
		ctl_http_params_t hp = {
		    .addr = &sc->metrics_addr,
		    .addr_len = sc->metrics_addr_len,
		    .timeout_s = 10,
		    .metrics = http_metrics,
		    .status = http_status,
		};
		d.http = ctl_http_new(d.base, &hp, err, sizeof(err));
		if (!d.http) {
			log_err("startup failed error=\"%s\"", err);
			goto out;
		}
	}

	/* Every socket is bound: become the configured user before any
	 * thread starts, giving it the control socket first. */
	if (sc->user && geteuid() == uid && getegid() == gid) {
		/* Started as that user already (systemd User=): nothing to do. */
		log_info("privileges kept user=%s uid=%u gid=%u", sc->user, (unsigned)uid,
			 (unsigned)gid);
	} else if (sc->user) {
		if (ctl_chown(d.ctl, uid, gid, err, sizeof(err)) < 0 ||
		    ctl_drop_privileges(uid, gid, err, sizeof(err)) < 0) {
			log_err("startup failed error=\"%s\"", err);
			goto out;
		}
		log_info("privileges dropped user=%s uid=%u gid=%u", sc->user, (unsigned)uid,
			 (unsigned)gid);
	} else if (geteuid() == 0) {
		log_warn("running as root allowed=--allow-root");
	}

	/* Health checks start now, as the configured user; dynamic names are
	 * answered only once every target has a first result (or the first
	 * round's bound has passed: a second plus the timeout), so that the first
	 * answers already leave dead servers out. */
	if (services_ctl_start_probes(d.svc, err, sizeof(err)) < 0) {
		log_err("startup failed error=\"%s\"", err);
		goto out;
	}
	wait_first_round();
	if (net_start(d.net, err, sizeof(err)) < 0) {
		log_err("startup failed error=\"%s\"", err);
		goto out;
	}
	int signums[3] = {SIGTERM, SIGINT, SIGHUP};
	for (int i = 0; i < 3; i++) {
		sigs[i] = evsignal_new(d.base, signums[i], on_signal, d.base);
		if (!sigs[i] || event_add(sigs[i], NULL) < 0) {
			log_err("startup failed error=\"cannot watch signals\"");
			goto stop;
		}
	}
	for (size_t i = 0; i < sc->n_listen; i++) {
		struct sockaddr_storage ss;
		socklen_t len;
		if (net_bound_addr(d.net, i, &ss, &len) < 0)
			memset(&ss, 0, sizeof(ss));
		add_listener(&ss, "udp,tcp");
	}
	if (d.http) {
		struct sockaddr_storage ss;
		socklen_t len;
		if (ctl_http_bound(d.http, &ss, &len) < 0)
			memset(&ss, 0, sizeof(ss));
		add_listener(&ss, "http");
	}
	log_info("control socket listening path=%s mode=%04o", ctl_path(d.ctl), sc->control_mode);
	log_info("started version=%s threads=%u zones=%u pid=%ld", PACKAGE_VERSION, sc->threads,
		 current->n_zones, (long)getpid());
	ctl_notify("READY=1");

	event_base_dispatch(d.base);

	ctl_notify("STOPPING=1");
	status = 0;
stop:
	net_stop(d.net);
out:
	if (ld.running) {
		/* Let it finish: world_load() is not interruptible. */
		pthread_join(ld.thread, NULL);
		world_free(ld.result);
		conf_errs_free(&ld.errs);
		ld.running = false;
	}
	/* Pending reload requests die with their clients in ctl_free(). */
	free(ld.waiting.v);
	free(ld.queued.v);
	ctl_free(d.ctl);
	services_ctl_free(d.svc);
	ctl_http_free(d.http);
	net_free(d.net);
	for (int i = 0; i < 3; i++)
		if (sigs[i])
			event_free(sigs[i]);
	if (ld.done)
		event_free(ld.done);
	if (d.base)
		event_base_free(d.base);
	served_free(current);
	free(d.listeners);
	if (status == 0)
		log_info("stopped");
	return status;
}
