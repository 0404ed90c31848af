/* SPDX-License-Identifier: MIT */
/* Function 0x03 families' shared frame handling (bms/modbus_fc3.h). */
#include <errno.h>
#include <stdio.h>

#include "bytes.h"
#include "modbus_fc3.h"
#include "modbus_rtu.h"

int bms_fc3_check(uint8_t addr_min, uint8_t addr_max, const uint8_t *p, size_t avail,
		  size_t *ret_len)
{
	if (avail == 0)
		return 0;
	if (p[0] < addr_min || p[0] > addr_max)
		return -1;
	if (avail >= 2 && (p[1] & ~BMS_MODBUS_EXCEPTION) != BMS_MODBUS_READ_HOLDING)
		return -1;
	const struct bms_modbus_spec reply = {
		.match_addr = true, .addr_min = addr_min, .addr_max = addr_max};
	const struct bms_modbus_spec request = {
		.requests = true, .match_addr = true, .addr_min = addr_min, .addr_max = addr_max};
	size_t n = 0;
	int rr = bms_modbus_check(&reply, p, avail, &n);
	if (rr == 1 && n <= BMS_MODBUS_MAX_ADU) {
		*ret_len = n;
		return 1;
	}
	int rq = bms_modbus_check(&request, p, avail, &n);
	if (rq == 1) {
		*ret_len = n;
		return 1;
	}
	/* a byte count that makes a reply longer than any RTU frame is noise */
	return (rr == 0 && !(avail >= 3 && 5u + p[2] > BMS_MODBUS_MAX_ADU)) || rq == 0 ? 0 : -1;
}

bool bms_fc3_is_request(const uint8_t *f, size_t len)
{
	return len == 8 && f[1] == BMS_MODBUS_READ_HOLDING;
}

int bms_fc3_reply(uint8_t addr, uint16_t start, uint16_t count, const uint8_t *f, size_t len,
		  const uint8_t **ret_data)
{
	if (len < 5 || !bms_modbus_crc_ok(f, len))
		return -EBADMSG;
	if (bms_fc3_is_request(f, len) || f[0] != addr)
		return BMS_FOREIGN;
	const struct bms_modbus_req asked = {
		.addr = addr, .fn = BMS_MODBUS_READ_HOLDING, .start = start, .count = count};
	const uint8_t *d;
	size_t n;
	int r = bms_modbus_reply(&asked, f, len, &d, &n, NULL);
	if (r == -EPROTO)
		return BMS_FOREIGN;
	if (r < 0)
		return r;
	*ret_data = d;
	return 0;
}

int bms_fc3_describe_frame(uint8_t addr_min, uint8_t addr_max, const uint8_t *f, size_t len,
			   struct bms_frame_desc *x)
{
	size_t flen = 0;
	if (bms_fc3_check(addr_min, addr_max, f, len, &flen) != 1 || flen != len)
		return -1;
	if (f[1] & BMS_MODBUS_EXCEPTION) {
		bms_desc_init(x, BMS_DIR_REPLY, 0, f[0], "exception to 0x03");
		bms_desc_num(x, "address", f[0]);
		bms_desc_num(x, "function", f[1]);
		bms_desc_num(x, "exception_code", f[2]);
		return 1;
	}
	if (!bms_fc3_is_request(f, len))
		return 0;
	uint16_t start = (uint16_t)((f[2] << 8) | f[3]), count = (uint16_t)((f[4] << 8) | f[5]);
	char name[40];
	snprintf(name, sizeof(name), "read %u x%u", start, count);
	bms_desc_init(x, BMS_DIR_REQUEST, start, f[0], name);
	bms_desc_num(x, "address", f[0]);
	bms_desc_num(x, "function", f[1]);
	bms_desc_num(x, "start_register", start);
	bms_desc_num(x, "register_count", count);
	return 1;
}
