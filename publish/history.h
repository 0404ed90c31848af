/* SPDX-License-Identifier: MIT */
/*
 * A battery's /History paths: what the daemon accumulates from its snapshots,
 * how it is published, and its text form for the state directory.
 */
#ifndef SB_PUBLISH_HISTORY_H
#define SB_PUBLISH_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bms/bms.h"
#include "bms/stats.h"
#include "publish/busitem.h"

/* Groups of /History/Clear (the Python driver's numbering; 1 = all). */
enum publish_history_group {
	PUBLISH_HIST_ALL = 1,
	PUBLISH_HIST_CAPACITY = 2, /* Deepest/Last/AverageDischarge, TotalAhDrawn, FullDischarges */
	PUBLISH_HIST_VOLTAGE = 3,  /* Minimum/Maximum(Cell)Voltage */
	PUBLISH_HIST_TIME = 4,     /* TimeSinceLastFullCharge, AutomaticSyncs */
	PUBLISH_HIST_ALARMS = 5,   /* our own Low/HighVoltageAlarms counts */
	PUBLISH_HIST_TEMPERATURE = 6, /* Minimum/MaximumTemperature */
	PUBLISH_HIST_ENERGY = 7,      /* Charged/DischargedEnergy */
};

/* History of one battery; a have_* false means "not known yet" (published invalid). */
struct publish_history {
	bool have_v, have_cell, have_temp, have_deepest, have_full;
	double min_v, max_v, min_cell, max_cell, min_temp, max_temp;
	double charged_kwh, discharged_kwh;
	double total_ah;     /* Ah discharged, positive (published negative) */
	double last_ah;      /* Ah of the current or last discharge, positive */
	double deepest_ah;   /* most Ah ever taken out (capacity - remaining), positive */
	double since_full_s; /* running time since SOC last reached 100 % */
	int32_t full_discharges, syncs, low_alarms, high_alarms;
	bool discharging, empty_armed, at_full, low_on, high_on;
	uint64_t last_ms; /* snapshot time of the last integration step, 0 = none */
	bool dirty;       /* changed since the last save */
};

/* Advance history with a new snapshot taken at snap_ms; st: its statistics
 * from the charge result (the cells the limits came from). */
void publish_history_update(struct publish_history *h, const struct bms_snapshot *s,
			    const struct bms_stats *st, uint64_t snap_ms,
			    uint32_t poll_interval_ms);
void publish_history_fill(struct publish_tree *t, const struct publish_history *h,
			  const struct bms_snapshot *s);

/* Reset one group (enum publish_history_group); -EINVAL for another value. */
int publish_history_clear(struct publish_history *h, int32_t group);

/* Text form for the state file ("name value" lines); length or -ENOSPC. */
int publish_history_format(const struct publish_history *h, char *buf, size_t len);
/* Parse the text form into a zeroed *h; unknown names are ignored (a newer
 * version's file), a malformed line is -EINVAL with *h unchanged. */
int publish_history_parse(struct publish_history *h, const char *text);

#define PUBLISH_HISTORY_TEXT_LEN 1024

#endif
