/* SPDX-License-Identifier: MIT */
/* Helpers over struct bms_snapshot shared by every layer. */
#include <stddef.h>
#include <string.h>

#include "bms.h"

/* Arrays, not pointers: read-only data without a relocation per name. */
static const char alarm_names[BMS_ALARM_COUNT][24] = {
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

static const char prot_names[BMS_PROT_COUNT][24] = {
	[BMS_PROT_SHORT_CIRCUIT] = "short_circuit",
	[BMS_PROT_CHARGE_OC] = "charge_overcurrent",
	[BMS_PROT_DISCHARGE_OC] = "discharge_overcurrent",
	[BMS_PROT_CELL_OV] = "cell_overvoltage",
	[BMS_PROT_CELL_UV] = "cell_undervoltage",
	[BMS_PROT_CHARGE_OT] = "charge_overtemp",
	[BMS_PROT_CHARGE_UT] = "charge_undertemp",
	[BMS_PROT_DISCHARGE_OT] = "discharge_overtemp",
	[BMS_PROT_DISCHARGE_UT] = "discharge_undertemp",
	[BMS_PROT_PACK_OV] = "pack_overvoltage",
	[BMS_PROT_PACK_UV] = "pack_undervoltage",
};

const char *bms_prot_name(enum bms_prot p)
{
	return (unsigned)p < BMS_PROT_COUNT ? prot_names[p] : "?";
}
