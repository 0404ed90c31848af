/* SPDX-License-Identifier: MIT */
/*
 * Cross-family checks for the drivers that share the Pylontech-style ASCII
 * frame (pylontech, daren, ks48100 against pace, seplos_v2 and each other):
 * a well-formed frame of a sibling family must never be taken. Each function
 * makes its CUnit assertions itself (as driver_checks.h).
 *
 * Not driver_checks' dc_check_refuses_captures/_sim: those put the driver
 * and the sibling's simulator at the same address number, and these
 * families number differently (PACE and Seplos v2: ADR + 1; Pylontech, Daren,
 * KS48100: the ADR), so the wire ADRs would never meet; and they require every
 * step to refuse, while Seplos v2 and Pylontech share the 0x51 layout of a
 * static identity step (what detection asks first, the data steps, decides).
 */
#ifndef SB_TESTS_ASCII_CHECKS_H
#define SB_TESTS_ASCII_CHECKS_H

#include <stdint.h>

#include "bms/bms.h"

/*
 * Every response vector of family `other` (tests/vectors/<other>.json),
 * offered to drv initialised at each address of addrs (0-terminated), for
 * the probe and every poll step but the static ones (identity strings: a
 * sibling's command may be the very same): parse refuses it (< 0) and
 * writes nothing. Returns the number of vectors offered.
 */
unsigned ac_refuses_vectors(const struct bms_driver *drv, const uint8_t *addrs, const char *other);

/*
 * The simulator of family `other`, at every address 1..18, asked with
 * drv's probe and then a whole poll cycle for each address of addrs (what a
 * detection asks): some step never takes its answer, so no match.
 */
void ac_refuses_sim(const struct bms_driver *drv, const uint8_t *addrs, const char *other);

/*
 * READ of each command cmds[i] at address against drv's simulator holding
 * dev: the request is built and described as a request of that command and
 * address, the simulator's reply parses (every bit of fills[i] set) and is
 * described as that command's reply; READ has one step. A READ of `unknown`
 * and any SET are -EOPNOTSUPP, and drv lists no write.
 */
void ac_check_read(const struct bms_driver *drv, uint8_t address, const struct bms_snapshot *dev,
		   const uint16_t *cmds, const uint32_t *fills, size_t n, uint16_t unknown);

/*
 * A header head (SOI VER ADR CID1 CID2, 9 characters, e.g. "~20014600")
 * announcing LENID 1000, followed by digits past drv->max_frame: frame_check
 * calls it garbage (-1) rather than waiting for more.
 */
void ac_check_long_header(const struct bms_driver *drv, const char *head);
/*
 * rep[0..len), a reply with the non-zero return code rtn, is described by drv
 * as a reply of no command from address with that cid2_return_code; with a
 * non-hex character in its ADR it is no frame (-1).
 */
void ac_check_describe_refusal(const struct bms_driver *drv, const uint8_t *rep, size_t len,
			       uint8_t address, uint8_t rtn);
#endif
