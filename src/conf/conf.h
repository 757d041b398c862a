/* conf.h -- YAML configuration documents with file:line:column on every node and every error. */
#ifndef WAYMARK_CONF_CONF_H
#define WAYMARK_CONF_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* A parsed YAML document (libyaml), kept whole so that every module can read
 * its own section and report errors at the right place. Nodes are owned by
 * their document and live until conf_free(). Aliases are resolved by libyaml. */
typedef struct conf_doc conf_doc_t;
typedef struct conf_node conf_node_t;
typedef enum { CONF_SCALAR, CONF_SEQ, CONF_MAP } conf_kind_t;

/* Error list: every error found is kept (not only the first), each formatted
 * "file:line:column: message" (or "file:line: message" where no column is
 * known). At most CONF_ERRS_MAX are kept; `count` goes on counting. */
#define CONF_ERRS_MAX 64
typedef struct conf_errs {
	unsigned count;
	char *msg[CONF_ERRS_MAX];
} conf_errs_t;

void conf_errs_init(conf_errs_t *e);
void conf_errs_free(conf_errs_t *e);
/* Add "file:line:col: <fmt>" located at `at` (may be NULL: then just `file: `). */
void conf_err(conf_errs_t *e, const conf_doc_t *d, const conf_node_t *at, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Add an already located message ("zone.db:12: bad TTL"). */
void conf_err_raw(conf_errs_t *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print each error on its own line to stderr, prefixed by nothing. */
void conf_errs_print(const conf_errs_t *e);

/* Load a YAML file. Returns NULL and adds an error (with the position libyaml
 * reports) when the file cannot be read or is not valid YAML, or when the
 * document is empty ("file: empty document"). Also errors, each at its node:
 * a mapping with the same key twice (at the second key), a key that is not a
 * scalar, a second document in the stream, a NUL in a string, an alias to a
 * node that contains it, nesting deeper than 64 levels. */
conf_doc_t *conf_load_file(const char *path, conf_errs_t *e);
/* Same, from memory; `name` stands for the file name in messages. */
conf_doc_t *conf_load_string(const char *name, const char *text, size_t len, conf_errs_t *e);
void conf_free(conf_doc_t *d);

const char *conf_doc_file(const conf_doc_t *d);
const conf_node_t *conf_root(const conf_doc_t *d);

conf_kind_t conf_kind(const conf_node_t *n);
unsigned conf_line(const conf_node_t *n); /* 1-based */
unsigned conf_col(const conf_node_t *n);  /* 1-based */
/* The scalar text, or NULL if `n` is not a scalar. */
const char *conf_scalar(const conf_node_t *n);
/* Number of items of a sequence or pairs of a mapping; 0 for a scalar. */
size_t conf_len(const conf_node_t *n);
const conf_node_t *conf_seq_at(const conf_node_t *n, size_t i);
const conf_node_t *conf_map_key(const conf_node_t *n, size_t i); /* a scalar node */
const conf_node_t *conf_map_val(const conf_node_t *n, size_t i);
/* The value for `key` in mapping `n`, or NULL (also when `n` is no mapping). */
const conf_node_t *conf_map_get(const conf_node_t *n, const char *key);

/* Schema helpers: each returns 0 on success, or -1 after adding a located
 * error to `e` (the caller goes on, so that every error is reported). */

/* `n` must be a mapping whose keys are all in the NULL-terminated `allowed`
 * list: "unknown key 'x' in <what>". */
int conf_check_map(conf_errs_t *e, const conf_doc_t *d, const conf_node_t *n, const char *what,
		   const char *const *allowed);
int conf_expect(conf_errs_t *e, const conf_doc_t *d, const conf_node_t *n, conf_kind_t kind,
		const char *what);
/* Any scalar, quoted or plain; `*out` lives as long as the document. An
 * empty plain scalar (`key:` with no value) is "missing value"; a quoted ""
 * is an empty string. The typed getters below refuse it too. */
int conf_get_str(conf_errs_t *e, const conf_doc_t *d, const conf_node_t *n, const char *what,
		 const char **out);
/* Decimal integer in [min, max]: digits only (no sign, no spaces, no 0x). */
int conf_get_uint(conf_errs_t *e, const conf_doc_t *d, const conf_node_t *n, const char *what,
		  uint64_t min, uint64_t max, uint64_t *out);
/* true/false/yes/no/on/off, any case. */
int conf_get_bool(conf_errs_t *e, const conf_doc_t *d, const conf_node_t *n, const char *what,
		  bool *out);
/* Duration: "250ms", "1s", "1.5s", "2m", "1h", "1d"; a bare number is seconds.
 * Result in milliseconds, in [min_ms, max_ms]. A fraction must come out as
 * whole milliseconds ("1.5ms" is refused); no sign, no spaces. */
int conf_get_duration_ms(conf_errs_t *e, const conf_doc_t *d, const conf_node_t *n,
			 const char *what, uint64_t min_ms, uint64_t max_ms, uint64_t *out);
/* Socket address: "192.0.2.1:53", "[2001:db8::1]:53", "192.0.2.1" or
 * "2001:db8::1" (then `default_port`), "*:53" (IPv4 any) and "[::]:53".
 * Port 0..65535 (0: the kernel picks one). No host names. A bare IPv6
 * address takes no port: "::1:53" is the address ::1:53. `*out` is zeroed
 * first, so equal addresses compare equal with memcmp(). */
int conf_get_sockaddr(conf_errs_t *e, const conf_doc_t *d, const conf_node_t *n,
		      const char *what, uint16_t default_port, struct sockaddr_storage *out,
		      socklen_t *out_len);

/* Resolve a path written in the config file against the config file's
 * directory. Returns a malloc'd path (NULL when out of memory): a copy of
 * `rel` if it is absolute or the config file has no directory part, else
 * dir(conf file)/rel. */
char *conf_resolve_path(const conf_doc_t *d, const char *rel);

/* The duration syntax of conf_get_duration_ms ("250ms", "1.5s", "2m", "1h",
 * "1d", a bare number of seconds) for text from elsewhere (the control
 * socket). 0, or -1 if `s` is not a duration. */
int conf_parse_duration_ms(const char *s, uint64_t *out_ms);

#endif
