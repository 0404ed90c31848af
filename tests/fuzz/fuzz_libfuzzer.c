/* SPDX-License-Identifier: MIT */
/* libFuzzer glue; SB_FUZZ_LIST=1 prints the registered driver names and exits. */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_drivers.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (getenv("SB_FUZZ_LIST")) {
		for (size_t i = 0; bms_drivers[i]; i++)
			printf("%s\n", bms_drivers[i]->name);
		exit(0);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return sb_fuzz_one(data, size);
}
