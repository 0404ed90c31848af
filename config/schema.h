/* SPDX-License-Identifier: MIT */
/*
 * The whole configuration file of both programs: one struct with a member
 * per section, one schema listing the sections. serialbatteryd runs from it;
 * the CLI reads the same file (serialbattery plan --config), so the schema
 * sits below both and neither program's code is linked into the other. A
 * module adds its section by defining struct <mod>_config + <mod>_cfg_keys[]
 * in its own folder, one member here and one line in config/schema.c.
 */
#ifndef SB_CONFIG_SCHEMA_H
#define SB_CONFIG_SCHEMA_H

#include "charge/charge.h"
#include "common/config.h"
#include "publish/publish_config.h"
#include "config/daemon_config.h"
#include "hotplug/hotplug.h"
#include "worker/worker.h"

struct sb_config {
	struct daemon_config daemon;
	struct hotplug_config udev;
	struct worker_config serial;
	struct charge_config charge;
	struct publish_config publish;
};

extern const struct cfg_schema sb_config_schema;

/*
 * Load path into *ret (defaults when path is NULL). On error (an unknown key
 * too), err says file, line and key; *ret is untouched.
 */
int sb_config_load(const char *path, struct sb_config *ret, struct cfg_error *err);

/*
 * The same, parsed in a short-lived child process (for SIGHUP): whatever the
 * parser allocates, leaks or chokes on stays in the child, so no file can
 * grow or crash the running daemon. A child that has not answered within
 * timeout_ms is killed. Returns as sb_config_load(), or -EIO (err set) when
 * the child could not run, died or timed out.
 */
int sb_config_load_isolated(const char *path, unsigned timeout_ms, struct sb_config *ret,
			    struct cfg_error *err);

/* True when the sections the publisher reads (publish, charge) are equal in a and b. */
bool sb_config_publisher_equal(const struct sb_config *a, const struct sb_config *b);

#endif
