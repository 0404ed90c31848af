/* SPDX-License-Identifier: MIT */
/*
 * Daly A5 frame layout, shared by the driver (bms/daly.c) and its device
 * simulator (bms/sim/daly.c). Header-only.
 */
#ifndef SB_BMS_DALY_WIRE_H
#define SB_BMS_DALY_WIRE_H

#include <stdbool.h>
#include <string.h>

#include "bms.h"
#include "bytes.h"

#define DALY_LEN 13
#define DALY_START 0xA5
#define DALY_DLEN 0x08
#define DALY_HOST 0x40      /* request from host n: 0x40 + n - 1 (dbus-serialbattery) */
#define DALY_HOST_BT 0x80   /* request from the Bluetooth module / app, a display */
#define DALY_HOST_GPRS 0x20 /* request from a GPRS module */
#define DALY_PAD 0xAA
#define DALY_BOARDS 16
#define DALY_MAX_FRAMES 16 /* 0x95: 48 cell positions, 3 per frame */
#define DALY_CELLS_PER_FRAME 3
#define DALY_TEMPS_PER_FRAME 7
#define DALY_TEMP_OFFSET 40 /* degC + 40 */
#define DALY_CURRENT_ZERO 30000
enum {
	CMD_RATED = 0x50,
	CMD_SOC = 0x90,
	CMD_CELL_RANGE = 0x91,
	CMD_TEMP_RANGE = 0x92,
	CMD_MOS = 0x93,
	CMD_STATUS = 0x94,
	CMD_CELLS = 0x95,
	CMD_TEMPS = 0x96,
	CMD_BALANCE = 0x97,
	CMD_FAULTS = 0x98,
	CMD_DATE = 0x53,    /* production date */
	CMD_CODE = 0x57,    /* battery code, 5 frames of 7 characters */
	CMD_SET_SOC = 0x21, /* writes: SOC (with the date and time), FETs */
	CMD_SET_DSG_FET = 0xD9,
	CMD_SET_CHG_FET = 0xDA,
};

static inline void daly_put_frame(uint8_t addr, uint8_t cmd, const uint8_t data[8], uint8_t *out)
{
	out[0] = DALY_START;
	out[1] = addr;
	out[2] = cmd;
	out[3] = DALY_DLEN;
	memcpy(out + 4, data, 8);
	out[12] = bms_sum8(out, 12);
}

static inline bool daly_frame_ok(const uint8_t *p, size_t len)
{
	return len == DALY_LEN && p[0] == DALY_START && p[3] == DALY_DLEN &&
	       bms_sum8(p, 12) == p[12];
}

/*
 * Every bit of 0x98 data bytes 0-6 and where it goes (protocols.md section 4):
 * {byte, bit, level, alarm, name}. level 1 = warning, 2 = alarm; alarm
 * DALY_NO_ALARM = the bit has no Victron alarm and shows only in describe()
 * (SOC high, temperature difference, the reserved bits 3.4-3.7 and 6.4-6.7).
 * The names are describe()'s item keys. Byte 7 is a fault code (an item).
 */
#define DALY_NO_ALARM 0xFF
struct daly_fault {
	uint8_t byte, bit, level, alarm;
	const char *name;
};
static const struct daly_fault daly_faults[] = {
	{0, 0, 1, BMS_ALARM_HIGH_CELL_VOLTAGE, "cell_high_l1"},
	{0, 1, 2, BMS_ALARM_HIGH_CELL_VOLTAGE, "cell_high_l2"},
	{0, 2, 1, BMS_ALARM_LOW_CELL_VOLTAGE, "cell_low_l1"},
	{0, 3, 2, BMS_ALARM_LOW_CELL_VOLTAGE, "cell_low_l2"},
	{0, 4, 1, BMS_ALARM_HIGH_VOLTAGE, "pack_high_l1"},
	{0, 5, 2, BMS_ALARM_HIGH_VOLTAGE, "pack_high_l2"},
	{0, 6, 1, BMS_ALARM_LOW_VOLTAGE, "pack_low_l1"},
	{0, 7, 2, BMS_ALARM_LOW_VOLTAGE, "pack_low_l2"},
	{1, 0, 1, BMS_ALARM_HIGH_CHARGE_TEMPERATURE, "chg_temp_high_l1"},
	{1, 1, 2, BMS_ALARM_HIGH_CHARGE_TEMPERATURE, "chg_temp_high_l2"},
	{1, 2, 1, BMS_ALARM_LOW_CHARGE_TEMPERATURE, "chg_temp_low_l1"},
	{1, 3, 2, BMS_ALARM_LOW_CHARGE_TEMPERATURE, "chg_temp_low_l2"},
	{1, 4, 1, BMS_ALARM_HIGH_TEMPERATURE, "dsg_temp_high_l1"},
	{1, 5, 2, BMS_ALARM_HIGH_TEMPERATURE, "dsg_temp_high_l2"},
	{1, 6, 1, BMS_ALARM_LOW_TEMPERATURE, "dsg_temp_low_l1"},
	{1, 7, 2, BMS_ALARM_LOW_TEMPERATURE, "dsg_temp_low_l2"},
	{2, 0, 1, BMS_ALARM_HIGH_CHARGE_CURRENT, "chg_overcurrent_l1"},
	{2, 1, 2, BMS_ALARM_HIGH_CHARGE_CURRENT, "chg_overcurrent_l2"},
	{2, 2, 1, BMS_ALARM_HIGH_DISCHARGE_CURRENT, "dsg_overcurrent_l1"},
	{2, 3, 2, BMS_ALARM_HIGH_DISCHARGE_CURRENT, "dsg_overcurrent_l2"},
	{2, 4, 1, DALY_NO_ALARM, "soc_high_l1"},
	{2, 5, 2, DALY_NO_ALARM, "soc_high_l2"},
	{2, 6, 1, BMS_ALARM_LOW_SOC, "soc_low_l1"},
	{2, 7, 2, BMS_ALARM_LOW_SOC, "soc_low_l2"},
	{3, 0, 1, BMS_ALARM_CELL_IMBALANCE, "cell_diff_l1"},
	{3, 1, 2, BMS_ALARM_CELL_IMBALANCE, "cell_diff_l2"},
	{3, 2, 1, DALY_NO_ALARM, "temp_diff_l1"},
	{3, 3, 2, DALY_NO_ALARM, "temp_diff_l2"},
	{3, 4, 0, DALY_NO_ALARM, "reserved_3_4"},
	{3, 5, 0, DALY_NO_ALARM, "reserved_3_5"},
	{3, 6, 0, DALY_NO_ALARM, "reserved_3_6"},
	{3, 7, 0, DALY_NO_ALARM, "reserved_3_7"},
	{4, 0, 2, BMS_ALARM_HIGH_INTERNAL_TEMPERATURE, "chg_mos_overtemp"},
	{4, 1, 2, BMS_ALARM_HIGH_INTERNAL_TEMPERATURE, "dsg_mos_overtemp"},
	{4, 2, 2, BMS_ALARM_INTERNAL_FAILURE, "chg_mos_sensor_fault"},
	{4, 3, 2, BMS_ALARM_INTERNAL_FAILURE, "dsg_mos_sensor_fault"},
	{4, 4, 2, BMS_ALARM_INTERNAL_FAILURE, "chg_mos_stuck"},
	{4, 5, 2, BMS_ALARM_INTERNAL_FAILURE, "dsg_mos_stuck"},
	{4, 6, 2, BMS_ALARM_INTERNAL_FAILURE, "chg_mos_open"},
	{4, 7, 2, BMS_ALARM_INTERNAL_FAILURE, "dsg_mos_open"},
	{5, 0, 2, BMS_ALARM_INTERNAL_FAILURE, "afe_fault"},
	{5, 1, 2, BMS_ALARM_INTERNAL_FAILURE, "voltage_sample_lost"},
	{5, 2, 2, BMS_ALARM_INTERNAL_FAILURE, "cell_temp_sensor_fault"},
	{5, 3, 2, BMS_ALARM_INTERNAL_FAILURE, "eeprom_fault"},
	{5, 4, 2, BMS_ALARM_INTERNAL_FAILURE, "rtc_fault"},
	{5, 5, 2, BMS_ALARM_INTERNAL_FAILURE, "precharge_fault"},
	{5, 6, 2, BMS_ALARM_INTERNAL_FAILURE, "comm_fault"},
	{5, 7, 2, BMS_ALARM_INTERNAL_FAILURE, "internal_comm_fault"},
	{6, 0, 2, BMS_ALARM_INTERNAL_FAILURE, "current_module_fault"},
	{6, 1, 2, BMS_ALARM_INTERNAL_FAILURE, "pack_volt_sense_fault"},
	{6, 2, 2, BMS_ALARM_HIGH_CURRENT, "short_circuit"},
	{6, 3, 2, BMS_ALARM_LOW_CELL_VOLTAGE, "low_volt_chg_forbidden"},
	{6, 4, 0, DALY_NO_ALARM, "reserved_6_4"},
	{6, 5, 0, DALY_NO_ALARM, "reserved_6_5"},
	{6, 6, 0, DALY_NO_ALARM, "reserved_6_6"},
	{6, 7, 0, DALY_NO_ALARM, "reserved_6_7"},
};
#define DALY_FAULT_BITS (sizeof(daly_faults) / sizeof(daly_faults[0]))

#endif
