/* log.h -- waymark's logger: one line per event, level + stable message + key=value. */
#ifndef WAYMARK_CORE_LOG_H
#define WAYMARK_CORE_LOG_H

#include <stdarg.h>

typedef enum { LOG_LVL_ERR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG } log_level_t;

/* Set the most verbose level printed (default LOG_LVL_INFO). Any thread. */
void log_set_level(log_level_t lvl);
log_level_t log_get_level(void);

/* Parse "error|warning|info|debug"; returns -1 on an unknown word. */
int log_level_parse(const char *word, log_level_t *out);

/* Print one line to stderr: "<UTC time> <level> <fmt...>\n". The line is
 * written with a single write(2), so lines of different threads never mix.
 * Lines longer than 1 KiB are cut. Safe from any thread, not from signal
 * handlers. */
void log_msg(log_level_t lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(log_level_t lvl, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#define log_err(...) log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
	do {                                                                                       \
		if (log_get_level() >= LOG_LVL_DEBUG)                                              \
			log_msg(LOG_LVL_DEBUG, __VA_ARGS__);                                       \
	} while (0)

#endif
