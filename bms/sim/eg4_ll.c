/* SPDX-License-Identifier: MIT */
/*
 * EG4 LL (Modbus RTU, function 0x03) device simulator (bms/sim/sim.h): the
 * pack at `address` answers the status read 0x0000 x 39; anything else,
 * another address or a bad CRC: silence. Status, protection and error words
 * stay 0 (the driver maps no alarm from them).
 */
#include <errno.h>
#include <string.h>

#include "bms/bytes.h"
#include "bms/modbus_rtu.h"
#include "sim.h"

static uint16_t to_u16(int64_t v)
{
	return v < 0 ? 0 : v > 0xFFFF ? 0xFFFF : (uint16_t)v;
}

static int8_t to_s8(int v)
{
	return (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v);
}

static int ll_sim_status(const struct bms_snapshot *s, uint8_t addr, uint8_t *out, size_t cap)
{
	uint8_t pdu[1 + 78];
	uint8_t *d = pdu + 1;
	memset(pdu, 0, sizeof(pdu));
	pdu[0] = 78;
	unsigned cells = s->cell_count > 16 ? 16 : s->cell_count;
	put_u16be(d + 0, to_u16(s->voltage_mv / 10));
	put_u16be(d + 2, (uint16_t)(int16_t)(s->current_ma / 100));
	for (unsigned i = 0; i < cells; i++)
		put_u16be(d + 4 + 2 * i, s->cell_mv[i]);
	int mos = (s->valid & BMS_V_MOSFET_TEMP) ? s->mosfet_temp_dc / 10 : 25;
	put_u16be(d + 36, (uint16_t)(int16_t)mos);
	put_u16be(d + 46, (s->valid & BMS_V_SOH) ? (uint16_t)(s->soh_cpct / 100) : 100);
	put_u16be(d + 48, (uint16_t)(s->soc_cpct / 100));
	d[50] = s->heating ? 0x80 : 0;
	/* status: charging 0x0100, discharging 0x0200, standby 0 */
	d[51] = s->current_ma > 0 ? 0x01 : s->current_ma < 0 ? 0x02 : 0;
	put_u32be(d + 58, s->cycles);
	/* a state's valid bits say what a decode carried, not what a pack has: by value */
	if (s->capacity_full_mah > 0) {
		put_u16be(d + 42, to_u16(s->capacity_remain_mah / 100));
		put_u32be(d + 62, (uint32_t)s->capacity_full_mah * 3600u);
	}
	if (s->capacity_design_mah > 0)
		put_u16be(d + 74, to_u16(s->capacity_design_mah / 100));
	/* sensors after the last read 0: not fitted */
	for (unsigned i = 0; i < 4 && i < s->temp_count; i++)
		d[66 + i] = (uint8_t)to_s8(s->temp_dc[i] / 10);
	put_u16be(d + 72, (uint16_t)cells);
	int r = bms_modbus_frame(addr, BMS_MODBUS_READ_HOLDING, pdu, sizeof(pdu), out, cap);
	return r == -ENOBUFS ? -ENOSPC : r;
}

static int ll_sim_respond(struct bms_snapshot *snap, uint8_t address, const uint8_t *req,
			  size_t req_len, uint8_t *out, size_t cap)
{
	struct bms_modbus_req q;
	uint8_t addr = address ? address : 1;
	if (bms_modbus_parse_request(req, req_len, &q) < 0 || req_len != 8 || q.addr != addr ||
	    q.fn != BMS_MODBUS_READ_HOLDING || q.start != 0 || q.count != 0x27)
		return 0;
	return ll_sim_status(snap, addr, out, cap);
}

const struct bms_sim bms_sim_eg4_ll = {"eg4_ll", ll_sim_respond};
