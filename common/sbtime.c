/* SPDX-License-Identifier: MIT */
#include "sbtime.h"

#include <stdint.h>

static uint64_t time_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t time_mono_us(void)
{
	return time_mono_ns() / 1000u;
}
uint64_t time_mono_ms(void)
{
	return time_mono_ns() / 1000000u;
}

int time_poll_timeout(uint64_t deadline_ms)
{
	uint64_t now = time_mono_ms();
	if (deadline_ms <= now)
		return 0;
	uint64_t d = deadline_ms - now;
	return d > INT32_MAX ? INT32_MAX : (int)d;
}

struct timespec time_ms_to_timespec(uint64_t ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
	return ts;
}
