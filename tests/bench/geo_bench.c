/* geo_bench.c -- geo map compile time, tree size and lookups/s against libmaxminddb. */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <maxminddb.h>

#include "geo/geo.h"

/*
 * usage: geo_bench [-n ADDRESSES] [-r ROUNDS] DB.mmdb...
 *
 * For each database: compile a map (five sites, continent rules, nearest for
 * the rest) and report the time, the tree's size and the peak RSS; then look
 * up the same address list with geo_lookup(), with MMDB_lookup_sockaddr()
 * alone, and with MMDB_lookup_sockaddr() plus the MMDB_get_value() calls a
 * per-query design would need to pick a site order (continent, country), and
 * report lookups per second on one thread. The address list mixes addresses
 * that land on the database's data (random walks down its tree, IPv4 and IPv6)
 * with uniform random IPv4 and IPv6 addresses.
 */

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long maxrss_kb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void random_addr(const MMDB_s *db, uint8_t a[16])
{
	for (int i = 0; i < 16; i++)
		a[i] = (uint8_t)rng();
	unsigned kind = (unsigned)(rng() % 10);
	if (kind < 1)
		return; /* uniform IPv6 */
	if (kind < 2) {
		uint8_t v4[4] = {a[0], a[1], a[2], a[3]};
		geo_addr_from_v4(a, v4);
		return;
	}
	bool v4 = kind < 7 && db->metadata.ip_version == 6;
	uint32_t node = v4 ? db->ipv4_start_node.node_value : 0;
	unsigned depth = v4 ? 96 : 0;
	if (v4) {
		static const uint8_t p[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		memcpy(a, p, 12);
	}
	while (depth < 128 && node < db->metadata.node_count) {
		MMDB_search_node_s sn;
		if (MMDB_read_node(db, node, &sn) != MMDB_SUCCESS)
			break;
		unsigned bit = (unsigned)(rng() & 1);
		uint8_t t = bit ? sn.right_record_type : sn.left_record_type;
		uint8_t other = bit ? sn.left_record_type : sn.right_record_type;
		if (t == MMDB_RECORD_TYPE_EMPTY && other != MMDB_RECORD_TYPE_EMPTY)
			bit ^= 1; /* towards data */
		if (bit)
			a[depth / 8] |= (uint8_t)(0x80 >> (depth % 8));
		else
			a[depth / 8] &= (uint8_t) ~(0x80 >> (depth % 8));
		uint64_t next = bit ? sn.right_record : sn.left_record;
		if (next >= db->metadata.node_count)
			break;
		node = (uint32_t)next;
		depth++;
	}
}

static void to_sockaddr(const uint8_t a[16], struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (geo_addr_is_v4(a)) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, a + 12, 4);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, a, 16);
	}
}

enum { NY, LON, SG, SYD, SAO };
static const geo_site_t sites[] = {
    {.name = "newyork", .has_coords = true, .lat = 40.71, .lon = -74.01},
    {.name = "london", .has_coords = true, .lat = 51.51, .lon = -0.13},
    {.name = "singapore", .has_coords = true, .lat = 1.35, .lon = 103.82},
    {.name = "sydney", .has_coords = true, .lat = -33.87, .lon = 151.21},
    {.name = "saopaulo", .has_coords = true, .lat = -23.55, .lon = -46.63},
};
static const uint16_t o_na[] = {NY, LON, SAO, SG, SYD};
static const uint16_t o_eu[] = {LON, NY, SG, SAO, SYD};
static const uint16_t o_as[] = {SG, SYD, LON, NY, SAO};
static const uint16_t o_def[] = {NY, LON, SG, SYD, SAO};
#define ORDER(a) ((geo_order_t){.ids = (a), .n = sizeof(a) / sizeof((a)[0])})
static const geo_rule_t rules[] = {
    {.match = GEO_MATCH_CONTINENT, .code = "NA", .order = ORDER(o_na), .line = 1},
    {.match = GEO_MATCH_CONTINENT, .code = "EU", .order = ORDER(o_eu), .line = 2},
    {.match = GEO_MATCH_CONTINENT, .code = "AS", .order = ORDER(o_as), .line = 3},
};

static int bench(const char *path, size_t n_addr, unsigned rounds)
{
	char err[512];
	geo_spec_t spec = {
	    .db_path = path,
	    .sites = sites,
	    .n_sites = 5,
	    .rules = rules,
	    .n_rules = 3,
	    .nearest = true,
	    .default_order = ORDER(o_def),
	};
	long rss0 = maxrss_kb();
	double best = 1e9;
	geo_map_t *m = NULL;
	for (int i = 0; i < 3; i++) {
		double t0 = now();
		geo_map_t *mi = geo_map_compile(&spec, err, sizeof(err));
		double t = now() - t0;
		if (mi == NULL) {
			fprintf(stderr, "%s\n", err);
			return -1;
		}
		best = t < best ? t : best;
		geo_map_free(m);
		m = mi;
	}
	long rss1 = maxrss_kb();
	geo_map_info_t info;
	geo_map_info(m, &info);

	MMDB_s db;
	int rc = MMDB_open(path, MMDB_MODE_MMAP, &db);
	if (rc != MMDB_SUCCESS) {
		fprintf(stderr, "%s: %s\n", path, MMDB_strerror(rc));
		return -1;
	}
	printf("%s\n", path);
	printf("  database: %u nodes, %zd bytes, %u distinct records decoded\n",
	       db.metadata.node_count, (ssize_t)db.file_size, info.db_records);
	printf("  compile: %.3f ms (best of 3); peak RSS grew %ld KiB (first compile)\n",
	       best * 1e3, rss1 - rss0);
	printf("  tree: stride %u, %u blocks, %.1f KiB table, %.1f KiB in all; %u classes; "
	       "%u binary nodes made\n",
	       info.stride, info.blocks, (double)info.table_bytes / 1024,
	       (double)info.total_bytes / 1024, info.classes, info.trie_nodes);

	uint8_t(*addrs)[16] = malloc(n_addr * 16);
	struct sockaddr_storage *sas = malloc(n_addr * sizeof(*sas));
	if (addrs == NULL || sas == NULL)
		return -1;
	for (size_t i = 0; i < n_addr; i++) {
		random_addr(&db, addrs[i]);
		to_sockaddr(addrs[i], &sas[i]);
	}

	/* the tree */
	uint64_t sink = 0;
	double t0 = now();
	for (unsigned r = 0; r < rounds; r++) {
		for (size_t i = 0; i < n_addr; i++) {
			unsigned scope;
			sink += geo_lookup(m, addrs[i], 128, &scope) + scope;
		}
	}
	double t_tree = now() - t0;

	/* libmaxminddb, lookup only */
	size_t found = 0;
	t0 = now();
	for (unsigned r = 0; r < rounds; r++) {
		for (size_t i = 0; i < n_addr; i++) {
			MMDB_lookup_result_s res =
			    MMDB_lookup_sockaddr(&db, (struct sockaddr *)&sas[i], &rc);
			found += res.found_entry;
			sink += res.netmask;
		}
	}
	double t_mmdb = now() - t0;

	/* libmaxminddb, lookup + the fields a rule needs */
	t0 = now();
	for (unsigned r = 0; r < rounds; r++) {
		for (size_t i = 0; i < n_addr; i++) {
			MMDB_lookup_result_s res =
			    MMDB_lookup_sockaddr(&db, (struct sockaddr *)&sas[i], &rc);
			if (!res.found_entry)
				continue;
			MMDB_entry_data_s d;
			if (MMDB_get_value(&res.entry, &d, "continent", "code", NULL) == 0 &&
			    d.has_data)
				sink += d.data_size;
			if (MMDB_get_value(&res.entry, &d, "country", "iso_code", NULL) == 0 &&
			    d.has_data)
				sink += d.data_size;
		}
	}
	double t_mmdb_get = now() - t0;

	double n = (double)n_addr * rounds;
	printf("  lookups: %zu addresses x %u rounds, %.0f%% with a record\n", n_addr, rounds,
	       100.0 * (double)found / n);
	printf("    geo_lookup (tree)                        %8.2f M/s  %6.1f ns\n",
	       n / t_tree / 1e6, t_tree / n * 1e9);
	printf("    MMDB_lookup_sockaddr                     %8.2f M/s  %6.1f ns\n",
	       n / t_mmdb / 1e6, t_mmdb / n * 1e9);
	printf("    MMDB_lookup_sockaddr + 2 MMDB_get_value  %8.2f M/s  %6.1f ns\n",
	       n / t_mmdb_get / 1e6, t_mmdb_get / n * 1e9);
	printf("  (checksum %llu)\n", (unsigned long long)sink);
	free(addrs);
	free(sas);
	MMDB_close(&db);
	geo_map_free(m);
	return 0;
}

int main(int argc, char **argv)
{
	size_t n_addr = 1000000;
	unsigned rounds = 5;
	int i = 1;
	for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (strcmp(argv[i], "-n") == 0)
			n_addr = strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "-r") == 0)
			rounds = (unsigned)strtoul(argv[i + 1], NULL, 10);
		else
			break;
	}
	if (i >= argc || n_addr == 0 || rounds == 0) {
		fprintf(stderr, "usage: %s [-n ADDRESSES] [-r ROUNDS] DB.mmdb...\n", argv[0]);
		return 2;
	}
	int ret = 0;
	for (; i < argc; i++)
		ret |= bench(argv[i], n_addr, rounds) != 0;
	return ret;
}
