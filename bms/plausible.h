/* SPDX-License-Identifier: MIT */
/*
 * Plausibility of one snapshot: could a real battery have sent it? One pure
 * function, used by detection (is this our protocol at all?) and by every
 * poll cycle (may this cycle reach the store?). No I/O, no clock, no logging.
 *
 * Two outcomes besides "plausible":
 * - the whole cycle is implausible (bms_plausible_check() returns a reason):
 *   it must not be committed; repeated, the slot goes stale like a silent BMS;
 * - single cells read outside the chemistry's physical range (a broken sense
 *   wire, 0 V, 0xFFFF): the cycle stands, those cells are returned in a mask
 *   for bms_plausible_mark() and count as missing everywhere downstream.
 * The limits and why they are what they are: docs/WORKER.md "Plausibility".
 */
#ifndef SB_BMS_PLAUSIBLE_H
#define SB_BMS_PLAUSIBLE_H

#include <stdint.h>

#include "bms/bms.h"

enum bms_chemistry {
	BMS_CHEM_LFP = 0, /* LiFePO4, the default */
	BMS_CHEM_NMC = 1, /* NMC/NCA (Li-ion) */
	BMS_CHEM_LTO = 2, /* lithium titanate */
	BMS_CHEM_COUNT
};

/* "lfp", "nmc", "lto". */
const char *bms_chemistry_name(enum bms_chemistry c);
/* 0 and *ret set, or -EINVAL for an unknown name. */
int bms_chemistry_from_name(const char *name, enum bms_chemistry *ret);

/* The range a cell of this chemistry can physically read while its BMS works. */
struct bms_cell_range {
	uint16_t min_mv, max_mv; /* inclusive */
};
struct bms_cell_range bms_chemistry_cell_range(enum bms_chemistry c);

/* More cells than this out of range (or more than half the pack) is no broken wire. */
#define BMS_PLAUSIBLE_MAX_BAD_CELLS 2u
/* The highest reading a cell of any chemistry can show (NMC's ceiling below);
 * bms/stats.c counts no cell above it. */
#define BMS_PLAUSIBLE_CELL_MAX_MV 4800
/* Temperatures (battery sensors and MOSFET), 0.1 degC, inclusive. */
#define BMS_PLAUSIBLE_TEMP_MIN_DC (-400)
#define BMS_PLAUSIBLE_TEMP_MAX_DC 1000
/* Pack voltage vs the cells: the larger of this and 1/BMS_PLAUSIBLE_SUM_DIV of the sum. */
#define BMS_PLAUSIBLE_SUM_TOL_MIN_MV 2000
#define BMS_PLAUSIBLE_SUM_DIV 20
/* |current| up to this multiple of the configured maximum, but never below the floor. */
#define BMS_PLAUSIBLE_CURRENT_MULT 4
#define BMS_PLAUSIBLE_CURRENT_FLOOR_MA 200000
/* Without a configured maximum (detection in `serialbattery probe`). */
#define BMS_PLAUSIBLE_CURRENT_ANY_MA 1000000
#define BMS_PLAUSIBLE_PACK_MAX_MV 150000
#define BMS_PLAUSIBLE_CAP_MAX_MAH 5000000

struct bms_plausible_limits {
	enum bms_chemistry chemistry;
	/* The cell count fixed at registration (the first committed cycle);
	 * 0 = not registered yet: any count 1..BMS_MAX_CELLS. */
	uint8_t cell_count;
	/* Configured maxima (charge.max_charge_current / max_discharge_current),
	 * mA, positive; 0 = none configured. */
	int32_t max_charge_ma;
	int32_t max_discharge_ma;
};

/* Why a whole cycle is implausible; BMS_PLAUSIBLE (0) when it is not. */
enum bms_implausible {
	BMS_PLAUSIBLE = 0,
	BMS_IMPL_NO_VOLTAGE,         /* neither cells nor pack voltage */
	BMS_IMPL_CELL_COUNT,         /* outside 1..32 */
	BMS_IMPL_CELL_COUNT_CHANGED, /* differs from the registered count */
	BMS_IMPL_CELLS,              /* too many cells outside the physical range */
	BMS_IMPL_PACK_VOLTAGE,       /* pack voltage <= 0 or above 150 V */
	BMS_IMPL_CELL_SUM,           /* pack voltage far from the sum of the cells */
	BMS_IMPL_TEMPERATURE,        /* a battery sensor outside -40..+100 degC */
	BMS_IMPL_MOSFET_TEMPERATURE,
	BMS_IMPL_SOC,      /* above 100 % */
	BMS_IMPL_SOH,      /* above 100 % */
	BMS_IMPL_CURRENT,  /* beyond the multiple of the configured maximum */
	BMS_IMPL_CAPACITY, /* a capacity negative or above 5000 Ah */
	BMS_IMPL_COUNT
};

/* One line for logs and tests: "SOC above 100 %". */
const char *bms_implausible_text(enum bms_implausible why);

/* Largest plausible charging (discharging) current in mA for these limits, positive. */
int32_t bms_plausible_current_max_ma(int32_t configured_ma);

/*
 * Check s against lim. Returns BMS_PLAUSIBLE or the first reason the whole
 * cycle is implausible. *ret_bad_cells (may be NULL) gets bit n for cell n+1
 * outside the chemistry's range (only meaningful when the cycle is plausible).
 */
enum bms_implausible bms_plausible_check(const struct bms_snapshot *s,
					 const struct bms_plausible_limits *lim,
					 uint32_t *ret_bad_cells);

/*
 * Record the bad cells of a plausible cycle in s: cell_implausible = mask,
 * and for a cell below the range LowCellVoltage 2, above it HighCellVoltage 2
 * (BMS_V_ALARMS set; the BMS's own alarms are kept, never lowered).
 */
void bms_plausible_mark(struct bms_snapshot *s, const struct bms_plausible_limits *lim,
			uint32_t bad_cells);

#endif
