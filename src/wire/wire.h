/* wire.h -- DNS wire format: query parsing, EDNS(0)/ECS, bounds-checked response writing.
 *
 * This module includes nothing from the server, so it can be unit-tested and
 * fuzzed alone. Nothing here allocates memory. */
#ifndef WAYMARK_WIRE_WIRE_H
#define WAYMARK_WIRE_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WIRE_HDR_LEN 12
#define WIRE_NAME_MAX 255 /* RFC 1035 §2.3.4, wire length including the root label */
#define WIRE_LABEL_MAX 63
#define WIRE_LABELS_MAX 128 /* 127 one-byte labels + root */
#define WIRE_UDP_MIN 512    /* RFC 1035 §4.2.1 */
#define WIRE_MSG_MAX 65535

/* RR types and classes this server treats specially. */
enum {
	WIRE_T_A = 1,
	WIRE_T_NS = 2,
	WIRE_T_CNAME = 5,
	WIRE_T_SOA = 6,
	WIRE_T_PTR = 12,
	WIRE_T_MX = 15,
	WIRE_T_TXT = 16,
	WIRE_T_AAAA = 28,
	WIRE_T_SRV = 33,
	WIRE_T_DNAME = 39,
	WIRE_T_OPT = 41,
	WIRE_T_DS = 43,
	WIRE_T_RRSIG = 46,
	WIRE_T_IXFR = 251,
	WIRE_T_AXFR = 252,
	WIRE_T_MAILB = 253,
	WIRE_T_MAILA = 254,
	WIRE_T_ANY = 255,
};
enum { WIRE_C_IN = 1, WIRE_C_CH = 3, WIRE_C_ANY = 255 };
enum {
	WIRE_RCODE_NOERROR = 0,
	WIRE_RCODE_FORMERR = 1,
	WIRE_RCODE_SERVFAIL = 2,
	WIRE_RCODE_NXDOMAIN = 3,
	WIRE_RCODE_NOTIMP = 4,
	WIRE_RCODE_REFUSED = 5,
	WIRE_RCODE_BADVERS = 16, /* extended, RFC 6891 §9 */
};
enum { WIRE_OPCODE_QUERY = 0 };
enum { WIRE_EDNS_OPT_ECS = 8 };

/* Header flag bits, as they sit in the 16-bit flags word. */
#define WIRE_F_QR 0x8000u
#define WIRE_F_AA 0x0400u
#define WIRE_F_TC 0x0200u
#define WIRE_F_RD 0x0100u
#define WIRE_F_RA 0x0080u
#define WIRE_F_AD 0x0020u
#define WIRE_F_CD 0x0010u
#define WIRE_EDNS_DO 0x8000u

/* What the parser decided about a packet. */
typedef enum {
	WIRE_OK = 0,	  /* a well-formed QUERY: answer it */
	WIRE_DROP,	  /* do not answer: shorter than a header, or QR=1 */
	WIRE_FORMERR,	  /* answer FORMERR (question echoed when `has_question`) */
	WIRE_NOTIMP,	  /* opcode other than QUERY: answer NOTIMP */
	WIRE_BADVERS,	  /* EDNS version > 0: answer BADVERS with OPT (RFC 6891 §6.1.3) */
} wire_verdict_t;

/* EDNS Client Subnet (RFC 7871) as received. `addr` holds the address bits
 * (zero beyond `source`), IPv4 in the first 4 bytes. */
typedef struct wire_ecs {
	uint16_t family; /* 1 = IPv4, 2 = IPv6 */
	uint8_t source;
	uint8_t scope;
	uint8_t addr[16];
} wire_ecs_t;

/* A parsed query. Every pointer points into the packet it was parsed from. */
typedef struct wire_query {
	uint16_t id;
	uint16_t flags; /* as received */
	uint8_t opcode;
	bool has_question;     /* the question was parsed (also for FORMERR/NOTIMP) */
	const uint8_t *qname;  /* the name as received (case preserved) */
	uint8_t qname_len;     /* wire length, root label included */
	uint8_t qname_labels;  /* labels, root not counted */
	uint16_t qtype;
	uint16_t qclass;
	size_t question_len; /* name + type + class, to echo the question as received */
	/* The name lower-cased, and where each label starts in it (label_off[i]
	 * for i in 0..qname_labels; label_off[qname_labels] is the root). */
	uint8_t qname_lc[WIRE_NAME_MAX];
	uint8_t label_off[WIRE_LABELS_MAX];
	/* EDNS(0), RFC 6891 */
	bool has_edns;
	uint8_t edns_version;
	uint16_t edns_udp; /* requestor's payload size, as sent */
	uint16_t edns_flags;
	bool has_ecs;
	wire_ecs_t ecs;
} wire_query_t;

/* Parse a query. Accepts any byte string; never reads outside [pkt, pkt+len).
 * Fills `q` as far as the packet allows and says what to do with it:
 *  - DROP for len < 12 or QR=1 (never answer a response: loops);
 *  - NOTIMP for opcodes other than QUERY (RFC 1035 §4.1.1);
 *  - FORMERR for QDCOUNT != 1, ANCOUNT or NSCOUNT != 0, a bad name
 *    (compression pointer, label > 63, name > 255, reserved label types),
 *    a short question, a bad OPT (not at the root, more than one, not the
 *    last record, option lengths that do not add up: RFC 6891 §6.1.1), a
 *    malformed ECS option (RFC 7871 §7.1.1), or trailing bytes;
 *  - BADVERS for EDNS version > 0;
 *  - OK otherwise. */
wire_verdict_t wire_parse_query(const uint8_t *pkt, size_t len, wire_query_t *q);

/* Check a wire-format name in [p, p+len): plain labels only, <= 255 bytes,
 * ending at the root label. Returns its length, or -1. */
int wire_name_check(const uint8_t *p, size_t len);
/* Number of labels of a valid wire name (root not counted). */
unsigned wire_name_labels(const uint8_t *name);
/* Lower-case ASCII letters of a valid wire name into `out` (same length). */
void wire_name_lower(const uint8_t *name, uint8_t *out);
/* Length of a valid (uncompressed) wire name, root included. */
unsigned wire_name_len(const uint8_t *name);
/* Render a valid wire name as text ("www.example.test.") into out; cut to fit. */
void wire_name_to_text(const uint8_t *name, char *out, size_t outlen);

/* A response under construction. Writes never go past `cap`: a write that
 * does not fit sets `full` and writes nothing, so a caller can write a whole
 * RRset and then check once (see wire_mark / wire_rollback). */
typedef struct wire_buf {
	uint8_t *p;
	size_t len;
	size_t cap;
	bool full;
} wire_buf_t;

static inline void wire_buf_init(wire_buf_t *b, uint8_t *p, size_t cap)
{
	b->p = p;
	b->len = 0;
	b->cap = cap;
	b->full = false;
}

void wire_put(wire_buf_t *b, const void *data, size_t n);
void wire_put_u8(wire_buf_t *b, uint8_t v);
void wire_put_u16(wire_buf_t *b, uint16_t v);
void wire_put_u32(wire_buf_t *b, uint32_t v);

static inline uint16_t wire_get_u16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t wire_get_u32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline void wire_set_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Write the lower-case name `name` (valid wire form), compressed against the
 * question name of `q`, which must sit at offset 12 of the buffer: the longest
 * common suffix becomes a pointer into the question (RFC 1035 §4.1.4). */
void wire_put_name_q(wire_buf_t *b, const uint8_t *name, const wire_query_t *q);

/* Write the header and the question exactly as received. */
void wire_put_header_question(wire_buf_t *b, const wire_query_t *q, const uint8_t *pkt,
			      uint16_t flags, uint16_t qdcount);

/* Write an OPT record (RFC 6891 §6.1.2): our payload size, extended rcode
 * (rcode >> 4), version 0, the DO bit as received (RFC 3225 §3), and an ECS
 * option when `ecs` is not NULL (RFC 7871 §7.2.1: family, source and
 * address as received, `scope` ours). */
void wire_put_opt(wire_buf_t *b, uint16_t udp_size, unsigned rcode, uint16_t flags,
		  const wire_ecs_t *ecs, uint8_t scope);
/* Bytes wire_put_opt will write. */
size_t wire_opt_len(const wire_ecs_t *ecs);

/* The section counters of a response being written in `b` (header at 0). */
void wire_set_counts(wire_buf_t *b, uint16_t an, uint16_t ns, uint16_t ar);

#endif
