/* SPDX-License-Identifier: MIT */
#include "config_schema.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

#include "common/log.h"

static const char *const log_levels[] = {"error", "warn", "info", "debug", NULL};

const struct cfg_key daemon_cfg_keys[] = {
	{.path = "log_level", .type = CFG_ENUM, .offset = offsetof(struct daemon_config, log_level),
	 .def = "\"info\"", .choices = log_levels,
	 .doc = "Messages up to this level are logged; -v on the command line raises it."},
	{.path = "syslog", .type = CFG_BOOL, .offset = offsetof(struct daemon_config, syslog),
	 .def = "false", .doc = "Log to syslog instead of stderr (services under systemd use stderr)."},
	{.path = "state_dir", .type = CFG_STRING, .offset = offsetof(struct daemon_config, state_dir),
	 .def = "\"/var/lib/serialbattery\"",
	 .doc = "Directory for small state files (remembered protocols, charge state); created "
		"(0755) when missing. It must be the daemon user's own and not writable by group "
		"or others, or the daemon refuses to start (exit status 2)."},
	{.path = "max_batteries", .type = CFG_INT,
	 .offset = offsetof(struct daemon_config, max_batteries), .min = 1, .max = 64, .def = "16",
	 .doc = "Number of battery slots (ports x addresses) the daemon can serve."},
	{NULL},
};

static const struct cfg_section sections[] = {
	{.name = "daemon", .doc = "Process-wide settings.", .keys = daemon_cfg_keys,
	 .offset = offsetof(struct sb_config, daemon)},
	{.name = "udev", .doc = "Which serial adapters the daemon claims (see docs/SUPERVISOR.md).",
	 .keys = udev_cfg_keys, .offset = offsetof(struct sb_config, udev),
	 .validate = udev_config_validate},
	{.name = "serial", .doc = "Serial ports: detection, polling, RS485 addresses (see docs/WORKER.md).",
	 .keys = worker_cfg_keys, .offset = offsetof(struct sb_config, serial),
	 .validate = worker_config_validate},
	{.name = "charge", .doc = "Charge control: voltage and current limits, comms-loss policy (see docs/CHARGE.md).",
	 .keys = charge_cfg_keys, .offset = offsetof(struct sb_config, charge),
	 .validate = charge_config_validate},
	{.name = "publish", .doc = "D-Bus publishing and bank aggregation (see docs/DBUS.md).",
	 .keys = publish_cfg_keys, .offset = offsetof(struct sb_config, publish)},
	{NULL},
};

const struct cfg_schema sb_config_schema = {.sections = sections};

static void warn_unknown(void *ctx, const char *file, int line, const char *key)
{
	(void)ctx;
	log_warn("%s:%d: unknown key '%s' ignored", file, line, key);
}

int sb_config_load(const char *path, struct sb_config *ret, struct cfg_error *err)
{
	struct sb_config *tmp = calloc(1, sizeof(*tmp));
	if (!tmp)
		return -ENOMEM;
	int r = path ? cfg_load_file(&sb_config_schema, tmp, path, warn_unknown, NULL, err)
		     : cfg_defaults(&sb_config_schema, tmp, err);
	if (r == 0)
		*ret = *tmp;
	free(tmp);
	return r;
}
