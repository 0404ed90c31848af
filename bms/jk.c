/* SPDX-License-Identifier: MIT */
/*
 * JK BMS, legacy serial protocol "0x4E57" (GPS / UART-TTL port of the
 * JK-B1A/B2A/BD6A boards, also on JK's RS485 adapter), 115200 8N1.
 * Facts: /work/shared/reference/protocols.md section 1; vectors jk_serial_4e57.
 *
 * Frame (both directions, all big-endian):
 *   0  2  "4E 57"
 *   2  2  length = total frame length - 2
 *   4  4  terminal number, 0
 *   8  1  command (0x06 read all)
 *   9  1  source (0x00 BMS, 0x01 BT, 0x02 GPS, 0x03 PC)
 *  10  1  transport (0x00 request, 0x01 reply, 0x02 unsolicited upload)
 *  11  n  data; in a reply a run of tag + fixed-size value records
 *  -9  4  record number
 *  -5  1  0x68 end byte
 *  -4  2  00 00 (checksum high half)
 *  -2  2  checksum: 16-bit sum of bytes [0, len-4), BE
 *
 * Request (read all, from "PC"):
 *   4E 57 00 13 00 00 00 00 06 03 00 00 00 00 00 00 68 00 00 01 29
 * Reply (14S, abridged): 4E 57 01 1B 00 00 00 00 06 00 01 79 2A 01 0E ED ...
 *   83 14 EF (53.59 V) 84 80 D0 (+2.08 A) 85 0F (15 %) ... C0 01
 *   00 00 00 00 68 00 00 54 D1
 *
 * Decisions:
 * - frame_check accepts requests and replies (a capture holds both, and
 *   `serialbattery decode` describes both); parse returns BMS_FOREIGN for a
 *   request (another master's, or an adapter's echo of ours) and for a reply
 *   to another command than the one asked, so the worker skips them. The two
 *   bytes before the checksum must be zero, so every byte is covered.
 * - Temperatures (0x80-0x82) above 100: the vendor table (101..140 means
 *   -(v-100) degC) and dbus-serialbattery (100-v above 99) agree for every
 *   value except exactly 100, where the vendor says +100; ESPHome (99-v) is
 *   1 degC off from both. We follow the vendor table; a value above 140 is
 *   outside every reading and rejects the frame (-EPROTO).
 * - Current: with protocol version tag 0xC0 = 1 (all captures) bit 15 set is
 *   charging and bits 0-14 the magnitude in 10 mA. With 0xC0 = 0 the vendor
 *   table's offset coding, (10000 - raw) x 10 mA, is applied; when 0xC0 is
 *   missing the bit-15 rule is used, as dbus-serialbattery always does.
 * - The record list has no lengths, so an unknown tag stops the walk; the
 *   frame is still used when cells, voltage and current were read before it
 *   (firmware adds tags at the end), otherwise -EPROTO.
 * - Balancer switch = status bit 2 (the captures' "balancer_enabled" follows
 *   0x8C, not the 0x9D setting). No per-cell balancing is carried.
 * - Capacity: 0xAA (nominal) fills both design and full capacity; 0xB9
 *   (actual capacity) is 0 in every capture, so it is not used. Remaining
 *   capacity is not carried.
 * - Serial = 0xBA manufacturer ID (dbus-serialbattery's unique ID);
 *   sw_version = the whole 0xB7 string ("H6.X__S6.1.3S__"). No model.
 * - Max charge/discharge current = 0x99 / 0x97 over-current protection (A),
 *   as dbus-serialbattery does, each with its own valid bit, and only within
 *   1..JK_LIMIT_MAX_A (jk_wire.h): 0 or more is not a limit.
 * - Counts: 0x8A (total cells) and 0x86 (sensor count, without the MOSFET
 *   sensor: 2 with 0x81 and 0x82 in every capture) are cells_reported and
 *   temps_reported (BMS_V_COUNTS, set when both came); above BMS_MAX_CELLS /
 *   BMS_MAX_TEMPS they are impossible and refuse the frame.
 * - Status 0x8C: bit 0 charge FET, 1 discharge FET, 2 balancer switch; bit 3
 *   ("battery dropped") has no second source for what it means: decode only.
 * - READ (decode): 0x06 read all and 0x03 read one (its records, whatever
 *   they are); activate, write and password are not reads (-EOPNOTSUPP).
 *
 * Writes (commands CHARGE_FET, DISCHARGE_FET, BALANCER; STANDBY through both
 * FETs, worker_set): command 0x02 with one record, the switch's tag and a
 * one-byte value, 1 on / 0 off: 0xAB charge MOSFET switch, 0xAC discharge
 * MOSFET switch, 0x9D active-balance switch (protocols.md section 1 names
 * them). The frame is the one a user published (diysolarforum, "writing data
 * to jkbms usb ttl rs-485") and says switches the FETs:
 *   4E 57 00 14 00 00 00 00 02 03 02 AB 00 00 00 00 00 68 00 00 01 D3
 *   = charge FET off, from "PC", transport byte 0x02 (not 0x00 as in a read).
 * - No password step. protocols.md says a write follows command 0x05
 *   (password) but gives no content for it; that user's frames switch
 *   without it, and an undocumented frame is not sent to a BMS.
 * - The reply to a write is not documented. Taken as the acknowledgement:
 *   a well-formed frame from the BMS (source 0x00) with command 0x02; its
 *   data is not checked (its shape is unknown: bms/sim/jk.c assumes an echo
 *   of the record). Whether the switch took is what the next poll's status
 *   bits (0x8C) show: the publisher checks every "off" there.
 * - A write frame from anyone but the BMS is a request (jk_wire.h
 *   jk_is_request: its transport byte 0x02 alone would read "upload"), so an
 *   adapter's echo of ours is foreign like an echoed read.
 */
#include <errno.h>
#include <string.h>

#include "bms.h"
#include "registry.h"
#include "bytes.h"
#include "jk_wire.h"

static int jk_frame_check(const uint8_t *buf, size_t len, size_t *ret_len)
{
	return jk_check_at(buf, len, JK_WANT_ANY, ret_len);
}

/*
 * The record a write sends (tag, value), or -EOPNOTSUPP for a command JK has
 * no switch for, -EINVAL for a value other than 0 off / 1 on.
 */
static int jk_set_record(const struct bms_request *req, uint8_t rec[2])
{
	switch (req->command) {
	case BMS_CMD_CHARGE_FET:
		rec[0] = JK_TAG_CHARGE_SW;
		break;
	case BMS_CMD_DISCHARGE_FET:
		rec[0] = JK_TAG_DISCHARGE_SW;
		break;
	case BMS_CMD_BALANCER:
		rec[0] = JK_TAG_BALANCER;
		break;
	default:
		return -EOPNOTSUPP;
	}
	if (req->value != 0 && req->value != 1)
		return -EINVAL;
	rec[1] = (uint8_t)req->value;
	return 0;
}

static int jk_build_request(void *state, const struct bms_request *req, uint8_t *out, size_t cap)
{
	(void)state;
	if (req->kind == BMS_REQ_SET) {
		uint8_t rec[2];
		int r = jk_set_record(req, rec);
		if (r < 0)
			return r;
		if (req->step > 0)
			return 0; /* one frame per write, no password step (see top) */
		return jk_frame(out, cap, JK_CMD_WRITE, JK_SRC_PC, JK_T_WRITE_REQ, rec,
				sizeof(rec));
	}
	/* "read all" is both the probe and the whole poll cycle; no setup */
	if (req->step > 0 || req->kind == BMS_REQ_SETUP)
		return 0;
	uint8_t cmd = JK_CMD_READ_ALL;
	if (req->kind == BMS_REQ_READ) {
		/* read one takes a tag: 0x00 (none) asks nothing harmful */
		if (req->reg != JK_CMD_READ_ALL && req->reg != JK_CMD_READ_ONE)
			return -EOPNOTSUPP;
		cmd = (uint8_t)req->reg;
	}
	static const uint8_t data[] = {0x00};
	return jk_frame(out, cap, cmd, JK_SRC_PC, JK_T_REQUEST, data, sizeof(data));
}

/* 0..100 degC as is, 101..140 = -(v - 100); returns false beyond. */
static bool jk_temp(uint16_t raw, int16_t *ret_dc)
{
	if (raw <= 100)
		*ret_dc = (int16_t)(raw * 10);
	else if (raw <= 140)
		*ret_dc = (int16_t)(-(int)(raw - 100) * 10);
	else
		return false;
	return true;
}

/* An over-current setting (whole A) as a limit in mA: false when it is none. */
static bool jk_limit(uint16_t amps, int32_t *ret_ma)
{
	if (amps == 0 || amps > JK_LIMIT_MAX_A)
		return false;
	*ret_ma = (int32_t)amps * 1000;
	return true;
}

/*
 * Walk the tag records of frame into s. whole: a read-all reply, which must
 * carry cells, voltage and current; a read-one reply carries what it carries.
 */
static int jk_records(const uint8_t *frame, size_t len, bool whole, struct bms_snapshot *snap)
{
	struct bms_snapshot s = *snap;
	uint32_t seen = 0;
	bool have_cells = false, have_v = false, have_i = false, have_ver = false;
	bool have_ncells = false, have_ntemps = false;
	uint16_t raw_i = 0;
	uint8_t version = 0;
	struct breader r = br_init(frame, len - 9); /* records end at the record number */
	br_seek(&r, 11);
	while (br_left(&r) > 0) {
		uint8_t tag = br_u8(&r);
		if (tag == 0x79) {
			uint8_t n = br_u8(&r);
			if (n % 3 != 0 || n / 3 > BMS_MAX_CELLS || !br_has(&r, n))
				return -EPROTO;
			uint8_t count = 0;
			memset(s.cell_mv, 0, sizeof(s.cell_mv));
			for (unsigned k = 0; k < n / 3u; k++) {
				uint8_t no = br_u8(&r);
				uint16_t mv = br_u16be(&r);
				if (no < 1 || no > BMS_MAX_CELLS)
					return -EPROTO;
				s.cell_mv[no - 1] = mv;
				if (no > count)
					count = no;
			}
			s.cell_count = count;
			seen |= BMS_V_CELLS;
			have_cells = true;
			continue;
		}
		size_t sz = jk_tag_size(tag);
		if (sz == 0)
			break; /* unknown tag: the rest cannot be walked */
		if (!br_has(&r, sz))
			return -EPROTO;
		struct breader v = br_init(r.p + r.pos, sz);
		br_skip(&r, sz);
		uint16_t u16 = sz == 2 ? br_u16be(&v) : 0;
		switch (tag) {
		case 0x80:
			if (!jk_temp(u16, &s.mosfet_temp_dc))
				return -EPROTO;
			seen |= BMS_V_MOSFET_TEMP;
			break;
		case 0x81:
		case 0x82:
			if (!jk_temp(u16, &s.temp_dc[tag - 0x81]))
				return -EPROTO;
			if (s.temp_count < tag - 0x80 || !(seen & BMS_V_TEMPS))
				s.temp_count = (uint8_t)(tag - 0x80);
			seen |= BMS_V_TEMPS;
			break;
		case 0x83:
			s.voltage_mv = (int32_t)u16 * 10;
			seen |= BMS_V_VOLTAGE;
			have_v = true;
			break;
		case 0x84:
			raw_i = u16;
			have_i = true;
			break;
		case 0x85: {
			uint8_t soc = br_u8(&v);
			if (soc > 100)
				return -EPROTO;
			s.soc_cpct = (uint16_t)(soc * 100);
			seen |= BMS_V_SOC;
			break;
		}
		case 0x86: {
			uint8_t n = br_u8(&v);
			if (n > BMS_MAX_TEMPS)
				return -EPROTO;
			s.temps_reported = n;
			have_ntemps = true;
			break;
		}
		case 0x87:
			s.cycles = u16;
			seen |= BMS_V_CYCLES;
			break;
		case 0x8A:
			if (u16 > BMS_MAX_CELLS)
				return -EPROTO;
			s.cells_reported = (uint8_t)u16;
			have_ncells = true;
			break;
		case 0x8B:
			memset(s.alarm, 0, sizeof(s.alarm));
			for (size_t k = 0; k < JK_NALARM; k++)
				if ((u16 >> jk_alarm_map[k].bit) & 1u &&
				    s.alarm[jk_alarm_map[k].alarm] < jk_alarm_map[k].level)
					s.alarm[jk_alarm_map[k].alarm] = jk_alarm_map[k].level;
			seen |= BMS_V_ALARMS;
			break;
		case 0x8C:
			s.charge_fet = u16 & 1u;
			s.discharge_fet = (u16 >> 1) & 1u;
			s.balancer_enabled = (u16 >> 2) & 1u;
			seen |= BMS_V_FETS | BMS_V_BALANCER;
			break;
		case 0x97:
			if (jk_limit(u16, &s.max_discharge_ma))
				seen |= BMS_V_MAX_DISCHARGE_I;
			break;
		case 0x99:
			if (jk_limit(u16, &s.max_charge_ma))
				seen |= BMS_V_MAX_CHARGE_I;
			break;
		case 0xAA: {
			uint32_t ah = br_u32be(&v);
			if (ah > 1000000)
				return -EPROTO;
			s.capacity_full_mah = (int32_t)ah * 1000;
			s.capacity_design_mah = s.capacity_full_mah;
			seen |= BMS_V_CAP_FULL | BMS_V_CAP_DESIGN;
			break;
		}
		case 0xB7:
			br_str(&v, sz, s.sw_version, sizeof(s.sw_version));
			seen |= BMS_V_SW_VERSION;
			break;
		case 0xBA:
			br_str(&v, sz, s.serial, sizeof(s.serial));
			seen |= BMS_V_SERIAL;
			break;
		case 0xC0:
			version = br_u8(&v);
			have_ver = true;
			break;
		}
	}
	if (r.err || (whole && (!have_cells || !have_v || !have_i)))
		return -EPROTO;

	if (have_i) {
		if (have_ver && version == 0)
			s.current_ma = (10000 - (int32_t)raw_i) * 10;
		else
			s.current_ma =
				(int32_t)(raw_i & 0x7FFFu) * 10 * ((raw_i & 0x8000u) ? 1 : -1);
		seen |= BMS_V_CURRENT;
	}
	/* the two counts share one valid bit: both or neither */
	if (have_ncells && have_ntemps)
		seen |= BMS_V_COUNTS;

	s.valid |= seen;
	*snap = s;
	return 0;
}

static int jk_parse(void *state, const struct bms_request *req, const uint8_t *frame, size_t len,
		    struct bms_snapshot *snap)
{
	(void)state;
	if (len < JK_MIN_FRAME)
		return -EPROTO;
	/* another master's request, or the echo of ours: never data */
	if (jk_is_request(frame))
		return BMS_FOREIGN;
	if (req->kind == BMS_REQ_SET) {
		uint8_t rec[2];
		if (jk_set_record(req, rec) < 0)
			return -EPROTO;
		if (frame[8] != JK_CMD_WRITE)
			return BMS_FOREIGN; /* the reply to someone else's command */
		/* the BMS's write reply; its data is not documented (see top) */
		return 0;
	}
	uint8_t asked = req->kind == BMS_REQ_READ ? (uint8_t)req->reg : JK_CMD_READ_ALL;
	if (frame[8] != asked)
		return BMS_FOREIGN; /* the reply to someone else's command */
	if (asked != JK_CMD_READ_ALL && asked != JK_CMD_READ_ONE)
		return -EPROTO;
	return jk_records(frame, len, asked == JK_CMD_READ_ALL, snap);
}

/* ---- describe ---- */

enum jk_item_kind {
	JK_U,    /* unsigned, times scale */
	JK_S,    /* signed 16-bit, times scale */
	JK_TEXT, /* ASCII */
};

/*
 * The values of a reply that are not snapshot fields (or are, in another
 * form: the raw settings behind a limit), in the order they are listed:
 * first the keys the vectors name, then identity and the settings. A reply
 * holds more than BMS_DESC_ITEMS of them: the last ones listed are dropped.
 * 0xB2 (the parameter password) is deliberately not shown.
 */
static const struct {
	uint8_t tag;
	uint8_t kind;
	double scale;
	const char *key;
} jk_items[] = {
	{0x8B, JK_U, 1, "alarm_bits"},
	{0x8C, JK_U, 1, "status_bits"},
	{0xAF, JK_U, 1, "battery_type"},
	{0xC0, JK_U, 1, "protocol_version"},
	{0xB6, JK_U, 1, "runtime_min"},
	{0xBA, JK_TEXT, 1, "manufacturer_id"},
	{0x89, JK_U, 1, "cycle_capacity_ah"},
	{0xAA, JK_U, 1, "capacity_ah"},
	{0x86, JK_U, 1, "temp_sensor_count"},
	{0x99, JK_U, 1, "charge_ocp_a"},
	{0x97, JK_U, 1, "discharge_ocp_a"},
	{0xB4, JK_TEXT, 1, "device_id"},
	{0xB5, JK_TEXT, 1, "manufacture_date"},
	{0xB9, JK_U, 1, "actual_capacity_ah"},
	{0xA9, JK_U, 1, "cell_count_setting"},
	{0xAE, JK_U, 1, "board_address"},
	{0x9A, JK_U, 1, "charge_ocp_delay_s"},
	{0x98, JK_U, 1, "discharge_ocp_delay_s"},
	{0x8E, JK_U, 0.01, "pack_ovp_v"},
	{0x8F, JK_U, 0.01, "pack_uvp_v"},
	{0x90, JK_U, 0.001, "cell_ovp_v"},
	{0x91, JK_U, 0.001, "cell_ovp_recover_v"},
	{0x92, JK_U, 1, "cell_ovp_delay_s"},
	{0x93, JK_U, 0.001, "cell_uvp_v"},
	{0x94, JK_U, 0.001, "cell_uvp_recover_v"},
	{0x95, JK_U, 1, "cell_uvp_delay_s"},
	{0x96, JK_U, 0.001, "cell_diff_protect_v"},
	{0x9B, JK_U, 0.001, "balance_start_v"},
	{0x9C, JK_U, 0.001, "balance_trigger_v"},
	{0x9D, JK_U, 1, "active_balance_switch"},
	{0x9E, JK_U, 1, "mos_otp_c"},
	{0x9F, JK_U, 1, "mos_otp_recover_c"},
	{0xA0, JK_U, 1, "box_otp_c"},
	{0xA1, JK_U, 1, "box_otp_recover_c"},
	{0xA2, JK_U, 1, "temp_diff_protect_c"},
	{0xA3, JK_U, 1, "charge_otp_c"},
	{0xA4, JK_U, 1, "discharge_otp_c"},
	{0xA5, JK_S, 1, "charge_utp_c"},
	{0xA6, JK_S, 1, "charge_utp_recover_c"},
	{0xA7, JK_S, 1, "discharge_utp_c"},
	{0xA8, JK_S, 1, "discharge_utp_recover_c"},
	{0xAB, JK_U, 1, "charge_switch"},
	{0xAC, JK_U, 1, "discharge_switch"},
	{0xAD, JK_U, 1, "current_calibration_ma"},
	{0xB0, JK_U, 1, "sleep_wait_s"},
	{0xB1, JK_U, 1, "low_capacity_alarm_pct"},
	{0xB3, JK_U, 1, "dedicated_charger"},
	{0xB8, JK_U, 1, "start_current_calibration"},
};

/* The name jk_items gives tag's value, or NULL (the password is never named). */
static const char *jk_item_key(uint8_t tag)
{
	for (size_t i = 0; i < sizeof(jk_items) / sizeof(jk_items[0]); i++)
		if (jk_items[i].tag == tag)
			return jk_items[i].key;
	return NULL;
}

static const char *jk_cmd_name(uint8_t cmd)
{
	switch (cmd) {
	case JK_CMD_ACTIVATE:
		return "activate";
	case JK_CMD_WRITE:
		return "write";
	case JK_CMD_READ_ONE:
		return "read one";
	case JK_CMD_PASSWORD:
		return "password";
	case JK_CMD_READ_ALL:
		return "read all";
	}
	return NULL;
}

static void jk_desc_value(struct bms_frame_desc *d, const char *key, uint8_t kind, double scale,
			  const uint8_t *p, size_t sz)
{
	if (kind == JK_TEXT) {
		bms_desc_text(d, key, (const char *)p, sz);
		return;
	}
	uint32_t u = 0;
	for (size_t i = 0; i < sz; i++)
		u = (u << 8) | p[i];
	double v = kind == JK_S && sz == 2 ? (double)(int16_t)u : (double)u;
	bms_desc_num(d, key, v * scale);
}

int bms_jk_describe(const uint8_t *frame, size_t len, struct bms_frame_desc *d)
{
	size_t flen;
	if (len < JK_MIN_FRAME || jk_check_at(frame, len, JK_WANT_ANY, &flen) != 1 || flen != len)
		return -1;
	uint8_t cmd = frame[8], transport = frame[10];
	const char *name = jk_cmd_name(cmd);
	if (!name || transport > JK_T_UPLOAD)
		return -1;
	bool request = jk_is_request(frame);
	bms_desc_init(d, request ? BMS_DIR_REQUEST : BMS_DIR_REPLY, cmd, -1, name);
	size_t data_end = len - 9;
	if (request) {
		bms_desc_num(d, "command", cmd);
		bms_desc_text(d, "command_name", name, strlen(name));
		bms_desc_num(d, "frame_source", frame[9]);
		bms_desc_num(d, "transport_type", transport);
		if (data_end > 11)
			bms_desc_num(d, "register", frame[11]);
		size_t sz = data_end > 12 ? jk_tag_size(frame[11]) : 0;
		if (cmd == JK_CMD_WRITE && sz && 12 + sz <= data_end) {
			jk_desc_value(d, "value", JK_U, 1, frame + 12, sz);
			const char *what = jk_item_key(frame[11]);
			if (what)
				bms_desc_text(d, "register_name", what, strlen(what));
		}
		bms_desc_num(d, "length_field", (frame[2] << 8) | frame[3]);
		return 0;
	}
	/* where each tag's value is (0 = absent); the walk stops at an unknown tag */
	uint16_t at[256];
	memset(at, 0, sizeof(at));
	size_t pos = 11;
	while (pos < data_end) {
		uint8_t tag = frame[pos];
		size_t sz = tag == 0x79 ? (pos + 1 < data_end ? 1u + frame[pos + 1] : 0)
					: jk_tag_size(tag);
		if (sz == 0 || pos + 1 + sz > data_end)
			break;
		at[tag] = (uint16_t)(pos + 1);
		pos += 1 + sz;
	}
	for (size_t i = 0; i < sizeof(jk_items) / sizeof(jk_items[0]); i++) {
		uint8_t tag = jk_items[i].tag;
		if (at[tag])
			jk_desc_value(d, jk_items[i].key, jk_items[i].kind, jk_items[i].scale,
				      frame + at[tag], jk_tag_size(tag));
	}
	bms_desc_num(d, "frame_source", frame[9]);
	bms_desc_num(d, "transport_type", transport);
	bms_desc_num(d, "length_field", (frame[2] << 8) | frame[3]);
	return 0;
}

static const uint32_t jk_bauds[] = {115200, 0};
static const struct bms_link jk_links[] = {
	{.kind = BMS_LINK_SERIAL, .serial = {jk_bauds, BMS_8N1}},
};

static const enum bms_command jk_commands[] = {BMS_CMD_CHARGE_FET, BMS_CMD_DISCHARGE_FET,
					       BMS_CMD_BALANCER, 0};

const struct bms_driver bms_jk = {
	.name = "jk",
	.description = "JK BMS (JK-B1A/B2A/BD6A) 0x4E57 protocol on the GPS/UART port",
	.spec = "protocols.md section 1 (JK serial 0x4E57)",
	.links = jk_links,
	.nlinks = sizeof(jk_links) / sizeof(jk_links[0]),
	.addresses = NULL, /* one BMS per port */
	.response_timeout_ms = 500,
	.inter_frame_gap_ms = 50,
	.poll_interval_ms = 1000,
	.max_frame = JK_MAX_FRAME,
	.flags = 0,
	.alarms = BMS_ALARM_BIT(LOW_SOC) | BMS_ALARM_BIT(HIGH_INTERNAL_TEMPERATURE) |
		  BMS_ALARM_BIT(HIGH_VOLTAGE) | BMS_ALARM_BIT(LOW_VOLTAGE) |
		  BMS_ALARM_BIT(HIGH_TEMPERATURE) | BMS_ALARM_BIT(HIGH_CHARGE_CURRENT) |
		  BMS_ALARM_BIT(HIGH_DISCHARGE_CURRENT) | BMS_ALARM_BIT(CELL_IMBALANCE) |
		  BMS_ALARM_BIT(LOW_TEMPERATURE) | BMS_ALARM_BIT(HIGH_CELL_VOLTAGE) |
		  BMS_ALARM_BIT(LOW_CELL_VOLTAGE) | BMS_ALARM_BIT(INTERNAL_FAILURE),
	.state_size = 0, /* stateless: one request, every reply answers it */
	.commands = jk_commands,
	.build_request = jk_build_request,
	.frame_check = jk_frame_check,
	.parse = jk_parse,
};
