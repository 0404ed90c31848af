/* SPDX-License-Identifier: MIT */
/* A battery's /History paths: what the daemon accumulates and how it is published. */
#ifndef SB_PUBLISH_HISTORY_H
#define SB_PUBLISH_HISTORY_H

#include <stdbool.h>
#include <stdint.h>

#include "bms/stats.h"
#include "bms/bms.h"
#include "publish/busitem.h"

/* Running history of one battery (since start; /History/Clear resets it). */
struct publish_history {
	bool have_v, have_cell;
	double min_v, max_v, min_cell, max_cell;
	double charged_kwh, discharged_kwh;
	uint64_t last_ms; /* snapshot time of the last integration step, 0 = none */
};

/* Advance history with a new snapshot taken at snap_ms; st: its statistics
 * from the charge result (the cells the limits came from). */
void publish_history_update(struct publish_history *h, const struct bms_snapshot *s,
			    const struct bms_stats *st, uint64_t snap_ms,
			    uint32_t poll_interval_ms);
void publish_history_fill(struct publish_tree *t, const struct publish_history *h,
			  const struct bms_snapshot *s);

#endif
