/* ctl.c -- the control socket server on the main thread's event_base (see ctl.h). */
#include "config.h"
#include "ctl/ctl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "core/log.h"

/* Everything here runs on the thread that runs `base` (the daemon's main
 * thread): no locks. A client is in one of these states:
 *   reading   -- waiting for a line; the idle timeout runs;
 *   pending   -- a handler has the request; no timeout, no further lines
 *                are read (replies stay in request order);
 *   closing   -- the last reply is being flushed; then lingering: our side
 *                is shut, input is discarded until the client closes;
 *   dead      -- the peer went away while a reply was pending: freed when
 *                the handler replies, so that it never holds a dangling req. */

typedef struct ctl_cmd {
	char *name;
	ctl_handler_fn fn;
	void *arg;
} ctl_cmd_t;

typedef struct ctl_client ctl_client_t;

struct ctl_req {
	ctl_client_t *client;
	ctl_json_t *args;
	ctl_buf_t out;
	ctl_jw_t jw;
};

struct ctl_client {
	ctl_t *ctl;
	struct bufferevent *bev;
	ctl_client_t *prev, *next;
	ctl_req_t req;
	bool pending, closing, lingering, dead, eof, in_process;
};

struct ctl {
	struct event_base *base;
	struct evconnlistener *lis;
	struct event *resume; /* re-enables accepting after an accept error */
	ctl_params_t p;
	char *path;
	char *dir; /* the parent directory, if we created it */
	dev_t dev; /* identity of our socket file: removed at exit only if */
	ino_t ino; /* it is still ours */
	ctl_cmd_t *cmds;
	size_t n_cmds;
	ctl_client_t *clients;
	unsigned n_clients;
};

static void process(ctl_client_t *c);

static void ctl_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void ctl_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- protocol ---------------------------------------------------------------------------- */

ctl_json_t *ctl_parse_request(const char *line, size_t len, char *err, size_t errlen)
{
	char why[128];
	ctl_json_t *req = ctl_json_parse(line, len, why, sizeof(why));
	if (!req) {
		ctl_err(err, errlen, "bad request: %s", why);
		return NULL;
	}
	if (req->type != CTL_JSON_OBJ) {
		ctl_err(err, errlen, "bad request: not a JSON object");
		goto fail;
	}
	const char *cmd = ctl_json_get_str(req, "cmd");
	if (!cmd || !cmd[0]) {
		ctl_err(err, errlen, "bad request: no \"cmd\" string");
		goto fail;
	}
	return req;
fail:
	ctl_json_free(req);
	return NULL;
}

/* The request's "id", echoed in the reply, when it is one we can echo. */
static void put_id(ctl_jw_t *w, const ctl_json_t *id)
{
	if (!id)
		return;
	if (id->type == CTL_JSON_STR) {
		ctl_jw_kstr(w, "id", id->str);
	} else if (id->type == CTL_JSON_NUM && id->is_int) {
		ctl_jw_kint(w, "id", id->i);
	}
}

static void reply_begin(ctl_jw_t *w, ctl_buf_t *b, const ctl_json_t *id, const char *error)
{
	ctl_jw_init(w, b);
	ctl_jw_obj(w);
	ctl_jw_kbool(w, "ok", error == NULL);
	put_id(w, id);
	if (error)
		ctl_jw_kstr(w, "error", error);
}

void ctl_format_error(ctl_buf_t *b, const ctl_json_t *id, const char *error)
{
	ctl_jw_t w;
	reply_begin(&w, b, id, error);
	ctl_jw_obj_end(&w);
	ctl_buf_add(b, "\n", 1);
}

/* ---- clients ----------------------------------------------------------------------------- */

static void client_free(ctl_client_t *c)
{
	ctl_t *ctl = c->ctl;
	if (c->prev)
		c->prev->next = c->next;
	else
		ctl->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	ctl->n_clients--;
	bufferevent_free(c->bev);
	ctl_json_free(c->req.args);
	ctl_buf_free(&c->req.out);
	free(c);
}

static void set_idle_timeout(ctl_client_t *c, bool reading)
{
	struct timeval tv = {.tv_sec = c->ctl->p.idle_timeout_ms / 1000,
			     .tv_usec = (c->ctl->p.idle_timeout_ms % 1000) * 1000};
	/* The write timeout only runs while output is queued: it frees a
	 * client that stops reading our replies. */
	bufferevent_set_timeouts(c->bev, reading ? &tv : NULL, &tv);
}

/* Our last reply is out. Closing now, with bytes of the client's still
 * unread, would reset the connection and could destroy that reply on its
 * way: shut our side instead, then discard what the client still sends
 * until it closes (or stays silent for the idle timeout). */
static void linger(ctl_client_t *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	c->lingering = true;
	shutdown(bufferevent_getfd(c->bev), SHUT_WR);
	evbuffer_drain(in, evbuffer_get_length(in));
	bufferevent_setwatermark(c->bev, EV_READ, 0, 0);
	set_idle_timeout(c, true);
	bufferevent_enable(c->bev, EV_READ);
}

/* No more requests: flush the replies, then close. */
static void close_when_flushed(ctl_client_t *c)
{
	c->closing = true;
	bufferevent_disable(c->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		linger(c);
}

static void send_error(ctl_client_t *c, const ctl_json_t *id, const char *error)
{
	ctl_buf_t b;
	ctl_buf_init(&b);
	ctl_format_error(&b, id, error);
	if (!b.oom)
		bufferevent_write(c->bev, b.p, b.len);
	ctl_buf_free(&b);
}

static const ctl_cmd_t *find_cmd(const ctl_t *ctl, const char *name)
{
	for (size_t i = 0; i < ctl->n_cmds; i++)
		if (strcmp(ctl->cmds[i].name, name) == 0)
			return &ctl->cmds[i];
	return NULL;
}

static void handle_line(ctl_client_t *c, const char *line, size_t len)
{
	char err[192];
	ctl_json_t *args = ctl_parse_request(line, len, err, sizeof(err));
	if (!args) {
		log_debug("control bad request reason=\"%s\"", err);
		send_error(c, NULL, err);
		return;
	}
	const char *name = ctl_json_get_str(args, "cmd");
	const ctl_cmd_t *cmd = find_cmd(c->ctl, name);
	if (!cmd) {
		snprintf(err, sizeof(err), "unknown command '%.64s' (try \"help\")", name);
		send_error(c, ctl_json_get(args, "id"), err);
		ctl_json_free(args);
		return;
	}
	log_debug("control command cmd=%s", cmd->name);
	c->req.args = args;
	c->pending = true;
	set_idle_timeout(c, false);
	cmd->fn(&c->req, cmd->arg);
}

/* Handle every complete line buffered, one at a time. */
static void process(ctl_client_t *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t max = c->ctl->p.max_request;

	c->in_process = true;
	while (!c->pending && !c->closing) {
		size_t buffered = evbuffer_get_length(in);
		struct evbuffer_ptr at = evbuffer_search(in, "\n", 1, NULL);
		size_t len;
		if (at.pos >= 0) {
			len = (size_t)at.pos;
		} else if (buffered > max + 1) {
			len = buffered; /* too long, and no end in sight */
		} else if (c->eof && buffered > 0) {
			len = buffered; /* the last line, without its newline */
		} else {
			break;
		}
		size_t linelen = len;
		if (linelen > 0 && at.pos >= 0) {
			unsigned char last;
			struct evbuffer_ptr p2;
			evbuffer_ptr_set(in, &p2, linelen - 1, EVBUFFER_PTR_SET);
			if (evbuffer_copyout_from(in, &p2, &last, 1) == 1 && last == '\r')
				linelen--;
		}
		if (linelen > max) {
			char err[96];
			snprintf(err, sizeof(err), "request longer than %zu bytes", max);
			log_debug("control request too long");
			send_error(c, NULL, err);
			close_when_flushed(c);
			return; /* c may be gone */
		}
		char *line = malloc(len + 1);
		if (!line) {
			send_error(c, NULL, "out of memory");
			close_when_flushed(c);
			return;
		}
		evbuffer_remove(in, line, len);
		if (at.pos >= 0)
			evbuffer_drain(in, 1);
		line[linelen] = '\0';
		if (linelen > 0)
			handle_line(c, line, linelen);
		free(line);
	}
	c->in_process = false;
	if (c->eof && !c->pending && !c->closing)
		close_when_flushed(c);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	ctl_client_t *c = arg;
	if (c->lingering) {
		struct evbuffer *in = bufferevent_get_input(bev);
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	process(c);
}

static void on_write(struct bufferevent *bev, void *arg)
{
	ctl_client_t *c = arg;
	if (c->closing && !c->lingering && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		linger(c);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	ctl_client_t *c = arg;
	(void)bev;
	if (c->lingering) {
		client_free(c); /* closed, gone, or silent: done either way */
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		if ((what & BEV_EVENT_READING) && !c->pending && !c->closing) {
			char err[96];
			snprintf(err, sizeof(err), "idle timeout: no request within %u ms",
				 c->ctl->p.idle_timeout_ms);
			log_debug("control client timed out");
			send_error(c, NULL, err);
			close_when_flushed(c);
			return;
		}
		/* Writing: the peer does not read its replies. */
		what = BEV_EVENT_ERROR;
	}
	if (what & BEV_EVENT_EOF) {
		/* The peer may have only shut its sending side after its last
		 * request: answer what it sent, then close. */
		c->eof = true;
		if (!c->in_process)
			process(c);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		if (c->pending) {
			c->dead = true;
			bufferevent_disable(c->bev, EV_READ | EV_WRITE);
			return;
		}
		client_free(c);
	}
}

static void on_accept(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
		      int salen, void *arg)
{
	ctl_t *ctl = arg;
	(void)lis;
	(void)sa;
	(void)salen;
	if (ctl->n_clients >= ctl->p.max_clients) {
		static const char busy[] = "{\"ok\":false,\"error\":\"too many clients\"}\n";
		ssize_t w = send(fd, busy, sizeof(busy) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
		(void)w;
		close(fd);
		log_warn("control client refused reason=too-many-clients max=%u",
			 ctl->p.max_clients);
		return;
	}
	ctl_client_t *c = calloc(1, sizeof(*c));
	struct bufferevent *bev = bufferevent_socket_new(ctl->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!c || !bev) {
		free(c);
		if (bev)
			bufferevent_free(bev);
		else
			close(fd);
		log_warn("control client refused reason=out-of-memory");
		return;
	}
	c->ctl = ctl;
	c->bev = bev;
	ctl_buf_init(&c->req.out);
	c->req.client = c;
	c->next = ctl->clients;
	if (c->next)
		c->next->prev = c;
	ctl->clients = c;
	ctl->n_clients++;
	bufferevent_setcb(bev, on_read, on_write, on_event, c);
	/* Read at most one line's worth (and its CR LF) ahead: a client cannot
	 * make us buffer more than that. */
	bufferevent_setwatermark(bev, EV_READ, 0, ctl->p.max_request + 2);
	set_idle_timeout(c, true);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	ctl_t *ctl = arg;
	(void)fd;
	(void)what;
	evconnlistener_enable(ctl->lis);
}

/* accept() failed (out of file descriptors, most likely): the listening
 * socket stays readable, so pause instead of spinning. */
static void on_accept_error(struct evconnlistener *lis, void *arg)
{
	ctl_t *ctl = arg;
	int err = EVUTIL_SOCKET_ERROR();
	struct timeval tv = {1, 0};
	log_warn("control accept failed error=\"%s\" pause_ms=1000", strerror(err));
	evconnlistener_disable(lis);
	event_add(ctl->resume, &tv);
}

/* ---- requests ---------------------------------------------------------------------------- */

const ctl_json_t *ctl_req_args(const ctl_req_t *req)
{
	return req->args;
}

const char *ctl_req_cmd(const ctl_req_t *req)
{
	return ctl_json_get_str(req->args, "cmd");
}

ctl_jw_t *ctl_req_reply(ctl_req_t *req, const char *error)
{
	ctl_buf_reset(&req->out);
	reply_begin(&req->jw, &req->out, ctl_json_get(req->args, "id"), error);
	return &req->jw;
}

void ctl_req_send(ctl_req_t *req)
{
	ctl_client_t *c = req->client;
	ctl_jw_obj_end(&req->jw);
	ctl_buf_add(&req->out, "\n", 1);
	if (req->jw.bad || req->out.oom) {
		log_err("control reply could not be built cmd=%s", ctl_req_cmd(req));
		ctl_buf_reset(&req->out);
		ctl_format_error(&req->out, ctl_json_get(req->args, "id"),
				 "internal error: the reply could not be built");
	}
	ctl_json_free(req->args);
	req->args = NULL;
	c->pending = false;
	if (c->dead) {
		client_free(c);
		return;
	}
	if (!req->out.oom)
		bufferevent_write(c->bev, req->out.p, req->out.len);
	/* Replies can be large (status of many zones): do not keep the
	 * memory for the life of the connection. */
	if (req->out.cap > 65536)
		ctl_buf_free(&req->out);
	set_idle_timeout(c, true);
	if (!c->in_process)
		process(c); /* a deferred reply: go on with lines sent meanwhile */
}

void ctl_req_fail(ctl_req_t *req, const char *error)
{
	ctl_req_reply(req, error);
	ctl_req_send(req);
}

static void help_cmd(ctl_req_t *req, void *arg)
{
	ctl_t *ctl = arg;
	ctl_jw_t *w = ctl_req_reply(req, NULL);
	ctl_jw_key(w, "result");
	ctl_jw_obj(w);
	ctl_jw_key(w, "commands");
	ctl_jw_arr(w);
	for (size_t i = 0; i < ctl->n_cmds; i++)
		ctl_jw_str(w, ctl->cmds[i].name);
	ctl_jw_arr_end(w);
	ctl_jw_obj_end(w);
	ctl_req_send(req);
}

int ctl_register(ctl_t *ctl, const char *name, ctl_handler_fn fn, void *arg)
{
	if (find_cmd(ctl, name))
		return -1;
	ctl_cmd_t *cmds = realloc(ctl->cmds, (ctl->n_cmds + 1) * sizeof(*cmds));
	if (!cmds)
		return -1;
	ctl->cmds = cmds;
	char *copy = strdup(name);
	if (!copy)
		return -1;
	cmds[ctl->n_cmds++] = (ctl_cmd_t){.name = copy, .fn = fn, .arg = arg};
	return 0;
}

/* ---- the socket -------------------------------------------------------------------------- */

/* Make room for our socket at `path`: nothing there, or a stale socket
 * that nobody answers on (removed). */
static int claim_path(const char *path, const struct sockaddr_un *sa, char *err, size_t errlen)
{
	struct stat st;
	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		ctl_err(err, errlen, "control socket %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		ctl_err(err, errlen, "control socket %s: exists and is not a socket", path);
		return -1;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ctl_err(err, errlen, "control socket: %s", strerror(errno));
		return -1;
	}
	int rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	int e = errno;
	close(fd);
	if (rc == 0) {
		ctl_err(err, errlen, "control socket %s: in use by a running daemon", path);
		return -1;
	}
	if (e != ECONNREFUSED && e != ENOENT) {
		ctl_err(err, errlen, "control socket %s: cannot tell whether it is in use: %s",
			path, strerror(e));
		return -1;
	}
	if (e == ECONNREFUSED && unlink(path) < 0 && errno != ENOENT) {
		ctl_err(err, errlen, "control socket %s: removing the stale socket: %s", path,
			strerror(errno));
		return -1;
	}
	if (e == ECONNREFUSED)
		log_info("control socket stale socket removed path=%s", path);
	return 0;
}

/* Create the parent directory of `path` if it is missing (one level). */
static int make_dir(ctl_t *ctl, char *err, size_t errlen)
{
	const char *slash = strrchr(ctl->path, '/');
	if (!slash || slash == ctl->path)
		return 0;
	char *dir = strndup(ctl->path, (size_t)(slash - ctl->path));
	if (!dir) {
		ctl_err(err, errlen, "control socket: out of memory");
		return -1;
	}
	if (mkdir(dir, 0755) == 0) {
		ctl->dir = dir;
		return 0;
	}
	int e = errno;
	free(dir);
	if (e == EEXIST)
		return 0;
	ctl_err(err, errlen, "control socket %s: cannot create its directory: %s", ctl->path,
		strerror(e));
	return -1;
}

ctl_t *ctl_new(struct event_base *base, const ctl_params_t *p, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = -1;
	ctl_t *ctl = calloc(1, sizeof(*ctl));
	if (!ctl || !(ctl->path = strdup(p->path))) {
		ctl_err(err, errlen, "control socket: out of memory");
		goto fail;
	}
	ctl->base = base;
	ctl->p = *p;
	ctl->p.path = ctl->path;
	if (strlen(p->path) >= sizeof(sa.sun_path)) {
		ctl_err(err, errlen, "control socket %s: path too long", p->path);
		goto fail;
	}
	memcpy(sa.sun_path, p->path, strlen(p->path) + 1);
	if (make_dir(ctl, err, errlen) < 0 || claim_path(ctl->path, &sa, err, errlen) < 0)
		goto fail;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		ctl_err(err, errlen, "control socket: %s", strerror(errno));
		goto fail;
	}
	/* Created with no access for anyone but us, then opened up to `mode`:
	 * never more open than asked, even for a moment. Startup runs on one
	 * thread, so changing the process umask here is safe. */
	mode_t old = umask(0177);
	int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	int e = errno;
	umask(old);
	if (rc < 0) {
		ctl_err(err, errlen, "control socket %s: %s%s", ctl->path, strerror(e),
			e == EADDRINUSE ? " (another daemon is starting?)" : "");
		goto fail;
	}
	struct stat st;
	if (chmod(ctl->path, p->mode) < 0 || lstat(ctl->path, &st) < 0) {
		ctl_err(err, errlen, "control socket %s: %s", ctl->path, strerror(errno));
		unlink(ctl->path);
		goto fail;
	}
	ctl->dev = st.st_dev;
	ctl->ino = st.st_ino;
	ctl->lis = evconnlistener_new(base, on_accept, ctl,
				      LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16, fd);
	ctl->resume = evtimer_new(base, on_resume, ctl);
	if (!ctl->lis || !ctl->resume) {
		ctl_err(err, errlen, "control socket: cannot listen");
		if (!ctl->lis)
			close(fd);
		fd = -1;
		unlink(ctl->path);
		goto fail;
	}
	fd = -1;
	evconnlistener_set_error_cb(ctl->lis, on_accept_error);
	if (ctl_register(ctl, "help", help_cmd, ctl) < 0) {
		ctl_err(err, errlen, "control socket: out of memory");
		goto fail_unlink;
	}
	return ctl;
fail_unlink:
	unlink(ctl->path);
fail:
	if (fd >= 0)
		close(fd);
	if (ctl) {
		ctl->ino = 0; /* nothing of ours to remove */
		ctl->dev = 0;
		ctl_free(ctl);
	}
	return NULL;
}

int ctl_chown(ctl_t *ctl, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	if (lchown(ctl->path, uid, gid) < 0) {
		ctl_err(err, errlen, "control socket %s: chown: %s", ctl->path, strerror(errno));
		return -1;
	}
	if (ctl->dir && chown(ctl->dir, uid, gid) < 0) {
		ctl_err(err, errlen, "control socket directory %s: chown: %s", ctl->dir,
			strerror(errno));
		return -1;
	}
	return 0;
}

const char *ctl_path(const ctl_t *ctl)
{
	return ctl->path;
}

void ctl_free(ctl_t *ctl)
{
	if (!ctl)
		return;
	while (ctl->clients)
		client_free(ctl->clients);
	if (ctl->lis)
		evconnlistener_free(ctl->lis);
	if (ctl->resume)
		event_free(ctl->resume);
	struct stat st;
	/* Remove the socket file only if it is still the one we made: another
	 * daemon may have replaced it (after someone removed ours). */
	if (ctl->ino && lstat(ctl->path, &st) == 0 && st.st_dev == ctl->dev &&
	    st.st_ino == ctl->ino && unlink(ctl->path) < 0)
		log_warn("control socket not removed path=%s error=\"%s\"", ctl->path,
			 strerror(errno));
	for (size_t i = 0; i < ctl->n_cmds; i++)
		free(ctl->cmds[i].name);
	free(ctl->cmds);
	free(ctl->dir);
	free(ctl->path);
	free(ctl);
}
