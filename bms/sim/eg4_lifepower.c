/* SPDX-License-Identifier: MIT */
/*
 * EG4 LifePower (0x7E) device simulator (bms/sim/sim.h): the status groups
 * 1..10, the firmware (0x33) and hardware (0x42) text. Pack address as
 * configured (default 1).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bms/bytes.h"
#include "bms/eg4_lifepower_wire.h"
#include "sim.h"

/* A pack always answers 0x33: an empty version in the state plays this. */
#define SIM_DEFAULT_FW "SIM-V1.0"

static uint16_t clamp16(int64_t v)
{
	return v < 0 ? 0 : v > 0xFFFF ? 0xFFFF : (uint16_t)v;
}

static size_t group(uint8_t *p, uint8_t id, const uint16_t *w, unsigned n)
{
	p[0] = id;
	p[1] = (uint8_t)n;
	for (unsigned i = 0; i < n; i++)
		put_u16be(p + 2 + 2 * i, w[i]);
	return 2 + 2u * n;
}

static int sim_status(const struct bms_snapshot *s, uint8_t addr, uint8_t *out, size_t cap)
{
	uint8_t pl[255];
	uint16_t w[BMS_MAX_CELLS];
	size_t o = 0;
	unsigned cells = s->cell_count > BMS_MAX_CELLS ? BMS_MAX_CELLS : s->cell_count;
	if (cells == 0)
		return 0; /* no pack without cells */
	for (unsigned i = 0; i < cells; i++)
		w[i] = s->cell_mv[i] & LP_CELL_MASK;
	o += group(pl + o, LP_G_CELLS, w, cells);
	w[0] = clamp16(LP_CURRENT_ZERO - (int64_t)s->current_ma / 10);
	o += group(pl + o, LP_G_CURRENT, w, 1);
	w[0] = s->soc_cpct > 10000 ? 10000 : s->soc_cpct;
	o += group(pl + o, LP_G_SOC, w, 1);
	w[0] = clamp16(s->capacity_full_mah / 10);
	o += group(pl + o, LP_G_FULL, w, 1);
	unsigned temps = s->temp_count > BMS_MAX_TEMPS ? BMS_MAX_TEMPS : s->temp_count;
	if (temps == 0) {
		w[0] = LP_TEMP_ZERO + 25; /* the pack always reports its sensors */
		temps = 1;
	} else {
		for (unsigned i = 0; i < temps; i++) {
			int t = s->temp_dc[i] / 10 + LP_TEMP_ZERO;
			w[i] = (uint16_t)(t < 0 ? 0 : t > 255 ? 255 : t);
		}
	}
	o += group(pl + o, LP_G_TEMPS, w, temps);
	memset(w, 0, LP_STATUS_WORDS * sizeof(w[0]));
	uint16_t w1 = s->current_ma > 0   ? LP_ST_CHARGING
		      : s->current_ma < 0 ? LP_ST_DISCHARGING
					  : 0;
	if (s->valid & BMS_V_ALARMS) {
		if (s->alarm[BMS_ALARM_HIGH_CURRENT])
			w1 |= LP_ST_OVER_CURRENT;
		if (s->alarm[BMS_ALARM_HIGH_VOLTAGE])
			w1 |= LP_ST_OVER_VOLTAGE;
		if (s->alarm[BMS_ALARM_LOW_VOLTAGE])
			w1 |= LP_ST_UNDER_VOLTAGE;
		if (s->alarm[BMS_ALARM_HIGH_CHARGE_TEMPERATURE])
			w1 |= LP_ST_CHARGE_OT;
		if (s->alarm[BMS_ALARM_LOW_CHARGE_TEMPERATURE])
			w1 |= LP_ST_CHARGE_UT;
	}
	w[1] = w1;
	o += group(pl + o, LP_G_STATUS, w, LP_STATUS_WORDS);
	w[0] = clamp16(s->cycles);
	o += group(pl + o, LP_G_CYCLES, w, 1);
	w[0] = clamp16(s->voltage_mv / 10);
	o += group(pl + o, LP_G_VOLTAGE, w, 1);
	w[0] = (s->valid & BMS_V_SOH) ? (s->soh_cpct > 10000 ? 10000 : s->soh_cpct) : 10000;
	o += group(pl + o, LP_G_SOH, w, 1);
	w[0] = 0;
	o += group(pl + o, LP_G_UNKNOWN, w, 1);
	return lp_put_frame(addr, LP_CMD_STATUS, pl, o, out, cap);
}

static int sim_text(uint8_t addr, uint8_t cmd, const char *text, uint8_t *out, size_t cap)
{
	size_t n = strnlen(text, BMS_STR_LEN);
	if (n == 0)
		return 0; /* nothing to say: a length-0 reply would read as a request */
	return lp_put_frame(addr, cmd, (const uint8_t *)text, n, out, cap);
}

static int lp_sim_respond(struct bms_snapshot *snap, uint8_t address, const uint8_t *req,
			  size_t req_len, uint8_t *out, size_t cap)
{
	uint8_t addr = address ? address : 1;
	/* only a well-formed request (length 0) for this pack is answered */
	if (req_len != LP_OVERHEAD || req[0] != LP_SOI || req[1] != addr || req[3] != 0 ||
	    req[4] != lp_checksum(req, 4) || req[5] != LP_EOI)
		return 0;
	switch (req[2]) {
	case LP_CMD_STATUS:
		return sim_status(snap, addr, out, cap);
	case LP_CMD_FIRMWARE:
		return sim_text(addr, LP_CMD_FIRMWARE,
				snap->sw_version[0] ? snap->sw_version : SIM_DEFAULT_FW, out, cap);
	case LP_CMD_HARDWARE:
		return sim_text(addr, LP_CMD_HARDWARE, snap->hw_version, out, cap);
	default:
		return 0;
	}
}

const struct bms_sim bms_sim_eg4_lifepower = {"eg4_lifepower", lp_sim_respond};
