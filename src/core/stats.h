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
	STAT_COUNT
} stat_id_t;

typedef struct stats {
	_Alignas(64) _Atomic uint64_t c[STAT_COUNT];
} stats_t;

static inline void stats_inc(stats_t *s, stat_id_t id)
{
	atomic_fetch_add_explicit(&s->c[id], 1, memory_order_relaxed);
}

/* Add up `n` per-thread blocks into `out` (plain numbers). */
void stats_sum(const stats_t *blocks, unsigned n, uint64_t out[STAT_COUNT]);

/* The metric-style name of a counter ("udp_queries", ...). */
const char *stats_name(stat_id_t id);

#endif
