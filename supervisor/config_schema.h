/* SPDX-License-Identifier: MIT */
/*
 * The daemon's whole configuration: one struct with a member per section,
 * one schema listing the sections. A module adds its section by defining
 * struct <mod>_config + <mod>_cfg_keys[] in its own folder, one member here
 * and one line in config_schema.c.
 */
#ifndef SB_CONFIG_SCHEMA_H
#define SB_CONFIG_SCHEMA_H

#include "charge/charge.h"
#include "common/config.h"
#include "publish/publish_config.h"
#include "supervisor/daemon_config.h"
#include "udev/udev.h"
#include "worker/worker.h"

struct sb_config {
	struct daemon_config daemon;
	struct udev_config udev;
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

#endif
