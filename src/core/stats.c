/* stats.c -- summing and naming of per-thread counters (see stats.h). */
#include "config.h"
#include "core/stats.h"

static const char *const stat_names[STAT_COUNT] = {
	[STAT_UDP_QUERIES] = "udp_queries",
	[STAT_TCP_QUERIES] = "tcp_queries",
	[STAT_RCODE_NOERROR] = "rcode_noerror",
	[STAT_RCODE_FORMERR] = "rcode_formerr",
	[STAT_RCODE_SERVFAIL] = "rcode_servfail",
	[STAT_RCODE_NXDOMAIN] = "rcode_nxdomain",
	[STAT_RCODE_NOTIMP] = "rcode_notimp",
	[STAT_RCODE_REFUSED] = "rcode_refused",
	[STAT_RCODE_BADVERS] = "rcode_badvers",
	[STAT_NODATA] = "nodata",
	[STAT_REFERRAL] = "referral",
	[STAT_TRUNCATED] = "truncated",
	[STAT_DROPPED] = "dropped",
	[STAT_MALFORMED] = "malformed",
	[STAT_EDNS] = "edns",
	[STAT_TCP_ACCEPTED] = "tcp_accepted",
	[STAT_TCP_REJECTED] = "tcp_rejected",
	[STAT_TCP_TIMEOUTS] = "tcp_timeouts",
};

void stats_sum(const stats_t *blocks, unsigned n, uint64_t out[STAT_COUNT])
{
	for (unsigned k = 0; k < STAT_COUNT; k++)
		out[k] = 0;
	for (unsigned i = 0; i < n; i++)
		for (unsigned k = 0; k < STAT_COUNT; k++)
			out[k] += atomic_load_explicit(&blocks[i].c[k], memory_order_relaxed);
}

const char *stats_name(stat_id_t id)
{
	return id < STAT_COUNT ? stat_names[id] : "unknown";
}
