/* main.c -- waymarkd(8): the authoritative GeoDNS / GSLB server. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <urcu/urcu-memb.h>

#include "core/log.h"
#include "net/net.h"
#include "wire/wire.h"
#include "world.h"

/* The world the workers answer from. Written only by the main thread
 * (startup, reload), read by workers under urcu_memb_read_lock(). */
static world_t *current_world;
static const char *config_path;
static uint64_t generation;

static size_t handle_query(void *ctx, net_query_t *q)
{
	(void)ctx;
	const world_t *w = rcu_dereference(current_world);
	return answer_query(&w->answer, q->req, q->req_len, q->tcp, q->resp, q->resp_cap,
			    q->stats);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: waymarkd -c FILE [-t] [-l LEVEL]\n"
		   "  -c, --config FILE     configuration file (YAML)\n"
		   "  -t, --check           check the configuration and zones, then exit\n"
		   "  -l, --log-level LEVEL error|warning|info|debug (overrides the config)\n"
		   "  -V, --version         print the version\n"
		   "  -h, --help            this text\n");
}

/* True when the new config changes what only a restart can change. */
static bool needs_restart(const server_conf_t *a, const server_conf_t *b)
{
	if (a->n_listen != b->n_listen || a->threads != b->threads ||
	    a->tcp_max_clients != b->tcp_max_clients ||
	    a->tcp_idle_timeout_ms != b->tcp_idle_timeout_ms)
		return true;
	for (size_t i = 0; i < a->n_listen; i++)
		if (a->listen_len[i] != b->listen_len[i] ||
		    memcmp(&a->listen[i], &b->listen[i], a->listen_len[i]) != 0)
			return true;
	return false;
}

/* SIGHUP: build a whole new world; swap it in, or keep serving the old. */
static void reload(void)
{
	conf_errs_t e;
	conf_errs_init(&e);
	log_info("reload started config=%s", config_path);
	world_t *w = world_load(config_path, generation + 1, &e);
	if (!w) {
		for (unsigned i = 0; i < e.count && i < CONF_ERRS_MAX; i++)
			log_err("reload error: %s", e.msg[i]);
		log_err("reload failed errors=%u, still serving generation=%llu", e.count,
			(unsigned long long)generation);
		conf_errs_free(&e);
		return;
	}
	conf_errs_free(&e);
	if (needs_restart(current_world->conf, w->conf))
		log_warn("reload: listen, threads and tcp settings change only at restart");
	generation++;
	log_set_level(w->conf->log_level);
	world_t *old = rcu_xchg_pointer(&current_world, w);
	urcu_memb_synchronize_rcu(); /* no worker holds `old` any more */
	world_free(old);
	log_info("reload done generation=%llu zones=%zu", (unsigned long long)generation,
		 zoneset_count(w->zones));
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct event_base *base = arg;
	(void)what;
	if (sig == SIGHUP) {
		reload();
		return;
	}
	log_info("stopping signal=%s", sig == SIGTERM ? "TERM" : "INT");
	event_base_loopbreak(base);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'}, {"check", no_argument, NULL, 't'},
		{"log-level", required_argument, NULL, 'l'}, {"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	bool check_only = false;
	const char *level_arg = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "c:tl:Vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case 't':
			check_only = true;
			break;
		case 'l':
			level_arg = optarg;
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
	if (!config_path || optind != argc) {
		usage(stderr);
		return 2;
	}
	log_level_t forced = LOG_LVL_INFO;
	if (level_arg && log_level_parse(level_arg, &forced) < 0) {
		fprintf(stderr, "waymarkd: unknown log level '%s'\n", level_arg);
		return 2;
	}
	if (level_arg)
		log_set_level(forced);

	conf_errs_t e;
	conf_errs_init(&e);
	world_t *w = world_load(config_path, 1, &e);
	if (!w) {
		conf_errs_print(&e);
		conf_errs_free(&e);
		if (!check_only)
			log_err("startup failed config=%s", config_path);
		return 1;
	}
	conf_errs_free(&e);
	if (check_only) {
		printf("%s: ok, %zu zone(s)\n", config_path, zoneset_count(w->zones));
		world_free(w);
		return 0;
	}
	if (!level_arg)
		log_set_level(w->conf->log_level);
	generation = 1;
	rcu_assign_pointer(current_world, w);

	signal(SIGPIPE, SIG_IGN);
	evthread_use_pthreads();
	struct event_base *base = event_base_new();
	if (!base) {
		log_err("startup failed: event_base_new");
		return 1;
	}
	const server_conf_t *sc = w->conf;
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
	char err[256];
	net_server_t *net = net_bind(&np, err, sizeof(err));
	if (!net) {
		log_err("startup failed: %s", err);
		world_free(w);
		event_base_free(base);
		return 1;
	}
	if (net_start(net, err, sizeof(err)) < 0) {
		log_err("startup failed: %s", err);
		net_free(net);
		world_free(w);
		event_base_free(base);
		return 1;
	}
	struct event *sigs[3];
	int signums[3] = {SIGTERM, SIGINT, SIGHUP};
	for (int i = 0; i < 3; i++) {
		sigs[i] = evsignal_new(base, signums[i], on_signal, base);
		event_add(sigs[i], NULL);
	}
	for (size_t i = 0; i < sc->n_listen; i++) {
		struct sockaddr_storage ss;
		socklen_t len;
		char host[64] = "?";
		unsigned port = 0;
		if (net_bound_addr(net, i, &ss, &len) == 0) {
			if (ss.ss_family == AF_INET6) {
				struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
				evutil_inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
				port = ntohs(s6->sin6_port);
			} else {
				struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
				evutil_inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
				port = ntohs(s4->sin_port);
			}
		}
		log_info("listening address=%s port=%u transports=udp,tcp", host, port);
	}
	log_info("started version=%s threads=%u zones=%zu pid=%ld", PACKAGE_VERSION, sc->threads,
		 zoneset_count(w->zones), (long)getpid());

	event_base_dispatch(base);

	net_stop(net);
	net_free(net);
	for (int i = 0; i < 3; i++)
		event_free(sigs[i]);
	event_base_free(base);
	world_free(current_world);
	log_info("stopped");
	return 0;
}
