/* SPDX-License-Identifier: MIT */
/*
 * Seplos v3 / XZH-ElecTech Modbus RTU register layout and event bit maps,
 * shared by the driver (bms/seplos_v3.c) and its device simulator
 * (bms/sim/seplos_v3.c). Header-only.
 */
#ifndef SB_BMS_SEPLOS_V3_WIRE_H
#define SB_BMS_SEPLOS_V3_WIRE_H

#include <stdint.h>

#include "bms.h"

#define S3_ADDR_MAX 0x0F /* pack DIP 0..15; 0 is the bus master */

/* Blocks: start register (or coil) and the count we ask. */
#define S3_PIA 0x1000
#define S3_PIA_REGS 0x11 /* the capture asks 17 (0x1000..0x1010) */
#define S3_PIB 0x1100
#define S3_PIB_REGS 0x1A
#define S3_PIC 0x1200
#define S3_PIC_COILS 0x90 /* 18 bytes */
#define S3_VIA 0x1700
#define S3_VIA_REGS 0x33
#define S3_EIA 0x2000 /* bus master only: the system aggregate */
#define S3_EIA_REGS 0x1A
#define S3_EIC 0x2200     /* bus master only: the system status coils */
#define S3_EIC_COILS 0x50 /* 10 bytes */

#define S3_TEMP_ZERO 2731 /* 0.1 K -> 0.1 degC */
/* what a sensor of a working pack can read: -50..+150 degC */
#define S3_TEMP_MIN (S3_TEMP_ZERO - 500)
#define S3_TEMP_MAX (S3_TEMP_ZERO + 1500)
#define S3_CELL_MAX_MV 5000
#define S3_PIB_CELLS 16
#define S3_PIB_TEMPS 4

/* PIC bytes (coil 0x1200 + 8k + bit = bit of byte k); EIC has bytes 8.. from 0 */
#define S3_PIC_CELL_LOW 0
#define S3_PIC_CELL_HIGH 2
#define S3_PIC_TEMP_LOW 4
#define S3_PIC_TEMP_HIGH 5
#define S3_PIC_BALANCE 6
#define S3_PIC_EVENTS 8 /* TB09 system .. TB15 hard faults: 10 bytes */
/* offsets inside the 10 event bytes (PIC 8..17 and EIC 0..9) */
enum s3_event_byte {
	S3_EV_SYSTEM = 0,     /* TB09 */
	S3_EV_VOLTAGE = 1,    /* TB02 */
	S3_EV_CELL_TEMP = 2,  /* TB03 */
	S3_EV_ENV_TEMP = 3,   /* TB04 */
	S3_EV_CURRENT1 = 4,   /* TB05 */
	S3_EV_CURRENT2 = 5,   /* TB16 */
	S3_EV_CAPACITY = 6,   /* TB06 */
	S3_EV_FET = 7,        /* TB07 */
	S3_EV_STATE = 8,      /* PIC: TB08 battery state; EIC: equalization state */
	S3_EV_HARD_FAULT = 9, /* TB15 */
	S3_EV_BYTES = 10,
};
#define S3_FET_DISCHARGE 0x01
#define S3_FET_CHARGE 0x02
#define S3_FET_HEATING 0x08

/* One event bit -> a Victron alarm at a level (1 warning, 2 alarm). */
struct s3_bit {
	uint8_t byte, bit, alarm, level;
};
static const struct s3_bit s3_alarm_map[] = {
	/* TB02 voltage */
	{S3_EV_VOLTAGE, 0, BMS_ALARM_HIGH_CELL_VOLTAGE, 1},
	{S3_EV_VOLTAGE, 1, BMS_ALARM_HIGH_CELL_VOLTAGE, 2},
	{S3_EV_VOLTAGE, 2, BMS_ALARM_LOW_CELL_VOLTAGE, 1},
	{S3_EV_VOLTAGE, 3, BMS_ALARM_LOW_CELL_VOLTAGE, 2},
	{S3_EV_VOLTAGE, 4, BMS_ALARM_HIGH_VOLTAGE, 1},
	{S3_EV_VOLTAGE, 5, BMS_ALARM_HIGH_VOLTAGE, 2},
	{S3_EV_VOLTAGE, 6, BMS_ALARM_LOW_VOLTAGE, 1},
	{S3_EV_VOLTAGE, 7, BMS_ALARM_LOW_VOLTAGE, 2},
	/* TB03 cell temperature: charge high/OT/low/UT, discharge high/OT/low/UT */
	{S3_EV_CELL_TEMP, 0, BMS_ALARM_HIGH_CHARGE_TEMPERATURE, 1},
	{S3_EV_CELL_TEMP, 1, BMS_ALARM_HIGH_CHARGE_TEMPERATURE, 2},
	{S3_EV_CELL_TEMP, 2, BMS_ALARM_LOW_CHARGE_TEMPERATURE, 1},
	{S3_EV_CELL_TEMP, 3, BMS_ALARM_LOW_CHARGE_TEMPERATURE, 2},
	{S3_EV_CELL_TEMP, 4, BMS_ALARM_HIGH_TEMPERATURE, 1},
	{S3_EV_CELL_TEMP, 5, BMS_ALARM_HIGH_TEMPERATURE, 2},
	{S3_EV_CELL_TEMP, 6, BMS_ALARM_LOW_TEMPERATURE, 1},
	{S3_EV_CELL_TEMP, 7, BMS_ALARM_LOW_TEMPERATURE, 2},
	/* TB05 current */
	{S3_EV_CURRENT1, 0, BMS_ALARM_HIGH_CHARGE_CURRENT, 1},
	{S3_EV_CURRENT1, 1, BMS_ALARM_HIGH_CHARGE_CURRENT, 2},
	{S3_EV_CURRENT1, 2, BMS_ALARM_HIGH_CHARGE_CURRENT, 2},
	{S3_EV_CURRENT1, 3, BMS_ALARM_HIGH_DISCHARGE_CURRENT, 1},
	{S3_EV_CURRENT1, 4, BMS_ALARM_HIGH_DISCHARGE_CURRENT, 2},
	{S3_EV_CURRENT1, 5, BMS_ALARM_HIGH_DISCHARGE_CURRENT, 2},
	{S3_EV_CURRENT1, 6, BMS_ALARM_HIGH_CURRENT, 2},
	/* TB06 capacity */
	{S3_EV_CAPACITY, 2, BMS_ALARM_LOW_SOC, 1},
	{S3_EV_CAPACITY, 3, BMS_ALARM_LOW_SOC, 2},
	{S3_EV_CAPACITY, 4, BMS_ALARM_CELL_IMBALANCE, 1},
	/* TB15 hard faults: NTC, AFE, MOSFETs, cell, broken wire, key, aerosol */
	{S3_EV_HARD_FAULT, 0, BMS_ALARM_INTERNAL_FAILURE, 2},
	{S3_EV_HARD_FAULT, 1, BMS_ALARM_INTERNAL_FAILURE, 2},
	{S3_EV_HARD_FAULT, 2, BMS_ALARM_INTERNAL_FAILURE, 2},
	{S3_EV_HARD_FAULT, 3, BMS_ALARM_INTERNAL_FAILURE, 2},
	{S3_EV_HARD_FAULT, 4, BMS_ALARM_INTERNAL_FAILURE, 2},
	{S3_EV_HARD_FAULT, 5, BMS_ALARM_INTERNAL_FAILURE, 2},
	{S3_EV_HARD_FAULT, 6, BMS_ALARM_INTERNAL_FAILURE, 2},
	{S3_EV_HARD_FAULT, 7, BMS_ALARM_INTERNAL_FAILURE, 2},
};
#define S3_NALARM_BITS (sizeof(s3_alarm_map) / sizeof(s3_alarm_map[0]))

#endif
