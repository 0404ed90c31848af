/* SPDX-License-Identifier: MIT */
/*
 * Heltec / YY smart BMS device simulator (bms/sim/sim.h): a register image
 * 0..199 built from the snapshot in the BMS's own byte order (16-bit values
 * low byte first, 32-bit values four bytes little-endian), any function 0x03
 * read inside it answered. Fields the snapshot does not hold stay 0 (no
 * serial, no name), so a decode gives back exactly the state.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bms/heltec_wire.h"
#include "fc3.h"
#include "sim.h"

#define IMG_N 200

/* A register as it goes on the wire: first byte a, second byte b. */
static void put_bytes(uint16_t *img, unsigned reg, uint8_t a, uint8_t b)
{
	img[reg] = (uint16_t)(a << 8 | b);
}

static void put_le16(uint16_t *img, unsigned reg, uint16_t v)
{
	put_bytes(img, reg, (uint8_t)v, (uint8_t)(v >> 8));
}

static void put_le32(uint16_t *img, unsigned reg, uint32_t v)
{
	put_le16(img, reg, (uint16_t)v);
	put_le16(img, reg + 1, (uint16_t)(v >> 16));
}

static void put_text(uint16_t *img, unsigned reg, unsigned nregs, const char *s)
{
	size_t n = strnlen(s, 2u * nregs);
	for (unsigned i = 0; i < nregs; i++)
		put_bytes(img, reg + i, 2 * i < n ? (uint8_t)s[2 * i] : 0,
			  2 * i + 1 < n ? (uint8_t)s[2 * i + 1] : 0);
}

static uint8_t temp_byte(int dc)
{
	int t = dc / 10 + HT_TEMP_OFFSET;
	return (uint8_t)(t < 0 ? 0 : t > 255 ? 255 : t);
}

static uint32_t warnings(const struct bms_snapshot *s)
{
	if (!(s->valid & BMS_V_ALARMS))
		return 0;
	static const struct {
		enum bms_alarm a;
		uint32_t bit;
	} map[] = {
		{BMS_ALARM_HIGH_CELL_VOLTAGE, HT_W_CELL_OV},
		{BMS_ALARM_LOW_CELL_VOLTAGE, HT_W_CELL_UV},
		{BMS_ALARM_HIGH_VOLTAGE, HT_W_PACK_OV},
		{BMS_ALARM_LOW_VOLTAGE, HT_W_PACK_UV},
		{BMS_ALARM_HIGH_CHARGE_CURRENT, HT_W_CHARGE_OC},
		{BMS_ALARM_HIGH_CURRENT, HT_W_SHORT},
		{BMS_ALARM_HIGH_CHARGE_TEMPERATURE, HT_W_CHARGE_OT},
		{BMS_ALARM_LOW_CHARGE_TEMPERATURE, HT_W_CHARGE_UT},
		{BMS_ALARM_HIGH_TEMPERATURE, HT_W_DISCHARGE_OT},
		{BMS_ALARM_LOW_TEMPERATURE, HT_W_DISCHARGE_UT},
		{BMS_ALARM_HIGH_INTERNAL_TEMPERATURE, HT_W_MOS_OT},
		{BMS_ALARM_LOW_SOC, HT_W_SOC_LOW},
		{BMS_ALARM_INTERNAL_FAILURE, 1u << 16},
	};
	uint32_t w = 0;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (s->alarm[map[i].a])
			w |= map[i].bit;
	/* discharge over-current has two stages: warning and protection */
	uint8_t doc = s->alarm[BMS_ALARM_HIGH_DISCHARGE_CURRENT];
	if (doc)
		w |= doc == 1 ? HT_W_DISCHARGE_OC1 : HT_W_DISCHARGE_OC2;
	return w;
}

static void build_image(const struct bms_snapshot *s, uint16_t *img)
{
	memset(img, 0, IMG_N * sizeof(img[0]));
	unsigned w[4];
	if (sscanf(s->serial, "%4x-%4x-%4x-%4x", &w[0], &w[1], &w[2], &w[3]) == 4)
		for (unsigned i = 0; i < 4; i++)
			img[2 + i] = (uint16_t)w[i];
	put_text(img, 7, 13, s->model);
	/* hardware version "<name>(<n>)": the name at 41, n in 38's first byte */
	char name[13] = "";
	unsigned hw = 0;
	if (sscanf(s->hw_version, "%12[^(](%u)", name, &hw) == 2) {
		put_text(img, 41, 6, name);
		put_bytes(img, 38, (uint8_t)hw, 0);
	}
	unsigned cells = s->cell_count > HT_MAX_CELLS ? HT_MAX_CELLS : s->cell_count;
	put_bytes(img, 75, (uint8_t)cells, 1 /* LFP */);
	put_le32(img, 76, s->voltage_mv > 0 ? (uint32_t)s->voltage_mv : 0);
	put_le32(img, 78, (uint32_t)(-(s->current_ma / 10)));
	for (unsigned i = 0; i < cells; i++)
		put_le16(img, 81 + i, s->cell_mv[i]);
	int mos = (s->valid & BMS_V_MOSFET_TEMP) ? s->mosfet_temp_dc : 250;
	put_bytes(img, 112, temp_byte(260), temp_byte(mos));
	int t1 = s->temp_count > 0 ? s->temp_dc[0] : 250,
	    t2 = s->temp_count > 1 ? s->temp_dc[1] : t1;
	put_bytes(img, 113, temp_byte(t2), temp_byte(t1));
	uint32_t full = s->capacity_full_mah > 0 ? (uint32_t)s->capacity_full_mah / 100 : 0;
	put_le16(img, 118, (uint16_t)(full > 0xFFFF ? 0xFFFF : full));
	put_le16(img, 119, (uint16_t)(full > 0xFFFF ? 0xFFFF : full));
	put_bytes(img, 120, (uint8_t)(s->soc_cpct / 100),
		  (uint8_t)((s->valid & BMS_V_SOH) ? s->soh_cpct / 100 : 100));
	put_le16(img, 126, (uint16_t)(full > 0xFFFF ? 0xFFFF : full));
	put_le32(img, 139, s->balancing);
	put_le32(img, 152,
		 (s->charge_fet ? 0 : HT_RUN_CHARGE_OFF) |
			 (s->discharge_fet ? 0 : HT_RUN_DISCHARGE_OFF));
	put_le32(img, 156, warnings(s));
	uint16_t hi = 0, lo = 0xFFFF;
	for (unsigned i = 0; i < cells; i++) {
		hi = s->cell_mv[i] > hi ? s->cell_mv[i] : hi;
		lo = s->cell_mv[i] < lo ? s->cell_mv[i] : lo;
	}
	put_le16(img, 169, hi);
	put_le16(img, 172, cells ? lo : 0);
	int32_t cl = s->max_charge_ma / 10, dl = s->max_discharge_ma / 10;
	put_le16(img, 191, (uint16_t)(cl < 0 ? 0 : cl > 0xFFFF ? 0xFFFF : cl));
	put_le16(img, 194, (uint16_t)(dl < 0 ? 0 : dl > 0xFFFF ? 0xFFFF : dl));
}

static int ht_sim_respond(struct bms_snapshot *snap, uint8_t address, const uint8_t *req,
			  size_t req_len, uint8_t *out, size_t cap)
{
	uint16_t img[IMG_N];
	build_image(snap, img);
	return bms_sim_fc3_reply(address ? address : HT_ADDR_DEFAULT, img, 0, IMG_N, req, req_len,
				 out, cap);
}

const struct bms_sim bms_sim_heltec = {"heltec", ht_sim_respond};
