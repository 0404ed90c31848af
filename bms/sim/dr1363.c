/* SPDX-License-Identifier: MIT */
/*
 * DR-1363 device simulator (Daren, KS48100; bms/sim/sim.h): 0x42, 0x51 and
 * 0x4F for the pack at ADR = address, with the family's SOI and CID1. A
 * request for another ADR, or with another SOI, gets no answer; our ADR with
 * another VER gets RTN 0x01, another CID1 or an unknown command RTN 0x04.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bms/bytes.h"
#include "bms/pylon_ascii.h"
#include "pylon.h"
#include "dr1363_sim.h"

static uint16_t to_u16(int64_t v)
{
	return v < 0 ? 0 : v > 0xFFFF ? 0xFFFF : (uint16_t)v;
}

static uint16_t to_s16(int64_t v)
{
	return (uint16_t)(int16_t)(v < INT16_MIN ? INT16_MIN : v > INT16_MAX ? INT16_MAX : v);
}

/* The status words that carry the snapshot's alarms: each raised alarm the
 * bit of its level, else any bit that carries it. */
static void alarm_words(const struct bms_snapshot *s, uint16_t *w)
{
	for (unsigned a = 0; s->valid & BMS_V_ALARMS && a < BMS_ALARM_COUNT; a++) {
		if (!s->alarm[a])
			continue;
		const struct dr_bit *hit = NULL;
		for (size_t i = 0; i < DR_NBITS; i++) {
			if (dr_bits[i].alarm != a)
				continue;
			if (!hit || (hit->level != s->alarm[a] && dr_bits[i].level == s->alarm[a]))
				hit = &dr_bits[i];
		}
		if (hit)
			w[hit->word] |= (uint16_t)(1u << hit->bit);
	}
	w[DR_W_FET] |= (uint16_t)((s->charge_fet ? 1 : 0) | (s->discharge_fet ? 2 : 0));
}

static size_t sim_rt(const struct bms_snapshot *s, uint8_t *d)
{
	unsigned m = s->cell_count > BMS_MAX_CELLS ? BMS_MAX_CELLS : s->cell_count;
	unsigned t = s->temp_count > BMS_MAX_TEMPS ? BMS_MAX_TEMPS : s->temp_count;
	size_t o = 0;
	d[o++] = 0; /* DATAFLAG */
	put_u16be(d + o, s->soc_cpct > 10000 ? 10000 : s->soc_cpct);
	put_u16be(d + o + 2, to_u16(s->voltage_mv / 10));
	o += 4;
	d[o++] = (uint8_t)m;
	for (unsigned i = 0; i < m; i++, o += 2)
		put_u16be(d + o, s->cell_mv[i]);
	/* environment and pack average: no snapshot fields; the cell sensors' first and mean */
	int32_t sum = 0;
	for (unsigned i = 0; i < t; i++)
		sum += s->temp_dc[i];
	put_u16be(d + o, to_s16(t ? s->temp_dc[0] : 250));
	put_u16be(d + o + 2, to_s16(t ? sum / (int32_t)t : 250));
	put_u16be(d + o + 4, to_s16(s->mosfet_temp_dc));
	o += 6;
	d[o++] = (uint8_t)t;
	for (unsigned i = 0; i < t; i++, o += 2)
		put_u16be(d + o, to_s16(s->temp_dc[i]));
	put_u16be(d + o, to_s16(s->current_ma / 10));
	put_u16be(d + o + 2, 0); /* internal resistance */
	put_u16be(d + o + 4, s->soh_cpct > 10000 ? 100 : (uint16_t)(s->soh_cpct / 100));
	d[o + 6] = 1; /* user custom, as the captures send it */
	put_u16be(d + o + 7, to_u16(s->capacity_full_mah / 10));
	put_u16be(d + o + 9, to_u16(s->capacity_remain_mah / 10));
	put_u16be(d + o + 11, to_u16(s->cycles));
	o += 13;
	uint16_t w[DR_WORDS] = {0};
	alarm_words(s, w);
	for (unsigned i = 0; i < DR_WORDS; i++, o += 2)
		put_u16be(d + o, w[i]);
	memset(d + o, 0, 2 * DR_RT_EXT + 3); /* masks, machine and IO status */
	o += 2 * DR_RT_EXT;
	d[o++] = s->current_ma > 0 ? 0x10 : s->current_ma < 0 ? 0x08 : 0x04; /* CHG/DISCH/ready */
	o += 2;
	return o;
}

static size_t sim_maker(const struct bms_snapshot *s, uint8_t *d)
{
	unsigned v[3] = {0, 0, 0};
	memset(d, ' ', 3 * DR_TEXT_LEN);
	memcpy(d, s->hw_version, strnlen(s->hw_version, DR_TEXT_LEN));
	memcpy(d + DR_TEXT_LEN, s->model, strnlen(s->model, DR_TEXT_LEN));
	memcpy(d + 2 * DR_TEXT_LEN, "16S100A", 7);
	if (sscanf(s->sw_version, "%x.%x.%x", &v[0], &v[1], &v[2]) < 1)
		v[0] = 0;
	for (unsigned i = 0; i < 3; i++)
		d[3 * DR_TEXT_LEN + i] = (uint8_t)v[i];
	d[3 * DR_TEXT_LEN + 3] = 1; /* boot version */
	d[3 * DR_TEXT_LEN + 4] = 1;
	return 3 * DR_TEXT_LEN + 5;
}

int bms_sim_dr1363_respond(const struct bms_dr1363_family *fam, struct bms_snapshot *snap,
			   uint8_t address, const uint8_t *req, size_t req_len, uint8_t *out,
			   size_t cap)
{
	struct bms_pylon_spec spec = {fam->soi};
	struct bms_pylon_frame f;
	int asked = bms_sim_pylon_asked(&spec, DR_VER, fam->cid1, address, req, req_len, &f);
	if (asked < 0)
		return 0;
	if (asked > 0) /* another family's request: refused */
		return bms_sim_pylon_reply(fam->soi, DR_VER, fam->cid1, address, (uint8_t)asked,
					   NULL, 0, out, cap);
	uint8_t d[DR_MAX_INFO];
	size_t n = 0;
	uint8_t rtn = 0;
	if (f.cid2 == DR_REALTIME)
		n = sim_rt(snap, d);
	else if (f.cid2 == DR_MAKER)
		n = sim_maker(snap, d);
	else if (f.cid2 == DR_PROTOCOL)
		d[n++] = 0xC8; /* as cpttinkering's pack answers */
	else
		rtn = 0x04;
	return bms_sim_pylon_reply(fam->soi, DR_VER, fam->cid1, address, rtn, d, n, out, cap);
}
