/* SPDX-License-Identifier: MIT */
/* The one definition of which cells count; the rule is in stats.h. */
#include "stats.h"

#include <string.h>

bool bms_stats_cell_counts(const struct bms_snapshot *s, unsigned i)
{
	if (!(s->valid & BMS_V_CELLS) || i >= s->cell_count || i >= BMS_MAX_CELLS)
		return false;
	uint16_t v = s->cell_mv[i];
	return v != 0 && v <= BMS_STATS_CELL_MAX_MV && !((s->cell_implausible >> i) & 1u);
}

void bms_stats_compute(const struct bms_snapshot *s, struct bms_stats *ret)
{
	struct bms_stats st;
	memset(&st, 0, sizeof(st));
	if (s->valid & BMS_V_CELLS)
		st.cells_reported =
			(uint8_t)(s->cell_count > BMS_MAX_CELLS ? BMS_MAX_CELLS : s->cell_count);
	for (unsigned i = 0; i < st.cells_reported; i++) {
		if (!bms_stats_cell_counts(s, i)) {
			st.cell_excluded |= 1u << i;
			continue;
		}
		uint16_t v = s->cell_mv[i];
		if (st.cell_count == 0 || v < st.cell_min_mv) {
			st.cell_min_mv = v;
			st.cell_min_idx = (uint8_t)i;
		}
		if (st.cell_count == 0 || v > st.cell_max_mv) {
			st.cell_max_mv = v;
			st.cell_max_idx = (uint8_t)i;
		}
		st.cell_sum_mv += v;
		st.cell_count++;
	}
	if (s->valid & BMS_V_TEMPS)
		st.temp_count =
			(uint8_t)(s->temp_count > BMS_MAX_TEMPS ? BMS_MAX_TEMPS : s->temp_count);
	for (unsigned i = 0; i < st.temp_count; i++) {
		int16_t t = s->temp_dc[i];
		if (i == 0 || t < st.temp_min_dc) {
			st.temp_min_dc = t;
			st.temp_min_idx = (uint8_t)i;
		}
		if (i == 0 || t > st.temp_max_dc) {
			st.temp_max_dc = t;
			st.temp_max_idx = (uint8_t)i;
		}
		st.temp_sum_dc += t;
	}
	*ret = st;
}
