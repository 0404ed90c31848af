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
#define DALY_HOST 0x40
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

/* Level-1 / level-2 bit pairs of 0x98: {byte, first bit, alarm}. */
static const struct {
	uint8_t byte, bit, alarm;
} fault_pairs[] = {
	{0, 0, BMS_ALARM_HIGH_CELL_VOLTAGE},
	{0, 2, BMS_ALARM_LOW_CELL_VOLTAGE},
	{0, 4, BMS_ALARM_HIGH_VOLTAGE},
	{0, 6, BMS_ALARM_LOW_VOLTAGE},
	{1, 0, BMS_ALARM_HIGH_CHARGE_TEMPERATURE},
	{1, 2, BMS_ALARM_LOW_CHARGE_TEMPERATURE},
	{1, 4, BMS_ALARM_HIGH_TEMPERATURE},
	{1, 6, BMS_ALARM_LOW_TEMPERATURE},
	{2, 0, BMS_ALARM_HIGH_CHARGE_CURRENT},
	{2, 2, BMS_ALARM_HIGH_DISCHARGE_CURRENT},
	{2, 6, BMS_ALARM_LOW_SOC},
	{3, 0, BMS_ALARM_CELL_IMBALANCE},
};

/* Single bits of 0x98 that are alarms (level 2): {byte, bit, alarm}. */
static const struct {
	uint8_t byte, bit, alarm;
} fault_bits[] = {
	{4, 0, BMS_ALARM_HIGH_INTERNAL_TEMPERATURE},
	{4, 1, BMS_ALARM_HIGH_INTERNAL_TEMPERATURE},
	{4, 2, BMS_ALARM_INTERNAL_FAILURE},
	{4, 3, BMS_ALARM_INTERNAL_FAILURE},
	{4, 4, BMS_ALARM_INTERNAL_FAILURE},
	{4, 5, BMS_ALARM_INTERNAL_FAILURE},
	{4, 6, BMS_ALARM_INTERNAL_FAILURE},
	{4, 7, BMS_ALARM_INTERNAL_FAILURE},
	{5, 0, BMS_ALARM_INTERNAL_FAILURE},
	{5, 1, BMS_ALARM_INTERNAL_FAILURE},
	{5, 2, BMS_ALARM_INTERNAL_FAILURE},
	{5, 3, BMS_ALARM_INTERNAL_FAILURE},
	{5, 4, BMS_ALARM_INTERNAL_FAILURE},
	{5, 5, BMS_ALARM_INTERNAL_FAILURE},
	{5, 6, BMS_ALARM_INTERNAL_FAILURE},
	{5, 7, BMS_ALARM_INTERNAL_FAILURE},
	{6, 0, BMS_ALARM_INTERNAL_FAILURE},
	{6, 1, BMS_ALARM_INTERNAL_FAILURE},
	{6, 2, BMS_ALARM_HIGH_CURRENT},
	{6, 3, BMS_ALARM_LOW_CELL_VOLTAGE},
};

#endif
