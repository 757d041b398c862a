/* json.h -- a growable text buffer, a JSON writer that always emits valid JSON, a small parser. */
#ifndef WAYMARK_CTL_JSON_H
#define WAYMARK_CTL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A growable byte buffer, always NUL-terminated. Appends never fail loudly:
 * on allocation failure `oom` is set, later appends do nothing, and the
 * caller checks `oom` once when it is done. Single-threaded. */
typedef struct ctl_buf {
	char *p;
	size_t len, cap;
	bool oom;
} ctl_buf_t;

void ctl_buf_init(ctl_buf_t *b);
void ctl_buf_free(ctl_buf_t *b);
void ctl_buf_reset(ctl_buf_t *b); /* empty, memory kept */
void ctl_buf_add(ctl_buf_t *b, const void *p, size_t n);
void ctl_buf_str(ctl_buf_t *b, const char *s);
void ctl_buf_printf(ctl_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* JSON writer into a ctl_buf_t. It places the commas and colons itself;
 * strings are escaped per RFC 8259 §7 (quote, backslash, control
 * characters) and invalid UTF-8 is replaced by U+FFFD, so the output is
 * always valid JSON in UTF-8 whatever bytes it is given. Nesting deeper than
 * CTL_JW_DEPTH, or a value where a key is due, sets `bad` (a bug in the
 * caller, not bad input); the output is then not to be used. */
#define CTL_JW_DEPTH 32
typedef struct ctl_jw {
	ctl_buf_t *b;
	unsigned depth; /* 0: top level */
	bool bad;
	char kind[CTL_JW_DEPTH + 1];     /* per level: 0 top, 'a' array, 'o' object */
	bool want_key[CTL_JW_DEPTH + 1]; /* in an object: a key is due, not a value */
	uint32_t n[CTL_JW_DEPTH + 1];    /* values (or keys) written at this level */
} ctl_jw_t;

void ctl_jw_init(ctl_jw_t *w, ctl_buf_t *b);
void ctl_jw_obj(ctl_jw_t *w);
void ctl_jw_obj_end(ctl_jw_t *w);
void ctl_jw_arr(ctl_jw_t *w);
void ctl_jw_arr_end(ctl_jw_t *w);
void ctl_jw_key(ctl_jw_t *w, const char *key);
void ctl_jw_str(ctl_jw_t *w, const char *s); /* NULL writes null */
void ctl_jw_strn(ctl_jw_t *w, const char *s, size_t n);
void ctl_jw_uint(ctl_jw_t *w, uint64_t v);
void ctl_jw_int(ctl_jw_t *w, int64_t v);
void ctl_jw_bool(ctl_jw_t *w, bool v);
void ctl_jw_null(ctl_jw_t *w);
/* A value already written by another ctl_jw_t (valid JSON, not checked
 * again): lets a caller render first and reply only once it succeeded. */
void ctl_jw_raw(ctl_jw_t *w, const char *json, size_t n);
/* Key and value in one call. */
void ctl_jw_kstr(ctl_jw_t *w, const char *key, const char *s);
void ctl_jw_kuint(ctl_jw_t *w, const char *key, uint64_t v);
void ctl_jw_kint(ctl_jw_t *w, const char *key, int64_t v);
void ctl_jw_kbool(ctl_jw_t *w, const char *key, bool v);
/* Append `s` escaped as a JSON string body (no quotes) to `b`. */
void ctl_json_escape(ctl_buf_t *b, const char *s, size_t n);

/* A parsed JSON value (RFC 8259). The parser is strict: one value and
 * surrounding whitespace, no trailing commas, no comments, no NUL anywhere
 * (not even as \u0000, so every string is a C string), strings valid UTF-8
 * with paired surrogates, objects without duplicate keys, at most
 * CTL_JSON_DEPTH levels of nesting. Every value is owned by the root. */
#define CTL_JSON_DEPTH 32
typedef enum {
	CTL_JSON_NULL,
	CTL_JSON_BOOL,
	CTL_JSON_NUM,
	CTL_JSON_STR,
	CTL_JSON_ARR,
	CTL_JSON_OBJ
} ctl_json_type_t;

typedef struct ctl_json ctl_json_t;
struct ctl_json {
	ctl_json_type_t type;
	bool b;
	double num;
	bool is_int; /* a number written without fraction or exponent, in int64 range */
	int64_t i;
	bool is_uint; /* the same, not negative, in uint64 range (counters) */
	uint64_t u;
	char *str;                /* CTL_JSON_STR */
	size_t len;               /* string length, or number of items / members */
	char *key;                /* the member name, when this value is in an object */
	ctl_json_t *child, *next; /* first item / member; next sibling */
};

/* Parse text[0..len). Returns the root (free with ctl_json_free), or NULL
 * with a short reason in `err` ("expected ':' at byte 12"). */
ctl_json_t *ctl_json_parse(const char *text, size_t len, char *err, size_t errlen);
void ctl_json_free(ctl_json_t *v);

/* The member `key` of object `obj`, or NULL (also when obj is no object). */
const ctl_json_t *ctl_json_get(const ctl_json_t *obj, const char *key);
/* The string, or NULL when `v` is NULL or not a string. */
const char *ctl_json_str(const ctl_json_t *v);
/* The member `key` as a string, or NULL. */
const char *ctl_json_get_str(const ctl_json_t *obj, const char *key);
/* A non-negative integer: 0, or -1 when `v` is no such number. */
int ctl_json_uint(const ctl_json_t *v, uint64_t *out);
/* The member `key` as a non-negative integer, or `dflt`. */
uint64_t ctl_json_get_uint(const ctl_json_t *obj, const char *key, uint64_t dflt);

#endif
