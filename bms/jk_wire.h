/* SPDX-License-Identifier: MIT */
/*
 * JK 0x4E57 frame layout, shared by the driver (bms/jk.c) and its device
 * simulator (bms/sim/jk.c). Header-only: nothing here ends up in a binary
 * that does not use it.
 */
#ifndef SB_BMS_JK_WIRE_H
#define SB_BMS_JK_WIRE_H

#include <stdbool.h>
#include <string.h>

#include "bms.h"
#include "bytes.h"

#define JK_HDR0 0x4E
#define JK_HDR1 0x57
#define JK_MIN_FRAME 20 /* header..transport (11), record (4), 68, 00 00, sum (2) */
#define JK_MAX_FRAME 512
#define JK_CMD_ACTIVATE 0x01
#define JK_CMD_WRITE 0x02
#define JK_CMD_READ_ONE 0x03
#define JK_CMD_PASSWORD 0x05
#define JK_CMD_READ_ALL 0x06
#define JK_SRC_BMS 0x00
#define JK_SRC_PC 0x03
#define JK_T_REQUEST 0x00
#define JK_T_REPLY 0x01
#define JK_T_UPLOAD 0x02
/*
 * The transport byte of a write request: 0x02 in the public write frames (a
 * user's frames that switch the FETs, diysolarforum "writing data to jkbms
 * usb ttl rs-485"), though protocols.md names 0x02 "unsolicited upload".
 */
#define JK_T_WRITE_REQ 0x02

/* The switches a write sets (one-byte values, 0 off / 1 on). */
#define JK_TAG_BALANCER 0x9D     /* active-balance switch */
#define JK_TAG_CHARGE_SW 0xAB    /* charge MOSFET switch setting */
#define JK_TAG_DISCHARGE_SW 0xAC /* discharge MOSFET switch setting */

/*
 * The over-current protection settings (0x97 discharge, 0x99 charge, whole A)
 * are the BMS's own current limits only within 1..JK_LIMIT_MAX_A: 0 is "not
 * configured" and no JK board is rated above 600 A, so a larger figure is a
 * placeholder or a misread, never a limit.
 */
#define JK_LIMIT_MAX_A 1000

/* Which frames jk_check_at accepts. */
enum jk_want {
	JK_WANT_REPLY,   /* from the BMS: not jk_is_request */
	JK_WANT_REQUEST, /* a master's request, jk_is_request (the device side) */
	JK_WANT_ANY,     /* both (the driver: captures hold requests too) */
};

/* Size of the value after tag t, or 0 for an unknown tag (0x79 has its own length byte). */
static inline size_t jk_tag_size(uint8_t t)
{
	if ((t >= 0x80 && t <= 0x84) || t == 0x87 || t == 0x8A || t == 0x8B || t == 0x8C ||
	    (t >= 0x8E && t <= 0x9C) || (t >= 0x9E && t <= 0xA8) || t == 0xAD || t == 0xB0)
		return 2;
	if (t == 0x85 || t == 0x86 || t == 0x9D || t == 0xA9 || t == 0xAB || t == 0xAC ||
	    t == 0xAE || t == 0xAF || t == 0xB1 || t == 0xB3 || t == 0xB8 || t == 0xC0)
		return 1;
	if (t == 0x89 || t == 0xAA || t == 0xB5 || t == 0xB6 || t == 0xB9)
		return 4;
	switch (t) {
	case 0xB2:
		return 10;
	case 0xB4:
		return 8;
	case 0xB7:
		return 15;
	case 0xBA:
		return 24;
	}
	return 0;
}

/*
 * Is the frame at p (11 bytes at least) a master's request? Transport 0x00;
 * and a write (0x02) from anyone but the BMS, whose transport byte is 0x02
 * in the public frames (JK_T_WRITE_REQ), so it cannot tell alone.
 */
static inline bool jk_is_request(const uint8_t *p)
{
	return p[10] == JK_T_REQUEST || (p[8] == JK_CMD_WRITE && p[9] != JK_SRC_BMS);
}

/* A frame at p (avail bytes) of the kind `want`; see bms_driver.frame_check. */
static inline int jk_check_at(const uint8_t *p, size_t avail, enum jk_want want, size_t *ret_len)
{
	if (p[0] != JK_HDR0)
		return -1;
	if (avail < 2)
		return 0;
	if (p[1] != JK_HDR1)
		return -1;
	if (avail < 4)
		return 0;
	size_t total = (size_t)((p[2] << 8) | p[3]) + 2;
	if (total < JK_MIN_FRAME || total > JK_MAX_FRAME)
		return -1;
	if (avail < total)
		return 0;
	if (p[total - 5] != 0x68 || p[total - 4] != 0 || p[total - 3] != 0)
		return -1;
	uint16_t sum = (uint16_t)((p[total - 2] << 8) | p[total - 1]);
	if (bms_sum16(p, total - 4) != sum)
		return -1;
	if (want != JK_WANT_ANY && jk_is_request(p) != (want == JK_WANT_REQUEST))
		return -1;
	*ret_len = total;
	return 1;
}

/* Fill a frame around data[0..n) at out; returns total length or -ENOBUFS. */
static inline int jk_frame(uint8_t *out, size_t cap, uint8_t cmd, uint8_t src, uint8_t transport,
			   const uint8_t *data, size_t n)
{
	size_t total = 11 + n + 9;
	if (total > cap || total > JK_MAX_FRAME)
		return -ENOBUFS;
	out[0] = JK_HDR0;
	out[1] = JK_HDR1;
	put_u16be(out + 2, (uint16_t)(total - 2));
	memset(out + 4, 0, 4);
	out[8] = cmd;
	out[9] = src;
	out[10] = transport;
	if (n)
		memcpy(out + 11, data, n);
	memset(out + 11 + n, 0, 4);
	out[total - 5] = 0x68;
	out[total - 4] = 0;
	out[total - 3] = 0;
	put_u16be(out + total - 2, bms_sum16(out, total - 4));
	return (int)total;
}

/*
 * Alarm word 0x8B, bit -> Victron alarm and level (0 ok, 1 warning, 2 alarm).
 * Bits 14-15 are reserved: shown in decode (alarm_bits) only.
 */
static const struct {
	uint8_t bit;
	enum bms_alarm alarm;
	uint8_t level;
} jk_alarm_map[] = {
	{0, BMS_ALARM_LOW_SOC, 1},
	{1, BMS_ALARM_HIGH_INTERNAL_TEMPERATURE, 2},
	{2, BMS_ALARM_HIGH_VOLTAGE, 2},
	{3, BMS_ALARM_LOW_VOLTAGE, 2},
	{4, BMS_ALARM_HIGH_TEMPERATURE, 2},
	{5, BMS_ALARM_HIGH_CHARGE_CURRENT, 2},
	{6, BMS_ALARM_HIGH_DISCHARGE_CURRENT, 2},
	{7, BMS_ALARM_CELL_IMBALANCE, 2},
	{8, BMS_ALARM_HIGH_TEMPERATURE, 2}, /* battery box */
	{9, BMS_ALARM_LOW_TEMPERATURE, 2},
	{10, BMS_ALARM_HIGH_CELL_VOLTAGE, 2},
	{11, BMS_ALARM_LOW_CELL_VOLTAGE, 2},
	{12, BMS_ALARM_INTERNAL_FAILURE, 2}, /* "309_A" */
	{13, BMS_ALARM_INTERNAL_FAILURE, 2}, /* "309_B" */
};
#define JK_NALARM (sizeof(jk_alarm_map) / sizeof(jk_alarm_map[0]))

#endif
