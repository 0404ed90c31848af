/* SPDX-License-Identifier: MIT */
/*
 * JBD UP16S series / pack firmware, Modbus-like function 0x78 over RS485
 * (docs/PROTOCOLS.md "JBD UP16S"; reference: protocols.md section 3b).
 *
 * Link: 9600 8N1, RS485, addressed: packs 1..16 on one bus, 1 is the master.
 * The driver's address is the pack address; default 1.
 *
 * Frame layout (header fields big-endian, the CRC little-endian):
 *   request  addr 78 start(2) end(2) 00 00 crc(2)          (10 bytes)
 *   reply    addr 78 start(2) end(2) len(2) data[len] crc(2) (len + 10 bytes)
 * start/end are the register range asked for (byte addresses: the status
 * block 0x1000..0x10A0 answers with 158 bytes for 16 cells); the reply
 * repeats them.
 * Checksum: CRC-16/Modbus (init 0xFFFF, poly 0xA001) over everything before
 * it, sent low byte first.
 *
 * Sample (UP16S020, pack 1, 16 cells):
 *   request  01 78 10 00 10 A0 00 00 7F B2
 *   reply    01 78 10 00 10 A0 00 9E 14 C5 00 00 00 04 93 E0 17 CF 17 CF
 *            27 10 27 10 02 C6 02 D6 ... (158 data bytes) 6A 2E
 *            -> 53.17 V, 0 A (raw 300000), 60.95 %, 60.95 of 100 Ah, MOSFET
 *               21.0 degC, 12 cycles, 16 cells 3.317..3.331 V, 4 sensors
 *               20.4..21.2 degC, CCL/DCL 200 A, firmware 0x0C04, serial
 *               "JBD48100000"
 *
 * Status block (data offsets, all u16 BE unless noted): 0 pack voltage 10 mV,
 * 2 unknown, 4 current u32 = 300000 + 10 mA units, 8 SOC 0.01 %, 10 remaining
 * 10 mAh, 12 full 10 mAh, 14 rated 10 mAh, 16 MOSFET temp, 18 ambient temp
 * (both (raw - 500) in 0.1 degC), 20 operation status, 22 SOH %, 24 fault
 * bits u32, 28 alarm bits u32, 32 MOSFET bits, 34 connection bits, 36 cycles,
 * 38..47 max/min cell number and mV and the average, 48..57 max/min sensor
 * and temperature and the average, 58 max charge voltage 0.1 V, 60 charge
 * current limit 0.1 A, 62 min discharge voltage 0.1 V, 64 discharge current
 * limit 0.1 A, 66 cell count n, n x cell mV, sensor count m, m x temperature,
 * then unknown u16, balancing u16 (cell 1 = bit 0), firmware u16, 30 bytes
 * ASCII pack serial, and a tail nobody decodes.
 *
 * Poll cycle: the status block 0x1000..0x10A0, then product information
 * 0x2810..0x283C (firmware major.minor.patch, model), declared static data
 * (BMS_STEP_STATIC): the core asks it on the first cycle after init and
 * every 64th cycle after while it is missing. Why not every cycle: it never
 * changes, and only the unit on the port (or any unit via the BT/UART port)
 * answers it, so a pack reached through the master stays silent and each
 * attempt costs a timeout. The core keeps the product facts and puts them
 * over the status block's firmware word each cycle. The probe is the
 * status block alone: every unit answers it for any address on the bus.
 *
 * Decisions where sources conflict or are silent:
 * - MOSFET bits: bit 0 = DISCHARGE, bit 1 = charge. The fact sheet's table
 *   says bit 0 charge, bit 1 discharge, but both implementations that talk to
 *   real units (dbus-serialbattery lltjbd_up16s, tested on UP16S015, and
 *   syssi's ESPHome jbd_bms_up_pack, which also writes the bits) use bit 0 =
 *   discharge, and the sample (0x0003) cannot tell. The implementations win.
 * - Fault bits (u32 at 24, "protect" in ESPHome) are active protections:
 *   level 2. Alarm bits (u32 at 28) are warnings: level 1. Mapped:
 *     fault 0/1 cell over/under voltage -> High/LowCellVoltage; 2/3 pack
 *     over/under voltage -> High/LowVoltage; 4,5 charge over-current 1/2 ->
 *     HighChargeCurrent; 6,7 discharge over-current 1/2 ->
 *     HighDischargeCurrent; 8/9 charge over/under temperature ->
 *     High/LowChargeTemperature; 10/11 discharge over/under temperature and
 *     13/14 ambient over/under temperature -> High/LowTemperature; 12 MOSFET
 *     over-temperature -> HighInternalTemperature; 15 cell voltage difference
 *     -> CellImbalance; 17 SOC too low -> LowSoc; 18 short circuit ->
 *     HighCurrent (as the jbd driver); 19 cell sense line offline, 20
 *     temperature sensor lost, 21/22 charge/discharge MOSFET fault, 23
 *     current-limiter fault, 24 aerosol (fire suppressant) triggered, 26 AFE
 *     communication -> InternalFailure.
 *     alarm 0..3 as fault 0..3; 4 -> HighChargeCurrent; 5 ->
 *     HighDischargeCurrent; 6/7 -> High/LowChargeTemperature; 8/9 and 11/12
 *     (ambient) -> High/LowTemperature; 10 -> HighInternalTemperature; 13 ->
 *     CellImbalance; 15 -> LowSoc; 16 EEPROM fault -> InternalFailure.
 *   Not mapped: temperature difference (fault 16, alarm 14; Victron has no
 *   such alarm, dbus-serialbattery shows it as CellImbalance, which is a
 *   voltage alarm), full-charge protection (fault 25, alarm 18: the normal
 *   end of a charge), RTC abnormal (alarm 17: no effect on the battery), and
 *   everything above (fault 27 "reverse" is named by one source only).
 * - Fields without a snapshot field are read past: ambient temperature,
 *   operation status (the current's sign says the same), connection bits,
 *   the max/min/average cell and sensor statistics (recomputed from the
 *   lists), the max charge and min discharge voltages (no voltage limit in
 *   the snapshot). Rated capacity is the design capacity.
 * - The 30 bytes after the firmware word: the fact sheet and
 *   dbus-serialbattery call them the pack serial, ESPHome the device model.
 *   The sample holds "JBD48100000", which is no model name: serial.
 * - Firmware word: 0x0C04 -> "12.4" (high byte . low byte); a value below
 *   0x100 is a plain number (dbus-serialbattery: a master forwarding a slave
 *   sends it that way); 0 means not sent. Product information, when read,
 *   replaces it with major.minor.patch.
 * - The CCL/DCL of the master are the bank's aggregated limits, those of a
 *   slave its own; the driver reports what the addressed unit sends.
 * - Framing is the Modbus module's (bms/modbus_rtu.h): the request is a
 *   vendor frame, frame_check is bms_modbus_check with two vendor shapes,
 *   0x78 and 0x45 (the master's pack poll, same framing, so a whole foreign
 *   frame is skipped at once), each with a BE16 length at offset 6 of
 *   0..UP_MAX_DATA, and the address filter 1..16. Length 0 is a request: a
 *   frame, so a capture's requests are described and another master's
 *   request (or our own echo) is skipped whole as foreign. The exception
 *   replies of both (fn | 0x80, 5 bytes) are frames too; the standard
 *   functions are not (vendor_only): we never ask one, and their short
 *   headers turn up inside status data ("04 02 c8": a 205-byte read reply),
 *   which would make garbage wait for more bytes.
 * - parse: requests, other addresses' replies and exceptions, 0x45/0xC5
 *   traffic and replies to another block (start, and for a poll step end,
 *   other than asked) are BMS_FOREIGN; an exception 0xF8 from our pack is
 *   the pack refusing (-EREMOTEIO, through bms_modbus_reply). A READ takes
 *   the block whatever end register the capture asked with.
 * - The fixed part of the status block (data bytes 0..67) is a register map:
 *   start/end are byte addresses (0x1000..0x10A0 for 158 bytes), so
 *   register n of the map is data bytes 2n, 2n+1. The cell and sensor lists
 *   (counted, at shifting offsets), the alarm words and the tail stay hand
 *   code, and so do the range checks that refuse a frame before the map
 *   writes anything. A MOSFET temperature that does not fit its field (raw
 *   above 33267) now refuses the frame; it used to wrap to a value below
 *   -40 degC that the plausibility check refused anyway.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bms.h"
#include "registry.h"
#include "bytes.h"
#include "jbd_up16s_wire.h"
#include "modbus_rtu.h"

#define UP_PRODUCT_EVERY 64 /* cycles between product attempts while missing */

struct up_state {
	uint8_t addr; /* 1..16 */
};

static int up_init(void *state, uint8_t address)
{
	struct up_state *st = state;
	if (address > UP_ADDR_MAX)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	st->addr = address ? address : 1;
	return 0;
}

/* The start register a request descriptor stands for; 0 = the cycle has no such step. */
static uint16_t up_start(const struct bms_request *req)
{
	switch (req->kind) {
	case BMS_REQ_PROBE:
		return req->step == 0 ? UP_STATUS : 0;
	case BMS_REQ_POLL:
		return req->step == 0 ? UP_STATUS : req->step == 1 ? UP_PRODUCT : 0;
	case BMS_REQ_READ:
		/* the blocks we decode; the caller checked req->reg is one of them */
		return req->step == 0 ? req->reg : 0;
	default:
		return 0;
	}
}

static int up_build_request(void *state, const struct bms_request *req, uint8_t *out, size_t cap)
{
	struct up_state *st = state;
	if (req->kind == BMS_REQ_SET)
		return -EOPNOTSUPP;
	if (req->kind == BMS_REQ_READ && req->reg != UP_STATUS && req->reg != UP_PRODUCT)
		return -EOPNOTSUPP;
	uint16_t start = up_start(req);
	if (start == 0)
		return 0;
	uint16_t end = start == UP_STATUS ? UP_STATUS_END : UP_PRODUCT_END;
	uint8_t pdu[UP_PDU_HDR];
	return up_put_frame(st->addr, start, end, pdu, 0, out, cap);
}

/* What the Modbus frame check accepts on a UP16S bus (see the header). */
static const struct bms_modbus_shape up_shapes[] = {
	{.fn = UP_READ, .len_off = 6, .len_size = 2, .len_min = 0, .len_max = UP_MAX_DATA},
	{.fn = UP_PACK_POLL, .len_off = 6, .len_size = 2, .len_min = 0, .len_max = UP_MAX_DATA},
};
static const struct bms_modbus_spec up_spec = {
	.vendor = up_shapes,
	.nvendor = sizeof(up_shapes) / sizeof(up_shapes[0]),
	.vendor_only = true,
	.match_addr = true,
	.addr_min = 1,
	.addr_max = UP_ADDR_MAX,
};

static int up_frame_check(const uint8_t *p, size_t avail, size_t *ret_len)
{
	return bms_modbus_check(&up_spec, p, avail, ret_len);
}

static void raise_to(struct bms_snapshot *s, uint8_t alarm, uint8_t level)
{
	if (s->alarm[alarm] < level)
		s->alarm[alarm] = level;
}

static void set_alarms(uint32_t faults, uint32_t warns, struct bms_snapshot *s)
{
	memset(s->alarm, 0, sizeof(s->alarm));
	for (size_t i = 0; i < NBITS(fault_map); i++)
		if (faults & (1u << fault_map[i].bit))
			raise_to(s, fault_map[i].alarm, 2);
	for (size_t i = 0; i < NBITS(warn_map); i++)
		if (warns & (1u << warn_map[i].bit))
			raise_to(s, warn_map[i].alarm, 1);
	s->valid |= BMS_V_ALARMS;
}

static void fw_string(uint16_t fw, char *out, size_t cap)
{
	if (fw >= 0x100)
		snprintf(out, cap, "%u.%u", (unsigned)(fw >> 8), fw & 0xFFu);
	else
		snprintf(out, cap, "%u", (unsigned)fw);
}

/*
 * The fixed part of the status block, register n = data bytes 2n, 2n+1
 * (the block's addresses count bytes). Ambient temperature (9), operation
 * status (10), connection bits (17), the statistics (19..28) and the
 * voltage limits (29, 31) have no snapshot field.
 */
static const struct bms_modbus_reg up_status_map[] = {
	/* reg, count, type, mask, offset, mul, div, field, valid */
	{0, 1, BMS_MODBUS_U16, 0, 0, 10, 1, BMS_MODBUS_FIELD(voltage_mv), BMS_V_VOLTAGE},
	{2, 1, BMS_MODBUS_U32, 0, -UP_CURRENT_ZERO, 10, 1, BMS_MODBUS_FIELD(current_ma),
	 BMS_V_CURRENT},
	{4, 1, BMS_MODBUS_U16, 0, 0, 1, 1, BMS_MODBUS_FIELD(soc_cpct), BMS_V_SOC},
	{5, 1, BMS_MODBUS_U16, 0, 0, 10, 1, BMS_MODBUS_FIELD(capacity_remain_mah),
	 BMS_V_CAP_REMAIN},
	{6, 1, BMS_MODBUS_U16, 0, 0, 10, 1, BMS_MODBUS_FIELD(capacity_full_mah), BMS_V_CAP_FULL},
	{7, 1, BMS_MODBUS_U16, 0, 0, 10, 1, BMS_MODBUS_FIELD(capacity_design_mah),
	 BMS_V_CAP_DESIGN},
	{8, 1, BMS_MODBUS_U16, 0, -UP_TEMP_ZERO, 1, 1, BMS_MODBUS_FIELD(mosfet_temp_dc),
	 BMS_V_MOSFET_TEMP},
	{11, 1, BMS_MODBUS_U16, 0, 0, 100, 1, BMS_MODBUS_FIELD(soh_cpct), BMS_V_SOH},
	{16, 1, BMS_MODBUS_U16, 1u << 0, 0, 1, 1, BMS_MODBUS_FIELD(discharge_fet), BMS_V_FETS},
	{16, 1, BMS_MODBUS_U16, 1u << 1, 0, 1, 1, BMS_MODBUS_FIELD(charge_fet), BMS_V_FETS},
	{18, 1, BMS_MODBUS_U16, 0, 0, 1, 1, BMS_MODBUS_FIELD(cycles), BMS_V_CYCLES},
	{30, 1, BMS_MODBUS_U16, 0, 0, 100, 1, BMS_MODBUS_FIELD(max_charge_ma), BMS_V_MAX_CHARGE_I},
	{32, 1, BMS_MODBUS_U16, 0, 0, 100, 1, BMS_MODBUS_FIELD(max_discharge_ma),
	 BMS_V_MAX_DISCHARGE_I},
};

static int parse_status(const uint8_t *d, size_t n, struct bms_snapshot *s)
{
	struct breader r = br_init(d, n);
	if (n < UP_STATUS_FIXED)
		return -EPROTO;

	/* what the map cannot judge: values no pack sends refuse the frame */
	br_seek(&r, 4);
	uint32_t cur = br_u32be(&r);
	uint16_t soc = br_u16be(&r);
	br_seek(&r, 22);
	uint16_t soh = br_u16be(&r);
	uint32_t faults = br_u32be(&r);
	uint32_t warns = br_u32be(&r);
	br_seek(&r, UP_STATUS_FIXED - 2);
	uint16_t ncell = br_u16be(&r);
	if (ncell == 0 || ncell > BMS_MAX_CELLS)
		return -EPROTO;
	uint16_t cells[BMS_MAX_CELLS];
	for (unsigned i = 0; i < ncell; i++)
		cells[i] = br_u16be(&r);
	uint16_t ntemp = br_u16be(&r);
	if (r.err || ntemp > br_left(&r) / 2)
		return -EPROTO;
	int16_t temps[BMS_MAX_TEMPS];
	for (unsigned i = 0; i < ntemp; i++) {
		uint16_t t = br_u16be(&r);
		if (i < BMS_MAX_TEMPS)
			temps[i] = (int16_t)((int)t - UP_TEMP_ZERO);
	}
	/* the tail: a master forwarding a slave may cut it short */
	uint16_t bal = 0, fw = 0;
	bool have_tail = br_left(&r) >= 6;
	char serial[BMS_STR_LEN] = "";
	if (have_tail) {
		br_skip(&r, 2); /* unknown */
		bal = br_u16be(&r);
		fw = br_u16be(&r);
		if (br_left(&r) >= UP_SERIAL_LEN)
			br_str(&r, UP_SERIAL_LEN, serial, sizeof(serial));
	}
	if (r.err)
		return -EPROTO;
	if (soc > 10000 || soh > 100 || cur > UP_CURRENT_ZERO + UP_CURRENT_SPAN)
		return -EPROTO;
	/* all or nothing: a MOSFET temperature beyond int16 refuses the frame unwritten */
	if (bms_modbus_map_apply(up_status_map, sizeof(up_status_map) / sizeof(up_status_map[0]), 0,
				 d, UP_STATUS_FIXED, s) < 0)
		return -EPROTO;

	s->cell_count = (uint8_t)ncell;
	memcpy(s->cell_mv, cells, ncell * sizeof(cells[0]));
	s->temp_count = (uint8_t)(ntemp > BMS_MAX_TEMPS ? BMS_MAX_TEMPS : ntemp);
	memcpy(s->temp_dc, temps, s->temp_count * sizeof(temps[0]));
	s->valid |= BMS_V_CELLS | BMS_V_TEMPS;
	set_alarms(faults, warns, s);
	if (have_tail) {
		s->balancing = bal;
		s->valid |= BMS_V_BALANCING;
		if (fw != 0) {
			fw_string(fw, s->sw_version, sizeof(s->sw_version));
			s->valid |= BMS_V_SW_VERSION;
		}
		if (serial[0]) {
			snprintf(s->serial, sizeof(s->serial), "%s", serial);
			s->valid |= BMS_V_SERIAL;
		}
	}
	return 0;
}

static int parse_product(const uint8_t *d, size_t n, struct bms_snapshot *s)
{
	struct breader r = br_init(d, n);
	if (n < UP_PRODUCT_LEN)
		return -EPROTO;
	br_skip(&r, 4); /* model id?, hardware revision? (names are guesses) */
	unsigned major = br_u16be(&r);
	unsigned minor = br_u16be(&r);
	unsigned patch = br_u16be(&r);
	br_skip(&r, 2);
	char model[BMS_STR_LEN];
	br_str(&r, 16, model, sizeof(model));
	if (r.err)
		return -EPROTO;
	snprintf(s->sw_version, sizeof(s->sw_version), "%u.%u.%u", major, minor, patch);
	s->valid |= BMS_V_SW_VERSION;
	if (model[0]) {
		snprintf(s->model, sizeof(s->model), "%s", model);
		s->valid |= BMS_V_MODEL;
	}
	return 0;
}

/* A request (length 0: a 0x78 read or the master's 0x45), not a reply. */
static bool up_is_request(const uint8_t *frame, size_t len)
{
	return len == UP_OVERHEAD && (frame[1] == UP_READ || frame[1] == UP_PACK_POLL);
}

static int up_parse(void *state, const struct bms_request *req, const uint8_t *frame, size_t len,
		    struct bms_snapshot *snap)
{
	struct up_state *st = state;
	size_t flen = 0;
	if (bms_modbus_check(&up_spec, frame, len, &flen) != 1 || flen != len)
		return -EBADMSG;
	uint16_t want = up_start(req);
	if (want == 0)
		return -EPROTO; /* the descriptor asks nothing */
	/*
	 * Frames of someone else's exchange on the bus: any request (another
	 * master's, the master's 0x45 pack poll, our own echo), another unit's
	 * reply or exception, the 0x45 traffic, a reply to another block.
	 */
	if (up_is_request(frame, len) || frame[0] != st->addr ||
	    (frame[1] & ~BMS_MODBUS_EXCEPTION) != UP_READ)
		return BMS_FOREIGN;
	/* our pack refusing: -EREMOTEIO */
	const struct bms_modbus_req asked = {.addr = st->addr, .fn = UP_READ};
	const uint8_t *pdu;
	size_t n;
	int r = bms_modbus_reply(&asked, frame, len, &pdu, &n, NULL);
	if (r < 0)
		return r;
	uint16_t start = (uint16_t)((pdu[0] << 8) | pdu[1]);
	uint16_t end = (uint16_t)((pdu[2] << 8) | pdu[3]);
	/* a READ takes the block whatever range a capture asked; a poll its own range */
	uint16_t want_end = want == UP_STATUS ? UP_STATUS_END : UP_PRODUCT_END;
	if (start != want || (req->kind != BMS_REQ_READ && end != want_end))
		return BMS_FOREIGN; /* answers another request */
	/* the check held the length field to the frame's size */
	const uint8_t *d = pdu + UP_PDU_HDR;
	n -= UP_PDU_HDR;
	return start == UP_STATUS ? parse_status(d, n, snap) : parse_product(d, n, snap);
}

/* ---- describe: what a frame is, told without the request ---- */

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return ((uint32_t)be16(p) << 16) | be16(p + 2);
}

static double temp_c(uint16_t raw)
{
	return ((int)raw - UP_TEMP_ZERO) / 10.0;
}

static const char *block_name(uint16_t start)
{
	switch (start) {
	case UP_STATUS:
		return "status";
	case UP_PRODUCT:
		return "product information";
	case 0x1C00:
		return "model/serial/dates";
	case 0x2006:
		return "soc and totals";
	default:
		return start >= 0x1800 && start < 0x1900 ? "parameters" : "block";
	}
}

/* The status block's values that have no snapshot field (offsets: the driver's header). */
static void describe_status(const uint8_t *d, size_t n, struct bms_frame_desc *x)
{
	if (n < UP_STATUS_FIXED)
		return;
	bms_desc_num(x, "unknown_word_2", be16(d + 2));
	bms_desc_num(x, "ambient_temp_c", temp_c(be16(d + 18)));
	bms_desc_num(x, "operation_status", be16(d + 20));
	bms_desc_num(x, "fault_bits", be32(d + 24));
	bms_desc_num(x, "alarm_bits", be32(d + 28));
	bms_desc_num(x, "mosfet_bits", be16(d + 32));
	bms_desc_num(x, "connection_bits", be16(d + 34));
	bms_desc_num(x, "max_cell_no", be16(d + 38));
	bms_desc_num(x, "max_cell_v", be16(d + 40) / 1000.0);
	bms_desc_num(x, "min_cell_no", be16(d + 42));
	bms_desc_num(x, "min_cell_v", be16(d + 44) / 1000.0);
	bms_desc_num(x, "avg_cell_v", be16(d + 46) / 1000.0);
	bms_desc_num(x, "max_temp_no", be16(d + 48));
	bms_desc_num(x, "max_temp_c", temp_c(be16(d + 50)));
	bms_desc_num(x, "min_temp_no", be16(d + 52));
	bms_desc_num(x, "min_temp_c", temp_c(be16(d + 54)));
	bms_desc_num(x, "avg_temp_c", temp_c(be16(d + 56)));
	bms_desc_num(x, "max_charge_voltage_v", be16(d + 58) / 10.0);
	bms_desc_num(x, "min_discharge_voltage_v", be16(d + 62) / 10.0);
	size_t o = UP_STATUS_FIXED + 2u * be16(d + UP_STATUS_FIXED - 2);
	if (o + 2 > n)
		return;
	o += 2 + 2u * be16(d + o);
	if (o + 6 > n)
		return; /* no tail (a master forwarding a slave) */
	bms_desc_num(x, "unknown_word_tail", be16(d + o));
	bms_desc_num(x, "balance_bits", be16(d + o + 2));
	bms_desc_num(x, "firmware_word", be16(d + o + 4));
	o += 6 + UP_SERIAL_LEN;
	if (o < n)
		bms_desc_num(x, "undecoded_tail_bytes", (double)(n - o));
}

static void describe_product(const uint8_t *d, size_t n, struct bms_frame_desc *x)
{
	if (n < UP_PRODUCT_LEN)
		return;
	bms_desc_num(x, "product_word_0", be16(d));
	bms_desc_num(x, "product_word_1", be16(d + 2));
	bms_desc_num(x, "firmware_major", be16(d + 4));
	bms_desc_num(x, "firmware_minor", be16(d + 6));
	bms_desc_num(x, "firmware_patch", be16(d + 8));
	bms_desc_num(x, "product_word_5", be16(d + 10));
	bms_desc_text(x, "project_code", (const char *)d + 28, 16);
}

int bms_jbd_up16s_describe(const uint8_t *frame, size_t len, struct bms_frame_desc *x)
{
	size_t flen = 0;
	if (bms_modbus_check(&up_spec, frame, len, &flen) != 1 || flen != len)
		return -1;
	uint8_t fn = frame[1];
	char name[40];
	if (fn & BMS_MODBUS_EXCEPTION) {
		/* 5 bytes: the register it refuses is not in it */
		bms_modbus_describe_exception(frame, NULL, x);
		return 0;
	}
	uint16_t start = be16(frame + 2), end = be16(frame + 4), n = be16(frame + 6);
	bool req = up_is_request(frame, len);
	if (fn == UP_PACK_POLL)
		snprintf(name, sizeof(name), "0x45 pack poll %s 0x%04X", req ? "request" : "reply",
			 start);
	else
		snprintf(name, sizeof(name), "%s%s", req ? "read " : "", block_name(start));
	bms_desc_init(x, req ? BMS_DIR_REQUEST : BMS_DIR_REPLY, start, frame[0], name);
	bms_desc_num(x, "address", frame[0]);
	bms_desc_num(x, "function", fn);
	bms_desc_num(x, "start_register", start);
	bms_desc_num(x, "end_register", end);
	bms_desc_num(x, "data_length", n);
	if (req || fn != UP_READ)
		return 0;
	if (start == UP_STATUS)
		describe_status(frame + 8, n, x);
	else if (start == UP_PRODUCT)
		describe_product(frame + 8, n, x);
	return 0;
}

/* Poll steps: the status block, then the product block, static data. */
static const struct bms_step up_steps[] = {
	{0},
	{.flags = BMS_STEP_STATIC,
	 .every = UP_PRODUCT_EVERY,
	 .fills = BMS_V_SW_VERSION | BMS_V_MODEL},
};
static const uint32_t up_bauds[] = {9600, 0};
static const struct bms_link up_links[] = {
	{.kind = BMS_LINK_SERIAL, .serial = {up_bauds, BMS_8N1}},
};
static const uint8_t up_addresses[] = {1, 0};

const struct bms_driver bms_jbd_up16s = {
	.name = "jbd_up16s",
	.description = "JBD UP16S series / pack firmware, RS485 function 0x78 (Modbus CRC)",
	.spec = "JBD UP16S pack protocol, status 0x1000, product 0x2810; protocols.md section 3b",
	.links = up_links,
	.nlinks = sizeof(up_links) / sizeof(up_links[0]),
	.addresses = up_addresses, /* 1 is the master */
	.address_min = 1,
	.address_max = UP_ADDR_MAX,
	/* replies take 0.3-0.6 s (dbus-serialbattery's measurements) */
	.response_timeout_ms = 1000,
	.inter_frame_gap_ms = 20,
	.poll_interval_ms = 2000,
	.max_frame = UP_MAX_DATA + UP_OVERHEAD,
	.flags = BMS_F_ADDRESSED,
	.alarms = BMS_ALARMS_COMMON | BMS_ALARM_BIT(HIGH_INTERNAL_TEMPERATURE) |
		  BMS_ALARM_BIT(CELL_IMBALANCE) | BMS_ALARM_BIT(LOW_SOC) |
		  BMS_ALARM_BIT(HIGH_CURRENT) | BMS_ALARM_BIT(INTERNAL_FAILURE),
	.state_size = sizeof(struct up_state),
	.steps = up_steps,
	.nsteps = sizeof(up_steps) / sizeof(up_steps[0]),
	.init = up_init,
	.build_request = up_build_request,
	.frame_check = up_frame_check,
	.parse = up_parse,
};
