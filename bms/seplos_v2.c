/* SPDX-License-Identifier: MIT */
/*
 * Seplos v2 (BMS 48V100A/200A 8-16S, e.g. 1101-SP15, 1101-XO17) on the RS485
 * host port: the Pylontech-style '~' ASCII frame with VER 0x20
 * (docs/PROTOCOLS.md "Seplos v2"; reference: protocols.md sections 5, 5a).
 *
 * Link: 19200 8N1 (some packs 9600), RS485, several packs on one bus by ADR
 * (DIP 0..15).
 * The driver's address n is the pack at ADR n - 1 (1 = ADR 0, the default):
 * the core ends its address lists with 0, so 0 cannot be an address.
 *
 * Frame (bms/pylon_ascii.h): '~' VER ADR CID1 CID2 LENGTH INFO CHKSUM CR, all
 * hex ASCII; CHKSUM = -(sum of the characters after '~') mod 65536, LENGTH
 * carries its own nibble checksum. CID1 0x46; CID2 is the command in a
 * request and the return code (0 = OK) in a reply.
 *
 * Sample (ADR 0, pack 0):
 *   request ~20004642E00200FD37\r   telemetry, INFO = the pack (ADR)
 *   reply   ~2000460010960001100CD70CE9...0000DC6C\r  75 INFO bytes:
 *           16 cells 3.287..3.316 V, 6 sensors, -6.76 A, 52.80 V, 133.9 of
 *           170 Ah, SOC 78.7 %, rated 180 Ah, 70 cycles, SOH 100 %
 *
 * 0x42 telemetry INFO (bytes, BE): DATAFLAG, pack, M, M x cell mV, N,
 * N x temperature 0.1 K (offset 2731; cells 1..N-2, then environment, then
 * power/MOSFET), current s16 10 mA (positive = charging), pack voltage
 * 10 mV, remaining 10 mAh, custom number (10: the count of u16 values that
 * follow), full capacity 10 mAh, SOC 0.1 %, rated capacity 10 mAh, cycles,
 * SOH 0.1 %, port voltage 10 mV, 4 reserved.
 * 0x44 alarm INFO: DATAFLAG, pack, M, M cell codes, N, N sensor codes,
 * current code, pack voltage code, custom count (20), then events 1..6,
 * switch state, equalization 1/2, system state, disconnection 1/2, events
 * 7/8 and 6 reserved (enum sv_event).
 * 0x51 manufacturer INFO: device name (10 characters), software version
 * (2 bytes), manufacturer / CAN protocol name (20 characters).
 * 0x4F protocol version: an empty INFO; the version is the reply's VER.
 *
 * Probe: 0x4F, the shortest exchange, answered with VER 0x20. Poll: 0x42,
 * 0x44, then 0x51 as static data (asked on the first cycle and every 64th
 * while missing). The probe alone proves little (any Pylontech-style pack
 * answers 0x4F with VER 0x20); the poll's layout checks (counts, the custom
 * numbers 10 and 20, exact lengths) and the core's plausibility check make
 * the match.
 *
 * Decisions:
 * - Replies carry no command: which request a reply answers is told by the
 *   request descriptor, and a reply whose INFO does not fit that command's
 *   layout exactly is refused (-EPROTO), never read at guessed offsets. A
 *   request on the line (CID2 a command, not a return code: another master,
 *   our echo) and a reply from another ADR are BMS_FOREIGN.
 * - The pack byte of a reply (the INFO byte of the request, echoed) is not
 *   checked: dbus-serialbattery asks ADR 0 with INFO 01 and the captures
 *   answer with either; ADR is the address.
 * - Temperatures: the last two sensors are environment and power; the
 *   power sensor is the MOSFET temperature, the environment sensor has no
 *   snapshot field (describe shows it), the others are the cell sensors.
 * - Events (0x44): event 2 voltage, 3 cell temperature, 5 current (bits 0-3
 *   as protocols.md 5a gives them for v2: charge OC warning/protection,
 *   discharge OC warning/protection; the v3 table TB05 numbers them
 *   differently, v2's own table wins for v2), 6 bits 2/3 low SOC
 *   warning/protection and 4 cell difference (warning). Event 1 is hardware
 *   faults: any bit is InternalFailure (alarm). Not mapped: event 4
 *   (environment/power temperature, bits not documented), events 7/8, the
 *   per-cell and per-sensor codes (the events carry the same news).
 * - Switch state bit 0 discharge, bit 1 charge switch on (both [V]); the
 *   equalization bytes are not documented bit by bit: no balancing.
 * - No writes: protocols.md names 0x45 control but not its INFO.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bms.h"
#include "bytes.h"
#include "pylon_ascii.h"
#include "registry.h"
#include "seplos_v2_wire.h"

#define SV_MAKER_EVERY 64 /* cycles between 0x51 attempts while missing */

static const struct bms_pylon_family sv_family = {
	.ver = SV_VER,
	.cid1 = SV_CID1,
	.cid1_alt = SV_CID1,
	.max_frame = SV_MAX_FRAME,
};

struct sv_state {
	uint8_t adr; /* the wire ADR: driver address - 1 */
};

static int sv_init(void *state, uint8_t address)
{
	struct sv_state *st = state;
	memset(st, 0, sizeof(*st));
	return bms_pylon_adr(address, SV_ADDR_MAX, &st->adr);
}

/* The command a request descriptor stands for; 0 = the cycle has no such step. */
static uint8_t sv_cmd(const struct bms_request *req)
{
	static const uint8_t poll[] = {SV_TELEMETRY, SV_ALARMS, SV_MAKER};
	return bms_pylon_step_cmd(req, SV_PROTOCOL, poll, sizeof(poll));
}

static bool sv_known(uint16_t cmd)
{
	return cmd == SV_TELEMETRY || cmd == SV_ALARMS || cmd == SV_PROTOCOL || cmd == SV_MAKER;
}

static int sv_build_request(void *state, const struct bms_request *req, uint8_t *out, size_t cap)
{
	struct sv_state *st = state;
	uint8_t cmd = sv_cmd(req);
	/* 0x42/0x44 name the pack in INFO (ESPHome: the pack's own address) */
	bool info = cmd == SV_TELEMETRY || cmd == SV_ALARMS;
	return bms_pylon_build_step(&sv_family, st->adr, req, cmd, sv_known(req->reg), info, out,
				    cap);
}

/* The '~' check, bounded: a header announcing more than we ever take is garbage. */
static int sv_frame_check(const uint8_t *p, size_t avail, size_t *ret_len)
{
	return bms_pylon_check_max(SV_MAX_FRAME, p, avail, ret_len);
}

/* ---- the three layouts; each refuses what does not fit it exactly ---- */

/* 0x42: the shared head, custom number 10, then the ten values it counts */
struct sv_tele {
	struct bms_pylon_tele h;
	uint16_t full, soc, rated, cycles, soh, port;
};

static int tele_read(const uint8_t *d, size_t len, struct sv_tele *t)
{
	struct breader r = br_init(d, len);
	if (bms_pylon_tele_read(&r, SV_TEMP_ZERO, &t->h) < 0 || t->h.custom != SV_TELE_CUSTOM ||
	    br_left(&r) != 2u * t->h.custom)
		return -EPROTO;
	t->full = br_u16be(&r);
	t->soc = br_u16be(&r);
	t->rated = br_u16be(&r);
	t->cycles = br_u16be(&r);
	t->soh = br_u16be(&r);
	t->port = br_u16be(&r);
	if (r.err || t->soc > 1000 || t->soh > 1000)
		return -EPROTO;
	return 0;
}

static void tele_apply(const struct sv_tele *t, struct bms_snapshot *s)
{
	/* the last two sensors: environment, power (the MOSFET) */
	bms_pylon_tele_apply(&t->h, t->h.n - 1u, s);
	s->voltage_mv = t->h.volt * 10;
	s->capacity_full_mah = t->full * 10;
	s->capacity_design_mah = t->rated * 10;
	s->soc_cpct = (uint16_t)(t->soc * 10);
	s->soh_cpct = (uint16_t)(t->soh * 10);
	s->cycles = t->cycles;
	s->valid |= BMS_V_VOLTAGE | BMS_V_CAP_FULL | BMS_V_CAP_DESIGN | BMS_V_SOC | BMS_V_SOH |
		    BMS_V_CYCLES;
}

/* 0x44: the shared head, current and voltage codes, then the custom block */
struct sv_alarm {
	struct bms_pylon_codes h;
	uint8_t current_code, volt_code, custom;
	const uint8_t *ev; /* the custom block, SV_ALARM_NAMED bytes at least */
};

static int alarm_read(const uint8_t *d, size_t len, struct sv_alarm *a)
{
	struct breader r = br_init(d, len);
	if (bms_pylon_codes_read(&r, &a->h) < 0)
		return -EPROTO;
	a->current_code = br_u8(&r);
	a->volt_code = br_u8(&r);
	a->custom = br_u8(&r);
	if (r.err || a->custom < SV_ALARM_NAMED || br_left(&r) != a->custom)
		return -EPROTO;
	a->ev = d + r.pos;
	return 0;
}

static void alarm_apply(const struct sv_alarm *a, struct bms_snapshot *s)
{
	memset(s->alarm, 0, sizeof(s->alarm));
	for (size_t i = 0; i < SV_NBITS; i++) {
		const struct sv_bit *b = &sv_bits[i];
		if ((a->ev[b->ev] >> b->bit & 1u) && s->alarm[b->alarm] < b->level)
			s->alarm[b->alarm] = b->level;
	}
	s->discharge_fet = a->ev[SV_SWITCH] & 1u;
	s->charge_fet = (a->ev[SV_SWITCH] >> 1) & 1u;
	s->valid |= BMS_V_ALARMS | BMS_V_FETS;
}

/* 0x51: name, version, maker; at least the name and version, at most the whole. */
static int maker_check(size_t len)
{
	return len >= SV_NAME_LEN + 2 && len <= SV_MAKER_INFO ? 0 : -EPROTO;
}

static void maker_apply(const uint8_t *d, size_t len, struct bms_snapshot *s)
{
	struct breader r = br_init(d, len);
	br_str(&r, SV_NAME_LEN, s->model, sizeof(s->model));
	unsigned hi = br_u8(&r), lo = br_u8(&r);
	snprintf(s->sw_version, sizeof(s->sw_version), "%u.%u", hi, lo);
	s->valid |= BMS_V_SW_VERSION;
	if (s->model[0])
		s->valid |= BMS_V_MODEL;
}

static int sv_parse(void *state, const struct bms_request *req, const uint8_t *frame, size_t len,
		    struct bms_snapshot *snap)
{
	struct sv_state *st = state;
	uint8_t cmd = sv_cmd(req);
	uint8_t d[SV_MAX_INFO];
	/* someone else's exchange (a request, another pack's reply) is BMS_FOREIGN, another
	 * family's reply (PACE: VER 0x25) -EPROTO */
	int n = bms_pylon_parse_reply(&sv_family, st->adr, cmd != 0 && sv_known(cmd), frame, len, d,
				      sizeof(d));
	if (n < 0)
		return n;
	switch (cmd) {
	case SV_PROTOCOL:
		return n == 0 ? 0 : -EPROTO;
	case SV_TELEMETRY: {
		struct sv_tele t;
		if (tele_read(d, (size_t)n, &t) < 0)
			return -EPROTO;
		tele_apply(&t, snap);
		return 0;
	}
	case SV_ALARMS: {
		struct sv_alarm a;
		if (alarm_read(d, (size_t)n, &a) < 0)
			return -EPROTO;
		alarm_apply(&a, snap);
		return 0;
	}
	default:
		if (maker_check((size_t)n) < 0)
			return -EPROTO;
		maker_apply(d, (size_t)n, snap);
		return 0;
	}
}

/* ---- describe ---- */

static void desc_tele(const struct sv_tele *t, struct bms_frame_desc *x)
{
	bms_desc_num(x, "pack", t->h.pack);
	bms_desc_num(x, "cell_count", t->h.m);
	bms_desc_num(x, "temp_count", t->h.n);
	bms_desc_num(x, "environment_temp_c", t->h.temps[t->h.n - 2] / 10.0);
	bms_desc_num(x, "custom_number", t->h.custom);
	bms_desc_num(x, "port_voltage_v", t->port / 100.0);
}

static void desc_alarm(const struct sv_alarm *a, struct bms_frame_desc *x)
{
	static const char *const names[SV_ALARM_NAMED] = {
		"alarm_event1_hw",        "alarm_event2_voltage", "alarm_event3_cell_temp",
		"alarm_event4_env_power", "alarm_event5_current", "alarm_event6_soc_diff",
		"switch_state",           "equalization1",        "equalization2",
		"system_state",           "disconnection1",       "disconnection2",
		"alarm_event7",           "alarm_event8",
	};
	bms_desc_num(x, "pack", a->h.pack);
	bms_desc_num(x, "cell_count", a->h.m);
	bms_desc_num(x, "temp_count", a->h.n);
	bms_desc_num(x, "current_alarm_code", a->current_code);
	bms_desc_num(x, "pack_voltage_alarm_code", a->volt_code);
	bms_desc_num(x, "custom_alarm_count", a->custom);
	for (unsigned i = 0; i < SV_ALARM_NAMED; i++)
		bms_desc_num(x, names[i], a->ev[i]);
	bms_pylon_describe_codes(&a->h, x);
}

static void desc_maker(const uint8_t *d, size_t n, struct bms_frame_desc *x)
{
	char v[8], name[SV_NAME_LEN + 1];
	/* as the snapshot's model: without the frame's padding spaces */
	struct breader nr = br_init(d, SV_NAME_LEN);
	br_str(&nr, SV_NAME_LEN, name, sizeof(name));
	bms_desc_text(x, "device_name", name, strlen(name));
	snprintf(v, sizeof(v), "%02X %02X", d[SV_NAME_LEN], d[SV_NAME_LEN + 1]);
	bms_desc_text(x, "sw_version_bytes", v, strlen(v));
	if (n > SV_NAME_LEN + 2) {
		char m[SV_MAKER_LEN + 1];
		struct breader r = br_init(d + SV_NAME_LEN + 2, n - SV_NAME_LEN - 2);
		br_str(&r, n - SV_NAME_LEN - 2, m, sizeof(m));
		bms_desc_text(x, "manufacturer", m, strlen(m));
	}
}

int bms_seplos_v2_describe(const uint8_t *frame, size_t len, struct bms_frame_desc *x)
{
	struct bms_pylon_frame f;
	uint8_t d[SV_MAX_INFO];
	int n = 0;
	int r = bms_pylon_describe_head(SV_MAX_FRAME, frame, len, &f, d, sizeof(d), &n, x);
	if (r != 0)
		return r < 0 ? -1 : 0;
	/* a reply: which command it answers is told by its layout */
	struct sv_tele t;
	struct sv_alarm a;
	uint16_t cmd = 0;
	const char *name = "reply";
	if (!bms_pylon_is_family(&sv_family, &f)) {
		name = "reply of another family";
	} else if (f.cid2 != 0) {
		name = "refusal";
	} else if (n == 0) {
		cmd = SV_PROTOCOL;
		name = "0x4F protocol version";
	} else if (tele_read(d, (size_t)n, &t) == 0) {
		cmd = SV_TELEMETRY;
		name = "0x42 telemetry";
	} else if (alarm_read(d, (size_t)n, &a) == 0) {
		cmd = SV_ALARMS;
		name = "0x44 alarms";
	} else if (maker_check((size_t)n) == 0) {
		cmd = SV_MAKER;
		name = "0x51 manufacturer info";
	}
	bms_pylon_describe_reply(&f, cmd, name, x);
	if (cmd == SV_TELEMETRY)
		desc_tele(&t, x);
	else if (cmd == SV_ALARMS)
		desc_alarm(&a, x);
	else if (cmd == SV_MAKER)
		desc_maker(d, (size_t)n, x);
	return 0;
}

static const struct bms_step sv_steps[] = {
	{0},
	{0},
	{.flags = BMS_STEP_STATIC,
	 .every = SV_MAKER_EVERY,
	 .fills = BMS_V_MODEL | BMS_V_SW_VERSION},
};
/* the host port; 9600 is the RM485/inverter port's speed, which some packs use for
 * the host port too (ESPHome's configuration note, issue #47's pack) */
static const uint32_t sv_bauds[] = {19200, 9600, 0};
static const struct bms_link sv_links[] = {
	{.kind = BMS_LINK_SERIAL, .serial = {sv_bauds, BMS_8N1}},
};
static const uint8_t sv_addresses[] = {1, 0}; /* ADR 0 */

const struct bms_driver bms_seplos_v2 = {
	.name = "seplos_v2",
	.description = "Seplos v2 (1101-SP15/XO17 ...), RS485 '~' ASCII VER 0x20",
	.spec = "SEPLOS Communication Protocol V2.0, 0x42/0x44/0x51; protocols.md 5, 5a",
	.links = sv_links,
	.nlinks = sizeof(sv_links) / sizeof(sv_links[0]),
	.addresses = sv_addresses,
	.address_min = 1,
	.address_max = SV_ADDR_MAX,
	.response_timeout_ms = 1000,
	/* RS485 with several packs: leave the line quiet between exchanges */
	.inter_frame_gap_ms = 100,
	.poll_interval_ms = 2000,
	.max_frame = SV_MAX_FRAME,
	.flags = BMS_F_ADDRESSED,
	.alarms = BMS_ALARMS_COMMON | BMS_ALARM_BIT(LOW_SOC) | BMS_ALARM_BIT(CELL_IMBALANCE) |
		  BMS_ALARM_BIT(INTERNAL_FAILURE),
	.state_size = sizeof(struct sv_state),
	.steps = sv_steps,
	.nsteps = sizeof(sv_steps) / sizeof(sv_steps[0]),
	.init = sv_init,
	.build_request = sv_build_request,
	.frame_check = sv_frame_check,
	.parse = sv_parse,
};
