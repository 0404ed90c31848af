/* SPDX-License-Identifier: MIT */
/* One fuzz entry point for every registered BMS driver (see fuzz_drivers.c). */
#ifndef SB_TESTS_FUZZ_DRIVERS_H
#define SB_TESTS_FUZZ_DRIVERS_H

#include <stddef.h>
#include <stdint.h>

#include "bms/bms.h"

/* data[0] selects the driver (or SB_FUZZ_DRIVER), data[1..] are the bytes. */
int sb_fuzz_one(const uint8_t *data, size_t size);

/* Feed bytes to one driver; aborts on a broken contract. */
void sb_fuzz_driver(const struct bms_driver *drv, const uint8_t *data, size_t size);

#endif
