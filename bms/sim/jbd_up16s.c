/* SPDX-License-Identifier: MIT */
/* JBD UP16S (function 0x78) device simulator: status and product blocks (bms/sim/sim.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bms/jbd_up16s_wire.h"
#include "bms/stats.h"
#include "sim.h"

static uint16_t to_u16(int64_t v)
{
	return v < 0 ? 0 : v > 0xFFFF ? 0xFFFF : (uint16_t)v;
}

/* Each raised alarm sets the first bit that carries it at its level. */
static void sim_alarm_bits(const struct bms_snapshot *s, uint32_t *faults, uint32_t *warns)
{
	*faults = *warns = 0;
	if (!(s->valid & BMS_V_ALARMS))
		return;
	for (unsigned a = 0; a < BMS_ALARM_COUNT; a++) {
		const struct up_bit *map = s->alarm[a] >= 2 ? fault_map : warn_map;
		size_t n = s->alarm[a] >= 2 ? NBITS(fault_map) : NBITS(warn_map);
		uint32_t *word = s->alarm[a] >= 2 ? faults : warns;
		if (s->alarm[a] == 0)
			continue;
		for (size_t i = 0; i < n; i++)
			if (map[i].alarm == a) {
				*word |= 1u << map[i].bit;
				break;
			}
	}
}

static uint16_t sim_fw_word(const char *v)
{
	unsigned hi, lo;
	if (sscanf(v, "%u.%u", &hi, &lo) == 2)
		return (uint16_t)(((hi & 0xFF) << 8) | (lo & 0xFF));
	if (sscanf(v, "%u", &hi) == 1)
		return (uint16_t)(hi & 0xFF);
	return 0;
}

static int sim_status(const struct bms_snapshot *s, uint8_t addr, uint8_t *out, size_t cap)
{
	/* room for the start/end/length header (up_put_frame fills it), then the data */
	uint8_t pdu[UP_PDU_HDR + UP_STATUS_FIXED + 2 * BMS_MAX_CELLS + 2 + 2 * BMS_MAX_TEMPS + 6 +
		    UP_SERIAL_LEN + UP_TAIL_LEN];
	uint8_t *d = pdu + UP_PDU_HDR;
	memset(pdu, 0, sizeof(pdu));
	unsigned cells = s->cell_count > BMS_MAX_CELLS ? BMS_MAX_CELLS : s->cell_count;
	unsigned temps = s->temp_count > BMS_MAX_TEMPS ? BMS_MAX_TEMPS : s->temp_count;
	int64_t cur = UP_CURRENT_ZERO + (int64_t)s->current_ma / 10;
	int32_t rated =
		(s->valid & BMS_V_CAP_DESIGN) ? s->capacity_design_mah : s->capacity_full_mah;
	int16_t mos = (s->valid & BMS_V_MOSFET_TEMP) ? s->mosfet_temp_dc : 250;
	uint32_t faults, warns;
	struct bms_stats cs;
	bms_stats_compute(s, &cs);

	put_u16be(d + 0, to_u16(s->voltage_mv / 10));
	put_u32be(d + 4, (uint32_t)(cur < 0 ? 0 : cur));
	put_u16be(d + 8, s->soc_cpct > 10000 ? (uint16_t)10000 : s->soc_cpct);
	put_u16be(d + 10, to_u16(s->capacity_remain_mah / 10));
	put_u16be(d + 12, to_u16(s->capacity_full_mah / 10));
	put_u16be(d + 14, to_u16(rated / 10));
	put_u16be(d + 16, to_u16(mos + UP_TEMP_ZERO));
	put_u16be(d + 18, to_u16(mos + UP_TEMP_ZERO)); /* ambient: no snapshot field */
	put_u16be(d + 20, s->current_ma > 0 ? 1 : s->current_ma < 0 ? 2 : 0);
	put_u16be(d + 22, (s->valid & BMS_V_SOH) ? (uint16_t)(s->soh_cpct / 100) : 100);
	sim_alarm_bits(s, &faults, &warns);
	put_u32be(d + 24, faults);
	put_u32be(d + 28, warns);
	put_u16be(d + 32, (uint16_t)((s->discharge_fet ? 1 : 0) | (s->charge_fet ? 2 : 0)));
	put_u16be(d + 36, to_u16(s->cycles));
	put_u16be(d + 38, (uint16_t)(cs.cell_max_idx + 1));
	put_u16be(d + 40, cs.cell_max_mv);
	put_u16be(d + 42, (uint16_t)(cs.cell_min_idx + 1));
	put_u16be(d + 44, cs.cell_min_mv);
	put_u16be(d + 46, (uint16_t)(cs.cell_count ? cs.cell_sum_mv / cs.cell_count : 0));
	put_u16be(d + 60, to_u16(s->max_charge_ma / 100));
	put_u16be(d + 64, to_u16(s->max_discharge_ma / 100));
	put_u16be(d + 66, (uint16_t)cells);
	size_t o = UP_STATUS_FIXED;
	for (unsigned i = 0; i < cells; i++, o += 2)
		put_u16be(d + o, s->cell_mv[i]);
	put_u16be(d + o, (uint16_t)temps);
	o += 2;
	for (unsigned i = 0; i < temps; i++, o += 2)
		put_u16be(d + o, to_u16(s->temp_dc[i] + UP_TEMP_ZERO));
	o += 2; /* unknown */
	put_u16be(d + o, (uint16_t)s->balancing);
	o += 2;
	put_u16be(d + o, (s->valid & BMS_V_SW_VERSION) ? sim_fw_word(s->sw_version) : 0);
	o += 2;
	if (s->valid & BMS_V_SERIAL)
		memcpy(d + o, s->serial, strnlen(s->serial, UP_SERIAL_LEN));
	o += UP_SERIAL_LEN + UP_TAIL_LEN;
	return up_put_frame(addr, UP_STATUS, UP_STATUS_END, pdu, o, out, cap);
}

static int sim_product(const struct bms_snapshot *s, uint8_t addr, uint8_t *out, size_t cap)
{
	uint8_t pdu[UP_PDU_HDR + UP_PRODUCT_LEN];
	uint8_t *d = pdu + UP_PDU_HDR;
	unsigned v[3] = {0, 0, 0};
	memset(pdu, 0, sizeof(pdu));
	if (sscanf(s->sw_version, "%u.%u.%u", &v[0], &v[1], &v[2]) < 1)
		v[0] = 0;
	for (unsigned i = 0; i < 3; i++)
		put_u16be(d + 4 + 2 * i, (uint16_t)v[i]);
	memcpy(d + 12, s->model, strnlen(s->model, 16));
	return up_put_frame(addr, UP_PRODUCT, UP_PRODUCT_END, pdu, UP_PRODUCT_LEN, out, cap);
}

static int up_sim_respond(struct bms_snapshot *snap, uint8_t address, const uint8_t *req,
			  size_t req_len, uint8_t *out, size_t cap)
{
	uint8_t addr = address ? address : 1;
	/* only a well-formed read for this pack is answered */
	if (req_len != UP_OVERHEAD || req[0] != addr || req[1] != UP_READ || req[6] != 0 ||
	    req[7] != 0 || !bms_modbus_crc_ok(req, req_len))
		return 0;
	switch ((req[2] << 8) | req[3]) {
	case UP_STATUS:
		return sim_status(snap, addr, out, cap);
	case UP_PRODUCT:
		return sim_product(snap, addr, out, cap);
	default:
		return 0;
	}
}

const struct bms_sim bms_sim_jbd_up16s = {"jbd_up16s", up_sim_respond};
