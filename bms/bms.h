/* SPDX-License-Identifier: MIT */
/*
 * The BMS driver interface and the battery snapshot.
 *
 * Units, fixed for the whole project (conversion to Victron's SI doubles
 * happens only in publish/):
 *   voltage mV, current mA (positive = charging), capacity mAh,
 *   temperature 0.1 degC, SOC and SOH 0.01 %, power mW.
 *
 * A driver is one `const struct bms_driver` with pure functions only: no I/O,
 * no clock, no logging, no statics. worker/ owns the port and drives a cycle:
 *
 *   for (step = 0; (n = drv->build_request(st, step, req, cap)) > 0; step++) {
 *       write req; then until parse() returns 0:
 *           read bytes, drv->frame_find() -> VALID frame, drv->parse(st, frame)
 *   }
 *   drv->finish(st, &snap)   (optional) then commit the whole snapshot.
 */
#ifndef SB_BMS_H
#define SB_BMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BMS_MAX_CELLS 32
#define BMS_MAX_TEMPS 8
#define BMS_STR_LEN 32

/* Bits of bms_snapshot.valid: a field is meaningful only when its bit is set. */
enum bms_valid {
	BMS_V_VOLTAGE = 1u << 0,
	BMS_V_CURRENT = 1u << 1,
	BMS_V_SOC = 1u << 2,
	BMS_V_SOH = 1u << 3,
	BMS_V_CAP_REMAIN = 1u << 4,
	BMS_V_CAP_FULL = 1u << 5,
	BMS_V_CYCLES = 1u << 6,
	BMS_V_CELLS = 1u << 7,       /* cell_count and cell_mv[] */
	BMS_V_TEMPS = 1u << 8,       /* temp_count and temp_dc[] */
	BMS_V_MOSFET_TEMP = 1u << 9,
	BMS_V_FETS = 1u << 10,       /* charge_fet and discharge_fet */
	BMS_V_BALANCING = 1u << 11,  /* balancing bit mask per cell */
	BMS_V_BALANCER = 1u << 12,   /* balancer_enabled (the switch) */
	BMS_V_ALARMS = 1u << 13,
	BMS_V_SERIAL = 1u << 14,
	BMS_V_HW_VERSION = 1u << 15,
	BMS_V_SW_VERSION = 1u << 16,
	BMS_V_MAX_CHARGE_I = 1u << 17,    /* the BMS's own charge current limit */
	BMS_V_MAX_DISCHARGE_I = 1u << 18, /* the BMS's own discharge current limit */
	BMS_V_POWER = 1u << 19,
	BMS_V_MODEL = 1u << 20,
	BMS_V_CAP_DESIGN = 1u << 21,
};

/* The Victron alarm set (/Alarms/<name>); values 0 ok, 1 warning, 2 alarm. */
enum bms_alarm {
	BMS_ALARM_LOW_VOLTAGE,
	BMS_ALARM_HIGH_VOLTAGE,
	BMS_ALARM_LOW_CELL_VOLTAGE,
	BMS_ALARM_HIGH_CELL_VOLTAGE,
	BMS_ALARM_LOW_SOC,
	BMS_ALARM_HIGH_CHARGE_CURRENT,
	BMS_ALARM_HIGH_DISCHARGE_CURRENT,
	BMS_ALARM_HIGH_CURRENT,
	BMS_ALARM_CELL_IMBALANCE,
	BMS_ALARM_INTERNAL_FAILURE,
	BMS_ALARM_HIGH_CHARGE_TEMPERATURE,
	BMS_ALARM_LOW_CHARGE_TEMPERATURE,
	BMS_ALARM_HIGH_TEMPERATURE,
	BMS_ALARM_LOW_TEMPERATURE,
	BMS_ALARM_HIGH_INTERNAL_TEMPERATURE,
	BMS_ALARM_FUSE_BLOWN,
	BMS_ALARM_COUNT
};

/* "LowVoltage", ... as used in the D-Bus path /Alarms/<name>. */
const char *bms_alarm_name(enum bms_alarm a);

struct bms_snapshot {
	uint32_t valid; /* enum bms_valid bits */

	int32_t voltage_mv;
	int32_t current_ma; /* positive = charging */
	int64_t power_mw;   /* positive = charging; BMS_V_POWER when the BMS sends it */
	uint16_t soc_cpct;  /* 0.01 % */
	uint16_t soh_cpct;  /* 0.01 % */
	int32_t capacity_remain_mah;
	int32_t capacity_full_mah;
	int32_t capacity_design_mah;
	uint32_t cycles;

	uint8_t cell_count;
	uint16_t cell_mv[BMS_MAX_CELLS];
	uint32_t balancing; /* bit n = cell n+1 is balancing */
	bool balancer_enabled;

	uint8_t temp_count;
	int16_t temp_dc[BMS_MAX_TEMPS]; /* battery/cell sensors, 0.1 degC */
	int16_t mosfet_temp_dc;

	bool charge_fet;
	bool discharge_fet;

	uint8_t alarm[BMS_ALARM_COUNT]; /* 0 ok, 1 warning, 2 alarm */

	/*
	 * Bit n: cell n+1 read outside the chemistry's physical range this cycle
	 * (a broken sense wire, 0 V, 0xFFFF). Set by the per-cycle plausibility
	 * check, never by a driver; such a cell's cell_mv[] is not a measurement.
	 */
	uint32_t cell_implausible;

	int32_t max_charge_ma;    /* the BMS's own limit */
	int32_t max_discharge_ma; /* the BMS's own limit, positive */

	char serial[BMS_STR_LEN];
	char model[BMS_STR_LEN];
	char hw_version[BMS_STR_LEN];
	char sw_version[BMS_STR_LEN];
};

/* Result of frame_find(). */
enum bms_find {
	BMS_FIND_INVALID = -1,  /* no frame can start in buf: discard all of it */
	BMS_FIND_NEED_MORE = 0, /* a frame may start at *ret_start: read more */
	BMS_FIND_VALID = 1,     /* a checksummed frame at [*ret_start, +*ret_len) */
};

enum bms_framing {
	BMS_8N1 = 0,
	BMS_8E1 = 1,
};

enum bms_flags {
	BMS_F_PASSIVE = 1u << 0, /* talks unsolicited */
	BMS_F_OPT_IN = 1u << 1,  /* risky probe: only tried when configured */
	BMS_F_CAN_SET = 1u << 2, /* has write commands */
	BMS_F_ADDRESSED = 1u << 3, /* several units on one bus, by address */
};

/*
 * Writes a BMS may support (struct bms_driver lists its own). value: FETs and
 * balancer 0 off / 1 on; SOC in 0.01 %. Shared by the driver interface, the
 * store's command mailbox (publisher -> worker) and the CLI.
 */
enum bms_command {
	BMS_CMD_NONE = 0,
	BMS_CMD_CHARGE_FET = 1,
	BMS_CMD_DISCHARGE_FET = 2,
	BMS_CMD_BALANCER = 3,
	BMS_CMD_SOC = 4,
	BMS_CMD_COUNT
};

/* Request kinds a worker may ask for besides the poll cycle. */
enum bms_request {
	BMS_REQ_PROBE = 0, /* the cheapest request that identifies the BMS */
	BMS_REQ_POLL = 1,  /* one step of the poll cycle */
};

struct bms_driver {
	const char *name;        /* config key: "jk", "jkpb", "jbd", "daly" */
	const char *description; /* one line for humans */
	const char *spec;        /* the document or section followed */

	const uint32_t *bauds;   /* ordered, 0-terminated; first is the default */
	enum bms_framing framing;
	const uint8_t *addresses; /* default addresses to try, 0-terminated; NULL = unaddressed */
	uint8_t address_min, address_max; /* valid range for scan (addressed drivers) */
	unsigned response_timeout_ms;
	unsigned inter_frame_gap_ms; /* silence to leave before the next request */
	unsigned poll_interval_ms;   /* default poll period */
	size_t max_frame;            /* largest frame frame_find() can return */
	unsigned flags;              /* enum bms_flags */
	size_t state_size;           /* per-port private state, zeroed by the worker */

	/* Prepare private state for one battery at `address` (0 for unaddressed). */
	int (*init)(void *state, uint8_t address);

	/*
	 * Build request `step` of a cycle of `kind` into out[0..cap). Returns the
	 * request length, 0 when the cycle has no more steps, or a negative errno.
	 * For BMS_REQ_PROBE the cycle is usually one step.
	 */
	int (*build_request)(void *state, enum bms_request kind, unsigned step, uint8_t *out,
			     size_t cap);

	/*
	 * Look for one whole, checksummed frame in buf[0..len). On VALID sets
	 * *ret_start and *ret_len; on NEED_MORE sets *ret_start to where a frame may
	 * begin (bytes before it are garbage); on INVALID the caller drops buf.
	 * Must never read past len.
	 */
	enum bms_find (*frame_find)(const uint8_t *buf, size_t len, size_t *ret_start,
				    size_t *ret_len);

	/*
	 * Decode one VALID frame answering the current step into snap, setting
	 * valid bits for what it filled. Returns 0 when this step is complete,
	 * 1 when more frames belong to the same step (multi-frame replies),
	 * -EBADMSG/-EPROTO for a frame that does not fit (wrong command, address,
	 * impossible values). Unchanged fields are left alone.
	 */
	int (*parse)(void *state, const uint8_t *frame, size_t len, struct bms_snapshot *snap);

	/* Optional: derive fields at the end of a cycle (e.g. SOC from capacities). */
	void (*finish)(void *state, struct bms_snapshot *snap);

	/*
	 * Optional, for the simulator and round-trip tests: answer request req as
	 * the real device would, from snap, at `address`. Writes the reply
	 * (possibly several frames) to out and returns its length, 0 when the
	 * device would stay silent (not addressed to it, unknown command), or a
	 * negative errno. Pure.
	 */
	int (*sim_respond)(const struct bms_snapshot *snap, uint8_t address, const uint8_t *req,
			   size_t req_len, uint8_t *out, size_t cap);
};

/* The registry: ordered NULL-terminated table, most used first (bms/registry.c). */
extern const struct bms_driver *const bms_drivers[];
const struct bms_driver *bms_driver_find(const char *name);
size_t bms_driver_count(void);

/* Cell statistics over the valid cells (0 when none); cells flagged in
 * cell_implausible are left out, like cells reading 0. */
struct bms_cell_stats {
	uint16_t min_mv, max_mv;
	uint8_t min_idx, max_idx; /* 0-based */
	uint32_t sum_mv;
	uint8_t count; /* cells with a non-zero, plausible voltage */
};
void bms_cell_stats(const struct bms_snapshot *s, struct bms_cell_stats *ret);

#endif
