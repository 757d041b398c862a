/* geo_conf.h -- the `sites:` and `geo_maps:` config sections, compiled into geo maps. */
#ifndef WAYMARK_GEO_GEO_CONF_H
#define WAYMARK_GEO_GEO_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/conf.h"
#include "geo/geo.h"

/*
 * sites:
 *   nyc: { latitude: 40.71, longitude: -74.01 }   # coordinates optional
 *   lon: {}
 * geo_maps:
 *   lync:
 *     database: lab.mmdb        # optional; relative to the config file
 *     ecs: use                  # use (default) | ignore
 *     nearest: true             # order by distance where no rule decides
 *     default: [nyc, lon]       # optional; default: every site in file order
 *     nets:                     # CIDR -> order; checked before the database
 *       10.1.0.0/16: [nyc, lon]
 *     continents: { EU: [lon, nyc] }
 *     countries: { US: [nyc, lon] }
 *     subdivisions: { GB-ENG: [lon, nyc] }
 *
 * Site ids are the sites' positions in the file; every map shares them, so a
 * class's site list can be used by any service that names the map.
 */
typedef struct geo_conf_map {
	char *name;
	char *db_path; /* resolved, or NULL */
	bool ecs_use;
	geo_map_t *map;
} geo_conf_map_t;

typedef struct geo_conf {
	char **site_names;
	geo_site_t *sites;
	unsigned n_sites;
	geo_conf_map_t *maps;
	size_t n_maps;
} geo_conf_t;

/* Read and compile both sections from `d` (either may be absent). NULL on
 * any error, each added to `e` at its file:line[:col]. */
geo_conf_t *geo_conf_load(const conf_doc_t *d, conf_errs_t *e);
void geo_conf_free(geo_conf_t *g);

/* Site id by name, or -1. */
int geo_conf_site(const geo_conf_t *g, const char *name);
/* Map by name, or NULL. */
const geo_conf_map_t *geo_conf_map(const geo_conf_t *g, const char *name);

#endif
