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

static const struct bms_pylon_family pace_family = {
	.ver = PACE_VER,
	.cid1 = PACE_CID1,
	.cid1_alt = PACE_CID1_LIION,
	.max_frame = PACE_MAX_FRAME,
};

struct pace_state {
	uint8_t adr; /* the wire ADR: driver address - 1 */
};

static int pace_init(void *state, uint8_t address)
{
	struct pace_state *st = state;
	memset(st, 0, sizeof(*st));
	return bms_pylon_adr(address, PACE_ADDR_MAX, &st->adr);
}

static uint8_t pace_cmd(const struct bms_request *req)
{
	static const uint8_t poll[] = {PACE_TELEMETRY, PACE_STATUS, PACE_HW, PACE_SERIAL};
	return bms_pylon_step_cmd(req, PACE_TELEMETRY, poll, sizeof(poll));
}

static bool pace_known(uint16_t cmd)
{
	return cmd == PACE_TELEMETRY || cmd == PACE_STATUS || cmd == PACE_HW || cmd == PACE_SERIAL;
}

static int pace_build_request(void *state, const struct bms_request *req, uint8_t *out, size_t cap)
{
	struct pace_state *st = state;
	uint8_t cmd = pace_cmd(req);
	/* 0x42/0x44 name the pack in INFO (its own ADR); 0xC1/0xC2 carry none */
	bool info = cmd == PACE_TELEMETRY || cmd == PACE_STATUS;
	return bms_pylon_build_step(&pace_family, st->adr, req, cmd, pace_known(req->reg), info,
				    out, cap);
}

/* The '~' check, bounded: a header announcing more than we ever take is garbage. */
static int pace_frame_check(const uint8_t *p, size_t avail, size_t *ret_len)
{
	return bms_pylon_check_max(PACE_MAX_FRAME, p, avail, ret_len);
}

/* 0x42: the shared head, custom number 3, then full capacity, cycles, design capacity */
struct pace_tele {
	struct bms_pylon_tele h;
	uint16_t full, cycles, design;
};

static int tele_read(const uint8_t *d, size_t len, struct pace_tele *t)
{
	struct breader r = br_init(d, len);
	if (bms_pylon_tele_read(&r, PACE_TEMP_ZERO, &t->h) < 0 || t->h.custom != PACE_TELE_CUSTOM ||
	    br_left(&r) != 2u * t->h.custom)
		return -EPROTO;
	t->full = br_u16be(&r);
	t->cycles = br_u16be(&r);
	t->design = br_u16be(&r);
	return r.err ? -EPROTO : 0;
}

static void tele_apply(const struct pace_tele *t, struct bms_snapshot *s)
{
	/* the last two sensors: MOSFET, environment */
	bms_pylon_tele_apply(&t->h, t->h.n - 2u, s);
	s->voltage_mv = t->h.volt;
	s->capacity_full_mah = t->full * 10;
	s->capacity_design_mah = t->design * 10;
	s->cycles = t->cycles;
	s->valid |= BMS_V_VOLTAGE | BMS_V_CAP_FULL | BMS_V_CAP_DESIGN | BMS_V_CYCLES;
	if (t->full > 0) {
		uint32_t soc = (uint32_t)t->h.remain * 10000u / t->full;
		s->soc_cpct = (uint16_t)(soc > 10000 ? 10000 : soc);
		s->valid |= BMS_V_SOC;
	}
}

/* 0x44: the shared head, then the 12-byte status tail */
struct pace_status_info {
	struct bms_pylon_codes h;
	const uint8_t *tail;
};

static int status_read(const uint8_t *d, size_t len, struct pace_status_info *a)
{
	struct breader r = br_init(d, len);
	if (bms_pylon_codes_read(&r, &a->h) < 0 || br_left(&r) != PACE_STATUS_TAIL)
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

static int pace_parse(void *state, const struct bms_request *req, const uint8_t *frame, size_t len,
		      struct bms_snapshot *snap)
{
	struct pace_state *st = state;
	uint8_t cmd = pace_cmd(req);
	uint8_t d[PACE_MAX_INFO];
	/* another family's reply (Seplos v2: VER 0x20) is -EPROTO */
	int n = bms_pylon_parse_reply(&pace_family, st->adr, cmd != 0 && pace_known(cmd), frame,
				      len, d, sizeof(d));
	if (n < 0)
		return n;
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
	bms_desc_num(x, "bus_id", t->h.pack);
	bms_desc_num(x, "cell_count", t->h.m);
	bms_desc_num(x, "temp_count", t->h.n);
	bms_desc_num(x, "environment_temp_c", t->h.temps[t->h.n - 1] / 10.0);
	bms_desc_num(x, "custom_number", t->h.custom);
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
	bms_desc_num(x, "bus_id", a->h.pack);
	bms_desc_num(x, "cell_count", a->h.m);
	bms_desc_num(x, "temp_count", a->h.n);
	for (unsigned i = 0; i < PACE_STATUS_TAIL; i++)
		bms_desc_num(x, names[i], a->tail[i]);
	bms_desc_num(x, "discharging", (a->tail[PACE_SYSTEM] >> 3) & 1u);
	bms_desc_num(x, "charging", (a->tail[PACE_SYSTEM] >> 5) & 1u);
	for (unsigned i = 0; i < a->h.n; i++) {
		snprintf(key, sizeof(key), "temp%u_warning", i + 1);
		bms_desc_num(x, key, a->h.temp_codes[i]);
	}
	for (unsigned i = 0; i < a->h.m; i++) {
		snprintf(key, sizeof(key), "cell%u_warning", i + 1);
		bms_desc_num(x, key, a->h.cell_codes[i]);
	}
}

/* 0xC1/0xC2 text as the snapshot holds it: the frame pads it with spaces, which are not
 * part of the version or serial number (br_str drops them) */
static void desc_text(const char *key, const uint8_t *d, size_t n, struct bms_frame_desc *x)
{
	char t[PACE_SERIAL_LEN + 1];
	struct breader r = br_init(d, n);
	br_str(&r, n, t, sizeof(t));
	bms_desc_text(x, key, t, strlen(t));
}

int bms_pace_describe(const uint8_t *frame, size_t len, struct bms_frame_desc *x)
{
	struct bms_pylon_frame f;
	uint8_t d[PACE_MAX_INFO];
	int n = 0;
	int r = bms_pylon_describe_head(PACE_MAX_FRAME, frame, len, &f, d, sizeof(d), &n, x);
	if (r != 0)
		return r < 0 ? -1 : 0;
	struct pace_tele t;
	struct pace_status_info a;
	uint16_t cmd = 0;
	const char *name = "reply";
	if (!bms_pylon_is_family(&pace_family, &f)) {
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
	bms_pylon_describe_reply(&f, cmd, name, x);
	if (cmd == PACE_TELEMETRY)
		desc_tele(&t, x);
	else if (cmd == PACE_STATUS)
		desc_status(&a, x);
	else if (cmd == PACE_HW || cmd == PACE_SERIAL)
		desc_text(cmd == PACE_HW ? "hardware_version" : "serial_number", d, (size_t)n, x);
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
	.alarms = BMS_ALARMS_COMMON | BMS_ALARM_BIT(HIGH_CURRENT) |
		  BMS_ALARM_BIT(HIGH_INTERNAL_TEMPERATURE) | BMS_ALARM_BIT(INTERNAL_FAILURE) |
		  BMS_ALARM_BIT(LOW_SOC),
	.state_size = sizeof(struct pace_state),
	.steps = pace_steps,
	.nsteps = sizeof(pace_steps) / sizeof(pace_steps[0]),
	.init = pace_init,
	.build_request = pace_build_request,
	.frame_check = pace_frame_check,
	.parse = pace_parse,
};
