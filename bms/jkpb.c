/* SPDX-License-Identifier: MIT */
/*
 * JK PB series ("inverter BMS", JK-PB2A16S15P/20P) on RS485, 115200 8N1,
 * the "bus-master" protocol: a Modbus FC 0x10 write to a trigger register
 * makes the addressed unit send one 0x55AA EB90 frame.
 * Facts: /work/shared/reference/protocols.md section 2a; vectors
 * tests/vectors/jkpb.json.
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
 * - frame_check accepts the three frames of the line: the 300-byte data
 *   frame, the 8-byte ACK (addr 10 16 xx 00 01 CRC) and the 11-byte trigger
 *   request (so a capture's requests are found and described). The 00 byte
 *   that follows a data frame or an ACK is part of the reply: frame_check
 *   takes it as the frame's last byte when it has arrived (parse and describe
 *   drop it), so a whole reply leaves nothing behind and the exchange ends
 *   clean (no flush before the next request). Anywhere else a 00 is garbage.
 * - Who sent a data frame: the payload has no address, only the ACK after it
 *   names the unit. In a poll the data frame is kept in the state (parse
 *   returns 1, the snapshot untouched) and decoded only when the ACK names
 *   our address and the trigger we wrote; an ACK naming another unit or
 *   trigger, a data frame of another type, a request (another master's or
 *   the echo of ours) are BMS_FOREIGN, and drop a kept frame: a master pack
 *   (address 0) polling the others and broadcasting its own frames without
 *   an ACK never reaches our snapshot. Our ACK with no data frame kept (ours
 *   was damaged) is -EPROTO.
 * - READ (a capture, `serialbattery decode`): a data frame may have no ACK
 *   at all (BLE captures, logs of payloads), so it is decoded at once. The
 *   state learns on the decoder's first pass what followed each data frame
 *   (by an FNV-1a hash; the last PB_VERDICTS frames that were not ours): our
 *   ACK, another unit's ACK, or none. On the second
 *   pass a frame another unit's ACK followed, or none in a capture that has
 *   ACKs, is BMS_FOREIGN before it touches the snapshot; one our ACK follows
 *   returns 1 and the ACK completes it (0), as in the poll; one that stands
 *   alone in a capture without ACKs is a whole reply (0). Not known yet
 *   (the first pass): 1, and the ACK confirms (0) or disowns it (foreign).
 * - The poll cycle is settings, about, status; settings and about are
 *   static (BMS_STEP_STATIC): settings re-read every PB_SETTINGS_REFRESH
 *   cycles (the limits follow a change made in the JK app), about never
 *   (identity). The probe asks for about.
 * - Counts: cells_reported = settings 114 (the configured cell count, kept
 *   in the state), temps_reported = the presence bits 1..4 of status 214 (the
 *   sensors it has readings for); both set by the status frame once the
 *   settings were read (one valid bit, BMS_V_COUNTS).
 * - T3/T4/T5 (status bytes 254/256/258): in both captures the s16 at 254
 *   equals the MOSFET temperature at 144 exactly (12.9/12.9 and 12.8/12.8),
 *   which supports the PB note and dbus-serialbattery (254 is a copy of the
 *   MOSFET sensor, 256 = T3, 258 = T4) against the register map (254 = T3) and
 *   ESPHome (254 = T5). So T3 = 256, T4 = 258 and no T5. Sensors are listed
 *   in temp_dc[] in order T1..T4, only those whose presence bit (byte 214,
 *   bits 1..4) is set; the MOSFET (bit 0) goes to mosfet_temp_dc; bit 5 has
 *   no reading we decode and is shown in decode only.
 * - Power at 154 is unsigned; it gets the sign of the current.
 * - Balancing: the status frame has no per-cell bits. While the balance
 *   state (172) is not 0 the active balancer moves charge between the
 *   highest and the lowest cell, whose indexes are at 78/79, so those two
 *   cells are marked balancing. The balancer switch comes from the settings
 *   frame (126).
 * - Max charge/discharge current from settings 50/62 (mA), each only within
 *   1..PB_LIMIT_MAX_MA (jkpb_wire.h); design capacity from settings 130.
 *   Model, hw/sw version and serial from the about frame.
 * - Heater: status 215 (heating now, any non-zero byte) and 236 (heater
 *   current, s16 mA); settings 282 bit 0 (heating enabled) and 284/285 (start
 *   and stop temperature, s8 degC). A heater current outside
 *   -PB_HEATER_NOISE_MA..PB_HEATER_MAX_MA is a misread, not a measurement:
 *   the parser leaves that one field out (as for the limits above) rather
 *   than have plausibility drop the whole cycle for a value nothing else
 *   depends on.
 * - Address 0 (the bus master, which talks unsolicited) is not polled.
 */
#include <errno.h>
#include <string.h>

#include "bms.h"
#include "registry.h"
#include "bytes.h"
#include "jkpb_wire.h"

#define PB_SETTINGS_REFRESH 60 /* cycles: 1 min at the default 1 s poll */
#define PB_STATIC_EVERY 10     /* cycles between tries while a static step is missing */
#define PB_VERDICTS 64         /* data frames remembered (READ): a long capture of a shared bus */
/*
 * Heating pads for a PB pack take a few hundred watts, a few amperes; 30 A
 * (1.5 kW at 51 V) is beyond any of them, and the s16 field ends at 32.767 A
 * anyway. Small negative noise around 0 is still "no current"; beyond either
 * end the reading is a misread.
 */
#define PB_HEATER_MAX_MA 30000
#define PB_HEATER_NOISE_MA 500

/* What followed a data frame in a capture (READ): see "Decisions". */
enum pb_verdict {
	PB_V_OURS = 1,
	PB_V_OTHER_ACK = 2,
	PB_V_NO_ACK = 3,
};

struct jkpb_state {
	uint8_t address;
	bool pending;                  /* a data frame waits for the ACK that names its sender */
	uint32_t pending_fp;           /* its hash (READ) */
	uint8_t cells_cfg;             /* settings 114; 0 = not read yet */
	bool acks_seen;                /* READ: the capture has ACKs */
	uint8_t frame[PB_FRAME];       /* the pending data frame (poll) */
	uint32_t seen_fp[PB_VERDICTS]; /* READ: learned verdicts, a ring */
	uint8_t seen_verdict[PB_VERDICTS];
	unsigned nseen;
};

static int jkpb_init(void *state, uint8_t address)
{
	struct jkpb_state *st = state;
	if (address < 1 || address > PB_ADDR_MAX)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	st->address = address;
	return 0;
}

/* frame_check: the 300-byte data frame, the Modbus ACK, the trigger request. */
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
		*ret_len = PB_FRAME + (avail > PB_FRAME && p[PB_FRAME] == 0);
		return 1;
	}
	int r = pb_check_modbus(p, avail, ret_len);
	if (r == 1 && *ret_len == PB_ACK && avail > PB_ACK && p[PB_ACK] == 0)
		*ret_len = PB_ACK + 1;
	return r;
}

/* A frame without the 00 that frame_check took with it. */
static size_t pb_len(const uint8_t *f, size_t len)
{
	return (len == PB_FRAME + 1 || len == PB_ACK + 1) && f[len - 1] == 0 ? len - 1 : len;
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

/* The poll steps, by index (steps[] below follows this order). */
static const uint16_t pb_poll[] = {PB_TRIG_SETTINGS, PB_TRIG_ABOUT, PB_TRIG_STATUS};

/* The trigger register a request descriptor stands for; 0 = the cycle has no such step. */
static uint16_t pb_trigger(const struct bms_request *req)
{
	switch (req->kind) {
	case BMS_REQ_PROBE:
		return req->step == 0 ? PB_TRIG_ABOUT : 0;
	case BMS_REQ_POLL:
		return req->step < sizeof(pb_poll) / sizeof(pb_poll[0]) ? pb_poll[req->step] : 0;
	case BMS_REQ_READ:
		return req->step == 0 && pb_type_of(req->reg) ? req->reg : 0;
	default:
		return 0;
	}
}

static int jkpb_build_request(void *state, const struct bms_request *req, uint8_t *out, size_t cap)
{
	struct jkpb_state *st = state;
	if (req->kind == BMS_REQ_SET)
		return -EOPNOTSUPP;
	if (req->kind == BMS_REQ_READ && !pb_type_of(req->reg))
		return -EOPNOTSUPP;
	uint16_t trig = pb_trigger(req);
	if (trig == 0)
		return 0;
	int n = pb_request(out, cap, st->address, trig);
	/* an earlier attempt's data is not this one's; a READ keeps it, as the
	 * decoder builds a request for the ACK that may name its sender */
	if (n > 0 && req->kind != BMS_REQ_READ)
		st->pending = false;
	return n;
}

static int pb_parse_status(const struct jkpb_state *st, const uint8_t *f, struct bms_snapshot *s)
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
	s->heating = br_u8(&r) != 0;
	br_seek(&r, 236);
	int16_t heater_ma = br_s16le(&r);
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
		    BMS_V_CYCLES | BMS_V_SOH | BMS_V_FETS | BMS_V_TEMPS | BMS_V_HEATING;
	if (heater_ma >= -PB_HEATER_NOISE_MA && heater_ma <= PB_HEATER_MAX_MA) {
		s->heater_current_ma = heater_ma;
		s->valid |= BMS_V_HEATER_CURRENT;
	}
	if (st->cells_cfg) {
		s->cells_reported = st->cells_cfg;
		s->temps_reported = s->temp_count;
		s->valid |= BMS_V_COUNTS;
	}
	return 0;
}

static int pb_parse_settings(struct jkpb_state *st, const uint8_t *f, struct bms_snapshot *s)
{
	struct breader r = br_init(f, PB_FRAME);
	br_seek(&r, 50);
	uint32_t chg = br_u32le(&r);
	br_seek(&r, 62);
	uint32_t dis = br_u32le(&r);
	br_seek(&r, 114);
	uint32_t cells = br_u32le(&r);
	br_seek(&r, 126);
	uint32_t bal = br_u32le(&r);
	uint32_t design = br_u32le(&r);
	br_seek(&r, 282);
	uint16_t control = br_u16le(&r);
	int8_t heat_start = (int8_t)br_u8(&r);
	int8_t heat_stop = (int8_t)br_u8(&r);
	if (r.err || cells > BMS_MAX_CELLS || design > INT32_MAX)
		return -EPROTO;
	if (chg >= 1 && chg <= PB_LIMIT_MAX_MA) {
		s->max_charge_ma = (int32_t)chg;
		s->valid |= BMS_V_MAX_CHARGE_I;
	}
	if (dis >= 1 && dis <= PB_LIMIT_MAX_MA) {
		s->max_discharge_ma = (int32_t)dis;
		s->valid |= BMS_V_MAX_DISCHARGE_I;
	}
	s->balancer_enabled = bal != 0;
	s->capacity_design_mah = (int32_t)design;
	s->heating_enabled = control & 1u;
	s->heating_start_dc = (int16_t)(heat_start * 10);
	s->heating_stop_dc = (int16_t)(heat_stop * 10);
	s->valid |= BMS_V_BALANCER | BMS_V_CAP_DESIGN | BMS_V_HEATER_SETTINGS;
	st->cells_cfg = (uint8_t)cells;
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

/* Decode data frame f into snap, all or nothing. */
static int pb_decode(struct jkpb_state *st, const uint8_t *f, struct bms_snapshot *snap)
{
	struct bms_snapshot s = *snap;
	int r;
	switch (f[4]) {
	case 0x02:
		r = pb_parse_status(st, f, &s);
		break;
	case 0x01:
		r = pb_parse_settings(st, f, &s);
		break;
	default:
		r = pb_parse_about(f, &s);
		break;
	}
	if (r < 0)
		return r;
	*snap = s;
	return 0;
}

/* ---- READ: what followed each data frame in a capture ---- */

static uint32_t pb_hash(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static uint8_t pb_verdict_of(const struct jkpb_state *st, uint32_t fp)
{
	unsigned n = st->nseen < PB_VERDICTS ? st->nseen : PB_VERDICTS;
	for (unsigned i = 0; i < n; i++)
		if (st->seen_fp[i] == fp)
			return st->seen_verdict[i];
	return 0;
}

static void pb_learn(struct jkpb_state *st, uint32_t fp, uint8_t verdict)
{
	unsigned n = st->nseen < PB_VERDICTS ? st->nseen : PB_VERDICTS;
	for (unsigned i = 0; i < n; i++)
		if (st->seen_fp[i] == fp) {
			st->seen_verdict[i] = verdict;
			return;
		}
	/* a frame not known is taken as ours until its ACK says otherwise: only
	 * the others take room */
	if (verdict == PB_V_OURS)
		return;
	st->seen_fp[st->nseen % PB_VERDICTS] = fp;
	st->seen_verdict[st->nseen % PB_VERDICTS] = verdict;
	st->nseen++;
}

/* The kept frame of a READ had no ACK of ours before the next data frame. */
static void pb_read_drop(struct jkpb_state *st, uint8_t verdict)
{
	if (st->pending)
		pb_learn(st, st->pending_fp, verdict);
	st->pending = false;
}

static int pb_parse_read(struct jkpb_state *st, uint16_t trig, const uint8_t *frame, size_t len,
			 struct bms_snapshot *snap)
{
	if (len == PB_ACK) {
		st->acks_seen = true;
		uint16_t reg = (uint16_t)((frame[2] << 8) | frame[3]);
		bool ours = frame[0] == st->address && reg == trig;
		if (!st->pending)
			return ours ? -EPROTO : BMS_FOREIGN;
		pb_learn(st, st->pending_fp, ours ? PB_V_OURS : PB_V_OTHER_ACK);
		st->pending = false;
		return ours ? 0 : BMS_FOREIGN;
	}
	pb_read_drop(st, PB_V_NO_ACK);
	if (frame[4] != pb_type_of(trig))
		return BMS_FOREIGN;
	uint32_t fp = pb_hash(frame, PB_FRAME);
	uint8_t v = pb_verdict_of(st, fp);
	if (v == PB_V_OTHER_ACK || (v == PB_V_NO_ACK && st->acks_seen))
		return BMS_FOREIGN;
	int r = pb_decode(st, frame, snap);
	if (r < 0)
		return r;
	st->pending = true;
	st->pending_fp = fp;
	/* known to stand alone: the reply is whole; else the ACK may follow and name the sender */
	return v == PB_V_NO_ACK ? 0 : 1;
}

static int jkpb_parse(void *state, const struct bms_request *req, const uint8_t *frame, size_t len,
		      struct bms_snapshot *snap)
{
	struct jkpb_state *st = state;
	uint16_t trig = pb_trigger(req);
	len = pb_len(frame, len);
	if (len == PB_REQ) {
		/* another master's trigger, or the echo of ours */
		if (req->kind != BMS_REQ_READ)
			st->pending = false;
		return BMS_FOREIGN;
	}
	if (len != PB_ACK && len != PB_FRAME)
		return -EPROTO;
	if (trig == 0)
		return -EPROTO;
	if (req->kind == BMS_REQ_READ)
		return pb_parse_read(st, trig, frame, len, snap);

	if (len == PB_ACK) {
		uint16_t reg = (uint16_t)((frame[2] << 8) | frame[3]);
		bool ours = frame[0] == st->address && reg == trig;
		bool had = st->pending;
		st->pending = false;
		if (!ours)
			return BMS_FOREIGN; /* another unit's exchange: its data goes too */
		if (!had)
			return -EPROTO; /* our ACK, but our data frame did not arrive whole */
		return pb_decode(st, st->frame, snap);
	}
	if (frame[4] != pb_type_of(trig)) {
		st->pending = false;
		return BMS_FOREIGN; /* the answer to another trigger than ours */
	}
	/* a kept frame no ACK followed (a master's broadcast) is replaced */
	memcpy(st->frame, frame, PB_FRAME);
	st->pending = true;
	return 1; /* the ACK names the sender */
}

/* ---- describe ---- */

static const char *pb_type_name(uint8_t type)
{
	switch (type) {
	case 0x01:
		return "settings";
	case 0x02:
		return "status";
	case 0x03:
		return "about";
	}
	return NULL;
}

static double pb_u32(const uint8_t *f, size_t off)
{
	return (double)((uint32_t)f[off] | (uint32_t)f[off + 1] << 8 | (uint32_t)f[off + 2] << 16 |
			(uint32_t)f[off + 3] << 24);
}

static double pb_s32(const uint8_t *f, size_t off)
{
	return (double)(int32_t)(uint32_t)pb_u32(f, off);
}

static double pb_u16(const uint8_t *f, size_t off)
{
	return (double)(uint16_t)(f[off] | f[off + 1] << 8);
}

static double pb_s16(const uint8_t *f, size_t off)
{
	return (double)(int16_t)(uint16_t)(f[off] | f[off + 1] << 8);
}

static void pb_desc_status(const uint8_t *f, struct bms_frame_desc *d)
{
	bms_desc_num(d, "frame_counter", f[5]);
	bms_desc_num(d, "runtime_s", pb_u32(f, 194));
	bms_desc_num(d, "alarm_bits", pb_u32(f, 166));
	bms_desc_num(d, "balance_current_a", pb_s16(f, 170) / 1000.0);
	bms_desc_num(d, "balance_state", f[172]);
	bms_desc_num(d, "balancer_working", f[201]);
	bms_desc_num(d, "temp_sensor_bits", f[214]);
	bms_desc_num(d, "cell_present_bits", pb_u32(f, 70));
	bms_desc_num(d, "cell_avg_v", pb_u16(f, 74) / 1000.0);
	bms_desc_num(d, "cell_diff_v", pb_u16(f, 76) / 1000.0);
	bms_desc_num(d, "wire_resist_warn_bits", pb_u32(f, 146));
	bms_desc_num(d, "cycle_capacity_ah", pb_u32(f, 186) / 1000.0);
	bms_desc_num(d, "precharge", f[191]);
	bms_desc_num(d, "precharge_active", f[200]);
	bms_desc_num(d, "user_alarm", pb_u16(f, 192));
	bms_desc_num(d, "emergency_timer_s", pb_u16(f, 218));
	/* the heater current as read, also when parse leaves it out as a misread */
	bms_desc_num(d, "heater_current_raw_a", pb_s16(f, 236) / 1000.0);
	bms_desc_num(d, "temp_254_c", pb_s16(f, 254) / 10.0);
	bms_desc_num(d, "detail_log_count", pb_u32(f, 266));
	bms_desc_num(d, "battery_type", f[275]);
	bms_desc_num(d, "charge_status_time_s", pb_u16(f, 278));
	bms_desc_num(d, "charge_status", f[280]);
	bms_desc_num(d, "dry_contact_bits", f[281]);
}

/* Settings frame: LE u32 from byte 6 (Modbus block 0x1000), value scale, key. */
static const struct {
	uint16_t off;
	bool is_signed;
	double scale;
	const char *key;
} pb_settings[] = {
	{50, false, 0.001, "max_charge_setting_a"},
	{62, false, 0.001, "max_discharge_setting_a"},
	{114, false, 1, "cell_count_setting"},
	{6, false, 0.001, "smart_sleep_v"},
	{10, false, 0.001, "cell_uvp_v"},
	{14, false, 0.001, "cell_uvp_recover_v"},
	{18, false, 0.001, "cell_ovp_v"},
	{22, false, 0.001, "cell_ovp_recover_v"},
	{26, false, 0.001, "balance_trigger_v"},
	{30, false, 0.001, "soc100_v"},
	{34, false, 0.001, "soc0_v"},
	{38, false, 0.001, "charge_request_v"},
	{42, false, 0.001, "float_request_v"},
	{46, false, 0.001, "power_off_v"},
	{54, false, 1, "charge_ocp_delay_s"},
	{58, false, 1, "charge_ocp_recover_s"},
	{66, false, 1, "discharge_ocp_delay_s"},
	{70, false, 1, "discharge_ocp_recover_s"},
	{74, false, 1, "scp_recover_s"},
	{78, false, 0.001, "max_balance_current_a"},
	{82, true, 0.1, "charge_otp_c"},
	{86, true, 0.1, "charge_otp_recover_c"},
	{90, true, 0.1, "discharge_otp_c"},
	{94, true, 0.1, "discharge_otp_recover_c"},
	{98, true, 0.1, "charge_utp_c"},
	{102, true, 0.1, "charge_utp_recover_c"},
	{106, true, 0.1, "mos_otp_c"},
	{110, true, 0.1, "mos_otp_recover_c"},
	{118, false, 1, "charge_enable"},
	{122, false, 1, "discharge_enable"},
	{134, false, 1, "scp_delay_us"},
	{138, false, 0.001, "balance_start_v"},
	{270, false, 1, "device_address"},
	{274, false, 1, "precharge_time"},
};

static void pb_desc_settings(const uint8_t *f, struct bms_frame_desc *d)
{
	for (size_t i = 0; i < sizeof(pb_settings) / sizeof(pb_settings[0]); i++) {
		size_t off = pb_settings[i].off;
		double v = pb_settings[i].is_signed ? pb_s32(f, off) : pb_u32(f, off);
		bms_desc_num(d, pb_settings[i].key, v * pb_settings[i].scale);
	}
	bms_desc_num(d, "control_bits", pb_u16(f, 282));
	bms_desc_num(d, "smart_sleep_h", f[286]);
}

static void pb_desc_about(const uint8_t *f, struct bms_frame_desc *d)
{
	bms_desc_text(d, "device_id", (const char *)f + 6, 16);
	bms_desc_num(d, "uptime_s", pb_u32(f, 38));
	bms_desc_num(d, "power_on_count", pb_u32(f, 42));
	bms_desc_text(d, "user_data", (const char *)f + 102, 16);
	bms_desc_text(d, "user_data2", (const char *)f + 134, 16);
	/* 118: the PIN, deliberately not shown */
}

static const char *pb_triggers(uint16_t reg)
{
	switch (reg) {
	case PB_TRIG_STATUS:
		return "status (frame type 0x02)";
	case PB_TRIG_SETTINGS:
		return "settings (frame type 0x01)";
	default:
		return "about/device info (frame type 0x03)";
	}
}

int bms_jkpb_describe(const uint8_t *f, size_t len, struct bms_frame_desc *d)
{
	size_t flen;
	if (len == 0 || jkpb_frame_check(f, len, &flen) != 1 || flen != len)
		return -1;
	len = pb_len(f, len);
	if (len == PB_FRAME) {
		const char *name = pb_type_name(f[4]);
		if (!name)
			return -1;
		bms_desc_init(d, BMS_DIR_REPLY, pb_trigger_of(f[4]), -1, name);
		bms_desc_num(d, "frame_type", f[4]);
		if (f[4] == 0x02)
			pb_desc_status(f, d);
		else if (f[4] == 0x01)
			pb_desc_settings(f, d);
		else
			pb_desc_about(f, d);
		return 0;
	}
	uint16_t reg = (uint16_t)((f[2] << 8) | f[3]);
	if (len == PB_ACK) {
		bms_desc_init(d, BMS_DIR_REPLY, reg, f[0], "ack");
		d->continues = true; /* the end of the data frame's reply: it names the sender */
		bms_desc_num(d, "address", f[0]);
		bms_desc_num(d, "register", reg);
		bms_desc_num(d, "register_count", (f[4] << 8) | f[5]);
		return 0;
	}
	bms_desc_init(d, BMS_DIR_REQUEST, reg, f[0], "trigger");
	bms_desc_num(d, "address", f[0]);
	bms_desc_num(d, "function", f[1]);
	bms_desc_num(d, "register", reg);
	bms_desc_num(d, "register_count", (f[4] << 8) | f[5]);
	bms_desc_num(d, "byte_count", f[6]);
	bms_desc_num(d, "value", (f[7] << 8) | f[8]);
	const char *t = pb_triggers(reg);
	bms_desc_text(d, "triggers", t, strlen(t));
	return 0;
}

static const uint32_t jkpb_bauds[] = {115200, 0};
static const struct bms_link jkpb_links[] = {
	{.kind = BMS_LINK_SERIAL, .serial = {jkpb_bauds, BMS_8N1}},
};
static const uint8_t jkpb_addresses[] = {1, 0};

/* By poll step (pb_poll): settings and about are static data. */
static const struct bms_step jkpb_steps[] = {
	{.flags = BMS_STEP_STATIC,
	 .every = PB_STATIC_EVERY,
	 .refresh = PB_SETTINGS_REFRESH,
	 .fills = BMS_V_MAX_CHARGE_I | BMS_V_MAX_DISCHARGE_I | BMS_V_BALANCER | BMS_V_CAP_DESIGN |
		  BMS_V_HEATER_SETTINGS},
	{.flags = BMS_STEP_STATIC,
	 .every = PB_STATIC_EVERY,
	 .fills = BMS_V_MODEL | BMS_V_HW_VERSION | BMS_V_SW_VERSION | BMS_V_SERIAL},
};

const struct bms_driver bms_jkpb = {
	.name = "jkpb",
	.description = "JK PB series (JK-PB2A16S15P/20P) RS485 bus-master protocol, 0x55AA frames",
	.spec = "protocols.md section 2a (JK PB RS485)",
	.links = jkpb_links,
	.nlinks = sizeof(jkpb_links) / sizeof(jkpb_links[0]),
	.addresses = jkpb_addresses,
	.address_min = 1,
	.address_max = PB_ADDR_MAX,
	.response_timeout_ms = 300,
	.inter_frame_gap_ms = 120, /* closer bursts make several units answer */
	.poll_interval_ms = 1000,
	.max_frame = PB_FRAME + 1,
	.flags = BMS_F_ADDRESSED,
	.alarms = BMS_ALARM_BIT(INTERNAL_FAILURE) | BMS_ALARM_BIT(HIGH_INTERNAL_TEMPERATURE) |
		  BMS_ALARM_BIT(HIGH_CELL_VOLTAGE) | BMS_ALARM_BIT(HIGH_VOLTAGE) |
		  BMS_ALARM_BIT(HIGH_CHARGE_CURRENT) | BMS_ALARM_BIT(HIGH_CURRENT) |
		  BMS_ALARM_BIT(HIGH_CHARGE_TEMPERATURE) | BMS_ALARM_BIT(LOW_CHARGE_TEMPERATURE) |
		  BMS_ALARM_BIT(LOW_CELL_VOLTAGE) | BMS_ALARM_BIT(LOW_VOLTAGE) |
		  BMS_ALARM_BIT(HIGH_DISCHARGE_CURRENT) | BMS_ALARM_BIT(HIGH_TEMPERATURE),
	.state_size = sizeof(struct jkpb_state),
	.steps = jkpb_steps,
	.nsteps = sizeof(jkpb_steps) / sizeof(jkpb_steps[0]),
	.init = jkpb_init,
	.build_request = jkpb_build_request,
	.frame_check = jkpb_frame_check,
	.parse = jkpb_parse,
};
