/* stats.h -- query counters: one writer per counter (its worker thread), summed by readers. */
#ifndef WAYMARK_CORE_STATS_H
#define WAYMARK_CORE_STATS_H

#include <stdatomic.h>
#include <stdint.h>

/* Each worker thread owns one stats_t and is the only thread that writes it;
 * increments are relaxed atomics so that a reader on another thread (status,
 * metrics) sees whole values without locks. */
typedef enum {
	STAT_UDP_QUERIES,
	STAT_TCP_QUERIES,
	STAT_RCODE_NOERROR,
	STAT_RCODE_FORMERR,
	STAT_RCODE_SERVFAIL,
	STAT_RCODE_NXDOMAIN,
	STAT_RCODE_NOTIMP,
	STAT_RCODE_REFUSED,
	STAT_RCODE_BADVERS,
	STAT_NODATA,
	STAT_REFERRAL,
	STAT_TRUNCATED,
	STAT_DROPPED,   /* not answered: QR=1, shorter than a header */
	STAT_MALFORMED, /* FORMERR answers plus drops of malformed packets */
	STAT_EDNS,
	STAT_TCP_ACCEPTED,
	STAT_TCP_REJECTED, /* connection limit reached */
	STAT_TCP_TIMEOUTS,
	STAT_DYNAMIC,  /* answers that used a service name (geo + health) */
	STAT_FAILOPEN, /* of those, answered as if all were up: no site was usable */
	/* Queries with a question, by QTYPE: the common types, then the rest. */
	STAT_QTYPE_A,
	STAT_QTYPE_NS,
	STAT_QTYPE_CNAME,
	STAT_QTYPE_SOA,
	STAT_QTYPE_PTR,
	STAT_QTYPE_MX,
	STAT_QTYPE_TXT,
	STAT_QTYPE_AAAA,
	STAT_QTYPE_SRV,
	STAT_QTYPE_NAPTR,
	STAT_QTYPE_DS,
	STAT_QTYPE_DNSKEY,
	STAT_QTYPE_SVCB,
	STAT_QTYPE_HTTPS,
	STAT_QTYPE_CAA,
	STAT_QTYPE_ANY,
	STAT_QTYPE_OTHER,
	STAT_COUNT
} stat_id_t;

#define STAT_QTYPE_FIRST STAT_QTYPE_A
#define STAT_QTYPE_LAST STAT_QTYPE_OTHER

typedef struct stats {
	_Alignas(64) _Atomic uint64_t c[STAT_COUNT];
	/* Answers by zone: the row of per-zone counters (indexed by
	 * zone_t.index) that belongs to this thread in the world it is
	 * answering from. The query handler points these at the row before
	 * each answer, inside its RCU read-side section, because the row
	 * belongs to one world; NULL (or a zero count) counts nothing. */
	_Atomic uint64_t *zone_answers;
	uint32_t n_zones;
} stats_t;

static inline void stats_inc(stats_t *s, stat_id_t id)
{
	atomic_fetch_add_explicit(&s->c[id], 1, memory_order_relaxed);
}

static inline void stats_zone_inc(stats_t *s, uint32_t zone_index)
{
	if (s->zone_answers && zone_index < s->n_zones)
		atomic_fetch_add_explicit(&s->zone_answers[zone_index], 1, memory_order_relaxed);
}

/* The counter for queries of type `qtype` (STAT_QTYPE_OTHER for the rest). */
static inline stat_id_t stats_qtype_id(uint16_t qtype)
{
	switch (qtype) {
	case 1:
		return STAT_QTYPE_A;
	case 2:
		return STAT_QTYPE_NS;
	case 5:
		return STAT_QTYPE_CNAME;
	case 6:
		return STAT_QTYPE_SOA;
	case 12:
		return STAT_QTYPE_PTR;
	case 15:
		return STAT_QTYPE_MX;
	case 16:
		return STAT_QTYPE_TXT;
	case 28:
		return STAT_QTYPE_AAAA;
	case 33:
		return STAT_QTYPE_SRV;
	case 35:
		return STAT_QTYPE_NAPTR;
	case 43:
		return STAT_QTYPE_DS;
	case 48:
		return STAT_QTYPE_DNSKEY;
	case 64:
		return STAT_QTYPE_SVCB;
	case 65:
		return STAT_QTYPE_HTTPS;
	case 257:
		return STAT_QTYPE_CAA;
	case 255:
		return STAT_QTYPE_ANY;
	default:
		return STAT_QTYPE_OTHER;
	}
}

/* The type mnemonic of a STAT_QTYPE_* counter ("A", "AAAA", ..., "other"),
 * or NULL for any other counter. */
const char *stats_qtype_label(stat_id_t id);

/* Add up `n` per-thread blocks into `out` (plain numbers). */
void stats_sum(const stats_t *blocks, unsigned n, uint64_t out[STAT_COUNT]);

/* The metric-style name of a counter ("udp_queries", ...). */
const char *stats_name(stat_id_t id);

#endif
