/* SPDX-License-Identifier: MIT */
/*
 * ANT BMS, both protocols (bms/ant_legacy.c, bms/ant_2021.c): frame constants
 * and the MOSFET status codes that carry the BMS's protections, shared by the
 * drivers and their device simulators (bms/sim/ant_*.c). Header-only.
 */
#ifndef SB_BMS_ANT_WIRE_H
#define SB_BMS_ANT_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "bms.h"

/* ---- legacy: 6-byte requests, one 140-byte reply ---- */
#define ANT_OLD_LEN 140
#define ANT_OLD_REQ_LEN 6
#define ANT_OLD_READ_ALL 0xFF /* byte 3 of the reply: the "command" describe() names */
#define ANT_OLD_SUM_START 4   /* the sum covers bytes 4..137 */
#define ANT_OLD_CELL_SLOTS 32
/* reply offsets (big-endian) */
#define ANT_OLD_VOLTAGE 4
#define ANT_OLD_CELLS 6
#define ANT_OLD_CURRENT 70
#define ANT_OLD_SOC 74
#define ANT_OLD_CAP_TOTAL 75
#define ANT_OLD_CAP_REMAIN 79
#define ANT_OLD_CYCLE_CAP 83
#define ANT_OLD_RUNTIME 87
#define ANT_OLD_TEMPS 91 /* six s16 degC */
#define ANT_OLD_NTEMPS 6
#define ANT_OLD_BATT_T 2 /* T3 and T4 are the battery sensors (the header says why) */
#define ANT_OLD_CHG_FET 103
#define ANT_OLD_DSG_FET 104
#define ANT_OLD_BAL 105
#define ANT_OLD_TIRE 106
#define ANT_OLD_PULSES 108
#define ANT_OLD_RELAY 110
#define ANT_OLD_POWER 111
#define ANT_OLD_MAX_NO 115
#define ANT_OLD_MAX_MV 116
#define ANT_OLD_MIN_NO 118
#define ANT_OLD_MIN_MV 119
#define ANT_OLD_AVG_MV 121
#define ANT_OLD_NCELLS 123
#define ANT_OLD_GATE 124 /* MOSFET D-S and the two gate drive voltages, 0.1 V */
#define ANT_OLD_CMP 130
#define ANT_OLD_BALANCING 132
#define ANT_OLD_SYSTEM 136
#define ANT_OLD_SUM 138
/* |current| above this (0.1 A units, 5000 A) is no reading any ANT board makes */
#define ANT_OLD_CURRENT_MAX 50000

/* ---- 2021: 7E A1 fn addr(2, LE) len data[len] crc(2, LE) AA 55 ---- */
#define ANT_NEW_HDR 6
#define ANT_NEW_OVERHEAD 10
#define ANT_NEW_REQ_STATUS 0x01
#define ANT_NEW_REPLY 0x10      /* a reply's function: the request's + 0x10 (0x01 -> 0x11) */
#define ANT_NEW_STATUS_LEN 0xBE /* the length byte of the status request */
#define ANT_NEW_FIXED 34        /* data before the cells (frame offsets) */
#define ANT_NEW_TAIL 78         /* bytes after cells and sensors, frame offsets 34+o+t.. */
#define ANT_NEW_MAX_TEMPS 8
#define ANT_NEW_CURRENT_MAX 30000 /* s16 0.1 A cannot exceed it anyway */

/* One MOSFET status code that stands for a protection, and the alarm it raises. */
struct ant_code {
	uint8_t code, alarm;
};

/*
 * Charge / discharge MOSFET status codes (protocols.md 7a; the 2021 codes
 * 0x0C..0x14 from ESPHome's ant_bms tables). Codes not listed carry no
 * alarm: 0 off, 1 on, 4 battery full (charge), 0x0B "charge MOSFET on"
 * (discharge), 0x0F switched off by hand.
 */
static const struct ant_code ant_chg_codes[] = {
	{0x02, BMS_ALARM_HIGH_CELL_VOLTAGE},         /* overcharge */
	{0x03, BMS_ALARM_HIGH_CHARGE_CURRENT},       /* over-current */
	{0x05, BMS_ALARM_HIGH_VOLTAGE},              /* pack over-voltage */
	{0x06, BMS_ALARM_HIGH_CHARGE_TEMPERATURE},   /* battery over-temperature */
	{0x07, BMS_ALARM_HIGH_INTERNAL_TEMPERATURE}, /* MOSFET over-temperature */
	{0x08, BMS_ALARM_INTERNAL_FAILURE},          /* abnormal current */
	{0x09, BMS_ALARM_INTERNAL_FAILURE},          /* balance wire lost */
	{0x0A, BMS_ALARM_HIGH_INTERNAL_TEMPERATURE}, /* board over-temperature */
	{0x0D, BMS_ALARM_INTERNAL_FAILURE},          /* discharge MOSFET abnormal */
};
static const struct ant_code ant_dsg_codes[] = {
	{0x02, BMS_ALARM_LOW_CELL_VOLTAGE},          /* over-discharge */
	{0x03, BMS_ALARM_HIGH_DISCHARGE_CURRENT},    /* over-current */
	{0x05, BMS_ALARM_LOW_VOLTAGE},               /* pack under-voltage */
	{0x06, BMS_ALARM_HIGH_TEMPERATURE},          /* battery over-temperature */
	{0x07, BMS_ALARM_HIGH_INTERNAL_TEMPERATURE}, /* MOSFET over-temperature */
	{0x08, BMS_ALARM_INTERNAL_FAILURE},          /* abnormal current */
	{0x09, BMS_ALARM_INTERNAL_FAILURE},          /* balance wire lost */
	{0x0A, BMS_ALARM_HIGH_INTERNAL_TEMPERATURE}, /* board over-temperature */
	{0x0C, BMS_ALARM_HIGH_CURRENT},              /* short circuit */
	{0x0D, BMS_ALARM_INTERNAL_FAILURE},          /* discharge MOSFET abnormal */
};
/* The 2021 firmware's further codes (ESPHome ant_bms). */
static const struct ant_code ant_new_chg_codes[] = {
	{0x0C, BMS_ALARM_INTERNAL_FAILURE},       /* switching on failed */
	{0x10, BMS_ALARM_HIGH_CELL_VOLTAGE},      /* second-level over-voltage */
	{0x11, BMS_ALARM_LOW_CHARGE_TEMPERATURE}, /* low-temperature protection */
	{0x12, BMS_ALARM_CELL_IMBALANCE},         /* cell voltage difference */
	{0x14, BMS_ALARM_INTERNAL_FAILURE},       /* self-test error */
};
static const struct ant_code ant_new_dsg_codes[] = {
	{0x04, BMS_ALARM_HIGH_DISCHARGE_CURRENT}, /* second-level over-current */
	{0x0E, BMS_ALARM_INTERNAL_FAILURE},       /* switching on failed */
	{0x10, BMS_ALARM_LOW_CELL_VOLTAGE},       /* second-level under-voltage */
	{0x11, BMS_ALARM_LOW_TEMPERATURE},        /* low-temperature protection */
	{0x12, BMS_ALARM_CELL_IMBALANCE},         /* cell voltage difference */
	{0x13, BMS_ALARM_INTERNAL_FAILURE},       /* self-test error */
};
#define ANT_NCODES(t) (sizeof(t) / sizeof((t)[0]))

/* The alarm a code raises (level 2: the BMS has switched the MOSFET off), or -1. */
static inline int ant_code_alarm(const struct ant_code *t, size_t n, uint8_t code)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].code == code)
			return t[i].alarm;
	return -1;
}

/* The first code of t that raises alarm a, or 0 when none does. */
static inline uint8_t ant_alarm_code(const struct ant_code *t, size_t n, unsigned a)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].alarm == a)
			return t[i].code;
	return 0;
}

#endif
