/* SPDX-License-Identifier: MIT */
/* The frame candidate scan the core runs over a driver's frame_check (bytes.h, bms.h). */
#include "bytes.h"

enum bms_find bms_scan_frames(const uint8_t *buf, size_t len, bms_check_fn check, const void *ctx,
			      size_t *ret_start, size_t *ret_len)
{
	size_t partial = len;
	for (size_t i = 0; i < len; i++) {
		size_t flen = 0;
		int r = check(ctx, buf + i, len - i, &flen);
		if (r == 1 && flen > 0 && flen <= len - i) {
			*ret_start = i;
			*ret_len = flen;
			return BMS_FIND_VALID;
		}
		if (r == 0 && partial == len)
			partial = i;
	}
	if (partial < len) {
		*ret_start = partial;
		return BMS_FIND_NEED_MORE;
	}
	return BMS_FIND_INVALID;
}

static int drv_check(const void *ctx, const uint8_t *p, size_t avail, size_t *ret_len)
{
	const struct bms_driver *drv = ctx;
	return drv->frame_check(p, avail, ret_len);
}

enum bms_find bms_frame_find(const struct bms_driver *drv, const uint8_t *buf, size_t len,
			     size_t *ret_start, size_t *ret_len)
{
	return bms_scan_frames(buf, len, drv_check, drv, ret_start, ret_len);
}
