/* SPDX-License-Identifier: MIT */
/*
 * JK PB RS485 frame layout, shared by the driver (bms/jkpb.c) and its device
 * simulator (bms/sim/jkpb.c). Header-only.
 */
#ifndef SB_BMS_JKPB_WIRE_H
#define SB_BMS_JKPB_WIRE_H

#include <stdint.h>

#include "bms.h"

#define PB_FRAME 300
#define PB_ACK 8
#define PB_REQ 11
#define PB_TRIG_ABOUT 0x161C
#define PB_TRIG_SETTINGS 0x161E
#define PB_TRIG_STATUS 0x1620

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
	/* 18 GPS disconnected, 19 password, 23 PLC module: not battery alarms */
};
#define PB_NALARM (sizeof(pb_alarm_map) / sizeof(pb_alarm_map[0]))

/* Offsets of T1..T4 in the status frame (see the decision above). */
static const uint16_t pb_temp_off[] = {162, 164, 256, 258};

#endif
