/* probe_conf.h -- the `checks:` section: health check kinds and their options, every error located.
 */
#ifndef WAYMARK_PROBE_PROBE_CONF_H
#define WAYMARK_PROBE_PROBE_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/conf.h"

/*
 * checks:
 *   edge-web:
 *     kind: https                # tcp | tls | http | https | stun | sip | exec (required)
 *     port: 443                  # default per kind: tls/https 443, http 80, stun 3478,
 *                                #   sip 5060 (tcp) / 5061 (tls); required for tcp; none for exec
 *     interval: 10s              # default 10s
 *     timeout: 2s                # default 2s, must be < interval
 *     rise: 2                    # consecutive successes to go up (default 2)
 *     fall: 3                    # failures to go down (default 3)
 *     fastinter: 2500ms          # interval while between states; default max(interval/4, 1s),
 *                                #   at most interval
 *     jitter: 10%                # "N%" of the interval, "0.N" fraction, or a duration;
 *                                #   default 10%; must be < interval
 *     initial: up                # up | down; default: unknown until the first probe ends
 *     # tls, https, sip over tls:
 *     sni: edge.contoso.test     # default: the target's host name, else none
 *     verify: ca.pem             # CA file (relative to the config file): chain and name
 *                                #   (sni, else the target's host) must verify; default none
 *     cert_warn_days: 14         # log a warning when the certificate expires sooner (0: off)
 *     down_when_expired: false   # an expired certificate fails the probe
 *     # http, https:
 *     method: GET                # GET | HEAD | POST | OPTIONS; default GET
 *     path: /autodiscover/autodiscoverservice.svc/root   # default /
 *     host: lyncdiscover.contoso.test   # Host header; default the target's name or address
 *     status: [200]              # accepted status codes (100..599); default [200]
 *     body: "AutodiscoverService"   # optional substring of the first 64 KiB of the body
 *     # sip:
 *     transport: tls             # tcp | tls; default tcp
 *     # exec:
 *     command: [/usr/lib/waymark/check-pool, --pool, nyc]   # argv; no shell; argv[0]
 *                                #   must exist and be executable (relative: to the config)
 *
 * Checks are referred to by name (members name the checks they must pass);
 * their index in probe_conf_t.checks is stable for one configuration.
 */

typedef enum {
	PROBE_TCP,
	PROBE_TLS,
	PROBE_HTTP,
	PROBE_HTTPS,
	PROBE_STUN,
	PROBE_SIP,
	PROBE_EXEC,
} probe_kind_t;

typedef enum { PROBE_INITIAL_UNKNOWN = 0, PROBE_INITIAL_UP, PROBE_INITIAL_DOWN } probe_initial_t;

/* Upper bounds, also enforced by the parser. */
#define PROBE_INTERVAL_MAX_MS (24ULL * 3600 * 1000)
#define PROBE_RISE_FALL_MAX 100
#define PROBE_STATUS_MAX 16
#define PROBE_ARGV_MAX 64
/* Bytes of an HTTP response (head + body) or of a SIP response head read at most. */
#define PROBE_READ_MAX (64 * 1024)

typedef struct probe_check {
	char *name;
	probe_kind_t kind;
	uint16_t port; /* 0 for exec */
	uint32_t interval_ms, timeout_ms, fastinter_ms, jitter_ms;
	unsigned rise, fall;
	probe_initial_t initial;
	/* tls / https / sip over tls */
	char *sni;       /* NULL: the target's host name */
	char *verify_ca; /* resolved path, or NULL: no verification */
	unsigned cert_warn_days;
	bool down_when_expired;
	/* http / https */
	char *method, *path, *host; /* host NULL: the target's name or address */
	unsigned status[PROBE_STATUS_MAX];
	unsigned n_status;
	char *body; /* NULL: no body match */
	/* sip */
	bool sip_tls;
	/* exec: NULL-terminated argv, argv[0] resolved */
	char **argv;
	unsigned line;
} probe_check_t;

typedef struct probe_conf {
	probe_check_t *checks;
	size_t n_checks;
} probe_conf_t;

/* Read the top-level `checks:` mapping of `d` (absent: zero checks). Every
 * error found is added to `e` at its file:line:col, e.g. an unknown kind or
 * key (keys are checked per kind), a timeout >= interval, an exec command
 * that does not exist. Returns a new probe_conf_t (owned by the caller, free
 * with probe_conf_free; it does not point into `d`), or NULL when there were
 * errors or memory ran out (then an error was added too). */
probe_conf_t *probe_conf_load(const conf_doc_t *d, conf_errs_t *e);
void probe_conf_free(probe_conf_t *c);

/* Index of the check called `name`, or -1. */
long probe_conf_find(const probe_conf_t *c, const char *name);

/* "tcp", "tls", ... */
const char *probe_kind_name(probe_kind_t k);

#endif
