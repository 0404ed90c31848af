/* SPDX-License-Identifier: MIT */
/* The `serial` config section: ports, detection and retry settings. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>

#include "worker.h"

#include "bms/plausible.h"

/* In the order of enum bms_chemistry. */
static const char *const chemistries[] = {"lfp", "nmc", "lto", NULL};
_Static_assert(sizeof(chemistries) / sizeof(chemistries[0]) == BMS_CHEM_COUNT + 1,
	       "one name per enum bms_chemistry");

static const struct cfg_key port_keys[] = {
	{.path = "path",
	 .type = CFG_STRING,
	 .offset = offsetof(struct worker_port_config, path),
	 .doc = "Device node this entry applies to (/dev/ttyUSB0, /dev/serial/by-id/...), or "
		"empty."},
	{.path = "match",
	 .type = CFG_STRING,
	 .offset = offsetof(struct worker_port_config, match),
	 .doc = "udev ID_SERIAL or ID_PATH of the adapter this entry applies to, or empty; "
		"survives re-enumeration, unlike path."},
	{.path = "bms",
	 .type = CFG_STRING,
	 .offset = offsetof(struct worker_port_config, bms),
	 .doc = "Empty = autodetect; a driver name (jk, jkpb, jbd, daly, ...) pins the protocol "
		"and skips detection of others. Opt-in drivers are only tried when named here."},
	{.path = "baud",
	 .type = CFG_INT,
	 .offset = offsetof(struct worker_port_config, baud),
	 .min = 0,
	 .max = 4000000,
	 .def = "0",
	 .doc = "Line speed in baud with a pinned bms; 0 = the driver's default(s)."},
	{.path = "addresses",
	 .type = CFG_INT_LIST,
	 .offset = offsetof(struct worker_port_config, addresses),
	 .min = 0,
	 .max = 255,
	 .doc = "RS485 bus addresses to poll (JK PB DIP address 1-15, Daly 0x40+n-1, ...); "
		"each is its own battery. Empty = the driver's default address."},
	{.path = "scan",
	 .type = CFG_BOOL,
	 .offset = offsetof(struct worker_port_config, scan),
	 .def = "false",
	 .doc = "Discover every answering address in the driver's range at detection "
		"(slower detection; ignored when addresses is set)."},
	{.path = "poll_interval",
	 .type = CFG_DOUBLE,
	 .offset = offsetof(struct worker_port_config, poll_interval),
	 .min = 0,
	 .max = 3600,
	 .def = "0.0",
	 .doc = "Seconds between poll cycles; 0 = the driver's default."},
	{NULL},
};

const struct cfg_key worker_cfg_keys[] = {
	{.path = "ports",
	 .type = CFG_GROUP_LIST,
	 .offset = offsetof(struct worker_config, ports),
	 .sub = port_keys,
	 .elem_size = sizeof(struct worker_port_config),
	 .max_count = WORKER_MAX_PORTS,
	 .count_offset = offsetof(struct worker_config, nports),
	 .doc = "Per-port settings, matched by match (udev identity) or path. Ports not listed "
		"are autodetected with the defaults."},
	{.path = "retries",
	 .type = CFG_INT,
	 .offset = offsetof(struct worker_config, retries),
	 .min = 0,
	 .max = 10,
	 .def = "2",
	 .doc = "Repeats of a request that got no (valid) answer within one poll cycle; a pack "
		"that keeps failing gets one attempt per cycle."},
	{.path = "detect_backoff_max",
	 .type = CFG_DOUBLE,
	 .offset = offsetof(struct worker_config, detect_backoff_max),
	 .min = 1,
	 .max = 3600,
	 .def = "60.0",
	 .doc = "Cap in seconds of the pause between detection rounds on a port where nothing "
		"answers (the pause starts at 1 s and doubles)."},
	{.path = "detect_round_max",
	 .type = CFG_DOUBLE,
	 .offset = offsetof(struct worker_config, detect_round_max),
	 .min = 0.5,
	 .max = 120,
	 .def = "10.0",
	 .doc = "Seconds one detection round over all candidates may take at most."},
	{.path = "redetect_after",
	 .type = CFG_INT,
	 .offset = offsetof(struct worker_config, redetect_after),
	 .min = 0,
	 .max = 100000,
	 .def = "10",
	 .doc = "Consecutive failed poll cycles (of every battery on the port) after which a "
		"detection round checks whether another protocol answers now; 0 = never."},
	{.path = "chemistry",
	 .type = CFG_ENUM,
	 .offset = offsetof(struct worker_config, chemistry),
	 .def = "\"lfp\"",
	 .choices = chemistries,
	 .doc = "Cell chemistry of every pack: lfp, nmc or lto. Sets the physical cell voltage "
		"range (lfp 1.5-4.5 V, nmc 1.5-4.8 V, lto 1.0-3.2 V); a cell read outside it is "
		"flagged and alarmed, a cycle with more such cells is dropped."},
	{NULL},
};

int worker_config_validate(const void *section, struct cfg_invalid *err)
{
	const struct worker_config *c = section;
	for (unsigned i = 0; i < c->nports; i++) {
		const char *name = c->ports[i].bms;
		if (name[0] && !bms_driver_find(name)) {
			char key[32];
			snprintf(key, sizeof(key), "ports[%u].bms", i);
			return cfg_invalid(err, key, "unknown driver '%s'", name);
		}
	}
	return 0;
}

bool worker_port_config_equal(const struct worker_port_config *a,
			      const struct worker_port_config *b)
{
	return cfg_keys_equal(port_keys, a, b);
}

bool worker_section_equal(const struct worker_config *a, const struct worker_config *b)
{
	/* the port list is compared port by port by the supervisor */
	for (const struct cfg_key *k = worker_cfg_keys; k->path; k++)
		if (k->type != CFG_GROUP_LIST &&
		    !cfg_keys_equal((const struct cfg_key[]){*k, {NULL}}, a, b))
			return false;
	return true;
}
