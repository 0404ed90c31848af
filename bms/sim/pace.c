/* SPDX-License-Identifier: MIT */
/*
 * PACE device simulator (bms/sim/sim.h): 0x42, 0x44, 0xC1 and 0xC2 for the
 * pack at ADR address - 1. A request for another ADR gets no answer; our ADR
 * with another VER gets RTN 0x01, an unknown command RTN 0x04.
 */
#include <errno.h>
#include <string.h>

#include "bms/bytes.h"
#include "bms/pace_wire.h"
#include "bms/pylon_ascii.h"
#include "pylon.h"
#include "sim.h"

static uint16_t to_u16(int64_t v)
{
	return v < 0 ? 0 : v > 0xFFFF ? 0xFFFF : (uint16_t)v;
}

static size_t sim_tele(const struct bms_snapshot *s, uint8_t bus, uint8_t *d)
{
	unsigned m = s->cell_count > BMS_MAX_CELLS ? BMS_MAX_CELLS : s->cell_count;
	unsigned t = s->temp_count > BMS_MAX_TEMPS ? BMS_MAX_TEMPS : s->temp_count;
	size_t o = 0;
	d[o++] = 0; /* DATAFLAG */
	d[o++] = bus;
	d[o++] = (uint8_t)m;
	for (unsigned i = 0; i < m; i++, o += 2)
		put_u16be(d + o, s->cell_mv[i]);
	d[o++] = (uint8_t)(t + 2);
	for (unsigned i = 0; i < t; i++, o += 2)
		put_u16be(d + o, to_u16(s->temp_dc[i] + PACE_TEMP_ZERO));
	put_u16be(d + o, to_u16(s->mosfet_temp_dc + PACE_TEMP_ZERO));
	/* environment: no snapshot field, the first cell sensor's reading (25 degC without) */
	put_u16be(d + o + 2, to_u16((t ? s->temp_dc[0] : 250) + PACE_TEMP_ZERO));
	o += 4;
	int32_t cur = s->current_ma / 10;
	put_u16be(d + o, (uint16_t)(int16_t)(cur < INT16_MIN   ? INT16_MIN
					     : cur > INT16_MAX ? INT16_MAX
							       : cur));
	put_u16be(d + o + 2, to_u16(s->voltage_mv));
	put_u16be(d + o + 4, to_u16(s->capacity_remain_mah / 10));
	o += 6;
	d[o++] = PACE_TELE_CUSTOM;
	put_u16be(d + o, to_u16(s->capacity_full_mah / 10));
	put_u16be(d + o + 2, to_u16(s->cycles));
	put_u16be(d + o + 4, to_u16(s->capacity_design_mah / 10));
	return o + 2 * PACE_TELE_CUSTOM;
}

static size_t sim_status(const struct bms_snapshot *s, uint8_t bus, uint8_t *d)
{
	unsigned m = s->cell_count > BMS_MAX_CELLS ? BMS_MAX_CELLS : s->cell_count;
	unsigned t = s->temp_count > BMS_MAX_TEMPS ? BMS_MAX_TEMPS : s->temp_count;
	size_t o = 0;
	d[o++] = 0;
	d[o++] = bus;
	d[o++] = (uint8_t)m;
	memset(d + o, 0, m); /* per-cell codes: the status bits carry the news */
	o += m;
	d[o++] = (uint8_t)(t + 2);
	memset(d + o, 0, t + 2);
	o += t + 2;
	uint8_t *tail = d + o;
	memset(tail, 0, PACE_STATUS_TAIL);
	/* each raised alarm: the bit of its level, else any bit that carries it */
	for (unsigned a = 0; s->valid & BMS_V_ALARMS && a < BMS_ALARM_COUNT; a++) {
		if (!s->alarm[a])
			continue;
		const struct pace_bit *hit = NULL;
		for (size_t i = 0; i < PACE_NBITS; i++) {
			if (pace_bits[i].alarm != a)
				continue;
			if (!hit ||
			    (hit->level != s->alarm[a] && pace_bits[i].level == s->alarm[a]))
				hit = &pace_bits[i];
		}
		if (hit)
			tail[hit->byte] |= (uint8_t)(1u << hit->bit);
	}
	tail[PACE_SYSTEM] =
		(uint8_t)((s->charge_fet ? 0x02 : 0) | (s->discharge_fet ? 0x04 : 0) |
			  (s->current_ma < 0 ? 0x08 : 0) | (s->current_ma > 0 ? 0x20 : 0));
	return o + PACE_STATUS_TAIL;
}

static size_t sim_text(const char *v, size_t n, uint8_t *d)
{
	memset(d, ' ', n);
	memcpy(d, v, strnlen(v, n));
	return n;
}

static int pace_sim_respond(struct bms_snapshot *snap, uint8_t address, const uint8_t *req,
			    size_t req_len, uint8_t *out, size_t cap)
{
	uint8_t adr = address ? (uint8_t)(address - 1) : 0;
	struct bms_pylon_frame f;
	uint8_t info[PACE_MAX_INFO];
	int asked = bms_sim_pylon_asked(NULL, PACE_VER, PACE_CID1, adr, req, req_len, &f);
	if (asked < 0)
		return 0;
	if (bms_pylon_info(&f, info, sizeof(info)) < 0)
		return 0;
	if (asked > 0) /* another family's request: refused */
		return bms_sim_pylon_reply(0, PACE_VER, PACE_CID1, adr, (uint8_t)asked, NULL, 0,
					   out, cap);
	uint8_t d[PACE_MAX_INFO];
	size_t n = 0;
	uint8_t rtn = 0;
	if (f.cid2 == PACE_TELEMETRY)
		n = sim_tele(snap, adr, d);
	else if (f.cid2 == PACE_STATUS)
		n = sim_status(snap, adr, d);
	else if (f.cid2 == PACE_HW)
		n = sim_text(snap->hw_version, PACE_HW_LEN, d);
	else if (f.cid2 == PACE_SERIAL)
		n = sim_text(snap->serial, PACE_SERIAL_LEN, d);
	else
		rtn = 0x04;
	return bms_sim_pylon_reply(0, PACE_VER, PACE_CID1, adr, rtn, d, n, out, cap);
}

const struct bms_sim bms_sim_pace = {"pace", pace_sim_respond};
