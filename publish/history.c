/* SPDX-License-Identifier: MIT */
/*
 * A battery's /History paths. The daemon accumulates them from its own
 * snapshots (extremes, energy), except where the BMS keeps its own counter.
 */
#include "publish/history.h"

#include <math.h>

#include "bms/fields.h"
#include "publish/paths.h"

static void set_d(struct publish_tree *t, const char *path, bool valid, double v)
{
	if (valid)
		publish_tree_set_double(t, path, v);
	else
		publish_tree_set_invalid(t, path);
}

static void set_i(struct publish_tree *t, const char *path, bool valid, int32_t v)
{
	if (valid)
		publish_tree_set_int(t, path, v);
	else
		publish_tree_set_invalid(t, path);
}

void publish_history_update(struct publish_history *h, const struct bms_snapshot *s,
			    const struct bms_stats *cs, uint64_t snap_ms, uint32_t poll_interval_ms)
{
	if (s->valid & BMS_V_VOLTAGE) {
		double vv = bms_mv_to_v(s->voltage_mv);
		if (!h->have_v || vv < h->min_v)
			h->min_v = vv;
		if (!h->have_v || vv > h->max_v)
			h->max_v = vv;
		h->have_v = true;
	}
	if (cs->cell_count) {
		if (!h->have_cell || bms_mv_to_v(cs->cell_min_mv) < h->min_cell)
			h->min_cell = bms_mv_to_v(cs->cell_min_mv);
		if (!h->have_cell || bms_mv_to_v(cs->cell_max_mv) > h->max_cell)
			h->max_cell = bms_mv_to_v(cs->cell_max_mv);
		h->have_cell = true;
	}
	double w;
	if (h->last_ms && snap_ms > h->last_ms && publish_snap_power(s, &w)) {
		/* a gap much longer than a poll is missing data, not a long steady interval */
		uint64_t cap = 3ull * (poll_interval_ms ? poll_interval_ms : 1000u);
		uint64_t dt = snap_ms - h->last_ms;
		double kwh = w * (double)(dt < cap ? dt : cap) / 3.6e9;
		if (kwh > 0)
			h->charged_kwh += kwh;
		else
			h->discharged_kwh -= kwh;
	}
	h->last_ms = snap_ms;
}

void publish_history_fill(struct publish_tree *t, const struct publish_history *h,
			  const struct bms_snapshot *s)
{
	set_i(t, "/History/ChargeCycles", s->valid & BMS_V_CYCLES,
	      (int32_t)(s->cycles & 0x7fffffff));
	set_d(t, "/History/MinimumVoltage", h->have_v, h->min_v);
	set_d(t, "/History/MaximumVoltage", h->have_v, h->max_v);
	set_d(t, "/History/MinimumCellVoltage", h->have_cell, h->min_cell);
	set_d(t, "/History/MaximumCellVoltage", h->have_cell, h->max_cell);
	/* rounded to Wh so the path changes (and is sent) once per Wh, not every cycle */
	publish_tree_set_double(t, "/History/ChargedEnergy", round(h->charged_kwh * 1000) / 1000);
	publish_tree_set_double(t, "/History/DischargedEnergy",
				round(h->discharged_kwh * 1000) / 1000);
}
