/* SPDX-License-Identifier: MIT */
/*
 * PACE ('~' ASCII, VER 0x25) constants and the 0x44 status bit map, shared
 * by the driver (bms/pace.c) and its simulator (bms/sim/pace.c).
 * Header-only. Layouts: the driver's header.
 */
#ifndef SB_BMS_PACE_WIRE_H
#define SB_BMS_PACE_WIRE_H

#include <stdint.h>

#include "bms.h"

#define PACE_VER 0x25
#define PACE_CID1 0x46
#define PACE_CID1_LIION 0x4F /* what a Li-ion PACE pack may answer with */
#define PACE_TELEMETRY 0x42
#define PACE_STATUS 0x44
#define PACE_HW 0xC1     /* hardware version, 20 characters */
#define PACE_SERIAL 0xC2 /* serial number, 40 characters */
/* Driver address n is the pack at ADR n - 1: 0 ends the core's address lists. */
#define PACE_ADDR_MAX 16
#define PACE_TEMP_ZERO 2730 /* 0.1 K, as the PACE document says */
#define PACE_TELE_CUSTOM 3  /* full capacity, cycles, design capacity */
#define PACE_STATUS_TAIL 12 /* the bytes after the sensor codes */
#define PACE_HW_LEN 20
#define PACE_SERIAL_LEN 40
/* Largest reply we take: 0x42 at 32 cells and 8 cell sensors is 101 INFO bytes. */
#define PACE_MAX_INFO 128
#define PACE_MAX_FRAME (18 + 2 * PACE_MAX_INFO)

/* The 0x44 tail: byte offsets after the sensor codes. */
enum pace_status {
	PACE_CHG_WARN = 0, /* charge-current warning code */
	PACE_VOLT_WARN = 1,
	PACE_DSG_WARN = 2,
	PACE_PROT1 = 3,
	PACE_PROT2 = 4,
	PACE_SYSTEM = 5, /* bit 1 charge MOSFET on, bit 2 discharge MOSFET on */
	PACE_CONFIG = 6,
	PACE_FAULT = 7,
	PACE_BAL_HI = 8,
	PACE_BAL_LO = 9,
	PACE_WARN1 = 10,
	PACE_WARN2 = 11,
};

/* A status bit and the alarm (level 1 warning, 2 protection or fault) it raises. */
struct pace_bit {
	uint8_t byte, bit, alarm, level;
};
static const struct pace_bit pace_bits[] = {
	{PACE_PROT1, 0, BMS_ALARM_HIGH_CELL_VOLTAGE, 2},
	{PACE_PROT1, 1, BMS_ALARM_LOW_CELL_VOLTAGE, 2},
	{PACE_PROT1, 2, BMS_ALARM_HIGH_VOLTAGE, 2},
	{PACE_PROT1, 3, BMS_ALARM_LOW_VOLTAGE, 2},
	{PACE_PROT1, 4, BMS_ALARM_HIGH_CHARGE_CURRENT, 2},
	{PACE_PROT1, 5, BMS_ALARM_HIGH_DISCHARGE_CURRENT, 2},
	{PACE_PROT1, 6, BMS_ALARM_HIGH_CURRENT, 2}, /* short circuit */
	{PACE_PROT2, 0, BMS_ALARM_HIGH_CHARGE_TEMPERATURE, 2},
	{PACE_PROT2, 1, BMS_ALARM_HIGH_TEMPERATURE, 2},
	{PACE_PROT2, 2, BMS_ALARM_LOW_CHARGE_TEMPERATURE, 2},
	{PACE_PROT2, 3, BMS_ALARM_LOW_TEMPERATURE, 2},
	{PACE_PROT2, 4, BMS_ALARM_HIGH_INTERNAL_TEMPERATURE, 2}, /* MOSFET */
	{PACE_PROT2, 5, BMS_ALARM_HIGH_TEMPERATURE, 2},          /* environment */
	{PACE_PROT2, 6, BMS_ALARM_LOW_TEMPERATURE, 2},           /* environment */
	{PACE_FAULT, 0, BMS_ALARM_INTERNAL_FAILURE, 2},          /* charge MOSFET */
	{PACE_FAULT, 1, BMS_ALARM_INTERNAL_FAILURE, 2},          /* discharge MOSFET */
	{PACE_FAULT, 2, BMS_ALARM_INTERNAL_FAILURE, 2},          /* NTC */
	{PACE_FAULT, 4, BMS_ALARM_INTERNAL_FAILURE, 2},          /* cell */
	{PACE_FAULT, 5, BMS_ALARM_INTERNAL_FAILURE, 2},          /* sampling */
	{PACE_WARN1, 0, BMS_ALARM_HIGH_CELL_VOLTAGE, 1},
	{PACE_WARN1, 1, BMS_ALARM_LOW_CELL_VOLTAGE, 1},
	{PACE_WARN1, 2, BMS_ALARM_HIGH_VOLTAGE, 1},
	{PACE_WARN1, 3, BMS_ALARM_LOW_VOLTAGE, 1},
	{PACE_WARN1, 4, BMS_ALARM_HIGH_CHARGE_CURRENT, 1},
	{PACE_WARN1, 5, BMS_ALARM_HIGH_DISCHARGE_CURRENT, 1},
	{PACE_WARN1, 6, BMS_ALARM_HIGH_CURRENT, 1},
	{PACE_WARN2, 0, BMS_ALARM_HIGH_CHARGE_TEMPERATURE, 1},
	{PACE_WARN2, 1, BMS_ALARM_HIGH_TEMPERATURE, 1},
	{PACE_WARN2, 2, BMS_ALARM_LOW_CHARGE_TEMPERATURE, 1},
	{PACE_WARN2, 3, BMS_ALARM_LOW_TEMPERATURE, 1},
	{PACE_WARN2, 4, BMS_ALARM_HIGH_TEMPERATURE, 1}, /* environment */
	{PACE_WARN2, 5, BMS_ALARM_LOW_TEMPERATURE, 1},  /* environment */
	{PACE_WARN2, 6, BMS_ALARM_HIGH_INTERNAL_TEMPERATURE, 1},
	{PACE_WARN2, 7, BMS_ALARM_LOW_SOC, 1}, /* "low power" */
};
#define PACE_NBITS (sizeof(pace_bits) / sizeof(pace_bits[0]))

#endif
