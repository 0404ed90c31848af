/* SPDX-License-Identifier: MIT */
/*
 * The drivers, in detection order: one line each (docs/PROTOCOLS.md "Adding a
 * protocol"). A line names the driver's symbol bms_<name>, defined in
 * bms/<name>.c (CMake builds every .c in bms/), and its describe function
 * bms_<name>_describe (tools only: see bms_driver_describe in bms.h).
 * Order = detection order within a baud group: most used first, unique
 * checksummed headers before generic Modbus, opt-in drivers last (only tried
 * when named in the config).
 */
#ifndef SB_BMS_REGISTRY_H
#define SB_BMS_REGISTRY_H

#include "bms.h"

#define BMS_DRIVER_LIST(X)                                                                         \
	X(jk)                                                                                      \
	X(jkpb)                                                                                    \
	X(jbd)                                                                                     \
	X(daly)                                                                                    \
	X(jbd_up16s)                                                                               \
	X(pace)                                                                                    \
	X(pylontech)                                                                               \
	X(daren)                                                                                   \
	X(ks48100)                                                                                 \
	X(seplos_v2)                                                                               \
	X(seplos_v3)                                                                               \
	X(ant_2021)                                                                                \
	X(ant_legacy)                                                                              \
	X(eg4_lifepower)                                                                           \
	X(felicity)                                                                                \
	X(heltec)                                                                                  \
	X(ecs)                                                                                     \
	X(renogy)                                                                                  \
	X(eg4_ll)                                                                                  \
	X(hlpdata)                                                                                 \
	X(sinowealth)

#define BMS_DECLARE_DRIVER(n)                                                                      \
	extern const struct bms_driver bms_##n;                                                    \
	int bms_##n##_describe(const uint8_t *frame, size_t len, struct bms_frame_desc *d);
BMS_DRIVER_LIST(BMS_DECLARE_DRIVER)

#endif
