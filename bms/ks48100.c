/* SPDX-License-Identifier: MIT */
/*
 * KS48100 (SNS01 Ho1/Ho2 rack BMS, the newer Daren generation): the DR-1363
 * protocol of bms/daren.c with VER 0x22, CID1 0x42 and requests that start
 * with '>' instead of '~' (docs/PROTOCOLS.md "Daren and KS48100";
 * reference: protocols.md section 5d). The protocol code is shared with
 * Daren in bms/dr1363.c.
 *
 * Link: RS485 9600 8N1; DIP address 1..15 = ADR = the driver's address.
 *
 * Sample (ADR 1, built by ks48100.py's rules):
 *   request >220142420000FDAF\r   realtime data: no INFO (Daren sends 01)
 *   reply   the 0x42 layout of bms/daren.c (ks48100.py reads the same offsets)
 *
 * Sources: dbus-serialbattery ks48100.py only; no capture of a KS48100 reply
 * was found (tests/vectors/ks48100.json holds one frame built from a Daren
 * capture, marked so). Inferred, not seen:
 * - the reply's SOI: ks48100.py never looks at it, so replies are taken
 *   starting with '>' or '~';
 * - the reply's CID1: taken to echo the request's 0x42, as every Daren
 *   reply echoes 0x4A; a Daren reply (0x4A) at our ADR is refused
 *   (-EPROTO), and ours never passes as one with the Daren driver.
 * - ks48100.py's 0xB0 requests go with CID1 0x4A; we do not send them.
 *
 * Probe and poll as Daren's: 0x42, then 0x51 as static data. Auto-probed:
 * the probe is a read to one address (the '>' start upsets no other family:
 * their frame checks drop it at its first byte).
 */
#include "bms.h"
#include "dr1363.h"
#include "registry.h"

static const struct bms_dr1363_family ks_family = {
	.name = "ks48100",
	.soi = '>',
	.any_soi = true,
	.cid1 = 0x42,
	.realtime_info = false,
};

static int ks_init(void *state, uint8_t address)
{
	return bms_dr1363_init(&ks_family, state, address);
}

static int ks_frame_check(const uint8_t *p, size_t avail, size_t *ret_len)
{
	return bms_dr1363_check(&ks_family, p, avail, ret_len);
}

int bms_ks48100_describe(const uint8_t *frame, size_t len, struct bms_frame_desc *x)
{
	return bms_dr1363_describe(&ks_family, frame, len, x);
}

static const uint32_t ks_bauds[] = {9600, 0};
static const struct bms_link ks_links[] = {
	{.kind = BMS_LINK_SERIAL, .serial = {ks_bauds, BMS_8N1}},
};

const struct bms_driver bms_ks48100 = {
	.name = "ks48100",
	.description = "KS48100 (SNS01 Ho1/Ho2 rack BMS), RS485 '>' ASCII VER 0x22 CID1 0x42",
	.spec = "DR-1363 variant of ks48100.py (dbus-serialbattery) 0x42/0x51; protocols.md 5, 5d",
	.links = ks_links,
	.nlinks = sizeof(ks_links) / sizeof(ks_links[0]),
	BMS_DR1363_DRIVER_COMMON,
	.init = ks_init,
	.frame_check = ks_frame_check,
};
