/* SPDX-License-Identifier: MIT */
/*
 * ECS GreenMeter device simulator (bms/sim/sim.h): a register image 0..131
 * built from the snapshot, any function 0x03 read inside it answered. The
 * meter id follows the model ("GreenMeter-250A", "-125A"; else 500 A); the
 * over/under-voltage states follow the alarms (one condition per side, as
 * the meter has); the discharge limit is sent negative, as a current out of
 * the pack. The LiPro cell modules are not simulated (the driver reads none).
 */
#include <errno.h>
#include <string.h>

#include "bms/ecs_wire.h"
#include "fc3.h"
#include "sim.h"

#define IMG_N 132

static void put_ws32(uint16_t *img, unsigned reg, uint32_t v)
{
	img[reg] = (uint16_t)v;
	img[reg + 1] = (uint16_t)(v >> 16);
}

static uint16_t side_state(const struct bms_snapshot *s, enum bms_alarm v, enum bms_alarm c,
			   enum bms_alarm hot, enum bms_alarm cold)
{
	if (!(s->valid & BMS_V_ALARMS))
		return EC_ST_OK;
	return s->alarm[v]      ? EC_ST_VOLTAGE
	       : s->alarm[c]    ? EC_ST_CURRENT
	       : s->alarm[hot]  ? EC_ST_HOT
	       : s->alarm[cold] ? EC_ST_COLD
				: EC_ST_OK;
}

static int16_t clamp16(int32_t v)
{
	return (int16_t)(v < -32768 ? -32768 : v > 32767 ? 32767 : v);
}

static void build_image(const struct bms_snapshot *s, uint16_t *img)
{
	memset(img, 0, IMG_N * sizeof(img[0]));
	img[0] = !strcmp(s->model, "GreenMeter-250A")   ? EC_ID_500A + 1
		 : !strcmp(s->model, "GreenMeter-125A") ? EC_ID_125A
							: EC_ID_500A;
	put_ws32(img, 2, 1);
	img[30] = (uint16_t)clamp16(-(s->max_discharge_ma / 1000));
	img[31] = (uint16_t)clamp16(s->max_charge_ma / 1000);
	put_ws32(img, 46, s->capacity_full_mah > 0 ? (uint32_t)s->capacity_full_mah : 0);
	int t1 = s->temp_count > 0 ? s->temp_dc[0] : 250,
	    t2 = s->temp_count > 1 ? s->temp_dc[1] : t1;
	img[102] = (uint16_t)clamp16(t1 * 10);
	img[103] = (uint16_t)clamp16(t2 * 10);
	put_ws32(img, 108, (uint32_t)s->voltage_mv);
	put_ws32(img, 114, (uint32_t)s->current_ma);
	put_ws32(img, 128, s->soc_cpct * 10u);
	img[130] = side_state(s, BMS_ALARM_HIGH_VOLTAGE, BMS_ALARM_HIGH_CHARGE_CURRENT,
			      BMS_ALARM_HIGH_CHARGE_TEMPERATURE, BMS_ALARM_LOW_CHARGE_TEMPERATURE);
	img[131] = side_state(s, BMS_ALARM_LOW_VOLTAGE, BMS_ALARM_HIGH_DISCHARGE_CURRENT,
			      BMS_ALARM_HIGH_TEMPERATURE, BMS_ALARM_LOW_TEMPERATURE);
}

static int ec_sim_respond(struct bms_snapshot *snap, uint8_t address, const uint8_t *req,
			  size_t req_len, uint8_t *out, size_t cap)
{
	uint16_t img[IMG_N];
	build_image(snap, img);
	return bms_sim_fc3_reply(address ? address : EC_ADDR_DEFAULT, img, 0, IMG_N, req, req_len,
				 out, cap);
}

const struct bms_sim bms_sim_ecs = {"ecs", ec_sim_respond};
