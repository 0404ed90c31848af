/* SPDX-License-Identifier: MIT */
/*
 * Heltec / "YY BMS" smart BMS (Heltec Smart BMS 9-25S and relatives), Modbus
 * RTU function 0x03 over RS485 (docs/PROTOCOLS.md "Heltec"; reference:
 * protocols.md section 11).
 *
 * Source: the fact sheet and dbus-serialbattery's heltecmodbus.py only; no
 * capture of this family is public that we could find, so the tests run on
 * the simulator (bms/sim/heltec.c), built from the same documented layout.
 *
 * Link: 9600 8N1, Modbus address 1 by default (1..247 configurable).
 *
 * Frame layout: standard Modbus RTU (bms/modbus_rtu.h, bms/modbus_fc3.h),
 * CRC-16/Modbus low byte first. The register CONTENT is not big-endian: a
 * 16-bit value comes low byte first, a 32-bit value is four bytes
 * little-endian across two registers; bytes packed two to a register (cell
 * count and type, temperatures, SOC and SOH) are named by their wire order.
 *   request  01 03 00 4B 00 2E B5 C0                 (75 x 46, live data)
 *   reply    01 03 5C 08 01 <voltage LE32> <current LE32> ...  crc
 *
 * Blocks read (register numbers decimal):
 *   75 x46   probe and every cycle: 75 cell count (first byte) and cell type
 *            (second: 0 NCM, 1 LFP, 2 LTO); 76 pack voltage u32 mV; 78
 *            current s32 0.01 A, positive = discharging; 81.. cells u16 mV;
 *            112 MOSFET (second byte) and balancer (first) temperature,
 *            113 sensor 1 (second) and 2 (first), each degC + 40; 118
 *            capacity, 119 actual capacity (0.1 Ah); 120 SOC (first byte)
 *            and SOH (second) %
 *   126 x69  every cycle: 126 learned capacity; 139 balancing bits u32; 152
 *            run state u32; 156 warnings u32; 169/172 max/min cell mV;
 *            191/194 charge/discharge current limit 0.01 A
 *   2 x45    static: 2..5 serial number, 7 device name (13 registers of
 *            text), 38 hardware version (first byte), 39 production date,
 *            41 name (6 registers)
 *
 * Decisions where the sources are silent or disagree:
 * - Block reads: dbus-serialbattery reads the registers one by one (the
 *   cells as one block of cell-count registers, the 32-bit values as pairs);
 *   we read three blocks a cycle. Whether every firmware answers a block
 *   spanning registers it never names (80, 114..117, ...) no source says.
 * - FETs: run state bit 28 set = charge FET held off, bit 29 = discharge FET
 *   held off (the driver's code; the fact sheet's table names the two bits
 *   the other way round, without the code's comments on them).
 * - Temperatures: sensor 1 and 2 are the battery sensors; the MOSFET sensor
 *   is the MOSFET temperature (dbus-serialbattery takes the larger of MOSFET
 *   and balancer); the balancer sensor goes to describe only.
 * - Capacity: 118 is the full capacity (dbus-serialbattery's capacity);
 *   actual (119) and learned (126) capacity, whose meaning no source states,
 *   go to describe only. Remaining capacity is not sent.
 * - Alarms from the warnings word (dbus-serialbattery's mapping, all level
 *   2 but discharge over-current stage 1, level 1): 0 cell OV, 1 cell UV, 3
 *   and 15 (full) pack OV, 4 pack UV, 5 charge OC, 6/7 discharge OC, 8 short
 *   circuit, 9/10 charge OT/UT, 11/12 discharge OT/UT, 13 MOSFET OT, 14 SOC
 *   low, 16..31 any other fault = InternalFailure. Differences: a short
 *   circuit is HighCurrent (dbus-serialbattery: high charge current) and a
 *   cell over-voltage raises no pack HighVoltage warning besides.
 * - No writes: the Python driver names a SOC write to 120 as possible, but
 *   no source documents it.
 * - Detection without ghost matches: the reply to 75 x46 from our address
 *   must hold 1..31 cells of a known type (0..2), those cells 1.0..5.0 V,
 *   a pack voltage, within 5 % + 2 V of their sum, SOC and SOH <= 100 % and
 *   every temperature byte <= 160 (120 degC); the other Modbus families'
 *   registers at 75..120 (if they answer at all) are not that.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bms.h"
#include "registry.h"
#include "bytes.h"
#include "heltec_wire.h"
#include "modbus_fc3.h"
#include "modbus_rtu.h"

#define HT_STATIC_EVERY 64

struct ht_state {
	uint8_t addr;
};

static int ht_init(void *state, uint8_t address)
{
	struct ht_state *st = state;
	memset(st, 0, sizeof(*st));
	st->addr = address ? address : HT_ADDR_DEFAULT;
	return 0;
}

static int ht_frame_check(const uint8_t *p, size_t avail, size_t *ret_len)
{
	return bms_fc3_check(1, HT_ADDR_MAX, p, avail, ret_len);
}

/* ---- decoding: the register content is little-endian ---- */

static uint16_t le16(const uint8_t *d, unsigned reg, unsigned first)
{
	const uint8_t *p = d + 2 * (reg - first);
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *d, unsigned reg, unsigned first)
{
	return le16(d, reg, first) | (uint32_t)le16(d, reg + 1, first) << 16;
}

/* the first and second byte of a register on the wire */
static uint8_t byte1(const uint8_t *d, unsigned reg, unsigned first)
{
	return d[2 * (reg - first)];
}

static uint8_t byte2(const uint8_t *d, unsigned reg, unsigned first)
{
	return d[2 * (reg - first) + 1];
}

#define L16(reg) le16(d, reg, HT_LIVE)
#define L32(reg) le32(d, reg, HT_LIVE)
#define LB1(reg) byte1(d, reg, HT_LIVE)
#define LB2(reg) byte2(d, reg, HT_LIVE)

/* What only a Heltec live block holds together (see the header). */
static bool ht_plausible(const uint8_t *d)
{
	unsigned cells = LB1(75);
	if (cells < 1 || cells > HT_MAX_CELLS || LB2(75) > 2)
		return false;
	uint32_t sum = 0;
	for (unsigned i = 0; i < cells; i++) {
		uint16_t mv = L16(81 + i);
		if (mv < 1000 || mv > 5000)
			return false;
		sum += mv;
	}
	uint32_t v = L32(76);
	uint32_t diff = v > sum ? v - sum : sum - v;
	if (v == 0 || diff > sum / 20 + 2000)
		return false;
	int32_t cur = (int32_t)L32(78);
	if (cur < -200000 || cur > 200000) /* 2000 A */
		return false;
	if (LB1(120) > 100 || LB2(120) > 100)
		return false;
	return LB1(112) <= 160 && LB2(112) <= 160 && LB1(113) <= 160 && LB2(113) <= 160;
}

/* What the live block holds besides the cells (the register map, bms/modbus_rtu.h). */
static const struct bms_modbus_reg ht_live_map[] = {
	{76, 1, BMS_MODBUS_U32_LE, 0, 0, 1, 1, BMS_MODBUS_FIELD(voltage_mv), BMS_V_VOLTAGE},
	/* 0.01 A, positive = discharging */
	{78, 1, BMS_MODBUS_S32_LE, 0, 0, -10, 1, BMS_MODBUS_FIELD(current_ma), BMS_V_CURRENT},
	{112, 1, BMS_MODBUS_U8_LO, 0, -HT_TEMP_OFFSET, 10, 1, BMS_MODBUS_FIELD(mosfet_temp_dc),
	 BMS_V_MOSFET_TEMP},
	{113, 1, BMS_MODBUS_U8_LO, 0, -HT_TEMP_OFFSET, 10, 1, BMS_MODBUS_FIELD(temp_dc[0]),
	 BMS_V_TEMPS},
	{113, 1, BMS_MODBUS_U8_HI, 0, -HT_TEMP_OFFSET, 10, 1, BMS_MODBUS_FIELD(temp_dc[1]),
	 BMS_V_TEMPS},
	{118, 1, BMS_MODBUS_U16_LE, 0, 0, 100, 1, BMS_MODBUS_FIELD(capacity_full_mah),
	 BMS_V_CAP_FULL},
	{120, 1, BMS_MODBUS_U8_HI, 0, 0, 100, 1, BMS_MODBUS_FIELD(soc_cpct), BMS_V_SOC},
	{120, 1, BMS_MODBUS_U8_LO, 0, 0, 100, 1, BMS_MODBUS_FIELD(soh_cpct), BMS_V_SOH},
};

static int parse_live(const uint8_t *d, struct bms_snapshot *s)
{
	if (!ht_plausible(d))
		return -EPROTO;
	int r = bms_modbus_map_apply(ht_live_map, sizeof(ht_live_map) / sizeof(ht_live_map[0]),
				     HT_LIVE, d, 2 * HT_LIVE_N, s);
	if (r < 0)
		return r;
	unsigned cells = LB1(75);
	s->cell_count = (uint8_t)cells;
	for (unsigned i = 0; i < cells; i++)
		s->cell_mv[i] = L16(81 + i);
	s->temp_count = 2;
	s->valid |= BMS_V_CELLS;
	return 0;
}

#define S16(reg) le16(d, reg, HT_STATE)
#define S32(reg) le32(d, reg, HT_STATE)

static const struct bms_modbus_reg ht_state_map[] = {
	{139, 1, BMS_MODBUS_U32_LE, 0, 0, 1, 1, BMS_MODBUS_FIELD(balancing), BMS_V_BALANCING},
	{191, 1, BMS_MODBUS_U16_LE, 0, 0, 10, 1, BMS_MODBUS_FIELD(max_charge_ma),
	 BMS_V_MAX_CHARGE_I},
	{194, 1, BMS_MODBUS_U16_LE, 0, 0, 10, 1, BMS_MODBUS_FIELD(max_discharge_ma),
	 BMS_V_MAX_DISCHARGE_I},
};

/* Warning bits and the alarm (and level) each raises; two bits may share an alarm. */
static const struct {
	uint32_t bits;
	enum bms_alarm alarm;
	uint8_t level;
} ht_warnings[] = {
	{HT_W_CELL_OV, BMS_ALARM_HIGH_CELL_VOLTAGE, 2},
	{HT_W_CELL_UV, BMS_ALARM_LOW_CELL_VOLTAGE, 2},
	{HT_W_PACK_OV | HT_W_FULL, BMS_ALARM_HIGH_VOLTAGE, 2},
	{HT_W_PACK_UV, BMS_ALARM_LOW_VOLTAGE, 2},
	{HT_W_CHARGE_OC, BMS_ALARM_HIGH_CHARGE_CURRENT, 2},
	{HT_W_DISCHARGE_OC1, BMS_ALARM_HIGH_DISCHARGE_CURRENT, 1},
	{HT_W_DISCHARGE_OC2, BMS_ALARM_HIGH_DISCHARGE_CURRENT, 2},
	{HT_W_SHORT, BMS_ALARM_HIGH_CURRENT, 2},
	{HT_W_CHARGE_OT, BMS_ALARM_HIGH_CHARGE_TEMPERATURE, 2},
	{HT_W_CHARGE_UT, BMS_ALARM_LOW_CHARGE_TEMPERATURE, 2},
	{HT_W_DISCHARGE_OT, BMS_ALARM_HIGH_TEMPERATURE, 2},
	{HT_W_DISCHARGE_UT, BMS_ALARM_LOW_TEMPERATURE, 2},
	{HT_W_MOS_OT, BMS_ALARM_HIGH_INTERNAL_TEMPERATURE, 2},
	{HT_W_SOC_LOW, BMS_ALARM_LOW_SOC, 2},
	{HT_W_FAULTS, BMS_ALARM_INTERNAL_FAILURE, 2},
};

static int parse_state(const uint8_t *d, struct bms_snapshot *s)
{
	int r = bms_modbus_map_apply(ht_state_map, sizeof(ht_state_map) / sizeof(ht_state_map[0]),
				     HT_STATE, d, 2 * HT_STATE_N, s);
	if (r < 0)
		return r;
	uint32_t run = S32(152), w = S32(156);
	memset(s->alarm, 0, sizeof(s->alarm));
	for (size_t i = 0; i < sizeof(ht_warnings) / sizeof(ht_warnings[0]); i++)
		if ((w & ht_warnings[i].bits) &&
		    s->alarm[ht_warnings[i].alarm] < ht_warnings[i].level)
			s->alarm[ht_warnings[i].alarm] = ht_warnings[i].level;
	/* a set bit is a protection holding the FET open */
	s->charge_fet = !(run & HT_RUN_CHARGE_OFF);
	s->discharge_fet = !(run & HT_RUN_DISCHARGE_OFF);
	s->valid |= BMS_V_ALARMS | BMS_V_FETS;
	return 0;
}

/* Text registers: printable bytes up to the first NUL, trailing blanks cut. */
static void ht_text(const uint8_t *p, size_t n, char *out, size_t cap)
{
	size_t k = 0;
	for (size_t i = 0; i < n && p[i] && k + 1 < cap; i++)
		out[k++] = p[i] >= 0x20 && p[i] <= 0x7E ? (char)p[i] : '?';
	while (k > 0 && out[k - 1] == ' ')
		k--;
	out[k] = '\0';
}

static int parse_id(const uint8_t *d, struct bms_snapshot *s)
{
	const uint8_t *reg = d; /* register 2 */
	uint16_t w[4];
	for (unsigned i = 0; i < 4; i++)
		w[i] = (uint16_t)(reg[2 * i] << 8 | reg[2 * i + 1]);
	if (w[0] | w[1] | w[2] | w[3]) {
		snprintf(s->serial, sizeof(s->serial), "%04x-%04x-%04x-%04x", w[0], w[1], w[2],
			 w[3]);
		s->valid |= BMS_V_SERIAL;
	}
	char t[BMS_STR_LEN];
	ht_text(d + 2 * (7 - HT_ID), 26, t, sizeof(t));
	if (t[0]) {
		snprintf(s->model, sizeof(s->model), "%s", t);
		s->valid |= BMS_V_MODEL;
	}
	char name[13]; /* 6 registers */
	ht_text(d + 2 * (41 - HT_ID), 12, name, sizeof(name));
	if (name[0]) {
		snprintf(s->hw_version, sizeof(s->hw_version), "%s(%u)", name, byte1(d, 38, HT_ID));
		s->valid |= BMS_V_HW_VERSION;
	}
	return 0;
}

/* ---- describe ---- */

static void describe_live(const uint8_t *d, struct bms_frame_desc *x)
{
	bms_desc_num(x, "cell_count", LB1(75));
	bms_desc_num(x, "cell_type", LB2(75));
	bms_desc_num(x, "current_raw", (int32_t)L32(78));
	bms_desc_num(x, "balancer_temp_c", LB1(112) - HT_TEMP_OFFSET);
	bms_desc_num(x, "actual_capacity_ah", L16(119) / 10.0);
}

static void describe_state(const uint8_t *d, struct bms_frame_desc *x)
{
	bms_desc_num(x, "learned_capacity_ah", S16(126) / 10.0);
	bms_desc_num(x, "balancing_bits", S32(139));
	bms_desc_num(x, "run_state", S32(152));
	bms_desc_num(x, "warnings", S32(156));
	bms_desc_num(x, "max_cell_v", S16(169) / 1000.0);
	bms_desc_num(x, "min_cell_v", S16(172) / 1000.0);
}

static void describe_id(const uint8_t *d, struct bms_frame_desc *x)
{
	char t[BMS_STR_LEN];
	ht_text(d + 2 * (7 - HT_ID), 26, t, sizeof(t));
	bms_desc_text(x, "device_name", t, strlen(t));
	ht_text(d + 2 * (41 - HT_ID), 12, t, sizeof(t));
	bms_desc_text(x, "name", t, strlen(t));
	bms_desc_num(x, "hardware_version", byte1(d, 38, HT_ID));
	/* 39..40 as four bytes little-endian: year in the low 16 bits, month, day */
	uint32_t date = le32(d, 39, HT_ID);
	bms_desc_num(x, "production_year", date & 0xFFFF);
	bms_desc_num(x, "production_month", date >> 24);
	bms_desc_num(x, "production_day", date >> 16 & 0xFF);
}

static const struct bms_fc3_block ht_blocks[] = {
	{HT_LIVE, HT_LIVE_N, "live 75", parse_live, describe_live},
	{HT_STATE, HT_STATE_N, "state 126", parse_state, describe_state},
	{HT_ID, HT_ID_N, "identity 2", parse_id, describe_id},
};
static const struct bms_fc3_family ht_family = {
	.addr_min = 1,
	.addr_max = HT_ADDR_MAX,
	.blocks = ht_blocks,
	.nblocks = sizeof(ht_blocks) / sizeof(ht_blocks[0]),
	.probe = 1,
};

static int ht_build_request(void *state, const struct bms_request *req, uint8_t *out, size_t cap)
{
	const struct ht_state *st = state;
	return bms_fc3_build(&ht_family, st->addr, req, out, cap);
}

static int ht_parse(void *state, const struct bms_request *req, const uint8_t *frame, size_t len,
		    struct bms_snapshot *snap)
{
	const struct ht_state *st = state;
	return bms_fc3_parse(&ht_family, st->addr, req, frame, len, snap);
}

int bms_heltec_describe(const uint8_t *frame, size_t len, struct bms_frame_desc *x)
{
	return bms_fc3_describe(&ht_family, frame, len, x);
}

static const struct bms_step ht_steps[] = {
	{0},
	{0},
	{.flags = BMS_STEP_STATIC,
	 .every = HT_STATIC_EVERY,
	 .fills = BMS_V_SERIAL | BMS_V_MODEL | BMS_V_HW_VERSION},
};
static const uint32_t ht_bauds[] = {9600, 0};
static const struct bms_link ht_links[] = {
	{.kind = BMS_LINK_SERIAL, .serial = {ht_bauds, BMS_8N1}},
};
static const uint8_t ht_addresses[] = {HT_ADDR_DEFAULT, 0};

const struct bms_driver bms_heltec = {
	.name = "heltec",
	.description = "Heltec / YY smart BMS, RS485 Modbus RTU (FC 0x03, byte-swapped registers)",
	.spec = "heltecmodbus.py register map; protocols.md section 11",
	.links = ht_links,
	.nlinks = sizeof(ht_links) / sizeof(ht_links[0]),
	.addresses = ht_addresses,
	.address_min = 1,
	.address_max = HT_ADDR_MAX,
	/* dbus-serialbattery: "sometimes really slow in responding", 400 ms */
	.response_timeout_ms = 400,
	.inter_frame_gap_ms = 30,
	.poll_interval_ms = 2000,
	.max_frame = BMS_MODBUS_MAX_ADU,
	.flags = BMS_F_ADDRESSED,
	.alarms = BMS_ALARM_BIT(HIGH_CELL_VOLTAGE) | BMS_ALARM_BIT(LOW_CELL_VOLTAGE) |
		  BMS_ALARM_BIT(HIGH_VOLTAGE) | BMS_ALARM_BIT(LOW_VOLTAGE) |
		  BMS_ALARM_BIT(HIGH_CHARGE_CURRENT) | BMS_ALARM_BIT(HIGH_DISCHARGE_CURRENT) |
		  BMS_ALARM_BIT(HIGH_CURRENT) | BMS_ALARM_BIT(HIGH_CHARGE_TEMPERATURE) |
		  BMS_ALARM_BIT(LOW_CHARGE_TEMPERATURE) | BMS_ALARM_BIT(HIGH_TEMPERATURE) |
		  BMS_ALARM_BIT(LOW_TEMPERATURE) | BMS_ALARM_BIT(HIGH_INTERNAL_TEMPERATURE) |
		  BMS_ALARM_BIT(LOW_SOC) | BMS_ALARM_BIT(INTERNAL_FAILURE),
	.state_size = sizeof(struct ht_state),
	.steps = ht_steps,
	.nsteps = sizeof(ht_steps) / sizeof(ht_steps[0]),
	.init = ht_init,
	.build_request = ht_build_request,
	.frame_check = ht_frame_check,
	.parse = ht_parse,
};
