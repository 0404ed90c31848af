/* SPDX-License-Identifier: MIT */
/* Plausibility of one snapshot; the limits are reasoned in docs/WORKER.md. */
#include "plausible.h"

#include <errno.h>
#include <string.h>

static const char *const chem_names[BMS_CHEM_COUNT] = {
	[BMS_CHEM_LFP] = "lfp",
	[BMS_CHEM_NMC] = "nmc",
	[BMS_CHEM_LTO] = "lto",
};

/*
 * Physical, not operating, ranges: a cell can really read anything in here
 * (deeply discharged or overcharged by a failed charger) and the BMS must show
 * it; outside, the reading is a broken sense wire or a sentinel (0, 0xFFFF).
 * LFP: works 2.5-3.65 V; below 1.5 V the copper collector dissolves, above
 * 4.5 V the electrolyte decomposes. NMC: 3.0-4.2 (4.35) V; a cell above
 * 4.8 V is in thermal runaway, not on a BMS wire. LTO: 1.5-2.8 V.
 */
static const struct bms_cell_range chem_ranges[BMS_CHEM_COUNT] = {
	[BMS_CHEM_LFP] = {1500, 4500},
	[BMS_CHEM_NMC] = {1500, BMS_PLAUSIBLE_CELL_MAX_MV},
	[BMS_CHEM_LTO] = {1000, 3200},
};

static const char *const impl_text[BMS_IMPL_COUNT] = {
	[BMS_PLAUSIBLE] = "plausible",
	[BMS_IMPL_NO_VOLTAGE] = "neither cells nor pack voltage",
	[BMS_IMPL_CELL_COUNT] = "cell count outside 1-32",
	[BMS_IMPL_CELL_COUNT_CHANGED] = "cell count differs from the registered one",
	[BMS_IMPL_CELLS] = "too many cells outside the physical range",
	[BMS_IMPL_PACK_VOLTAGE] = "pack voltage outside 0-150 V",
	[BMS_IMPL_CELL_SUM] = "pack voltage differs from the cell sum",
	[BMS_IMPL_TEMPERATURE] = "temperature outside -40..+100 degC",
	[BMS_IMPL_MOSFET_TEMPERATURE] = "MOSFET temperature outside -40..+100 degC",
	[BMS_IMPL_SOC] = "SOC above 100 %",
	[BMS_IMPL_SOH] = "SOH above 100 %",
	[BMS_IMPL_CURRENT] = "current beyond the plausible maximum",
	[BMS_IMPL_CAPACITY] = "capacity outside 0-5000 Ah",
};

const char *bms_chemistry_name(enum bms_chemistry c)
{
	return (unsigned)c < BMS_CHEM_COUNT ? chem_names[c] : "?";
}

int bms_chemistry_from_name(const char *name, enum bms_chemistry *ret)
{
	for (unsigned c = 0; name && c < BMS_CHEM_COUNT; c++)
		if (strcmp(name, chem_names[c]) == 0) {
			*ret = (enum bms_chemistry)c;
			return 0;
		}
	return -EINVAL;
}

struct bms_cell_range bms_chemistry_cell_range(enum bms_chemistry c)
{
	return chem_ranges[(unsigned)c < BMS_CHEM_COUNT ? c : BMS_CHEM_LFP];
}

const char *bms_implausible_text(enum bms_implausible why)
{
	return (unsigned)why < BMS_IMPL_COUNT ? impl_text[why] : "?";
}

int32_t bms_plausible_current_max_ma(int32_t configured_ma)
{
	if (configured_ma <= 0)
		return BMS_PLAUSIBLE_CURRENT_ANY_MA;
	int64_t m = (int64_t)configured_ma * BMS_PLAUSIBLE_CURRENT_MULT;
	if (m < BMS_PLAUSIBLE_CURRENT_FLOOR_MA)
		m = BMS_PLAUSIBLE_CURRENT_FLOOR_MA;
	return m > BMS_PLAUSIBLE_CURRENT_ANY_MA ? BMS_PLAUSIBLE_CURRENT_ANY_MA : (int32_t)m;
}

static bool temp_ok(int16_t dc)
{
	return dc >= BMS_PLAUSIBLE_TEMP_MIN_DC && dc <= BMS_PLAUSIBLE_TEMP_MAX_DC;
}

static bool cap_ok(const struct bms_snapshot *s, uint32_t bit, int32_t mah)
{
	return !(s->valid & bit) || (mah >= 0 && mah <= BMS_PLAUSIBLE_CAP_MAX_MAH);
}

/* The cells: count, range, and the pack against their sum. */
static enum bms_implausible check_cells(const struct bms_snapshot *s,
					const struct bms_plausible_limits *lim, uint32_t *bad)
{
	if (s->cell_count < 1 || s->cell_count > BMS_MAX_CELLS)
		return BMS_IMPL_CELL_COUNT;
	if (lim->cell_count && s->cell_count != lim->cell_count)
		return BMS_IMPL_CELL_COUNT_CHANGED;
	struct bms_cell_range range = bms_chemistry_cell_range(lim->chemistry);
	unsigned nbad = 0, ngood = 0;
	int64_t sum_good = 0;
	for (unsigned i = 0; i < s->cell_count; i++) {
		uint16_t v = s->cell_mv[i];
		if (v < range.min_mv || v > range.max_mv) {
			*bad |= 1u << i;
			nbad++;
		} else {
			sum_good += v;
			ngood++;
		}
	}
	/* One broken sense wire upsets the two cells on either side of it; more
	 * than that, or more than half the pack, is no wiring fault but a wrong
	 * frame or a wrong protocol. */
	if (nbad > BMS_PLAUSIBLE_MAX_BAD_CELLS || nbad * 2 > s->cell_count)
		return BMS_IMPL_CELLS;
	if (s->valid & BMS_V_VOLTAGE) {
		/* The bad cells are estimated at the mean of the good ones. Pack
		 * and cell sum are measured at different points (shunt, FETs,
		 * cable: ~1 V at 200 A) and resolutions (Daly: 0.1 V): 2 V on small
		 * packs, 5 % on large ones, so one missing or extra LFP/NMC cell on
		 * up to 16S is still seen. */
		int64_t sum = sum_good * (int64_t)s->cell_count / (int64_t)ngood;
		int64_t tol = sum / BMS_PLAUSIBLE_SUM_DIV;
		if (tol < BMS_PLAUSIBLE_SUM_TOL_MIN_MV)
			tol = BMS_PLAUSIBLE_SUM_TOL_MIN_MV;
		int64_t d = (int64_t)s->voltage_mv - sum;
		if (d > tol || d < -tol)
			return BMS_IMPL_CELL_SUM;
	}
	return BMS_PLAUSIBLE;
}

enum bms_implausible bms_plausible_check(const struct bms_snapshot *s,
					 const struct bms_plausible_limits *lim,
					 uint32_t *ret_bad_cells)
{
	static const struct bms_plausible_limits none = {0};
	if (!lim)
		lim = &none;
	uint32_t bad = 0;
	enum bms_implausible why = BMS_PLAUSIBLE;
	uint32_t v = s->valid;
	if (!(v & (BMS_V_CELLS | BMS_V_VOLTAGE)))
		why = BMS_IMPL_NO_VOLTAGE;
	else if ((v & BMS_V_VOLTAGE) &&
		 (s->voltage_mv <= 0 || s->voltage_mv > BMS_PLAUSIBLE_PACK_MAX_MV))
		why = BMS_IMPL_PACK_VOLTAGE;
	else if (v & BMS_V_CELLS)
		why = check_cells(s, lim, &bad);
	if (why == BMS_PLAUSIBLE && (v & BMS_V_TEMPS)) {
		unsigned n = s->temp_count > BMS_MAX_TEMPS ? BMS_MAX_TEMPS : s->temp_count;
		for (unsigned i = 0; i < n; i++)
			if (!temp_ok(s->temp_dc[i]))
				why = BMS_IMPL_TEMPERATURE;
	}
	if (why == BMS_PLAUSIBLE && (v & BMS_V_MOSFET_TEMP) && !temp_ok(s->mosfet_temp_dc))
		why = BMS_IMPL_MOSFET_TEMPERATURE;
	if (why == BMS_PLAUSIBLE && (v & BMS_V_SOC) && s->soc_cpct > 10000)
		why = BMS_IMPL_SOC;
	if (why == BMS_PLAUSIBLE && (v & BMS_V_SOH) && s->soh_cpct > 10000)
		why = BMS_IMPL_SOH;
	if (why == BMS_PLAUSIBLE && (v & BMS_V_CURRENT) &&
	    (s->current_ma > bms_plausible_current_max_ma(lim->max_charge_ma) ||
	     -(int64_t)s->current_ma > bms_plausible_current_max_ma(lim->max_discharge_ma)))
		why = BMS_IMPL_CURRENT;
	if (why == BMS_PLAUSIBLE && !(cap_ok(s, BMS_V_CAP_FULL, s->capacity_full_mah) &&
				      cap_ok(s, BMS_V_CAP_DESIGN, s->capacity_design_mah) &&
				      cap_ok(s, BMS_V_CAP_REMAIN, s->capacity_remain_mah)))
		why = BMS_IMPL_CAPACITY;
	if (ret_bad_cells)
		*ret_bad_cells = why == BMS_PLAUSIBLE ? bad : 0;
	return why;
}

void bms_plausible_mark(struct bms_snapshot *s, const struct bms_plausible_limits *lim,
			uint32_t bad_cells)
{
	s->cell_implausible = bad_cells;
	if (!bad_cells)
		return;
	struct bms_cell_range range = bms_chemistry_cell_range(lim ? lim->chemistry : BMS_CHEM_LFP);
	if (!(s->valid & BMS_V_ALARMS)) {
		/* The BMS sent no alarms this cycle: the others stay "ok", not unknown. */
		memset(s->alarm, 0, sizeof(s->alarm));
		s->valid |= BMS_V_ALARMS;
	}
	for (unsigned i = 0; i < BMS_MAX_CELLS; i++) {
		if (!(bad_cells & (1u << i)))
			continue;
		enum bms_alarm a = s->cell_mv[i] < range.min_mv ? BMS_ALARM_LOW_CELL_VOLTAGE
								: BMS_ALARM_HIGH_CELL_VOLTAGE;
		s->alarm[a] = 2;
	}
}
