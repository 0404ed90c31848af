/* SPDX-License-Identifier: MIT */
/*
 * Felicity Solar lithium batteries (LPBF/LUX-Y series BMS), Modbus RTU
 * function 0x03 over RS485 (docs/PROTOCOLS.md "Felicity"; reference:
 * protocols.md section 13).
 *
 * Source: the fact sheet and dbus-serialbattery's felicity.py only (its
 * comments report an 8S unit with slots 9..16 at 0x7FFF); no capture of
 * this family is public that we could find, so the tests run on the
 * simulator (bms/sim/felicity.c), built from the same documented layout.
 *
 * Link: 9600 8N1, Modbus address 1 (1..247 configurable).
 *
 * Frame layout: standard Modbus RTU (bms/modbus_rtu.h, bms/modbus_fc3.h),
 * registers big-endian, CRC-16/Modbus low byte first.
 *   request  01 03 13 2A 00 14 60 89                 (cells and sensors)
 *   reply    01 03 28 0C E4 0C E5 ... 7F FF ... crc  (16 cells, 3 sensors)
 *
 * Blocks read:
 *   0x132A x20  probe and every cycle: cells 1..16 (mV, 0x7FFF = no cell),
 *               sensors 1..3 at 0x133A..0x133C (s16 degC, 0x7FFF = none)
 *   0x1302 x10  probe and every cycle: 0x1302 status (bit 0 charging, bit 2
 *               discharging enabled), 0x1304 faults, 0x1306 voltage 0.01
 *               V, 0x1307 current s16 0.1 A (positive = discharging), 0x130A
 *               BMS temperature s16 degC, 0x130B SOC %
 *   0x131C x4   every cycle: charge and discharge voltage (0.01 V), charge
 *               and discharge current limit (0.1 A)
 *   0xF804 x5   static: serial number, five words printed in decimal
 *   0xF80B x1   static: firmware version
 *
 * Decisions where the sources are silent:
 * - Blocks: dbus-serialbattery reads cells (0x132A x16) and sensors (0x1339
 *   x5, the first of which is cell slot 16) apart, and status (x3), voltage
 *   and current (x2), temperature and SOC one by one. We read the cell
 *   block and the sensors in one (every register of it is read by the
 *   Python driver too) and 0x1302..0x130B in one, which also spans
 *   0x1305, 0x1308 and 0x1309, registers no source names: a firmware that
 *   refuses them is not covered. The blocks have distinct sizes, so a
 *   capture's reply tells its block (describe, `serialbattery decode`).
 * - Cells: the slots up to the first 0x7FFF (the Python driver counts the
 *   slots that are not 0x7FFF and reads that many from the first); a cell
 *   after an absent slot refuses the reply.
 * - The BMS temperature (0x130A) is the MOSFET temperature, as in the
 *   Python driver; sensors 1..3 the battery temperatures.
 * - The charge and discharge voltages go to describe only (the snapshot
 *   carries the BMS's current limits, not its voltage limits).
 * - Alarms from the fault word (the Python driver's, all level 2): 2 cell
 *   OV, 3 cell UV, 4 charge OC, 5 discharge OC, 6 BMS over-temperature
 *   (HighInternalTemperature), 8/9 charge OT/UT.
 * - A firmware of 0 and a serial of five zero words mean none is stated.
 * - No writes: none documented.
 * - Detection without ghost matches: the cell block from our address must
 *   hold 1..16 cells of 1.0..5.0 V, then only 0x7FFF slots, sensors 0x7FFF
 *   or -40..+100 degC; the status block a SOC <= 100 %, a BMS temperature
 *   -40..+120 degC and a pack voltage within 5 % + 2 V of the cell sum.
 *   The other Modbus families keep nothing at 0x132A (the simulators
 *   refuse the read).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bms.h"
#include "registry.h"
#include "felicity_wire.h"
#include "modbus_fc3.h"
#include "modbus_rtu.h"

#define FE_STATIC_EVERY 64

struct fe_state {
	uint8_t addr;
};

static int fe_init(void *state, uint8_t address)
{
	struct fe_state *st = state;
	memset(st, 0, sizeof(*st));
	st->addr = address ? address : FE_ADDR_DEFAULT;
	return 0;
}

static int fe_frame_check(const uint8_t *p, size_t avail, size_t *ret_len)
{
	return bms_fc3_check(1, FE_ADDR_MAX, p, avail, ret_len);
}

static uint16_t be16(const uint8_t *d, unsigned i)
{
	return (uint16_t)(d[2 * i] << 8 | d[2 * i + 1]);
}

/* The cells up to the first absent slot; 0 when the block is no Felicity's. */
static unsigned fe_cells(const uint8_t *d)
{
	unsigned n = 0;
	while (n < FE_NCELLS && be16(d, n) != FE_ABSENT)
		n++;
	for (unsigned i = 0; i < FE_NCELLS; i++) {
		uint16_t mv = be16(d, i);
		if (i < n ? (mv < 1000 || mv > 5000) : mv != FE_ABSENT)
			return 0;
	}
	for (unsigned i = 0; i < FE_SENSORS; i++) {
		int16_t t = (int16_t)be16(d, FE_NCELLS + i);
		if (t != FE_ABSENT && (t < -40 || t > 100))
			return 0;
	}
	return n;
}

static int parse_cells(const uint8_t *d, struct bms_snapshot *s)
{
	unsigned n = fe_cells(d);
	if (n == 0)
		return -EPROTO;
	s->cell_count = (uint8_t)n;
	for (unsigned i = 0; i < n; i++)
		s->cell_mv[i] = be16(d, i);
	s->temp_count = 0;
	for (unsigned i = 0; i < FE_SENSORS; i++) {
		int16_t t = (int16_t)be16(d, FE_NCELLS + i);
		if (t != FE_ABSENT)
			s->temp_dc[s->temp_count++] = (int16_t)(t * 10);
	}
	s->valid |= BMS_V_CELLS | BMS_V_TEMPS;
	return 0;
}

#define ST(reg) be16(d, (reg)-FE_STATUS)

/* A fault bit as an alarm at level 2 (mask: 1 when set, times 2). */
#define FE_FAULT(bit, a)                                                                           \
	{                                                                                          \
		0x1304, 1, BMS_MODBUS_U16, bit, 0, 2, 1, BMS_MODBUS_FIELD(alarm[a]), BMS_V_ALARMS  \
	}

static const struct bms_modbus_reg fe_status_map[] = {
	{0x1306, 1, BMS_MODBUS_U16, 0, 0, 10, 1, BMS_MODBUS_FIELD(voltage_mv), BMS_V_VOLTAGE},
	/* 0.1 A, positive = discharging */
	{0x1307, 1, BMS_MODBUS_S16, 0, 0, -100, 1, BMS_MODBUS_FIELD(current_ma), BMS_V_CURRENT},
	{0x130A, 1, BMS_MODBUS_S16, 0, 0, 10, 1, BMS_MODBUS_FIELD(mosfet_temp_dc),
	 BMS_V_MOSFET_TEMP},
	{0x130B, 1, BMS_MODBUS_U16, 0, 0, 100, 1, BMS_MODBUS_FIELD(soc_cpct), BMS_V_SOC},
	{0x1302, 1, BMS_MODBUS_U16, FE_ST_CHARGE, 0, 1, 1, BMS_MODBUS_FIELD(charge_fet),
	 BMS_V_FETS},
	{0x1302, 1, BMS_MODBUS_U16, FE_ST_DISCHARGE, 0, 1, 1, BMS_MODBUS_FIELD(discharge_fet),
	 BMS_V_FETS},
	FE_FAULT(FE_F_CELL_OV, BMS_ALARM_HIGH_CELL_VOLTAGE),
	FE_FAULT(FE_F_CELL_UV, BMS_ALARM_LOW_CELL_VOLTAGE),
	FE_FAULT(FE_F_CHARGE_OC, BMS_ALARM_HIGH_CHARGE_CURRENT),
	FE_FAULT(FE_F_DISCHARGE_OC, BMS_ALARM_HIGH_DISCHARGE_CURRENT),
	FE_FAULT(FE_F_BMS_OT, BMS_ALARM_HIGH_INTERNAL_TEMPERATURE),
	FE_FAULT(FE_F_CHARGE_OT, BMS_ALARM_HIGH_CHARGE_TEMPERATURE),
	FE_FAULT(FE_F_CHARGE_UT, BMS_ALARM_LOW_CHARGE_TEMPERATURE),
};

/* The alarms the fault word can raise (the map above). */
#define FE_ALARMS                                                                                  \
	(BMS_ALARM_BIT(HIGH_CELL_VOLTAGE) | BMS_ALARM_BIT(LOW_CELL_VOLTAGE) |                      \
	 BMS_ALARM_BIT(HIGH_CHARGE_CURRENT) | BMS_ALARM_BIT(HIGH_DISCHARGE_CURRENT) |              \
	 BMS_ALARM_BIT(HIGH_INTERNAL_TEMPERATURE) | BMS_ALARM_BIT(HIGH_CHARGE_TEMPERATURE) |       \
	 BMS_ALARM_BIT(LOW_CHARGE_TEMPERATURE))

static int parse_status(const uint8_t *d, struct bms_snapshot *s)
{
	int16_t bms_t = (int16_t)ST(0x130A);
	uint32_t mv = ST(0x1306) * 10u;
	if (ST(0x130B) > 100 || bms_t < -40 || bms_t > 120 || mv == 0)
		return -EPROTO;
	/* within one cycle the cells came first (probe and poll): they must agree */
	if (s->valid & BMS_V_CELLS) {
		uint32_t sum = 0;
		for (unsigned i = 0; i < s->cell_count; i++)
			sum += s->cell_mv[i];
		uint32_t diff = mv > sum ? mv - sum : sum - mv;
		if (diff > sum / 20 + 2000)
			return -EPROTO;
	}
	return bms_modbus_map_apply(fe_status_map, sizeof(fe_status_map) / sizeof(fe_status_map[0]),
				    FE_STATUS, d, 2 * FE_STATUS_N, s);
}

static const struct bms_modbus_reg fe_limits_map[] = {
	{FE_LIMITS + 2, 1, BMS_MODBUS_U16, 0, 0, 100, 1, BMS_MODBUS_FIELD(max_charge_ma),
	 BMS_V_MAX_CHARGE_I},
	{FE_LIMITS + 3, 1, BMS_MODBUS_U16, 0, 0, 100, 1, BMS_MODBUS_FIELD(max_discharge_ma),
	 BMS_V_MAX_DISCHARGE_I},
};

static int parse_limits(const uint8_t *d, struct bms_snapshot *s)
{
	return bms_modbus_map_apply(fe_limits_map, sizeof(fe_limits_map) / sizeof(fe_limits_map[0]),
				    FE_LIMITS, d, 2 * FE_LIMITS_N, s);
}

static int parse_serial(const uint8_t *d, struct bms_snapshot *s)
{
	uint16_t w[FE_SERIAL_N];
	unsigned any = 0;
	for (unsigned i = 0; i < FE_SERIAL_N; i++)
		any |= w[i] = be16(d, i);
	if (any) {
		snprintf(s->serial, sizeof(s->serial), "%u%u%u%u%u", w[0], w[1], w[2], w[3], w[4]);
		s->valid |= BMS_V_SERIAL;
	}
	return 0;
}

static int parse_firmware(const uint8_t *d, struct bms_snapshot *s)
{
	int16_t v = (int16_t)be16(d, 0);
	if (v) {
		snprintf(s->sw_version, sizeof(s->sw_version), "%d", v);
		s->valid |= BMS_V_SW_VERSION;
	}
	return 0;
}

/* ---- describe ---- */

static void describe_cells(const uint8_t *d, struct bms_frame_desc *x)
{
	bms_desc_num(x, "register_0x133D", be16(d, 19));
}

static void describe_status(const uint8_t *d, struct bms_frame_desc *x)
{
	bms_desc_num(x, "status_word", ST(0x1302));
	bms_desc_num(x, "register_0x1303", ST(0x1303));
	bms_desc_num(x, "fault_word", ST(0x1304));
	bms_desc_num(x, "current_raw", (int16_t)ST(0x1307));
}

static void describe_limits(const uint8_t *d, struct bms_frame_desc *x)
{
	bms_desc_num(x, "charge_voltage_v", be16(d, 0) / 100.0);
	bms_desc_num(x, "discharge_voltage_v", be16(d, 1) / 100.0);
}

static const struct bms_fc3_block fe_blocks[] = {
	{FE_CELLS, FE_CELLS_N, "cells 0x132A", parse_cells, describe_cells},
	{FE_STATUS, FE_STATUS_N, "status 0x1302", parse_status, describe_status},
	{FE_LIMITS, FE_LIMITS_N, "limits 0x131C", parse_limits, describe_limits},
	{FE_SERIAL, FE_SERIAL_N, "serial 0xF804", parse_serial, NULL},
	{FE_FIRMWARE, FE_FIRMWARE_N, "firmware 0xF80B", parse_firmware, NULL},
};
static const struct bms_fc3_family fe_family = {
	.addr_min = 1,
	.addr_max = FE_ADDR_MAX,
	.blocks = fe_blocks,
	.nblocks = sizeof(fe_blocks) / sizeof(fe_blocks[0]),
	.probe = 2,
};

static int fe_build_request(void *state, const struct bms_request *req, uint8_t *out, size_t cap)
{
	const struct fe_state *st = state;
	return bms_fc3_build(&fe_family, st->addr, req, out, cap);
}

static int fe_parse(void *state, const struct bms_request *req, const uint8_t *frame, size_t len,
		    struct bms_snapshot *snap)
{
	const struct fe_state *st = state;
	return bms_fc3_parse(&fe_family, st->addr, req, frame, len, snap);
}

int bms_felicity_describe(const uint8_t *frame, size_t len, struct bms_frame_desc *x)
{
	return bms_fc3_describe(&fe_family, frame, len, x);
}

static const struct bms_step fe_steps[] = {
	{0},
	{0},
	{0},
	{.flags = BMS_STEP_STATIC, .every = FE_STATIC_EVERY, .fills = BMS_V_SERIAL},
	{.flags = BMS_STEP_STATIC, .every = FE_STATIC_EVERY, .fills = BMS_V_SW_VERSION},
};
static const uint32_t fe_bauds[] = {9600, 0};
static const struct bms_link fe_links[] = {
	{.kind = BMS_LINK_SERIAL, .serial = {fe_bauds, BMS_8N1}},
};
static const uint8_t fe_addresses[] = {FE_ADDR_DEFAULT, 0};

const struct bms_driver bms_felicity = {
	.name = "felicity",
	.description = "Felicity Solar battery, RS485 Modbus RTU (FC 0x03, registers 0x13xx)",
	.spec = "felicity.py register map; protocols.md section 13",
	.links = fe_links,
	.nlinks = sizeof(fe_links) / sizeof(fe_links[0]),
	.addresses = fe_addresses,
	.address_min = 1,
	.address_max = FE_ADDR_MAX,
	.response_timeout_ms = 500,
	.inter_frame_gap_ms = 20,
	.poll_interval_ms = 2000,
	.max_frame = BMS_MODBUS_MAX_ADU,
	.flags = BMS_F_ADDRESSED,
	.alarms = FE_ALARMS,
	.state_size = sizeof(struct fe_state),
	.steps = fe_steps,
	.nsteps = sizeof(fe_steps) / sizeof(fe_steps[0]),
	.init = fe_init,
	.build_request = fe_build_request,
	.frame_check = fe_frame_check,
	.parse = fe_parse,
};
