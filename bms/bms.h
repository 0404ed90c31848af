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
 * no clock, no logging, no statics. worker/ owns the port and drives a cycle
 * (worker_cycle; retries and cycle counting are the core's):
 *
 *   req = {kind, .cycle = bms_held_next_cycle(held)}   (POLL)
 *   for (req.step = 0;; req.step++) {
 *       skip the step unless bms_step_due() (static data already held)
 *       for (req.attempt = 0; ...; req.attempt++) {   (a retry: the same bytes)
 *           n = drv->build_request(st, &req, out, cap); 0 ends the cycle
 *           (a BMS_F_PASSIVE driver's 0 at step 0: listen instead)
 *           write out; then until parse() returns 0:
 *               read bytes, bms_frame_find(drv) -> frame, drv->parse(st, &req, frame)
 *       }
 *       bms_held_keep(): a static step's fields are kept by the core
 *   }
 *   bms_held_apply(), drv->finish() (optional), then commit the whole snapshot.
 */
#ifndef SB_BMS_H
#define SB_BMS_H

#include <errno.h>
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
	BMS_V_CELLS = 1u << 7, /* cell_count and cell_mv[] */
	BMS_V_TEMPS = 1u << 8, /* temp_count and temp_dc[] */
	BMS_V_MOSFET_TEMP = 1u << 9,
	BMS_V_FETS = 1u << 10,      /* charge_fet and discharge_fet */
	BMS_V_BALANCING = 1u << 11, /* balancing bit mask per cell */
	BMS_V_BALANCER = 1u << 12,  /* balancer_enabled (the switch) */
	BMS_V_ALARMS = 1u << 13,
	BMS_V_SERIAL = 1u << 14,
	BMS_V_HW_VERSION = 1u << 15,
	BMS_V_SW_VERSION = 1u << 16,
	BMS_V_MAX_CHARGE_I = 1u << 17,    /* the BMS's own charge current limit */
	BMS_V_MAX_DISCHARGE_I = 1u << 18, /* the BMS's own discharge current limit */
	BMS_V_POWER = 1u << 19,
	BMS_V_MODEL = 1u << 20,
	BMS_V_CAP_DESIGN = 1u << 21,
	BMS_V_COUNTS = 1u << 22,          /* cells_reported and temps_reported */
	BMS_V_PROT_EVENTS = 1u << 23,     /* prot_events[] */
	BMS_V_HEATING = 1u << 24,         /* heating: the BMS's heater is on now */
	BMS_V_HEATER_CURRENT = 1u << 25,  /* heater_current_ma */
	BMS_V_HEATER_SETTINGS = 1u << 26, /* heating_enabled, heating_start_dc, heating_stop_dc */
};

/*
 * Protection events a BMS counts over its life (JBD register 0xAA, in that
 * order); names as in the JSON object "protection_events".
 */
enum bms_prot {
	BMS_PROT_SHORT_CIRCUIT,
	BMS_PROT_CHARGE_OC,
	BMS_PROT_DISCHARGE_OC,
	BMS_PROT_CELL_OV,
	BMS_PROT_CELL_UV,
	BMS_PROT_CHARGE_OT,
	BMS_PROT_CHARGE_UT,
	BMS_PROT_DISCHARGE_OT,
	BMS_PROT_DISCHARGE_UT,
	BMS_PROT_PACK_OV,
	BMS_PROT_PACK_UV,
	BMS_PROT_COUNT
};

/* "short_circuit", "charge_overcurrent", ... */
const char *bms_prot_name(enum bms_prot p);

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

/* One alarm as a bit of struct bms_driver.alarms. */
#define BMS_ALARM_BIT(a) (1u << BMS_ALARM_##a)
/* The ten alarms most families report: cell and pack voltage high/low, charge and
 * discharge overcurrent, temperature high/low while charging and in general. */
#define BMS_ALARMS_COMMON                                                                          \
	(BMS_ALARM_BIT(HIGH_CELL_VOLTAGE) | BMS_ALARM_BIT(LOW_CELL_VOLTAGE) |                      \
	 BMS_ALARM_BIT(HIGH_VOLTAGE) | BMS_ALARM_BIT(LOW_VOLTAGE) |                                \
	 BMS_ALARM_BIT(HIGH_CHARGE_CURRENT) | BMS_ALARM_BIT(HIGH_DISCHARGE_CURRENT) |              \
	 BMS_ALARM_BIT(HIGH_CHARGE_TEMPERATURE) | BMS_ALARM_BIT(LOW_CHARGE_TEMPERATURE) |          \
	 BMS_ALARM_BIT(HIGH_TEMPERATURE) | BMS_ALARM_BIT(LOW_TEMPERATURE))

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

	/*
	 * BMS_V_COUNTS: the cell and temperature-sensor counts the BMS states
	 * in a status frame (JBD 0x03, Daly 0x94, JK 0x8A/0x86), which need not
	 * come with the cell list itself. Reported as the BMS states them: the
	 * cell list (cell_count, cell_mv) stays the measurement.
	 */
	uint8_t cells_reported;
	uint8_t temps_reported;

	uint16_t prot_events[BMS_PROT_COUNT]; /* BMS_V_PROT_EVENTS: lifetime counters */

	/*
	 * A BMS that drives a pack heater (JK PB): whether it heats now and the
	 * heater's current (live data), and its settings: the heater switch and
	 * the temperatures it starts heating below and stops above.
	 */
	bool heating;
	int32_t heater_current_ma;
	bool heating_enabled;
	int16_t heating_start_dc; /* 0.1 degC */
	int16_t heating_stop_dc;  /* 0.1 degC */

	char serial[BMS_STR_LEN];
	char model[BMS_STR_LEN];
	char hw_version[BMS_STR_LEN];
	char sw_version[BMS_STR_LEN];
};

/* Result of the candidate scan (bms_frame_find). */
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
	/* Talks unsolicited: the core never flushes its input, and a cycle whose
	 * step 0 builds no request listens for frames until the response timeout. */
	BMS_F_PASSIVE = 1u << 0,
	BMS_F_OPT_IN = 1u << 1,    /* risky probe: only tried when configured */
	BMS_F_ADDRESSED = 1u << 3, /* several units on one bus, by address */
};

/*
 * Writes a BMS may support (struct bms_driver lists its own). value: FETs and
 * balancer 0 off / 1 on; SOC in 0.01 %. Shared by the driver interface, the
 * store's command mailbox (publisher -> worker) and the CLI.
 *
 * BMS_CMD_STANDBY (value 1 standby, 0 on) switches both FETs in one command,
 * so one mailbox post carries it (gui-v2's "Switch mode", /Mode). A driver
 * may list it for a protocol with one such write; where it is not listed, a
 * driver that lists both FET commands supports it through worker_set, which
 * sends them in turn: standby the charge FET first, on the discharge FET
 * first.
 */
enum bms_command {
	BMS_CMD_NONE = 0,
	BMS_CMD_CHARGE_FET = 1,
	BMS_CMD_DISCHARGE_FET = 2,
	BMS_CMD_BALANCER = 3,
	BMS_CMD_SOC = 4,
	BMS_CMD_STANDBY = 5,
	BMS_CMD_COUNT
};

/* What a cycle is for. */
enum bms_req_kind {
	BMS_REQ_PROBE = 0, /* the cheapest request that identifies the BMS */
	BMS_REQ_POLL = 1,  /* the poll cycle */
	BMS_REQ_SET = 2,   /* one write: command and value */
	/*
	 * One read of the protocol's command req->reg, whether the poll uses it
	 * or not: build_request gives that read request, parse decodes its
	 * reply into the snapshot (multi-frame replies as in a poll). Used by
	 * `serialbattery decode` for captures; steps: 0 only. A command the
	 * driver cannot read: build_request -EOPNOTSUPP, parse -EPROTO.
	 */
	BMS_REQ_READ = 3,
	/*
	 * The one-time sequence after detection (settings that are read behind
	 * a mode switch, e.g. JBD factory mode). Steps 0.. until build_request
	 * returns 0; its fields are kept by the core like static data. When a
	 * step fails, the core sends step BMS_STEP_CLEANUP (the request that
	 * leaves the mode; 0 = none) and ends the sequence; the whole sequence
	 * is tried at most twice per detection, a request is never retried
	 * within it (docs/WORKER.md "Setup").
	 */
	BMS_REQ_SETUP = 4,
};
#define BMS_REQ_KINDS 5
#define BMS_STEP_CLEANUP 0xFFFFu /* SETUP: the step that leaves the mode */

/*
 * parse(): a well-formed frame of the protocol that does not answer this
 * request from us: another unit's reply, another master's request or reply
 * on a shared line (a Daly display, a JK PB master pack), the echo of our own
 * request. The core skips it, counts it (frames_foreign), never as an error,
 * and keeps reading. parse must not have touched the snapshot.
 */
#define BMS_FOREIGN (-EXDEV)

/*
 * The request descriptor, passed to both build_request() and parse(): the
 * driver learns from it what was asked, so it keeps no "what did I ask"
 * state. Filled by the core (worker_cycle, worker_set, the CLI and tests).
 */
struct bms_request {
	enum bms_req_kind kind;
	unsigned step;    /* 0.. within the cycle */
	uint32_t cycle;   /* POLL: cycles started since init, 1 = the first; a retry keeps it */
	unsigned attempt; /* 0 = first try of this step, n = the nth retry */
	enum bms_command command; /* SET only */
	int32_t value;            /* SET only (see enum bms_command) */
	/*
	 * SET only: the local wall-clock time, seconds since 1970-01-01 00:00
	 * counted as if local time were UTC (filled by the core; a write that
	 * carries a date, Daly 0x21, takes it from here: drivers read no clock).
	 */
	int64_t local_time_s;
	uint16_t reg; /* READ only: the protocol's command, register or frame type */
};

/*
 * What a frame is, told without the request it answers (captures): the
 * driver's describe function. Besides what parse() puts in the snapshot,
 * items[] carries every other value the frame holds (raw bits, counters,
 * protocol fields), each under a plain snake_case key with its unit in the
 * name where it has one (runtime_s, balance_current_ma); numbers in the
 * frame's own scale made SI where obvious. Filled with bms_desc_* (bms/describe.c)
 * by the driver's describe function (bms_driver_describe below).
 */
enum bms_frame_dir {
	BMS_DIR_REPLY = 0,
	BMS_DIR_REQUEST = 1,
};
#define BMS_DESC_ITEMS 64
#define BMS_DESC_KEY 24
#define BMS_DESC_TEXT 48
struct bms_desc_item {
	char key[BMS_DESC_KEY];
	bool is_text;
	double num;
	char text[BMS_DESC_TEXT];
};
struct bms_frame_desc {
	enum bms_frame_dir dir;
	uint16_t command; /* the protocol's command, register or frame type (READ's reg) */
	int address;      /* the unit it is to or from, -1 when the protocol has none */
	bool continues;   /* a later frame of a multi-frame reply (Daly 0x95 frame 2..) */
	char name[40];    /* "0x91 max/min cell", "status", "read all" */
	unsigned n;       /* items used */
	struct bms_desc_item items[BMS_DESC_ITEMS];
};
/* Start a description; then add items (silently dropped beyond BMS_DESC_ITEMS). */
void bms_desc_init(struct bms_frame_desc *d, enum bms_frame_dir dir, uint16_t command, int address,
		   const char *name);
void bms_desc_num(struct bms_frame_desc *d, const char *key, double value);
/* len bytes of text from a frame: stops at NUL, non-printable bytes become '?' */
void bms_desc_text(struct bms_frame_desc *d, const char *key, const char *text, size_t len);

/* enum bms_step_flags: what the core must know about a poll step. */
enum bms_step_flags {
	/*
	 * Static data (a model string, a rated capacity): asked on the first
	 * cycle and then every `every` cycles while missing; once the step has
	 * answered, never again. The core keeps the fields it filled (`fills`)
	 * and carries them into every later cycle's snapshot, so a silent clone
	 * costs one timeout in `every` cycles, not one per cycle.
	 */
	BMS_STEP_STATIC = 1u << 0,
};

struct bms_step {
	unsigned flags;   /* enum bms_step_flags */
	unsigned every;   /* BMS_STEP_STATIC: cycles between attempts while missing (0 = each) */
	unsigned refresh; /* BMS_STEP_STATIC: cycles between re-reads once held (0 = never) */
	uint32_t fills;   /* BMS_STEP_STATIC: the enum bms_valid bits this step fills */
};

/* The links a family speaks (only serial is driven today). */
enum bms_link_kind {
	BMS_LINK_SERIAL = 0,
	BMS_LINK_CAN = 1,
	BMS_LINK_BLE = 2,
};

struct bms_link {
	enum bms_link_kind kind;
	struct {
		const uint32_t *bauds; /* ordered, 0-terminated; first is the default */
		enum bms_framing framing;
	} serial;
	struct {
		uint32_t bitrate;    /* bit/s */
		const uint32_t *ids; /* frame ids it sends or answers, 0-terminated */
	} can;
	struct {
		const char *service; /* GATT service UUID */
		const char *notify;  /* characteristic the BMS notifies on */
		const char *write;   /* characteristic requests are written to */
	} ble;
};

struct bms_driver {
	const char *name;        /* config key: "jk", "jkpb", "jbd", "daly", "jbd_up16s" */
	const char *description; /* one line for humans */
	const char *spec;        /* the document or section followed */

	const struct bms_link *links; /* the links it speaks, most used first */
	size_t nlinks;
	const uint8_t *addresses; /* default addresses to try, 0-terminated; NULL = unaddressed */
	uint8_t address_min, address_max; /* valid range for scan (addressed drivers) */
	unsigned response_timeout_ms;
	unsigned inter_frame_gap_ms;      /* silence to leave before the next request */
	unsigned poll_interval_ms;        /* default poll period */
	size_t max_frame;                 /* largest frame frame_check() can accept */
	unsigned flags;                   /* enum bms_flags */
	size_t state_size;                /* per-port private state, zeroed by the worker */
	const struct bms_step *steps;     /* the poll steps that need the core's care, by index */
	size_t nsteps;                    /* entries in steps (later steps are plain) */
	const enum bms_command *commands; /* supported writes, 0-terminated; NULL = none */
	/*
	 * The alarms its parse can set (BMS_ALARM_BIT): the rest the BMS does not
	 * report, so they are published invalid rather than a meaningless "ok".
	 */
	uint32_t alarms;

	/* Prepare private state for one battery at `address` (0 for unaddressed). */
	int (*init)(void *state, uint8_t address);

	/*
	 * Build the request req->step of a cycle of req->kind into out[0..cap).
	 * Returns the request length, 0 when the cycle has no more steps (for a
	 * BMS_F_PASSIVE driver, 0 at step 0 = listen), or a negative errno
	 * (-EOPNOTSUPP for a command it does not have, -EINVAL for a bad value).
	 * Must be the same bytes for the same descriptor whatever req->attempt.
	 */
	int (*build_request)(void *state, const struct bms_request *req, uint8_t *out, size_t cap);

	/*
	 * The frame check: is there a frame of this protocol starting at buf[0]?
	 * 1 = a whole frame with a good checksum, its length in *ret_len; 0 = one
	 * may start here but is not complete in len bytes; -1 = no frame here.
	 * Must never read past len. The core runs the candidate scan with it
	 * (bms_frame_find).
	 */
	int (*frame_check)(const uint8_t *buf, size_t len, size_t *ret_len);

	/*
	 * Decode one frame the check accepted, answering req, into snap,
	 * setting valid bits for what it filled. Returns 0 when this step is
	 * complete, 1 when more frames belong to the same step (multi-frame
	 * replies), -EBADMSG/-EPROTO for a frame that does not fit (wrong
	 * command, address, impossible values), -EREMOTEIO for the device's own
	 * error reply to this request (a Modbus exception, a '~' RTN code; the
	 * core treats it like a frame that does not fit), -EPERM when the BMS
	 * answered a SET with a refusal. Unchanged fields are left alone.
	 */
	int (*parse)(void *state, const struct bms_request *req, const uint8_t *frame, size_t len,
		     struct bms_snapshot *snap);

	/* Optional: derive fields at the end of a cycle (e.g. SOC from capacities). */
	void (*finish)(void *state, struct bms_snapshot *snap);
};

/*
 * What a frame frame_check() accepted is (struct bms_frame_desc), told by the
 * driver's describe function bms_<name>_describe (pure, no state): 0, -1 when
 * it is not a frame the protocol defines, -ENOENT for a driver not in the
 * registry. Every registered driver has one (a missing one fails the link).
 * For the tools (`serialbattery decode`, tests, fuzzing): the daemon never
 * calls it, so the linker leaves every describe function out of it.
 */
int bms_driver_describe(const struct bms_driver *drv, const uint8_t *frame, size_t len,
			struct bms_frame_desc *d);

/* The registry: ordered NULL-terminated table, most used first (bms/registry.c). */
extern const struct bms_driver *const bms_drivers[];
const struct bms_driver *bms_driver_find(const char *name);
size_t bms_driver_count(void);

/* The first serial link of drv, or NULL when it speaks none. */
const struct bms_link *bms_driver_serial(const struct bms_driver *drv);
/* Its bauds (0-terminated, never NULL) and framing. */
const uint32_t *bms_driver_bauds(const struct bms_driver *drv);
enum bms_framing bms_driver_framing(const struct bms_driver *drv);
/*
 * Does drv support cmd (listed, or BMS_CMD_STANDBY through both FET commands)?
 * And any write at all (derived from the command list)?
 */
bool bms_driver_supports(const struct bms_driver *drv, enum bms_command cmd);
bool bms_driver_can_set(const struct bms_driver *drv);

/*
 * The candidate scan over drv->frame_check (bms/scan.c): the earliest whole
 * frame wins even after an incomplete earlier candidate, so a header
 * look-alike in garbage with a long length cannot stall a real frame behind
 * it. VALID sets *ret_start and *ret_len; NEED_MORE sets *ret_start to where
 * a frame may begin (bytes before it are garbage); INVALID: drop buf.
 */
enum bms_find bms_frame_find(const struct bms_driver *drv, const uint8_t *buf, size_t len,
			     size_t *ret_start, size_t *ret_len);

/*
 * What the core keeps for one battery between poll cycles (bms/cycle.c):
 * the cycle counter and the fields of the static steps that have answered.
 * Zero it (bms_held_reset) whenever the driver state is initialised.
 */
struct bms_held {
	uint32_t cycle;      /* poll cycles started; the current one while it runs */
	uint32_t steps_done; /* bit n: static step n has answered */
	uint32_t valid;      /* valid bits of the fields kept in snap */
	struct bms_snapshot snap;
};
void bms_held_reset(struct bms_held *h);
/* Start a poll cycle: returns its number (1 = the first). Retries do not call it. */
uint32_t bms_held_next_cycle(struct bms_held *h);
/* Is poll step `step` to be asked in the current cycle? */
bool bms_step_due(const struct bms_driver *drv, unsigned step, const struct bms_held *h);
/* Step `step` completed into snap: keep what a static step filled. */
void bms_held_keep(const struct bms_driver *drv, unsigned step, struct bms_held *h,
		   const struct bms_snapshot *snap);
/* Keep the static fields a cycle outside h already read (a detection's first
 * cycle): every static step whose fields snap holds counts as answered. */
void bms_held_seed(const struct bms_driver *drv, struct bms_held *h,
		   const struct bms_snapshot *snap);
/* Keep every field a BMS_REQ_SETUP sequence read (snap: its result) like static data. */
void bms_held_keep_setup(struct bms_held *h, const struct bms_snapshot *snap);
/* Carry the kept static fields into a cycle's snapshot (they win). */
void bms_held_apply(const struct bms_held *h, struct bms_snapshot *snap);
/* Copy the fields behind the valid bits `bits` from src to dst, and the bits. */
void bms_snapshot_copy_fields(struct bms_snapshot *dst, const struct bms_snapshot *src,
			      uint32_t bits);

#endif
