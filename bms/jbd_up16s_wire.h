/* SPDX-License-Identifier: MIT */
/*
 * JBD UP16S (function 0x78) frame layout and alarm bit maps, shared by the
 * driver (bms/jbd_up16s.c) and its device simulator (bms/sim/jbd_up16s.c).
 * Header-only.
 */
#ifndef SB_BMS_JBD_UP16S_WIRE_H
#define SB_BMS_JBD_UP16S_WIRE_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "bms.h"
#include "bytes.h"
#include "modbus_rtu.h"

#define UP_READ 0x78
#define UP_PACK_POLL 0x45 /* master -> slave poll on the inter-pack bus */
#define UP_PDU_HDR 6      /* start end len: the header after addr fn */
#define UP_OVERHEAD 10    /* addr fn, that header, CRC */
#define UP_MAX_DATA 0x200 /* the status block is 158 bytes at 16 cells */
#define UP_ADDR_MAX 16
#define UP_STATUS 0x1000
#define UP_STATUS_END 0x10A0
#define UP_PRODUCT 0x2810
#define UP_PRODUCT_END 0x283C
#define UP_PRODUCT_LEN 44  /* 6 x u16, model[16], project code[16] */
#define UP_STATUS_FIXED 68 /* bytes up to and including the cell count */
#define UP_SERIAL_LEN 30
#define UP_TAIL_LEN 12 /* undecoded bytes after the serial (sample) */
#define UP_CURRENT_ZERO 300000
#define UP_CURRENT_SPAN 300000 /* +-3000 A in 10 mA */
#define UP_TEMP_ZERO 500       /* raw - 500 = 0.1 degC */
/* Fault word -> alarm (level 2), alarm word -> alarm (level 1): see the header. */
struct up_bit {
	uint8_t bit, alarm;
};
static const struct up_bit fault_map[] = {
	{0, BMS_ALARM_HIGH_CELL_VOLTAGE},
	{1, BMS_ALARM_LOW_CELL_VOLTAGE},
	{2, BMS_ALARM_HIGH_VOLTAGE},
	{3, BMS_ALARM_LOW_VOLTAGE},
	{4, BMS_ALARM_HIGH_CHARGE_CURRENT},
	{5, BMS_ALARM_HIGH_CHARGE_CURRENT},
	{6, BMS_ALARM_HIGH_DISCHARGE_CURRENT},
	{7, BMS_ALARM_HIGH_DISCHARGE_CURRENT},
	{8, BMS_ALARM_HIGH_CHARGE_TEMPERATURE},
	{9, BMS_ALARM_LOW_CHARGE_TEMPERATURE},
	{10, BMS_ALARM_HIGH_TEMPERATURE},
	{11, BMS_ALARM_LOW_TEMPERATURE},
	{12, BMS_ALARM_HIGH_INTERNAL_TEMPERATURE},
	{13, BMS_ALARM_HIGH_TEMPERATURE},
	{14, BMS_ALARM_LOW_TEMPERATURE},
	{15, BMS_ALARM_CELL_IMBALANCE},
	{17, BMS_ALARM_LOW_SOC},
	{18, BMS_ALARM_HIGH_CURRENT},
	{19, BMS_ALARM_INTERNAL_FAILURE},
	{20, BMS_ALARM_INTERNAL_FAILURE},
	{21, BMS_ALARM_INTERNAL_FAILURE},
	{22, BMS_ALARM_INTERNAL_FAILURE},
	{23, BMS_ALARM_INTERNAL_FAILURE},
	{24, BMS_ALARM_INTERNAL_FAILURE},
	{26, BMS_ALARM_INTERNAL_FAILURE},
};
static const struct up_bit warn_map[] = {
	{0, BMS_ALARM_HIGH_CELL_VOLTAGE},
	{1, BMS_ALARM_LOW_CELL_VOLTAGE},
	{2, BMS_ALARM_HIGH_VOLTAGE},
	{3, BMS_ALARM_LOW_VOLTAGE},
	{4, BMS_ALARM_HIGH_CHARGE_CURRENT},
	{5, BMS_ALARM_HIGH_DISCHARGE_CURRENT},
	{6, BMS_ALARM_HIGH_CHARGE_TEMPERATURE},
	{7, BMS_ALARM_LOW_CHARGE_TEMPERATURE},
	{8, BMS_ALARM_HIGH_TEMPERATURE},
	{9, BMS_ALARM_LOW_TEMPERATURE},
	{10, BMS_ALARM_HIGH_INTERNAL_TEMPERATURE},
	{11, BMS_ALARM_HIGH_TEMPERATURE},
	{12, BMS_ALARM_LOW_TEMPERATURE},
	{13, BMS_ALARM_CELL_IMBALANCE},
	{15, BMS_ALARM_LOW_SOC},
	{16, BMS_ALARM_INTERNAL_FAILURE},
};
#define NBITS(m) (sizeof(m) / sizeof((m)[0]))

/*
 * A 0x78 frame through the Modbus module's vendor-frame builder (CRC
 * included): pdu[0..UP_PDU_HDR) gets start, end and the data length, the
 * data must already stand at pdu + UP_PDU_HDR (n bytes). -ENOSPC when out
 * is too small, as every other driver and simulator says it.
 */
static inline int up_put_frame(uint8_t addr, uint16_t start, uint16_t end, uint8_t *pdu, size_t n,
			       uint8_t *out, size_t cap)
{
	if (n > UP_MAX_DATA)
		return -EINVAL;
	put_u16be(pdu, start);
	put_u16be(pdu + 2, end);
	put_u16be(pdu + 4, (uint16_t)n);
	int r = bms_modbus_frame(addr, UP_READ, pdu, UP_PDU_HDR + n, out, cap);
	return r == -ENOBUFS ? -ENOSPC : r;
}

#endif
