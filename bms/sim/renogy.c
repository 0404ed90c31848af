/* SPDX-License-Identifier: MIT */
/*
 * Renogy smart lithium device simulator (bms/sim/sim.h): a register image
 * 5000..5141 built from the snapshot, any function 0x03 read inside it
 * answered. Unit addresses as configured (default 0x30).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bms/bytes.h"
#include "bms/modbus_rtu.h"
#include "bms/renogy_wire.h"
#include "sim.h"

#define IMG_FIRST 5000
#define IMG_LAST 5141
#define IMG_N (IMG_LAST - IMG_FIRST + 1)

/* A Renogy always reports a model: an empty one in the state plays this. */
#define SIM_DEFAULT_MODEL "RBT100LFP12S-G1"

static uint16_t clamp16(int64_t v)
{
	return v < 0 ? 0 : v > 0xFFFF ? 0xFFFF : (uint16_t)v;
}

static void put_text(uint16_t *img, unsigned reg, unsigned nregs, const char *s)
{
	size_t n = strnlen(s, 2u * nregs);
	for (unsigned i = 0; i < nregs; i++) {
		uint8_t hi = 2 * i < n ? (uint8_t)s[2 * i] : 0;
		uint8_t lo = 2 * i + 1 < n ? (uint8_t)s[2 * i + 1] : 0;
		img[reg - IMG_FIRST + i] = (uint16_t)((hi << 8) | lo);
	}
}

static void build_image(const struct bms_snapshot *s, uint16_t *img)
{
	memset(img, 0, IMG_N * sizeof(img[0]));
	unsigned cells = s->cell_count > RN_MAX_CELLS ? RN_MAX_CELLS : s->cell_count;
	img[0] = (uint16_t)cells;
	for (unsigned i = 0; i < cells; i++)
		img[1 + i] = (uint16_t)((s->cell_mv[i] + 50) / 100); /* 0.1 V */
	unsigned temps = s->temp_count > BMS_MAX_TEMPS ? BMS_MAX_TEMPS : s->temp_count;
	img[17] = (uint16_t)temps;
	for (unsigned i = 0; i < temps; i++)
		img[18 + i] = (uint16_t)s->temp_dc[i];
	int32_t cur = s->current_ma / 10;
	img[RN_STATUS - IMG_FIRST] = (uint16_t)(int16_t)(cur < -32768  ? -32768
							 : cur > 32767 ? 32767
								       : cur);
	img[RN_STATUS - IMG_FIRST + 1] = clamp16(s->voltage_mv / 100);
	uint32_t full = s->capacity_full_mah > 0 ? (uint32_t)s->capacity_full_mah : 0;
	uint32_t rem = s->capacity_remain_mah > 0 ? (uint32_t)s->capacity_remain_mah : 0;
	img[RN_STATUS - IMG_FIRST + 2] = (uint16_t)(rem >> 16);
	img[RN_STATUS - IMG_FIRST + 3] = (uint16_t)rem;
	img[RN_STATUS - IMG_FIRST + 4] = (uint16_t)(full >> 16);
	img[RN_STATUS - IMG_FIRST + 5] = (uint16_t)full;
	img[RN_STATUS - IMG_FIRST + 6] = clamp16(s->cycles);
	img[5106 - IMG_FIRST] = (uint16_t)((s->charge_fet ? RN_FET_CHARGE : 0) |
					   (s->discharge_fet ? RN_FET_DISCHARGE : 0));
	img[5107 - IMG_FIRST] = s->heating ? RN_HEATER : 0;
	put_text(img, 5110, 8, s->serial);
	put_text(img, 5118, 4, "");
	put_text(img, RN_MODEL, RN_MODEL_N, s->model[0] ? s->model : SIM_DEFAULT_MODEL);
	put_text(img, 5130, 2, s->sw_version);
	put_text(img, 5132, 10, "Renogy");
}

static int exception(uint8_t addr, uint8_t code, uint8_t *out, size_t cap)
{
	uint8_t pdu[1] = {code};
	int r = bms_modbus_frame(addr, BMS_MODBUS_READ_HOLDING | BMS_MODBUS_EXCEPTION, pdu, 1, out,
				 cap);
	return r == -ENOBUFS ? -ENOSPC : r;
}

static int rn_sim_respond(struct bms_snapshot *snap, uint8_t address, const uint8_t *req,
			  size_t req_len, uint8_t *out, size_t cap)
{
	uint8_t addr = address ? address : RN_ADDR_DEFAULT;
	struct bms_modbus_req q;
	/* only a well-formed read for this unit is answered */
	if (req_len != 8 || req[0] != addr || bms_modbus_parse_request(req, req_len, &q) < 0)
		return 0;
	if (q.fn != BMS_MODBUS_READ_HOLDING)
		return exception(addr, 0x01, out, cap); /* illegal function */
	if (q.count == 0 || q.count > BMS_MODBUS_MAX_READ_REGS || q.start < IMG_FIRST ||
	    q.start + q.count - 1 > IMG_LAST)
		return exception(addr, 0x02, out, cap); /* illegal data address */
	uint16_t img[IMG_N];
	build_image(snap, img);
	uint8_t pdu[1 + 2 * BMS_MODBUS_MAX_READ_REGS];
	pdu[0] = (uint8_t)(2 * q.count);
	for (unsigned i = 0; i < q.count; i++)
		put_u16be(pdu + 1 + 2 * i, img[q.start - IMG_FIRST + i]);
	int r = bms_modbus_frame(addr, BMS_MODBUS_READ_HOLDING, pdu, 1 + 2u * q.count, out, cap);
	return r == -ENOBUFS ? -ENOSPC : r;
}

const struct bms_sim bms_sim_renogy = {"renogy", rn_sim_respond};
