/* world.c -- build a world snapshot from the config file (see world.h). */
#include "config.h"
#include "world.h"

#include <stdlib.h>

world_t *world_load(const char *path, uint64_t generation, conf_errs_t *e)
{
	const char **names = NULL, **files = NULL;
	world_t *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->generation = generation;
	w->loaded_at = time(NULL);
	w->conf = server_conf_load(path, e);
	if (!w->conf)
		goto fail;
	size_t n = w->conf->n_zones;
	names = calloc(n ? n : 1, sizeof(*names));
	files = calloc(n ? n : 1, sizeof(*files));
	if (!names || !files)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		names[i] = w->conf->zones[i].name;
		files[i] = w->conf->zones[i].file;
	}
	w->zones = zoneset_load(names, files, n, e);
	if (!w->zones)
		goto fail;
	w->answer.zones = w->zones;
	w->answer.edns_udp_size = (uint16_t)w->conf->edns_udp_size;
	free(names);
	free(files);
	return w;
fail:
	free(names);
	free(files);
	world_free(w);
	return NULL;
}

void world_free(world_t *w)
{
	if (!w)
		return;
	zoneset_free(w->zones);
	server_conf_free(w->conf);
	free(w);
}
