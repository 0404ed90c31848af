/* SPDX-License-Identifier: MIT */
/* Helpers over struct bms_snapshot shared by every layer. */
#include <stddef.h>
#include <string.h>

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

/* Where each valid bit's fields live: one or two ranges of the struct. */
#define F(m) offsetof(struct bms_snapshot, m), sizeof(((struct bms_snapshot *)0)->m)
static const struct {
	uint32_t bit;
	size_t off, len, off2, len2;
} field_of[] = {
	{BMS_V_VOLTAGE, F(voltage_mv), 0, 0},
	{BMS_V_CURRENT, F(current_ma), 0, 0},
	{BMS_V_SOC, F(soc_cpct), 0, 0},
	{BMS_V_SOH, F(soh_cpct), 0, 0},
	{BMS_V_CAP_REMAIN, F(capacity_remain_mah), 0, 0},
	{BMS_V_CAP_FULL, F(capacity_full_mah), 0, 0},
	{BMS_V_CYCLES, F(cycles), 0, 0},
	{BMS_V_CELLS, F(cell_count), F(cell_mv)},
	{BMS_V_TEMPS, F(temp_count), F(temp_dc)},
	{BMS_V_MOSFET_TEMP, F(mosfet_temp_dc), 0, 0},
	{BMS_V_FETS, F(charge_fet), F(discharge_fet)},
	{BMS_V_BALANCING, F(balancing), 0, 0},
	{BMS_V_BALANCER, F(balancer_enabled), 0, 0},
	{BMS_V_ALARMS, F(alarm), 0, 0},
	{BMS_V_SERIAL, F(serial), 0, 0},
	{BMS_V_HW_VERSION, F(hw_version), 0, 0},
	{BMS_V_SW_VERSION, F(sw_version), 0, 0},
	{BMS_V_MAX_CHARGE_I, F(max_charge_ma), 0, 0},
	{BMS_V_MAX_DISCHARGE_I, F(max_discharge_ma), 0, 0},
	{BMS_V_POWER, F(power_mw), 0, 0},
	{BMS_V_MODEL, F(model), 0, 0},
	{BMS_V_CAP_DESIGN, F(capacity_design_mah), 0, 0},
};
#undef F

void bms_snapshot_copy_fields(struct bms_snapshot *dst, const struct bms_snapshot *src,
			      uint32_t bits)
{
	for (size_t i = 0; i < sizeof(field_of) / sizeof(field_of[0]); i++) {
		if (!(bits & field_of[i].bit))
			continue;
		memcpy((char *)dst + field_of[i].off, (const char *)src + field_of[i].off,
		       field_of[i].len);
		if (field_of[i].len2)
			memcpy((char *)dst + field_of[i].off2, (const char *)src + field_of[i].off2,
			       field_of[i].len2);
		dst->valid |= field_of[i].bit;
	}
}
