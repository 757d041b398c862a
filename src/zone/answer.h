/* answer.h -- the per-query path: a parsed query and a zone set in, a response out. */
#ifndef WAYMARK_ZONE_ANSWER_H
#define WAYMARK_ZONE_ANSWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/stats.h"
#include "zone/zone.h"

typedef struct answer_params {
	const zoneset_t *zones;
	uint16_t edns_udp_size; /* what we advertise, and the most we send over UDP */
} answer_params_t;

/* Answer the DNS message req[0..len) into out[0..cap). Returns the response
 * length, or 0 when the packet must not be answered (it is counted). Accepts
 * any bytes. Does not allocate, takes no locks; `st` is the calling thread's
 * own counter block. `tcp` lifts the UDP size limit (cap is then the limit). */
size_t answer_query(const answer_params_t *p, const uint8_t *req, size_t len, bool tcp,
		    uint8_t *out, size_t cap, stats_t *st);

#endif
