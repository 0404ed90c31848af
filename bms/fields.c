/* SPDX-License-Identifier: MIT */
/* The field table and the conversions it drives; see fields.h. */
#include "fields.h"

#include <errno.h>
#include <string.h>

#define F(id, k, c, bit, member, t, sc, u, ru)                                                     \
	[id] = {.key = k,                                                                          \
		.csv = c,                                                                          \
		.valid = bit,                                                                      \
		.offset = offsetof(struct bms_snapshot, member),                                   \
		.type = t,                                                                         \
		.scale = sc,                                                                       \
		.unit = u,                                                                         \
		.raw_unit = ru}

/* In JSON key order: the writer emits them in this order (docs/SIMULATOR.md). */
const struct bms_field bms_fields[BMS_FIELD_COUNT] = {
	F(BMS_FIELD_VOLTAGE, "voltage_v", "", BMS_V_VOLTAGE, voltage_mv, BMS_FT_I32,
	  BMS_SCALE_MILLI, "V", "mV"),
	F(BMS_FIELD_CURRENT, "current_a", "current", BMS_V_CURRENT, current_ma, BMS_FT_I32,
	  BMS_SCALE_MILLI, "A", "mA"),
	F(BMS_FIELD_POWER, "power_w", "", BMS_V_POWER, power_mw, BMS_FT_I64, BMS_SCALE_MILLI, "W",
	  "mW"),
	F(BMS_FIELD_SOC, "soc_pct", "soc", BMS_V_SOC, soc_cpct, BMS_FT_U16, BMS_SCALE_CENTI, "%",
	  "0.01 %"),
	F(BMS_FIELD_SOH, "soh_pct", "", BMS_V_SOH, soh_cpct, BMS_FT_U16, BMS_SCALE_CENTI, "%",
	  "0.01 %"),
	F(BMS_FIELD_CAP_REMAIN, "capacity_remaining_ah", "", BMS_V_CAP_REMAIN, capacity_remain_mah,
	  BMS_FT_I32, BMS_SCALE_MILLI, "Ah", "mAh"),
	F(BMS_FIELD_CAP_FULL, "capacity_full_ah", "", BMS_V_CAP_FULL, capacity_full_mah, BMS_FT_I32,
	  BMS_SCALE_MILLI, "Ah", "mAh"),
	F(BMS_FIELD_CAP_DESIGN, "capacity_design_ah", "", BMS_V_CAP_DESIGN, capacity_design_mah,
	  BMS_FT_I32, BMS_SCALE_MILLI, "Ah", "mAh"),
	F(BMS_FIELD_CYCLES, "cycles", "", BMS_V_CYCLES, cycles, BMS_FT_U32, BMS_SCALE_ONE, "", ""),
	[BMS_FIELD_CELL_COUNT] = {.key = "cell_count",
				  .valid = BMS_V_CELLS,
				  .offset = offsetof(struct bms_snapshot, cell_count),
				  .type = BMS_FT_U8,
				  .scale = BMS_SCALE_ONE,
				  .unit = "",
				  .raw_unit = "",
				  .max = BMS_MAX_CELLS},
	F(BMS_FIELD_CELLS, "cell_voltages_v", "cell", BMS_V_CELLS, cell_mv, BMS_FT_CELLS,
	  BMS_SCALE_MILLI, "V", "mV"),
	F(BMS_FIELD_TEMPS, "temperatures_c", "temp", BMS_V_TEMPS, temp_dc, BMS_FT_TEMPS,
	  BMS_SCALE_DECI, "degC", "0.1 degC"),
	F(BMS_FIELD_MOSFET_TEMP, "mosfet_temp_c", "mosfet", BMS_V_MOSFET_TEMP, mosfet_temp_dc,
	  BMS_FT_I16, BMS_SCALE_DECI, "degC", "0.1 degC"),
	F(BMS_FIELD_CHARGE_FET, "charge_fet", "charge_fet", BMS_V_FETS, charge_fet, BMS_FT_BOOL,
	  BMS_SCALE_ONE, "", ""),
	F(BMS_FIELD_DISCHARGE_FET, "discharge_fet", "discharge_fet", BMS_V_FETS, discharge_fet,
	  BMS_FT_BOOL, BMS_SCALE_ONE, "", ""),
	F(BMS_FIELD_BALANCING, "balancing", "", BMS_V_BALANCING, balancing, BMS_FT_BITS,
	  BMS_SCALE_ONE, "", ""),
	F(BMS_FIELD_BALANCER, "balancer_enabled", "", BMS_V_BALANCER, balancer_enabled, BMS_FT_BOOL,
	  BMS_SCALE_ONE, "", ""),
	F(BMS_FIELD_ALARMS, "alarms", "", BMS_V_ALARMS, alarm, BMS_FT_ALARMS, BMS_SCALE_ONE, "",
	  ""),
	F(BMS_FIELD_MAX_CHARGE_I, "max_charge_current_a", "bms_max_charge", BMS_V_MAX_CHARGE_I,
	  max_charge_ma, BMS_FT_I32, BMS_SCALE_MILLI, "A", "mA"),
	F(BMS_FIELD_MAX_DISCHARGE_I, "max_discharge_current_a", "bms_max_discharge",
	  BMS_V_MAX_DISCHARGE_I, max_discharge_ma, BMS_FT_I32, BMS_SCALE_MILLI, "A", "mA"),
	F(BMS_FIELD_SERIAL, "serial", "", BMS_V_SERIAL, serial, BMS_FT_STR, BMS_SCALE_ONE, "", ""),
	F(BMS_FIELD_MODEL, "model", "", BMS_V_MODEL, model, BMS_FT_STR, BMS_SCALE_ONE, "", ""),
	F(BMS_FIELD_HW_VERSION, "hw_version", "", BMS_V_HW_VERSION, hw_version, BMS_FT_STR,
	  BMS_SCALE_ONE, "", ""),
	F(BMS_FIELD_SW_VERSION, "sw_version", "", BMS_V_SW_VERSION, sw_version, BMS_FT_STR,
	  BMS_SCALE_ONE, "", ""),
	[BMS_FIELD_CELLS_REPORTED] = {.key = "bms_cell_count",
				      .valid = BMS_V_COUNTS,
				      .offset = offsetof(struct bms_snapshot, cells_reported),
				      .type = BMS_FT_U8,
				      .scale = BMS_SCALE_ONE,
				      .unit = "",
				      .raw_unit = "",
				      .max = BMS_MAX_CELLS},
	[BMS_FIELD_TEMPS_REPORTED] = {.key = "bms_temp_count",
				      .valid = BMS_V_COUNTS,
				      .offset = offsetof(struct bms_snapshot, temps_reported),
				      .type = BMS_FT_U8,
				      .scale = BMS_SCALE_ONE,
				      .unit = "",
				      .raw_unit = ""},
	F(BMS_FIELD_PROT_EVENTS, "protection_events", "", BMS_V_PROT_EVENTS, prot_events,
	  BMS_FT_PROT, BMS_SCALE_ONE, "", ""),
	/* no plan CSV columns: the charge rules do not read the heater */
	F(BMS_FIELD_HEATING, "heating", "", BMS_V_HEATING, heating, BMS_FT_BOOL, BMS_SCALE_ONE, "",
	  ""),
	F(BMS_FIELD_HEATER_CURRENT, "heater_current_a", "", BMS_V_HEATER_CURRENT, heater_current_ma,
	  BMS_FT_I32, BMS_SCALE_MILLI, "A", "mA"),
	F(BMS_FIELD_HEATING_ENABLED, "heating_enabled", "", BMS_V_HEATER_SETTINGS, heating_enabled,
	  BMS_FT_BOOL, BMS_SCALE_ONE, "", ""),
	F(BMS_FIELD_HEATING_START, "heating_start_c", "", BMS_V_HEATER_SETTINGS, heating_start_dc,
	  BMS_FT_I16, BMS_SCALE_DECI, "degC", "0.1 degC"),
	F(BMS_FIELD_HEATING_STOP, "heating_stop_c", "", BMS_V_HEATER_SETTINGS, heating_stop_dc,
	  BMS_FT_I16, BMS_SCALE_DECI, "degC", "0.1 degC"),
};
#undef F

const struct bms_field *bms_field_by_key(const char *key)
{
	for (unsigned i = 0; key && i < BMS_FIELD_COUNT; i++)
		if (strcmp(bms_fields[i].key, key) == 0)
			return &bms_fields[i];
	return NULL;
}

const struct bms_field *bms_field_by_csv(const char *column)
{
	for (unsigned i = 0; column && i < BMS_FIELD_COUNT; i++) {
		const struct bms_field *f = &bms_fields[i];
		if (f->csv[0] && bms_field_cap(f) == 0 && strcmp(f->csv, column) == 0)
			return f;
	}
	return NULL;
}

int bms_field_decimals(const struct bms_field *f)
{
	int d = 0;
	for (unsigned s = f->scale; s >= 10; s /= 10)
		d++;
	return d;
}

int64_t bms_from_si(double si, unsigned scale, int64_t lo, int64_t hi)
{
	double m = si * (double)scale;
	/* NaN and the ends saturate; the casts below are then always defined */
	if (!(m > (double)lo))
		return m != m ? 0 : lo;
	if (m >= (double)hi)
		return hi;
	int64_t r = (int64_t)(m + (m >= 0 ? 0.5 : -0.5));
	return r < lo ? lo : r > hi ? hi : r;
}

static const void *at(const struct bms_field *f, const struct bms_snapshot *s)
{
	return (const char *)s + f->offset;
}

static void *at_mut(const struct bms_field *f, struct bms_snapshot *s)
{
	return (char *)s + f->offset;
}

double bms_field_get(const struct bms_field *f, const struct bms_snapshot *s)
{
	const void *p = at(f, s);
	int64_t raw;
	switch (f->type) {
	case BMS_FT_I32:
		raw = *(const int32_t *)p;
		break;
	case BMS_FT_U32:
		raw = *(const uint32_t *)p;
		break;
	case BMS_FT_I64:
		raw = *(const int64_t *)p;
		break;
	case BMS_FT_U16:
		raw = *(const uint16_t *)p;
		break;
	case BMS_FT_I16:
		raw = *(const int16_t *)p;
		break;
	case BMS_FT_U8:
		raw = *(const uint8_t *)p;
		break;
	case BMS_FT_BOOL:
		raw = *(const bool *)p ? 1 : 0;
		break;
	default:
		return 0;
	}
	return bms_to_si(raw, f->scale);
}

unsigned bms_field_cap(const struct bms_field *f)
{
	return f->type == BMS_FT_CELLS   ? BMS_MAX_CELLS
	       : f->type == BMS_FT_TEMPS ? BMS_MAX_TEMPS
					 : 0;
}

unsigned bms_field_len(const struct bms_field *f, const struct bms_snapshot *s)
{
	unsigned n = f->type == BMS_FT_CELLS   ? s->cell_count
		     : f->type == BMS_FT_TEMPS ? s->temp_count
					       : 0;
	unsigned cap = bms_field_cap(f);
	return n > cap ? cap : n;
}

double bms_field_elem(const struct bms_field *f, const struct bms_snapshot *s, unsigned i)
{
	if (i >= bms_field_cap(f))
		return 0;
	if (f->type == BMS_FT_CELLS)
		return bms_to_si(((const uint16_t *)at(f, s))[i], f->scale);
	return bms_to_si(((const int16_t *)at(f, s))[i], f->scale);
}

int bms_field_set_elem(const struct bms_field *f, struct bms_snapshot *s, unsigned i, double si)
{
	if (i >= bms_field_cap(f))
		return -EINVAL;
	if (f->type == BMS_FT_CELLS)
		((uint16_t *)at_mut(f, s))[i] = (uint16_t)bms_from_si(si, f->scale, 0, UINT16_MAX);
	else
		((int16_t *)at_mut(f, s))[i] =
			(int16_t)bms_from_si(si, f->scale, INT16_MIN, INT16_MAX);
	return 0;
}

int bms_field_set(const struct bms_field *f, struct bms_snapshot *s, double si)
{
	void *p = at_mut(f, s);
	if (f->max && (si < 0 || si > f->max))
		return -ERANGE;
	switch (f->type) {
	case BMS_FT_I32:
		*(int32_t *)p = (int32_t)bms_from_si(si, f->scale, INT32_MIN, INT32_MAX);
		break;
	case BMS_FT_U32:
		*(uint32_t *)p = (uint32_t)bms_from_si(si, f->scale, 0, UINT32_MAX);
		break;
	case BMS_FT_I64:
		*(int64_t *)p = bms_from_si(si, f->scale, INT64_MIN, INT64_MAX);
		break;
	case BMS_FT_U16:
		*(uint16_t *)p = (uint16_t)bms_from_si(si, f->scale, 0, UINT16_MAX);
		break;
	case BMS_FT_I16:
		*(int16_t *)p = (int16_t)bms_from_si(si, f->scale, INT16_MIN, INT16_MAX);
		break;
	case BMS_FT_U8:
		*(uint8_t *)p = (uint8_t)bms_from_si(si, f->scale, 0, UINT8_MAX);
		break;
	case BMS_FT_BOOL:
		*(bool *)p = si != 0;
		break;
	default:
		return -EINVAL;
	}
	s->valid |= f->valid;
	return 0;
}

size_t bms_field_size(const struct bms_field *f)
{
	switch (f->type) {
	case BMS_FT_I32:
	case BMS_FT_U32:
	case BMS_FT_BITS:
		return 4;
	case BMS_FT_I64:
		return 8;
	case BMS_FT_U16:
	case BMS_FT_I16:
		return 2;
	case BMS_FT_U8:
		return 1;
	case BMS_FT_BOOL:
		return sizeof(bool);
	case BMS_FT_STR:
		return BMS_STR_LEN;
	case BMS_FT_CELLS:
		return sizeof(((struct bms_snapshot *)0)->cell_mv);
	case BMS_FT_TEMPS:
		return sizeof(((struct bms_snapshot *)0)->temp_dc);
	case BMS_FT_ALARMS:
		return sizeof(((struct bms_snapshot *)0)->alarm);
	case BMS_FT_PROT:
		return sizeof(((struct bms_snapshot *)0)->prot_events);
	}
	return 0;
}

/* Walks the field table, so a new field is copied without a second list. */
void bms_snapshot_copy_fields(struct bms_snapshot *dst, const struct bms_snapshot *src,
			      uint32_t bits)
{
	for (size_t i = 0; i < BMS_FIELD_COUNT; i++) {
		const struct bms_field *f = &bms_fields[i];
		if (!(bits & f->valid))
			continue;
		memcpy((char *)dst + f->offset, (const char *)src + f->offset, bms_field_size(f));
		if (f->type == BMS_FT_TEMPS) /* its count has no entry of its own */
			dst->temp_count = src->temp_count;
		dst->valid |= f->valid;
	}
}
