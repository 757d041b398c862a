/* ctl.h -- the control socket: one JSON object per line each way, commands from a table. */
#ifndef WAYMARK_CTL_CTL_H
#define WAYMARK_CTL_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "ctl/json.h"

struct event_base;

/* Protocol (waymarkctl(8) documents it for operators):
 *
 *   request  {"cmd":"status"}                     one line, at most max_request bytes
 *            {"cmd":"reload","id":7}              "id" (string or integer) is echoed
 *   reply    {"ok":true,"result":{...}}            one line
 *            {"ok":false,"error":"message"[,"errors":["file:line: ..."]]}
 *
 * A connection may carry any number of requests; each is answered in order
 * (the next is not read before the previous one is answered). A line that is
 * not a JSON object with a string "cmd" gets an error reply and the
 * connection stays usable; a line longer than max_request gets an error
 * reply and the connection is closed; a client that sends nothing for
 * idle_timeout_ms (while no reply of ours is pending) gets an error reply
 * and is closed. Everything runs on the thread of the event_base. */
typedef struct ctl ctl_t;
typedef struct ctl_req ctl_req_t;

/* A command. Called on the event_base's thread with the parsed request. It
 * replies by calling ctl_req_reply() then ctl_req_send(), either before it
 * returns or later (a deferred reply, e.g. reload: the reply goes out when
 * the reload has finished). Until it replies, the client waits. */
typedef void (*ctl_handler_fn)(ctl_req_t *req, void *arg);

typedef struct ctl_params {
	const char *path;         /* the socket path */
	unsigned mode;            /* permission bits of the socket file (e.g. 0660) */
	unsigned idle_timeout_ms; /* close clients silent this long */
	size_t max_request;       /* longest request line, bytes (without the newline) */
	unsigned max_clients;     /* concurrent connections */
} ctl_params_t;

/* Create the socket at p->path and listen on it, with the file's mode set
 * to p->mode. A path that is taken by a live daemon (a connect succeeds) is
 * refused; a stale socket left by a dead one is replaced; anything else at
 * the path (a file, a directory) is refused and left alone. A missing parent
 * directory is created (one level, mode 0755). Clients are accepted once
 * the event loop runs. Returns NULL with the reason in `err`. */
ctl_t *ctl_new(struct event_base *base, const ctl_params_t *p, char *err, size_t errlen);
/* Give the socket file (and a parent directory that ctl_new created) to
 * uid:gid, so that the daemon can still remove it after dropping root and
 * the group can connect. 0 or -1 (message in err). */
int ctl_chown(ctl_t *ctl, uid_t uid, gid_t gid, char *err, size_t errlen);
/* Add command `name` (a copy is kept). -1 if the name is taken or on
 * allocation failure. "help" is built in: it lists the commands. */
int ctl_register(ctl_t *ctl, const char *name, ctl_handler_fn fn, void *arg);
/* Close every client (a pending request is dropped without a reply: its
 * handler must not use it after this), stop listening, remove the socket
 * file. NULL is fine. */
void ctl_free(ctl_t *ctl);
const char *ctl_path(const ctl_t *ctl);

/* ---- inside a handler -------------------------------------------------------------------- */

/* The request object, and its "cmd". Valid until the reply is sent. */
const ctl_json_t *ctl_req_args(const ctl_req_t *req);
const char *ctl_req_cmd(const ctl_req_t *req);
/* Start the reply: `error` NULL for {"ok":true, else {"ok":false,"error":..
 * The returned writer is inside the reply object: add members ("result",
 * "errors") with ctl_jw_key() and values, then call ctl_req_send(). */
ctl_jw_t *ctl_req_reply(ctl_req_t *req, const char *error);
/* Close the reply object and send it. `req` is no longer valid after. */
void ctl_req_send(ctl_req_t *req);
/* Shorthand: an error reply with just a message. */
void ctl_req_fail(ctl_req_t *req, const char *error);

/* ---- the protocol without the socket (also used by the tests) -------------------------- */

/* Parse one request line (no newline). Returns the request object, or NULL
 * with a reason fit for an error reply in `err` ("bad request: ...", no
 * "cmd", ...). */
ctl_json_t *ctl_parse_request(const char *line, size_t len, char *err, size_t errlen);
/* Append a whole error reply line (with its newline) to `b`. `id` is the
 * request's id member or NULL. */
void ctl_format_error(ctl_buf_t *b, const ctl_json_t *id, const char *error);

#endif
