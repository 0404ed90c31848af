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
 * - frame_check accepts only frames whose transport byte is not "request":
 *   an RS485 adapter that echoes our own request then sees it skipped as
 *   garbage instead of parsed as a (wrong) reply. The two bytes before the
 *   checksum must be zero, so every byte of the frame is covered.
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
 *   as dbus-serialbattery does.
 */
#include <errno.h>
#include <string.h>

#include "bms.h"
#include "bytes.h"
#include "jk_wire.h"

static int jk_frame_check(const uint8_t *buf, size_t len, size_t *ret_len)
{
	return jk_check_at(buf, len, false, ret_len);
}

static int jk_build_request(void *state, const struct bms_request *req, uint8_t *out, size_t cap)
{
	(void)state;
	if (req->kind == BMS_REQ_SET)
		return -EOPNOTSUPP;
	/* "read all" is both the probe and the whole poll cycle */
	if (req->step > 0)
		return 0;
	static const uint8_t data[] = {0x00};
	return jk_frame(out, cap, JK_CMD_READ_ALL, JK_SRC_PC, JK_T_REQUEST, data, sizeof(data));
}

/* Size of the value after tag t, or 0 for an unknown tag (0x79 handled apart). */
static size_t jk_tag_size(uint8_t t)
{
	if ((t >= 0x80 && t <= 0x84) || t == 0x87 || t == 0x8A || t == 0x8B || t == 0x8C ||
	    (t >= 0x8E && t <= 0x9C) || (t >= 0x9E && t <= 0xA8) || t == 0xAD || t == 0xB0)
		return 2;
	if (t == 0x85 || t == 0x86 || t == 0x9D || t == 0xA9 || t == 0xAB || t == 0xAC ||
	    t == 0xAE || t == 0xAF || t == 0xB1 || t == 0xB3 || t == 0xB8 || t == 0xC0)
		return 1;
	if (t == 0x89 || t == 0xAA || t == 0xB5 || t == 0xB6 || t == 0xB9)
		return 4;
	switch (t) {
	case 0xB2:
		return 10;
	case 0xB4:
		return 8;
	case 0xB7:
		return 15;
	case 0xBA:
		return 24;
	}
	return 0;
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

static int jk_parse(void *state, const struct bms_request *req, const uint8_t *frame, size_t len,
		    struct bms_snapshot *snap)
{
	(void)state;
	(void)req; /* one request, "read all": every reply answers it */
	if (len < JK_MIN_FRAME || frame[8] != JK_CMD_READ_ALL || frame[10] == JK_T_REQUEST)
		return -EPROTO;

	struct bms_snapshot s = *snap;
	uint32_t seen = 0;
	bool have_cells = false, have_v = false, have_i = false, have_ver = false;
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
		case 0x87:
			s.cycles = u16;
			seen |= BMS_V_CYCLES;
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
			s.max_discharge_ma = (int32_t)u16 * 1000;
			seen |= BMS_V_MAX_DISCHARGE_I;
			break;
		case 0x99:
			s.max_charge_ma = (int32_t)u16 * 1000;
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
	if (r.err || !have_cells || !have_v || !have_i)
		return -EPROTO;

	if (have_ver && version == 0)
		s.current_ma = (10000 - (int32_t)raw_i) * 10;
	else
		s.current_ma = (int32_t)(raw_i & 0x7FFFu) * 10 * ((raw_i & 0x8000u) ? 1 : -1);
	seen |= BMS_V_CURRENT;

	s.valid |= seen;
	*snap = s;
	return 0;
}

static const uint32_t jk_bauds[] = {115200, 0};
static const struct bms_link jk_links[] = {
	{.kind = BMS_LINK_SERIAL, .serial = {jk_bauds, BMS_8N1}},
};

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
	.state_size = 0, /* stateless: one request, every reply answers it */
	.build_request = jk_build_request,
	.frame_check = jk_frame_check,
	.parse = jk_parse,
};
