/* SPDX-License-Identifier: MIT */
/* ANT legacy protocol device simulator: the 140-byte status reply (bms/sim/sim.h). */
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
static uint8_t fet_code(const struct bms_snapshot *s, const struct ant_code *t, size_t n, bool on)
{
	if (s->valid & BMS_V_ALARMS)
		for (unsigned a = 0; a < BMS_ALARM_COUNT; a++) {
			uint8_t c = s->alarm[a] ? ant_alarm_code(t, n, a) : 0;
			if (c)
				return c;
		}
	return on ? 1 : 0;
}

static int old_status(const struct bms_snapshot *s, uint8_t *f, size_t cap)
{
	if (cap < ANT_OLD_LEN)
		return -ENOSPC;
	memset(f, 0, ANT_OLD_LEN);
	f[0] = 0xAA;
	f[1] = 0x55;
	f[2] = 0xAA;
	f[3] = 0xFF;
	unsigned cells = s->cell_count > ANT_OLD_CELL_SLOTS ? ANT_OLD_CELL_SLOTS : s->cell_count;
	struct bms_stats cs;
	bms_stats_compute(s, &cs);
	put_u16be(f + ANT_OLD_VOLTAGE, to_u16(s->voltage_mv / 100));
	for (unsigned i = 0; i < cells; i++)
		put_u16be(f + ANT_OLD_CELLS + 2 * i, s->cell_mv[i]);
	put_u32be(f + ANT_OLD_CURRENT, (uint32_t)(s->current_ma / 100));
	f[ANT_OLD_SOC] = (uint8_t)(s->soc_cpct > 10000 ? 100 : s->soc_cpct / 100);
	int64_t full = (s->valid & BMS_V_CAP_FULL) ? s->capacity_full_mah : 0;
	put_u32be(f + ANT_OLD_CAP_TOTAL, (uint32_t)(full * 1000));
	put_u32be(f + ANT_OLD_CAP_REMAIN, (uint32_t)((int64_t)s->capacity_remain_mah * 1000));
	put_u32be(f + ANT_OLD_RUNTIME, 3600);
	/* T1/T2 (boards) at 25 degC, T3/T4 the battery, T5/T6 absent (-40) */
	put_u16be(f + ANT_OLD_TEMPS, 25);
	put_u16be(f + ANT_OLD_TEMPS + 2, 25);
	for (unsigned i = 0; i < ANT_OLD_BATT_T; i++) {
		int16_t t = i < s->temp_count ? (int16_t)(s->temp_dc[i] / 10) : 25;
		put_u16be(f + ANT_OLD_TEMPS + 4 + 2 * i, (uint16_t)t);
	}
	put_u16be(f + ANT_OLD_TEMPS + 8, (uint16_t)-40);
	put_u16be(f + ANT_OLD_TEMPS + 10, (uint16_t)-40);
	f[ANT_OLD_CHG_FET] = fet_code(s, ant_chg_codes, ANT_NCODES(ant_chg_codes), s->charge_fet);
	f[ANT_OLD_DSG_FET] =
		fet_code(s, ant_dsg_codes, ANT_NCODES(ant_dsg_codes), s->discharge_fet);
	f[ANT_OLD_BAL] = s->balancing ? 2 : 0;
	put_u32be(f + ANT_OLD_POWER, (uint32_t)(int32_t)(s->power_mw / 1000));
	if (cs.cell_count) {
		f[ANT_OLD_MAX_NO] = (uint8_t)(cs.cell_max_idx + 1);
		put_u16be(f + ANT_OLD_MAX_MV, cs.cell_max_mv);
		f[ANT_OLD_MIN_NO] = (uint8_t)(cs.cell_min_idx + 1);
		put_u16be(f + ANT_OLD_MIN_MV, cs.cell_min_mv);
		put_u16be(f + ANT_OLD_AVG_MV, (uint16_t)(cs.cell_sum_mv / cs.cell_count));
	}
	f[ANT_OLD_NCELLS] = (uint8_t)cells;
	put_u32be(f + ANT_OLD_BALANCING, s->balancing);
	put_u16be(f + ANT_OLD_SUM,
		  bms_sum16(f + ANT_OLD_SUM_START, ANT_OLD_SUM - ANT_OLD_SUM_START));
	return ANT_OLD_LEN;
}

static int old_sim_respond(struct bms_snapshot *snap, uint8_t address, const uint8_t *req,
			   size_t req_len, uint8_t *out, size_t cap)
{
	static const uint8_t read_all[ANT_OLD_REQ_LEN] = {0xDB, 0xDB, 0, 0, 0, 0};
	static const uint8_t read_5a[ANT_OLD_REQ_LEN] = {0x5A, 0x5A, 0, 0, 1, 1};
	(void)address;
	/* both read forms are answered alike; anything else gets silence */
	if (req_len != ANT_OLD_REQ_LEN ||
	    (memcmp(req, read_all, req_len) != 0 && memcmp(req, read_5a, req_len) != 0))
		return 0;
	return old_status(snap, out, cap);
}

const struct bms_sim bms_sim_ant_legacy = {"ant_legacy", old_sim_respond};
