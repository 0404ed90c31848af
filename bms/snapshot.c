/* SPDX-License-Identifier: MIT */
/* Helpers over struct bms_snapshot shared by every layer. */
#include "bms.h"

static const char *const alarm_names[BMS_ALARM_COUNT] = {
	[BMS_ALARM_LOW_VOLTAGE] = "LowVoltage",
	[BMS_ALARM_HIGH_VOLTAGE] = "HighVoltage",
	[BMS_ALARM_LOW_CELL_VOLTAGE] = "LowCellVoltage",
	[BMS_ALARM_HIGH_CELL_VOLTAGE] = "HighCellVoltage",
	[BMS_ALARM_LOW_SOC] = "LowSoc",
	[BMS_ALARM_HIGH_CHARGE_CURRENT] = "HighChargeCurrent",
	[BMS_ALARM_HIGH_DISCHARGE_CURRENT] = "HighDischargeCurrent",
	[BMS_ALARM_HIGH_CURRENT] = "HighCurrent",
	[BMS_ALARM_CELL_IMBALANCE] = "CellImbalance",
	[BMS_ALARM_INTERNAL_FAILURE] = "InternalFailure",
	[BMS_ALARM_HIGH_CHARGE_TEMPERATURE] = "HighChargeTemperature",
	[BMS_ALARM_LOW_CHARGE_TEMPERATURE] = "LowChargeTemperature",
	[BMS_ALARM_HIGH_TEMPERATURE] = "HighTemperature",
	[BMS_ALARM_LOW_TEMPERATURE] = "LowTemperature",
	[BMS_ALARM_HIGH_INTERNAL_TEMPERATURE] = "HighInternalTemperature",
	[BMS_ALARM_FUSE_BLOWN] = "FuseBlown",
};

const char *bms_alarm_name(enum bms_alarm a)
{
	return (unsigned)a < BMS_ALARM_COUNT ? alarm_names[a] : "?";
}

void bms_cell_stats(const struct bms_snapshot *s, struct bms_cell_stats *ret)
{
	struct bms_cell_stats st = {0};
	if (s->valid & BMS_V_CELLS) {
		unsigned n = s->cell_count > BMS_MAX_CELLS ? BMS_MAX_CELLS : s->cell_count;
		for (unsigned i = 0; i < n; i++) {
			uint16_t v = s->cell_mv[i];
			/* 0 = not reported; a flagged cell's reading is no measurement */
			if (v == 0 || (s->cell_implausible & (1u << i)))
				continue;
			if (st.count == 0 || v < st.min_mv) {
				st.min_mv = v;
				st.min_idx = (uint8_t)i;
			}
			if (st.count == 0 || v > st.max_mv) {
				st.max_mv = v;
				st.max_idx = (uint8_t)i;
			}
			st.sum_mv += v;
			st.count++;
		}
	}
	*ret = st;
}
