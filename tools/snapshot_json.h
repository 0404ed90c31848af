/* SPDX-License-Identifier: MIT */
/*
 * Snapshot JSON to and from files for the CLI. The codec itself (keys,
 * units, the state file format) is bms/snapshot_json.h; here is only what
 * touches a FILE or a path.
 */
#ifndef SB_TOOLS_SNAPSHOT_JSON_H
#define SB_TOOLS_SNAPSHOT_JSON_H

#include <stddef.h>
#include <stdio.h>

#include "bms/snapshot_json.h"

/* bms_json_format() of s as one line (no newline) to f. Returns 0 or -EIO. */
int snapshot_json_write(FILE *f, const struct bms_snapshot *s);

/* bms_json_read() of a whole file; -errno when it cannot be read, -EFBIG above
 * BMS_JSON_MAX_TEXT. */
int snapshot_json_load(const char *path, struct bms_json_state *states, size_t cap, size_t *ret_n,
		       char *err, size_t errcap);

#endif
