/* stats.c -- summing and naming of per-thread counters (see stats.h). */
#include "config.h"
#include "core/stats.h"

#include <stddef.h>

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
	[STAT_DYNAMIC] = "dynamic_answers",
	[STAT_FAILOPEN] = "failopen_answers",
	[STAT_QTYPE_A] = "qtype_a",
	[STAT_QTYPE_NS] = "qtype_ns",
	[STAT_QTYPE_CNAME] = "qtype_cname",
	[STAT_QTYPE_SOA] = "qtype_soa",
	[STAT_QTYPE_PTR] = "qtype_ptr",
	[STAT_QTYPE_MX] = "qtype_mx",
	[STAT_QTYPE_TXT] = "qtype_txt",
	[STAT_QTYPE_AAAA] = "qtype_aaaa",
	[STAT_QTYPE_SRV] = "qtype_srv",
	[STAT_QTYPE_NAPTR] = "qtype_naptr",
	[STAT_QTYPE_DS] = "qtype_ds",
	[STAT_QTYPE_DNSKEY] = "qtype_dnskey",
	[STAT_QTYPE_SVCB] = "qtype_svcb",
	[STAT_QTYPE_HTTPS] = "qtype_https",
	[STAT_QTYPE_CAA] = "qtype_caa",
	[STAT_QTYPE_ANY] = "qtype_any",
	[STAT_QTYPE_OTHER] = "qtype_other",
};

static const char *const qtype_labels[STAT_QTYPE_LAST - STAT_QTYPE_FIRST + 1] = {
	"A",  "NS",	"CNAME", "SOA",	 "PTR", "MX",  "TXT", "AAAA",  "SRV",
	"NAPTR", "DS", "DNSKEY", "SVCB", "HTTPS", "CAA", "ANY", "other",
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

const char *stats_qtype_label(stat_id_t id)
{
	if (id < STAT_QTYPE_FIRST || id > STAT_QTYPE_LAST)
		return NULL;
	return qtype_labels[id - STAT_QTYPE_FIRST];
}
