/* log.c -- waymark's logger (see log.h). */
#include "config.h"
#include "core/log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Read by every thread on every log call, written by the main thread (at
 * start and on reload): relaxed atomics, nothing else depends on it. */
static _Atomic int log_level = LOG_LVL_INFO;

static const char *const level_names[] = {"error", "warning", "info", "debug"};

void log_set_level(log_level_t lvl)
{
	atomic_store_explicit(&log_level, (int)lvl, memory_order_relaxed);
}

log_level_t log_get_level(void)
{
	return (log_level_t)atomic_load_explicit(&log_level, memory_order_relaxed);
}

int log_level_parse(const char *word, log_level_t *out)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(word, level_names[i]) == 0) {
			*out = (log_level_t)i;
			return 0;
		}
	}
	return -1;
}

void log_vmsg(log_level_t lvl, const char *fmt, va_list ap)
{
	if ((int)lvl > atomic_load_explicit(&log_level, memory_order_relaxed))
		return;
	char line[1024];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = (int)strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n += snprintf(line + n, sizeof(line) - (size_t)n, ".%03ldZ %s ", ts.tv_nsec / 1000000L,
		      level_names[lvl]);
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	if (m < 0)
		m = 0;
	size_t len = (size_t)n + (size_t)m;
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	/* One write per line: lines from different threads do not interleave. */
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w;
}

void log_msg(log_level_t lvl, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(lvl, fmt, ap);
	va_end(ap);
}
