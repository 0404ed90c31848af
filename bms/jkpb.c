/* SPDX-License-Identifier: MIT */
/*
 * JK PB series ("inverter BMS", JK-PB2A16S15P/20P) on RS485, 115200 8N1,
 * the "bus-master" protocol: a Modbus FC 0x10 write to a trigger register
 * makes the addressed unit send one 0x55AA EB90 frame.
 * Facts: /work/shared/reference/protocols.md section 2a and 16; vectors
 * jk_pb_rs485.
 *
 * Request (11 bytes): addr 10 <trigger BE16> 00 01 02 00 00 <Modbus CRC LE>
 *   status   0x1620 -> frame type 0x02   01 10 16 20 00 01 02 00 00 D6 F1
 *   settings 0x161E -> frame type 0x01   01 10 16 1E 00 01 02 00 00 D2 2F
 *   about    0x161C -> frame type 0x03   01 10 16 1C 00 01 02 00 00 D3 CD
 * Reply: 300-byte frame, 00, the Modbus FC 0x10 ACK, 00:
 *   55 AA EB 90 <type> <00 on RS485, a counter on BLE> <data, LE> ... <sum8>
 *   00  01 10 16 20 00 01 <CRC LE>  00
 * Frame checksum: byte 299 = sum of bytes 0..298 & 0xFF. ACK: Modbus CRC.
 *
 * Decisions:
 * - frame_check accepts two kinds of frames: the 300-byte data frame and the
 *   8-byte ACK (addr 10 16 xx 00 01 CRC with a valid CRC). The stray 00
 *   bytes and an adapter's echo of our 11-byte request (whose bytes 6..7
 *   are not a valid CRC of bytes 0..5) are garbage and skipped.
 * - The payload carries no address, so the reply is matched to its sender by
 *   the ACK: parse of the data frame (of the type this step asked for)
 *   decodes it and returns 1 ("more frames for this step"); parse of the ACK
 *   returns 0 only when its address and trigger register are those of our
 *   request, else -EPROTO; either way the data frame is then forgotten, so
 *   another unit's data can never be completed by our own ACK. A cycle whose step ended in an error
 * must be discarded by the caller (the data frame was already decoded into its scratch snapshot). A
 * data frame of another type, or an ACK without a data frame before it, is -EPROTO.
 * - T3/T4/T5 (status bytes 254/256/258): in both captures the s16 at 254
 *   equals the MOSFET temperature at 144 exactly (12.9/12.9 and 12.8/12.8),
 *   which supports the PB note and dbus-serialbattery (254 is a copy of the
 *   MOSFET sensor, 256 = T3, 258 = T4) against the register map (254 = T3) and
 *   ESPHome (254 = T5). So T3 = 256, T4 = 258 and no T5. Sensors are listed
 *   in temp_dc[] in order T1..T4, only those whose presence bit (byte 214,
 *   bits 1..4) is set; the MOSFET (bit 0) goes to mosfet_temp_dc.
 * - Power at 154 is unsigned; it gets the sign of the current.
 * - Balancing: the status frame has no per-cell bits. While the balance
 *   state (172) is not 0 the active balancer moves charge between the
 *   highest and the lowest cell, whose indexes are at 78/79, so those two
 *   cells are marked balancing. The balancer switch comes from the settings
 *   frame (126).
 * - Max charge/discharge current from settings 50/62 (mA); design capacity
 *   from settings 130. Model, hw/sw version and serial from the about frame.
 * - The poll cycle is status, settings, about (about is cheap and keeps the
 *   identity in every committed snapshot); the probe asks for "about".
 * - Address 0 (the bus master, which talks unsolicited) is not polled.
 */
#include <errno.h>
#include <string.h>

#include "bms.h"
#include "bytes.h"
#include "jkpb_wire.h"

struct jkpb_state {
	uint8_t address;
	bool have_data; /* this step's data frame arrived, the ACK is due */
};

static int jkpb_init(void *state, uint8_t address)
{
	struct jkpb_state *st = state;
	if (address < 1 || address > 15)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	st->address = address;
	return 0;
}

/* frame_check: the 300-byte data frame or the Modbus ACK that follows it. */
static int jkpb_frame_check(const uint8_t *p, size_t avail, size_t *ret_len)
{
	if (p[0] == 0x55) {
		for (size_t i = 1; i < sizeof(pb_hdr); i++) {
			if (i >= avail)
				return 0;
			if (p[i] != pb_hdr[i])
				return -1;
		}
		if (avail < PB_FRAME)
			return 0;
		if (bms_sum8(p, PB_FRAME - 1) != p[PB_FRAME - 1])
			return -1;
		*ret_len = PB_FRAME;
		return 1;
	}
	/* the Modbus ACK: addr 10 16 xx 00 01 CRC */
	if (p[0] > 15)
		return -1;
	static const uint8_t ack[] = {0x00, 0x10, 0x16, 0x00, 0x00, 0x01};
	for (size_t i = 1; i < sizeof(ack); i++) {
		if (i >= avail)
			return 0;
		if (i == 3 ? pb_type_of((uint16_t)(0x1600 | p[3])) == 0 : p[i] != ack[i])
			return -1;
	}
	if (avail < PB_ACK)
		return 0;
	if (bms_crc16_modbus(p, 6) != (uint16_t)(p[6] | (p[7] << 8)))
		return -1;
	*ret_len = PB_ACK;
	return 1;
}

static int pb_request(uint8_t *out, size_t cap, uint8_t addr, uint16_t trigger)
{
	if (cap < PB_REQ)
		return -ENOBUFS;
	out[0] = addr;
	out[1] = 0x10;
	put_u16be(out + 2, trigger);
	put_u16be(out + 4, 1);
	out[6] = 2;
	put_u16be(out + 7, 0);
	put_u16le(out + 9, bms_crc16_modbus(out, 9));
	return PB_REQ;
}

/* The trigger register a request descriptor stands for; 0 = the cycle has no such step. */
static uint16_t pb_trigger(const struct bms_request *req)
{
	static const uint16_t poll[] = {PB_TRIG_STATUS, PB_TRIG_SETTINGS, PB_TRIG_ABOUT};
	if (req->kind == BMS_REQ_PROBE)
		return req->step == 0 ? PB_TRIG_ABOUT : 0;
	if (req->kind == BMS_REQ_POLL && req->step < sizeof(poll) / sizeof(poll[0]))
		return poll[req->step];
	return 0;
}

static int jkpb_build_request(void *state, const struct bms_request *req, uint8_t *out, size_t cap)
{
	struct jkpb_state *st = state;
	if (req->kind == BMS_REQ_SET)
		return -EOPNOTSUPP;
	uint16_t trig = pb_trigger(req);
	if (trig == 0)
		return 0;
	int n = pb_request(out, cap, st->address, trig);
	if (n > 0)
		st->have_data = false;
	return n;
}

static int pb_parse_status(const uint8_t *f, struct bms_snapshot *s)
{
	struct breader r = br_init(f, PB_FRAME);
	br_seek(&r, 70);
	uint32_t mask = br_u32le(&r);
	uint8_t count = 0;
	memset(s->cell_mv, 0, sizeof(s->cell_mv));
	br_seek(&r, 6);
	for (unsigned i = 0; i < BMS_MAX_CELLS; i++) {
		uint16_t mv = br_u16le(&r);
		if (mask ? ((mask >> i) & 1u) : mv != 0) {
			s->cell_mv[i] = mv;
			count = (uint8_t)(i + 1);
		}
	}
	s->cell_count = count;

	br_seek(&r, 78);
	uint8_t max_idx = br_u8(&r), min_idx = br_u8(&r);
	br_seek(&r, 144);
	s->mosfet_temp_dc = br_s16le(&r);
	br_seek(&r, 150);
	s->voltage_mv = (int32_t)br_u32le(&r);
	uint32_t power = br_u32le(&r);
	s->current_ma = br_s32le(&r);
	s->power_mw = s->current_ma < 0 ? -(int64_t)power : (int64_t)power;
	br_seek(&r, 166);
	uint32_t alarms = br_u32le(&r);
	br_seek(&r, 172);
	uint8_t bal_state = br_u8(&r);
	uint8_t soc = br_u8(&r);
	s->capacity_remain_mah = br_s32le(&r);
	s->capacity_full_mah = (int32_t)br_u32le(&r);
	s->cycles = br_u32le(&r);
	br_seek(&r, 190);
	uint8_t soh = br_u8(&r);
	br_seek(&r, 198);
	s->charge_fet = br_u8(&r) != 0;
	s->discharge_fet = br_u8(&r) != 0;
	br_seek(&r, 214);
	uint8_t present = br_u8(&r);
	if (r.err || soc > 100 || soh > 100)
		return -EPROTO;
	s->soc_cpct = (uint16_t)(soc * 100);
	s->soh_cpct = (uint16_t)(soh * 100);

	s->temp_count = 0;
	for (unsigned t = 0; t < sizeof(pb_temp_off) / sizeof(pb_temp_off[0]); t++) {
		if (!((present >> (t + 1)) & 1u))
			continue;
		struct breader tr = br_init(f, PB_FRAME);
		br_seek(&tr, pb_temp_off[t]);
		s->temp_dc[s->temp_count++] = br_s16le(&tr);
	}

	s->balancing = 0;
	if (bal_state != 0 && count > 0) {
		if (max_idx < count)
			s->balancing |= 1u << max_idx;
		if (min_idx < count)
			s->balancing |= 1u << min_idx;
	}

	memset(s->alarm, 0, sizeof(s->alarm));
	for (size_t k = 0; k < PB_NALARM; k++)
		if ((alarms >> pb_alarm_map[k].bit) & 1u &&
		    s->alarm[pb_alarm_map[k].alarm] < pb_alarm_map[k].level)
			s->alarm[pb_alarm_map[k].alarm] = pb_alarm_map[k].level;

	s->valid |= BMS_V_CELLS | BMS_V_MOSFET_TEMP | BMS_V_VOLTAGE | BMS_V_POWER | BMS_V_CURRENT |
		    BMS_V_ALARMS | BMS_V_BALANCING | BMS_V_SOC | BMS_V_CAP_REMAIN | BMS_V_CAP_FULL |
		    BMS_V_CYCLES | BMS_V_SOH | BMS_V_FETS | BMS_V_TEMPS;
	return 0;
}

static int pb_parse_settings(const uint8_t *f, struct bms_snapshot *s)
{
	struct breader r = br_init(f, PB_FRAME);
	br_seek(&r, 50);
	uint32_t chg = br_u32le(&r);
	br_seek(&r, 62);
	uint32_t dis = br_u32le(&r);
	br_seek(&r, 126);
	uint32_t bal = br_u32le(&r);
	uint32_t design = br_u32le(&r);
	if (r.err || chg > INT32_MAX || dis > INT32_MAX || design > INT32_MAX)
		return -EPROTO;
	s->max_charge_ma = (int32_t)chg;
	s->max_discharge_ma = (int32_t)dis;
	s->balancer_enabled = bal != 0;
	s->capacity_design_mah = (int32_t)design;
	s->valid |= BMS_V_MAX_CHARGE_I | BMS_V_MAX_DISCHARGE_I | BMS_V_BALANCER | BMS_V_CAP_DESIGN;
	return 0;
}

static int pb_parse_about(const uint8_t *f, struct bms_snapshot *s)
{
	struct breader r = br_init(f, PB_FRAME);
	br_seek(&r, 6);
	br_str(&r, 16, s->model, sizeof(s->model));
	br_str(&r, 8, s->hw_version, sizeof(s->hw_version));
	br_str(&r, 8, s->sw_version, sizeof(s->sw_version));
	br_seek(&r, 46);
	br_str(&r, 16, s->serial, sizeof(s->serial));
	if (r.err)
		return -EPROTO;
	s->valid |= BMS_V_MODEL | BMS_V_HW_VERSION | BMS_V_SW_VERSION | BMS_V_SERIAL;
	return 0;
}

static int jkpb_parse(void *state, const struct bms_request *req, const uint8_t *frame, size_t len,
		      struct bms_snapshot *snap)
{
	struct jkpb_state *st = state;
	if (len == PB_ACK) {
		uint16_t reg = (uint16_t)((frame[2] << 8) | frame[3]);
		uint16_t trig = pb_trigger(req);
		bool ours = st->have_data && frame[0] == st->address && trig != 0 && reg == trig;
		/* either way the data frame before it is settled: another unit's data must
		 * not be completed by our own ACK arriving later without data */
		st->have_data = false;
		return ours ? 0 : -EPROTO;
	}
	uint8_t want_type = pb_type_of(pb_trigger(req));
	if (len != PB_FRAME || frame[4] != want_type || want_type == 0)
		return -EPROTO;
	struct bms_snapshot s = *snap;
	int r;
	switch (frame[4]) {
	case 0x02:
		r = pb_parse_status(frame, &s);
		break;
	case 0x01:
		r = pb_parse_settings(frame, &s);
		break;
	default:
		r = pb_parse_about(frame, &s);
		break;
	}
	if (r < 0)
		return r;
	*snap = s;
	st->have_data = true;
	return 1; /* the ACK names the sender */
}

static const uint32_t jkpb_bauds[] = {115200, 0};
static const struct bms_link jkpb_links[] = {
	{.kind = BMS_LINK_SERIAL, .serial = {jkpb_bauds, BMS_8N1}},
};
static const uint8_t jkpb_addresses[] = {1, 0};

const struct bms_driver bms_jkpb = {
	.name = "jkpb",
	.description = "JK PB series (JK-PB2A16S15P/20P) RS485 bus-master protocol, 0x55AA frames",
	.spec = "protocols.md section 2a (JK PB RS485)",
	.links = jkpb_links,
	.nlinks = sizeof(jkpb_links) / sizeof(jkpb_links[0]),
	.addresses = jkpb_addresses,
	.address_min = 1,
	.address_max = 15,
	.response_timeout_ms = 300,
	.inter_frame_gap_ms = 120, /* closer bursts make several units answer */
	.poll_interval_ms = 1000,
	.max_frame = PB_FRAME,
	.flags = BMS_F_ADDRESSED,
	.state_size = sizeof(struct jkpb_state),
	.init = jkpb_init,
	.build_request = jkpb_build_request,
	.frame_check = jkpb_frame_check,
	.parse = jkpb_parse,
};
