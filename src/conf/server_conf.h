/* server_conf.h -- the daemon's top-level configuration: listeners, threads, zones, limits. */
#ifndef WAYMARK_CONF_SERVER_CONF_H
#define WAYMARK_CONF_SERVER_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "conf/conf.h"
#include "core/log.h"

/* One `zones:` entry. `name` is lowercase without the trailing dot; `file` is
 * the zone file path resolved against the config file's directory (it
 * existed at load time); line/col locate the entry in the config file. */
typedef struct conf_zone {
	char *name;
	char *file;
	unsigned line, col;
} conf_zone_t;

typedef struct server_conf {
	conf_doc_t *doc; /* kept: later modules read their own sections from it */
	char *path;
	/* `listen:` addresses, in file order, no two equal. listen_text[i] is
	 * the address as written, for messages. */
	struct sockaddr_storage *listen;
	socklen_t *listen_len;
	char **listen_text;
	size_t n_listen;
	unsigned threads;   /* 1..256; default: online CPUs (clamped to that) */
	conf_zone_t *zones; /* may be empty */
	size_t n_zones;
	unsigned tcp_idle_timeout_ms; /* tcp.idle_timeout, 1ms..1d, default 10s */
	unsigned tcp_max_clients;     /* tcp.max_clients, 1..1000000, default 1000 */
	unsigned edns_udp_size;       /* 512..4096, default 1232 */
	log_level_t log_level;        /* default info */

	/* `control:` -- the control socket (waymarkctl). */
	char *control_socket; /* resolved path; default SERVER_CONF_CONTROL_SOCKET */
	unsigned control_mode; /* control.mode, octal string, default 0660 */
	unsigned control_idle_timeout_ms; /* control.idle_timeout, 1ms..1h, default 10s */
	/* `metrics:` -- the HTTP listener for /metrics and /status. */
	bool metrics_enabled; /* metrics.enabled, default true */
	struct sockaddr_storage metrics_addr;
	socklen_t metrics_addr_len;
	char *metrics_text; /* metrics.listen as written; default SERVER_CONF_METRICS_LISTEN */
	/* `user:` / `group:` -- drop to these after binding. NULL: not set. The
	 * user existed at load time; `group` needs `user` (default: the user's
	 * primary group). */
	char *user;
	char *group;
} server_conf_t;

#define SERVER_CONF_CONTROL_SOCKET "/run/waymark/waymarkd.sock"
#define SERVER_CONF_METRICS_LISTEN "127.0.0.1:9153"
#define SERVER_CONF_METRICS_PORT 9153

/* Top-level keys that server_conf_load() accepts without reading them, so
 * that the modules owning them (geo, gslb, probe) validate them from `doc`.
 * NULL-terminated. A module adding a section adds its key here. */
extern const char *const server_conf_extension_keys[];

/* Load and validate the config file at `path`. Returns a new server_conf_t
 * (free with server_conf_free()), or NULL when anything is wrong; then every
 * error found has been added to `e`, each located "file:line:col: ...". */
server_conf_t *server_conf_load(const char *path, conf_errs_t *e);
/* Same from memory: `name` is both the file name in messages and the path
 * that relative zone files are resolved against (it need not exist). */
server_conf_t *server_conf_load_string(const char *name, const char *text, size_t len,
				       conf_errs_t *e);
/* Only the control socket path of the config file at `path`: what
 * waymarkctl needs, read even when the rest of the file has errors (so that
 * `waymarkctl -c FILE reload` can report them). Returns a malloc'd path (the
 * default when the file has no control.socket), or NULL with the reason in
 * `e` (unreadable file, not YAML, control.socket not a string). */
char *server_conf_control_socket(const char *path, conf_errs_t *e);
/* Frees everything, doc included. NULL is fine. */
void server_conf_free(server_conf_t *c);

#endif
