/* wire.c -- DNS wire format: query parsing, EDNS(0)/ECS, bounds-checked response writing. */
#include "config.h"
#include "wire/wire.h"

#include <stdio.h>
#include <string.h>

/* Parse the uncompressed name at pkt[off..len) into q (qname, qname_lc,
 * label offsets). Returns the offset after the name or 0 on a bad name.
 * Queries carry no compression pointers in practice, and accepting them
 * would only add a way to make us read odd places: they are FORMERR. */
static size_t parse_qname(const uint8_t *pkt, size_t len, size_t off, wire_query_t *q)
{
	size_t start = off;
	unsigned labels = 0;
	for (;;) {
		if (off >= len)
			return 0;
		uint8_t c = pkt[off];
		if (c & 0xC0) /* pointer (11) or reserved label types (01, 10) */
			return 0;
		if (off - start + 1u + c > WIRE_NAME_MAX)
			return 0;
		q->label_off[labels] = (uint8_t)(off - start);
		if (c == 0)
			break;
		if (off + 1u + c > len)
			return 0;
		off += 1u + c;
		labels++;
	}
	off++; /* the root label */
	q->qname = pkt + start;
	q->qname_len = (uint8_t)(off - start);
	q->qname_labels = (uint8_t)labels;
	wire_name_lower(q->qname, q->qname_lc);
	return off;
}

/* Skip a name that may end in a compression pointer (other records of the
 * additional section, e.g. TSIG). Returns the offset after it, or 0. The
 * pointer is not followed: we only need to get past the name. */
static size_t skip_name(const uint8_t *pkt, size_t len, size_t off, bool *is_root)
{
	size_t start = off;
	for (;;) {
		if (off >= len)
			return 0;
		uint8_t c = pkt[off];
		if ((c & 0xC0) == 0xC0) {
			*is_root = false;
			return off + 2 <= len ? off + 2 : 0;
		}
		if (c & 0xC0)
			return 0;
		if (c == 0) {
			*is_root = (off == start);
			return off + 1;
		}
		if (off - start + 1u + c > WIRE_NAME_MAX)
			return 0;
		off += 1u + c;
	}
}

/* RFC 7871 §6 / §7.1.1: family, SOURCE within the family, exactly
 * ceil(SOURCE/8) address octets, no bits set beyond SOURCE. */
static bool parse_ecs(const uint8_t *p, size_t n, wire_ecs_t *ecs)
{
	if (n < 4)
		return false;
	memset(ecs, 0, sizeof(*ecs));
	ecs->family = wire_get_u16(p);
	ecs->source = p[2];
	ecs->scope = p[3];
	unsigned maxbits;
	if (ecs->family == 1)
		maxbits = 32;
	else if (ecs->family == 2)
		maxbits = 128;
	else
		return false;
	if (ecs->source > maxbits)
		return false;
	size_t need = (ecs->source + 7u) / 8u;
	if (n - 4 != need)
		return false;
	memcpy(ecs->addr, p + 4, need);
	if (need > 0 && (ecs->source % 8) != 0) {
		uint8_t mask = (uint8_t)(0xFFu >> (ecs->source % 8));
		if (ecs->addr[need - 1] & mask)
			return false;
	}
	return true;
}

static bool parse_opt(const uint8_t *rd, size_t rdlen, wire_query_t *q)
{
	size_t off = 0;
	while (off < rdlen) {
		if (rdlen - off < 4)
			return false;
		uint16_t code = wire_get_u16(rd + off);
		uint16_t olen = wire_get_u16(rd + off + 2);
		off += 4;
		if (olen > rdlen - off)
			return false;
		if (code == WIRE_EDNS_OPT_ECS) {
			if (q->has_ecs || !parse_ecs(rd + off, olen, &q->ecs))
				return false;
			q->has_ecs = true;
		}
		/* RFC 6891 §6.1.2: unknown options are ignored. */
		off += olen;
	}
	return true;
}

wire_verdict_t wire_parse_query(const uint8_t *pkt, size_t len, wire_query_t *q)
{
	q->has_question = false;
	q->has_edns = false;
	q->has_ecs = false;
	q->qname_len = 0;
	if (len < WIRE_HDR_LEN)
		return WIRE_DROP;
	q->id = wire_get_u16(pkt);
	q->flags = wire_get_u16(pkt + 2);
	if (q->flags & WIRE_F_QR)
		return WIRE_DROP;
	q->opcode = (uint8_t)((q->flags >> 11) & 0x0F);
	uint16_t qd = wire_get_u16(pkt + 4);
	uint16_t an = wire_get_u16(pkt + 6);
	uint16_t ns = wire_get_u16(pkt + 8);
	uint16_t ar = wire_get_u16(pkt + 10);

	size_t off = WIRE_HDR_LEN;
	if (qd == 1) {
		size_t end = parse_qname(pkt, len, off, q);
		if (end != 0 && end + 4 <= len) {
			q->qtype = wire_get_u16(pkt + end);
			q->qclass = wire_get_u16(pkt + end + 2);
			q->question_len = end + 4 - off;
			q->has_question = true;
			off = end + 4;
		}
	}
	if (q->opcode != WIRE_OPCODE_QUERY)
		return WIRE_NOTIMP;
	if (!q->has_question)
		return WIRE_FORMERR;
	if (an != 0 || ns != 0)
		return WIRE_FORMERR;

	for (unsigned i = 0; i < ar; i++) {
		bool root = false;
		size_t p = skip_name(pkt, len, off, &root);
		if (p == 0 || p + 10 > len)
			return WIRE_FORMERR;
		uint16_t type = wire_get_u16(pkt + p);
		uint16_t klass = wire_get_u16(pkt + p + 2);
		uint32_t ttl = wire_get_u32(pkt + p + 4);
		uint16_t rdlen = wire_get_u16(pkt + p + 8);
		p += 10;
		if (rdlen > len - p)
			return WIRE_FORMERR;
		if (type == WIRE_T_OPT) {
			/* RFC 6891 §6.1.1: one OPT, owned by the root. We also
			 * want it last: after it could only come a TSIG, which we
			 * do not support. */
			if (q->has_edns || !root || i != (unsigned)ar - 1)
				return WIRE_FORMERR;
			q->has_edns = true;
			q->edns_udp = klass;
			q->edns_version = (uint8_t)(ttl >> 16);
			q->edns_flags = (uint16_t)ttl;
			if (!parse_opt(pkt + p, rdlen, q))
				return WIRE_FORMERR;
		}
		off = p + rdlen;
	}
	if (off != len)
		return WIRE_FORMERR; /* trailing bytes */
	if (q->has_edns && q->edns_version > 0)
		return WIRE_BADVERS;
	return WIRE_OK;
}

int wire_name_check(const uint8_t *p, size_t len)
{
	size_t off = 0;
	for (;;) {
		if (off >= len || off >= WIRE_NAME_MAX)
			return -1;
		uint8_t c = p[off];
		if (c & 0xC0)
			return -1;
		if (c == 0)
			return (int)off + 1;
		off += 1u + c;
	}
}

unsigned wire_name_labels(const uint8_t *name)
{
	unsigned n = 0;
	while (*name) {
		name += 1u + *name;
		n++;
	}
	return n;
}

unsigned wire_name_len(const uint8_t *name)
{
	const uint8_t *p = name;
	while (*p)
		p += 1u + *p;
	return (unsigned)(p - name) + 1;
}

void wire_name_lower(const uint8_t *name, uint8_t *out)
{
	for (;;) {
		uint8_t c = *name++;
		*out++ = c;
		if (c == 0)
			return;
		for (unsigned i = 0; i < c; i++) {
			uint8_t ch = *name++;
			*out++ = (ch >= 'A' && ch <= 'Z') ? (uint8_t)(ch + 32) : ch;
		}
	}
}

void wire_name_to_text(const uint8_t *name, char *out, size_t outlen)
{
	size_t o = 0;
	if (outlen == 0)
		return;
	if (*name == 0) {
		snprintf(out, outlen, ".");
		return;
	}
	while (*name) {
		uint8_t c = *name++;
		for (unsigned i = 0; i < c; i++, name++) {
			char tmp[5];
			uint8_t ch = *name;
			if (ch == '.' || ch == '\\')
				snprintf(tmp, sizeof(tmp), "\\%c", ch);
			else if (ch <= 0x20 || ch >= 0x7F)
				snprintf(tmp, sizeof(tmp), "\\%03u", ch);
			else
				snprintf(tmp, sizeof(tmp), "%c", ch);
			size_t tl = strlen(tmp);
			if (o + tl + 1 >= outlen)
				goto done;
			memcpy(out + o, tmp, tl);
			o += tl;
		}
		if (o + 2 >= outlen)
			goto done;
		out[o++] = '.';
	}
done:
	out[o] = '\0';
}

void wire_put(wire_buf_t *b, const void *data, size_t n)
{
	if (b->full || n > b->cap - b->len) {
		b->full = true;
		return;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

void wire_put_u8(wire_buf_t *b, uint8_t v)
{
	wire_put(b, &v, 1);
}

void wire_put_u16(wire_buf_t *b, uint16_t v)
{
	uint8_t t[2] = {(uint8_t)(v >> 8), (uint8_t)v};
	wire_put(b, t, 2);
}

void wire_put_u32(wire_buf_t *b, uint32_t v)
{
	uint8_t t[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
	wire_put(b, t, 4);
}

void wire_put_name_q(wire_buf_t *b, const uint8_t *name, const wire_query_t *q)
{
	/* Label offsets of `name`, so both names can be compared from the end. */
	uint8_t off[WIRE_LABELS_MAX];
	unsigned n = 0, o = 0;
	while (name[o]) {
		off[n++] = (uint8_t)o;
		o += 1u + name[o];
	}
	unsigned qn = q->qname_labels;
	/* Count the labels both names end with (compared lower-case). */
	unsigned k = 0;
	while (k < n && k < qn) {
		const uint8_t *a = name + off[n - 1 - k];
		const uint8_t *c = q->qname_lc + q->label_off[qn - 1 - k];
		if (a[0] != c[0] || memcmp(a + 1, c + 1, a[0]) != 0)
			break;
		k++;
	}
	if (k == 0) {
		wire_put(b, name, o + 1u);
		return;
	}
	/* The labels before the common suffix, then a pointer to where that
	 * suffix starts in the question (offset 12 + label offset). */
	wire_put(b, name, off[n - k]);
	unsigned ptr = WIRE_HDR_LEN + q->label_off[qn - k];
	wire_put_u16(b, (uint16_t)(0xC000u | ptr));
}

void wire_put_header_question(wire_buf_t *b, const wire_query_t *q, const uint8_t *pkt,
			      uint16_t flags, uint16_t qdcount)
{
	wire_put_u16(b, q->id);
	wire_put_u16(b, flags);
	wire_put_u16(b, qdcount);
	wire_put_u16(b, 0);
	wire_put_u16(b, 0);
	wire_put_u16(b, 0);
	if (qdcount)
		wire_put(b, pkt + WIRE_HDR_LEN, q->question_len);
}

size_t wire_opt_len(const wire_ecs_t *ecs)
{
	size_t n = 11;
	if (ecs)
		n += 4 + 4 + (ecs->source + 7u) / 8u;
	return n;
}

void wire_put_opt(wire_buf_t *b, uint16_t udp_size, unsigned rcode, uint16_t flags,
		  const wire_ecs_t *ecs, uint8_t scope)
{
	wire_put_u8(b, 0); /* root owner */
	wire_put_u16(b, WIRE_T_OPT);
	wire_put_u16(b, udp_size);
	/* TTL: extended rcode (upper 8 of the 12 bits), version 0, flags. */
	wire_put_u32(b, ((uint32_t)(rcode >> 4) << 24) | (flags & WIRE_EDNS_DO));
	if (!ecs) {
		wire_put_u16(b, 0);
		return;
	}
	uint16_t alen = (uint16_t)((ecs->source + 7u) / 8u);
	wire_put_u16(b, (uint16_t)(4 + 4 + alen));
	wire_put_u16(b, WIRE_EDNS_OPT_ECS);
	wire_put_u16(b, (uint16_t)(4 + alen));
	wire_put_u16(b, ecs->family);
	wire_put_u8(b, ecs->source);
	wire_put_u8(b, scope);
	wire_put(b, ecs->addr, alen);
}

void wire_set_counts(wire_buf_t *b, uint16_t an, uint16_t ns, uint16_t ar)
{
	if (b->cap < WIRE_HDR_LEN)
		return;
	wire_set_u16(b->p + 6, an);
	wire_set_u16(b->p + 8, ns);
	wire_set_u16(b->p + 10, ar);
}
