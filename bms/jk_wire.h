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
#define JK_CMD_READ_ALL 0x06
#define JK_SRC_BMS 0x00
#define JK_SRC_PC 0x03
#define JK_T_REQUEST 0x00
#define JK_T_REPLY 0x01

/* A frame at p (avail bytes): a request (want_request) or a reply; see bms_driver.frame_check. */
static inline int jk_check_at(const uint8_t *p, size_t avail, bool want_request, size_t *ret_len)
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
	if ((p[10] == JK_T_REQUEST) != want_request)
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
