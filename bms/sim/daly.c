/* SPDX-License-Identifier: MIT */
/*
 * Daly A5 device simulator (bms/sim/sim.h): every read the driver has (0x90..0x98,
 * 0x50, 0x53, 0x57), the writes 0xDA / 0xD9 (FETs) and 0x21 (SOC), which
 * change the unit's snapshot so the next poll shows them, and a second
 * master's traffic on the same bus.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bms/daly_wire.h"
#include "sim.h"

static uint8_t temp_byte(int16_t dc)
{
	int v = dc / 10 + DALY_TEMP_OFFSET;
	return (uint8_t)(v < 0 ? 0 : v > 0xFE ? 0xFE : v);
}

static void sim_faults(const struct bms_snapshot *s, uint8_t d[8])
{
	if (!(s->valid & BMS_V_ALARMS))
		return;
	/* each raised alarm: the first bit that carries it at its level */
	for (unsigned a = 0; a < BMS_ALARM_COUNT; a++) {
		uint8_t lvl = s->alarm[a] >= 2 ? 2 : s->alarm[a];
		if (!lvl)
			continue;
		for (size_t i = 0; i < DALY_FAULT_BITS; i++)
			if (daly_faults[i].alarm == a && daly_faults[i].level == lvl) {
				d[daly_faults[i].byte] |= (uint8_t)(1u << daly_faults[i].bit);
				break;
			}
	}
}

/* 0x91 / 0x92: the extremes of the lists snap holds (numbers from 1). */
static void sim_cell_range(const struct bms_snapshot *s, unsigned cells, uint8_t d[8])
{
	unsigned hi = 0, lo = 0;
	for (unsigned i = 1; i < cells; i++) {
		if (s->cell_mv[i] > s->cell_mv[hi])
			hi = i;
		if (s->cell_mv[i] < s->cell_mv[lo])
			lo = i;
	}
	if (!cells)
		return;
	put_u16be(d, s->cell_mv[hi]);
	d[2] = (uint8_t)(hi + 1);
	put_u16be(d + 3, s->cell_mv[lo]);
	d[5] = (uint8_t)(lo + 1);
}

static void sim_temp_range(const struct bms_snapshot *s, unsigned temps, uint8_t d[8])
{
	unsigned hi = 0, lo = 0;
	for (unsigned i = 1; i < temps; i++) {
		if (s->temp_dc[i] > s->temp_dc[hi])
			hi = i;
		if (s->temp_dc[i] < s->temp_dc[lo])
			lo = i;
	}
	if (!temps)
		return;
	d[0] = temp_byte(s->temp_dc[hi]);
	d[1] = (uint8_t)(hi + 1);
	d[2] = temp_byte(s->temp_dc[lo]);
	d[3] = (uint8_t)(lo + 1);
}

#define SIM_CODE_FRAMES 5 /* 0x57: 5 frames of 7 characters */

/* The reply of board to cmd, from s: its length, 0 for a command the board does not know. */
static int sim_answer(struct bms_snapshot *s, uint8_t board, uint8_t cmd, uint8_t *out, size_t cap)
{
	uint8_t d[8];
	memset(d, 0, sizeof(d));
	size_t frames = 1;
	unsigned cells = s->cell_count > BMS_MAX_CELLS ? BMS_MAX_CELLS : s->cell_count;
	unsigned temps = s->temp_count > BMS_MAX_TEMPS ? BMS_MAX_TEMPS : s->temp_count;

	switch (cmd) {
	case CMD_SOC: {
		int32_t raw = DALY_CURRENT_ZERO - s->current_ma / 100;
		put_u16be(d, (uint16_t)(s->voltage_mv / 100));
		put_u16be(d + 4, (uint16_t)(raw < 0 ? 0 : raw > 0xFFFF ? 0xFFFF : raw));
		put_u16be(d + 6, (uint16_t)(s->soc_cpct / 10));
		break;
	}
	case CMD_CELL_RANGE:
		sim_cell_range(s, cells, d);
		break;
	case CMD_TEMP_RANGE:
		sim_temp_range(s, temps, d);
		break;
	case CMD_MOS:
		d[0] = s->current_ma > 0 ? 1 : s->current_ma < 0 ? 2 : 0;
		d[1] = s->charge_fet;
		d[2] = s->discharge_fet;
		put_u32be(d + 4,
			  (uint32_t)(s->capacity_remain_mah < 0 ? 0 : s->capacity_remain_mah));
		break;
	case CMD_STATUS:
		d[0] = (uint8_t)cells;
		d[1] = (uint8_t)temps;
		d[2] = s->current_ma > 0;
		d[3] = s->current_ma < 0;
		put_u16be(d + 5, (uint16_t)(s->cycles > 0xFFFF ? 0xFFFF : s->cycles));
		break;
	case CMD_CELLS:
		frames = (cells + DALY_CELLS_PER_FRAME - 1) / DALY_CELLS_PER_FRAME;
		break;
	case CMD_TEMPS:
		frames = temps ? (temps + DALY_TEMPS_PER_FRAME - 1) / DALY_TEMPS_PER_FRAME : 1;
		break;
	case CMD_BALANCE:
		put_u32le(d, s->balancing);
		break;
	case CMD_FAULTS:
		sim_faults(s, d);
		break;
	case CMD_RATED:
		put_u32be(d, (uint32_t)(s->capacity_design_mah < 0 ? 0 : s->capacity_design_mah));
		put_u32be(d + 4, 3200); /* nominal cell voltage, mV (LFP) */
		break;
	case CMD_DATE:
		/* the snapshot has no date: a fixed one, 2021-06-15 */
		d[2] = 21;
		d[3] = 6;
		d[4] = 15;
		break;
	case CMD_CODE:
		frames = SIM_CODE_FRAMES;
		break;
	default:
		return 0;
	}
	if (frames * DALY_LEN > cap)
		return -ENOSPC;
	for (size_t k = 0; k < frames; k++) {
		if (cmd == CMD_CELLS) {
			memset(d, 0, sizeof(d));
			d[0] = (uint8_t)(k + 1);
			for (unsigned i = 0; i < DALY_CELLS_PER_FRAME; i++) {
				unsigned c = (unsigned)k * DALY_CELLS_PER_FRAME + i;
				if (c < cells)
					put_u16be(d + 1 + 2 * i, s->cell_mv[c]);
			}
		} else if (cmd == CMD_TEMPS) {
			memset(d, 0xFF, sizeof(d)); /* 0xFF = no sensor */
			d[0] = (uint8_t)(k + 1);
			for (unsigned i = 0; i < DALY_TEMPS_PER_FRAME; i++) {
				unsigned t = (unsigned)k * DALY_TEMPS_PER_FRAME + i;
				if (t < temps)
					d[1 + i] = temp_byte(s->temp_dc[t]);
			}
		} else if (cmd == CMD_CODE) {
			/* the battery code: the snapshot's serial, zero-filled */
			memset(d, 0, sizeof(d));
			d[0] = (uint8_t)(k + 1);
			size_t len = strnlen(s->serial, sizeof(s->serial));
			for (size_t i = 0; i < 7 && k * 7 + i < len; i++)
				d[1 + i] = (uint8_t)s->serial[k * 7 + i];
		}
		daly_put_frame(board, cmd, d, out + k * DALY_LEN);
	}
	return (int)(frames * DALY_LEN);
}

/*
 * The writes: 0xDA / 0xD9 switch the FET (data byte 0: 1 on, 0 off) and echo
 * the state taken; 0x21 sets the SOC (and the remaining capacity with it,
 * from the design capacity) and answers 1. A value the board cannot take is
 * answered 0 and changes nothing.
 */
static int sim_write(struct bms_snapshot *s, uint8_t board, const uint8_t *req, uint8_t *out,
		     size_t cap)
{
	const uint8_t *q = req + 4;
	uint8_t d[8];
	memset(d, 0, sizeof(d));
	if (cap < DALY_LEN)
		return -ENOSPC;
	if (req[2] == CMD_SET_SOC) {
		unsigned soc = (unsigned)((q[6] << 8) | q[7]); /* 0.1 % */
		bool date = q[1] >= 1 && q[1] <= 12 && q[2] >= 1 && q[2] <= 31 && q[3] < 24 &&
			    q[4] < 60 && q[5] < 60;
		if (soc <= 1000 && date) {
			s->soc_cpct = (uint16_t)(soc * 10u);
			s->valid |= BMS_V_SOC;
			if (s->capacity_design_mah > 0)
				s->capacity_remain_mah =
					(int32_t)((int64_t)s->capacity_design_mah * soc / 1000);
			d[0] = 1;
		}
	} else if (q[0] <= 1) {
		if (req[2] == CMD_SET_CHG_FET)
			s->charge_fet = q[0];
		else
			s->discharge_fet = q[0];
		s->valid |= BMS_V_FETS;
		d[0] = q[0];
	} else {
		/* not a state: the board keeps its FET and says what it holds */
		d[0] = req[2] == CMD_SET_CHG_FET ? s->charge_fet : s->discharge_fet;
		d[1] = 0xFF;
	}
	daly_put_frame(board, req[2], d, out);
	return DALY_LEN;
}

static int daly_sim_respond(struct bms_snapshot *s, uint8_t address, const uint8_t *req,
			    size_t req_len, uint8_t *out, size_t cap)
{
	uint8_t board = address ? address : 1;
	/* any padding is fine; only this board's host address is answered */
	if (!daly_frame_ok(req, req_len) || req[1] != DALY_HOST + board - 1)
		return 0;
	if (req[2] == CMD_SET_SOC || req[2] == CMD_SET_CHG_FET || req[2] == CMD_SET_DSG_FET)
		return sim_write(s, board, req, out, cap);
	return sim_answer(s, board, req[2], out, cap);
}

/* What a Daly display or WiFi module polls, in its order. */
static const uint8_t second_master_cmds[] = {CMD_SOC,   CMD_CELL_RANGE, CMD_TEMP_RANGE,
					     CMD_MOS,   CMD_STATUS,     CMD_CELLS,
					     CMD_TEMPS, CMD_BALANCE,    CMD_FAULTS};

int bms_sim_daly_second_master(struct bms_snapshot *snap, uint8_t board, unsigned n, uint8_t *out,
			       size_t cap)
{
	if (board < 1 || board > DALY_BOARDS)
		return -EINVAL;
	if (cap < DALY_LEN)
		return -ENOSPC;
	uint8_t cmd = second_master_cmds[n % sizeof(second_master_cmds)];
	uint8_t zero[8] = {0};
	daly_put_frame(DALY_HOST_BT, cmd, zero, out);
	int m = sim_answer(snap, board, cmd, out + DALY_LEN, cap - DALY_LEN);
	return m < 0 ? m : DALY_LEN + m;
}

const struct bms_sim bms_sim_daly = {"daly", daly_sim_respond};
