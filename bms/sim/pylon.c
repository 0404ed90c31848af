/* SPDX-License-Identifier: MIT */
/* The '~' ASCII families' simulators: request checks and the reply (bms/sim/pylon.h). */
#include <errno.h>

#include "pylon.h"

int bms_sim_pylon_asked(const struct bms_pylon_spec *spec, uint8_t ver, uint8_t cid1, uint8_t adr,
			const uint8_t *req, size_t req_len, struct bms_pylon_frame *f)
{
	if (bms_pylon_decode(spec, req, req_len, f) < 0 || bms_pylon_is_reply(f->cid2) ||
	    f->adr != adr)
		return -1;
	if (f->ver != ver)
		return 0x01;
	return f->cid1 != cid1 ? 0x04 : 0;
}

int bms_sim_pylon_reply(uint8_t soi, uint8_t ver, uint8_t cid1, uint8_t adr, uint8_t rtn,
			const uint8_t *d, size_t n, uint8_t *out, size_t cap)
{
	int r = bms_pylon_request(ver, adr, cid1, rtn, d, n, out, cap);
	if (r < 0)
		return r == -ENOBUFS ? -ENOSPC : r;
	if (soi)
		out[0] = soi;
	return r;
}
