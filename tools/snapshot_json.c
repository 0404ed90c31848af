/* SPDX-License-Identifier: MIT */
/* The file side of the snapshot JSON codec (bms/snapshot_json.c). */
#include "snapshot_json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int snapshot_json_write(FILE *f, const struct bms_snapshot *s)
{
	char buf[BMS_JSON_LINE_MAX];
	int r = bms_json_format(s, buf, sizeof(buf));
	if (r < 0)
		return r;
	return fputs(buf, f) < 0 ? -EIO : 0;
}

int snapshot_json_load(const char *path, struct bms_json_state *states, size_t cap, size_t *ret_n,
		       char *err, size_t errcap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (err && errcap)
			snprintf(err, errcap, "%s: %s", path, strerror(e));
		return -e;
	}
	char *buf = malloc(BMS_JSON_MAX_TEXT);
	int r = -ENOMEM;
	size_t len = 0;
	if (!buf)
		goto out;
	for (;;) {
		ssize_t k = read(fd, buf + len, BMS_JSON_MAX_TEXT - len);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto out;
		}
		if (k == 0)
			break;
		len += (size_t)k;
		if (len == BMS_JSON_MAX_TEXT) {
			r = -EFBIG;
			if (err && errcap)
				snprintf(err, errcap, "%s: larger than %d bytes", path,
					 BMS_JSON_MAX_TEXT);
			goto out;
		}
	}
	r = bms_json_read(buf, len, states, cap, ret_n, err, errcap);
out:
	free(buf);
	close(fd);
	return r;
}
