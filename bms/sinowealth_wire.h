/* SPDX-License-Identifier: MIT */
/*
 * Sinowealth register protocol (old Daly boards with a Sinowealth chip): the
 * register map, the reply widths and the CRC-8 the driver (bms/sinowealth.c)
 * and its simulator (bms/sim/sinowealth.c) share. Header-only.
 */
#ifndef SB_BMS_SINOWEALTH_WIRE_H
#define SB_BMS_SINOWEALTH_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bytes.h"

#define SW_START 0x0A /* every request starts with it */
#define SW_REQ_LEN 3  /* 0A reg width */

enum sw_reg {
	SW_REG_CELL1 = 0x01, /* cells 1..10: 0x01..0x0A, mV */
	SW_REG_CELL10 = 0x0A,
	SW_REG_VOLTAGE = 0x0B,   /* pack, mV */
	SW_REG_EXT_TEMP1 = 0x0C, /* 0.1 K */
	SW_REG_EXT_TEMP2 = 0x0D,
	SW_REG_IC_TEMP1 = 0x0E,
	SW_REG_IC_TEMP2 = 0x0F,
	SW_REG_CURRENT = 0x10,     /* s32 mA */
	SW_REG_FULL = 0x11,        /* s32 mAh */
	SW_REG_REMAIN = 0x12,      /* s32 mAh */
	SW_REG_SOC = 0x13,         /* % */
	SW_REG_CYCLES = 0x14,      /* count */
	SW_REG_PACK_STATUS = 0x15, /* FETs, charging/discharging */
	SW_REG_BATT_STATUS = 0x16, /* protections */
	SW_REG_CONFIG = 0x17,      /* cell count, sensors */
	SW_REG_MANUFACTURE = 0x18, /* manufacture access: not read */
};

#define SW_MAX_CELLS 10
#define SW_MIN_CELLS 3
#define SW_KELVIN_DK 2731 /* 0 degC in 0.1 K */

/* Pack status, low byte (the second data byte). */
#define SW_PS_CHG_FET 0x01
#define SW_PS_DSG_FET 0x02
#define SW_PS_CHARGING 0x04
#define SW_PS_DISCHARGING 0x08
/* Battery status: high byte (the first data byte) ... */
#define SW_BS_OTC 0x01 /* charge over-temperature */
#define SW_BS_OTD 0x02 /* discharge over-temperature */
#define SW_BS_UTC 0x04
#define SW_BS_UTD 0x08
#define SW_BS_AFE_OV 0x10 /* hardware over-voltage */
#define SW_BS_AFE_SC 0x20 /* hardware short circuit */
#define SW_BS_CTO 0x40    /* disconnection */
/* ... and low byte */
#define SW_BS_OV 0x01
#define SW_BS_UV 0x02
#define SW_BS_OCC 0x04 /* charge over-current */
#define SW_BS_OCD 0x08 /* discharge over-current */
/* Pack configuration, low byte: cells = (byte & 7) + 3; bit 6: a second sensor */
#define SW_CFG_CELLS_MASK 0x07
#define SW_CFG_TWO_SENSORS 0x40

/* The data bytes a register answers with (what the vendor tool asks for). */
static inline uint8_t sw_width(uint8_t reg)
{
	return reg >= SW_REG_CURRENT && reg <= SW_REG_REMAIN ? 4 : 2;
}

static inline bool sw_reg_known(unsigned reg)
{
	return reg >= SW_REG_CELL1 && reg <= SW_REG_CONFIG;
}

/* The check byte of a reply to register reg: over the request, then the data. */
static inline uint8_t sw_reply_crc(uint8_t reg, const uint8_t *data, size_t n)
{
	const uint8_t req[SW_REQ_LEN] = {SW_START, reg, (uint8_t)n};
	return bms_crc8(bms_crc8(0, req, sizeof(req)), data, n);
}

#endif
