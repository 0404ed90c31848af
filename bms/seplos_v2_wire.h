/* SPDX-License-Identifier: MIT */
/*
 * Seplos v2 ('~' ASCII, VER 0x20) constants and the 0x44 event bit map,
 * shared by the driver (bms/seplos_v2.c) and its simulator
 * (bms/sim/seplos_v2.c). Header-only. Layouts: the driver's header.
 */
#ifndef SB_BMS_SEPLOS_V2_WIRE_H
#define SB_BMS_SEPLOS_V2_WIRE_H

#include <stdint.h>

#include "bms.h"

#define SV_VER 0x20
#define SV_CID1 0x46
#define SV_TELEMETRY 0x42
#define SV_ALARMS 0x44
#define SV_PROTOCOL 0x4F /* protocol version: an empty INFO, the version is VER */
#define SV_MAKER 0x51    /* device name, software version, manufacturer */
/* Driver address n is the pack at ADR n - 1 (DIP 0..15): 0 ends the core's address lists. */
#define SV_ADDR_MAX 16
#define SV_TEMP_ZERO 2731 /* 0.1 K */
#define SV_TELE_CUSTOM 10 /* u16 values after the 0x42 "custom number" */
#define SV_ALARM_NAMED 14 /* named bytes of the 0x44 custom block (of its 20) */
#define SV_ALARM_CUSTOM 20
#define SV_NAME_LEN 10
#define SV_MAKER_LEN 20
#define SV_MAKER_INFO (SV_NAME_LEN + 2 + SV_MAKER_LEN)
/* Largest reply we take: 0x42 at 32 cells and 8 sensors is 111 INFO bytes. */
#define SV_MAX_INFO 128
#define SV_MAX_FRAME (18 + 2 * SV_MAX_INFO)

/* The 0x44 custom block: byte offsets after its count byte. */
enum sv_event {
	SV_EV_HW = 0,      /* event 1: hardware faults */
	SV_EV_VOLTAGE = 1, /* event 2 */
	SV_EV_TEMP = 2,    /* event 3: cell temperature */
	SV_EV_ENV = 3,     /* event 4: environment / power temperature */
	SV_EV_CURRENT = 4, /* event 5 */
	SV_EV_SOC = 5,     /* event 6: SOC, cell difference */
	SV_SWITCH = 6,     /* bit 0 discharge switch on, bit 1 charge switch on */
	SV_EQ1 = 7,
	SV_EQ2 = 8,
	SV_SYSTEM = 9, /* bit 0 discharging, 1 charging, 2 float, 3 full, 4 standby, 5 off */
	SV_DISC1 = 10,
	SV_DISC2 = 11,
	SV_EV7 = 12,
	SV_EV8 = 13,
};

/* An event bit and the alarm (level 1 warning, 2 protection) it raises. */
struct sv_bit {
	uint8_t ev, bit, alarm, level;
};
static const struct sv_bit sv_bits[] = {
	{SV_EV_VOLTAGE, 0, BMS_ALARM_HIGH_CELL_VOLTAGE, 1},
	{SV_EV_VOLTAGE, 1, BMS_ALARM_HIGH_CELL_VOLTAGE, 2},
	{SV_EV_VOLTAGE, 2, BMS_ALARM_LOW_CELL_VOLTAGE, 1},
	{SV_EV_VOLTAGE, 3, BMS_ALARM_LOW_CELL_VOLTAGE, 2},
	{SV_EV_VOLTAGE, 4, BMS_ALARM_HIGH_VOLTAGE, 1},
	{SV_EV_VOLTAGE, 5, BMS_ALARM_HIGH_VOLTAGE, 2},
	{SV_EV_VOLTAGE, 6, BMS_ALARM_LOW_VOLTAGE, 1},
	{SV_EV_VOLTAGE, 7, BMS_ALARM_LOW_VOLTAGE, 2},
	{SV_EV_TEMP, 0, BMS_ALARM_HIGH_CHARGE_TEMPERATURE, 1},
	{SV_EV_TEMP, 1, BMS_ALARM_HIGH_CHARGE_TEMPERATURE, 2},
	{SV_EV_TEMP, 2, BMS_ALARM_LOW_CHARGE_TEMPERATURE, 1},
	{SV_EV_TEMP, 3, BMS_ALARM_LOW_CHARGE_TEMPERATURE, 2},
	{SV_EV_TEMP, 4, BMS_ALARM_HIGH_TEMPERATURE, 1},
	{SV_EV_TEMP, 5, BMS_ALARM_HIGH_TEMPERATURE, 2},
	{SV_EV_TEMP, 6, BMS_ALARM_LOW_TEMPERATURE, 1},
	{SV_EV_TEMP, 7, BMS_ALARM_LOW_TEMPERATURE, 2},
	{SV_EV_CURRENT, 0, BMS_ALARM_HIGH_CHARGE_CURRENT, 1},
	{SV_EV_CURRENT, 1, BMS_ALARM_HIGH_CHARGE_CURRENT, 2},
	{SV_EV_CURRENT, 2, BMS_ALARM_HIGH_DISCHARGE_CURRENT, 1},
	{SV_EV_CURRENT, 3, BMS_ALARM_HIGH_DISCHARGE_CURRENT, 2},
	{SV_EV_SOC, 2, BMS_ALARM_LOW_SOC, 1},
	{SV_EV_SOC, 3, BMS_ALARM_LOW_SOC, 2},
	{SV_EV_SOC, 4, BMS_ALARM_CELL_IMBALANCE, 1},
	/* event 1 is hardware faults: whichever bit, the BMS itself is failing */
	{SV_EV_HW, 0, BMS_ALARM_INTERNAL_FAILURE, 2},
	{SV_EV_HW, 1, BMS_ALARM_INTERNAL_FAILURE, 2},
	{SV_EV_HW, 2, BMS_ALARM_INTERNAL_FAILURE, 2},
	{SV_EV_HW, 3, BMS_ALARM_INTERNAL_FAILURE, 2},
	{SV_EV_HW, 4, BMS_ALARM_INTERNAL_FAILURE, 2},
	{SV_EV_HW, 5, BMS_ALARM_INTERNAL_FAILURE, 2},
	{SV_EV_HW, 6, BMS_ALARM_INTERNAL_FAILURE, 2},
	{SV_EV_HW, 7, BMS_ALARM_INTERNAL_FAILURE, 2},
};
#define SV_NBITS (sizeof(sv_bits) / sizeof(sv_bits[0]))

#endif
