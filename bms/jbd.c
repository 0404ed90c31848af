/* SPDX-License-Identifier: MIT */
/*
 * JBD / Xiaoxiang / Overkill Solar / LLT "smart BMS", 0xDD protocol
 * (docs/PROTOCOLS.md "JBD"; reference: protocols.md section 3).
 *
 * Link: 9600 8N1, UART / RS485 / BLE module, no address: one BMS per port.
 *
 * Frame layout (all multi-byte fields big-endian):
 *   request  DD A5 reg 00 chk_hi chk_lo 77          (read register reg)
 *   reply    DD reg status n data[n] chk_hi chk_lo 77
 *            status 0x00 = ok, 0x80 = error; whole frame = n + 7 bytes.
 * Checksum: (0x10000 - sum of bytes from offset 2 up to the end of the data)
 * & 0xFFFF, big-endian. For a request that is reg + 00; for a reply
 * status + n + data.
 *
 * Sample (JBD-SP04S034, 4S):
 *   request  DD A5 03 00 FF FD 77
 *   reply    DD 03 00 1D 06 18 00 00 01 F2 01 F4 00 00 2C 7C 00 00 00 00
 *            00 00 80 64 03 04 03 0B 8B 0B 8A 0B 84 FA 8D 77
 *            -> 15.60 V, 0 A, 4.98 of 5.00 Ah, 0 cycles, 2022-03-28, sw 8.0,
 *               100 %, both FETs on, 4 cells, 3 NTCs 22.4 / 22.3 / 21.7 degC
 *
 * Poll cycle: 0x03 basic info, 0x04 cell voltages, then 0x05 (model string)
 * only while we do not have it: on the first cycle after init and again every
 * 64th cycle. Why not every cycle: the string never changes, and some clones
 * stay silent on 0x05, which would cost a timeout per cycle; a lost cycle in
 * 64 is the price of recovering from a noisy first attempt. The model is kept
 * in the driver state and re-filled by finish() every cycle so a worker that
 * starts each cycle with a fresh snapshot does not lose it. The probe is 0x03
 * alone: it is what identifies a JBD and gives the plausibility data.
 *
 * Decisions where sources conflict or are silent:
 * - Temperatures: with more than one NTC the first one is the MOSFET/board
 *   sensor (dbus-serialbattery's mapping; JBD boards with 3 NTCs put the
 *   board sensor first), the others are battery sensors; a single NTC is a
 *   battery sensor. So N > 1 -> mosfet_temp = NTC 0, temps = NTC 1..N-1.
 * - Balance bits: bytes 12-13 are cells 1-16 with bit 0 = cell 1, bytes 14-15
 *   cells 17-32 (the JBD document and dbus-serialbattery; ESPHome's u32 read
 *   the other way round is not followed).
 * - Capacities: offset 6 ("nominal") is the design capacity; the full-charge
 *   capacity of newer firmware's tail is capacity_full when present and
 *   non-zero, otherwise capacity_full = nominal.
 * - Cell count: taken from the length of the 0x04 list, which is what the
 *   voltages are; the count in 0x03 is the configured string count and is
 *   not used (a bench unit reports 16 and sends 16 values, one of them 0).
 * - Protection bits are active protections: each maps to alarm level 2.
 *   Short circuit -> HighCurrent; front-end IC error -> InternalFailure.
 *   Software lock (bit 12) is a user action, not an alarm; the FET bits show
 *   its effect. Bit 13 (charge timeout, some firmware) is not mapped.
 * - There is no serial number outside factory mode (EEPROM 0x16), so the
 *   production date "YYYY-MM-DD" is the serial; the 0x05 string is the model.
 * - Framing: the checksum leaves the register byte unprotected, so
 *   frame_find only accepts the replies 0x03/0x04/0x05/0xAA and checks the
 *   shape of their data (see jbd_shape_ok). Write replies are not accepted
 *   (the driver sends no writes).
 * - The newer-firmware tail (humidity, alarm bits, full-charge capacity,
 *   remaining capacity, balance current): only the full-charge capacity has
 *   a snapshot field; the alarm bits' meaning is not documented, so they are
 *   not mapped rather than guessed.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bms.h"
#include "bytes.h"

#define JBD_START 0xDD
#define JBD_END 0x77
#define JBD_READ 0xA5
#define JBD_REG_INFO 0x03
#define JBD_REG_CELLS 0x04
#define JBD_REG_MODEL 0x05
#define JBD_REG_ERRORS 0xAA /* error counters: not polled, but a known reply */
#define JBD_OVERHEAD 7     /* DD reg status n ... chk chk 77 */
#define JBD_MODEL_EVERY 64 /* cycles between 0x05 attempts while it is missing */
#define JBD_KELVIN_DC 2731 /* 0 degC in 0.1 K */

struct jbd_state {
	unsigned cycle;    /* poll cycles started since init */
	bool at_step0;     /* last request built was poll step 0 (a retry is no new cycle) */
	uint8_t expect;    /* register the current step asked for */
	bool have_model;
	char model[BMS_STR_LEN];
};

/* Checksum over status/reg + n + data, as sent on the wire. */
static uint16_t jbd_sum(const uint8_t *p, size_t len)
{
	return (uint16_t)(0x10000u - bms_sum16(p, len));
}

static int jbd_init(void *state, uint8_t address)
{
	struct jbd_state *st = state;
	(void)address;
	memset(st, 0, sizeof(*st));
	return 0;
}

static int put_request(uint8_t reg, uint8_t *out, size_t cap)
{
	if (cap < JBD_OVERHEAD)
		return -ENOSPC;
	out[0] = JBD_START;
	out[1] = JBD_READ;
	out[2] = reg;
	out[3] = 0;
	put_u16be(out + 4, jbd_sum(out + 2, 2));
	out[6] = JBD_END;
	return JBD_OVERHEAD;
}

static int jbd_build_request(void *state, enum bms_request kind, unsigned step, uint8_t *out,
			     size_t cap)
{
	struct jbd_state *st = state;
	uint8_t reg;

	if (kind == BMS_REQ_PROBE) {
		if (step > 0)
			return 0;
		reg = JBD_REG_INFO;
	} else if (kind == BMS_REQ_POLL) {
		if (step == 0) {
			reg = JBD_REG_INFO;
			/* the worker rebuilds a step to retry it: count a cycle once */
			if (!st->at_step0)
				st->cycle++;
		} else if (step == 1) {
			reg = JBD_REG_CELLS;
		} else if (step == 2 && !st->have_model &&
			   (st->cycle == 1 || st->cycle % JBD_MODEL_EVERY == 0)) {
			reg = JBD_REG_MODEL;
		} else {
			return 0;
		}
	} else {
		return -EINVAL;
	}
	int n = put_request(reg, out, cap);
	if (n > 0) {
		st->expect = reg;
		st->at_step0 = kind == BMS_REQ_POLL && step == 0;
	}
	return n;
}

/*
 * The checksum does not cover the register byte, so a corrupted register
 * would pass it. Accept only the replies we know, each with the shape its
 * data must have: then one flipped register bit (0x04 <-> 0x05) is caught
 * too, as an odd cell list or a binary "model string".
 */
static bool jbd_shape_ok(const uint8_t *p)
{
	uint8_t reg = p[1], n = p[3];
	const uint8_t *d = p + 4;
	if (p[2] == 0x80)
		return reg == JBD_REG_INFO || reg == JBD_REG_CELLS || reg == JBD_REG_MODEL ||
		       reg == JBD_REG_ERRORS;
	switch (reg) {
	case JBD_REG_INFO:
		return n >= 23 && 23u + 2u * d[22] <= n;
	case JBD_REG_CELLS:
	case JBD_REG_ERRORS:
		return n >= 2 && n % 2 == 0;
	case JBD_REG_MODEL:
		for (unsigned i = 0; i < n; i++)
			if (d[i] != 0 && (d[i] < 0x20 || d[i] > 0x7E))
				return false;
		return true;
	default:
		return false;
	}
}

/* Is buf[0..len) exactly one reply frame with a good checksum? */
static bool jbd_frame_ok(const uint8_t *p, size_t len)
{
	if (len < JBD_OVERHEAD || p[0] != JBD_START || len != (size_t)p[3] + JBD_OVERHEAD)
		return false;
	if (p[len - 1] != JBD_END)
		return false;
	uint16_t want = (uint16_t)((p[len - 3] << 8) | p[len - 2]);
	return jbd_sum(p + 2, len - 5) == want && jbd_shape_ok(p);
}

/*
 * A candidate start: DD, then a register that is not a request marker and a
 * status of 00 or 80. Checking the status early keeps a stray DD inside the
 * data from holding up the search with a bogus length.
 */
static bool jbd_head_ok(const uint8_t *p, size_t avail)
{
	if (p[0] != JBD_START)
		return false;
	if (avail >= 2 && (p[1] == JBD_READ || p[1] == 0x5A))
		return false;
	if (avail >= 3 && p[2] != 0x00 && p[2] != 0x80)
		return false;
	return true;
}

/* bms_check_fn: a reply of the shape jbd_head_ok() accepts, whole and checksummed. */
static int jbd_check_at(const void *ctx, const uint8_t *p, size_t avail, size_t *ret_len)
{
	(void)ctx;
	if (!jbd_head_ok(p, avail))
		return -1;
	if (avail < 4 || avail < (size_t)p[3] + JBD_OVERHEAD)
		return 0;
	size_t flen = (size_t)p[3] + JBD_OVERHEAD;
	if (!jbd_frame_ok(p, flen))
		return -1;
	*ret_len = flen;
	return 1;
}

static enum bms_find jbd_frame_find(const uint8_t *buf, size_t len, size_t *ret_start,
				    size_t *ret_len)
{
	return bms_scan_frames(buf, len, jbd_check_at, NULL, ret_start, ret_len);
}

static void set_alarms(uint16_t prot, struct bms_snapshot *s)
{
	static const struct {
		uint8_t bit;
		uint8_t alarm;
	} map[] = {
		{0, BMS_ALARM_HIGH_CELL_VOLTAGE},
		{1, BMS_ALARM_LOW_CELL_VOLTAGE},
		{2, BMS_ALARM_HIGH_VOLTAGE},
		{3, BMS_ALARM_LOW_VOLTAGE},
		{4, BMS_ALARM_HIGH_CHARGE_TEMPERATURE},
		{5, BMS_ALARM_LOW_CHARGE_TEMPERATURE},
		{6, BMS_ALARM_HIGH_TEMPERATURE},
		{7, BMS_ALARM_LOW_TEMPERATURE},
		{8, BMS_ALARM_HIGH_CHARGE_CURRENT},
		{9, BMS_ALARM_HIGH_DISCHARGE_CURRENT},
		{10, BMS_ALARM_HIGH_CURRENT},
		{11, BMS_ALARM_INTERNAL_FAILURE},
	};
	memset(s->alarm, 0, sizeof(s->alarm));
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (prot & (1u << map[i].bit))
			s->alarm[map[i].alarm] = 2;
	s->valid |= BMS_V_ALARMS;
}

static int parse_info(const uint8_t *d, size_t n, struct bms_snapshot *s)
{
	struct breader r = br_init(d, n);
	if (n < 23)
		return -EPROTO;
	uint8_t ntc = d[22];
	if ((size_t)23 + 2u * ntc > n || ntc > BMS_MAX_TEMPS + 1)
		return -EPROTO;

	uint16_t volt = br_u16be(&r);
	int16_t cur = br_s16be(&r);
	uint16_t remain = br_u16be(&r);
	uint16_t nominal = br_u16be(&r);
	uint16_t cycles = br_u16be(&r);
	uint16_t date = br_u16be(&r);
	uint16_t bal_lo = br_u16be(&r);
	uint16_t bal_hi = br_u16be(&r);
	uint16_t prot = br_u16be(&r);
	uint8_t sw = br_u8(&r);
	uint8_t soc = br_u8(&r);
	uint8_t fet = br_u8(&r);
	br_skip(&r, 2); /* cell count (see header), NTC count read above */
	int16_t t[BMS_MAX_TEMPS + 1];
	for (unsigned i = 0; i < ntc; i++)
		t[i] = (int16_t)(br_u16be(&r) - JBD_KELVIN_DC);
	/* newer firmware: humidity u8, alarm bits u16, full-charge capacity u16 ... */
	uint16_t full = 0;
	if (br_left(&r) >= 5) {
		br_skip(&r, 3);
		full = br_u16be(&r);
	}
	if (r.err)
		return -EPROTO;

	s->voltage_mv = (int32_t)volt * 10;
	s->current_ma = (int32_t)cur * 10;
	s->capacity_remain_mah = (int32_t)remain * 10;
	s->capacity_design_mah = (int32_t)nominal * 10;
	s->capacity_full_mah = (int32_t)(full ? full : nominal) * 10;
	s->cycles = cycles;
	s->soc_cpct = (uint16_t)(soc * 100u);
	s->balancing = (uint32_t)bal_lo | ((uint32_t)bal_hi << 16);
	s->charge_fet = fet & 1;
	s->discharge_fet = (fet >> 1) & 1;
	s->valid |= BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_CAP_REMAIN | BMS_V_CAP_DESIGN |
		    BMS_V_CAP_FULL | BMS_V_CYCLES | BMS_V_SOC | BMS_V_BALANCING | BMS_V_FETS;
	set_alarms(prot, s);

	snprintf(s->sw_version, sizeof(s->sw_version), "%u.%u", (unsigned)(sw >> 4), sw & 0x0Fu);
	s->valid |= BMS_V_SW_VERSION;
	if (date != 0) {
		snprintf(s->serial, sizeof(s->serial), "%04u-%02u-%02u", 2000u + (date >> 9),
			 (date >> 5) & 0x0Fu, date & 0x1Fu);
		s->valid |= BMS_V_SERIAL;
	}

	if (ntc == 1) {
		s->temp_count = 1;
		s->temp_dc[0] = t[0];
	} else if (ntc > 1) {
		s->mosfet_temp_dc = t[0];
		s->valid |= BMS_V_MOSFET_TEMP;
		s->temp_count = (uint8_t)(ntc - 1);
		memcpy(s->temp_dc, t + 1, (size_t)(ntc - 1) * sizeof(t[0]));
	} else {
		s->temp_count = 0;
	}
	/* zero sensors is a fact too: the bench unit reports none */
	s->valid |= BMS_V_TEMPS;
	return 0;
}

static int parse_cells(const uint8_t *d, size_t n, struct bms_snapshot *s)
{
	if (n == 0 || n % 2 != 0 || n / 2 > BMS_MAX_CELLS)
		return -EPROTO;
	struct breader r = br_init(d, n);
	s->cell_count = (uint8_t)(n / 2);
	for (unsigned i = 0; i < s->cell_count; i++)
		s->cell_mv[i] = br_u16be(&r);
	s->valid |= BMS_V_CELLS;
	return 0;
}

static int jbd_parse(void *state, const uint8_t *frame, size_t len, struct bms_snapshot *snap)
{
	struct jbd_state *st = state;
	if (!jbd_frame_ok(frame, len))
		return -EBADMSG;
	if (frame[1] != st->expect)
		return -EPROTO;
	if (frame[2] != 0x00)
		return -EPROTO; /* the BMS refused the read */
	const uint8_t *d = frame + 4;
	size_t n = frame[3];

	switch (frame[1]) {
	case JBD_REG_INFO:
		return parse_info(d, n, snap);
	case JBD_REG_CELLS:
		return parse_cells(d, n, snap);
	case JBD_REG_MODEL: {
		struct breader r = br_init(d, n);
		br_str(&r, n, st->model, sizeof(st->model));
		if (st->model[0] == '\0')
			return -EPROTO;
		st->have_model = true;
		snprintf(snap->model, sizeof(snap->model), "%s", st->model);
		snap->valid |= BMS_V_MODEL;
		return 0;
	}
	default:
		return -EPROTO;
	}
}

static void jbd_finish(void *state, struct bms_snapshot *snap)
{
	const struct jbd_state *st = state;
	if (st->have_model) {
		snprintf(snap->model, sizeof(snap->model), "%s", st->model);
		snap->valid |= BMS_V_MODEL;
	}
}

/* ---- simulator ---- */

static int sim_frame(uint8_t reg, const uint8_t *data, size_t n, uint8_t *out, size_t cap)
{
	if (n > 255)
		return -EINVAL;
	if (cap < n + JBD_OVERHEAD)
		return -ENOSPC;
	out[0] = JBD_START;
	out[1] = reg;
	out[2] = 0;
	out[3] = (uint8_t)n;
	if (n)
		memcpy(out + 4, data, n);
	put_u16be(out + 4 + n, jbd_sum(out + 2, n + 2));
	out[6 + n] = JBD_END;
	return (int)(n + JBD_OVERHEAD);
}

static uint16_t to_u16(int64_t v)
{
	return v < 0 ? 0 : v > 0xFFFF ? 0xFFFF : (uint16_t)v;
}

static uint16_t sim_protection(const struct bms_snapshot *s)
{
	static const uint8_t bit_of[BMS_ALARM_COUNT] = {
		[BMS_ALARM_HIGH_CELL_VOLTAGE] = 1 + 0,
		[BMS_ALARM_LOW_CELL_VOLTAGE] = 1 + 1,
		[BMS_ALARM_HIGH_VOLTAGE] = 1 + 2,
		[BMS_ALARM_LOW_VOLTAGE] = 1 + 3,
		[BMS_ALARM_HIGH_CHARGE_TEMPERATURE] = 1 + 4,
		[BMS_ALARM_LOW_CHARGE_TEMPERATURE] = 1 + 5,
		[BMS_ALARM_HIGH_TEMPERATURE] = 1 + 6,
		[BMS_ALARM_LOW_TEMPERATURE] = 1 + 7,
		[BMS_ALARM_HIGH_CHARGE_CURRENT] = 1 + 8,
		[BMS_ALARM_HIGH_DISCHARGE_CURRENT] = 1 + 9,
		[BMS_ALARM_HIGH_CURRENT] = 1 + 10,
		[BMS_ALARM_INTERNAL_FAILURE] = 1 + 11,
	};
	uint16_t prot = 0;
	if (!(s->valid & BMS_V_ALARMS))
		return 0;
	/* a protection is on or off: warnings (1) have no bit to show */
	for (unsigned a = 0; a < BMS_ALARM_COUNT; a++)
		if (bit_of[a] && s->alarm[a] >= 2)
			prot |= (uint16_t)(1u << (bit_of[a] - 1));
	return prot;
}

static int sim_info(const struct bms_snapshot *s, uint8_t *out, size_t cap)
{
	uint8_t d[64];
	memset(d, 0, sizeof(d));
	put_u16be(d + 0, to_u16(s->voltage_mv / 10));
	put_u16be(d + 2, (uint16_t)(int16_t)(s->current_ma / 10));
	put_u16be(d + 4, to_u16(s->capacity_remain_mah / 10));
	int32_t nominal = (s->valid & BMS_V_CAP_DESIGN) ? s->capacity_design_mah
							 : s->capacity_full_mah;
	put_u16be(d + 6, to_u16(nominal / 10));
	put_u16be(d + 8, to_u16(s->cycles));
	unsigned y, m, dd;
	if ((s->valid & BMS_V_SERIAL) && sscanf(s->serial, "%4u-%2u-%2u", &y, &m, &dd) == 3 &&
	    y >= 2000 && y < 2128)
		put_u16be(d + 10, (uint16_t)(((y - 2000) << 9) | ((m & 0x0F) << 5) | (dd & 0x1F)));
	put_u16be(d + 12, (uint16_t)(s->balancing & 0xFFFF));
	put_u16be(d + 14, (uint16_t)(s->balancing >> 16));
	put_u16be(d + 16, sim_protection(s));
	unsigned hi = 0, lo = 0;
	if (sscanf(s->sw_version, "%u.%u", &hi, &lo) == 2)
		d[18] = (uint8_t)(((hi & 0x0F) << 4) | (lo & 0x0F));
	d[19] = (uint8_t)(s->soc_cpct / 100);
	d[20] = (uint8_t)((s->charge_fet ? 1 : 0) | (s->discharge_fet ? 2 : 0));
	d[21] = s->cell_count;
	size_t o = 23;
	unsigned ntc = 0;
	unsigned temps = s->temp_count > BMS_MAX_TEMPS ? BMS_MAX_TEMPS : s->temp_count;
	if (s->valid & BMS_V_MOSFET_TEMP) {
		put_u16be(d + o, (uint16_t)(s->mosfet_temp_dc + JBD_KELVIN_DC));
		o += 2;
		ntc++;
	}
	for (unsigned i = 0; i < temps; i++, ntc++, o += 2)
		put_u16be(d + o, (uint16_t)(s->temp_dc[i] + JBD_KELVIN_DC));
	d[22] = (uint8_t)ntc;
	/* newer firmware's tail: humidity, alarm bits, full-charge capacity,
	 * remaining capacity, balance current */
	o += 3;
	put_u16be(d + o, to_u16(s->capacity_full_mah / 10));
	o += 2;
	put_u16be(d + o, to_u16(s->capacity_remain_mah / 10));
	o += 4;
	return sim_frame(JBD_REG_INFO, d, o, out, cap);
}

static int jbd_sim_respond(const struct bms_snapshot *snap, uint8_t address, const uint8_t *req,
			   size_t req_len, uint8_t *out, size_t cap)
{
	(void)address;
	/* the device answers only a well-formed read */
	if (req_len != JBD_OVERHEAD || req[0] != JBD_START || req[1] != JBD_READ || req[3] != 0 ||
	    req[6] != JBD_END || jbd_sum(req + 2, 2) != (uint16_t)((req[4] << 8) | req[5]))
		return 0;
	switch (req[2]) {
	case JBD_REG_INFO:
		return sim_info(snap, out, cap);
	case JBD_REG_CELLS: {
		uint8_t d[2 * BMS_MAX_CELLS];
		unsigned n = snap->cell_count > BMS_MAX_CELLS ? BMS_MAX_CELLS : snap->cell_count;
		for (unsigned i = 0; i < n; i++)
			put_u16be(d + 2 * i, snap->cell_mv[i]);
		return sim_frame(JBD_REG_CELLS, d, 2 * n, out, cap);
	}
	case JBD_REG_MODEL:
		return sim_frame(JBD_REG_MODEL, (const uint8_t *)snap->model,
				 strnlen(snap->model, sizeof(snap->model)), out, cap);
	default:
		return 0;
	}
}

static const uint32_t jbd_bauds[] = {9600, 0};

const struct bms_driver bms_jbd = {
	.name = "jbd",
	.description = "JBD / Xiaoxiang / Overkill Solar / LLT smart BMS (0xDD protocol)",
	.spec = "JBD UART protocol, registers 0x03/0x04/0x05; protocols.md section 3",
	.bauds = jbd_bauds,
	.framing = BMS_8N1,
	.addresses = NULL, /* no address field: one BMS per port */
	.response_timeout_ms = 500,
	.inter_frame_gap_ms = 20,
	.poll_interval_ms = 1000,
	.max_frame = 255 + JBD_OVERHEAD,
	.flags = 0,
	.state_size = sizeof(struct jbd_state),
	.init = jbd_init,
	.build_request = jbd_build_request,
	.frame_find = jbd_frame_find,
	.parse = jbd_parse,
	.finish = jbd_finish,
	.sim_respond = jbd_sim_respond,
};
