/* SPDX-License-Identifier: MIT */
/*
 * Sinowealth (old Daly boards) device simulator (bms/sim/sim.h): answers a
 * register read `0A reg width` with the register's data and the CRC-8, from
 * the snapshot. The board has 3..10 cells (the count it states is clamped
 * there, the pack voltage then their sum) and one external sensor, two when the snapshot has two or
 * more. No echo, no address. Registers it does not know, a width that is not the register's, and
 * anything else on the line: silence.
 */
#include <errno.h>
#include <string.h>

#include "bms/bytes.h"
#include "bms/sinowealth_wire.h"
#include "sim.h"

static uint16_t clamp_u16(int64_t v)
{
	return v < 0 ? 0 : v > 0xFFFF ? 0xFFFF : (uint16_t)v;
}

static uint16_t temp_dk(const struct bms_snapshot *s, unsigned i)
{
	if (i >= s->temp_count)
		return SW_KELVIN_DK + 250; /* a sensor the pack has always reads */
	return clamp_u16((int64_t)s->temp_dc[i] + SW_KELVIN_DK);
}

static unsigned sim_cells(const struct bms_snapshot *s)
{
	return s->cell_count < SW_MIN_CELLS   ? SW_MIN_CELLS
	       : s->cell_count > SW_MAX_CELLS ? SW_MAX_CELLS
					      : s->cell_count;
}

/* A state with more cells than a board has (the default 16S pack) plays a
 * board of the cells it states: its pack voltage is their sum. */
static int32_t pack_mv(const struct bms_snapshot *s)
{
	if (s->cell_count == sim_cells(s))
		return s->voltage_mv;
	int32_t sum = 0;
	for (unsigned i = 0; i < sim_cells(s); i++)
		sum += i < s->cell_count ? s->cell_mv[i] : 0;
	return sum;
}

static void battery_status(const struct bms_snapshot *s, uint8_t *d)
{
	d[0] = d[1] = 0;
	if (!(s->valid & BMS_V_ALARMS))
		return;
	const uint8_t *a = s->alarm;
	if (a[BMS_ALARM_HIGH_CHARGE_TEMPERATURE])
		d[0] |= SW_BS_OTC;
	if (a[BMS_ALARM_HIGH_TEMPERATURE])
		d[0] |= SW_BS_OTD;
	if (a[BMS_ALARM_LOW_CHARGE_TEMPERATURE])
		d[0] |= SW_BS_UTC;
	if (a[BMS_ALARM_LOW_TEMPERATURE])
		d[0] |= SW_BS_UTD;
	if (a[BMS_ALARM_HIGH_CURRENT])
		d[0] |= SW_BS_AFE_SC;
	if (a[BMS_ALARM_HIGH_VOLTAGE])
		d[1] |= SW_BS_OV;
	if (a[BMS_ALARM_LOW_VOLTAGE])
		d[1] |= SW_BS_UV;
	if (a[BMS_ALARM_HIGH_CHARGE_CURRENT])
		d[1] |= SW_BS_OCC;
	if (a[BMS_ALARM_HIGH_DISCHARGE_CURRENT])
		d[1] |= SW_BS_OCD;
}

static int sw_sim_respond(struct bms_snapshot *snap, uint8_t address, const uint8_t *req,
			  size_t req_len, uint8_t *out, size_t cap)
{
	(void)address;
	if (req_len != SW_REQ_LEN || req[0] != SW_START || !sw_reg_known(req[1]) ||
	    req[2] != sw_width(req[1]))
		return 0;
	uint8_t reg = req[1], w = req[2];
	if (cap < w + 1u)
		return -ENOBUFS;
	const struct bms_snapshot *s = snap;
	uint8_t *d = out;
	memset(d, 0, w);
	if (reg >= SW_REG_CELL1 && reg <= SW_REG_CELL10) {
		unsigned i = reg - SW_REG_CELL1;
		put_u16be(d, i < sim_cells(s) ? s->cell_mv[i] : 0);
	} else {
		switch (reg) {
		case SW_REG_VOLTAGE:
			put_u16be(d, clamp_u16(pack_mv(s)));
			break;
		case SW_REG_EXT_TEMP1:
		case SW_REG_EXT_TEMP2:
			put_u16be(d, temp_dk(s, reg - SW_REG_EXT_TEMP1));
			break;
		case SW_REG_IC_TEMP1:
		case SW_REG_IC_TEMP2:
			put_u16be(d, SW_KELVIN_DK + 300);
			break;
		case SW_REG_CURRENT:
			put_u32be(d, (uint32_t)s->current_ma);
			break;
		case SW_REG_FULL:
			put_u32be(d,
				  (uint32_t)(s->capacity_full_mah < 0 ? 0 : s->capacity_full_mah));
			break;
		case SW_REG_REMAIN:
			put_u32be(d,
				  (uint32_t)(s->capacity_remain_mah < 0 ? 0
									: s->capacity_remain_mah));
			break;
		case SW_REG_SOC:
			put_u16be(d, (uint16_t)(s->soc_cpct > 10000 ? 100 : s->soc_cpct / 100));
			break;
		case SW_REG_CYCLES:
			put_u16be(d, clamp_u16(s->cycles));
			break;
		case SW_REG_PACK_STATUS:
			d[1] = (uint8_t)((s->charge_fet ? SW_PS_CHG_FET : 0) |
					 (s->discharge_fet ? SW_PS_DSG_FET : 0) |
					 (s->current_ma > 0 ? SW_PS_CHARGING : 0) |
					 (s->current_ma < 0 ? SW_PS_DISCHARGING : 0));
			break;
		case SW_REG_BATT_STATUS:
			battery_status(s, d);
			break;
		case SW_REG_CONFIG:
			d[1] = (uint8_t)((sim_cells(s) - SW_MIN_CELLS) |
					 (s->temp_count >= 2 ? SW_CFG_TWO_SENSORS : 0));
			break;
		default:
			return 0;
		}
	}
	d[w] = sw_reply_crc(reg, d, w);
	return w + 1;
}

const struct bms_sim bms_sim_sinowealth = {"sinowealth", sw_sim_respond};
