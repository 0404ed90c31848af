/* SPDX-License-Identifier: MIT */
/*
 * PACE BMS (PBmsTools 2.x protocol, sold under many pack brands): the
 * Pylontech-style '~' ASCII frame with VER 0x25 (docs/PROTOCOLS.md "PACE";
 * reference: protocols.md sections 5, 5b).
 *
 * Link: 9600 8N1, RS232 or RS485, several packs on one bus by ADR (DIP). The
 * driver's address n is the pack at ADR n - 1 (the core ends its address
 * lists with 0); default 2 (ADR 1, as PBmsTools and ESPHome ask), then 1
 * (ADR 0, as dbus-serialbattery asks).
 *
 * Frame (bms/pylon_ascii.h): '~' VER ADR CID1 CID2 LENGTH INFO CHKSUM CR, all
 * hex ASCII; CHKSUM = -(sum of the characters after '~') mod 65536. CID1 0x46
 * (a Li-ion pack may answer 0x4F); CID2 the command in a request, the return
 * code (0 = OK) in a reply.
 *
 * Sample (ADR 1):
 *   request ~25014642E00201FD30\r   analog values, INFO = the pack (ADR)
 *   reply   ~25014600F07A0001100CC70CC8...286A008C2710E1E4\r  61 INFO bytes:
 *           16 cells 3.269..3.272 V, 6 sensors, -2.25 A, 52.429 V, 48.19 of
 *           103.46 Ah, 140 cycles, design 100 Ah
 *
 * 0x42 INFO (bytes, BE): DATAFLAG, bus id, M, M x cell mV, N, N x
 * temperature 0.1 K (offset 2730; cells 1..N-2, then MOSFET, then
 * environment), current s16 10 mA (positive = charging), pack voltage mV
 * (not 10 mV as Seplos), remaining 10 mAh, custom number (3), full capacity
 * 10 mAh, cycles, design capacity 10 mAh. No SOC: remaining / full.
 * 0x44 INFO: DATAFLAG, bus id, M, M cell warning codes, N, N sensor codes,
 * then 12 bytes (enum pace_status): charge-current, pack-voltage and
 * discharge-current warnings, protection 1 and 2, system status,
 * configuration, fault, balance high and low, warning 1 and 2.
 * 0xC1: hardware version, 20 characters; 0xC2: serial number, 40.
 *
 * Probe: 0x42 (its layout identifies the family). Poll: 0x42, 0x44, then
 * 0xC1 and 0xC2 as static data (first cycle, then every 64th while missing).
 *
 * Decisions:
 * - Replies carry no command: the request descriptor says what was asked
 *   and a reply must fit that command's layout exactly (counts, custom
 *   number 3, the 12-byte status tail, 20/40 characters) or it is refused
 *   (-EPROTO), never read at guessed offsets. A Seplos v2 reply (VER 0x20,
 *   custom number 10, 75 bytes) never fits. Requests on the line (CID2 a
 *   command: another master, our echo) and other ADRs' replies are
 *   BMS_FOREIGN; our pack's non-zero RTN is -EREMOTEIO.
 * - Temperatures: (raw - 2730) / 10 as the PACE document and
 *   dbus-serialbattery (raw / 10 - 273) say; the reference's hand-decoded
 *   vector values used 2731 (readings 0.1 degC lower), changed in
 *   tests/vectors/pace.json with a note. Of the sensors, the MOSFET one is
 *   mosfet_temp; the environment one has no snapshot field (describe).
 * - SOC = remaining / full, rounded down (never overstated), at most 100 %.
 * - Status bits as nkinnan's PACE protocol header (protocols.md 5b), read
 *   at their true offsets: dbus-serialbattery's pace.py reads them one ASCII
 *   character early. Protections and faults are alarms (2), warnings 1.
 *   Short circuit -> HighCurrent; MOSFET temperature ->
 *   HighInternalTemperature; environment temperatures -> High/Low-
 *   Temperature like discharge; faults (charge/discharge MOSFET, NTC, cell,
 *   sampling) -> InternalFailure; warning 2 bit 7 "low power" -> LowSoc
 *   (warning). Not mapped: protection 2 bit 7 "fully" (the normal end of a
 *   charge), the per-cell and per-sensor codes (the bits carry the news),
 *   configuration status, and balance high/low (no bit order documented:
 *   no balancing).
 * - No writes: 0x9A/0x9B (MOSFET switches) are named without their INFO.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bms.h"
#include "bytes.h"
#include "pace_wire.h"
#include "pylon_ascii.h"
#include "registry.h"

#define PACE_STATIC_EVERY 64 /* cycles between 0xC1/0xC2 attempts while missing */

struct pace_state {
	uint8_t adr; /* the wire ADR: driver address - 1 */
};

static int pace_init(void *state, uint8_t address)
{
	struct pace_state *st = state;
	if (address > PACE_ADDR_MAX)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	st->adr = address ? (uint8_t)(address - 1) : 0;
	return 0;
}

static uint8_t pace_cmd(const struct bms_request *req)
{
	static const uint8_t poll[] = {PACE_TELEMETRY, PACE_STATUS, PACE_HW, PACE_SERIAL};
	switch (req->kind) {
	case BMS_REQ_PROBE:
		return req->step == 0 ? PACE_TELEMETRY : 0;
	case BMS_REQ_POLL:
		return req->step < sizeof(poll) ? poll[req->step] : 0;
	case BMS_REQ_READ:
		return req->step == 0 ? (uint8_t)req->reg : 0;
	default:
		return 0;
	}
}

static bool pace_known(uint16_t cmd)
{
	return cmd == PACE_TELEMETRY || cmd == PACE_STATUS || cmd == PACE_HW || cmd == PACE_SERIAL;
}

static int pace_build_request(void *state, const struct bms_request *req, uint8_t *out, size_t cap)
{
	struct pace_state *st = state;
	if (req->kind == BMS_REQ_SET)
		return -EOPNOTSUPP;
	if (req->kind == BMS_REQ_READ && !pace_known(req->reg))
		return -EOPNOTSUPP;
	uint8_t cmd = pace_cmd(req);
	if (cmd == 0)
		return 0;
	/* 0x42/0x44 name the pack in INFO (its own ADR); 0xC1/0xC2 carry none */
	bool info = cmd == PACE_TELEMETRY || cmd == PACE_STATUS;
	int n = bms_pylon_request(PACE_VER, st->adr, PACE_CID1, cmd, &st->adr, info ? 1 : 0, out,
				  cap);
	return n == -ENOBUFS ? -ENOSPC : n;
}

/* The '~' check, bounded: a header announcing more than we ever take is garbage. */
static int pace_frame_check(const uint8_t *p, size_t avail, size_t *ret_len)
{
	size_t n = 0;
	int r = bms_pylon_check(NULL, p, avail, &n);
	if ((r == 1 && n > PACE_MAX_FRAME) || (r == 0 && avail >= PACE_MAX_FRAME))
		return -1;
	if (r == 1)
		*ret_len = n;
	return r;
}

struct pace_tele {
	uint8_t bus, m, n, custom;
	uint16_t cells[BMS_MAX_CELLS];
	int16_t temps[BMS_MAX_TEMPS + 2];
	int16_t current;
	uint16_t volt, remain, full, cycles, design;
};

static int tele_read(const uint8_t *d, size_t len, struct pace_tele *t)
{
	struct breader r = br_init(d, len);
	br_skip(&r, 1); /* DATAFLAG */
	t->bus = br_u8(&r);
	t->m = br_u8(&r);
	if (r.err || t->m == 0 || t->m > BMS_MAX_CELLS)
		return -EPROTO;
	for (unsigned i = 0; i < t->m; i++)
		t->cells[i] = br_u16be(&r);
	t->n = br_u8(&r);
	if (r.err || t->n < 2 || t->n > BMS_MAX_TEMPS + 2)
		return -EPROTO;
	for (unsigned i = 0; i < t->n; i++) {
		int v = (int)br_u16be(&r) - PACE_TEMP_ZERO;
		if (v > INT16_MAX)
			return -EPROTO;
		t->temps[i] = (int16_t)v;
	}
	t->current = br_s16be(&r);
	t->volt = br_u16be(&r);
	t->remain = br_u16be(&r);
	t->custom = br_u8(&r);
	if (r.err || t->custom != PACE_TELE_CUSTOM || br_left(&r) != 2u * t->custom)
		return -EPROTO;
	t->full = br_u16be(&r);
	t->cycles = br_u16be(&r);
	t->design = br_u16be(&r);
	return r.err ? -EPROTO : 0;
}

static void tele_apply(const struct pace_tele *t, struct bms_snapshot *s)
{
	s->cell_count = t->m;
	memcpy(s->cell_mv, t->cells, t->m * sizeof(t->cells[0]));
	unsigned nt = t->n - 2u; /* the last two: MOSFET, environment */
	s->temp_count = (uint8_t)(nt > BMS_MAX_TEMPS ? BMS_MAX_TEMPS : nt);
	memcpy(s->temp_dc, t->temps, s->temp_count * sizeof(t->temps[0]));
	s->mosfet_temp_dc = t->temps[t->n - 2];
	s->current_ma = t->current * 10;
	s->voltage_mv = t->volt;
	s->capacity_remain_mah = t->remain * 10;
	s->capacity_full_mah = t->full * 10;
	s->capacity_design_mah = t->design * 10;
	s->cycles = t->cycles;
	s->valid |= BMS_V_CELLS | BMS_V_TEMPS | BMS_V_MOSFET_TEMP | BMS_V_CURRENT | BMS_V_VOLTAGE |
		    BMS_V_CAP_REMAIN | BMS_V_CAP_FULL | BMS_V_CAP_DESIGN | BMS_V_CYCLES;
	if (t->full > 0) {
		uint32_t soc = (uint32_t)t->remain * 10000u / t->full;
		s->soc_cpct = (uint16_t)(soc > 10000 ? 10000 : soc);
		s->valid |= BMS_V_SOC;
	}
}

struct pace_status_info {
	uint8_t bus, m, n;
	const uint8_t *cell_codes, *temp_codes, *tail;
};

static int status_read(const uint8_t *d, size_t len, struct pace_status_info *a)
{
	struct breader r = br_init(d, len);
	br_skip(&r, 1);
	a->bus = br_u8(&r);
	a->m = br_u8(&r);
	if (r.err || a->m == 0 || a->m > BMS_MAX_CELLS || !br_has(&r, a->m))
		return -EPROTO;
	a->cell_codes = d + r.pos;
	br_skip(&r, a->m);
	a->n = br_u8(&r);
	if (r.err || a->n > BMS_MAX_TEMPS + 2 || !br_has(&r, a->n))
		return -EPROTO;
	a->temp_codes = d + r.pos;
	br_skip(&r, a->n);
	if (r.err || br_left(&r) != PACE_STATUS_TAIL)
		return -EPROTO;
	a->tail = d + r.pos;
	return 0;
}

static void status_apply(const struct pace_status_info *a, struct bms_snapshot *s)
{
	memset(s->alarm, 0, sizeof(s->alarm));
	for (size_t i = 0; i < PACE_NBITS; i++) {
		const struct pace_bit *b = &pace_bits[i];
		if ((a->tail[b->byte] >> b->bit & 1u) && s->alarm[b->alarm] < b->level)
			s->alarm[b->alarm] = b->level;
	}
	s->charge_fet = (a->tail[PACE_SYSTEM] >> 1) & 1u;
	s->discharge_fet = (a->tail[PACE_SYSTEM] >> 2) & 1u;
	s->valid |= BMS_V_ALARMS | BMS_V_FETS;
}

static int text_apply(uint8_t cmd, const uint8_t *d, size_t len, struct bms_snapshot *s)
{
	struct breader r = br_init(d, len);
	if (cmd == PACE_HW) {
		if (len != PACE_HW_LEN)
			return -EPROTO;
		br_str(&r, len, s->hw_version, sizeof(s->hw_version));
		if (s->hw_version[0])
			s->valid |= BMS_V_HW_VERSION;
		return 0;
	}
	if (len != PACE_SERIAL_LEN)
		return -EPROTO;
	br_str(&r, len, s->serial, sizeof(s->serial));
	if (s->serial[0])
		s->valid |= BMS_V_SERIAL;
	return 0;
}

static bool pace_cid1_ok(uint8_t cid1)
{
	return cid1 == PACE_CID1 || cid1 == PACE_CID1_LIION;
}

static int pace_parse(void *state, const struct bms_request *req, const uint8_t *frame, size_t len,
		      struct bms_snapshot *snap)
{
	struct pace_state *st = state;
	struct bms_pylon_frame f;
	if (len > PACE_MAX_FRAME || bms_pylon_decode(NULL, frame, len, &f) < 0)
		return -EBADMSG;
	uint8_t cmd = pace_cmd(req);
	if (cmd == 0 || !pace_known(cmd))
		return -EPROTO;
	if (!bms_pylon_is_reply(f.cid2) || f.adr != st->adr)
		return BMS_FOREIGN;
	if (f.ver != PACE_VER || !pace_cid1_ok(f.cid1))
		return -EPROTO; /* another family (Seplos v2: VER 0x20) */
	if (f.cid2 != 0)
		return -EREMOTEIO;
	uint8_t d[PACE_MAX_INFO];
	int n = bms_pylon_info(&f, d, sizeof(d));
	if (n < 0)
		return -EPROTO;
	if (cmd == PACE_TELEMETRY) {
		struct pace_tele t;
		if (tele_read(d, (size_t)n, &t) < 0)
			return -EPROTO;
		tele_apply(&t, snap);
		return 0;
	}
	if (cmd == PACE_STATUS) {
		struct pace_status_info a;
		if (status_read(d, (size_t)n, &a) < 0)
			return -EPROTO;
		status_apply(&a, snap);
		return 0;
	}
	return text_apply(cmd, d, (size_t)n, snap);
}

/* ---- describe ---- */

static void desc_tele(const struct pace_tele *t, struct bms_frame_desc *x)
{
	bms_desc_num(x, "bus_id", t->bus);
	bms_desc_num(x, "cell_count", t->m);
	bms_desc_num(x, "temp_count", t->n);
	bms_desc_num(x, "environment_temp_c", t->temps[t->n - 1] / 10.0);
	bms_desc_num(x, "custom_number", t->custom);
}

static void desc_status(const struct pace_status_info *a, struct bms_frame_desc *x)
{
	static const char *const names[PACE_STATUS_TAIL] = {
		"charge_current_warn", "pack_voltage_warn", "discharge_current_warn",
		"protect_status_1",    "protect_status_2",  "system_status",
		"config_status",       "fault_status",      "balance_hi",
		"balance_lo",          "warn_status_1",     "warn_status_2",
	};
	char key[BMS_DESC_KEY];
	bms_desc_num(x, "bus_id", a->bus);
	bms_desc_num(x, "cell_count", a->m);
	bms_desc_num(x, "temp_count", a->n);
	for (unsigned i = 0; i < PACE_STATUS_TAIL; i++)
		bms_desc_num(x, names[i], a->tail[i]);
	bms_desc_num(x, "discharging", (a->tail[PACE_SYSTEM] >> 3) & 1u);
	bms_desc_num(x, "charging", (a->tail[PACE_SYSTEM] >> 5) & 1u);
	for (unsigned i = 0; i < a->n; i++) {
		snprintf(key, sizeof(key), "temp%u_warning", i + 1);
		bms_desc_num(x, key, a->temp_codes[i]);
	}
	for (unsigned i = 0; i < a->m; i++) {
		snprintf(key, sizeof(key), "cell%u_warning", i + 1);
		bms_desc_num(x, key, a->cell_codes[i]);
	}
}

int bms_pace_describe(const uint8_t *frame, size_t len, struct bms_frame_desc *x)
{
	struct bms_pylon_frame f;
	if (len > PACE_MAX_FRAME || bms_pylon_decode(NULL, frame, len, &f) < 0)
		return -1;
	uint8_t d[PACE_MAX_INFO];
	int n = bms_pylon_info(&f, d, sizeof(d));
	if (n < 0)
		return -1;
	int address = f.adr + 1;
	if (!bms_pylon_is_reply(f.cid2)) {
		char name[40];
		snprintf(name, sizeof(name), "request 0x%02X", f.cid2);
		bms_desc_init(x, BMS_DIR_REQUEST, f.cid2, address, name);
		bms_desc_num(x, "ver", f.ver);
		bms_desc_num(x, "adr", f.adr);
		bms_desc_num(x, "cid1", f.cid1);
		bms_desc_num(x, "cid2", f.cid2);
		if (n >= 1)
			bms_desc_num(x, "info_pack", d[0]);
		return 0;
	}
	struct pace_tele t;
	struct pace_status_info a;
	uint16_t cmd = 0;
	const char *name = "reply";
	if (f.ver != PACE_VER || !pace_cid1_ok(f.cid1)) {
		name = "reply of another family";
	} else if (f.cid2 != 0) {
		name = "refusal";
	} else if (tele_read(d, (size_t)n, &t) == 0) {
		cmd = PACE_TELEMETRY;
		name = "0x42 analog values";
	} else if (status_read(d, (size_t)n, &a) == 0) {
		cmd = PACE_STATUS;
		name = "0x44 status";
	} else if (n == PACE_HW_LEN) {
		cmd = PACE_HW;
		name = "0xC1 hardware version";
	} else if (n == PACE_SERIAL_LEN) {
		cmd = PACE_SERIAL;
		name = "0xC2 serial number";
	}
	bms_desc_init(x, BMS_DIR_REPLY, cmd, address, name);
	bms_desc_num(x, "ver", f.ver);
	bms_desc_num(x, "adr", f.adr);
	bms_desc_num(x, "cid2_return_code", f.cid2);
	bms_desc_num(x, "info_length", (double)f.info_chars);
	if (cmd == PACE_TELEMETRY)
		desc_tele(&t, x);
	else if (cmd == PACE_STATUS)
		desc_status(&a, x);
	else if (cmd == PACE_HW)
		bms_desc_text(x, "hardware_version", (const char *)d, PACE_HW_LEN);
	else if (cmd == PACE_SERIAL)
		bms_desc_text(x, "serial_number", (const char *)d, PACE_SERIAL_LEN);
	return 0;
}

static const struct bms_step pace_steps[] = {
	{0},
	{0},
	{.flags = BMS_STEP_STATIC, .every = PACE_STATIC_EVERY, .fills = BMS_V_HW_VERSION},
	{.flags = BMS_STEP_STATIC, .every = PACE_STATIC_EVERY, .fills = BMS_V_SERIAL},
};
static const uint32_t pace_bauds[] = {9600, 0};
static const struct bms_link pace_links[] = {
	{.kind = BMS_LINK_SERIAL, .serial = {pace_bauds, BMS_8N1}},
};
static const uint8_t pace_addresses[] = {2, 1, 0}; /* ADR 1, then ADR 0 */

const struct bms_driver bms_pace = {
	.name = "pace",
	.description = "PACE BMS (PBmsTools 2.x), RS232/RS485 '~' ASCII VER 0x25",
	.spec = "PACE RS232/RS485 protocol V2.5, 0x42/0x44/0xC1/0xC2; protocols.md 5, 5b",
	.links = pace_links,
	.nlinks = sizeof(pace_links) / sizeof(pace_links[0]),
	.addresses = pace_addresses,
	.address_min = 1,
	.address_max = PACE_ADDR_MAX,
	.response_timeout_ms = 1000,
	/* RS485 with several packs: leave the line quiet between exchanges */
	.inter_frame_gap_ms = 100,
	.poll_interval_ms = 2000,
	.max_frame = PACE_MAX_FRAME,
	.flags = BMS_F_ADDRESSED,
	.alarms = BMS_ALARM_BIT(HIGH_CELL_VOLTAGE) | BMS_ALARM_BIT(LOW_CELL_VOLTAGE) |
		  BMS_ALARM_BIT(HIGH_VOLTAGE) | BMS_ALARM_BIT(LOW_VOLTAGE) |
		  BMS_ALARM_BIT(HIGH_CHARGE_CURRENT) | BMS_ALARM_BIT(HIGH_DISCHARGE_CURRENT) |
		  BMS_ALARM_BIT(HIGH_CURRENT) | BMS_ALARM_BIT(HIGH_CHARGE_TEMPERATURE) |
		  BMS_ALARM_BIT(LOW_CHARGE_TEMPERATURE) | BMS_ALARM_BIT(HIGH_TEMPERATURE) |
		  BMS_ALARM_BIT(LOW_TEMPERATURE) | BMS_ALARM_BIT(HIGH_INTERNAL_TEMPERATURE) |
		  BMS_ALARM_BIT(INTERNAL_FAILURE) | BMS_ALARM_BIT(LOW_SOC),
	.state_size = sizeof(struct pace_state),
	.steps = pace_steps,
	.nsteps = sizeof(pace_steps) / sizeof(pace_steps[0]),
	.init = pace_init,
	.build_request = pace_build_request,
	.frame_check = pace_frame_check,
	.parse = pace_parse,
};
