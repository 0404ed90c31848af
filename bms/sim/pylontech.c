/* SPDX-License-Identifier: MIT */
/*
 * Pylontech RS485 V3.3 device simulator (bms/sim/sim.h): 0x42, 0x44, 0x92,
 * 0x93, 0x51 and 0x4F for the pack at ADR = address. A request for another ADR
 * gets no answer (the other packs of the link answer their own); our ADR
 * with another VER gets RTN 0x01, an unknown command RTN 0x04.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bms/bytes.h"
#include "bms/pylon_ascii.h"
#include "pylon.h"
#include "bms/pylontech_wire.h"
#include "sim.h"

static uint16_t to_u16(int64_t v)
{
	return v < 0 ? 0 : v > 0xFFFF ? 0xFFFF : (uint16_t)v;
}

static size_t put_u24be(uint8_t *d, int64_t v)
{
	uint32_t u = v < 0 ? 0 : v > 0xFFFFFF ? 0xFFFFFF : (uint32_t)v;
	d[0] = (uint8_t)(u >> 16);
	put_u16be(d + 1, (uint16_t)u);
	return 3;
}

static size_t sim_analog(const struct bms_snapshot *s, uint8_t adr, uint8_t *d)
{
	unsigned m = s->cell_count > BMS_MAX_CELLS ? BMS_MAX_CELLS : s->cell_count;
	unsigned t = s->temp_count > BMS_MAX_TEMPS ? BMS_MAX_TEMPS : s->temp_count;
	size_t o = 0;
	d[o++] = 0x10; /* INFOFLAG as the captures send it */
	d[o++] = adr;
	d[o++] = (uint8_t)m;
	for (unsigned i = 0; i < m; i++, o += 2)
		put_u16be(d + o, s->cell_mv[i]);
	d[o++] = (uint8_t)(t + 1);
	put_u16be(d + o, to_u16(s->mosfet_temp_dc + PYL_TEMP_ZERO)); /* the BMS board */
	o += 2;
	for (unsigned i = 0; i < t; i++, o += 2)
		put_u16be(d + o, to_u16(s->temp_dc[i] + PYL_TEMP_ZERO));
	int32_t cur = s->current_ma / PYL_CUR_UNIT;
	put_u16be(d + o, (uint16_t)(int16_t)(cur < INT16_MIN   ? INT16_MIN
					     : cur > INT16_MAX ? INT16_MAX
							       : cur));
	put_u16be(d + o + 2, to_u16(s->voltage_mv));
	o += 4;
	/* a pack above 65 Ah sends 0xFFFF, P = 4 and the 24-bit capacities */
	bool big = s->capacity_remain_mah > 0xFFFF || s->capacity_full_mah > 0xFFFF;
	put_u16be(d + o, big ? 0xFFFF : to_u16(s->capacity_remain_mah));
	d[o + 2] = big ? PYL_USER_LONG : PYL_USER_SHORT;
	put_u16be(d + o + 3, big ? 0xFFFF : to_u16(s->capacity_full_mah));
	put_u16be(d + o + 5, to_u16(s->cycles));
	o += 7;
	if (big) {
		o += put_u24be(d + o, s->capacity_remain_mah);
		o += put_u24be(d + o, s->capacity_full_mah);
	}
	return o;
}

/*
 * The code byte a raised alarm is sent in (NULL: none can carry it): each
 * alarm of a list (cells, sensors) on its own element, so that any set of
 * them survives the trip: low on the first, high on the second; another
 * fault (0xF0) on the third cell.
 */
static uint8_t *code_byte(enum pyl_code_of of, uint8_t code, uint8_t *cells, unsigned m,
			  uint8_t *temps, unsigned k, uint8_t *tail)
{
	unsigned i = code == PYL_CODE_LOW ? 0 : code == PYL_CODE_HIGH ? 1 : 2;
	switch (of) {
	case PYL_OF_CELL:
		return i < m ? &cells[i] : NULL;
	case PYL_OF_TEMP_BMS:
		return &temps[0];
	case PYL_OF_TEMP:
		return 1 + i < k ? &temps[1 + i] : NULL; /* after the board sensor */
	case PYL_OF_CHARGE:
		return &tail[0];
	case PYL_OF_VOLTAGE:
		return &tail[1];
	default:
		return &tail[2];
	}
}

static size_t sim_alarm(const struct bms_snapshot *s, uint8_t adr, uint8_t *d)
{
	unsigned m = s->cell_count > BMS_MAX_CELLS ? BMS_MAX_CELLS : s->cell_count;
	unsigned k = (s->temp_count > BMS_MAX_TEMPS ? BMS_MAX_TEMPS : s->temp_count) + 1u;
	size_t o = 0;
	d[o++] = 0x10;
	d[o++] = adr;
	d[o++] = (uint8_t)m;
	uint8_t *cells = d + o;
	memset(cells, 0, m);
	o += m;
	d[o++] = (uint8_t)k;
	uint8_t *temps = d + o;
	memset(temps, 0, k);
	o += k;
	uint8_t *tail = d + o;
	memset(tail, 0, 3 + PYL_STATUS_MIN);
	o += 3 + PYL_STATUS_MIN;
	for (size_t i = 0; s->valid & BMS_V_ALARMS && i < PYL_NCODES; i++) {
		uint8_t *b = code_byte((enum pyl_code_of)pyl_codes[i].of, pyl_codes[i].code, cells,
				       m, temps, k, tail);
		if (s->alarm[pyl_codes[i].alarm] && b)
			*b = pyl_codes[i].code;
	}
	uint8_t *other = code_byte(PYL_OF_CELL, PYL_CODE_OTHER, cells, m, temps, k, tail);
	if (s->valid & BMS_V_ALARMS && s->alarm[BMS_ALARM_INTERNAL_FAILURE] && other)
		*other = PYL_CODE_OTHER;
	return o;
}

static size_t sim_maker(const struct bms_snapshot *s, uint8_t *d)
{
	unsigned hi = 0, lo = 0;
	memset(d, 0, PYL_NAME_LEN);
	memcpy(d, s->model, strnlen(s->model, PYL_NAME_LEN));
	if (sscanf(s->sw_version, "%u.%u", &hi, &lo) < 1)
		hi = lo = 0;
	d[PYL_NAME_LEN] = (uint8_t)hi;
	d[PYL_NAME_LEN + 1] = (uint8_t)lo;
	memset(d + PYL_NAME_LEN + 2, '-', PYL_MAKER_LEN);
	memcpy(d + PYL_NAME_LEN + 2, "Pylon", 5);
	return PYL_MAKER_INFO;
}

static int16_t to_s16(int64_t v)
{
	return v < INT16_MIN ? INT16_MIN : v > INT16_MAX ? INT16_MAX : (int16_t)v;
}

static size_t sim_manage(const struct bms_snapshot *s, uint8_t adr, uint8_t *d)
{
	d[0] = adr;
	/* voltage limits: no snapshot field; 3.55 V and 3.0 V a cell, as a pack would set them */
	put_u16be(d + 1, to_u16(3550 * (int64_t)s->cell_count));
	put_u16be(d + 3, to_u16(3000 * (int64_t)s->cell_count));
	put_u16be(d + 5, (uint16_t)to_s16(s->max_charge_ma / PYL_CUR_UNIT));
	put_u16be(d + 7, (uint16_t)to_s16(-(int64_t)(s->max_discharge_ma / PYL_CUR_UNIT)));
	d[9] = (uint8_t)((s->charge_fet ? PYL_CHARGE_ENABLE : 0) |
			 (s->discharge_fet ? PYL_DISCHARGE_ENABLE : 0));
	return PYL_MANAGE_INFO;
}

static size_t sim_serial(const struct bms_snapshot *s, uint8_t adr, uint8_t *d)
{
	d[0] = adr;
	memset(d + 1, 0, PYL_SERIAL_LEN);
	memcpy(d + 1, s->serial, strnlen(s->serial, PYL_SERIAL_LEN));
	return 1 + PYL_SERIAL_LEN;
}

static int pyl_sim_respond(struct bms_snapshot *snap, uint8_t address, const uint8_t *req,
			   size_t req_len, uint8_t *out, size_t cap)
{
	uint8_t adr = address;
	struct bms_pylon_frame f;
	int asked = bms_sim_pylon_asked(NULL, PYL_VER, PYL_CID1, adr, req, req_len, &f);
	if (asked < 0)
		return 0;
	if (asked > 0) /* another family's request: refused */
		return bms_sim_pylon_reply(0, PYL_VER, PYL_CID1, adr, (uint8_t)asked, NULL, 0, out,
					   cap);
	uint8_t d[PYL_MAX_INFO];
	size_t n = 0;
	uint8_t rtn = 0;
	if (f.cid2 == PYL_ANALOG)
		n = sim_analog(snap, adr, d);
	else if (f.cid2 == PYL_ALARM)
		n = sim_alarm(snap, adr, d);
	else if (f.cid2 == PYL_MAKER)
		n = sim_maker(snap, d);
	else if (f.cid2 == PYL_MANAGE)
		n = sim_manage(snap, adr, d);
	else if (f.cid2 == PYL_SERIAL)
		n = sim_serial(snap, adr, d);
	else if (f.cid2 != 0x4F) /* protocol version: an empty INFO, VER says it */
		rtn = 0x04;
	return bms_sim_pylon_reply(0, PYL_VER, PYL_CID1, adr, rtn, d, n, out, cap);
}

const struct bms_sim bms_sim_pylontech = {"pylontech", pyl_sim_respond};
