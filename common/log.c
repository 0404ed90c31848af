/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "sbtime.h"

static atomic_int g_level = SB_LOG_INFO;
static atomic_bool g_syslog = false;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_init(enum sb_log_level level, bool use_syslog, const char *ident)
{
	atomic_store(&g_level, (int)level);
	atomic_store(&g_syslog, use_syslog);
	if (use_syslog)
		openlog(ident ? ident : "serialbattery", LOG_PID, LOG_DAEMON);
}

void log_set_level(enum sb_log_level level)
{
	atomic_store(&g_level, (int)level);
}
bool log_enabled(enum sb_log_level level)
{
	return (int)level <= atomic_load(&g_level);
}

void log_msg(enum sb_log_level level, const char *fmt, ...)
{
	if (!log_enabled(level))
		return;
	int saved = errno;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (atomic_load(&g_syslog)) {
		static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
		syslog(prio[level], "%s", msg);
	} else {
		uint64_t us = time_mono_us();
		char line[1100];
		int n = snprintf(line, sizeof(line), "[%6llu.%06llu] %-5s %s\n",
				 (unsigned long long)(us / 1000000),
				 (unsigned long long)(us % 1000000), level_names[level], msg);
		if (n > (int)sizeof(line) - 1)
			n = (int)sizeof(line) - 1;
		/* one write per line keeps lines whole across threads */
		ssize_t w = write(STDERR_FILENO, line, (size_t)n);
		(void)w;
	}
	errno = saved;
}
