/* SPDX-License-Identifier: MIT */
/*
 * ECS LiPro / GreenMeter (Electronic Control Systems: a GreenMeter shunt
 * and LiPro1-X cell modules on one bus), Modbus RTU function 0x03 over
 * RS485 (docs/PROTOCOLS.md "ECS"; reference: protocols.md section 12).
 *
 * Source: the fact sheet and dbus-serialbattery's ecs.py only; no capture of
 * this family is public that we could find, so the tests run on the
 * simulator (bms/sim/ecs.c), built from the same documented layout.
 *
 * Link: 19200 baud, 8 data bits, EVEN parity, 1 stop bit (8E1). The
 * GreenMeter answers at its configured address (default 1).
 *
 * Frame layout: standard Modbus RTU (bms/modbus_rtu.h, bms/modbus_fc3.h),
 * registers big-endian, 32-bit values low word first, CRC-16/Modbus low
 * byte first.
 *   request  01 03 00 00 00 04 44 09                 (meter id)
 *   reply    01 03 08 01 F4 00 00 <production> crc   (id 500: a 500 A meter)
 *
 * Blocks read from the GreenMeter:
 *   0 x4     probe, then static: 0 meter id (500/501/502 = 500/250/125 A),
 *            2..3 production
 *   102 x30  probe and every cycle: 102/103 temperatures s16 0.01 degC,
 *            108 voltage s32 mV, 114 current s32 mA (positive = charging),
 *            128 SOC u32 0.001 %, 130 over-voltage state, 131 under-voltage
 *            state (0 ok, 1 voltage, 2 current, 3..4 too hot, 5..6 too cold)
 *   30 x18   every cycle: 30 discharge, 31 charge current limit (s16 A),
 *            46 capacity u32 mAh
 *
 * Decisions:
 * - Scope: the GreenMeter's pack values only. The LiPro cell modules (one
 *   Modbus slave per cell, at an address range configured apart from the
 *   meter's: LIPRO_START_ADDRESS..LIPRO_END_ADDRESS in dbus-serialbattery)
 *   are not read: the driver interface gives a driver one address, and a
 *   step per module that a silent module fails would fail every cycle.
 *   (The Python driver, for its part, reads only the first module: its
 *   loop returns after one.) No cell voltages are published.
 * - SOC: a meter below 65.535 % may send the high word as 0xFFFF instead of
 *   0 (the Python driver's note); such a value is read as its low word.
 * - The states of 130/131 set the alarms (the Python driver's mapping):
 *   1 HighVoltage/LowVoltage (2), 2 HighChargeCurrent/HighDischargeCurrent
 *   (1), 3..4 HighChargeTemperature/HighTemperature (1), 5..6
 *   LowChargeTemperature/LowTemperature (1); and the "FETs": charging is
 *   allowed while 130 is 0, discharging while 131 is 0 (the meter switches
 *   relays or signals, not MOSFETs of its own).
 * - Current limits: the discharge limit as its magnitude (the Python
 *   driver's abs()); a negative charge limit is not taken.
 * - Opt-in (BMS_F_OPT_IN): 8E1 on a line shared with 8N1 devices garbles
 *   both ways, and the meter's address is the user's setting; detection
 *   does not try it unless named in the config.
 * - No writes: none documented.
 * - Plausibility: the id 500..502; voltage 1 mV..150 V, current within
 *   2000 A, SOC <= 100 %, states 0..6, temperatures -40..+100 degC.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bms.h"
#include "registry.h"
#include "ecs_wire.h"
#include "modbus_fc3.h"
#include "modbus_rtu.h"

#define EC_STATIC_EVERY 64

struct ec_state {
	uint8_t addr;
};

static int ec_init(void *state, uint8_t address)
{
	struct ec_state *st = state;
	memset(st, 0, sizeof(*st));
	st->addr = address ? address : EC_ADDR_DEFAULT;
	return 0;
}

static int ec_frame_check(const uint8_t *p, size_t avail, size_t *ret_len)
{
	return bms_fc3_check(1, EC_ADDR_MAX, p, avail, ret_len);
}

static uint16_t be16(const uint8_t *d, unsigned reg, unsigned first)
{
	const uint8_t *p = d + 2 * (reg - first);
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* two registers, low word first */
static uint32_t ws32(const uint8_t *d, unsigned reg, unsigned first)
{
	return be16(d, reg, first) | (uint32_t)be16(d, reg + 1, first) << 16;
}

static int parse_id(const uint8_t *d, struct bms_snapshot *s)
{
	uint16_t id = be16(d, 0, EC_ID);
	if (id < EC_ID_500A || id > EC_ID_125A)
		return -EPROTO;
	static const char *const size[] = {"500A", "250A", "125A"};
	snprintf(s->model, sizeof(s->model), "GreenMeter-%s", size[id - EC_ID_500A]);
	s->valid |= BMS_V_MODEL;
	return 0;
}

#define LV(reg) be16(d, reg, EC_LIVE)
#define LW(reg) ws32(d, reg, EC_LIVE)

static uint32_t ec_soc(const uint8_t *d)
{
	uint32_t soc = LW(128);
	return soc >= 0xFFFF0000u ? soc - 0xFFFF0000u : soc;
}

static void side_alarms(struct bms_snapshot *s, uint16_t st, enum bms_alarm v, enum bms_alarm c,
			enum bms_alarm hot, enum bms_alarm cold)
{
	if (st == EC_ST_VOLTAGE)
		s->alarm[v] = 2;
	else if (st == EC_ST_CURRENT)
		s->alarm[c] = 1;
	else if (st == EC_ST_HOT || st == EC_ST_HOT + 1)
		s->alarm[hot] = 1;
	else if (st == EC_ST_COLD || st == EC_ST_COLD + 1)
		s->alarm[cold] = 1;
}

static const struct bms_modbus_reg ec_live_map[] = {
	{108, 1, BMS_MODBUS_S32_WS, 0, 0, 1, 1, BMS_MODBUS_FIELD(voltage_mv), BMS_V_VOLTAGE},
	{114, 1, BMS_MODBUS_S32_WS, 0, 0, 1, 1, BMS_MODBUS_FIELD(current_ma), BMS_V_CURRENT},
	/* 0.01 degC to 0.1 degC */
	{102, 1, BMS_MODBUS_S16, 0, 0, 1, 10, BMS_MODBUS_FIELD(temp_dc[0]), BMS_V_TEMPS},
	{103, 1, BMS_MODBUS_S16, 0, 0, 1, 10, BMS_MODBUS_FIELD(temp_dc[1]), BMS_V_TEMPS},
};

static int parse_live(const uint8_t *d, struct bms_snapshot *s)
{
	int32_t mv = (int32_t)LW(108), ma = (int32_t)LW(114);
	int16_t t1 = (int16_t)LV(102), t2 = (int16_t)LV(103);
	uint16_t ov = LV(130), uv = LV(131);
	if (mv <= 0 || mv > 150000 || ma < -2000000 || ma > 2000000 || ec_soc(d) > 100000 ||
	    ov > EC_ST_MAX || uv > EC_ST_MAX || t1 < -4000 || t1 > 10000 || t2 < -4000 ||
	    t2 > 10000)
		return -EPROTO;
	int r = bms_modbus_map_apply(ec_live_map, sizeof(ec_live_map) / sizeof(ec_live_map[0]),
				     EC_LIVE, d, 2 * EC_LIVE_N, s);
	if (r < 0)
		return r;
	s->soc_cpct = (uint16_t)(ec_soc(d) / 10);
	s->temp_count = 2;
	memset(s->alarm, 0, sizeof(s->alarm));
	side_alarms(s, ov, BMS_ALARM_HIGH_VOLTAGE, BMS_ALARM_HIGH_CHARGE_CURRENT,
		    BMS_ALARM_HIGH_CHARGE_TEMPERATURE, BMS_ALARM_LOW_CHARGE_TEMPERATURE);
	side_alarms(s, uv, BMS_ALARM_LOW_VOLTAGE, BMS_ALARM_HIGH_DISCHARGE_CURRENT,
		    BMS_ALARM_HIGH_TEMPERATURE, BMS_ALARM_LOW_TEMPERATURE);
	s->charge_fet = ov == EC_ST_OK;
	s->discharge_fet = uv == EC_ST_OK;
	s->valid |=
		BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_SOC | BMS_V_TEMPS | BMS_V_ALARMS | BMS_V_FETS;
	return 0;
}

static int parse_settings(const uint8_t *d, struct bms_snapshot *s)
{
	int16_t dis = (int16_t)be16(d, 30, EC_SET), chg = (int16_t)be16(d, 31, EC_SET);
	uint32_t cap = ws32(d, 46, EC_SET);
	if (cap > 5000000u) /* 5000 Ah */
		return -EPROTO;
	s->max_discharge_ma = (dis < 0 ? -dis : dis) * 1000;
	s->valid |= BMS_V_MAX_DISCHARGE_I;
	if (chg >= 0) {
		s->max_charge_ma = chg * 1000;
		s->valid |= BMS_V_MAX_CHARGE_I;
	}
	if (cap) {
		s->capacity_full_mah = (int32_t)cap;
		s->valid |= BMS_V_CAP_FULL;
	}
	return 0;
}

/* ---- describe ---- */

static void describe_id(const uint8_t *d, struct bms_frame_desc *x)
{
	bms_desc_num(x, "meter_id", be16(d, 0, EC_ID));
	bms_desc_num(x, "production", ws32(d, 2, EC_ID));
}

static void describe_live(const uint8_t *d, struct bms_frame_desc *x)
{
	bms_desc_num(x, "soc_raw", LW(128));
	bms_desc_num(x, "over_voltage_state", LV(130));
	bms_desc_num(x, "under_voltage_state", LV(131));
}

static void describe_settings(const uint8_t *d, struct bms_frame_desc *x)
{
	bms_desc_num(x, "discharge_limit_raw_a", (int16_t)be16(d, 30, EC_SET));
	bms_desc_num(x, "charge_limit_raw_a", (int16_t)be16(d, 31, EC_SET));
}

static const struct bms_fc3_block ec_blocks[] = {
	{EC_ID, EC_ID_N, "meter id 0", parse_id, describe_id},
	{EC_LIVE, EC_LIVE_N, "live 102", parse_live, describe_live},
	{EC_SET, EC_SET_N, "settings 30", parse_settings, describe_settings},
};
static const struct bms_fc3_family ec_family = {
	.addr_min = 1,
	.addr_max = EC_ADDR_MAX,
	.blocks = ec_blocks,
	.nblocks = sizeof(ec_blocks) / sizeof(ec_blocks[0]),
	.probe = 2,
};

static int ec_build_request(void *state, const struct bms_request *req, uint8_t *out, size_t cap)
{
	const struct ec_state *st = state;
	return bms_fc3_build(&ec_family, st->addr, req, out, cap);
}

static int ec_parse(void *state, const struct bms_request *req, const uint8_t *frame, size_t len,
		    struct bms_snapshot *snap)
{
	const struct ec_state *st = state;
	return bms_fc3_parse(&ec_family, st->addr, req, frame, len, snap);
}

int bms_ecs_describe(const uint8_t *frame, size_t len, struct bms_frame_desc *x)
{
	return bms_fc3_describe(&ec_family, frame, len, x);
}

static const struct bms_step ec_steps[] = {
	{.flags = BMS_STEP_STATIC, .every = EC_STATIC_EVERY, .fills = BMS_V_MODEL},
};
static const uint32_t ec_bauds[] = {19200, 0};
static const struct bms_link ec_links[] = {
	{.kind = BMS_LINK_SERIAL, .serial = {ec_bauds, BMS_8E1}},
};
static const uint8_t ec_addresses[] = {EC_ADDR_DEFAULT, 0};

const struct bms_driver bms_ecs = {
	.name = "ecs",
	.description = "ECS GreenMeter (LiPro system), RS485 Modbus RTU 19200 8E1",
	.spec = "ecs.py register map; protocols.md section 12",
	.links = ec_links,
	.nlinks = sizeof(ec_links) / sizeof(ec_links[0]),
	.addresses = ec_addresses,
	.address_min = 1,
	.address_max = EC_ADDR_MAX,
	.response_timeout_ms = 500,
	.inter_frame_gap_ms = 20,
	.poll_interval_ms = 2000,
	.max_frame = BMS_MODBUS_MAX_ADU,
	.flags = BMS_F_ADDRESSED | BMS_F_OPT_IN,
	.alarms = BMS_ALARM_BIT(HIGH_VOLTAGE) | BMS_ALARM_BIT(LOW_VOLTAGE) |
		  BMS_ALARM_BIT(HIGH_CHARGE_CURRENT) | BMS_ALARM_BIT(HIGH_DISCHARGE_CURRENT) |
		  BMS_ALARM_BIT(HIGH_CHARGE_TEMPERATURE) | BMS_ALARM_BIT(LOW_CHARGE_TEMPERATURE) |
		  BMS_ALARM_BIT(HIGH_TEMPERATURE) | BMS_ALARM_BIT(LOW_TEMPERATURE),
	.state_size = sizeof(struct ec_state),
	.steps = ec_steps,
	.nsteps = sizeof(ec_steps) / sizeof(ec_steps[0]),
	.init = ec_init,
	.build_request = ec_build_request,
	.frame_check = ec_frame_check,
	.parse = ec_parse,
};
