/* geo.h -- geo maps: client address -> ordered site list, compiled at load into a prefix tree. */
#ifndef WAYMARK_GEO_GEO_H
#define WAYMARK_GEO_GEO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

/*
 * A geo map answers "in which order should this client try our sites?".
 *
 * The config loader fills a geo_spec_t and calls geo_map_compile() once per
 * load. Compilation reads everything it needs from the spec and the database
 * (the spec and the .mmdb file are not referenced afterwards, except by
 * geo_explain(), which reopens the file) and produces an immutable geo_map_t:
 * a prefix tree over 128-bit keys whose leaves are *classes*. A class is a
 * deduplicated site-order list; class 0 is always the default order. There are
 * few classes (tens), so the answer layer can prebuild one answer per class.
 *
 * Addresses are 16 bytes, network order. IPv4 lives at ::ffff:0:0/96
 * (::ffff:a.b.c.d), and prefix lengths count in that 128-bit space: an IPv4
 * /24 is 96 + 24 = 120. geo_addr_from_v4() and geo_scope_family() convert.
 *
 * Sources, first match wins (DESIGN.md §2):
 *  1. nets: CIDR -> order; the most specific net containing the address wins;
 *  2. the database record: rules by subdivision, else country, else continent
 *     (most specific wins);
 *  3. nearest: all sites ordered by great-circle distance from the record's
 *     location, ties by id, sites without coordinates last in id order (only
 *     when spec->nearest, and only when no rule matched);
 *  4. the default order (also for addresses the database has no record for).
 *
 * From a record the map reads continent.code, country.iso_code (or, when a
 * record has no country, as GeoIP2 does for satellite and anycast networks,
 * registered_country.iso_code), subdivisions[].iso_code (the last, smallest,
 * is tried first) and location.latitude/longitude.
 *
 * A geo_map_t is immutable once compiled: any thread may call geo_lookup(),
 * geo_class_sites(), geo_explain() on it concurrently without locks.
 */

/* Limits, checked by geo_map_compile(). */
#define GEO_SITES_MAX 1024
#define GEO_CLASSES_MAX (1u << 20)

/* An ordered site list: site ids (indexes into geo_spec_t.sites), most
 * preferred first, each at most once. */
typedef struct geo_order {
	const uint16_t *ids;
	unsigned n;
} geo_order_t;

/* A site. Its id is its index in geo_spec_t.sites. */
typedef struct geo_site {
	const char *name; /* copied; used in explain output */
	bool has_coords;
	double lat, lon; /* degrees, WGS84; only with has_coords */
} geo_site_t;

/* An explicit network. addr/prefix are in the 128-bit space (IPv4 as
 * ::ffff:a.b.c.d, prefix + 96); geo_parse_prefix() makes them from text. Bits
 * beyond the prefix must be zero. */
typedef struct geo_net {
	uint8_t addr[16];
	unsigned prefix; /* 0..128 */
	geo_order_t order;
	unsigned line; /* where the caller read it, for error messages */
} geo_net_t;

typedef enum {
	GEO_MATCH_CONTINENT,   /* code: "EU" (AF AN AS EU NA OC SA) */
	GEO_MATCH_COUNTRY,     /* code: ISO 3166-1 alpha-2, "GB" */
	GEO_MATCH_SUBDIVISION, /* code: ISO 3166-2, country + subdivision, "GB-ENG", "US-CA" */
} geo_match_t;

/* A rule: records whose continent / country / subdivision equals `code`
 * (case-insensitive) get `order`. */
typedef struct geo_rule {
	geo_match_t match;
	const char *code;
	geo_order_t order;
	unsigned line;
} geo_rule_t;

/* Everything a map is made of. All pointers are borrowed for the duration of
 * geo_map_compile() only. */
typedef struct geo_spec {
	const char *source;  /* file name for messages ("waymark.yaml"), may be NULL */
	const char *db_path; /* GeoIP2/GeoLite2 City or Country .mmdb; NULL: nets + default only */
	const geo_site_t *sites;
	unsigned n_sites; /* 1..GEO_SITES_MAX */
	const geo_net_t *nets;
	size_t n_nets;
	const geo_rule_t *rules;
	size_t n_rules;
	bool nearest;
	/* Used where nothing else decides. n == 0 means every site in id order. */
	geo_order_t default_order;
} geo_spec_t;

typedef struct geo_map geo_map_t;

/*
 * Compile a map. Returns a new map, which the caller frees with
 * geo_map_free(), or NULL with a one-line message in err[errlen]. err is not
 * touched on success.
 *
 * Errors in the spec name the caller's line ("waymark.yaml:12: ..."): a site id
 * out of range or repeated in an order, an empty order, a malformed rule code,
 * two rules for the same code, a net with host bits set, and two nets with the
 * same prefix (both lines named; overlapping nets of different lengths are
 * fine: the most specific wins).
 *
 * Errors in the database name the file: it cannot be opened or its metadata is
 * invalid (libmaxminddb's message), its search tree points outside the file,
 * loops, or is deeper than the address, a data record does not decode, or no
 * record has any of continent, country or location (not a City/Country db).
 *
 * The database is read once: its search tree is walked iteratively (each node
 * once, even where IPv4 is aliased at several places), each distinct data
 * record is decoded once, sibling leaves of the same class are merged, nets
 * are laid over the result, and the tree is packed into a multibit trie.
 * IPv4 addresses (::ffff:0:0/96) are answered from the database's IPv4 subtree
 * (::/96, the one libmaxminddb uses for AF_INET), whether or not the file
 * aliases ::ffff:0:0/96 itself; an IPv4-only database serves that range only.
 */
geo_map_t *geo_map_compile(const geo_spec_t *spec, char *err, size_t errlen);

void geo_map_free(geo_map_t *m);

/*
 * The class for `addr`. Only the first `source_bits` bits of `addr` count (the
 * rest are read as zero): pass 128 for a packet's source address, and for
 * EDNS Client Subnet the SOURCE PREFIX-LENGTH in the 128-bit space (an IPv4
 * /24 is 120). *scope_bits (if not NULL) gets the length of the prefix the
 * class holds for, capped at source_bits: the ECS SCOPE PREFIX-LENGTH
 * (RFC 7871 §7.2.1) after geo_scope_family(). Below the cap, every address
 * inside that prefix has the same class; at the cap, the source prefix was
 * not specific enough and the class is that of its first address.
 *
 * No allocation, no locks, no libmaxminddb: one direct table for the first 16
 * bits (of IPv4 after ::ffff:0:0/96), then a walk of 4-bit blocks of one cache
 * line each: at most 4 steps for IPv4, 28 for IPv6 (a /48 takes 8).
 */
uint32_t geo_lookup(const geo_map_t *m, const uint8_t addr[16], unsigned source_bits,
		    unsigned *scope_bits);

/* Number of classes (>= 1); class ids are 0 .. count-1, 0 is the default. */
uint32_t geo_class_count(const geo_map_t *m);

/* The site ids of class `cls`, most preferred first; *n gets their number.
 * Owned by the map. NULL and *n = 0 if `cls` is out of range. */
const uint16_t *geo_class_sites(const geo_map_t *m, uint32_t cls, unsigned *n);

/* Name of site `id` (copied from the spec), or NULL. */
const char *geo_site_name(const geo_map_t *m, unsigned id);

/* What decided an address's class. */
typedef enum {
	GEO_SRC_DEFAULT,
	GEO_SRC_NET,
	GEO_SRC_RULE,
	GEO_SRC_NEAREST,
} geo_source_t;

/* A decoded database record, the fields the map uses. Strings are empty when
 * the record lacks them. */
typedef struct geo_record {
	char continent[4];
	char country[4];
	bool country_is_registered; /* country missing; registered_country used */
	unsigned n_subdivisions;
	char subdivisions[4][8]; /* largest first, as GeoIP2 stores them */
	bool has_location;
	double lat, lon;
} geo_record_t;

typedef struct geo_explain {
	uint32_t cls;
	unsigned scope;     /* as geo_lookup() */
	uint8_t addr[16];   /* the address looked up: masked to the source prefix */
	uint8_t prefix[16]; /* the address masked to `scope` */
	geo_source_t source;
	unsigned line;          /* the net's or the rule's line, 0 otherwise */
	geo_match_t rule_match; /* with GEO_SRC_RULE */
	bool db_used;           /* a database was consulted (no net matched) */
	bool db_found;          /* it has a record for the address */
	unsigned db_prefix;     /* the database's own prefix for it (128-bit space) */
	geo_record_t rec;       /* with db_found */
	bool db_changed; /* the file on disk is no longer the one compiled: rec is from the new one
			  */
} geo_explain_t;

/*
 * Explain the class of `addr` (same arguments as geo_lookup()) for the
 * control socket: the compiled answer, the net or rule that decided it, and
 * the database record. The record is read again from db_path (the compiled
 * tree keeps classes, not records); if the file changed since compile time,
 * ex->db_changed is set and the compiled class stays the authoritative
 * answer. Returns 0, or -1 with a message if the database cannot be read.
 * Not for the packet path.
 */
int geo_explain(const geo_map_t *m, const uint8_t addr[16], unsigned source_bits, geo_explain_t *ex,
		char *err, size_t errlen);

/* One line of text for an explanation: prefix, record, decision, sites.
 * Always NUL-terminates (truncates). Returns the length it wanted, as snprintf. */
int geo_explain_format(const geo_map_t *m, const geo_explain_t *ex, char *buf, size_t len);

/* Sizes and counts, for logs and the benchmark. */
typedef struct geo_map_info {
	size_t table_bytes; /* the lookup tables and blocks */
	size_t total_bytes; /* everything the map holds */
	uint32_t blocks;    /* multibit blocks of 2^stride entries */
	uint32_t classes;
	uint32_t trie_nodes; /* binary nodes made while compiling (merged, shared) */
	uint32_t db_nodes;   /* search tree nodes in the database */
	uint32_t db_records; /* distinct data records decoded */
	unsigned stride;     /* bits per block */
} geo_map_info_t;

void geo_map_info(const geo_map_t *m, geo_map_info_t *out);

/* --- addresses --- */

/* "192.0.2.0/24", "2001:db8::/32", or a bare address (a full-length prefix).
 * IPv4 becomes ::ffff:a.b.c.d with prefix + 96. Bits beyond the prefix must
 * be zero. Returns 0, or -1 with a message. */
int geo_parse_prefix(const char *text, uint8_t addr[16], unsigned *prefix, char *err,
		     size_t errlen);

/* Text for a 128-bit prefix: "81.2.69.142/31" for IPv4-mapped prefixes of 96
 * bits or more, "2001:218::/32" otherwise. */
void geo_prefix_format(const uint8_t addr[16], unsigned prefix, char *buf, size_t len);

/* A socket address (AF_INET or AF_INET6) as 16 bytes. Returns 0, or -1 for
 * another family. */
int geo_addr_from_sockaddr(const struct sockaddr *sa, uint8_t out[16]);

static inline void geo_addr_from_v4(uint8_t out[16], const uint8_t v4[4])
{
	memset(out, 0, 10);
	out[10] = 0xff;
	out[11] = 0xff;
	memcpy(out + 12, v4, 4);
}

static inline bool geo_addr_is_v4(const uint8_t addr[16])
{
	static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	return memcmp(addr, prefix, 12) == 0;
}

/* A 128-bit scope in the address's own family, for the ECS option: IPv4
 * scopes lose 96 (floor 0). */
static inline unsigned geo_scope_family(const uint8_t addr[16], unsigned scope_bits)
{
	if (!geo_addr_is_v4(addr))
		return scope_bits;
	return scope_bits > 96 ? scope_bits - 96 : 0;
}

#endif
