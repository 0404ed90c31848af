/* SPDX-License-Identifier: MIT */
/* One fuzz entry point for the shared protocol modules (see fuzz_protocols.c). */
#ifndef SB_TESTS_FUZZ_PROTOCOLS_H
#define SB_TESTS_FUZZ_PROTOCOLS_H

#include <stddef.h>
#include <stdint.h>

enum sb_fuzz_proto {
	SB_FUZZ_MODBUS_REPLY = 0,
	SB_FUZZ_MODBUS_REQUEST = 1,
	SB_FUZZ_PYLON = 2,
	SB_FUZZ_PROTO_COUNT
};

/* data[0] selects the module and direction (modulo SB_FUZZ_PROTO_COUNT). */
int sb_fuzz_protocols_one(const uint8_t *data, size_t size);

/* Feed bytes to one module; aborts on a broken contract. */
void sb_fuzz_protocol(enum sb_fuzz_proto which, const uint8_t *data, size_t size);

#endif
