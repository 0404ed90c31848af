/* SPDX-License-Identifier: MIT */
/*
 * Felicity battery device simulator (bms/sim/sim.h): register images
 * 0x1300..0x133F and 0xF800..0xF80F built from the snapshot, any function
 * 0x03 read inside one of them answered, an exception elsewhere. Unused
 * cell and sensor slots read 0x7FFF as on the real unit; a serial is taken
 * as up to five groups of four digits (the unit prints its five words in
 * decimal), a firmware as a number.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bms/felicity_wire.h"
#include "fc3.h"
#include "sim.h"

#define LIVE_FIRST 0x1300
#define LIVE_N 0x40
#define ID_FIRST 0xF800
#define ID_N 0x10

static uint16_t to_u16(int64_t v)
{
	return v < 0 ? 0 : v > 0xFFFF ? 0xFFFF : (uint16_t)v;
}

static uint16_t fault_word(const struct bms_snapshot *s)
{
	if (!(s->valid & BMS_V_ALARMS))
		return 0;
	uint16_t f = 0;
	f |= s->alarm[BMS_ALARM_HIGH_CELL_VOLTAGE] ? FE_F_CELL_OV : 0;
	f |= s->alarm[BMS_ALARM_LOW_CELL_VOLTAGE] ? FE_F_CELL_UV : 0;
	f |= s->alarm[BMS_ALARM_HIGH_CHARGE_CURRENT] ? FE_F_CHARGE_OC : 0;
	f |= s->alarm[BMS_ALARM_HIGH_DISCHARGE_CURRENT] ? FE_F_DISCHARGE_OC : 0;
	f |= s->alarm[BMS_ALARM_HIGH_INTERNAL_TEMPERATURE] ? FE_F_BMS_OT : 0;
	f |= s->alarm[BMS_ALARM_HIGH_CHARGE_TEMPERATURE] ? FE_F_CHARGE_OT : 0;
	f |= s->alarm[BMS_ALARM_LOW_CHARGE_TEMPERATURE] ? FE_F_CHARGE_UT : 0;
	return (uint16_t)f;
}

static void build_live(const struct bms_snapshot *s, uint16_t *img)
{
#define R(reg) img[(reg)-LIVE_FIRST]
	memset(img, 0, LIVE_N * sizeof(img[0]));
	unsigned cells = s->cell_count > FE_NCELLS ? FE_NCELLS : s->cell_count;
	for (unsigned i = 0; i < FE_NCELLS; i++)
		R(FE_CELLS + i) = i < cells ? s->cell_mv[i] : FE_ABSENT;
	for (unsigned i = 0; i < FE_SENSORS; i++)
		R(FE_CELLS + FE_NCELLS + i) =
			i < s->temp_count ? (uint16_t)(int16_t)(s->temp_dc[i] / 10) : FE_ABSENT;
	R(0x1302) = (uint16_t)((s->charge_fet ? FE_ST_CHARGE : 0) |
			       (s->discharge_fet ? FE_ST_DISCHARGE : 0));
	R(0x1304) = fault_word(s);
	R(0x1306) = to_u16(s->voltage_mv / 10);
	int32_t ci = -s->current_ma / 100;
	R(0x1307) = (uint16_t)(int16_t)(ci < -32768 ? -32768 : ci > 32767 ? 32767 : ci);
	int mos = (s->valid & BMS_V_MOSFET_TEMP) ? s->mosfet_temp_dc / 10 : 25;
	R(0x130A) = (uint16_t)(int16_t)mos;
	R(0x130B) = (uint16_t)(s->soc_cpct / 100);
	R(0x131C) = 5680; /* 56.80 V, 44.00 V: described, not decoded */
	R(0x131D) = 4400;
	R(0x131E) = to_u16(s->max_charge_ma / 100);
	R(0x131F) = to_u16(s->max_discharge_ma / 100);
#undef R
}

static void build_id(const struct bms_snapshot *s, uint16_t *img)
{
	memset(img, 0, ID_N * sizeof(img[0]));
	size_t n = strnlen(s->serial, sizeof(s->serial));
	bool digits = n > 0 && n <= 4 * FE_SERIAL_N;
	for (size_t i = 0; i < n; i++)
		digits &= s->serial[i] >= '0' && s->serial[i] <= '9';
	for (unsigned w = 0; digits && 4 * w < n; w++) {
		char group[5] = "";
		memcpy(group, s->serial + 4 * w, n - 4 * w < 4 ? n - 4 * w : 4);
		img[FE_SERIAL - ID_FIRST + w] = (uint16_t)atoi(group);
	}
	img[FE_FIRMWARE - ID_FIRST] = (uint16_t)(int16_t)atoi(s->sw_version);
}

static int fe_sim_respond(struct bms_snapshot *snap, uint8_t address, const uint8_t *req,
			  size_t req_len, uint8_t *out, size_t cap)
{
	uint8_t addr = address ? address : FE_ADDR_DEFAULT;
	uint16_t img[LIVE_N];
	bool id = req_len == 8 && (req[2] << 8 | req[3]) >= ID_FIRST;
	if (id)
		build_id(snap, img);
	else
		build_live(snap, img);
	return bms_sim_fc3_reply(addr, img, id ? ID_FIRST : LIVE_FIRST, id ? ID_N : LIVE_N, req,
				 req_len, out, cap);
}

const struct bms_sim bms_sim_felicity = {"felicity", fe_sim_respond};
