/* SPDX-License-Identifier: MIT */
/*
 * EG4 LifePower4 (first version, "Lifepower"; the same frames as Tian Power /
 * Basen packs), binary 0x7E protocol over RS485 (docs/PROTOCOLS.md "EG4
 * LifePower"; reference: protocols.md section 9).
 *
 * Link: 9600 8N1, addressed: packs 1..15 by DIP switch on one bus (0 is the
 * master). The driver's address is the pack address; default 1.
 *
 * Frame layout, both ways:
 *   7E addr cmd len payload[len] chk 0D
 * Requests have len 0 and no payload; a reply names the pack that sends it.
 * Checksum: (XOR of every byte from the 7E up to the payload's last) XOR
 * (their 8-bit sum).
 *
 * Sample (pack 1, status, slim-bean/powermon):
 *   request  7E 01 01 00 FE 0D
 *   reply    7E 01 01 58 | 01 10 0C F3 0C F4 ... (16 cells) | 02 01 75 30 |
 *            03 01 22 9C | 04 01 27 10 | 05 06 00 41 00 41 00 40 00 40 80 42
 *            20 42 | 06 05 00 00 .. | 07 01 00 01 | 08 01 14 B9 | 09 01 27 10 |
 *            0A 01 00 00 | 3C 0D
 *            -> 16 cells 3.315/3.316 V, 0 A, 88.60 %, 100 Ah, 15/15/14/14/16/16
 *               degC, 1 cycle, 53.05 V, SOH 100 %
 *
 * Status payload: groups `id count word[count]`, words BE16, in the order
 * 1 cells (mV; mask 0x3FFF), 2 current ((30000 - raw) x 10 mA, + =
 * charging), 3 SOC (0.01 %), 4 full capacity (0.01 Ah), 5 temperatures (low
 * byte - 50 degC, the high byte carries flags), 6 five status words, 7
 * cycles, 8 pack voltage (10 mV), 9 SOH (0.01 %), 10 unknown.
 * Commands: 0x01 status (the probe and every poll), 0x33 firmware version
 * (static data), 0x42 hardware version / barcode (READ only).
 *
 * Decisions:
 * - Plausibility from what only this family sends: the reply must carry
 *   groups 1..10 in that order with the counts both captures show (one word
 *   each for 2, 3, 4, 7, 8, 9, 10; five status words; 1..32 cells; 1..16
 *   sensors), SOC and SOH at most 100 %. Anything else is refused (-EPROTO).
 * - Groups after 10 (Basen firmware appends 0x0B..0x10, whose values are
 *   not 16-bit words) are not walked: describe() counts their bytes.
 * - Cell mask 0x3FFF (dbus-serialbattery) rather than 0x7FFF (Louisvdw):
 *   they agree for every voltage a cell can have; the flag bits show in
 *   describe().
 * - Temperatures: all six readings are battery sensors as dbus-serialbattery
 *   publishes them; the README that found them guesses the last two are the
 *   MOSFET and environment, which is not confirmed, so no MOSFET field.
 * - Alarms (status word 1, bits as the fact sheet): 3 over-current ->
 *   HighCurrent (the fact sheet does not say which direction), 4 over-voltage
 *   -> HighVoltage, 5 under-voltage -> LowVoltage, 6/7 charge over/under
 *   temperature -> High/LowChargeTemperature; all protections, level 2. The
 *   low byte's 1 charging / 2 discharging bits are shown by describe().
 * - 0x33/0x42 replies: no capture; their payload is taken as text (the
 *   printable characters). dbus-serialbattery prints the whole reply through
 *   a filter, so its "3QT-YS00-16SV100A-V3.5" and "B" carry the command
 *   byte (0x33 '3', 0x42 'B') in front. 0x42 is not polled: what its payload
 *   holds is unknown.
 * - No writes: the fact sheet documents none.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bms.h"
#include "registry.h"
#include "bytes.h"
#include "eg4_lifepower_wire.h"

#define LP_FW_EVERY 64 /* cycles between firmware attempts while missing */

struct lp_state {
	uint8_t addr;
};

static int lp_init(void *state, uint8_t address)
{
	struct lp_state *st = state;
	if (address > LP_ADDR_MAX)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	st->addr = address ? address : 1;
	return 0;
}

/* The command a request descriptor stands for; 0 = the cycle has no such step. */
static uint8_t lp_cmd(const struct bms_request *req)
{
	switch (req->kind) {
	case BMS_REQ_PROBE:
		return req->step == 0 ? LP_CMD_STATUS : 0;
	case BMS_REQ_POLL:
		return req->step == 0 ? LP_CMD_STATUS : req->step == 1 ? LP_CMD_FIRMWARE : 0;
	case BMS_REQ_READ:
		return req->step == 0 ? (uint8_t)req->reg : 0;
	default:
		return 0;
	}
}

static bool lp_known(uint16_t cmd)
{
	return cmd == LP_CMD_STATUS || cmd == LP_CMD_FIRMWARE || cmd == LP_CMD_HARDWARE;
}

static int lp_build_request(void *state, const struct bms_request *req, uint8_t *out, size_t cap)
{
	struct lp_state *st = state;
	if (req->kind == BMS_REQ_SET)
		return -EOPNOTSUPP;
	if (req->kind == BMS_REQ_READ && !lp_known(req->reg))
		return -EOPNOTSUPP;
	uint8_t cmd = lp_cmd(req);
	if (cmd == 0)
		return 0;
	return lp_put_frame(st->addr, cmd, NULL, 0, out, cap);
}

static int lp_frame_check(const uint8_t *p, size_t avail, size_t *ret_len)
{
	if (avail < 1)
		return 0;
	if (p[0] != LP_SOI)
		return -1;
	if (avail >= 2 && p[1] > LP_ADDR_MAX)
		return -1;
	if (avail < 4)
		return 0;
	size_t total = (size_t)p[3] + LP_OVERHEAD;
	if (avail < total)
		return 0;
	if (p[total - 1] != LP_EOI || p[total - 2] != lp_checksum(p, total - 2))
		return -1;
	*ret_len = total;
	return 1;
}

/* ---- the status groups ---- */

struct lp_status {
	const uint8_t *g[LP_NGROUPS + 1]; /* words of group id */
	uint8_t n[LP_NGROUPS + 1];
	size_t tail; /* payload bytes after group 10 */
};

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

/* Walk groups 1..10 of a status payload; false when they are not all there, in order. */
static bool lp_walk(const uint8_t *pl, size_t n, struct lp_status *g)
{
	size_t o = 0;
	memset(g, 0, sizeof(*g));
	for (uint8_t id = 1; id <= LP_NGROUPS; id++) {
		if (n - o < 2 || pl[o] != id)
			return false;
		uint8_t cnt = pl[o + 1];
		if ((size_t)cnt * 2 > n - o - 2)
			return false;
		g->g[id] = pl + o + 2;
		g->n[id] = cnt;
		o += 2 + 2u * cnt;
	}
	g->tail = n - o;
	return true;
}

/* The counts both captures show: anything else is not this family's status. */
static bool lp_counts_ok(const struct lp_status *g)
{
	if (g->n[LP_G_CELLS] < 1 || g->n[LP_G_CELLS] > BMS_MAX_CELLS)
		return false;
	if (g->n[LP_G_TEMPS] < 1 || g->n[LP_G_TEMPS] > 16)
		return false;
	if (g->n[LP_G_STATUS] != LP_STATUS_WORDS)
		return false;
	static const uint8_t single[] = {LP_G_CURRENT, LP_G_SOC, LP_G_FULL,   LP_G_CYCLES,
					 LP_G_VOLTAGE, LP_G_SOH, LP_G_UNKNOWN};
	for (size_t i = 0; i < sizeof(single); i++)
		if (g->n[single[i]] != 1)
			return false;
	return true;
}

static int parse_status(const uint8_t *pl, size_t n, struct bms_snapshot *s)
{
	struct lp_status g;
	if (!lp_walk(pl, n, &g) || !lp_counts_ok(&g))
		return -EPROTO;
	uint16_t soc = be16(g.g[LP_G_SOC]), soh = be16(g.g[LP_G_SOH]);
	if (soc > 10000 || soh > 10000)
		return -EPROTO;
	s->cell_count = g.n[LP_G_CELLS];
	for (unsigned i = 0; i < s->cell_count; i++)
		s->cell_mv[i] = (uint16_t)(be16(g.g[LP_G_CELLS] + 2 * i) & LP_CELL_MASK);
	s->current_ma = (LP_CURRENT_ZERO - (int32_t)be16(g.g[LP_G_CURRENT])) * 10;
	s->soc_cpct = soc;
	s->capacity_full_mah = (int32_t)be16(g.g[LP_G_FULL]) * 10;
	s->temp_count =
		(uint8_t)(g.n[LP_G_TEMPS] > BMS_MAX_TEMPS ? BMS_MAX_TEMPS : g.n[LP_G_TEMPS]);
	for (unsigned i = 0; i < s->temp_count; i++)
		s->temp_dc[i] = (int16_t)(((int)(g.g[LP_G_TEMPS][2 * i + 1]) - LP_TEMP_ZERO) * 10);
	s->cycles = be16(g.g[LP_G_CYCLES]);
	s->voltage_mv = (int32_t)be16(g.g[LP_G_VOLTAGE]) * 10;
	s->soh_cpct = soh;
	uint16_t w1 = be16(g.g[LP_G_STATUS] + 2);
	memset(s->alarm, 0, sizeof(s->alarm));
	if (w1 & LP_ST_OVER_CURRENT)
		s->alarm[BMS_ALARM_HIGH_CURRENT] = 2;
	if (w1 & LP_ST_OVER_VOLTAGE)
		s->alarm[BMS_ALARM_HIGH_VOLTAGE] = 2;
	if (w1 & LP_ST_UNDER_VOLTAGE)
		s->alarm[BMS_ALARM_LOW_VOLTAGE] = 2;
	if (w1 & LP_ST_CHARGE_OT)
		s->alarm[BMS_ALARM_HIGH_CHARGE_TEMPERATURE] = 2;
	if (w1 & LP_ST_CHARGE_UT)
		s->alarm[BMS_ALARM_LOW_CHARGE_TEMPERATURE] = 2;
	s->valid |= BMS_V_CELLS | BMS_V_CURRENT | BMS_V_SOC | BMS_V_CAP_FULL | BMS_V_TEMPS |
		    BMS_V_CYCLES | BMS_V_VOLTAGE | BMS_V_SOH | BMS_V_ALARMS;
	return 0;
}

/* The printable characters of a text payload, trimmed. */
static void lp_text(const uint8_t *p, size_t n, char *out, size_t cap)
{
	size_t k = 0;
	for (size_t i = 0; i < n && k + 1 < cap; i++)
		if (p[i] >= 0x20 && p[i] < 0x7F)
			out[k++] = (char)p[i];
	while (k > 0 && out[k - 1] == ' ')
		k--;
	out[k] = '\0';
	size_t lead = 0;
	while (out[lead] == ' ')
		lead++;
	memmove(out, out + lead, k - lead + 1);
}

static int lp_parse(void *state, const struct bms_request *req, const uint8_t *frame, size_t len,
		    struct bms_snapshot *snap)
{
	struct lp_state *st = state;
	size_t flen = 0;
	if (lp_frame_check(frame, len, &flen) != 1 || flen != len)
		return -EBADMSG;
	uint8_t cmd = lp_cmd(req);
	if (cmd == 0)
		return -EPROTO; /* the descriptor asks nothing */
	/* a request (another master's, our echo), another pack's or another command's reply */
	if (frame[3] == 0 || frame[1] != st->addr || frame[2] != cmd)
		return BMS_FOREIGN;
	const uint8_t *pl = frame + 4;
	size_t n = frame[3];
	if (cmd == LP_CMD_STATUS)
		return parse_status(pl, n, snap);
	char text[BMS_STR_LEN];
	lp_text(pl, n, text, sizeof(text));
	if (text[0] == '\0')
		return 0; /* answered, but nothing to show */
	char *dst = cmd == LP_CMD_FIRMWARE ? snap->sw_version : snap->hw_version;
	snprintf(dst, BMS_STR_LEN, "%s", text);
	snap->valid |= cmd == LP_CMD_FIRMWARE ? BMS_V_SW_VERSION : BMS_V_HW_VERSION;
	return 0;
}

/* ---- describe: what a frame is, told without the request ---- */

static const char *lp_cmd_name(uint8_t cmd)
{
	switch (cmd) {
	case LP_CMD_STATUS:
		return "status";
	case LP_CMD_FIRMWARE:
		return "firmware version";
	case LP_CMD_HARDWARE:
		return "hardware version";
	default:
		return "command";
	}
}

static void describe_status(const uint8_t *pl, size_t n, struct bms_frame_desc *x)
{
	struct lp_status g;
	if (!lp_walk(pl, n, &g))
		return;
	uint16_t flags = 0;
	for (unsigned i = 0; i < g.n[LP_G_CELLS]; i++)
		flags |= (uint16_t)(be16(g.g[LP_G_CELLS] + 2 * i) & ~LP_CELL_MASK);
	bms_desc_num(x, "cell_flag_bits", flags);
	if (g.n[LP_G_CURRENT])
		bms_desc_num(x, "current_raw", be16(g.g[LP_G_CURRENT]));
	for (unsigned i = 0; i < g.n[LP_G_TEMPS] && i < BMS_MAX_TEMPS; i++) {
		char key[BMS_DESC_KEY];
		snprintf(key, sizeof(key), "temp%u_flags", i + 1);
		bms_desc_num(x, key, g.g[LP_G_TEMPS][2 * i]);
	}
	for (unsigned i = 0; i < g.n[LP_G_STATUS] && i < LP_STATUS_WORDS; i++) {
		char key[BMS_DESC_KEY];
		snprintf(key, sizeof(key), "status_word_%u", i);
		bms_desc_num(x, key, be16(g.g[LP_G_STATUS] + 2 * i));
	}
	if (g.n[LP_G_STATUS] >= 2) {
		uint16_t w1 = be16(g.g[LP_G_STATUS] + 2);
		bms_desc_num(x, "charging", (w1 & LP_ST_CHARGING) != 0);
		bms_desc_num(x, "discharging", (w1 & LP_ST_DISCHARGING) != 0);
	}
	if (g.n[LP_G_UNKNOWN])
		bms_desc_num(x, "group10_word", be16(g.g[LP_G_UNKNOWN]));
	bms_desc_num(x, "extra_group_bytes", (double)g.tail);
}

int bms_eg4_lifepower_describe(const uint8_t *frame, size_t len, struct bms_frame_desc *x)
{
	size_t flen = 0;
	if (lp_frame_check(frame, len, &flen) != 1 || flen != len)
		return -1;
	uint8_t cmd = frame[2];
	bool req = frame[3] == 0;
	char name[40];
	snprintf(name, sizeof(name), "%s%s", req ? "read " : "", lp_cmd_name(cmd));
	bms_desc_init(x, req ? BMS_DIR_REQUEST : BMS_DIR_REPLY, cmd, frame[1], name);
	bms_desc_num(x, "address", frame[1]);
	bms_desc_num(x, "command", cmd);
	bms_desc_num(x, "length", frame[3]);
	if (req)
		return 0;
	if (cmd == LP_CMD_STATUS) {
		describe_status(frame + 4, frame[3], x);
	} else if (cmd == LP_CMD_FIRMWARE || cmd == LP_CMD_HARDWARE) {
		char text[BMS_DESC_TEXT];
		lp_text(frame + 4, frame[3], text, sizeof(text));
		bms_desc_text(x, cmd == LP_CMD_FIRMWARE ? "firmware_text" : "hardware_text", text,
			      strlen(text));
	}
	return 0;
}

/* Poll steps: status, then the firmware version (static data). */
static const struct bms_step lp_steps[] = {
	{0},
	{.flags = BMS_STEP_STATIC, .every = LP_FW_EVERY, .fills = BMS_V_SW_VERSION},
};
static const uint32_t lp_bauds[] = {9600, 0};
static const struct bms_link lp_links[] = {
	{.kind = BMS_LINK_SERIAL, .serial = {lp_bauds, BMS_8N1}},
};
static const uint8_t lp_addresses[] = {1, 0};

const struct bms_driver bms_eg4_lifepower = {
	.name = "eg4_lifepower",
	.description = "EG4 LifePower4 (first version) / Tian Power, RS485 0x7E binary protocol",
	.spec = "EG4 LifePower 0x7E group protocol (status 0x01); protocols.md section 9",
	.links = lp_links,
	.nlinks = sizeof(lp_links) / sizeof(lp_links[0]),
	.addresses = lp_addresses,
	.address_min = 1,
	.address_max = LP_ADDR_MAX,
	.response_timeout_ms = 500,
	/* dbus-serialbattery polls every 2 s: faster polling gave errors */
	.inter_frame_gap_ms = 50,
	.poll_interval_ms = 2000,
	.max_frame = LP_MAX_FRAME,
	.flags = BMS_F_ADDRESSED,
	.alarms = BMS_ALARM_BIT(HIGH_CURRENT) | BMS_ALARM_BIT(HIGH_VOLTAGE) |
		  BMS_ALARM_BIT(LOW_VOLTAGE) | BMS_ALARM_BIT(HIGH_CHARGE_TEMPERATURE) |
		  BMS_ALARM_BIT(LOW_CHARGE_TEMPERATURE),
	.state_size = sizeof(struct lp_state),
	.steps = lp_steps,
	.nsteps = sizeof(lp_steps) / sizeof(lp_steps[0]),
	.init = lp_init,
	.build_request = lp_build_request,
	.frame_check = lp_frame_check,
	.parse = lp_parse,
};
