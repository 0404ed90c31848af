/* SPDX-License-Identifier: MIT */
/*
 * Seplos v2 device simulator (bms/sim/sim.h): 0x4F, 0x42, 0x44 and 0x51 for
 * the pack at ADR address - 1. A request for another ADR gets no answer (the
 * other packs of the bus answer their own); our ADR with another VER gets
 * RTN 0x01, an unknown command RTN 0x04, as the protocol's return codes say.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bms/bytes.h"
#include "bms/pylon_ascii.h"
#include "pylon.h"
#include "bms/seplos_v2_wire.h"
#include "sim.h"

static uint16_t to_u16(int64_t v)
{
	return v < 0 ? 0 : v > 0xFFFF ? 0xFFFF : (uint16_t)v;
}

static size_t sim_tele(const struct bms_snapshot *s, uint8_t pack, uint8_t *d)
{
	unsigned m = s->cell_count > BMS_MAX_CELLS ? BMS_MAX_CELLS : s->cell_count;
	unsigned t = s->temp_count > BMS_MAX_TEMPS ? BMS_MAX_TEMPS : s->temp_count;
	size_t o = 0;
	d[o++] = 0; /* DATAFLAG */
	d[o++] = pack;
	d[o++] = (uint8_t)m;
	for (unsigned i = 0; i < m; i++, o += 2)
		put_u16be(d + o, s->cell_mv[i]);
	d[o++] = (uint8_t)(t + 2);
	for (unsigned i = 0; i < t; i++, o += 2)
		put_u16be(d + o, to_u16(s->temp_dc[i] + SV_TEMP_ZERO));
	/* environment: no snapshot field, the first cell sensor's reading (25 degC without) */
	put_u16be(d + o, to_u16((t ? s->temp_dc[0] : 250) + SV_TEMP_ZERO));
	put_u16be(d + o + 2, to_u16(s->mosfet_temp_dc + SV_TEMP_ZERO));
	o += 4;
	int32_t cur = s->current_ma / 10;
	put_u16be(d + o, (uint16_t)(int16_t)(cur < INT16_MIN   ? INT16_MIN
					     : cur > INT16_MAX ? INT16_MAX
							       : cur));
	put_u16be(d + o + 2, to_u16(s->voltage_mv / 10));
	put_u16be(d + o + 4, to_u16(s->capacity_remain_mah / 10));
	o += 6;
	d[o++] = SV_TELE_CUSTOM;
	put_u16be(d + o, to_u16(s->capacity_full_mah / 10));
	put_u16be(d + o + 2, s->soc_cpct > 10000 ? 1000 : (uint16_t)(s->soc_cpct / 10));
	put_u16be(d + o + 4, to_u16(s->capacity_design_mah / 10));
	put_u16be(d + o + 6, to_u16(s->cycles));
	put_u16be(d + o + 8, s->soh_cpct > 10000 ? 1000 : (uint16_t)(s->soh_cpct / 10));
	put_u16be(d + o + 10, to_u16(s->voltage_mv / 10)); /* port voltage */
	memset(d + o + 12, 0, 8);
	return o + 2 * SV_TELE_CUSTOM;
}

static size_t sim_alarms(const struct bms_snapshot *s, uint8_t pack, uint8_t *d)
{
	unsigned m = s->cell_count > BMS_MAX_CELLS ? BMS_MAX_CELLS : s->cell_count;
	unsigned t = s->temp_count > BMS_MAX_TEMPS ? BMS_MAX_TEMPS : s->temp_count;
	size_t o = 0;
	d[o++] = 0;
	d[o++] = pack;
	d[o++] = (uint8_t)m;
	memset(d + o, 0, m); /* per-cell codes: the events carry the news */
	o += m;
	d[o++] = (uint8_t)(t + 2);
	memset(d + o, 0, t + 2);
	o += t + 2;
	d[o++] = 0; /* current code */
	d[o++] = 0; /* pack voltage code */
	d[o++] = SV_ALARM_CUSTOM;
	uint8_t *ev = d + o;
	memset(ev, 0, SV_ALARM_CUSTOM);
	/* each raised alarm: the bit of its level, else any bit that carries it */
	for (unsigned a = 0; s->valid & BMS_V_ALARMS && a < BMS_ALARM_COUNT; a++) {
		if (!s->alarm[a])
			continue;
		const struct sv_bit *hit = NULL;
		for (size_t i = 0; i < SV_NBITS; i++) {
			if (sv_bits[i].alarm != a)
				continue;
			if (!hit || (hit->level != s->alarm[a] && sv_bits[i].level == s->alarm[a]))
				hit = &sv_bits[i];
		}
		if (hit)
			ev[hit->ev] |= (uint8_t)(1u << hit->bit);
	}
	ev[SV_SWITCH] = (uint8_t)((s->discharge_fet ? 1 : 0) | (s->charge_fet ? 2 : 0));
	ev[SV_SYSTEM] = s->current_ma < 0 ? 0x01 : s->current_ma > 0 ? 0x02 : 0x10;
	return o + SV_ALARM_CUSTOM;
}

static size_t sim_maker(const struct bms_snapshot *s, uint8_t *d)
{
	unsigned hi = 0, lo = 0;
	memset(d, ' ', SV_MAKER_INFO);
	memcpy(d, s->model, strnlen(s->model, SV_NAME_LEN));
	if (sscanf(s->sw_version, "%u.%u", &hi, &lo) < 1)
		hi = lo = 0;
	d[SV_NAME_LEN] = (uint8_t)hi;
	d[SV_NAME_LEN + 1] = (uint8_t)lo;
	memcpy(d + SV_NAME_LEN + 2, "CANProtocol:Sim", 15);
	return SV_MAKER_INFO;
}

static int sv_sim_respond(struct bms_snapshot *snap, uint8_t address, const uint8_t *req,
			  size_t req_len, uint8_t *out, size_t cap)
{
	uint8_t adr = address ? (uint8_t)(address - 1) : 0;
	struct bms_pylon_frame f;
	uint8_t info[SV_MAX_INFO];
	int asked = bms_sim_pylon_asked(NULL, SV_VER, SV_CID1, adr, req, req_len, &f);
	if (asked < 0)
		return 0;
	int in = bms_pylon_info(&f, info, sizeof(info));
	if (in < 0)
		return 0;
	if (asked > 0) /* another family's request: refused */
		return bms_sim_pylon_reply(0, SV_VER, SV_CID1, adr, (uint8_t)asked, NULL, 0, out,
					   cap);
	/* the pack byte of the reply: the one asked for, else our own */
	uint8_t pack = in >= 1 ? info[0] : adr;
	uint8_t d[SV_MAX_INFO];
	size_t n = 0;
	uint8_t rtn = 0;
	if (f.cid2 == SV_TELEMETRY)
		n = sim_tele(snap, pack, d);
	else if (f.cid2 == SV_ALARMS)
		n = sim_alarms(snap, pack, d);
	else if (f.cid2 == SV_MAKER)
		n = sim_maker(snap, d);
	else if (f.cid2 != SV_PROTOCOL)
		rtn = 0x04;
	return bms_sim_pylon_reply(0, SV_VER, SV_CID1, adr, rtn, d, n, out, cap);
}

const struct bms_sim bms_sim_seplos_v2 = {"seplos_v2", sv_sim_respond};
