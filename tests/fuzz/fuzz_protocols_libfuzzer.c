/* SPDX-License-Identifier: MIT */
/* libFuzzer glue for the shared protocol modules (Modbus RTU, '~' ASCII). */
#include "fuzz_protocols.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return sb_fuzz_protocols_one(data, size);
}
