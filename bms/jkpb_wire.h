/* SPDX-License-Identifier: MIT */
/*
 * JK PB RS485 frame layout, shared by the driver (bms/jkpb.c) and its device
 * simulator (bms/sim/jkpb.c). Header-only.
 */
#ifndef SB_BMS_JKPB_WIRE_H
#define SB_BMS_JKPB_WIRE_H

#include <stdint.h>

#include "bms.h"
#include "bytes.h"

#define PB_FRAME 300
#define PB_ACK 8
#define PB_REQ 11
#define PB_TRIG_ABOUT 0x161C
#define PB_TRIG_SETTINGS 0x161E
#define PB_TRIG_STATUS 0x1620
#define PB_ADDR_MAX 15 /* DIP switch 1..15; 0 is the bus master */

/*
 * Settings 50/62 (max charge/discharge current, mA) are the BMS's own
 * limits only within 1..PB_LIMIT_MAX_MA: 0 is "not configured", and no PB
 * model is rated above 600 A, so more is a misread, never a limit.
 */
#define PB_LIMIT_MAX_MA 1000000u

/* The trigger register that asks for frame type t; 0 for none. */
static inline uint16_t pb_trigger_of(uint8_t type)
{
	switch (type) {
	case 0x02:
		return PB_TRIG_STATUS;
	case 0x01:
		return PB_TRIG_SETTINGS;
	case 0x03:
		return PB_TRIG_ABOUT;
	}
	return 0;
}

static inline uint8_t pb_type_of(uint16_t trigger)
{
	switch (trigger) {
	case PB_TRIG_STATUS:
		return 0x02;
	case PB_TRIG_SETTINGS:
		return 0x01;
	case PB_TRIG_ABOUT:
		return 0x03;
	}
	return 0;
}

static const uint8_t pb_hdr[] = {0x55, 0xAA, 0xEB, 0x90};

/*
 * The frames on the line besides the 300-byte data frame: the 8-byte Modbus
 * ACK (addr 10 reg(BE) 00 01 CRC) and the 11-byte trigger request (addr 10
 * reg 00 01 02 value(BE) CRC), for address 1..15 and a trigger register.
 * 1 = a whole one (*ret_len 8 or 11), 0 = may be one, -1 = none here. An
 * ACK wins when bytes 6..7 are the CRC of 0..5 (a request has 02 there).
 */
static inline int pb_check_modbus(const uint8_t *p, size_t avail, size_t *ret_len)
{
	/* 0 is the bus master: it polls and broadcasts, it is never triggered and
	 * never acknowledges, so the 00 byte after an ACK is garbage at once */
	if (p[0] == 0 || p[0] > PB_ADDR_MAX)
		return -1;
	static const uint8_t head[] = {0x00, 0x10, 0x16, 0x00, 0x00, 0x01};
	for (size_t i = 1; i < sizeof(head); i++) {
		if (i >= avail)
			return 0;
		if (i == 3 ? pb_type_of((uint16_t)(0x1600 | p[3])) == 0 : p[i] != head[i])
			return -1;
	}
	if (avail < PB_ACK)
		return 0;
	if (bms_crc16_modbus(p, 6) == (uint16_t)(p[6] | (p[7] << 8))) {
		*ret_len = PB_ACK;
		return 1;
	}
	if (p[6] != 2)
		return -1;
	if (avail < PB_REQ)
		return 0;
	if (bms_crc16_modbus(p, 9) != (uint16_t)(p[9] | (p[10] << 8)))
		return -1;
	*ret_len = PB_REQ;
	return 1;
}

/*
 * Alarm word (status 166), bit -> Victron alarm and level. Not mapped, shown
 * in decode (alarm_bits) only: 18 GPS disconnected (the optional GPS/4G
 * module's heartbeat, not the battery), 19 "modify password in time" (a
 * reminder), 24-31 undocumented.
 */
static const struct {
	uint8_t bit;
	enum bms_alarm alarm;
	uint8_t level;
} pb_alarm_map[] = {
	{0, BMS_ALARM_INTERNAL_FAILURE, 1}, /* wire resistance */
	{1, BMS_ALARM_HIGH_INTERNAL_TEMPERATURE, 2},
	{2, BMS_ALARM_INTERNAL_FAILURE, 2}, /* cell quantity */
	{3, BMS_ALARM_INTERNAL_FAILURE, 2}, /* current sensor */
	{4, BMS_ALARM_HIGH_CELL_VOLTAGE, 2},
	{5, BMS_ALARM_HIGH_VOLTAGE, 2},
	{6, BMS_ALARM_HIGH_CHARGE_CURRENT, 2},
	{7, BMS_ALARM_HIGH_CURRENT, 2}, /* charge short circuit */
	{8, BMS_ALARM_HIGH_CHARGE_TEMPERATURE, 2},
	{9, BMS_ALARM_LOW_CHARGE_TEMPERATURE, 2},
	{10, BMS_ALARM_INTERNAL_FAILURE, 2}, /* CPU aux communication */
	{11, BMS_ALARM_LOW_CELL_VOLTAGE, 2},
	{12, BMS_ALARM_LOW_VOLTAGE, 2},
	{13, BMS_ALARM_HIGH_DISCHARGE_CURRENT, 2},
	{14, BMS_ALARM_HIGH_CURRENT, 2},     /* discharge short circuit */
	{15, BMS_ALARM_HIGH_TEMPERATURE, 2}, /* discharge over-temperature */
	{16, BMS_ALARM_INTERNAL_FAILURE, 2}, /* charge MOSFET fault */
	{17, BMS_ALARM_INTERNAL_FAILURE, 2}, /* discharge MOSFET fault */
	{20, BMS_ALARM_INTERNAL_FAILURE, 2}, /* discharge-on failed */
	{21, BMS_ALARM_HIGH_TEMPERATURE, 1}, /* battery over-temperature alarm */
	{22, BMS_ALARM_INTERNAL_FAILURE, 2}, /* temperature sensor anomaly */
	{23, BMS_ALARM_INTERNAL_FAILURE, 1}, /* PLC module anomaly: a BMS part, it still protects */
};
#define PB_NALARM (sizeof(pb_alarm_map) / sizeof(pb_alarm_map[0]))

/* Offsets of T1..T4 in the status frame (see the decision above). */
static const uint16_t pb_temp_off[] = {162, 164, 256, 258};

#endif
