/* SPDX-License-Identifier: MIT */
/* The '~' ASCII families' simulators (pace, seplos_v2, pylontech, daren, ks48100): which
 * request is theirs and how a pack refuses another family's, written once. */
#ifndef SB_BMS_SIM_PYLON_H
#define SB_BMS_SIM_PYLON_H

#include <stddef.h>
#include <stdint.h>

#include "bms/pylon_ascii.h"

/*
 * Simulator side: req[0..req_len) (SOI spec->soi, '~' for NULL) decoded into
 * *f. -1 (silence) for a garbled frame, a reply or another ADR than adr; else
 * the return code a pack of VER ver and CID1 cid1 gives before it looks at the
 * command: 0x01 another VER, 0x04 another CID1, 0 ours (an unknown command is
 * the caller's 0x04).
 */
int bms_sim_pylon_asked(const struct bms_pylon_spec *spec, uint8_t ver, uint8_t cid1, uint8_t adr,
			const uint8_t *req, size_t req_len, struct bms_pylon_frame *f);

/* The pack's reply (return code rtn, INFO d[0..n)) in its own VER and CID1, from ADR adr,
 * starting with soi ('~' for 0); its length, -ENOSPC when cap is too small. */
int bms_sim_pylon_reply(uint8_t soi, uint8_t ver, uint8_t cid1, uint8_t adr, uint8_t rtn,
			const uint8_t *d, size_t n, uint8_t *out, size_t cap);

#endif
