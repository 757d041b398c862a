/* http.c -- the metrics listener on the main thread's event_base (see http.h). */
#include "config.h"
#include "ctl/http.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "core/log.h"
#include "ctl/sys.h"

struct ctl_http {
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
	ctl_http_params_t p;
};

static void reply(struct evhttp_request *req, int code, const char *reason, const char *type,
		  const char *body, size_t len)
{
	struct evbuffer *out = evbuffer_new();
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Type", type);
	evhttp_add_header(h, "Cache-Control", "no-store");
	if (out)
		evbuffer_add(out, body, len);
	evhttp_send_reply(req, code, reason, out);
	if (out)
		evbuffer_free(out);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	ctl_http_t *h = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	ctl_http_body_fn fn = NULL;
	const char *type = NULL;

	if (path && strcmp(path, "/metrics") == 0) {
		fn = h->p.metrics;
		type = "text/plain; version=0.0.4; charset=utf-8";
	} else if (path && strcmp(path, "/status") == 0) {
		fn = h->p.status;
		type = "application/json";
	} else if (path && strcmp(path, "/") == 0) {
		static const char index[] = "waymarkd: see /metrics and /status\n";
		reply(req, HTTP_OK, "OK", "text/plain; charset=utf-8", index, sizeof(index) - 1);
		return;
	}
	if (!fn) {
		static const char nf[] = "not found: try /metrics or /status\n";
		reply(req, HTTP_NOTFOUND, "Not Found", "text/plain; charset=utf-8", nf,
		      sizeof(nf) - 1);
		return;
	}
	ctl_buf_t b;
	ctl_buf_init(&b);
	fn(&b, h->p.arg);
	if (b.oom) {
		static const char oom[] = "out of memory\n";
		reply(req, HTTP_INTERNAL, "Internal Server Error", "text/plain", oom,
		      sizeof(oom) - 1);
	} else {
		reply(req, HTTP_OK, "OK", type, b.p ? b.p : "", b.len);
	}
	ctl_buf_free(&b);
}

ctl_http_t *ctl_http_new(struct event_base *base, const ctl_http_params_t *p, char *err,
			 size_t errlen)
{
	char addr[80];
	int fd = -1, one = 1;
	ctl_http_t *h = calloc(1, sizeof(*h));

	ctl_addr_text(p->addr, addr, sizeof(addr));
	if (!h || !(h->http = evhttp_new(base))) {
		snprintf(err, errlen, "metrics listen %s: out of memory", addr);
		goto fail;
	}
	h->p = *p;
	int family = p->addr->ss_family;
	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail_errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		goto fail_errno;
	/* "[::]:9153" means IPv6 only, like the DNS listeners: IPv4 is its
	 * own listen address. */
	if (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		goto fail_errno;
	if (bind(fd, (const struct sockaddr *)p->addr, p->addr_len) < 0 || listen(fd, 64) < 0)
		goto fail_errno;
	h->bound = evhttp_accept_socket_with_handle(h->http, fd);
	if (!h->bound) {
		snprintf(err, errlen, "metrics listen %s: cannot serve", addr);
		goto fail;
	}
	fd = -1; /* evhttp owns it now */
	evhttp_set_timeout(h->http, (int)p->timeout_s);
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_max_headers_size(h->http, 8192);
	evhttp_set_max_body_size(h->http, 0);
	evhttp_set_gencb(h->http, on_request, h);
	return h;
fail_errno:
	snprintf(err, errlen, "metrics listen %s: %s", addr, strerror(errno));
fail:
	if (fd >= 0)
		close(fd);
	ctl_http_free(h);
	return NULL;
}

int ctl_http_bound(const ctl_http_t *h, struct sockaddr_storage *out, socklen_t *len)
{
	*len = sizeof(*out);
	return getsockname(evhttp_bound_socket_get_fd(h->bound), (struct sockaddr *)out, len);
}

void ctl_http_free(ctl_http_t *h)
{
	if (!h)
		return;
	if (h->http)
		evhttp_free(h->http);
	free(h);
}
