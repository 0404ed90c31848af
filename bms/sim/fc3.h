/* SPDX-License-Identifier: MIT */
/* The function 0x03 families' simulators (heltec, felicity, ecs) answer reads from one register
 * image. */
#ifndef SB_BMS_SIM_FC3_H
#define SB_BMS_SIM_FC3_H

#include <stddef.h>
#include <stdint.h>

/*
 * Simulator side: the reply to req[0..req_len) of a unit at addr holding
 * img[0..n) for registers first..first+n-1: the registers asked (big-endian
 * as given in img), an exception 2 for a read outside them, exception 1 for
 * another function; 0 (silence) for another address or a malformed request.
 */
int bms_sim_fc3_reply(uint8_t addr, const uint16_t *img, uint16_t first, size_t n,
		      const uint8_t *req, size_t req_len, uint8_t *out, size_t cap);

#endif
