/*
 * log: one line per event to stderr, "2026-11-24T06:47:00.123Z clmd info:
 * ...". Safe to call from any thread (each line is one write).
 */
#ifndef CLM_LOG_H
#define CLM_LOG_H

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* log_set_level sets the most verbose level printed (default LOG_INFO). */
void log_set_level(enum log_level level);

/* log_level_parse maps "error|warn|info|debug" to a level; -1 if unknown. */
int log_level_parse(const char *name);

void log_msg(enum log_level level, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif /* CLM_LOG_H */
