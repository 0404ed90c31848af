/* SPDX-License-Identifier: MIT */
/*
 * EG4 LifePower4 (first version) 0x7E binary frames, shared by the driver
 * (bms/eg4_lifepower.c) and its simulator (bms/sim/eg4_lifepower.c).
 *
 *   7E addr cmd len payload[len] chk 0D
 *   chk = ((XOR of every byte before it) XOR (sum of them)) & 0xFF
 */
#ifndef SB_BMS_EG4_LIFEPOWER_WIRE_H
#define SB_BMS_EG4_LIFEPOWER_WIRE_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define LP_SOI 0x7E
#define LP_EOI 0x0D
#define LP_OVERHEAD 6 /* 7E addr cmd len .. chk 0D */
#define LP_MAX_FRAME (LP_OVERHEAD + 255)
#define LP_ADDR_MAX 15 /* DIP address 1..15; 0 is the master */

#define LP_CMD_STATUS 0x01
#define LP_CMD_FIRMWARE 0x33
#define LP_CMD_HARDWARE 0x42

/* Status groups: id, count, count x BE16 words. */
#define LP_G_CELLS 1
#define LP_G_CURRENT 2
#define LP_G_SOC 3
#define LP_G_FULL 4
#define LP_G_TEMPS 5
#define LP_G_STATUS 6
#define LP_G_CYCLES 7
#define LP_G_VOLTAGE 8
#define LP_G_SOH 9
#define LP_G_UNKNOWN 10 /* the last group the driver walks */
#define LP_NGROUPS 10

#define LP_CURRENT_ZERO 30000 /* raw current: (30000 - raw) x 10 mA, + = charging */
#define LP_TEMP_ZERO 50       /* temperature: low byte - 50 degC */
#define LP_CELL_MASK 0x3FFFu  /* the top bits of a cell word may carry flags */
#define LP_STATUS_WORDS 5

/* Status word 1 (the second of group 6): protections, and the low byte's state bits. */
#define LP_ST_CHARGING 0x0001u
#define LP_ST_DISCHARGING 0x0002u
#define LP_ST_OVER_CURRENT 0x0008u
#define LP_ST_OVER_VOLTAGE 0x0010u
#define LP_ST_UNDER_VOLTAGE 0x0020u
#define LP_ST_CHARGE_OT 0x0040u
#define LP_ST_CHARGE_UT 0x0080u

static inline uint8_t lp_checksum(const uint8_t *p, size_t n)
{
	uint8_t x = 0, s = 0;
	for (size_t i = 0; i < n; i++) {
		x ^= p[i];
		s = (uint8_t)(s + p[i]);
	}
	return (uint8_t)(x ^ s);
}

/* A whole frame with payload[0..n) into out; its length or -ENOSPC / -EINVAL. */
static inline int lp_put_frame(uint8_t addr, uint8_t cmd, const uint8_t *payload, size_t n,
			       uint8_t *out, size_t cap)
{
	if (n > 255)
		return -EINVAL;
	if (cap < n + LP_OVERHEAD)
		return -ENOSPC;
	out[0] = LP_SOI;
	out[1] = addr;
	out[2] = cmd;
	out[3] = (uint8_t)n;
	if (n)
		memcpy(out + 4, payload, n);
	out[4 + n] = lp_checksum(out, 4 + n);
	out[5 + n] = LP_EOI;
	return (int)(n + LP_OVERHEAD);
}

#endif
