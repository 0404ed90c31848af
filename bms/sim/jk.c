/* SPDX-License-Identifier: MIT */
/*
 * JK 0x4E57 device simulator (bms/sim/sim.h): answers "read all" and "read
 * one" from a snapshot, and takes the switch writes (command 0x02, one
 * record: 0xAB charge FET, 0xAC discharge FET, 0x9D balancer, value 0/1)
 * into it, so the next poll's status bits (0x8C) and settings show them.
 *
 * The reply to a write is not documented (protocols.md, bms/jk.c); the
 * simulator's is our assumption: command 0x02 from the BMS (source 0x00),
 * transport 0x01 (reply), the data echoing the record written. A write it
 * cannot take (another tag, a value other than 0/1, more than one record)
 * gets no reply, as a BMS that ignores it.
 */
#include <errno.h>
#include <string.h>

#include "bms/jk_wire.h"
#include "sim.h"

/* bms_check_fn over jk_check_at: the device looks for a request. */
static int jk_sim_check(const void *ctx, const uint8_t *p, size_t avail, size_t *ret_len)
{
	(void)ctx;
	return jk_check_at(p, avail, JK_WANT_REQUEST, ret_len);
}

static uint16_t jk_temp_raw(int16_t dc)
{
	int c = dc / 10;
	if (c >= 0)
		return (uint16_t)(c > 100 ? 100 : c);
	return (uint16_t)(100 - (c < -40 ? -40 : c));
}

static size_t jk_put_str(uint8_t *p, const char *s, size_t n)
{
	size_t l = strlen(s);
	memset(p, 0, n);
	memcpy(p, s, l < n ? l : n);
	return n;
}

/* A switch write's record taken into snap and echoed; 0 (silence) for any other write. */
static int jk_sim_write(struct bms_snapshot *snap, const uint8_t *req, size_t flen, uint8_t *out,
			size_t cap)
{
	if (flen != JK_MIN_FRAME + 2 || req[12] > 1)
		return 0;
	bool on = req[12] == 1;
	switch (req[11]) {
	case JK_TAG_CHARGE_SW:
		snap->charge_fet = on;
		break;
	case JK_TAG_DISCHARGE_SW:
		snap->discharge_fet = on;
		break;
	case JK_TAG_BALANCER:
		snap->balancer_enabled = on;
		break;
	default:
		return 0;
	}
	return jk_frame(out, cap, JK_CMD_WRITE, JK_SRC_BMS, JK_T_REPLY, req + 11, 2);
}

static int jk_sim_respond(struct bms_snapshot *snap, uint8_t address, const uint8_t *req,
			  size_t req_len, uint8_t *out, size_t cap)
{
	(void)address;
	size_t start, flen;
	if (bms_scan_frames(req, req_len, jk_sim_check, NULL, &start, &flen) != BMS_FIND_VALID)
		return 0;
	uint8_t cmd = req[start + 8];
	if (cmd == JK_CMD_WRITE)
		return jk_sim_write(snap, req + start, flen, out, cap);
	if (cmd != JK_CMD_READ_ALL && cmd != JK_CMD_READ_ONE)
		return 0; /* the BMS ignores what it does not understand */

	uint8_t d[JK_MAX_FRAME];
	size_t n = 0;
	unsigned cells = snap->cell_count > BMS_MAX_CELLS ? BMS_MAX_CELLS : snap->cell_count;
	d[n++] = 0x79;
	d[n++] = (uint8_t)(cells * 3);
	for (unsigned i = 0; i < cells; i++) {
		d[n++] = (uint8_t)(i + 1);
		put_u16be(d + n, snap->cell_mv[i]);
		n += 2;
	}
	d[n++] = 0x80;
	put_u16be(d + n, jk_temp_raw(snap->mosfet_temp_dc));
	n += 2;
	for (unsigned t = 0; t < 2; t++) {
		d[n++] = (uint8_t)(0x81 + t);
		put_u16be(d + n, jk_temp_raw(t < snap->temp_count ? snap->temp_dc[t] : 0));
		n += 2;
	}
	d[n++] = 0x83;
	put_u16be(d + n, (uint16_t)(snap->voltage_mv / 10));
	n += 2;
	int32_t ci = snap->current_ma / 10;
	uint16_t mag = (uint16_t)((ci < 0 ? -ci : ci) > 0x7FFF ? 0x7FFF : (ci < 0 ? -ci : ci));
	d[n++] = 0x84;
	put_u16be(d + n, (uint16_t)(mag | (ci > 0 ? 0x8000u : 0)));
	n += 2;
	d[n++] = 0x85;
	d[n++] = (uint8_t)(snap->soc_cpct / 100);
	/* the stated counts: the snapshot's when it has them, else what is sent
	 * (0x81 and 0x82; the MOSFET sensor is not counted) */
	bool counts = snap->valid & BMS_V_COUNTS;
	d[n++] = 0x86;
	d[n++] = counts ? snap->temps_reported : 2;
	d[n++] = 0x87;
	put_u16be(d + n, (uint16_t)snap->cycles);
	n += 2;
	d[n++] = 0x8A;
	put_u16be(d + n, counts ? snap->cells_reported : (uint16_t)cells);
	n += 2;
	uint16_t alarms = 0;
	for (unsigned a = 0; a < BMS_ALARM_COUNT; a++) {
		if (!snap->alarm[a])
			continue;
		for (size_t k = 0; k < JK_NALARM; k++)
			if (jk_alarm_map[k].alarm == a && jk_alarm_map[k].level == snap->alarm[a]) {
				alarms = (uint16_t)(alarms | (1u << jk_alarm_map[k].bit));
				break;
			}
	}
	d[n++] = 0x8B;
	put_u16be(d + n, alarms);
	n += 2;
	d[n++] = 0x8C;
	put_u16be(d + n, (uint16_t)((snap->charge_fet ? 1u : 0) | (snap->discharge_fet ? 2u : 0) |
				    (snap->balancer_enabled ? 4u : 0)));
	n += 2;
	d[n++] = 0x97;
	put_u16be(d + n, (uint16_t)(snap->max_discharge_ma / 1000));
	n += 2;
	d[n++] = 0x99;
	put_u16be(d + n, (uint16_t)(snap->max_charge_ma / 1000));
	n += 2;
	/* the switch settings a write sets; the status bits above say the same */
	d[n++] = JK_TAG_BALANCER;
	d[n++] = snap->balancer_enabled ? 1 : 0;
	d[n++] = 0xAA;
	put_u32be(d + n, (uint32_t)(snap->capacity_full_mah / 1000));
	n += 4;
	d[n++] = JK_TAG_CHARGE_SW;
	d[n++] = snap->charge_fet ? 1 : 0;
	d[n++] = JK_TAG_DISCHARGE_SW;
	d[n++] = snap->discharge_fet ? 1 : 0;
	d[n++] = 0xB7;
	n += jk_put_str(d + n, snap->sw_version, 15);
	d[n++] = 0xBA;
	n += jk_put_str(d + n, snap->serial, 24);
	d[n++] = 0xC0;
	d[n++] = 0x01;
	if (cmd == JK_CMD_READ_ALL)
		return jk_frame(out, cap, cmd, JK_SRC_BMS, JK_T_REPLY, d, n);

	/* read one: the record of the tag asked for, silence for one it does not hold */
	uint8_t tag = flen > JK_MIN_FRAME ? req[start + 11] : 0;
	for (size_t pos = 0; pos < n;) {
		size_t sz = d[pos] == 0x79 ? 1u + d[pos + 1] : jk_tag_size(d[pos]);
		if (d[pos] == tag)
			return jk_frame(out, cap, cmd, JK_SRC_BMS, JK_T_REPLY, d + pos, 1 + sz);
		pos += 1 + sz;
	}
	return 0;
}

const struct bms_sim bms_sim_jk = {"jk", jk_sim_respond};
