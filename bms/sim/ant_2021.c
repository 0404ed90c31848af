/* SPDX-License-Identifier: MIT */
/* ANT 2021 protocol device simulator: the status reply, function 0x11 (bms/sim/sim.h). */
#include <errno.h>
#include <string.h>

#include "bms/ant_wire.h"
#include "bms/bytes.h"
#include "bms/stats.h"
#include "sim.h"

static uint16_t to_u16(int64_t v)
{
	return v < 0 ? 0 : v > 0xFFFF ? 0xFFFF : (uint16_t)v;
}

/* The MOSFET's status code: the first code that carries a raised alarm, else on/off. */
static uint8_t fet_code(const struct bms_snapshot *s, const struct ant_code *t, size_t n,
			const struct ant_code *t2, size_t n2, bool on)
{
	if (s->valid & BMS_V_ALARMS)
		for (unsigned a = 0; a < BMS_ALARM_COUNT; a++) {
			if (!s->alarm[a])
				continue;
			uint8_t c = ant_alarm_code(t, n, a);
			if (!c)
				c = ant_alarm_code(t2, n2, a);
			if (c)
				return c;
		}
	return on ? 1 : 0;
}

static int new_status(const struct bms_snapshot *s, uint8_t *f, size_t cap)
{
	unsigned c = s->cell_count > BMS_MAX_CELLS ? BMS_MAX_CELLS : s->cell_count;
	unsigned t = s->temp_count > ANT_NEW_MAX_TEMPS ? ANT_NEW_MAX_TEMPS : s->temp_count;
	size_t k = ANT_NEW_FIXED + 2 * c + 2 * t;
	size_t n = k + ANT_NEW_TAIL + 4;
	if (cap < n)
		return -ENOSPC;
	memset(f, 0, n);
	struct bms_stats cs;
	bms_stats_compute(s, &cs);
	f[0] = 0x7E;
	f[1] = 0xA1;
	f[2] = ANT_NEW_REQ_STATUS | ANT_NEW_REPLY;
	f[5] = (uint8_t)(n - ANT_NEW_OVERHEAD);
	f[6] = 5; /* permissions, as the captures */
	f[7] = s->current_ma > 0 ? 2 : s->current_ma < 0 ? 3 : 1;
	f[8] = (uint8_t)t;
	f[9] = (uint8_t)c;
	for (unsigned i = 0; i < c; i++)
		put_u16le(f + ANT_NEW_FIXED + 2 * i, s->cell_mv[i]);
	for (unsigned i = 0; i < t; i++)
		put_u16le(f + ANT_NEW_FIXED + 2 * c + 2 * i, (uint16_t)(s->temp_dc[i] / 10));
	put_u16le(f + k, (uint16_t)(s->mosfet_temp_dc / 10));
	put_u16le(f + k + 2, 25); /* balancer sensor: no snapshot field */
	put_u16le(f + k + 4, to_u16(s->voltage_mv / 10));
	put_u16le(f + k + 6, (uint16_t)(int16_t)(s->current_ma / 100));
	put_u16le(f + k + 8, (uint16_t)(s->soc_cpct > 10000 ? 100 : s->soc_cpct / 100));
	put_u16le(f + k + 10, (uint16_t)((s->valid & BMS_V_SOH) ? s->soh_cpct / 100 : 100));
	f[k + 12] = fet_code(s, ant_chg_codes, ANT_NCODES(ant_chg_codes), ant_new_chg_codes,
			     ANT_NCODES(ant_new_chg_codes), s->charge_fet);
	f[k + 13] = fet_code(s, ant_dsg_codes, ANT_NCODES(ant_dsg_codes), ant_new_dsg_codes,
			     ANT_NCODES(ant_new_dsg_codes), s->discharge_fet);
	f[k + 14] = s->balancing ? 4 : 0;
	int64_t full = (s->valid & BMS_V_CAP_FULL) ? s->capacity_full_mah : 0;
	put_u32le(f + k + 16, (uint32_t)(full * 1000));
	put_u32le(f + k + 20, (uint32_t)((int64_t)s->capacity_remain_mah * 1000));
	put_u32le(f + k + 28, (uint32_t)(int32_t)(s->power_mw / 1000));
	put_u32le(f + k + 32, 3600);
	put_u32le(f + k + 36, s->balancing);
	if (cs.cell_count) {
		put_u16le(f + k + 40, cs.cell_max_mv);
		put_u16le(f + k + 42, (uint16_t)(cs.cell_max_idx + 1));
		put_u16le(f + k + 44, cs.cell_min_mv);
		put_u16le(f + k + 46, (uint16_t)(cs.cell_min_idx + 1));
		put_u16le(f + k + 48, (uint16_t)(cs.cell_max_mv - cs.cell_min_mv));
		put_u16le(f + k + 50, (uint16_t)(cs.cell_sum_mv / cs.cell_count));
	}
	put_u16le(f + n - 4, bms_crc16_modbus(f + 1, n - 5));
	f[n - 2] = 0xAA;
	f[n - 1] = 0x55;
	return (int)n;
}

static int new_sim_respond(struct bms_snapshot *snap, uint8_t address, const uint8_t *req,
			   size_t req_len, uint8_t *out, size_t cap)
{
	(void)address;
	/* only the status request is answered */
	if (req_len != ANT_NEW_OVERHEAD || req[0] != 0x7E || req[1] != 0xA1 ||
	    req[2] != ANT_NEW_REQ_STATUS || req[8] != 0xAA || req[9] != 0x55 ||
	    bms_crc16_modbus(req + 1, 5) != (uint16_t)(req[6] | (req[7] << 8)))
		return 0;
	return new_status(snap, out, cap);
}

const struct bms_sim bms_sim_ant_2021 = {"ant_2021", new_sim_respond};
