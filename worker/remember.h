/* SPDX-License-Identifier: MIT */
/*
 * The remembered protocol per adapter, so the next start tries it first.
 */
#ifndef SB_WORKER_REMEMBER_H
#define SB_WORKER_REMEMBER_H

#include <stdint.h>

#include "bms/bms.h"

/*
 * <state_dir>/detect/<sanitised identity>: "driver baud address", read and
 * written through common/statefile (no symlink followed, the directory must
 * be ours and not writable by others). 0 or a negative errno.
 */
int worker_remember_load(const char *state_dir, const char *identity,
			 const struct bms_driver **ret_drv, uint32_t *ret_baud,
			 uint8_t *ret_address);
int worker_remember_save(const char *state_dir, const char *identity, const struct bms_driver *drv,
			 uint32_t baud, uint8_t address);

#endif
