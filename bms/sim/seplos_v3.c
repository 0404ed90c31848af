/* SPDX-License-Identifier: MIT */
/*
 * Seplos v3 (XZH Modbus RTU) device simulator (bms/sim/sim.h): one pack at
 * `address` answering PIA, PIB, PIC and VIA; at address 0, the bus master,
 * also the system blocks EIA and EIC (a one-pack system). Anything else,
 * another address, a bad CRC or a count other than the block's: silence.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bms/bytes.h"
#include "bms/modbus_rtu.h"
#include "bms/seplos_v3_wire.h"
#include "bms/stats.h"
#include "sim.h"

static uint16_t to_u16(int64_t v)
{
	return v < 0 ? 0 : v > 0xFFFF ? 0xFFFF : (uint16_t)v;
}

static uint16_t kelvin(int dc)
{
	return to_u16(dc + S3_TEMP_ZERO);
}

/* The ten event bytes from the state: alarms, FETs, heating, system state. */
static void sim_events(const struct bms_snapshot *s, uint8_t ev[S3_EV_BYTES], bool system)
{
	memset(ev, 0, S3_EV_BYTES);
	ev[S3_EV_SYSTEM] = s->current_ma > 0 ? 0x02 : s->current_ma < 0 ? 0x01 : 0x10;
	if (s->discharge_fet)
		ev[S3_EV_FET] |= S3_FET_DISCHARGE;
	if (s->charge_fet)
		ev[S3_EV_FET] |= S3_FET_CHARGE;
	if (s->heating)
		ev[S3_EV_FET] |= S3_FET_HEATING;
	(void)system;
	if (!(s->valid & BMS_V_ALARMS))
		return;
	for (unsigned a = 0; a < BMS_ALARM_COUNT; a++) {
		if (!s->alarm[a])
			continue;
		const struct s3_bit *pick = NULL;
		for (size_t i = 0; i < S3_NALARM_BITS; i++) {
			const struct s3_bit *b = &s3_alarm_map[i];
			if (b->alarm != a)
				continue;
			if (b->level == s->alarm[a]) {
				pick = b;
				break;
			}
			if (!pick || b->level > pick->level)
				pick = b;
		}
		if (pick)
			ev[pick->byte] |= (uint8_t)(1u << pick->bit);
	}
}

static int reply(uint8_t addr, uint8_t fn, const uint8_t *data, size_t n, uint8_t *out, size_t cap)
{
	uint8_t pdu[1 + 2 * BMS_MODBUS_MAX_READ_REGS];
	pdu[0] = (uint8_t)n;
	memcpy(pdu + 1, data, n);
	int r = bms_modbus_frame(addr, fn, pdu, n + 1, out, cap);
	return r == -ENOBUFS ? -ENOSPC : r;
}

static void cell_temp_stats(const struct bms_snapshot *s, int *avg, int *max, int *min)
{
	unsigned n = s->temp_count > S3_PIB_TEMPS ? S3_PIB_TEMPS : s->temp_count;
	if (n == 0) {
		*avg = *max = *min = 250;
		return;
	}
	int sum = 0;
	*max = *min = s->temp_dc[0];
	for (unsigned i = 0; i < n; i++) {
		sum += s->temp_dc[i];
		if (s->temp_dc[i] > *max)
			*max = s->temp_dc[i];
		if (s->temp_dc[i] < *min)
			*min = s->temp_dc[i];
	}
	*avg = sum / (int)n;
}

static int sim_pia(const struct bms_snapshot *s, uint8_t addr, uint8_t *out, size_t cap)
{
	uint8_t d[2 * S3_PIA_REGS];
	struct bms_stats cs;
	int tavg, tmax, tmin;
	memset(d, 0, sizeof(d));
	bms_stats_compute(s, &cs);
	cell_temp_stats(s, &tavg, &tmax, &tmin);
	uint16_t avg = 3300;
	if (cs.cell_count)
		avg = (uint16_t)(cs.cell_sum_mv / cs.cell_count);
	put_u16be(d + 0, to_u16(s->voltage_mv / 10));
	put_u16be(d + 2, (uint16_t)(int16_t)(s->current_ma / 10));
	put_u16be(d + 4, to_u16(s->capacity_remain_mah / 10));
	put_u16be(d + 6, to_u16(s->capacity_full_mah / 10));
	put_u16be(d + 10, to_u16(s->soc_cpct / 10));
	put_u16be(d + 12, (s->valid & BMS_V_SOH) ? to_u16(s->soh_cpct / 10) : 1000);
	put_u16be(d + 14, to_u16(s->cycles));
	put_u16be(d + 16, avg);
	put_u16be(d + 18, kelvin(tavg));
	put_u16be(d + 20, cs.cell_count ? cs.cell_max_mv : avg);
	put_u16be(d + 22, cs.cell_count ? cs.cell_min_mv : avg);
	put_u16be(d + 24, kelvin(tmax));
	put_u16be(d + 26, kelvin(tmin));
	put_u16be(d + 30, to_u16(s->max_discharge_ma / 1000));
	put_u16be(d + 32, to_u16(s->max_charge_ma / 1000));
	return reply(addr, BMS_MODBUS_READ_INPUT, d, sizeof(d), out, cap);
}

static int sim_pib(const struct bms_snapshot *s, uint8_t addr, uint8_t *out, size_t cap)
{
	uint8_t d[2 * S3_PIB_REGS];
	memset(d, 0, sizeof(d));
	unsigned cells = s->cell_count > S3_PIB_CELLS ? S3_PIB_CELLS : s->cell_count;
	for (unsigned i = 0; i < cells; i++)
		put_u16be(d + 2 * i, s->cell_mv[i]);
	for (unsigned i = 0; i < S3_PIB_TEMPS; i++)
		put_u16be(d + 32 + 2 * i, kelvin(i < s->temp_count ? s->temp_dc[i] : 250));
	for (unsigned i = 0; i < 4; i++)
		put_u16be(d + 40 + 2 * i, S3_TEMP_ZERO); /* unused slots */
	int mos = (s->valid & BMS_V_MOSFET_TEMP) ? s->mosfet_temp_dc : 250;
	put_u16be(d + 48, kelvin(mos)); /* environment: no snapshot field */
	put_u16be(d + 50, kelvin(mos));
	return reply(addr, BMS_MODBUS_READ_INPUT, d, sizeof(d), out, cap);
}

static int sim_pic(const struct bms_snapshot *s, uint8_t addr, uint8_t *out, size_t cap)
{
	uint8_t d[(S3_PIC_COILS + 7) / 8];
	memset(d, 0, sizeof(d));
	d[S3_PIC_BALANCE] = (uint8_t)(s->balancing & 0xFF);
	d[S3_PIC_BALANCE + 1] = (uint8_t)((s->balancing >> 8) & 0xFF);
	sim_events(s, d + S3_PIC_EVENTS, false);
	return reply(addr, BMS_MODBUS_READ_COILS, d, sizeof(d), out, cap);
}

static int sim_via(const struct bms_snapshot *s, uint8_t addr, uint8_t *out, size_t cap)
{
	uint8_t d[2 * S3_VIA_REGS];
	memset(d, 0, sizeof(d));
	memcpy(d, "XZH-ElecTech Co.,Ltd", 20);
	if (s->valid & BMS_V_MODEL)
		memcpy(d + 20, s->model, strnlen(s->model, 20));
	unsigned hi, lo;
	if ((s->valid & BMS_V_SW_VERSION) && sscanf(s->sw_version, "%u.%u", &hi, &lo) == 2 &&
	    hi < 10 && lo < 10) {
		d[40] = (uint8_t)('0' + hi);
		d[41] = (uint8_t)('0' + lo);
	}
	if (s->valid & BMS_V_SERIAL)
		memcpy(d + 42, s->serial, strnlen(s->serial, 30));
	return reply(addr, BMS_MODBUS_READ_INPUT, d, sizeof(d), out, cap);
}

static void put_ws32(uint8_t *p, uint32_t v)
{
	put_u16be(p, (uint16_t)(v & 0xFFFF));
	put_u16be(p + 2, (uint16_t)(v >> 16));
}

static int sim_eia(const struct bms_snapshot *s, uint8_t addr, uint8_t *out, size_t cap)
{
	uint8_t d[2 * S3_EIA_REGS];
	memset(d, 0, sizeof(d));
	int32_t rated =
		(s->valid & BMS_V_CAP_DESIGN) ? s->capacity_design_mah : s->capacity_full_mah;
	put_ws32(d + 0, (uint32_t)(s->voltage_mv / 10));
	put_ws32(d + 4, (uint32_t)(s->current_ma / 100));
	put_ws32(d + 8, (uint32_t)(s->capacity_remain_mah / 10));
	put_ws32(d + 12, (uint32_t)(s->capacity_full_mah / 10));
	put_ws32(d + 20, (uint32_t)(rated / 10));
	put_ws32(d + 24, 1); /* online packs: this one */
	put_ws32(d + 32, (uint32_t)(s->max_discharge_ma / 100));
	put_ws32(d + 36, (uint32_t)(s->max_charge_ma / 100));
	put_u16be(d + 44, 1); /* pack count */
	put_u16be(d + 46, to_u16(s->cycles));
	put_u16be(d + 48, to_u16(s->soc_cpct / 10));
	put_u16be(d + 50, (s->valid & BMS_V_SOH) ? to_u16(s->soh_cpct / 10) : 1000);
	return reply(addr, BMS_MODBUS_READ_INPUT, d, sizeof(d), out, cap);
}

static int sim_eic(const struct bms_snapshot *s, uint8_t addr, uint8_t *out, size_t cap)
{
	uint8_t d[(S3_EIC_COILS + 7) / 8];
	sim_events(s, d, true);
	d[S3_EV_STATE] = 0; /* equalization */
	return reply(addr, BMS_MODBUS_READ_COILS, d, sizeof(d), out, cap);
}

static int s3_sim_respond(struct bms_snapshot *snap, uint8_t address, const uint8_t *req,
			  size_t req_len, uint8_t *out, size_t cap)
{
	struct bms_modbus_req q;
	if (address > S3_ADDR_MAX || bms_modbus_parse_request(req, req_len, &q) < 0 ||
	    req_len != 8 || q.addr != address)
		return 0;
	static const struct {
		uint8_t fn;
		uint16_t start, count;
		bool master_only;
		int (*answer)(const struct bms_snapshot *, uint8_t, uint8_t *, size_t);
	} blocks[] = {
		{BMS_MODBUS_READ_INPUT, S3_PIA, S3_PIA_REGS, false, sim_pia},
		{BMS_MODBUS_READ_INPUT, S3_PIB, S3_PIB_REGS, false, sim_pib},
		{BMS_MODBUS_READ_COILS, S3_PIC, S3_PIC_COILS, false, sim_pic},
		{BMS_MODBUS_READ_INPUT, S3_VIA, S3_VIA_REGS, false, sim_via},
		{BMS_MODBUS_READ_INPUT, S3_EIA, S3_EIA_REGS, true, sim_eia},
		{BMS_MODBUS_READ_COILS, S3_EIC, S3_EIC_COILS, true, sim_eic},
	};
	for (size_t i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++)
		if (blocks[i].fn == q.fn && blocks[i].start == q.start &&
		    blocks[i].count == q.count && (!blocks[i].master_only || address == 0))
			return blocks[i].answer(snap, address, out, cap);
	return 0;
}

const struct bms_sim bms_sim_seplos_v3 = {"seplos_v3", s3_sim_respond};
