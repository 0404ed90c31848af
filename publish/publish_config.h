/* SPDX-License-Identifier: MIT */
/* The `publish` config section: D-Bus publishing and bank aggregation. */
#ifndef SB_PUBLISH_CONFIG_H
#define SB_PUBLISH_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "common/config.h"

enum publish_bank_mode {
	PUBLISH_BANK_AUTO = 0, /* aggregate when two or more bank packs are known */
	PUBLISH_BANK_ON = 1,   /* always publish the aggregate (even for one pack) */
	PUBLISH_BANK_OFF = 2,  /* never: every pack is its own BMS */
};

struct publish_config {
	int64_t interval_ms;     /* publish cycle (timer) */
	bool properties_changed; /* also send per-path PropertiesChanged */
	int64_t device_instance; /* preferred VRM instance / fallback without settings */
	char product_name[CFG_STR];
	int64_t gone_remove_after_s;
	int bank_mode;               /* enum publish_bank_mode */
	struct cfg_slist bank_packs; /* identities or ttys; empty or "all" = every pack */
	int64_t bank_startup_timeout_s;
	int64_t aggregate_instance;
	double bank_share_current;      /* A: |bank current| above which pack shares are measured */
	int64_t bank_share_fall_time_s; /* a falling share decays with this time constant */
	bool keep_forced_switches;    /* /Settings/Force*Off, TurnBalancingOff survive a restart */
	int64_t current_avg_window_s; /* /CurrentAvg: the mean over this many seconds */
	double time_to_go_soc;        /* % /TimeToGo runs to without the ESS minimum SOC */
	struct cfg_ilist time_to_soc_points; /* SOC % of the /TimeToSoC/<p> paths */
	char external_source[CFG_STR];       /* battery service read for current and SOC, "" none */
	/* deadbands (0: off): a published measurement keeps its value until it moves this far */
	double deadband_cell_voltage; /* V, /Voltages/Cell<n> */
	double deadband_voltage;      /* V, /Dc/0/Voltage */
	double deadband_current;      /* A, /Dc/0/Current */
	double deadband_temperature;  /* degC, the temperature paths */
};

extern const struct cfg_key publish_cfg_keys[];

#endif
