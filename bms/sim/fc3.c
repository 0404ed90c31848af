/* SPDX-License-Identifier: MIT */
/* A register image answering function 0x03 reads (bms/sim/fc3.h). */
#include <errno.h>

#include "bms/bytes.h"
#include "bms/modbus_rtu.h"
#include "fc3.h"

static int sim_frame(uint8_t addr, uint8_t fn, const uint8_t *pdu, size_t n, uint8_t *out,
		     size_t cap)
{
	int r = bms_modbus_frame(addr, fn, pdu, n, out, cap);
	return r == -ENOBUFS ? -ENOSPC : r;
}

int bms_sim_fc3_reply(uint8_t addr, const uint16_t *img, uint16_t first, size_t n,
		      const uint8_t *req, size_t req_len, uint8_t *out, size_t cap)
{
	struct bms_modbus_req q;
	if (req_len != 8 || req[0] != addr || bms_modbus_parse_request(req, req_len, &q) < 0)
		return 0;
	uint8_t pdu[1 + 2 * BMS_MODBUS_MAX_READ_REGS];
	if (q.fn != BMS_MODBUS_READ_HOLDING) {
		pdu[0] = 0x01; /* illegal function */
		return sim_frame(addr, (uint8_t)(q.fn | BMS_MODBUS_EXCEPTION), pdu, 1, out, cap);
	}
	if (q.count == 0 || q.count > BMS_MODBUS_MAX_READ_REGS || q.start < first ||
	    (size_t)q.start + q.count > (size_t)first + n) {
		pdu[0] = 0x02; /* illegal data address */
		return sim_frame(addr, BMS_MODBUS_READ_HOLDING | BMS_MODBUS_EXCEPTION, pdu, 1, out,
				 cap);
	}
	pdu[0] = (uint8_t)(2 * q.count);
	for (unsigned i = 0; i < q.count; i++)
		put_u16be(pdu + 1 + 2 * i, img[q.start - first + i]);
	return sim_frame(addr, BMS_MODBUS_READ_HOLDING, pdu, 1 + 2u * q.count, out, cap);
}
