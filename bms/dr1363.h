/* SPDX-License-Identifier: MIT */
/*
 * The DR-1363 ASCII protocol (YD/T 1363 framing, VER 0x22) that two families
 * speak: Daren (CID1 0x4A, SOI '~': bms/daren.c) and KS48100 (CID1 0x42 for
 * its own commands, SOI '>': bms/ks48100.c). Written once here: the frame
 * rules per family, the 0x42 realtime and 0x51 manufacturer layouts, the
 * status bit map (also the simulators', bms/sim/dr1363.c). Pure, as every
 * bms/ module. Layouts and decisions: bms/daren.c's header.
 */
#ifndef SB_BMS_DR1363_H
#define SB_BMS_DR1363_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bms.h"

#define DR_VER 0x22
#define DR_REALTIME 0x42 /* realtime data */
#define DR_PROTOCOL 0x4F /* protocol version */
#define DR_MAKER 0x51    /* hardware type, product and project codes, versions */
#define DR_ADDR_MIN 1    /* DIP switch 1..15 (0 is the bus master's) */
#define DR_ADDR_MAX 15
/* 0x42 INFO bytes besides the cells and sensors: 59 + 2 M + 2 N in all. */
#define DR_RT_FIXED 59
#define DR_RT_EXT 10 /* the words after the FET status: cell masks, machine/IO after */
#define DR_TEXT_LEN 10
#define DR_MAKER_MIN (3 * DR_TEXT_LEN + 3) /* three texts, the 3-byte software version */
#define DR_MAKER_MAX 40
/* Largest reply we take: 0x42 at 32 cells and 8 sensors is 139 bytes. */
#define DR_MAX_INFO 160
#define DR_MAX_FRAME (18 + 2 * DR_MAX_INFO)

/* A family speaking it. */
struct bms_dr1363_family {
	const char *name;
	uint8_t soi;        /* requests start with it */
	bool any_soi;       /* replies taken with '~' as well as soi (no capture says which) */
	uint8_t cid1;       /* of its commands and replies */
	bool realtime_info; /* 0x42 carries INFO 0x01 (Daren) or none (KS48100) */
};

/* The status words of 0x42, in order after the cycle count. */
enum dr_word {
	DR_W_VOLTAGE = 0,
	DR_W_CURRENT = 1,
	DR_W_TEMP = 2,
	DR_W_WARN = 3,
	DR_W_FET = 4, /* bit 0 charge FET on, bit 1 discharge FET on */
	DR_WORDS = 5,
};

/* A status bit and the alarm (1 warning, 2 protection) it raises. */
struct dr_bit {
	uint8_t word, bit, alarm, level;
};
static const struct dr_bit dr_bits[] = {
	{DR_W_VOLTAGE, 0, BMS_ALARM_HIGH_CELL_VOLTAGE, 2}, /* cell OV protection */
	{DR_W_VOLTAGE, 4, BMS_ALARM_HIGH_CELL_VOLTAGE, 1},
	{DR_W_VOLTAGE, 1, BMS_ALARM_LOW_CELL_VOLTAGE, 2},
	{DR_W_VOLTAGE, 5, BMS_ALARM_LOW_CELL_VOLTAGE, 1},
	{DR_W_VOLTAGE, 2, BMS_ALARM_HIGH_VOLTAGE, 2}, /* total OV */
	{DR_W_VOLTAGE, 6, BMS_ALARM_HIGH_VOLTAGE, 1},
	{DR_W_VOLTAGE, 3, BMS_ALARM_LOW_VOLTAGE, 2},
	{DR_W_VOLTAGE, 7, BMS_ALARM_LOW_VOLTAGE, 1},
	{DR_W_VOLTAGE, 14, BMS_ALARM_CELL_IMBALANCE, 2}, /* voltage difference */
	{DR_W_VOLTAGE, 8, BMS_ALARM_CELL_IMBALANCE, 1},
	{DR_W_VOLTAGE, 13, BMS_ALARM_FUSE_BLOWN, 2},
	{DR_W_CURRENT, 2, BMS_ALARM_HIGH_CHARGE_CURRENT, 2},
	{DR_W_CURRENT, 6, BMS_ALARM_HIGH_CHARGE_CURRENT, 1},
	{DR_W_CURRENT, 4, BMS_ALARM_HIGH_DISCHARGE_CURRENT, 2}, /* discharge OC 1 */
	{DR_W_CURRENT, 5, BMS_ALARM_HIGH_DISCHARGE_CURRENT, 2}, /* discharge OC 2 */
	{DR_W_CURRENT, 7, BMS_ALARM_HIGH_DISCHARGE_CURRENT, 1},
	{DR_W_CURRENT, 3, BMS_ALARM_HIGH_CURRENT, 2}, /* short circuit */
	{DR_W_TEMP, 0, BMS_ALARM_HIGH_CHARGE_TEMPERATURE, 2},
	{DR_W_TEMP, 8, BMS_ALARM_HIGH_CHARGE_TEMPERATURE, 1},
	{DR_W_TEMP, 1, BMS_ALARM_LOW_CHARGE_TEMPERATURE, 2},
	{DR_W_TEMP, 9, BMS_ALARM_LOW_CHARGE_TEMPERATURE, 1},
	{DR_W_TEMP, 2, BMS_ALARM_HIGH_TEMPERATURE, 2}, /* discharge */
	{DR_W_TEMP, 10, BMS_ALARM_HIGH_TEMPERATURE, 1},
	{DR_W_TEMP, 3, BMS_ALARM_LOW_TEMPERATURE, 2},
	{DR_W_TEMP, 11, BMS_ALARM_LOW_TEMPERATURE, 1},
	{DR_W_TEMP, 6, BMS_ALARM_HIGH_INTERNAL_TEMPERATURE, 2}, /* MOSFET */
	{DR_W_TEMP, 4, BMS_ALARM_HIGH_INTERNAL_TEMPERATURE, 2}, /* environment */
	{DR_W_TEMP, 14, BMS_ALARM_HIGH_INTERNAL_TEMPERATURE, 1},
	{DR_W_TEMP, 12, BMS_ALARM_HIGH_INTERNAL_TEMPERATURE, 1},
	{DR_W_WARN, 7, BMS_ALARM_LOW_SOC, 2},          /* low battery */
	{DR_W_WARN, 1, BMS_ALARM_INTERNAL_FAILURE, 2}, /* bits 1..6: FETs, NTC, cells */
	{DR_W_WARN, 2, BMS_ALARM_INTERNAL_FAILURE, 2},
	{DR_W_WARN, 3, BMS_ALARM_INTERNAL_FAILURE, 2},
	{DR_W_WARN, 4, BMS_ALARM_INTERNAL_FAILURE, 2},
	{DR_W_WARN, 5, BMS_ALARM_INTERNAL_FAILURE, 2},
	{DR_W_WARN, 6, BMS_ALARM_INTERNAL_FAILURE, 2},
};
#define DR_NBITS (sizeof(dr_bits) / sizeof(dr_bits[0]))

/* Every alarm dr_bits can raise, for struct bms_driver.alarms. */
#define DR_ALARMS                                                                                  \
	(BMS_ALARM_BIT(HIGH_CELL_VOLTAGE) | BMS_ALARM_BIT(LOW_CELL_VOLTAGE) |                      \
	 BMS_ALARM_BIT(HIGH_VOLTAGE) | BMS_ALARM_BIT(LOW_VOLTAGE) |                                \
	 BMS_ALARM_BIT(CELL_IMBALANCE) | BMS_ALARM_BIT(FUSE_BLOWN) |                               \
	 BMS_ALARM_BIT(HIGH_CHARGE_CURRENT) | BMS_ALARM_BIT(HIGH_DISCHARGE_CURRENT) |              \
	 BMS_ALARM_BIT(HIGH_CURRENT) | BMS_ALARM_BIT(HIGH_CHARGE_TEMPERATURE) |                    \
	 BMS_ALARM_BIT(LOW_CHARGE_TEMPERATURE) | BMS_ALARM_BIT(HIGH_TEMPERATURE) |                 \
	 BMS_ALARM_BIT(LOW_TEMPERATURE) | BMS_ALARM_BIT(HIGH_INTERNAL_TEMPERATURE) |               \
	 BMS_ALARM_BIT(LOW_SOC) | BMS_ALARM_BIT(INTERNAL_FAILURE))

/* The 0x42 realtime INFO, decoded. */
struct bms_dr1363_rt {
	uint8_t flag, m, n, custom, machine;
	uint16_t soc, volt; /* 0.01 %, 10 mV */
	uint16_t cells[BMS_MAX_CELLS];
	int16_t env, pack, mos; /* 0.1 degC */
	int16_t temps[BMS_MAX_TEMPS];
	int16_t current; /* 10 mA, positive = charging */
	uint16_t res, soh, full, remain, cycles, io;
	uint16_t words[DR_WORDS];
	uint16_t ext[DR_RT_EXT];
};

/* 0 or -EPROTO: d[0..len) must be the layout exactly, counts and SOC/SOH in range. */
int bms_dr1363_rt_read(const uint8_t *d, size_t len, struct bms_dr1363_rt *rt);

/*
 * The driver functions both families use as they are: the state (struct
 * bms_dr1363_state) names the family, set by the family's init through
 * bms_dr1363_init. Probe: 0x42; poll: 0x42, then 0x51 as static data
 * (bms_dr1363_steps); READ: 0x42 and 0x51.
 */
struct bms_dr1363_state {
	const struct bms_dr1363_family *fam;
	uint8_t adr;
};
int bms_dr1363_init(const struct bms_dr1363_family *fam, void *state, uint8_t address);
int bms_dr1363_build_request(void *state, const struct bms_request *req, uint8_t *out, size_t cap);
int bms_dr1363_parse(void *state, const struct bms_request *req, const uint8_t *frame, size_t len,
		     struct bms_snapshot *snap);
#define BMS_DR1363_NSTEPS 2
extern const struct bms_step bms_dr1363_steps[BMS_DR1363_NSTEPS];
extern const uint8_t bms_dr1363_addresses[]; /* ADR 1, the first DIP position */

/*
 * The struct bms_driver members both families share, written once: the
 * addressing (DIP 1..15), RS485 timing (a quiet line between exchanges of
 * several packs), the frame bound, alarms, state and the shared functions.
 * Each driver adds its name, texts, links and its init/frame_check.
 */
#define BMS_DR1363_DRIVER_COMMON                                                                   \
	.addresses = bms_dr1363_addresses, .address_min = DR_ADDR_MIN, .address_max = DR_ADDR_MAX, \
	.response_timeout_ms = 1000, .inter_frame_gap_ms = 100, .poll_interval_ms = 2000,          \
	.max_frame = DR_MAX_FRAME, .flags = BMS_F_ADDRESSED, .alarms = DR_ALARMS,                  \
	.state_size = sizeof(struct bms_dr1363_state), .steps = bms_dr1363_steps,                  \
	.nsteps = BMS_DR1363_NSTEPS, .build_request = bms_dr1363_build_request,                    \
	.parse = bms_dr1363_parse

/* The frame check of fam (its SOI, bounded by DR_MAX_FRAME). */
int bms_dr1363_check(const struct bms_dr1363_family *fam, const uint8_t *p, size_t avail,
		     size_t *ret_len);

/* The describe function of fam. */
int bms_dr1363_describe(const struct bms_dr1363_family *fam, const uint8_t *frame, size_t len,
			struct bms_frame_desc *x);

#endif
