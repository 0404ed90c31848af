/* SPDX-License-Identifier: MIT */
/*
 * A battery's /History paths. The daemon accumulates them from its own
 * snapshots, except where the BMS keeps its own lifetime counter (charge
 * cycles; low/high voltage alarms from protection event counters).
 */
#include "publish/history.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bms/fields.h"
#include "publish/pathids.h"
#include "publish/paths.h"

static void extremes(bool *have, double *lo, double *hi, double vlo, double vhi)
{
	if (!*have || vlo < *lo)
		*lo = vlo;
	if (!*have || vhi > *hi)
		*hi = vhi;
	*have = true;
}

/* SOC below which an empty pack counts as a new full discharge again (as the Python driver) */
#define REARM_CPCT 1500u

void publish_history_update(struct publish_history *h, const struct bms_snapshot *s,
			    const struct bms_stats *cs, uint64_t snap_ms, uint32_t poll_interval_ms)
{
	if (s->valid & BMS_V_VOLTAGE) {
		double vv = bms_mv_to_v(s->voltage_mv);
		extremes(&h->have_v, &h->min_v, &h->max_v, vv, vv);
	}
	if (cs->cell_count)
		extremes(&h->have_cell, &h->min_cell, &h->max_cell, bms_mv_to_v(cs->cell_min_mv),
			 bms_mv_to_v(cs->cell_max_mv));
	if (cs->temp_count)
		extremes(&h->have_temp, &h->min_temp, &h->max_temp, cs->temp_min_dc / 10.0,
			 cs->temp_max_dc / 10.0);
	if ((s->valid & (BMS_V_CAP_FULL | BMS_V_CAP_REMAIN)) ==
		    (BMS_V_CAP_FULL | BMS_V_CAP_REMAIN) &&
	    s->capacity_full_mah >= s->capacity_remain_mah && s->capacity_remain_mah >= 0) {
		double used = (s->capacity_full_mah - s->capacity_remain_mah) / 1000.0;
		if (!h->have_deepest || used > h->deepest_ah)
			h->deepest_ah = used;
		h->have_deepest = true;
	}
	if (s->valid & BMS_V_SOC) {
		/* a full charge: SOC reaching 100 % (counted once until it drops below) */
		bool full = s->soc_cpct >= 10000u;
		if (full && !h->at_full) {
			h->syncs++;
			h->since_full_s = 0;
			h->have_full = true;
		}
		h->at_full = full;
		if (s->soc_cpct == 0 && h->empty_armed) {
			h->full_discharges++;
			h->empty_armed = false;
		} else if (s->soc_cpct > REARM_CPCT) {
			h->empty_armed = true;
		}
	}
	if (s->valid & BMS_V_ALARMS) {
		/* our own count of rising alarm edges; the BMS's counters win when it has them */
		bool lo = s->alarm[BMS_ALARM_LOW_VOLTAGE] >= 2 ||
			  s->alarm[BMS_ALARM_LOW_CELL_VOLTAGE] >= 2;
		bool hi = s->alarm[BMS_ALARM_HIGH_VOLTAGE] >= 2 ||
			  s->alarm[BMS_ALARM_HIGH_CELL_VOLTAGE] >= 2;
		h->low_alarms += lo && !h->low_on;
		h->high_alarms += hi && !h->high_on;
		h->low_on = lo;
		h->high_on = hi;
	}
	if (h->last_ms && snap_ms > h->last_ms) {
		/* a gap much longer than a poll is missing data, not a long steady interval */
		uint64_t cap = 3ull * (poll_interval_ms ? poll_interval_ms : 1000u);
		uint64_t dt = snap_ms - h->last_ms;
		double sec = (double)(dt < cap ? dt : cap) / 1000.0;
		double w;
		if (publish_snap_power(s, &w)) {
			double kwh = w * sec / 3.6e6;
			if (kwh > 0)
				h->charged_kwh += kwh;
			else
				h->discharged_kwh -= kwh;
		}
		if (s->valid & BMS_V_CURRENT) {
			bool dis = s->current_ma < 0;
			if (dis && !h->discharging)
				h->last_ah = 0; /* a new discharge starts */
			if (dis) {
				double ah = -bms_ma_to_a(s->current_ma) * sec / 3600.0;
				h->last_ah += ah;
				h->total_ah += ah;
			}
			h->discharging = dis;
		}
		if (h->have_full)
			h->since_full_s += (double)dt / 1000.0;
	}
	h->last_ms = snap_ms;
	h->dirty = true;
}

/* Rounded so a path changes (and is sent) once per step, not every cycle. */
static double round_to(double v, double step)
{
	return round(v / step) * step;
}

void publish_history_fill(struct publish_tree *t, const struct publish_history *h,
			  const struct bms_snapshot *s)
{
	publish_set_int_if(t, PP_HISTORY_CHARGE_CYCLES, s->valid & BMS_V_CYCLES,
			   (int32_t)(s->cycles & 0x7fffffff));
	publish_set_double_if(t, PP_HISTORY_MINIMUM_VOLTAGE, h->have_v, h->min_v);
	publish_set_double_if(t, PP_HISTORY_MAXIMUM_VOLTAGE, h->have_v, h->max_v);
	publish_set_double_if(t, PP_HISTORY_MINIMUM_CELL_VOLTAGE, h->have_cell, h->min_cell);
	publish_set_double_if(t, PP_HISTORY_MAXIMUM_CELL_VOLTAGE, h->have_cell, h->max_cell);
	publish_set_double_if(t, PP_HISTORY_MINIMUM_TEMPERATURE, h->have_temp, h->min_temp);
	publish_set_double_if(t, PP_HISTORY_MAXIMUM_TEMPERATURE, h->have_temp, h->max_temp);
	/* energy and Ah only from the first integration step: before it nothing is known */
	bool run =
		h->last_ms != 0 || h->charged_kwh > 0 || h->discharged_kwh > 0 || h->total_ah > 0;
	publish_set_double_if(t, PP_HISTORY_CHARGED_ENERGY, run, round_to(h->charged_kwh, 0.001));
	publish_set_double_if(t, PP_HISTORY_DISCHARGED_ENERGY, run,
			      round_to(h->discharged_kwh, 0.001));
	/* Victron publishes Ah taken out as negative numbers */
	publish_set_double_if(t, PP_HISTORY_TOTAL_AH_DRAWN, run, -round_to(h->total_ah, 0.01));
	publish_set_double_if(t, PP_HISTORY_LAST_DISCHARGE, run, -round_to(h->last_ah, 0.01));
	publish_set_double_if(t, PP_HISTORY_DEEPEST_DISCHARGE, h->have_deepest,
			      -round_to(h->deepest_ah, 0.01));
	bool cyc = (s->valid & BMS_V_CYCLES) && s->cycles > 0;
	publish_set_double_if(t, PP_HISTORY_AVERAGE_DISCHARGE, run && cyc,
			      cyc ? -round_to(h->total_ah / s->cycles, 0.01) : 0);
	publish_set_int_if(t, PP_HISTORY_FULL_DISCHARGES, run, h->full_discharges);
	publish_set_int_if(t, PP_HISTORY_AUTOMATIC_SYNCS, run, h->syncs);
	publish_set_int_if(t, PP_HISTORY_TIME_SINCE_LAST_FULL_CHARGE, h->have_full,
			   (int32_t)fmin(floor(h->since_full_s / 60.0) * 60.0, 2147483647.0));
	/* the BMS's lifetime counters (paths.c fill_prot_events) win when it keeps them */
	if (!(s->valid & BMS_V_PROT_EVENTS)) {
		/* our count: known once the BMS reports alarms (or we counted some before) */
		bool al = (s->valid & BMS_V_ALARMS) || h->low_alarms || h->high_alarms;
		publish_set_int_if(t, PP_HISTORY_LOW_VOLTAGE_ALARMS, al, h->low_alarms);
		publish_set_int_if(t, PP_HISTORY_HIGH_VOLTAGE_ALARMS, al, h->high_alarms);
	}
}

int publish_history_clear(struct publish_history *h, int32_t group)
{
	if (group < PUBLISH_HIST_ALL || group > PUBLISH_HIST_ENERGY)
		return -EINVAL;
	bool all = group == PUBLISH_HIST_ALL;
	if (all || group == PUBLISH_HIST_CAPACITY) {
		h->total_ah = h->last_ah = h->deepest_ah = 0;
		h->have_deepest = false;
		h->full_discharges = 0;
	}
	if (all || group == PUBLISH_HIST_VOLTAGE)
		h->have_v = h->have_cell = false;
	if (all || group == PUBLISH_HIST_TIME) {
		h->have_full = false;
		h->since_full_s = 0;
		h->syncs = 0;
	}
	if (all || group == PUBLISH_HIST_ALARMS)
		h->low_alarms = h->high_alarms = 0;
	if (all || group == PUBLISH_HIST_TEMPERATURE)
		h->have_temp = false;
	if (all || group == PUBLISH_HIST_ENERGY)
		h->charged_kwh = h->discharged_kwh = 0;
	h->dirty = true;
	return 0;
}

/* ---- text form ---- */

enum kind { K_D, K_I, K_B };
struct field {
	const char *name;
	enum kind kind;
	size_t off;
};
#define FD(n, m)                                                                                   \
	{                                                                                          \
		n, K_D, offsetof(struct publish_history, m)                                        \
	}
#define FI(n, m)                                                                                   \
	{                                                                                          \
		n, K_I, offsetof(struct publish_history, m)                                        \
	}
#define FB(n, m)                                                                                   \
	{                                                                                          \
		n, K_B, offsetof(struct publish_history, m)                                        \
	}
static const struct field fields[] = {
	FB("have_v", have_v),
	FD("min_v", min_v),
	FD("max_v", max_v),
	FB("have_cell", have_cell),
	FD("min_cell", min_cell),
	FD("max_cell", max_cell),
	FB("have_temp", have_temp),
	FD("min_temp", min_temp),
	FD("max_temp", max_temp),
	FD("charged_kwh", charged_kwh),
	FD("discharged_kwh", discharged_kwh),
	FD("total_ah", total_ah),
	FD("last_ah", last_ah),
	FB("have_deepest", have_deepest),
	FD("deepest_ah", deepest_ah),
	FB("have_full", have_full),
	FD("since_full_s", since_full_s),
	FI("full_discharges", full_discharges),
	FI("syncs", syncs),
	FI("low_alarms", low_alarms),
	FI("high_alarms", high_alarms),
	FB("empty_armed", empty_armed),
	FB("at_full", at_full),
};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

int publish_history_format(const struct publish_history *h, char *buf, size_t len)
{
	size_t n = 0;
	const char *base = (const char *)h;
	for (size_t i = 0; i < NFIELDS; i++) {
		const struct field *f = &fields[i];
		int w;
		if (f->kind == K_D)
			w = snprintf(buf + n, len - n, "%s %.17g\n", f->name,
				     *(const double *)(const void *)(base + f->off));
		else if (f->kind == K_I)
			w = snprintf(buf + n, len - n, "%s %d\n", f->name,
				     *(const int32_t *)(const void *)(base + f->off));
		else
			w = snprintf(buf + n, len - n, "%s %d\n", f->name,
				     *(const bool *)(const void *)(base + f->off) ? 1 : 0);
		if (w < 0 || (size_t)w >= len - n)
			return -ENOSPC;
		n += (size_t)w;
	}
	return (int)n;
}

int publish_history_parse(struct publish_history *h, const char *text)
{
	struct publish_history tmp;
	memset(&tmp, 0, sizeof(tmp));
	char *base = (char *)&tmp;
	const char *p = text;
	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t ll = eol ? (size_t)(eol - p) : strlen(p);
		char line[128], name[64];
		if (ll >= sizeof(line))
			return -EINVAL;
		memcpy(line, p, ll);
		line[ll] = 0;
		p += ll + (eol ? 1 : 0);
		if (!line[0])
			continue;
		char *sp = strchr(line, ' ');
		if (!sp || (size_t)(sp - line) >= sizeof(name))
			return -EINVAL;
		memcpy(name, line, (size_t)(sp - line));
		name[sp - line] = 0;
		char *end;
		double v = strtod(sp + 1, &end);
		if (end == sp + 1 || *end || !isfinite(v))
			return -EINVAL;
		for (size_t i = 0; i < NFIELDS; i++) {
			const struct field *f = &fields[i];
			if (strcmp(f->name, name) != 0)
				continue;
			if (f->kind == K_D)
				*(double *)(void *)(base + f->off) = v;
			else if (f->kind == K_I) {
				if (v < 0 || v > 2147483647.0 || v != floor(v))
					return -EINVAL;
				*(int32_t *)(void *)(base + f->off) = (int32_t)v;
			} else {
				if (v != 0 && v != 1)
					return -EINVAL;
				*(bool *)(void *)(base + f->off) = v != 0;
			}
		}
	}
	*h = tmp;
	return 0;
}
