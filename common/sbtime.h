/* SPDX-License-Identifier: MIT */
/* Monotonic time helpers (CLOCK_MONOTONIC). Pure layers take `now` as an argument instead. */
#ifndef SB_TIME_H
#define SB_TIME_H

#include <stdint.h>
#include <time.h>

uint64_t time_mono_us(void);
uint64_t time_mono_ms(void);
/* Milliseconds from now until deadline_ms (0 when passed), clamped to INT32_MAX: a poll() timeout.
 */
int time_poll_timeout(uint64_t deadline_ms);
struct timespec time_ms_to_timespec(uint64_t ms);

#endif
