/* geo_conf.c -- the `sites:` and `geo_maps:` config sections, compiled into geo maps (see geo_conf.h). */
#include "config.h"
#include "geo/geo_conf.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Arrays that live only while the specs are compiled. */
typedef struct scratch {
	void **p;
	size_t n, cap;
} scratch_t;

static void *scratch_alloc(scratch_t *s, size_t size)
{
	if (s->n == s->cap) {
		size_t ncap = s->cap ? 2 * s->cap : 16;
		void **np = realloc(s->p, ncap * sizeof(*np));
		if (!np)
			return NULL;
		s->p = np;
		s->cap = ncap;
	}
	void *m = calloc(1, size ? size : 1);
	if (m)
		s->p[s->n++] = m;
	return m;
}

static void scratch_free(scratch_t *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->p[i]);
	free(s->p);
}

int geo_conf_site(const geo_conf_t *g, const char *name)
{
	for (unsigned i = 0; i < g->n_sites; i++)
		if (strcmp(g->site_names[i], name) == 0)
			return (int)i;
	return -1;
}

const geo_conf_map_t *geo_conf_map(const geo_conf_t *g, const char *name)
{
	for (size_t i = 0; i < g->n_maps; i++)
		if (strcmp(g->maps[i].name, name) == 0)
			return &g->maps[i];
	return NULL;
}

static int get_coord(conf_errs_t *e, const conf_doc_t *d, const conf_node_t *n, const char *what,
		     double lim, double *out)
{
	const char *s;
	if (conf_get_str(e, d, n, what, &s) < 0)
		return -1;
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < -lim || v > lim) {
		conf_err(e, d, n, "%s: '%s' is not a number in -%g..%g", what, s, lim, lim);
		return -1;
	}
	*out = v;
	return 0;
}

static int load_sites(geo_conf_t *g, const conf_doc_t *d, conf_errs_t *e)
{
	const conf_node_t *sites = conf_map_get(conf_root(d), "sites");
	if (!sites)
		return 0;
	if (conf_expect(e, d, sites, CONF_MAP, "sites") < 0)
		return -1;
	size_t n = conf_len(sites);
	if (n > GEO_SITES_MAX) {
		conf_err(e, d, sites, "sites: %zu sites, at most %d", n, GEO_SITES_MAX);
		return -1;
	}
	g->site_names = calloc(n ? n : 1, sizeof(*g->site_names));
	g->sites = calloc(n ? n : 1, sizeof(*g->sites));
	if (!g->site_names || !g->sites)
		return -1;
	static const char *const keys[] = {"latitude", "longitude", NULL};
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		const char *name = conf_scalar(conf_map_key(sites, i));
		const conf_node_t *v = conf_map_val(sites, i);
		g->site_names[i] = strdup(name ? name : "");
		if (!g->site_names[i])
			return -1;
		g->sites[i].name = g->site_names[i];
		g->n_sites = (unsigned)i + 1;
		if (!name || !*name) {
			conf_err(e, d, conf_map_key(sites, i), "a site needs a name");
			rc = -1;
			continue;
		}
		/* `nyc:` alone (a null scalar) or `nyc: {}` is a site without coordinates. */
		if (conf_kind(v) == CONF_SCALAR && conf_scalar(v)[0] == '\0')
			continue;
		if (conf_check_map(e, d, v, "site", keys) < 0) {
			rc = -1;
			continue;
		}
		const conf_node_t *lat = conf_map_get(v, "latitude");
		const conf_node_t *lon = conf_map_get(v, "longitude");
		if (!lat != !lon) {
			conf_err(e, d, v, "site '%s': give both latitude and longitude, or neither",
				 name);
			rc = -1;
			continue;
		}
		if (!lat)
			continue;
		if (get_coord(e, d, lat, "latitude", 90, &g->sites[i].lat) < 0 ||
		    get_coord(e, d, lon, "longitude", 180, &g->sites[i].lon) < 0) {
			rc = -1;
			continue;
		}
		g->sites[i].has_coords = true;
	}
	return rc;
}

/* A list of site names -> an order (ids in scratch memory). */
static int get_order(geo_conf_t *g, scratch_t *s, conf_errs_t *e, const conf_doc_t *d,
		     const conf_node_t *n, const char *what, geo_order_t *out)
{
	if (conf_expect(e, d, n, CONF_SEQ, what) < 0)
		return -1;
	size_t len = conf_len(n);
	if (len == 0) {
		conf_err(e, d, n, "%s: an empty site list", what);
		return -1;
	}
	uint16_t *ids = scratch_alloc(s, len * sizeof(*ids));
	if (!ids)
		return -1;
	int rc = 0;
	for (size_t i = 0; i < len; i++) {
		const conf_node_t *item = conf_seq_at(n, i);
		const char *name;
		if (conf_get_str(e, d, item, what, &name) < 0) {
			rc = -1;
			continue;
		}
		int id = geo_conf_site(g, name);
		if (id < 0) {
			conf_err(e, d, item, "%s: unknown site '%s'", what, name);
			rc = -1;
			continue;
		}
		for (size_t k = 0; k < i; k++)
			if (ids[k] == id) {
				conf_err(e, d, item, "%s: site '%s' listed twice", what, name);
				rc = -1;
			}
		ids[i] = (uint16_t)id;
	}
	out->ids = ids;
	out->n = (unsigned)len;
	return rc;
}

static int load_rules(geo_conf_t *g, scratch_t *s, conf_errs_t *e, const conf_doc_t *d,
		      const conf_node_t *m, const char *key, geo_match_t match, geo_rule_t *rules,
		      size_t *n)
{
	const conf_node_t *sec = conf_map_get(m, key);
	if (!sec)
		return 0;
	if (conf_expect(e, d, sec, CONF_MAP, key) < 0)
		return -1;
	int rc = 0;
	for (size_t i = 0; i < conf_len(sec); i++) {
		geo_rule_t *r = &rules[(*n)++];
		r->match = match;
		r->code = conf_scalar(conf_map_key(sec, i));
		r->line = conf_line(conf_map_key(sec, i));
		if (get_order(g, s, e, d, conf_map_val(sec, i), key, &r->order) < 0)
			rc = -1;
	}
	return rc;
}

static int load_map(geo_conf_t *g, geo_conf_map_t *gm, const conf_doc_t *d, const conf_node_t *key,
		    const conf_node_t *m, conf_errs_t *e)
{
	static const char *const keys[] = {"database", "ecs",	     "nearest",	    "default", "nets",
					   "continents", "countries", "subdivisions", NULL};
	scratch_t s = {0};
	geo_spec_t spec = {0};
	int rc = 0;
	gm->name = strdup(conf_scalar(key));
	gm->ecs_use = true;
	if (!gm->name)
		return -1;
	if (conf_check_map(e, d, m, "geo map", keys) < 0)
		return -1;
	if (g->n_sites == 0) {
		conf_err(e, d, key, "geo map '%s': no sites are defined (top-level 'sites:')",
			 gm->name);
		return -1;
	}
	const conf_node_t *n;
	const char *str;
	if ((n = conf_map_get(m, "database"))) {
		if (conf_get_str(e, d, n, "database", &str) < 0)
			rc = -1;
		else if (!(gm->db_path = conf_resolve_path(d, str)))
			return -1;
	}
	if ((n = conf_map_get(m, "ecs"))) {
		if (conf_get_str(e, d, n, "ecs", &str) < 0)
			rc = -1;
		else if (strcmp(str, "use") == 0)
			gm->ecs_use = true;
		else if (strcmp(str, "ignore") == 0)
			gm->ecs_use = false;
		else {
			conf_err(e, d, n, "ecs: '%s' is neither 'use' nor 'ignore'", str);
			rc = -1;
		}
	}
	if ((n = conf_map_get(m, "nearest")) &&
	    conf_get_bool(e, d, n, "nearest", &spec.nearest) < 0)
		rc = -1;
	if ((n = conf_map_get(m, "default")) &&
	    get_order(g, &s, e, d, n, "default", &spec.default_order) < 0)
		rc = -1;

	const conf_node_t *nets = conf_map_get(m, "nets");
	geo_net_t *gnets = NULL;
	if (nets && conf_expect(e, d, nets, CONF_MAP, "nets") == 0) {
		gnets = scratch_alloc(&s, conf_len(nets) * sizeof(*gnets));
		if (!gnets)
			goto fail;
		for (size_t i = 0; i < conf_len(nets); i++) {
			const conf_node_t *k = conf_map_key(nets, i);
			geo_net_t *gn = &gnets[spec.n_nets++];
			char err[256];
			gn->line = conf_line(k);
			if (geo_parse_prefix(conf_scalar(k), gn->addr, &gn->prefix, err,
					     sizeof(err)) < 0) {
				conf_err(e, d, k, "nets: %s", err);
				rc = -1;
			}
			if (get_order(g, &s, e, d, conf_map_val(nets, i), "nets", &gn->order) < 0)
				rc = -1;
		}
	} else if (nets) {
		rc = -1;
	}

	size_t nrules = 0;
	static const char *const rkeys[3] = {"continents", "countries", "subdivisions"};
	for (int k = 0; k < 3; k++)
		if ((n = conf_map_get(m, rkeys[k])) && conf_kind(n) == CONF_MAP)
			nrules += conf_len(n);
	geo_rule_t *rules = scratch_alloc(&s, nrules * sizeof(*rules));
	if (!rules)
		goto fail;
	size_t nr = 0;
	static const geo_match_t rmatch[3] = {GEO_MATCH_CONTINENT, GEO_MATCH_COUNTRY,
					      GEO_MATCH_SUBDIVISION};
	for (int k = 0; k < 3; k++)
		if (load_rules(g, &s, e, d, m, rkeys[k], rmatch[k], rules, &nr) < 0)
			rc = -1;
	if (rc < 0)
		goto fail;

	spec.source = conf_doc_file(d);
	spec.db_path = gm->db_path;
	spec.sites = g->sites;
	spec.n_sites = g->n_sites;
	spec.nets = gnets;
	spec.rules = rules;
	spec.n_rules = nr;
	char err[512];
	gm->map = geo_map_compile(&spec, err, sizeof(err));
	if (!gm->map) {
		conf_err_raw(e, "%s", err);
		goto fail;
	}
	scratch_free(&s);
	return 0;
fail:
	scratch_free(&s);
	return -1;
}

geo_conf_t *geo_conf_load(const conf_doc_t *d, conf_errs_t *e)
{
	geo_conf_t *g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	unsigned before = e->count;
	if (load_sites(g, d, e) < 0)
		goto fail;
	const conf_node_t *maps = conf_map_get(conf_root(d), "geo_maps");
	if (maps) {
		if (conf_expect(e, d, maps, CONF_MAP, "geo_maps") < 0)
			goto fail;
		g->maps = calloc(conf_len(maps) ? conf_len(maps) : 1, sizeof(*g->maps));
		if (!g->maps)
			goto fail;
		for (size_t i = 0; i < conf_len(maps); i++) {
			g->n_maps = i + 1;
			/* -1 with no error added is out of memory: not a success. */
			if (load_map(g, &g->maps[i], d, conf_map_key(maps, i),
				     conf_map_val(maps, i), e) < 0 &&
			    e->count == before)
				goto fail;
		}
	}
	if (e->count != before)
		goto fail;
	return g;
fail:
	if (e->count == before)
		conf_err_raw(e, "%s: out of memory", conf_doc_file(d));
	geo_conf_free(g);
	return NULL;
}

void geo_conf_free(geo_conf_t *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->n_maps; i++) {
		free(g->maps[i].name);
		free(g->maps[i].db_path);
		geo_map_free(g->maps[i].map);
	}
	free(g->maps);
	for (unsigned i = 0; i < g->n_sites; i++)
		free(g->site_names[i]);
	free(g->site_names);
	free(g->sites);
	free(g);
}
