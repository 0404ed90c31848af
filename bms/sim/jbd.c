/* SPDX-License-Identifier: MIT */
/*
 * JBD 0xDD device simulator (bms/sim/sim.h): answers the reads 0x03, 0x04,
 * 0x05 and 0xAA from a snapshot and implements MOSFET control 0xE1 (bit0
 * set = charge FET off, bit1 set = discharge FET off): the FET state changes
 * in the snapshot and shows in the next 0x03.
 *
 * Factory mode, as the BMS keeps it: register 0x00 with 56 78 enters it,
 * register 0x01 (00 00 discard or 28 28 save) leaves it; the EEPROM words
 * 0x28/0x29 (charge / discharge over-current, s16 10 mA, discharge stored
 * negative) are answered from max_charge_ma / max_discharge_ma only inside
 * it, status 0x80 outside. Other writes are refused (status 0x80).
 *
 * The interface gives a simulator no state of its own, so the mode is kept
 * per device, the device being the snapshot it answers from (one per
 * simulated unit): a small table of the snapshots now in factory mode.
 * bms_sim_jbd_factory_mode() tells a test whether a unit was left in it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bms/jbd_wire.h"
#include "sim.h"

static int sim_reply(uint8_t reg, uint8_t status, const uint8_t *data, size_t n, uint8_t *out,
		     size_t cap)
{
	if (n > 255)
		return -EINVAL;
	if (cap < n + JBD_OVERHEAD)
		return -ENOSPC;
	out[0] = JBD_START;
	out[1] = reg;
	out[2] = status;
	out[3] = (uint8_t)n;
	if (n)
		memcpy(out + 4, data, n);
	put_u16be(out + 4 + n, jbd_sum(out + 2, n + 2));
	out[6 + n] = JBD_END;
	return (int)(n + JBD_OVERHEAD);
}

/* The units in factory mode, by the snapshot they answer from (see the header). */
#define SIM_FACTORY_UNITS 32
static const struct bms_snapshot *factory_units[SIM_FACTORY_UNITS];
static unsigned factory_next; /* the slot to reuse when all are taken (oldest first) */

static int factory_slot(const struct bms_snapshot *dev)
{
	for (unsigned i = 0; i < SIM_FACTORY_UNITS; i++)
		if (factory_units[i] == dev)
			return (int)i;
	return -1;
}

bool bms_sim_jbd_factory_mode(const struct bms_snapshot *dev)
{
	return dev && factory_slot(dev) >= 0;
}

static void factory_set(const struct bms_snapshot *dev, bool on)
{
	int i = factory_slot(dev);
	if (!on) {
		if (i >= 0)
			factory_units[i] = NULL;
		return;
	}
	if (i >= 0)
		return;
	i = factory_slot(NULL);
	if (i < 0) {
		i = (int)factory_next;
		factory_next = (factory_next + 1) % SIM_FACTORY_UNITS;
	}
	factory_units[i] = dev;
}

static int sim_frame(uint8_t reg, const uint8_t *data, size_t n, uint8_t *out, size_t cap)
{
	return sim_reply(reg, JBD_STATUS_OK, data, n, out, cap);
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
	int32_t nominal =
		(s->valid & BMS_V_CAP_DESIGN) ? s->capacity_design_mah : s->capacity_full_mah;
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
	/* the configured string count: the stated one when the state has it */
	d[21] = (s->valid & BMS_V_COUNTS) ? s->cells_reported : s->cell_count;
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

/* A write request DD 5A reg n data chk 77: MOSFET control is the one we implement. */
static int sim_write(struct bms_snapshot *snap, const uint8_t *req, size_t req_len, uint8_t *out,
		     size_t cap)
{
	size_t n = req[3];
	if (req_len != n + JBD_OVERHEAD || req[req_len - 1] != JBD_END ||
	    jbd_sum(req + 2, n + 2) != (uint16_t)((req[4 + n] << 8) | req[5 + n]))
		return 0;
	if (req[2] == JBD_REG_FACTORY && n == 2 && req[4] == JBD_FACTORY_KEY_HI &&
	    req[5] == JBD_FACTORY_KEY_LO) {
		factory_set(snap, true);
		return sim_frame(JBD_REG_FACTORY, NULL, 0, out, cap);
	}
	if (req[2] == JBD_REG_FACTORY_EXIT && n == 2 &&
	    ((req[4] == 0 && req[5] == 0) || (req[4] == JBD_SAVE && req[5] == JBD_SAVE))) {
		/* nothing was changed, so saving and discarding are the same here */
		factory_set(snap, false);
		return sim_frame(JBD_REG_FACTORY_EXIT, NULL, 0, out, cap);
	}
	if (req[2] != JBD_REG_MOSFET || n != 2 || req[4] != 0 || req[5] > 3)
		return sim_reply(req[2], JBD_STATUS_ERR, NULL, 0, out, cap);
	snap->charge_fet = !(req[5] & 1);
	snap->discharge_fet = !(req[5] & 2);
	snap->valid |= BMS_V_FETS;
	return sim_frame(JBD_REG_MOSFET, NULL, 0, out, cap);
}

static int jbd_sim_respond(struct bms_snapshot *snap, uint8_t address, const uint8_t *req,
			   size_t req_len, uint8_t *out, size_t cap)
{
	(void)address;
	if (req_len >= JBD_OVERHEAD && req[0] == JBD_START && req[1] == JBD_WRITE)
		return sim_write(snap, req, req_len, out, cap);
	/* otherwise the device answers only a well-formed read */
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
	case JBD_REG_MODEL: {
		/* a unit with no model string stays silent, as clones without 0x05 do */
		size_t n = strnlen(snap->model, sizeof(snap->model));
		return n ? sim_frame(JBD_REG_MODEL, (const uint8_t *)snap->model, n, out, cap) : 0;
	}
	case JBD_REG_ERRORS: {
		/* the 11 counters (zeros when the state has none), then the unnamed 12th word */
		uint8_t d[2 * BMS_PROT_COUNT + 2];
		memset(d, 0, sizeof(d));
		for (unsigned i = 0; i < BMS_PROT_COUNT && (snap->valid & BMS_V_PROT_EVENTS); i++)
			put_u16be(d + 2 * i, snap->prot_events[i]);
		return sim_frame(JBD_REG_ERRORS, d, sizeof(d), out, cap);
	}
	case JBD_REG_CHG_OC:
	case JBD_REG_DSG_OC: {
		if (!bms_sim_jbd_factory_mode(snap))
			return sim_reply(req[2], JBD_STATUS_ERR, NULL, 0, out, cap);
		bool chg = req[2] == JBD_REG_CHG_OC;
		uint32_t bit = chg ? BMS_V_MAX_CHARGE_I : BMS_V_MAX_DISCHARGE_I;
		int32_t ma = (snap->valid & bit)
				     ? (chg ? snap->max_charge_ma : snap->max_discharge_ma)
				     : 0;
		int32_t raw = ma / 10;
		raw = raw > 32767 ? 32767 : raw < 0 ? 0 : raw;
		uint8_t d[2];
		put_u16be(d, (uint16_t)(int16_t)(chg ? raw : -raw));
		return sim_frame(req[2], d, sizeof(d), out, cap);
	}
	default:
		return 0;
	}
}

const struct bms_sim bms_sim_jbd = {"jbd", jbd_sim_respond};
