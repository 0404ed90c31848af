/* SPDX-License-Identifier: MIT */
/* JK PB RS485 device simulator: status, settings and about frames (bms/sim/sim.h). */
#include <errno.h>
#include <string.h>

#include "bms/bytes.h"
#include "bms/jkpb_wire.h"
#include "bms/stats.h"
#include "sim.h"

static void pb_put_str(uint8_t *p, const char *s, size_t n)
{
	size_t l = strlen(s);
	memcpy(p, s, l < n ? l : n);
}

static void pb_sim_status(const struct bms_snapshot *s, uint8_t *f)
{
	unsigned cells = s->cell_count > BMS_MAX_CELLS ? BMS_MAX_CELLS : s->cell_count;
	uint32_t mask = 0;
	for (unsigned i = 0; i < cells; i++) {
		put_u16le(f + 6 + 2 * i, s->cell_mv[i]);
		mask |= 1u << i;
	}
	put_u32le(f + 70, mask);
	struct bms_stats cs;
	bms_stats_compute(s, &cs);
	uint8_t max_idx = cs.cell_max_idx, min_idx = cs.cell_min_idx;
	if (s->balancing) {
		/* the balancing pair: lowest and highest marked cell */
		max_idx = (uint8_t)__builtin_ctz(s->balancing);
		min_idx = (uint8_t)(31 - __builtin_clz(s->balancing));
	}
	put_u16le(f + 74, (uint16_t)(cs.cell_count ? cs.cell_sum_mv / cs.cell_count : 0));
	put_u16le(f + 76, (uint16_t)(cs.cell_max_mv - cs.cell_min_mv));
	f[78] = max_idx;
	f[79] = min_idx;
	put_u16le(f + 144, (uint16_t)s->mosfet_temp_dc);
	put_u16le(f + 254, (uint16_t)s->mosfet_temp_dc);
	put_u32le(f + 150, (uint32_t)s->voltage_mv);
	int64_t p = s->power_mw < 0 ? -s->power_mw : s->power_mw;
	put_u32le(f + 154, (uint32_t)p);
	put_u32le(f + 158, (uint32_t)s->current_ma);
	uint8_t present = 1; /* MOSFET sensor */
	for (unsigned t = 0; t < s->temp_count && t < 4; t++) {
		put_u16le(f + pb_temp_off[t], (uint16_t)s->temp_dc[t]);
		present = (uint8_t)(present | (1u << (t + 1)));
	}
	f[214] = present;
	f[215] = s->heating ? 1 : 0;
	put_u16le(f + 236, (uint16_t)(int16_t)s->heater_current_ma);
	uint32_t alarms = 0;
	for (unsigned a = 0; a < BMS_ALARM_COUNT; a++) {
		if (!s->alarm[a])
			continue;
		for (size_t k = 0; k < PB_NALARM; k++)
			if (pb_alarm_map[k].alarm == a && pb_alarm_map[k].level == s->alarm[a]) {
				alarms |= 1u << pb_alarm_map[k].bit;
				break;
			}
	}
	put_u32le(f + 166, alarms);
	f[172] = s->balancing ? 1 : 0;
	f[173] = (uint8_t)(s->soc_cpct / 100);
	put_u32le(f + 174, (uint32_t)s->capacity_remain_mah);
	put_u32le(f + 178, (uint32_t)s->capacity_full_mah);
	put_u32le(f + 182, s->cycles);
	f[190] = (uint8_t)(s->soh_cpct / 100);
	f[198] = s->charge_fet;
	f[199] = s->discharge_fet;
	f[201] = s->balancing ? 1 : 0;
}

static void pb_sim_settings(const struct bms_snapshot *s, uint8_t *f)
{
	put_u32le(f + 50, (uint32_t)s->max_charge_ma);
	put_u32le(f + 62, (uint32_t)s->max_discharge_ma);
	/* the configured cell count: the stated one when the snapshot has it */
	put_u32le(f + 114, (s->valid & BMS_V_COUNTS) ? s->cells_reported : s->cell_count);
	put_u32le(f + 118, 1);
	put_u32le(f + 122, 1);
	put_u32le(f + 126, s->balancer_enabled ? 1 : 0);
	put_u32le(f + 130, (uint32_t)s->capacity_design_mah);
	put_u16le(f + 282, s->heating_enabled ? 1 : 0); /* control bit 0 */
	/* whole degrees on the wire */
	f[284] = (uint8_t)(int8_t)(s->heating_start_dc / 10);
	f[285] = (uint8_t)(int8_t)(s->heating_stop_dc / 10);
}

static void pb_sim_about(const struct bms_snapshot *s, uint8_t *f)
{
	pb_put_str(f + 6, s->model, 16);
	pb_put_str(f + 22, s->hw_version, 8);
	pb_put_str(f + 30, s->sw_version, 8);
	pb_put_str(f + 46, s->serial, 16);
}

static int jkpb_sim_respond(struct bms_snapshot *snap, uint8_t address, const uint8_t *req,
			    size_t req_len, uint8_t *out, size_t cap)
{
	/* only an intact trigger write to our own address gets an answer */
	if (req_len != PB_REQ || req[0] != address || req[1] != 0x10 || req[4] != 0 ||
	    req[5] != 1 || req[6] != 2 ||
	    bms_crc16_modbus(req, 9) != (uint16_t)(req[9] | (req[10] << 8)))
		return 0;
	uint16_t trig = (uint16_t)((req[2] << 8) | req[3]);
	uint8_t type = pb_type_of(trig);
	if (type == 0)
		return 0;
	size_t total = PB_FRAME + 1 + PB_ACK + 1;
	if (cap < total)
		return -ENOBUFS;
	uint8_t *f = out;
	memset(f, 0, total);
	memcpy(f, pb_hdr, sizeof(pb_hdr));
	f[4] = type;
	if (type == 0x02)
		pb_sim_status(snap, f);
	else if (type == 0x01)
		pb_sim_settings(snap, f);
	else
		pb_sim_about(snap, f);
	f[PB_FRAME - 1] = bms_sum8(f, PB_FRAME - 1);
	uint8_t *ack = out + PB_FRAME + 1;
	memcpy(ack, req, 6);
	put_u16le(ack + 6, bms_crc16_modbus(ack, 6));
	return (int)total;
}

const struct bms_sim bms_sim_jkpb = {"jkpb", jkpb_sim_respond};
