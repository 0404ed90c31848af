/* SPDX-License-Identifier: MIT */
/*
 * The snapshot's fields described once: JSON key, plan CSV column, valid
 * bit, offset, type, scale and unit. The JSON codec (bms/snapshot_json.c),
 * the plan CSV reader (tools/cmd_plan.c) and the driver tests' key map
 * (tests/bms/driver_checks.c) walk this table; publish/ converts with the
 * same scales (the helpers below), so a unit is stated in one place.
 *
 * Units of struct bms_snapshot (bms/bms.h) and the SI unit they are shown
 * in: raw = SI x scale.
 */
#ifndef SB_BMS_FIELDS_H
#define SB_BMS_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bms/bms.h"

#define BMS_SCALE_MILLI 1000 /* mV -> V, mA -> A, mAh -> Ah, mW -> W */
#define BMS_SCALE_CENTI 100  /* 0.01 % -> % */
#define BMS_SCALE_DECI 10    /* 0.1 degC -> degC */
#define BMS_SCALE_ONE 1

/* Raw snapshot units to SI doubles: the only conversions in the tree. */
static inline double bms_to_si(int64_t raw, unsigned scale)
{
	return (double)raw / (double)scale;
}
static inline double bms_mv_to_v(int64_t mv)
{
	return bms_to_si(mv, BMS_SCALE_MILLI);
}
static inline double bms_ma_to_a(int64_t ma)
{
	return bms_to_si(ma, BMS_SCALE_MILLI);
}
static inline double bms_mah_to_ah(int64_t mah)
{
	return bms_to_si(mah, BMS_SCALE_MILLI);
}
static inline double bms_mw_to_w(int64_t mw)
{
	return bms_to_si(mw, BMS_SCALE_MILLI);
}
static inline double bms_dc_to_c(int64_t dc)
{
	return bms_to_si(dc, BMS_SCALE_DECI);
}
static inline double bms_cpct_to_pct(int64_t cpct)
{
	return bms_to_si(cpct, BMS_SCALE_CENTI);
}

/* SI -> raw, rounded half away from zero and saturated to [lo, hi]. */
int64_t bms_from_si(double si, unsigned scale, int64_t lo, int64_t hi);

/* How a field is stored in the snapshot. */
enum bms_field_type {
	BMS_FT_I32,
	BMS_FT_U32,
	BMS_FT_I64,
	BMS_FT_U16,
	BMS_FT_I16,
	BMS_FT_U8,
	BMS_FT_BOOL,
	BMS_FT_STR,    /* char[BMS_STR_LEN] */
	BMS_FT_CELLS,  /* uint16_t cell_mv[cell_count] */
	BMS_FT_TEMPS,  /* int16_t temp_dc[temp_count] */
	BMS_FT_BITS,   /* uint32_t mask, bit n = cell n+1; JSON: the 1-based numbers */
	BMS_FT_ALARMS, /* uint8_t alarm[BMS_ALARM_COUNT]; JSON: {"LowVoltage": 0, ...} */
	BMS_FT_PROT,   /* uint16_t prot_events[BMS_PROT_COUNT]; JSON: {"short_circuit": 0, ...} */
};

/* Field ids: the index of each field in bms_fields[], in JSON key order. */
enum bms_field_id {
	BMS_FIELD_VOLTAGE,
	BMS_FIELD_CURRENT,
	BMS_FIELD_POWER,
	BMS_FIELD_SOC,
	BMS_FIELD_SOH,
	BMS_FIELD_CAP_REMAIN,
	BMS_FIELD_CAP_FULL,
	BMS_FIELD_CAP_DESIGN,
	BMS_FIELD_CYCLES,
	BMS_FIELD_CELL_COUNT,
	BMS_FIELD_CELLS,
	BMS_FIELD_TEMPS,
	BMS_FIELD_MOSFET_TEMP,
	BMS_FIELD_CHARGE_FET,
	BMS_FIELD_DISCHARGE_FET,
	BMS_FIELD_BALANCING,
	BMS_FIELD_BALANCER,
	BMS_FIELD_ALARMS,
	BMS_FIELD_MAX_CHARGE_I,
	BMS_FIELD_MAX_DISCHARGE_I,
	BMS_FIELD_SERIAL,
	BMS_FIELD_MODEL,
	BMS_FIELD_HW_VERSION,
	BMS_FIELD_SW_VERSION,
	BMS_FIELD_CELLS_REPORTED,
	BMS_FIELD_TEMPS_REPORTED,
	BMS_FIELD_PROT_EVENTS,
	BMS_FIELD_HEATING,
	BMS_FIELD_HEATER_CURRENT,
	BMS_FIELD_HEATING_ENABLED,
	BMS_FIELD_HEATING_START,
	BMS_FIELD_HEATING_STOP,
	BMS_FIELD_COUNT
};

/*
 * Names are arrays, not pointers: the table is plain read-only data with no
 * relocations (in a position-independent daemon each pointer costs a
 * relocation entry three times its size).
 */
struct bms_field {
	char key[24];      /* JSON key (and the vectors' key) */
	char csv[20];      /* plan CSV column (arrays: the prefix of cell1.., temp1..); "" = none */
	char unit[8];      /* SI unit of the JSON value, "" for counts and flags */
	char raw_unit[12]; /* unit in the snapshot */
	uint32_t valid;    /* enum bms_valid bit */
	uint16_t offset;   /* offsetof(struct bms_snapshot, ...) */
	uint8_t type;      /* enum bms_field_type */
	uint8_t max;    /* counts (cell_count): the highest value a reader accepts; 0 = the type's
			   range */
	uint16_t scale; /* raw units per SI unit; JSON decimals = log10(scale) */
};

extern const struct bms_field bms_fields[BMS_FIELD_COUNT];

/* The field with this JSON key, or NULL. */
const struct bms_field *bms_field_by_key(const char *key);
/* The field with this plan CSV column (exact, not the array prefixes), or NULL. */
const struct bms_field *bms_field_by_csv(const char *column);

/* JSON decimals of a field: 3 for mV -> V, 0 for counts. */
int bms_field_decimals(const struct bms_field *f);

/*
 * A scalar field (integer types and BOOL) of s in SI units, or an element i
 * of CELLS / TEMPS. Does not look at the valid bit.
 */
double bms_field_get(const struct bms_field *f, const struct bms_snapshot *s);
double bms_field_elem(const struct bms_field *f, const struct bms_snapshot *s, unsigned i);
/* Number of elements of an array field (clamped to its capacity). */
unsigned bms_field_len(const struct bms_field *f, const struct bms_snapshot *s);

/*
 * Set a scalar field from an SI value (rounded, saturated to the type) and
 * its valid bit. -ERANGE when a count is above f->max (nothing set), -EINVAL
 * for a field that is not a scalar.
 */
int bms_field_set(const struct bms_field *f, struct bms_snapshot *s, double si);
/* Set element i (< capacity) of CELLS / TEMPS from an SI value; no count, no valid bit. */
int bms_field_set_elem(const struct bms_field *f, struct bms_snapshot *s, unsigned i, double si);
/* Bytes a field takes in the snapshot (strings: BMS_STR_LEN, arrays: their capacity). */
size_t bms_field_size(const struct bms_field *f);
/* The capacity of an array field (BMS_MAX_CELLS, BMS_MAX_TEMPS), 0 for scalars. */
unsigned bms_field_cap(const struct bms_field *f);

#endif
