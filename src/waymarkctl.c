/* waymarkctl.c -- waymarkctl(8): talk to a running waymarkd over its control socket. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "conf/server_conf.h"
#include "ctl/json.h"

/* Commands with a short form: positional words and --flags, sent as the
 * same members as their KEY=VALUE form. */
typedef struct cmd_form {
	const char *cmd;
	const char *pos[2];	/* the keys of the first two words */
	const char *flag[2][2]; /* {"--flag", "key"} */
} cmd_form_t;

static const cmd_form_t forms[] = {
	{"set", {"target", "state"}, {{"--for", "for"}, {NULL, NULL}}},
	{"explain", {"name", "type"}, {{"--client", "client"}, {NULL, NULL}}},
	{"geo", {"address", NULL}, {{"--map", "map"}, {NULL, NULL}}},
	{"drain", {"pool", NULL}, {{NULL, NULL}, {NULL, NULL}}},
};

/* Exit codes (waymarkctl(8)). */
enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_NOCONN = 3 };

/* The longest reply accepted: a status of many thousands of zones fits. */
#define REPLY_MAX (64u << 20)

static void usage(FILE *f)
{
	fprintf(f,
		"usage: waymarkctl [-s SOCKET | -c CONFIG] [-t SECONDS] COMMAND [KEY=VALUE...]\n"
		"  -s, --socket SOCKET   the daemon's control socket (default %s)\n"
		"  -c, --config CONFIG   read the socket path from the daemon's configuration\n"
		"  -t, --timeout SECONDS how long to wait for the reply (default 60)\n"
		"  -j, --json            print the result as JSON, also for status and health\n"
		"  -h, --help            this text;  -V, --version  the version\n"
		"commands:\n"
		"  status   version, uptime, listeners, threads, zones and serials, counters\n"
		"  reload   reload configuration and zones; on failure, the errors as file:line\n"
		"  stats    every counter, as JSON\n"
		"  help     the commands the daemon knows\n"
		"  set MEMBER|POOL|SITE up|down|auto [--for DURATION]   an admin override\n"
		"  explain NAME [TYPE] [--client ADDR[/PREFIX]]         why a client gets its answer\n"
		"  geo ADDR[/PREFIX] [--map MAP]                        where a client is placed\n"
		"  drain POOL   lower its TTLs to 1 s, withdraw it when caches have let go\n"
		"  health   members, pools and sites with their state\n"
		"  other commands are sent as {\"cmd\":COMMAND,KEY:VALUE,...}; the result is\n"
		"  printed as JSON\n"
		"exit status: 0 ok, 1 the command failed, 2 usage, 3 cannot connect or no reply\n",
		SERVER_CONF_CONTROL_SOCKET);
}

/* ---- talking to the daemon --------------------------------------------------------------- */

static int wait_fd(int fd, short ev, const struct timespec *deadline)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long ms = (long)(deadline->tv_sec - now.tv_sec) * 1000 +
		  (deadline->tv_nsec - now.tv_nsec) / 1000000;
	if (ms <= 0)
		return 0;
	struct pollfd p = {.fd = fd, .events = ev};
	int n;
	do
		n = poll(&p, 1, (int)(ms > 1000000 ? 1000000 : ms));
	while (n < 0 && errno == EINTR);
	return n;
}

/* Send one request line, read one reply line into `out` (NUL-terminated,
 * newline removed). Returns EXIT_OK or EXIT_NOCONN (message printed). */
static int exchange(const char *path, const ctl_buf_t *req, unsigned timeout_s, ctl_buf_t *out)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timespec deadline;
	int fd = -1;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "waymarkctl: %s: socket path too long\n", path);
		return EXIT_NOCONN;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "waymarkctl: cannot connect to %s: %s\n", path, strerror(errno));
		goto fail;
	}
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_s;
	size_t off = 0;
	while (off < req->len) {
		ssize_t n = send(fd, req->p + off, req->len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "waymarkctl: %s: %s\n", path, strerror(errno));
			goto fail;
		}
		off += (size_t)n;
	}
	for (;;) {
		char buf[65536];
		int r = wait_fd(fd, POLLIN, &deadline);
		if (r == 0) {
			fprintf(stderr, "waymarkctl: %s: no reply within %u s\n", path, timeout_s);
			goto fail;
		}
		ssize_t n = r < 0 ? -1 : recv(fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "waymarkctl: %s: %s\n", path,
				n == 0 ? "the daemon closed the connection without a reply"
				       : strerror(errno));
			goto fail;
		}
		const char *nl = memchr(buf, '\n', (size_t)n);
		ctl_buf_add(out, buf, nl ? (size_t)(nl - buf) : (size_t)n);
		if (out->oom || out->len > REPLY_MAX) {
			fprintf(stderr, "waymarkctl: %s: reply too large\n", path);
			goto fail;
		}
		if (nl)
			break;
	}
	close(fd);
	return EXIT_OK;
fail:
	if (fd >= 0)
		close(fd);
	return EXIT_NOCONN;
}

/* ---- printing ---------------------------------------------------------------------------- */

static void print_indent(ctl_buf_t *b, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		ctl_buf_add(b, "  ", 2);
}

/* Print `v` as JSON: on one line, or with `pretty` indented by two spaces
 * per level. */
static void print_json(ctl_buf_t *b, const ctl_json_t *v, unsigned depth, bool pretty)
{
	switch (v->type) {
	case CTL_JSON_NULL:
		ctl_buf_str(b, "null");
		break;
	case CTL_JSON_BOOL:
		ctl_buf_str(b, v->b ? "true" : "false");
		break;
	case CTL_JSON_NUM:
		if (v->is_uint)
			ctl_buf_printf(b, "%llu", (unsigned long long)v->u);
		else if (v->is_int)
			ctl_buf_printf(b, "%lld", (long long)v->i);
		else
			ctl_buf_printf(b, "%.17g", v->num);
		break;
	case CTL_JSON_STR:
		ctl_buf_add(b, "\"", 1);
		ctl_json_escape(b, v->str, v->len);
		ctl_buf_add(b, "\"", 1);
		break;
	case CTL_JSON_ARR:
	case CTL_JSON_OBJ: {
		bool obj = v->type == CTL_JSON_OBJ;
		if (!v->child) {
			ctl_buf_str(b, obj ? "{}" : "[]");
			break;
		}
		ctl_buf_str(b, obj ? "{" : "[");
		for (const ctl_json_t *m = v->child; m; m = m->next) {
			if (pretty) {
				ctl_buf_str(b, "\n");
				print_indent(b, depth + 1);
			}
			if (obj) {
				ctl_buf_add(b, "\"", 1);
				ctl_json_escape(b, m->key, strlen(m->key));
				ctl_buf_str(b, pretty ? "\": " : "\":");
			}
			print_json(b, m, depth + 1, pretty);
			if (m->next)
				ctl_buf_str(b, ",");
		}
		if (pretty) {
			ctl_buf_str(b, "\n");
			print_indent(b, depth);
		}
		ctl_buf_str(b, obj ? "}" : "]");
		break;
	}
	}
}

static const char *str_or(const ctl_json_t *o, const char *key, const char *dflt)
{
	const char *s = ctl_json_get_str(o, key);
	return s ? s : dflt;
}

static bool bool_of(const ctl_json_t *o, const char *key)
{
	const ctl_json_t *v = ctl_json_get(o, key);
	return v && v->type == CTL_JSON_BOOL && v->b;
}

static void clock_text(int64_t t, char *buf, size_t len)
{
	struct tm tm;
	time_t tt = (time_t)t;
	if (t <= 0 || !gmtime_r(&tt, &tm))
		snprintf(buf, len, "-");
	else
		strftime(buf, len, "%H:%M:%SZ", &tm);
}

/* `health` for people: one line per check, then the pools. */
static void print_health(const ctl_json_t *r)
{
	printf("%-14s %-12s %-5s %-14s %-6s %-7s %-10s %9s  %s\n", "MEMBER", "POOL", "UP", "CHECK",
	       "KIND", "STATE", "SINCE", "LATENCY", "LAST RESULT");
	const ctl_json_t *ms = ctl_json_get(r, "members");
	for (const ctl_json_t *m = ms ? ms->child : NULL; m; m = m->next) {
		const ctl_json_t *o = ctl_json_get(m, "override");
		const char *force = str_or(o, "state", "auto");
		char up[16];
		snprintf(up, sizeof(up), "%s%s", bool_of(m, "up") ? "up" : "down",
			 strcmp(force, "auto") ? "*" : "");
		const ctl_json_t *cs = ctl_json_get(m, "checks");
		if (!cs || !cs->child) {
			printf("%-14s %-12s %-5s %-14s\n", str_or(m, "name", "?"), str_or(m, "pool", "-"),
			       up, "(no checks)");
			continue;
		}
		for (const ctl_json_t *c = cs->child; c; c = c->next) {
			char since[16], lat[32];
			const ctl_json_t *sv = ctl_json_get(c, "since");
			clock_text(sv && sv->is_int ? sv->i : 0, since, sizeof(since));
			snprintf(lat, sizeof(lat), "%.1fms",
				 (double)ctl_json_get_uint(c, "latency_us", 0) / 1000.0);
			printf("%-14s %-12s %-5s %-14s %-6s %-7s %-10s %9s  %s\n",
			       c == cs->child ? str_or(m, "name", "?") : "",
			       c == cs->child ? str_or(m, "pool", "-") : "", c == cs->child ? up : "",
			       str_or(c, "check", "?"), str_or(c, "kind", "?"), str_or(c, "state", "?"),
			       since, lat, str_or(c, "last", ""));
		}
	}
	printf("\n%-14s %-6s %-5s %-9s %s\n", "POOL", "SITE", "UP", "MEMBERS", "NOTE");
	const ctl_json_t *ps = ctl_json_get(r, "pools");
	for (const ctl_json_t *p = ps ? ps->child : NULL; p; p = p->next) {
		char mem[32], note[96] = "";
		snprintf(mem, sizeof(mem), "%llu/%llu (%llu)",
			 (unsigned long long)ctl_json_get_uint(p, "members_up", 0),
			 (unsigned long long)ctl_json_get_uint(p, "members", 0),
			 (unsigned long long)ctl_json_get_uint(p, "min_up", 0));
		if (bool_of(p, "dependency_down"))
			snprintf(note, sizeof(note), "a required pool is down");
		const char *force = str_or(ctl_json_get(p, "override"), "state", "auto");
		if (strcmp(force, "auto"))
			snprintf(note + strlen(note), sizeof(note) - strlen(note), "%sforced %s",
				 note[0] ? "; " : "", force);
		if (ctl_json_get_uint(p, "drain_until", 0))
			snprintf(note + strlen(note), sizeof(note) - strlen(note), "%sdraining",
				 note[0] ? "; " : "");
		printf("%-14s %-6s %-5s %-9s %s\n", str_or(p, "name", "?"), str_or(p, "site", "?"),
		       bool_of(p, "up") ? "up" : "down", mem, note);
	}
}

static void print_status(const ctl_json_t *r)
{
	uint64_t up = ctl_json_get_uint(r, "uptime_seconds", 0);
	const ctl_json_t *rl = ctl_json_get(r, "reloads");
	const ctl_json_t *q = ctl_json_get(r, "queries");
	const ctl_json_t *last_ok = ctl_json_get(rl, "last_ok");

	printf("version:    waymarkd %s\n", str_or(r, "version", "?"));
	printf("pid:        %llu\n", (unsigned long long)ctl_json_get_uint(r, "pid", 0));
	printf("uptime:     %llud %02lluh%02llum%02llus (since %s)\n",
	       (unsigned long long)(up / 86400), (unsigned long long)(up / 3600 % 24),
	       (unsigned long long)(up / 60 % 60), (unsigned long long)(up % 60),
	       str_or(r, "started", "?"));
	printf("generation: %llu (loaded %s)\n",
	       (unsigned long long)ctl_json_get_uint(r, "generation", 0), str_or(r, "loaded", "?"));
	printf("reloads:    %llu ok, %llu failed",
	       (unsigned long long)ctl_json_get_uint(rl, "ok", 0),
	       (unsigned long long)ctl_json_get_uint(rl, "failed", 0));
	if (ctl_json_get_str(rl, "last"))
		printf("; last %s (%s)", ctl_json_get_str(rl, "last"),
		       last_ok && last_ok->type == CTL_JSON_BOOL && last_ok->b ? "ok" : "failed");
	const ctl_json_t *inp = ctl_json_get(rl, "in_progress");
	if (inp && inp->type == CTL_JSON_BOOL && inp->b)
		printf("; one in progress");
	printf("\n");
	printf("threads:    %llu\n", (unsigned long long)ctl_json_get_uint(r, "threads", 0));
	const ctl_json_t *ls = ctl_json_get(r, "listeners");
	const char *label = "listening:  ";
	for (const ctl_json_t *l = ls ? ls->child : NULL; l; l = l->next) {
		const char *addr = str_or(l, "address", "?");
		bool v6 = strchr(addr, ':') != NULL;
		printf("%s%s%s%s:%llu %s\n", label, v6 ? "[" : "", addr, v6 ? "]" : "",
		       (unsigned long long)ctl_json_get_uint(l, "port", 0),
		       str_or(l, "transports", "?"));
		label = "            ";
	}
	printf("control:    %s\n", str_or(r, "control_socket", "-"));
	printf("queries:    udp %llu, tcp %llu\n",
	       (unsigned long long)ctl_json_get_uint(q, "udp", 0),
	       (unsigned long long)ctl_json_get_uint(q, "tcp", 0));
	printf("responses:  noerror %llu, nxdomain %llu, refused %llu, formerr %llu, servfail "
	       "%llu\n",
	       (unsigned long long)ctl_json_get_uint(q, "noerror", 0),
	       (unsigned long long)ctl_json_get_uint(q, "nxdomain", 0),
	       (unsigned long long)ctl_json_get_uint(q, "refused", 0),
	       (unsigned long long)ctl_json_get_uint(q, "formerr", 0),
	       (unsigned long long)ctl_json_get_uint(q, "servfail", 0));
	printf("anomalies:  truncated %llu, malformed %llu, dropped %llu\n",
	       (unsigned long long)ctl_json_get_uint(q, "truncated", 0),
	       (unsigned long long)ctl_json_get_uint(q, "malformed", 0),
	       (unsigned long long)ctl_json_get_uint(q, "dropped", 0));
	const ctl_json_t *zs = ctl_json_get(r, "zones");
	size_t width = 4;
	for (const ctl_json_t *z = zs ? zs->child : NULL; z; z = z->next)
		if (strlen(str_or(z, "name", "?")) > width)
			width = strlen(str_or(z, "name", "?"));
	printf("zones:      %zu\n", zs ? zs->len : 0);
	for (const ctl_json_t *z = zs ? zs->child : NULL; z; z = z->next)
		printf("  %-*s  serial %-10llu  answers %llu\n", (int)width, str_or(z, "name", "?"),
		       (unsigned long long)ctl_json_get_uint(z, "serial", 0),
		       (unsigned long long)ctl_json_get_uint(z, "answers", 0));
}

/* ---- main -------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"socket", required_argument, NULL, 's'},  {"config", required_argument, NULL, 'c'},
	    {"timeout", required_argument, NULL, 't'}, {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},       {"json", no_argument, NULL, 'j'},
	    {NULL, 0, NULL, 0},
	};
	const char *sock = NULL, *config = NULL;
	bool json_out = false;
	char *sock_owned = NULL;
	unsigned long timeout = 60;
	ctl_buf_t req, reply, out;
	ctl_json_t *rep = NULL;
	int status = EXIT_USAGE;
	int c;

	ctl_buf_init(&req);
	ctl_buf_init(&reply);
	ctl_buf_init(&out);
	while ((c = getopt_long(argc, argv, "+s:c:t:jhV", opts, NULL)) != -1) {
		char *end;
		switch (c) {
		case 's':
			sock = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 't':
			errno = 0;
			timeout = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || timeout == 0 || timeout > 86400) {
				fprintf(stderr, "waymarkctl: bad timeout '%s' (1..86400 s)\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case 'j':
			json_out = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("waymarkctl %s\n", PACKAGE_VERSION);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc || (sock && config)) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[optind];

	/* The request: {"cmd":..., key: value, ...}; values are strings. */
	ctl_jw_t w;
	ctl_jw_init(&w, &req);
	ctl_jw_obj(&w);
	ctl_jw_kstr(&w, "cmd", cmd);
	const cmd_form_t *form = NULL;
	for (size_t k = 0; k < sizeof(forms) / sizeof(forms[0]); k++)
		if (strcmp(cmd, forms[k].cmd) == 0)
			form = &forms[k];
	unsigned npos = 0;
	for (int i = optind + 1; i < argc; i++) {
		/* The short forms of waymarkctl(8): positional words and
		 * --flag VALUE, turned into the same KEY=VALUE members. */
		const char *flag_key = NULL;
		for (int k = 0; form && k < 2 && form->flag[k][0]; k++)
			if (strcmp(argv[i], form->flag[k][0]) == 0)
				flag_key = form->flag[k][1];
		if (flag_key) {
			if (i + 1 >= argc) {
				fprintf(stderr, "waymarkctl: %s needs a value\n", argv[i]);
				goto out;
			}
			ctl_jw_kstr(&w, flag_key, argv[++i]);
			continue;
		}
		const char *eq = strchr(argv[i], '=');
		if (!eq && form && npos < 2 && form->pos[npos]) {
			ctl_jw_kstr(&w, form->pos[npos++], argv[i]);
			continue;
		}
		if (!eq || eq == argv[i]) {
			fprintf(stderr, "waymarkctl: argument '%s' is not KEY=VALUE\n", argv[i]);
			goto out;
		}
		char *key = strndup(argv[i], (size_t)(eq - argv[i]));
		if (!key || strcmp(key, "cmd") == 0) {
			fprintf(stderr, "waymarkctl: bad argument '%s'\n", argv[i]);
			free(key);
			goto out;
		}
		ctl_jw_kstr(&w, key, eq + 1);
		free(key);
	}
	ctl_jw_obj_end(&w);
	ctl_buf_add(&req, "\n", 1);
	if (req.oom || w.bad || req.len > 4096) {
		fprintf(stderr, "waymarkctl: request too long\n");
		goto out;
	}

	status = EXIT_NOCONN;
	if (config) {
		conf_errs_t e;
		conf_errs_init(&e);
		sock_owned = server_conf_control_socket(config, &e);
		if (!sock_owned) {
			conf_errs_print(&e);
			conf_errs_free(&e);
			fprintf(stderr, "waymarkctl: cannot find the control socket in %s\n",
				config);
			goto out;
		}
		conf_errs_free(&e);
		sock = sock_owned;
	}
	if (!sock)
		sock = SERVER_CONF_CONTROL_SOCKET;
	if (exchange(sock, &req, (unsigned)timeout, &reply) != EXIT_OK)
		goto out;

	char err[128];
	rep = ctl_json_parse(reply.p ? reply.p : "", reply.len, err, sizeof(err));
	const ctl_json_t *ok = ctl_json_get(rep, "ok");
	if (!ok || ok->type != CTL_JSON_BOOL) {
		fprintf(stderr, "waymarkctl: %s: unexpected reply (%s)\n", sock,
			rep ? "no \"ok\"" : err);
		goto out;
	}
	if (!ok->b) {
		const ctl_json_t *errs = ctl_json_get(rep, "errors");
		fprintf(stderr, "%s\n", str_or(rep, "error", "failed"));
		for (const ctl_json_t *m = errs ? errs->child : NULL; m; m = m->next)
			if (ctl_json_str(m))
				fprintf(stderr, "%s\n", ctl_json_str(m));
		status = EXIT_FAILED;
		goto out;
	}
	const ctl_json_t *result = ctl_json_get(rep, "result");
	if (strcmp(cmd, "status") == 0 && result && result->type == CTL_JSON_OBJ && !json_out) {
		print_status(result);
	} else if (strcmp(cmd, "health") == 0 && result && result->type == CTL_JSON_OBJ &&
		   !json_out) {
		print_health(result);
	} else if (strcmp(cmd, "reload") == 0 && result && result->type == CTL_JSON_OBJ) {
		printf("reload ok: generation %llu, %llu zone(s), %llu ms\n",
		       (unsigned long long)ctl_json_get_uint(result, "generation", 0),
		       (unsigned long long)ctl_json_get_uint(result, "zones", 0),
		       (unsigned long long)ctl_json_get_uint(result, "duration_ms", 0));
	} else if (result) {
		/* Indented for a person at a terminal; one line for scripts
		 * (grep, jq). */
		print_json(&out, result, 0, isatty(STDOUT_FILENO));
		ctl_buf_add(&out, "\n", 1);
		if (!out.oom)
			fwrite(out.p, 1, out.len, stdout);
	}
	status = fflush(stdout) == 0 ? EXIT_OK : EXIT_FAILED;
out:
	ctl_json_free(rep);
	ctl_buf_free(&req);
	ctl_buf_free(&reply);
	ctl_buf_free(&out);
	free(sock_owned);
	return status;
}
