/* SPDX-License-Identifier: MIT */
/*
 * A generic, table-driven conformance harness for BMS drivers (in the spirit
 * of gpsd's test_packet): any driver test calls these with its driver and its
 * captured frames; each function makes CUnit assertions itself.
 *
 * test_registry runs the generic part (dc_check_protocol) for every registered
 * driver against tests/vectors/<driver name>.json, so a new protocol is
 * tested against every frame of its family with no test file of its own. A driver test adds what
 * only it knows (tests/bms/test_jk.c is a complete example):
 *
 *   1. Write a key mapper: for each expected key of the family's vectors,
 *      return DC_MAPPED with the decoded value, DC_SKIP for keys the snapshot
 *      deliberately does not carry (protocol details such as "frame_source"),
 *      or DC_UNKNOWN to fall through to dc_map_common() (voltage_v, current_a,
 *      cell_voltages_v, temp1_c, ...). A key nobody maps fails the test, so a
 *      new vector key cannot be silently ignored.
 *   2. In the tests call:
 *        CU_ASSERT(dc_check_vectors(drv, address, my_map) == dc_count(drv, "response"));
 *        CU_ASSERT(dc_check_requests(drv, address) == N);
 *        dc_check_sim_roundtrip(drv, address, &state, must_have_valid_bits);
 *   3. One sb_add_test line in tests/bms/CMakeLists.txt:
 *        sb_add_test(test_x SOURCES test_x.c driver_checks.c LIBS sb_bms_sim)
 *
 * How a response vector is parsed: for each step of a BMS_REQ_POLL cycle
 * (and then BMS_REQ_PROBE) the harness inits a fresh state for address,
 * builds that request and offers the frame to parse with its descriptor; the
 * first step for which parse returns 0 or 1 (not -EPROTO) is the step this
 * frame answers. So parse must reject a frame that answers a different
 * request with -EPROTO.
 */
#ifndef SB_TESTS_DRIVER_CHECKS_H
#define SB_TESTS_DRIVER_CHECKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bms/bms.h"
#include "tests/bms/vectors.h"

/* Result of a key mapper. */
enum dc_map {
	DC_UNKNOWN = -1, /* not mine: try dc_map_common(), fail if it does not know it either */
	DC_SKIP = 0,     /* a protocol detail the snapshot does not carry: not checked */
	DC_MAPPED = 1,   /* *ret holds the decoded value to compare */
};

/* A decoded value, in the units of the vectors key (tests/vectors/) (V, A, Ah, degC, %). */
struct dc_value {
	enum vec_kind kind; /* VEC_NUM, VEC_BOOL (num 0/1), VEC_STR, VEC_ARRAY */
	double num;
	char str[BMS_STR_LEN * 2];
	double arr[BMS_MAX_CELLS * 2];
	unsigned n;
};

/* Map expected key -> decoded value from snap (frame/len: the raw frame, for keys
 * only visible there, e.g. a frame type byte). */
typedef enum dc_map (*dc_map_fn)(const char *key, const struct bms_snapshot *snap,
				 const uint8_t *frame, size_t len, struct dc_value *ret);

/* The keys every family shares; see driver_checks.c for the list. */
enum dc_map dc_map_common(const char *key, const struct bms_snapshot *snap, const uint8_t *frame,
			  size_t len, struct dc_value *ret);

/* True when key is in list (NULL-terminated): a mapper's "protocol details the
 * snapshot does not carry" are answered with DC_SKIP through this. */
bool dc_key_in(const char *key, const char *const *list);

/* Vectors of drv's protocol (tests/vectors/<drv->name>.json) in direction
 * "request" or "response". */
unsigned dc_count(const struct bms_driver *drv, const char *direction);

/* All captured vectors (vectors.inc lives in driver_checks.c only). */
const struct vec *dc_vectors(size_t *ret_count);

/*
 * Walk every response vector of drv's protocol through bms_frame_find + parse
 * (the frame alone and inside garbage) and compare each expected key within
 * 0.001. Returns the number of vectors checked (assert it equals
 * dc_count(drv, "response")).
 */
unsigned dc_check_vectors(const struct bms_driver *drv, uint8_t address, dc_map_fn map);

/*
 * Frame check conformance (bms_frame_find over drv->frame_check) for one
 * valid captured reply frame:
 * whole -> VALID (0, len); leading garbage (random, header look-alikes, a
 * truncated copy of the frame) -> VALID at the garbage length; every single
 * byte flipped -> never VALID as (0, len); truncated at every length 0..len-1
 * (in an exact-size heap buffer, so ASan catches over-reads) -> NEED_MORE or
 * INVALID, never VALID; two frames back to back -> first then second.
 */
void dc_check_frame(const struct bms_driver *drv, const uint8_t *frame, size_t len);

/*
 * The generic part the registry test runs for every driver: each captured
 * reply of its protocol is whole frames back to back (single-frame replies
 * also through dc_check_frame), and at least one answers a request the driver
 * builds for address. Returns the number of replies (0 = no vectors).
 */
unsigned dc_check_protocol(const struct bms_driver *drv, uint8_t address);

/* dc_check_frame for every response vector of drv's protocol; returns how many. */
unsigned dc_check_family_frames(const struct bms_driver *drv);

/*
 * Compare every request vector of drv's protocol with the requests the driver builds
 * (BMS_REQ_PROBE and every BMS_REQ_POLL step, state init'ed for address).
 * Returns how many request vectors matched a built request exactly.
 */
unsigned dc_check_requests(const struct bms_driver *drv, uint8_t address);

/*
 * Run a probe and a whole poll cycle against the family's simulator
 * (bms/sim, at address, answering from a copy of state): request -> reply
 * bytes -> bms_frame_find -> parse, then assert that every field
 * whose valid bit the driver set equals state (the test picks values the
 * protocol can represent exactly) and that all bits of must_valid were set.
 * For addressed drivers also asserts the simulator stays silent when a request
 * for another address arrives, and that a reply from another address is not
 * accepted by parse.
 */
void dc_check_sim_roundtrip(const struct bms_driver *drv, uint8_t address,
			    const struct bms_snapshot *state, uint32_t must_valid);

/*
 * Feed reply bytes to the driver as the worker would (bms_frame_find, drop
 * garbage, parse against req until a parse returns 0). Returns 0 when the step completed,
 * a negative errno from parse, or -ENODATA when the bytes ran out first.
 */
int dc_feed(const struct bms_driver *drv, void *st, const struct bms_request *req,
	    const uint8_t *buf, size_t len, struct bms_snapshot *snap);

/*
 * Offer every frame bms_frame_find finds in buf to parse against req until
 * one is taken (parse >= 0): that result, else the last error (-ENODATA when
 * no frame was found). For the checks that another family's bytes are never
 * taken, whatever comes before them.
 */
int dc_feed_any(const struct bms_driver *drv, void *st, const struct bms_request *req,
		const uint8_t *buf, size_t len, struct bms_snapshot *snap);

/*
 * One whole poll cycle of drv at address against the simulator holding
 * truth: requests built by the driver (whose parse sees each reply, as the
 * worker's would), replies by bms_sim_respond, all of them joined into one
 * capture in wire order and decoded by the decode engine (tools/decode.c,
 * as `serialbattery decode` does). 0 and *got on success, a negative errno
 * otherwise (-EBADMSG when the capture decoded with a refused frame or no
 * reply). truth is the simulator's snapshot: a write-free cycle leaves it.
 */
int dc_decode_roundtrip(const struct bms_driver *drv, uint8_t address,
			const struct bms_snapshot *truth, struct bms_snapshot *got);

/*
 * struct bms_driver.alarms is what parse can raise: for every alarm, a poll
 * of the simulator holding base with that alarm alone (at level 1, then 2)
 * raises it exactly when the mask lists it. (dc_feed checks on every parse
 * that no alarm outside the mask is raised; so does the fuzz harness.)
 */
void dc_check_alarm_mask(const struct bms_driver *drv, uint8_t address,
			 const struct bms_snapshot *base);

/* ---- small helpers the driver tests share ---- */

/* ret = the number v (DC_MAPPED), for key mappers. */
enum dc_map dc_num(struct dc_value *ret, double v);

/* The item of a description (bms_driver_describe) with this key, or NULL. */
const struct bms_desc_item *dc_desc_find(const struct bms_frame_desc *d, const char *key);

/* Items fmt % 1, fmt % 2, ... (up to n, until one is missing) of d as one array. */
enum dc_map dc_desc_array(const struct bms_frame_desc *d, const char *fmt, unsigned n,
			  struct dc_value *ret);

/*
 * Keys named alike in several families' vectors: "hardware_version",
 * "serial_number", "charge_mosfet_on", "discharge_mosfet_on" from the snapshot
 * when their valid bit is set; DC_UNKNOWN otherwise.
 */
enum dc_map dc_map_ids(const char *key, const struct bms_snapshot *s, struct dc_value *ret);

/*
 * A key the snapshot has no (valid) field for, through the description d of
 * the frame (what `serialbattery decode` prints): its text or number.
 * DC_UNKNOWN when the snapshot has the field valid (dc_map_common checks it)
 * or d has no such item.
 */
enum dc_map dc_map_desc(const struct bms_frame_desc *d, const char *key,
			const struct bms_snapshot *s, struct dc_value *ret);

/*
 * "temperatures_c" of the '~' families (PACE, Seplos v2): the snapshot's cell
 * sensors, then the MOSFET sensor and the environment sensor (describe item
 * "environment_temp_c") in wire order: MOSFET first when mosfet_first.
 */
enum dc_map dc_map_temps_env(const struct bms_snapshot *s, const struct bms_frame_desc *d,
			     bool mosfet_first, struct dc_value *ret);

/*
 * The nth (0-based) vector of protocol in direction ("request"/"response"):
 * its bytes into buf. dc_vector_hex returns the length, or -1 when there is
 * no such vector or it does not fit; dc_vector_frame asserts (fatally) that
 * it exists and is not empty.
 */
int dc_vector_hex(const char *protocol, const char *direction, unsigned nth, uint8_t *buf,
		  size_t cap);
size_t dc_vector_frame(const char *protocol, const char *direction, unsigned nth, uint8_t *buf,
		       size_t cap);

/*
 * The property tests' generator (a 64-bit LCG): seed it, then dc_rnd(n) is
 * 0..n-1. The same seed gives the same states every run.
 */
void dc_rnd_seed(uint64_t seed);
uint32_t dc_rnd(uint32_t n);

/* The JK property tests' generator (xorshift32): seed, a draw, a draw in [lo, hi]. */
void dc_xrnd_seed(uint32_t seed);
uint32_t dc_xrnd(void);
int32_t dc_xrnd_in(int32_t lo, int32_t hi);

/*
 * The valid masks are equal and so is every field of the table (bms/fields.h),
 * valid or not: arrays over their whole capacity, strings up to the NUL.
 */
bool dc_same_state(const struct bms_snapshot *truth, const struct bms_snapshot *got);

/* parse of f (n bytes) against rq by a state fresh from init(address) into *s, zeroed first. */
int dc_parse_at(const struct bms_driver *drv, uint8_t address, const struct bms_request *rq,
		const uint8_t *f, size_t n, struct bms_snapshot *s);

/*
 * Several units on one bus: drv's request req (n bytes, for rq) to the unit
 * at address is answered by the simulator (holding dev) at address only, not
 * at address - 1 or + 1; parse at address takes the reply (0, dev's cells),
 * the drivers of address - 1 and + 1 find it BMS_FOREIGN and so is the
 * request itself (an echo, another master's), nothing valid.
 */
void dc_check_neighbours(const struct bms_driver *drv, uint8_t address, struct bms_snapshot *dev,
			 const struct bms_request *rq, const uint8_t *req, size_t n);

/*
 * Another family is not drv's (no ghost match): every captured reply of
 * protocol other is described by drv as no command of its own (command 0)
 * and refused (< 0, nothing valid) by every POLL and PROBE step below steps at
 * every address 1..addr_max. Returns how many replies of other were checked.
 */
unsigned dc_check_refuses_captures(const struct bms_driver *drv, const char *other,
				   uint8_t addr_max, unsigned steps);

/*
 * The same for the other family's simulator holding dev: at every address
 * 1..addr_max, what it answers to each of drv's POLL and PROBE requests (steps
 * below steps) never completes a step of drv nor sets a valid bit. With
 * other_answers, it must answer every request (with an error of its own). dev is the
 * simulator's state (a write would change it; these requests write nothing).
 */
void dc_check_refuses_sim(const struct bms_driver *drv, const struct bms_driver *other,
			  struct bms_snapshot *dev, uint8_t addr_max, unsigned steps,
			  bool other_answers);

/*
 * The property test: rounds states from make (which draws from dc_rnd) through
 * dc_decode_roundtrip at address addr_first + dc_rnd(addr_count), or at
 * addr_first without a draw when addr_count is 1 (the generator seeded with
 * seed first); each must decode (fatal) to a state
 * dc_same_state with it. Prints a differing state as "<drv> property: state
 * ...". Returns the number of states checked.
 */
unsigned dc_check_property(const struct bms_driver *drv, uint64_t seed, unsigned rounds,
			   uint8_t addr_first, uint32_t addr_count,
			   void (*make)(struct bms_snapshot *s));

/*
 * Cells for a property test's state: 1 + dc_rnd(max_cells) of them, each
 * min_mv + dc_rnd(span) mV, and the pack voltage their sum rounded down to 10 mV.
 */
void dc_random_cells(struct bms_snapshot *s, uint32_t max_cells, uint16_t min_mv, uint32_t span);

/* n cells of first_mv, first_mv + 1, ... mV and the pack voltage their sum rounded down
 * to 10 mV (a sample state). */
void dc_set_cells(struct bms_snapshot *s, uint8_t n, uint16_t first_mv);

/*
 * The JK families' property test: rounds states from make (drawing from
 * dc_xrnd, seeded by the caller; *ret_valid the bits the family carries)
 * through dc_decode_roundtrip at address addr_lo (or dc_xrnd_in(addr_lo,
 * addr_hi) when they differ); each must come back with exactly those bits
 * and dc_same_state. *cov counts the states that did and the ranges covered.
 */
struct dc_coverage {
	unsigned ok, charging, discharging, fets_off, no_limit, max_cells;
};
void dc_check_property_cov(const struct bms_driver *drv, unsigned rounds, uint8_t addr_lo,
			   uint8_t addr_hi, struct bms_snapshot (*make)(uint32_t *ret_valid),
			   struct dc_coverage *cov);

/*
 * Random alarms for a property test's state: each alarm at level 0 (4 in 6),
 * else 1 or 2, kept only when level_ok says the protocol can report that
 * alarm at that level.
 */
void dc_random_alarms(struct bms_snapshot *s, bool (*level_ok)(unsigned alarm, uint8_t level));

#endif
