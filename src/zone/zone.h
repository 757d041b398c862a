/* zone.h -- authoritative zone data: loaded from RFC 1035 master files with ldns, immutable after load. */
#ifndef WAYMARK_ZONE_ZONE_H
#define WAYMARK_ZONE_ZONE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/conf.h"

/* A set of zones, built once and never changed after it is published: the
 * worker threads read it without locks. Every answer for static data is
 * prepared here, at load time, in wire format (see zone_rrset_t). */
typedef struct zoneset zoneset_t;
typedef struct zone zone_t;
typedef struct zone_node zone_node_t;

/* One RRset, ready to copy: for each RR, everything that follows the owner
 * name on the wire (type, class, TTL, RDLENGTH, uncompressed RDATA). */
typedef struct zone_rrset {
	uint16_t type;
	uint16_t count;
	uint32_t ttl;
	uint32_t wire_len;
	uint8_t *wire;
	/* Additional-section work resolved at load time: for each in-zone
	 * target name of NS/MX/SRV records, the node that holds its A/AAAA. */
	const zone_node_t **targets;
	uint16_t n_targets;
} zone_rrset_t;

struct zone_node {
	uint8_t *name; /* lower-case wire form */
	uint8_t name_len;
	uint8_t labels;
	uint16_t n_rrsets;
	zone_rrset_t *rrsets;
	zone_node_t *parent;	 /* NULL at the apex */
	const zone_node_t *cut;	 /* topmost delegation at or above this node (not the apex) */
	const zone_node_t *wild; /* the node "*.<this>", if the zone has one */
	const zone_node_t *hnext;
	const zone_t *zone;
	/* A dynamic name (answered by answer_params_t.dyn), or NULL. */
	const void *dyn;
};

struct zone {
	char *name_text; /* "example.test" */
	char *file;
	uint8_t *apex_name; /* lower-case wire form */
	uint8_t apex_len;
	uint8_t apex_labels;
	const zone_node_t *apex;
	const zone_rrset_t *soa;
	/* The SOA as it goes in the authority section of negative answers: TTL =
	 * min(SOA TTL, SOA MINIMUM) (RFC 2308 §5). */
	zone_rrset_t neg_soa;
	uint32_t serial;
	uint32_t index; /* position in its zoneset: 0 .. zoneset_count()-1 */
	size_t n_nodes;
	size_t n_rrs;
	/* Hash table of owner names (lower-case wire form). */
	const zone_node_t **table;
	size_t table_mask;
};

/* Load every zone. Errors are added to `e` as "file:line: message", every one
 * found (a bad zone does not stop the others from being checked). Returns
 * NULL if there was any error. `names[i]` is the zone name (text, no
 * trailing dot needed), `files[i]` its master file. */
zoneset_t *zoneset_load(const char *const *names, const char *const *files, size_t n,
			conf_errs_t *e);
void zoneset_free(zoneset_t *zs);

size_t zoneset_count(const zoneset_t *zs);
const zone_t *zoneset_zone(const zoneset_t *zs, size_t i);

/* The zone that is authoritative for `name` (lower-case wire form, with its
 * label offsets `label_off` and `labels` count as in wire_query_t): the one
 * with the longest apex that `name` is at or below. NULL: not ours. */
const zone_t *zoneset_find(const zoneset_t *zs, const uint8_t *name, const uint8_t *label_off,
			   unsigned labels);

/* The node with exactly this owner name, or NULL. */
const zone_node_t *zone_lookup(const zone_t *z, const uint8_t *name, unsigned len);

const zone_rrset_t *zone_node_rrset(const zone_node_t *n, uint16_t type);

/* Make `name` (lower-case wire form) a dynamic name of the zone it belongs
 * to, answered through `dyn`. Only while the zone set is being built, before
 * it is published. Fails (-1, message in err) when the name is in none of
 * our zones, is at or below a delegation, is a wildcard, already has static
 * data, or is dynamic already. */
int zoneset_attach_dynamic(zoneset_t *zs, const uint8_t *name, const void *dyn, char *err,
			   size_t errlen);

#endif
