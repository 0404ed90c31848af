/* SPDX-License-Identifier: MIT */
/*
 * Leveled logging: stderr with a monotonic timestamp, or syslog when run as a
 * service. Thread-safe (one write per message). Pure layers (bms/, charge/,
 * common/) log at debug level at most; an error is logged once, where handled.
 */
#ifndef SB_LOG_H
#define SB_LOG_H

#include <stdbool.h>

enum sb_log_level {
	SB_LOG_ERROR = 0,
	SB_LOG_WARN = 1,
	SB_LOG_INFO = 2,
	SB_LOG_DEBUG = 3,
};

/* level: messages above it are dropped; syslog: send to syslog(3) instead of stderr. */
void log_init(enum sb_log_level level, bool syslog, const char *ident);
void log_set_level(enum sb_log_level level);
bool log_enabled(enum sb_log_level level);

void log_msg(enum sb_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(SB_LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(SB_LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(SB_LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
	do {                                                                                       \
		if (log_enabled(SB_LOG_DEBUG))                                                     \
			log_msg(SB_LOG_DEBUG, __VA_ARGS__);                                        \
	} while (0)

#endif
