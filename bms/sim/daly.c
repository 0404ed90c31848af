/* SPDX-License-Identifier: MIT */
/* Daly A5 device simulator: every polled command, 0x50 included (bms/sim/sim.h). */
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
	for (size_t i = 0; i < sizeof(fault_pairs) / sizeof(fault_pairs[0]); i++) {
		uint8_t lvl = s->alarm[fault_pairs[i].alarm];
		if (lvl)
			d[fault_pairs[i].byte] |=
				(uint8_t)((lvl >= 2 ? 2u : 1u) << fault_pairs[i].bit);
	}
	/* alarms with no level pair: the first bit that carries them */
	static const uint8_t single[] = {BMS_ALARM_HIGH_INTERNAL_TEMPERATURE,
					 BMS_ALARM_INTERNAL_FAILURE, BMS_ALARM_HIGH_CURRENT};
	for (size_t a = 0; a < sizeof(single); a++) {
		if (s->alarm[single[a]] < 2)
			continue;
		for (size_t i = 0; i < sizeof(fault_bits) / sizeof(fault_bits[0]); i++)
			if (fault_bits[i].alarm == single[a]) {
				d[fault_bits[i].byte] |= (uint8_t)(1u << fault_bits[i].bit);
				break;
			}
	}
}

static int daly_sim_respond(struct bms_snapshot *s, uint8_t address, const uint8_t *req,
			    size_t req_len, uint8_t *out, size_t cap)
{
	uint8_t board = address ? address : 1;
	/* any padding is fine; only this board's host address is answered */
	if (!daly_frame_ok(req, req_len) || req[1] != DALY_HOST + board - 1)
		return 0;
	uint8_t d[8];
	memset(d, 0, sizeof(d));
	size_t frames = 1;
	unsigned cells = s->cell_count > BMS_MAX_CELLS ? BMS_MAX_CELLS : s->cell_count;
	unsigned temps = s->temp_count > BMS_MAX_TEMPS ? BMS_MAX_TEMPS : s->temp_count;
	uint8_t cmd = req[2];

	switch (cmd) {
	case CMD_SOC: {
		int32_t raw = DALY_CURRENT_ZERO - s->current_ma / 100;
		put_u16be(d, (uint16_t)(s->voltage_mv / 100));
		put_u16be(d + 4, (uint16_t)(raw < 0 ? 0 : raw > 0xFFFF ? 0xFFFF : raw));
		put_u16be(d + 6, (uint16_t)(s->soc_cpct / 10));
		break;
	}
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
		}
		daly_put_frame(board, cmd, d, out + k * DALY_LEN);
	}
	return (int)(frames * DALY_LEN);
}

const struct bms_sim bms_sim_daly = {"daly", daly_sim_respond};
