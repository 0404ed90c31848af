/* SPDX-License-Identifier: MIT */
/*
 * Daren DR-1363 BMS (DR48100JC-03-V2, DR-JC03 and the many 48 V rack packs
 * built on it; Tian Power, Basen): YD/T 1363 ASCII frames with VER 0x22,
 * CID1 0x4A (docs/PROTOCOLS.md "Daren and KS48100"; reference: protocols.md
 * section 5d). The protocol code is shared with KS48100 in bms/dr1363.c.
 *
 * Link: RS485, 9600 or 19200 8N1 (dbus-serialbattery tries 9600 first; the
 * cpttinkering research ran at 19200). Packs share the bus by DIP address
 * 1..15 (ADR; 0 is a master pack's); the driver's address is the ADR.
 *
 * Frame (bms/pylon_ascii.h): '~' VER ADR CID1 CID2 LENGTH INFO CHKSUM CR, hex
 * ASCII, CHKSUM = -(sum of the characters after '~') mod 65536.
 *
 * Sample (ADR 1, cpttinkering/daren-485 README):
 *   request ~22014A42E00201FD28\r   realtime data, INFO 0x01
 *   reply   ~22014A00E0C6001A2C14C0100D01...0000D582\r  99 INFO bytes:
 *           SOC 67.00 %, 53.12 V, 16 cells 3.291..3.330 V, 4 sensors
 *           26.0 degC, MOSFET 27.0 degC, 0 A, SOH 80 %, 53.6 of 80 Ah,
 *           204 cycles, charge and discharge FET on
 *
 * 0x42 INFO (bytes, BE): DATAFLAG, SOC u16 0.01 %, voltage u16 10 mV, M,
 * M x cell mV, environment, pack average and MOSFET temperatures s16
 * 0.1 degC, N, N x cell temperature s16 0.1 degC, current s16 10 mA
 * (positive = charging), internal resistance, SOH u16 %, user custom u8,
 * full capacity 10 mAh, remaining 10 mAh, cycles, the voltage, current,
 * temperature, warning and FET status words (enum dr_word), ten more words
 * (per-cell over/under-voltage and balance masks), machine status u8, IO
 * status u16: 59 + 2 M + 2 N bytes.
 * 0x51 INFO: hardware type, product code, project code (10 characters
 * each), software version (3 bytes), boot version (the rest).
 *
 * Probe: 0x42 (its exact layout identifies the family). Poll: 0x42, then
 * 0x51 as static data.
 *
 * Sources: real captures (tests/vectors/daren.json: cpttinkering/daren-485,
 * the layout's own research; other projects' test frames) and
 * dbus-serialbattery daren_485.py for the status bits.
 *
 * Decisions:
 * - 0x42's INFO is 0x01 whatever the ADR, as daren_485.py sends it and as a
 *   Tian Power capture to ADR 2 shows; cpttinkering's README says it must
 *   match the ADR (its pack was ADR 1, where both agree).
 * - The reply must fit the layout exactly (the counts against LENGTH):
 *   daren_485.py reads fixed offsets for 16 cells; we read M and N.
 * - Status bits as daren_485.py maps them, kept apart where it merges
 *   them: cell over-voltage (bits 0/4) is HighCellVoltage, not HighVoltage;
 *   the charge temperature bits raise the charge alarms only; short circuit
 *   (current bit 3) is HighCurrent as PACE's. Warning bit 7 "low battery" is
 *   LowSoc (2), bits 1-6 (FET, NTC, cell faults) InternalFailure.
 * - Not used: 0x47 (cell parameters: its charge limit is one number the
 *   Python driver uses for both directions, which we do not publish) and
 *   0xB0 (serial, capacity statistics: a longer command group).
 * - A frame of another family at our ADR (VER 0x20/0x25 refusing our VER,
 *   KS48100's CID1 0x42) is the unit we asked refusing our words: -EPROTO,
 *   as for every '~' driver (bms_pylon_reply_check).
 * - No writes: none documented.
 */
#include "bms.h"
#include "dr1363.h"
#include "registry.h"

static const struct bms_dr1363_family daren_family = {
	.name = "daren",
	.soi = '~',
	.any_soi = false,
	.cid1 = 0x4A,
	.realtime_info = true,
};

static int daren_init(void *state, uint8_t address)
{
	return bms_dr1363_init(&daren_family, state, address);
}

static int daren_frame_check(const uint8_t *p, size_t avail, size_t *ret_len)
{
	return bms_dr1363_check(&daren_family, p, avail, ret_len);
}

int bms_daren_describe(const uint8_t *frame, size_t len, struct bms_frame_desc *x)
{
	return bms_dr1363_describe(&daren_family, frame, len, x);
}

static const uint32_t daren_bauds[] = {9600, 19200, 0};
static const struct bms_link daren_links[] = {
	{.kind = BMS_LINK_SERIAL, .serial = {daren_bauds, BMS_8N1}},
};

const struct bms_driver bms_daren = {
	.name = "daren",
	.description =
		"Daren DR-1363 (DR48100JC, DR-JC03 rack packs), RS485 '~' ASCII VER 0x22 CID1 0x4A",
	.spec = "DR-1363 (YD/T 1363) 0x42/0x51; cpttinkering/daren-485; protocols.md 5, 5d",
	.links = daren_links,
	.nlinks = sizeof(daren_links) / sizeof(daren_links[0]),
	BMS_DR1363_DRIVER_COMMON,
	.init = daren_init,
	.frame_check = daren_frame_check,
};
