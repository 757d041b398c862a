/* json.c -- text buffer, JSON writer and strict JSON parser (see json.h). */
#include "config.h"
#include "ctl/json.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- buffer ------------------------------------------------------------------------------ */

void ctl_buf_init(ctl_buf_t *b)
{
	*b = (ctl_buf_t){0};
}

void ctl_buf_free(ctl_buf_t *b)
{
	free(b->p);
	*b = (ctl_buf_t){0};
}

void ctl_buf_reset(ctl_buf_t *b)
{
	b->len = 0;
	b->oom = false;
	if (b->p)
		b->p[0] = '\0';
}

/* Room for `n` more bytes and the NUL. */
static bool buf_reserve(ctl_buf_t *b, size_t n)
{
	if (b->oom)
		return false;
	if (n > SIZE_MAX / 2 - b->len - 1) {
		b->oom = true;
		return false;
	}
	size_t need = b->len + n + 1;
	if (need <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void ctl_buf_add(ctl_buf_t *b, const void *p, size_t n)
{
	if (!buf_reserve(b, n))
		return;
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void ctl_buf_str(ctl_buf_t *b, const char *s)
{
	ctl_buf_add(b, s, strlen(s));
}

void ctl_buf_printf(ctl_buf_t *b, const char *fmt, ...)
{
	va_list ap;
	char small[256];

	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = true;
		return;
	}
	if ((size_t)n < sizeof(small)) {
		ctl_buf_add(b, small, (size_t)n);
		return;
	}
	if (!buf_reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* ---- UTF-8 ------------------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s[0..n) (RFC 3629 §4: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or 0 if it is not one. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		len = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		if (c == 0xE0)
			lo = 0xA0; /* overlong */
		else if (c == 0xED)
			hi = 0x9F; /* surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		if (c == 0xF0)
			lo = 0x90; /* overlong */
		else if (c == 0xF4)
			hi = 0x8F; /* above U+10FFFF */
	} else
		return 0;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return len;
}

static void utf8_put(ctl_buf_t *b, uint32_t cp)
{
	unsigned char u[4];
	size_t n;
	if (cp < 0x80) {
		u[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (unsigned char)(0xC0 | (cp >> 6));
		u[1] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (unsigned char)(0xE0 | (cp >> 12));
		u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (unsigned char)(0xF0 | (cp >> 18));
		u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	ctl_buf_add(b, u, n);
}

/* ---- writer ------------------------------------------------------------------------------ */

void ctl_json_escape(ctl_buf_t *b, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, run = 0; /* s[run..i) is copied as is */

	while (i < n) {
		unsigned char c = s[i];
		const char *esc = NULL;
		char hex[8];
		size_t seq = 1;

		if (c == '"')
			esc = "\\\"";
		else if (c == '\\')
			esc = "\\\\";
		else if (c == '\n')
			esc = "\\n";
		else if (c == '\r')
			esc = "\\r";
		else if (c == '\t')
			esc = "\\t";
		else if (c == '\b')
			esc = "\\b";
		else if (c == '\f')
			esc = "\\f";
		else if (c < 0x20 || c == 0x7F) {
			snprintf(hex, sizeof(hex), "\\u%04x", c);
			esc = hex;
		} else if (c >= 0x80 && (seq = utf8_seq(s + i, n - i)) == 0) {
			esc = "\\ufffd"; /* not UTF-8: say so rather than pass it on */
			seq = 1;
		}
		if (!esc) {
			i += seq;
			continue;
		}
		ctl_buf_add(b, s + run, i - run);
		ctl_buf_str(b, esc);
		i += seq;
		run = i;
	}
	ctl_buf_add(b, s + run, n - run);
}

void ctl_jw_init(ctl_jw_t *w, ctl_buf_t *b)
{
	memset(w, 0, sizeof(*w));
	w->b = b;
}

/* Before a value: the comma, and the checks that a value may come here. */
static bool jw_value(ctl_jw_t *w)
{
	unsigned d = w->depth;
	if (w->bad)
		return false;
	switch (w->kind[d]) {
	case 0:
		if (w->n[d] > 0)
			goto bad; /* one value at the top level */
		break;
	case 'a':
		if (w->n[d] > 0)
			ctl_buf_add(w->b, ",", 1);
		break;
	default:
		if (w->want_key[d])
			goto bad;
		w->want_key[d] = true;
		return true; /* counted with its key */
	}
	w->n[d]++;
	return true;
bad:
	w->bad = true;
	return false;
}

void ctl_jw_key(ctl_jw_t *w, const char *key)
{
	unsigned d = w->depth;
	if (w->bad)
		return;
	if (w->kind[d] != 'o' || !w->want_key[d]) {
		w->bad = true;
		return;
	}
	if (w->n[d]++ > 0)
		ctl_buf_add(w->b, ",", 1);
	ctl_buf_add(w->b, "\"", 1);
	ctl_json_escape(w->b, key, strlen(key));
	ctl_buf_add(w->b, "\":", 2);
	w->want_key[d] = false;
}

static void jw_open(ctl_jw_t *w, char kind)
{
	if (!jw_value(w))
		return;
	if (w->depth >= CTL_JW_DEPTH) {
		w->bad = true;
		return;
	}
	ctl_buf_add(w->b, kind == 'o' ? "{" : "[", 1);
	unsigned d = ++w->depth;
	w->kind[d] = kind;
	w->n[d] = 0;
	w->want_key[d] = kind == 'o';
}

static void jw_close(ctl_jw_t *w, char kind)
{
	unsigned d = w->depth;
	if (w->bad)
		return;
	/* A key written without its value is a caller bug too. */
	if (d == 0 || w->kind[d] != kind || (kind == 'o' && !w->want_key[d])) {
		w->bad = true;
		return;
	}
	ctl_buf_add(w->b, kind == 'o' ? "}" : "]", 1);
	w->depth--;
}

void ctl_jw_obj(ctl_jw_t *w)
{
	jw_open(w, 'o');
}

void ctl_jw_obj_end(ctl_jw_t *w)
{
	jw_close(w, 'o');
}

void ctl_jw_arr(ctl_jw_t *w)
{
	jw_open(w, 'a');
}

void ctl_jw_arr_end(ctl_jw_t *w)
{
	jw_close(w, 'a');
}

void ctl_jw_strn(ctl_jw_t *w, const char *s, size_t n)
{
	if (!jw_value(w))
		return;
	ctl_buf_add(w->b, "\"", 1);
	ctl_json_escape(w->b, s, n);
	ctl_buf_add(w->b, "\"", 1);
}

void ctl_jw_str(ctl_jw_t *w, const char *s)
{
	if (!s)
		ctl_jw_null(w);
	else
		ctl_jw_strn(w, s, strlen(s));
}

void ctl_jw_raw(ctl_jw_t *w, const char *json, size_t n)
{
	if (jw_value(w))
		ctl_buf_add(w->b, json, n);
}

void ctl_jw_uint(ctl_jw_t *w, uint64_t v)
{
	if (jw_value(w))
		ctl_buf_printf(w->b, "%llu", (unsigned long long)v);
}

void ctl_jw_int(ctl_jw_t *w, int64_t v)
{
	if (jw_value(w))
		ctl_buf_printf(w->b, "%lld", (long long)v);
}

void ctl_jw_bool(ctl_jw_t *w, bool v)
{
	if (jw_value(w))
		ctl_buf_str(w->b, v ? "true" : "false");
}

void ctl_jw_null(ctl_jw_t *w)
{
	if (jw_value(w))
		ctl_buf_str(w->b, "null");
}

void ctl_jw_kstr(ctl_jw_t *w, const char *key, const char *s)
{
	ctl_jw_key(w, key);
	ctl_jw_str(w, s);
}

void ctl_jw_kuint(ctl_jw_t *w, const char *key, uint64_t v)
{
	ctl_jw_key(w, key);
	ctl_jw_uint(w, v);
}

void ctl_jw_kint(ctl_jw_t *w, const char *key, int64_t v)
{
	ctl_jw_key(w, key);
	ctl_jw_int(w, v);
}

void ctl_jw_kbool(ctl_jw_t *w, const char *key, bool v)
{
	ctl_jw_key(w, key);
	ctl_jw_bool(w, v);
}

/* ---- parser ------------------------------------------------------------------------------ */

typedef struct parser {
	const char *s;
	size_t len, pos;
	char *err;
	size_t errlen;
	bool failed;
} parser_t;

static void perr(parser_t *p, const char *what)
{
	if (p->failed)
		return;
	p->failed = true;
	if (p->pos >= p->len)
		snprintf(p->err, p->errlen, "%s at end of input", what);
	else
		snprintf(p->err, p->errlen, "%s at byte %zu", what, p->pos + 1);
}

static void skip_ws(parser_t *p)
{
	while (p->pos < p->len) {
		char c = p->s[p->pos];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		p->pos++;
	}
}

static bool literal(parser_t *p, const char *word)
{
	size_t n = strlen(word);
	if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
		return false;
	p->pos += n;
	return true;
}

static int hex4(parser_t *p, uint32_t *out)
{
	uint32_t v = 0;
	if (p->len - p->pos < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		char c = p->s[p->pos + (size_t)i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return -1;
	}
	p->pos += 4;
	*out = v;
	return 0;
}

/* A string; p->pos is at the opening quote. Returns a malloc'd C string. */
static char *parse_string(parser_t *p, size_t *out_len)
{
	ctl_buf_t b;
	ctl_buf_init(&b);
	p->pos++;
	for (;;) {
		if (p->pos >= p->len) {
			perr(p, "unterminated string");
			goto fail;
		}
		unsigned char c = (unsigned char)p->s[p->pos];
		if (c == '"') {
			p->pos++;
			break;
		}
		if (c < 0x20) {
			perr(p, "control character in string");
			goto fail;
		}
		if (c >= 0x80) {
			size_t n = utf8_seq((const unsigned char *)p->s + p->pos, p->len - p->pos);
			if (n == 0) {
				perr(p, "invalid UTF-8 in string");
				goto fail;
			}
			ctl_buf_add(&b, p->s + p->pos, n);
			p->pos += n;
			continue;
		}
		if (c != '\\') {
			ctl_buf_add(&b, &p->s[p->pos++], 1);
			continue;
		}
		p->pos++;
		if (p->pos >= p->len) {
			perr(p, "unterminated string");
			goto fail;
		}
		char e = p->s[p->pos++];
		static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
		const char *k = strchr(from, e);
		if (k && e) {
			ctl_buf_add(&b, &to[k - from], 1);
			continue;
		}
		if (e != 'u') {
			p->pos--;
			perr(p, "bad escape in string");
			goto fail;
		}
		uint32_t cp, lo;
		if (hex4(p, &cp) < 0) {
			perr(p, "bad \\u escape");
			goto fail;
		}
		if (cp >= 0xDC00 && cp <= 0xDFFF) {
			perr(p, "lone low surrogate");
			goto fail;
		}
		if (cp >= 0xD800 && cp <= 0xDBFF) {
			if (!literal(p, "\\u") || hex4(p, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF) {
				perr(p, "unpaired surrogate");
				goto fail;
			}
			cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
		}
		if (cp == 0) {
			perr(p, "\\u0000 in string");
			goto fail;
		}
		utf8_put(&b, cp);
	}
	if (b.oom) {
		perr(p, "out of memory");
		goto fail;
	}
	*out_len = b.len;
	if (!b.p) /* the empty string */
		return strdup("");
	return b.p;
fail:
	ctl_buf_free(&b);
	return NULL;
}

static int parse_number(parser_t *p, ctl_json_t *v)
{
	size_t start = p->pos;
	bool integral = true;

	if (p->pos < p->len && p->s[p->pos] == '-')
		p->pos++;
	if (p->pos >= p->len || p->s[p->pos] < '0' || p->s[p->pos] > '9')
		goto bad;
	if (p->s[p->pos] == '0')
		p->pos++;
	else
		while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
			p->pos++;
	if (p->pos < p->len && p->s[p->pos] == '.') {
		integral = false;
		p->pos++;
		if (p->pos >= p->len || p->s[p->pos] < '0' || p->s[p->pos] > '9')
			goto bad;
		while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
			p->pos++;
	}
	if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
		integral = false;
		p->pos++;
		if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
			p->pos++;
		if (p->pos >= p->len || p->s[p->pos] < '0' || p->s[p->pos] > '9')
			goto bad;
		while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
			p->pos++;
	}
	char tmp[64];
	size_t n = p->pos - start;
	if (n >= sizeof(tmp)) {
		p->pos = start;
		perr(p, "number too long");
		return -1;
	}
	memcpy(tmp, p->s + start, n);
	tmp[n] = '\0';
	v->type = CTL_JSON_NUM;
	v->num = strtod(tmp, NULL);
	if (integral) {
		errno = 0;
		long long ll = strtoll(tmp, NULL, 10);
		if (errno == 0) {
			v->is_int = true;
			v->i = ll;
		}
		errno = 0;
		unsigned long long ull = strtoull(tmp, NULL, 10);
		if (errno == 0 && tmp[0] != '-') {
			v->is_uint = true;
			v->u = ull;
		}
	}
	return 0;
bad:
	perr(p, "bad number");
	return -1;
}

static ctl_json_t *parse_value(parser_t *p, unsigned depth);

/* An array or object; p->pos is at '[' or '{'. */
static int parse_container(parser_t *p, ctl_json_t *v, unsigned depth)
{
	bool obj = p->s[p->pos] == '{';
	char close = obj ? '}' : ']';
	ctl_json_t **tail = &v->child;

	if (depth >= CTL_JSON_DEPTH) {
		perr(p, "nested too deep");
		return -1;
	}
	v->type = obj ? CTL_JSON_OBJ : CTL_JSON_ARR;
	p->pos++;
	skip_ws(p);
	if (p->pos < p->len && p->s[p->pos] == close) {
		p->pos++;
		return 0;
	}
	for (;;) {
		char *key = NULL;
		size_t klen;
		skip_ws(p);
		if (obj) {
			if (p->pos >= p->len || p->s[p->pos] != '"') {
				perr(p, "expected a string key");
				return -1;
			}
			size_t at = p->pos;
			key = parse_string(p, &klen);
			if (!key)
				return -1;
			for (const ctl_json_t *m = v->child; m; m = m->next) {
				if (strcmp(m->key, key) == 0) {
					free(key);
					p->pos = at;
					perr(p, "duplicate key");
					return -1;
				}
			}
			skip_ws(p);
			if (p->pos >= p->len || p->s[p->pos] != ':') {
				free(key);
				perr(p, "expected ':'");
				return -1;
			}
			p->pos++;
		}
		ctl_json_t *item = parse_value(p, depth + 1);
		if (!item) {
			free(key);
			return -1;
		}
		item->key = key;
		*tail = item;
		tail = &item->next;
		v->len++;
		skip_ws(p);
		if (p->pos < p->len && p->s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->pos < p->len && p->s[p->pos] == close) {
			p->pos++;
			return 0;
		}
		perr(p, obj ? "expected ',' or '}'" : "expected ',' or ']'");
		return -1;
	}
}

static ctl_json_t *parse_value(parser_t *p, unsigned depth)
{
	ctl_json_t *v = calloc(1, sizeof(*v));
	if (!v) {
		perr(p, "out of memory");
		return NULL;
	}
	skip_ws(p);
	if (p->pos >= p->len) {
		perr(p, "expected a value");
		goto fail;
	}
	switch (p->s[p->pos]) {
	case '{':
	case '[':
		if (parse_container(p, v, depth) < 0)
			goto fail;
		break;
	case '"':
		v->type = CTL_JSON_STR;
		v->str = parse_string(p, &v->len);
		if (!v->str)
			goto fail;
		break;
	case 't':
	case 'f':
	case 'n':
		if (literal(p, "true")) {
			v->type = CTL_JSON_BOOL;
			v->b = true;
		} else if (literal(p, "false")) {
			v->type = CTL_JSON_BOOL;
		} else if (literal(p, "null")) {
			v->type = CTL_JSON_NULL;
		} else {
			perr(p, "unexpected word");
			goto fail;
		}
		break;
	default:
		if (p->s[p->pos] != '-' && (p->s[p->pos] < '0' || p->s[p->pos] > '9')) {
			perr(p, "unexpected character");
			goto fail;
		}
		if (parse_number(p, v) < 0)
			goto fail;
		break;
	}
	return v;
fail:
	ctl_json_free(v);
	return NULL;
}

ctl_json_t *ctl_json_parse(const char *text, size_t len, char *err, size_t errlen)
{
	parser_t p = {.s = text, .len = len, .err = err, .errlen = errlen};
	if (errlen)
		err[0] = '\0';
	if (memchr(text, '\0', len)) {
		p.pos = (size_t)((const char *)memchr(text, '\0', len) - text);
		perr(&p, "NUL byte");
		return NULL;
	}
	ctl_json_t *v = parse_value(&p, 0);
	if (!v)
		return NULL;
	skip_ws(&p);
	if (p.pos != p.len) {
		perr(&p, "trailing characters");
		ctl_json_free(v);
		return NULL;
	}
	return v;
}

void ctl_json_free(ctl_json_t *v)
{
	while (v) {
		ctl_json_t *next = v->next;
		ctl_json_free(v->child);
		free(v->str);
		free(v->key);
		free(v);
		v = next;
	}
}

const ctl_json_t *ctl_json_get(const ctl_json_t *obj, const char *key)
{
	if (!obj || obj->type != CTL_JSON_OBJ)
		return NULL;
	for (const ctl_json_t *m = obj->child; m; m = m->next)
		if (strcmp(m->key, key) == 0)
			return m;
	return NULL;
}

const char *ctl_json_str(const ctl_json_t *v)
{
	return v && v->type == CTL_JSON_STR ? v->str : NULL;
}

const char *ctl_json_get_str(const ctl_json_t *obj, const char *key)
{
	return ctl_json_str(ctl_json_get(obj, key));
}

int ctl_json_uint(const ctl_json_t *v, uint64_t *out)
{
	if (!v || v->type != CTL_JSON_NUM || !v->is_uint)
		return -1;
	*out = v->u;
	return 0;
}

uint64_t ctl_json_get_uint(const ctl_json_t *obj, const char *key, uint64_t dflt)
{
	uint64_t u;
	return ctl_json_uint(ctl_json_get(obj, key), &u) == 0 ? u : dflt;
}
