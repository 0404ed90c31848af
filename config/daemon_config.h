/* SPDX-License-Identifier: MIT */
/* The `daemon` config section: process-wide settings. */
#ifndef SB_DAEMON_CONFIG_H
#define SB_DAEMON_CONFIG_H

#include <stdbool.h>

#include "common/config.h"

struct daemon_config {
	int log_level; /* enum sb_log_level */
	bool syslog;
	char state_dir[CFG_STR];
	int64_t max_batteries;
};

extern const struct cfg_key daemon_cfg_keys[];

#endif
