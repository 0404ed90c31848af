/* SPDX-License-Identifier: MIT */
/*
 * Derived statistics of one snapshot: lowest, highest and sum of the cells,
 * lowest and highest battery temperature. Computed by one function with one
 * rule for which cells count, so charge/ (the limits) and publish/
 * (/System/..., /Voltages/...) can never steer by and show different cells.
 *
 * A cell counts when it is reported (index < cell_count, BMS_V_CELLS set),
 * not flagged in cell_implausible by the plausibility check, and reads
 * 1..BMS_STATS_CELL_MAX_MV. 0 is "not reported"; above the ceiling no cell of
 * any chemistry can read (the highest physical range in bms/plausible.c), so
 * it is a broken wire or a sentinel even where no plausibility check ran
 * (`serialbattery plan`, tests). A reported cell that does not count is in
 * cell_excluded: it is missing data, never a measurement.
 */
#ifndef SB_BMS_STATS_H
#define SB_BMS_STATS_H

#include <stdint.h>

#include "bms/bms.h"
#include "bms/plausible.h"

/* The highest reading a cell of any chemistry can show: one definition, in
 * bms/plausible.h, shared with the plausibility check. */
#define BMS_STATS_CELL_MAX_MV BMS_PLAUSIBLE_CELL_MAX_MV

struct bms_stats {
	uint8_t cells_reported; /* min(cell_count, BMS_MAX_CELLS) with BMS_V_CELLS, else 0 */
	uint8_t cell_count;     /* cells that count (see above) */
	uint32_t cell_excluded; /* bit n: cell n+1 is reported but does not count */
	uint16_t cell_min_mv, cell_max_mv;  /* valid when cell_count > 0 */
	uint8_t cell_min_idx, cell_max_idx; /* 0-based; the first on a tie */
	uint32_t cell_sum_mv;

	uint8_t temp_count;                 /* battery sensors (BMS_V_TEMPS), not the MOSFET */
	int16_t temp_min_dc, temp_max_dc;   /* 0.1 degC, valid when temp_count > 0 */
	uint8_t temp_min_idx, temp_max_idx; /* 0-based; the first on a tie */
	int32_t temp_sum_dc;
};

/* Fill *ret from s (all zero when s carries no cells and no temperatures). */
void bms_stats_compute(const struct bms_snapshot *s, struct bms_stats *ret);

/* True when the cell at i (0-based) counts. */
bool bms_stats_cell_counts(const struct bms_snapshot *s, unsigned i);

#endif
