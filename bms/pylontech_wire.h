/* SPDX-License-Identifier: MIT */
/*
 * Pylontech RS485 V3.3 ('~' ASCII, VER 0x20) constants and the 0x44 alarm
 * code map, shared by the driver (bms/pylontech.c) and its simulator
 * (bms/sim/pylontech.c). Header-only. Layouts: the driver's header.
 */
#ifndef SB_BMS_PYLONTECH_WIRE_H
#define SB_BMS_PYLONTECH_WIRE_H

#include <stdint.h>

#include "bms.h"

#define PYL_VER 0x20
#define PYL_CID1 0x46
#define PYL_ANALOG 0x42 /* analog values */
#define PYL_ALARM 0x44  /* alarm codes and status bytes */
#define PYL_MAKER 0x51  /* device name, software version, manufacturer */
#define PYL_SERIAL 0x93 /* module serial number */
#define PYL_MANAGE 0x92 /* charge/discharge management: limits and permissions */
#define PYL_MANAGE_INFO 10
#define PYL_CHARGE_ENABLE 0x80 /* 0x92 status: the BMS allows charging */
#define PYL_DISCHARGE_ENABLE 0x40
/* Driver address = ADR: the first pack of a link is ADR 2 (the RS232
 * manual's console example is ADR 1); up to 16 packs follow it. */
#define PYL_ADDR_MIN 1
#define PYL_ADDR_MAX 17
#define PYL_TEMP_ZERO 2731 /* 0.1 K */
#define PYL_CUR_UNIT 100   /* mA per count: the captures give 0.1 A */
#define PYL_USER_SHORT 2   /* 16-bit capacities only */
#define PYL_USER_LONG 4    /* 24-bit capacities follow the cycle count */
#define PYL_STATUS_MIN 5   /* status bytes after the 0x44 codes: 5 documented */
#define PYL_STATUS_MAX 8   /* a capture carries a sixth; a few more are tolerated */
#define PYL_NAME_LEN 10
#define PYL_MAKER_LEN 20
#define PYL_MAKER_INFO (PYL_NAME_LEN + 2 + PYL_MAKER_LEN)
#define PYL_SERIAL_LEN 16
/* Largest reply we take: 0x42 at 32 cells, 9 sensors, 24-bit capacities is 99 bytes. */
#define PYL_MAX_INFO 128
#define PYL_MAX_FRAME (18 + 2 * PYL_MAX_INFO)

/* The 0x44 code bytes: 0 normal, 1 below the lower limit, 2 above the upper
 * limit, 0xF0 another fault (the same codes as Seplos v2's 0x44). */
#define PYL_CODE_LOW 1
#define PYL_CODE_HIGH 2
#define PYL_CODE_OTHER 0xF0

/* Which code byte of 0x44 a code is read from. */
enum pyl_code_of {
	PYL_OF_CELL,     /* any cell's code */
	PYL_OF_TEMP_BMS, /* the first sensor's: the BMS board */
	PYL_OF_TEMP,     /* any other sensor's: the cells */
	PYL_OF_CHARGE,   /* charge current */
	PYL_OF_VOLTAGE,  /* module voltage */
	PYL_OF_DISCHARGE /* discharge current */
};

/*
 * A code and the alarm it raises. The codes carry no warning/protection
 * level: a limit crossed is an alarm (2). 0xF0 in any byte is
 * InternalFailure (in the driver, not this table).
 */
struct pyl_code {
	uint8_t of, code, alarm;
};
static const struct pyl_code pyl_codes[] = {
	{PYL_OF_CELL, PYL_CODE_LOW, BMS_ALARM_LOW_CELL_VOLTAGE},
	{PYL_OF_CELL, PYL_CODE_HIGH, BMS_ALARM_HIGH_CELL_VOLTAGE},
	{PYL_OF_TEMP_BMS, PYL_CODE_HIGH, BMS_ALARM_HIGH_INTERNAL_TEMPERATURE},
	{PYL_OF_TEMP, PYL_CODE_LOW, BMS_ALARM_LOW_TEMPERATURE},
	{PYL_OF_TEMP, PYL_CODE_HIGH, BMS_ALARM_HIGH_TEMPERATURE},
	{PYL_OF_CHARGE, PYL_CODE_HIGH, BMS_ALARM_HIGH_CHARGE_CURRENT},
	{PYL_OF_VOLTAGE, PYL_CODE_LOW, BMS_ALARM_LOW_VOLTAGE},
	{PYL_OF_VOLTAGE, PYL_CODE_HIGH, BMS_ALARM_HIGH_VOLTAGE},
	{PYL_OF_DISCHARGE, PYL_CODE_HIGH, BMS_ALARM_HIGH_DISCHARGE_CURRENT},
};
#define PYL_NCODES (sizeof(pyl_codes) / sizeof(pyl_codes[0]))

#endif
