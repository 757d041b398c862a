/* conf.c -- YAML configuration documents with positions, and the schema helpers (see conf.h). */
#include "config.h"
#include "conf/conf.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

/* Deeper than this is certainly not a configuration: refuse it rather than
 * let a consumer that walks the tree recursively run out of stack. */
#define CONF_MAX_DEPTH 64

struct conf_node {
	conf_kind_t kind;
	unsigned line, col;
	/* An empty plain scalar (`key:` with nothing after it) means "no value":
	 * conf_get_str() refuses it, while a quoted "" is an empty string. */
	bool empty_plain;
	char *text;          /* CONF_SCALAR: NUL-terminated value */
	size_t len;          /* CONF_SEQ: items; CONF_MAP: pairs */
	conf_node_t **items; /* CONF_SEQ: len items; CONF_MAP: key, value, key, value... */
	unsigned char mark;  /* load-time graph walk: 0 new, 1 on the path, 2 done */
};

struct conf_doc {
	char *file;
	conf_node_t *nodes; /* indexed by libyaml node id - 1 */
	size_t n_nodes;
	const conf_node_t *root;
};

/* ---- errors ----------------------------------------------------------------------------- */

void conf_errs_init(conf_errs_t *e)
{
	memset(e, 0, sizeof(*e));
}

void conf_errs_free(conf_errs_t *e)
{
	for (unsigned i = 0; i < CONF_ERRS_MAX; i++)
		free(e->msg[i]);
	memset(e, 0, sizeof(*e));
}

/* Store one message. A message that cannot be allocated is still counted, so
 * that a load never succeeds just because memory ran out while reporting. */
static void errs_add(conf_errs_t *e, const char *prefix, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static void errs_add(conf_errs_t *e, const char *prefix, const char *fmt, va_list ap)
{
	unsigned i = e->count++;
	if (i >= CONF_ERRS_MAX)
		return;
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return;
	size_t plen = strlen(prefix);
	char *m = malloc(plen + (size_t)n + 1);
	if (!m)
		return;
	memcpy(m, prefix, plen);
	vsnprintf(m + plen, (size_t)n + 1, fmt, ap);
	e->msg[i] = m;
}

void conf_err(conf_errs_t *e, const conf_doc_t *d, const conf_node_t *at, const char *fmt, ...)
{
	const char *file = d ? d->file : "?";
	/* Room for the file name, two 10-digit numbers and the separators. */
	size_t size = strlen(file) + 32;
	char *prefix = malloc(size);
	if (!prefix) {
		e->count++;
		return;
	}
	if (at)
		snprintf(prefix, size, "%s:%u:%u: ", file, at->line, at->col);
	else
		snprintf(prefix, size, "%s: ", file);
	va_list ap;
	va_start(ap, fmt);
	errs_add(e, prefix, fmt, ap);
	va_end(ap);
	free(prefix);
}

void conf_err_raw(conf_errs_t *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	errs_add(e, "", fmt, ap);
	va_end(ap);
}

void conf_errs_print(const conf_errs_t *e)
{
	unsigned kept = e->count < CONF_ERRS_MAX ? e->count : CONF_ERRS_MAX;
	for (unsigned i = 0; i < kept; i++)
		fprintf(stderr, "%s\n",
			e->msg[i] ? e->msg[i] : "(error message lost: out of memory)");
	if (e->count > kept)
		fprintf(stderr, "(%u more errors not shown)\n", e->count - kept);
}

/* ---- loading ---------------------------------------------------------------------------- */

/* libyaml's reader reports a byte offset only: turn it into line and column
 * (counted in characters, as libyaml's marks are) by scanning the input. */
static void offset_to_pos(const char *text, size_t len, size_t off, unsigned *line, unsigned *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off && i < len; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else if (((unsigned char)text[i] & 0xC0) != 0x80) {
			(*col)++;
		}
	}
}

static void yaml_error(conf_errs_t *e, const char *name, const yaml_parser_t *p, const char *text,
		       size_t len)
{
	const char *problem = p->problem ? p->problem : "unknown error";
	unsigned line, col;

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		conf_err_raw(e, "%s: out of memory", name);
		break;
	case YAML_READER_ERROR:
		offset_to_pos(text, len, p->problem_offset, &line, &col);
		if (p->problem_value != -1)
			conf_err_raw(e, "%s:%u:%u: invalid YAML: %s (#%X)", name, line, col,
				     problem, (unsigned)p->problem_value);
		else
			conf_err_raw(e, "%s:%u:%u: invalid YAML: %s", name, line, col, problem);
		break;
	default:
		line = (unsigned)p->problem_mark.line + 1;
		col = (unsigned)p->problem_mark.column + 1;
		if (p->context)
			conf_err_raw(e, "%s:%u:%u: invalid YAML: %s (%s at line %u, column %u)",
				     name, line, col, problem, p->context,
				     (unsigned)p->context_mark.line + 1,
				     (unsigned)p->context_mark.column + 1);
		else
			conf_err_raw(e, "%s:%u:%u: invalid YAML: %s", name, line, col, problem);
		break;
	}
}

/* Copy libyaml's node stack into our own nodes, one for one, so that the
 * libyaml document can be freed and alias references (node ids) become
 * plain pointers. Returns -1 on allocation failure only. */
static int doc_convert(conf_doc_t *d, yaml_document_t *yd, conf_errs_t *e)
{
	size_t n = (size_t)(yd->nodes.top - yd->nodes.start);
	d->nodes = calloc(n ? n : 1, sizeof(*d->nodes));
	if (!d->nodes)
		goto fail;
	d->n_nodes = n;

	for (size_t i = 0; i < n; i++) {
		const yaml_node_t *yn = &yd->nodes.start[i];
		conf_node_t *cn = &d->nodes[i];
		cn->line = (unsigned)yn->start_mark.line + 1;
		cn->col = (unsigned)yn->start_mark.column + 1;
		switch (yn->type) {
		case YAML_SCALAR_NODE: {
			size_t len = yn->data.scalar.length;
			cn->kind = CONF_SCALAR;
			cn->text = malloc(len + 1);
			if (!cn->text)
				goto fail;
			memcpy(cn->text, yn->data.scalar.value, len);
			cn->text[len] = '\0';
			cn->empty_plain =
			    len == 0 && yn->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
			/* A "\0" escape would silently cut the C string short. */
			if (memchr(cn->text, '\0', len))
				conf_err(e, d, cn, "NUL character in a string");
			break;
		}
		case YAML_SEQUENCE_NODE: {
			size_t len =
			    (size_t)(yn->data.sequence.items.top - yn->data.sequence.items.start);
			cn->kind = CONF_SEQ;
			cn->len = len;
			cn->items = calloc(len ? len : 1, sizeof(*cn->items));
			if (!cn->items)
				goto fail;
			for (size_t j = 0; j < len; j++)
				cn->items[j] = &d->nodes[yn->data.sequence.items.start[j] - 1];
			break;
		}
		case YAML_MAPPING_NODE: {
			size_t len =
			    (size_t)(yn->data.mapping.pairs.top - yn->data.mapping.pairs.start);
			cn->kind = CONF_MAP;
			cn->len = len;
			cn->items = calloc(len ? 2 * len : 1, sizeof(*cn->items));
			if (!cn->items)
				goto fail;
			for (size_t j = 0; j < len; j++) {
				const yaml_node_pair_t *pair = &yn->data.mapping.pairs.start[j];
				cn->items[2 * j] = &d->nodes[pair->key - 1];
				cn->items[2 * j + 1] = &d->nodes[pair->value - 1];
			}
			break;
		}
		default:
			/* YAML_NO_NODE does not occur in a loaded document. */
			cn->kind = CONF_SCALAR;
			cn->text = strdup("");
			if (!cn->text)
				goto fail;
			break;
		}
	}
	return 0;
fail:
	return -1;
}

/* Checks that need the whole document: keys are scalars and unique within
 * their mapping, and the graph has no cycle (an alias to an enclosing node,
 * which libyaml accepts) nor absurd depth. Nodes shared through aliases are
 * checked once, which also keeps "billion laughs" documents linear. */
static void doc_check(conf_errs_t *e, const conf_doc_t *d, conf_node_t *n, unsigned depth)
{
	if (n->mark == 2)
		return;
	if (n->mark == 1) {
		conf_err(e, d, n, "alias refers to a node that contains it");
		return;
	}
	if (depth > CONF_MAX_DEPTH) {
		conf_err(e, d, n, "nesting deeper than %d levels", CONF_MAX_DEPTH);
		n->mark = 2;
		return;
	}
	n->mark = 1;
	if (n->kind == CONF_MAP) {
		for (size_t i = 0; i < n->len; i++) {
			const conf_node_t *k = n->items[2 * i];
			if (k->kind != CONF_SCALAR) {
				conf_err(e, d, k, "mapping key must be a scalar");
				continue;
			}
			for (size_t j = 0; j < i; j++) {
				const conf_node_t *prev = n->items[2 * j];
				if (prev->kind == CONF_SCALAR && strcmp(prev->text, k->text) == 0) {
					conf_err(e, d, k,
						 "duplicate key '%s' (first at line %u, column %u)",
						 k->text, prev->line, prev->col);
					break;
				}
			}
		}
	}
	if (n->kind != CONF_SCALAR) {
		size_t count = n->kind == CONF_MAP ? 2 * n->len : n->len;
		for (size_t i = 0; i < count; i++)
			doc_check(e, d, n->items[i], depth + 1);
	}
	n->mark = 2;
}

conf_doc_t *conf_load_string(const char *name, const char *text, size_t len, conf_errs_t *e)
{
	yaml_parser_t parser;
	yaml_document_t ydoc, extra;
	bool have_parser = false, have_ydoc = false;
	conf_doc_t *d = NULL;
	unsigned errs_before = e->count;

	d = calloc(1, sizeof(*d));
	if (!d)
		goto nomem;
	d->file = strdup(name);
	if (!d->file)
		goto nomem;

	if (!yaml_parser_initialize(&parser))
		goto nomem;
	have_parser = true;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);

	if (!yaml_parser_load(&parser, &ydoc)) {
		yaml_error(e, name, &parser, text, len);
		goto fail;
	}
	have_ydoc = true;
	yaml_node_t *yroot = yaml_document_get_root_node(&ydoc);
	/* "---" followed by nothing is a document holding one empty plain
	 * scalar: as empty, for the user, as no document at all. */
	if (!yroot || (yroot->type == YAML_SCALAR_NODE && yroot->data.scalar.length == 0 &&
		       yroot->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)) {
		conf_err(e, d, NULL, "empty document");
		goto fail;
	}
	if (doc_convert(d, &ydoc, e) < 0)
		goto nomem;
	d->root = &d->nodes[0]; /* libyaml's root is always node 1 */
	yaml_document_delete(&ydoc);
	have_ydoc = false;

	/* A second document would be silently ignored: refuse it, and let
	 * libyaml report any syntax error in the rest of the stream. */
	if (!yaml_parser_load(&parser, &extra)) {
		yaml_error(e, name, &parser, text, len);
	} else {
		yaml_node_t *x = yaml_document_get_root_node(&extra);
		if (x)
			conf_err_raw(e, "%s:%u:%u: only one YAML document is allowed", name,
				     (unsigned)x->start_mark.line + 1,
				     (unsigned)x->start_mark.column + 1);
		yaml_document_delete(&extra);
	}
	yaml_parser_delete(&parser);
	have_parser = false;

	doc_check(e, d, &d->nodes[0], 0);
	if (e->count != errs_before)
		goto fail;
	return d;

nomem:
	conf_err_raw(e, "%s: out of memory", name);
fail:
	if (have_ydoc)
		yaml_document_delete(&ydoc);
	if (have_parser)
		yaml_parser_delete(&parser);
	conf_free(d);
	return NULL;
}

conf_doc_t *conf_load_file(const char *path, conf_errs_t *e)
{
	FILE *f = NULL;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	conf_doc_t *d = NULL;

	f = fopen(path, "rb");
	if (!f)
		goto fail_errno;
	for (;;) {
		if (len == cap) {
			size_t ncap = cap ? 2 * cap : 8192;
			char *nbuf = realloc(buf, ncap);
			if (!nbuf) {
				errno = ENOMEM;
				goto fail_errno;
			}
			buf = nbuf;
			cap = ncap;
		}
		size_t got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0) {
			if (ferror(f))
				goto fail_errno;
			break;
		}
	}
	fclose(f);
	f = NULL;
	d = conf_load_string(path, buf, len, e);
	free(buf);
	return d;

fail_errno:
	conf_err_raw(e, "%s: %s", path, strerror(errno));
	if (f)
		fclose(f);
	free(buf);
	return NULL;
}

void conf_free(conf_doc_t *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n_nodes; i++) {
		free(d->nodes[i].text);
		free(d->nodes[i].items);
	}
	free(d->nodes);
	free(d->file);
	free(d);
}

/* ---- access ----------------------------------------------------------------------------- */

const char *conf_doc_file(const conf_doc_t *d)
{
	return d->file;
}

const conf_node_t *conf_root(const conf_doc_t *d)
{
	return d->root;
}

conf_kind_t conf_kind(const conf_node_t *n)
{
	assert(n);
	return n->kind;
}

unsigned conf_line(const conf_node_t *n)
{
	return n ? n->line : 0;
}

unsigned conf_col(const conf_node_t *n)
{
	return n ? n->col : 0;
}

const char *conf_scalar(const conf_node_t *n)
{
	return n && n->kind == CONF_SCALAR ? n->text : NULL;
}

size_t conf_len(const conf_node_t *n)
{
	return n && n->kind != CONF_SCALAR ? n->len : 0;
}

const conf_node_t *conf_seq_at(const conf_node_t *n, size_t i)
{
	if (!n || n->kind != CONF_SEQ || i >= n->len)
		return NULL;
	return n->items[i];
}

const conf_node_t *conf_map_key(const conf_node_t *n, size_t i)
{
	if (!n || n->kind != CONF_MAP || i >= n->len)
		return NULL;
	return n->items[2 * i];
}

const conf_node_t *conf_map_val(const conf_node_t *n, size_t i)
{
	if (!n || n->kind != CONF_MAP || i >= n->len)
		return NULL;
	return n->items[2 * i + 1];
}

const conf_node_t *conf_map_get(const conf_node_t *n, const char *key)
{
	if (!n || n->kind != CONF_MAP)
		return NULL;
	for (size_t i = 0; i < n->len; i++) {
		const conf_node_t *k = n->items[2 * i];
		if (k->kind == CONF_SCALAR && strcmp(k->text, key) == 0)
			return n->items[2 * i + 1];
	}
	return NULL;
}

/* ---- schema helpers --------------------------------------------------------------------- */

static const char *kind_name(conf_kind_t k)
{
	switch (k) {
	case CONF_SCALAR:
		return "a scalar";
	case CONF_SEQ:
		return "a sequence";
	case CONF_MAP:
		return "a mapping";
	}
	return "?";
}

int conf_expect(conf_errs_t *e, const conf_doc_t *d, const conf_node_t *n, conf_kind_t kind,
		const char *what)
{
	if (n->kind == kind)
		return 0;
	conf_err(e, d, n, "%s must be %s, not %s", what, kind_name(kind), kind_name(n->kind));
	return -1;
}

int conf_check_map(conf_errs_t *e, const conf_doc_t *d, const conf_node_t *n, const char *what,
		   const char *const *allowed)
{
	if (conf_expect(e, d, n, CONF_MAP, what) < 0)
		return -1;
	int rc = 0;
	for (size_t i = 0; i < n->len; i++) {
		const conf_node_t *k = n->items[2 * i];
		bool ok = false;
		for (const char *const *a = allowed; *a; a++) {
			if (strcmp(*a, k->text) == 0) {
				ok = true;
				break;
			}
		}
		if (!ok) {
			conf_err(e, d, k, "unknown key '%s' in %s", k->text, what);
			rc = -1;
		}
	}
	return rc;
}

/* A scalar with a value: the common first step of every typed getter. */
static const char *scalar_value(conf_errs_t *e, const conf_doc_t *d, const conf_node_t *n,
				const char *what, const char *type)
{
	if (n->kind != CONF_SCALAR) {
		conf_err(e, d, n, "%s must be %s, not %s", what, type, kind_name(n->kind));
		return NULL;
	}
	if (n->empty_plain) {
		conf_err(e, d, n, "%s: missing value", what);
		return NULL;
	}
	return n->text;
}

int conf_get_str(conf_errs_t *e, const conf_doc_t *d, const conf_node_t *n, const char *what,
		 const char **out)
{
	const char *s = scalar_value(e, d, n, what, "a string");
	if (!s)
		return -1;
	*out = s;
	return 0;
}

/* Strict unsigned decimal: digits only, no sign, no spaces. */
static int parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	if (len == 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		unsigned digit = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - digit) / 10)
			return -2;
		v = v * 10 + digit;
	}
	*out = v;
	return 0;
}

int conf_get_uint(conf_errs_t *e, const conf_doc_t *d, const conf_node_t *n, const char *what,
		  uint64_t min, uint64_t max, uint64_t *out)
{
	const char *s = scalar_value(e, d, n, what, "an integer");
	if (!s)
		return -1;
	uint64_t v = 0;
	int rc = parse_u64(s, strlen(s), &v);
	if (rc == -1) {
		conf_err(e, d, n, "%s: '%s' is not an integer", what, s);
		return -1;
	}
	if (rc == -2 || v < min || v > max) {
		conf_err(e, d, n, "%s: %s is out of range %" PRIu64 "..%" PRIu64, what, s, min,
			 max);
		return -1;
	}
	*out = v;
	return 0;
}

int conf_get_bool(conf_errs_t *e, const conf_doc_t *d, const conf_node_t *n, const char *what,
		  bool *out)
{
	static const char *const yes[] = {"true", "yes", "on"};
	static const char *const no[] = {"false", "no", "off"};
	const char *s = scalar_value(e, d, n, what, "a boolean");
	if (!s)
		return -1;
	for (size_t i = 0; i < 3; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	conf_err(e, d, n, "%s: '%s' is not a boolean (true/false, yes/no, on/off)", what, s);
	return -1;
}

/* "<digits>[.<digits>][unit]". Returns 0, -1 (syntax), -2 (overflow) or -3
 * (finer than a millisecond, e.g. "1.5ms"). */
static int parse_duration(const char *s, uint64_t *out_ms)
{
	size_t ilen = strspn(s, "0123456789");
	const char *p = s + ilen;
	const char *frac = "";
	size_t flen = 0;
	uint64_t unit, whole, ms;

	if (ilen == 0)
		return -1;
	if (*p == '.') {
		frac = p + 1;
		flen = strspn(frac, "0123456789");
		if (flen == 0)
			return -1;
		p = frac + flen;
	}
	if (strcmp(p, "ms") == 0)
		unit = 1;
	else if (strcmp(p, "s") == 0 || *p == '\0')
		unit = 1000;
	else if (strcmp(p, "m") == 0)
		unit = 60 * 1000;
	else if (strcmp(p, "h") == 0)
		unit = 3600 * 1000;
	else if (strcmp(p, "d") == 0)
		unit = 86400 * 1000;
	else
		return -1;

	if (parse_u64(s, ilen, &whole) < 0 || whole > UINT64_MAX / unit)
		return -2;
	ms = whole * unit;

	/* Trailing zeros of the fraction carry nothing; what remains must fit
	 * (unit <= 8.64e7 and 9 digits keep the product below 2^57) and must
	 * come out as whole milliseconds. */
	while (flen > 0 && frac[flen - 1] == '0')
		flen--;
	if (flen > 0) {
		uint64_t f = 0, scale = 1;
		if (flen > 9)
			return -3;
		parse_u64(frac, flen, &f);
		for (size_t i = 0; i < flen; i++)
			scale *= 10;
		if ((f * unit) % scale != 0)
			return -3;
		uint64_t add = f * unit / scale;
		if (ms > UINT64_MAX - add)
			return -2;
		ms += add;
	}
	*out_ms = ms;
	return 0;
}

/* The shortest exact spelling of a duration, for messages. */
int conf_parse_duration_ms(const char *s, uint64_t *out_ms)
{
	return parse_duration(s, out_ms);
}

static void format_duration(uint64_t ms, char *buf, size_t size)
{
	static const struct {
		uint64_t ms;
		const char *unit;
	} units[] = {{86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (ms != 0 && ms % units[i].ms == 0) {
			snprintf(buf, size, "%" PRIu64 "%s", ms / units[i].ms, units[i].unit);
			return;
		}
	}
	snprintf(buf, size, "%" PRIu64 "ms", ms);
}

int conf_get_duration_ms(conf_errs_t *e, const conf_doc_t *d, const conf_node_t *n,
			 const char *what, uint64_t min_ms, uint64_t max_ms, uint64_t *out)
{
	const char *s = scalar_value(e, d, n, what, "a duration");
	if (!s)
		return -1;
	uint64_t ms = 0;
	int rc = parse_duration(s, &ms);
	if (rc == -1) {
		conf_err(e, d, n, "%s: '%s' is not a duration (e.g. 250ms, 1.5s, 2m, 1h, 1d)", what,
			 s);
		return -1;
	}
	if (rc == -3) {
		conf_err(e, d, n, "%s: '%s' is finer than a millisecond", what, s);
		return -1;
	}
	if (rc == -2 || ms < min_ms || ms > max_ms) {
		char lo[32], hi[32];
		format_duration(min_ms, lo, sizeof(lo));
		format_duration(max_ms, hi, sizeof(hi));
		conf_err(e, d, n, "%s: %s is out of range %s..%s", what, s, lo, hi);
		return -1;
	}
	*out = ms;
	return 0;
}

/* Port text after the colon: 1 to 5 digits, at most 65535 (0 is allowed:
 * the kernel then picks a port, which tests rely on). */
static int parse_port(const char *s, uint16_t *out)
{
	uint64_t v;
	size_t len = strlen(s);
	if (len == 0 || len > 5 || parse_u64(s, len, &v) < 0 || v > 65535)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

int conf_get_sockaddr(conf_errs_t *e, const conf_doc_t *d, const conf_node_t *n, const char *what,
		      uint16_t default_port, struct sockaddr_storage *out, socklen_t *out_len)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port_text = NULL;
	uint16_t port = default_port;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	bool v6;

	const char *s = scalar_value(e, d, n, what, "an address");
	if (!s)
		return -1;

	if (s[0] == '[') {
		/* "[v6]" or "[v6]:port" */
		const char *close = strchr(s, ']');
		if (!close || (size_t)(close - s - 1) >= sizeof(host))
			goto bad;
		memcpy(host, s + 1, (size_t)(close - s - 1));
		host[close - s - 1] = '\0';
		if (close[1] == ':')
			port_text = close + 2;
		else if (close[1] != '\0')
			goto bad;
		v6 = true;
	} else {
		const char *colon = strchr(s, ':');
		if (colon && strchr(colon + 1, ':')) {
			/* Two colons or more: a bare IPv6 address, no port. */
			if (strlen(s) >= sizeof(host))
				goto bad;
			strcpy(host, s);
			v6 = true;
		} else {
			size_t hlen = colon ? (size_t)(colon - s) : strlen(s);
			if (hlen >= sizeof(host))
				goto bad;
			memcpy(host, s, hlen);
			host[hlen] = '\0';
			if (colon)
				port_text = colon + 1;
			v6 = false;
		}
	}
	if (port_text && parse_port(port_text, &port) < 0) {
		conf_err(e, d, n, "%s: bad port in '%s' (0..65535)", what, s);
		return -1;
	}

	memset(out, 0, sizeof(*out));
	if (v6) {
		memset(&sin6, 0, sizeof(sin6));
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = htons(port);
		if (inet_pton(AF_INET6, host, &sin6.sin6_addr) != 1)
			goto bad;
		memcpy(out, &sin6, sizeof(sin6));
		*out_len = sizeof(sin6);
	} else {
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons(port);
		/* "*" is IPv4 any: sin_addr is already INADDR_ANY. */
		if (strcmp(host, "*") != 0 && inet_pton(AF_INET, host, &sin.sin_addr) != 1)
			goto bad;
		memcpy(out, &sin, sizeof(sin));
		*out_len = sizeof(sin);
	}
	return 0;

bad:
	conf_err(e, d, n,
		 "%s: '%s' is not an address (IPv4, IPv4:port, IPv6, [IPv6]:port or *:port)", what,
		 s);
	return -1;
}

char *conf_resolve_path(const conf_doc_t *d, const char *rel)
{
	if (rel[0] == '/')
		return strdup(rel);
	const char *slash = strrchr(d->file, '/');
	if (!slash)
		return strdup(rel); /* the config file is in the current directory */
	/* Keep the slash itself only for a config file directly under "/". */
	size_t dlen = slash == d->file ? 1 : (size_t)(slash - d->file);
	size_t rlen = strlen(rel);
	char *p = malloc(dlen + 1 + rlen + 1);
	if (!p)
		return NULL;
	memcpy(p, d->file, dlen);
	size_t at = dlen;
	if (p[at - 1] != '/')
		p[at++] = '/';
	memcpy(p + at, rel, rlen + 1);
	return p;
}
