/* http.h -- the metrics listener: /metrics (Prometheus text) and /status (JSON) over evhttp. */
#ifndef WAYMARK_CTL_HTTP_H
#define WAYMARK_CTL_HTTP_H

#include <stddef.h>
#include <sys/socket.h>

#include "ctl/json.h"

struct event_base;

/* Fill `out` with a response body. Called on the event_base's thread for
 * each request. */
typedef void (*ctl_http_body_fn)(ctl_buf_t *out, void *arg);

typedef struct ctl_http_params {
	const struct sockaddr_storage *addr;
	socklen_t addr_len;
	unsigned timeout_s;       /* read/write timeout of a connection */
	ctl_http_body_fn metrics; /* GET /metrics: text/plain; version=0.0.4 */
	ctl_http_body_fn status;  /* GET /status: application/json */
	void *arg;
} ctl_http_params_t;

typedef struct ctl_http ctl_http_t;

/* Bind and listen (so that privileges can be dropped after) and serve on
 * `base`. GET and HEAD only; other paths get 404. Returns NULL with the
 * reason in `err` ("metrics listen 127.0.0.1:9153: Address already in use"). */
ctl_http_t *ctl_http_new(struct event_base *base, const ctl_http_params_t *p, char *err,
			 size_t errlen);
/* The address actually bound (port 0 resolved). */
int ctl_http_bound(const ctl_http_t *h, struct sockaddr_storage *out, socklen_t *len);
void ctl_http_free(ctl_http_t *h);

#endif
