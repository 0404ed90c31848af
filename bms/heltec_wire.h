/* SPDX-License-Identifier: MIT */
/*
 * Heltec / "YY BMS" smart-BMS register blocks (function 0x03), shared by the
 * driver (bms/heltec.c) and its simulator (bms/sim/heltec.c). Register
 * numbers decimal, as in protocols.md section 11.
 */
#ifndef SB_BMS_HELTEC_WIRE_H
#define SB_BMS_HELTEC_WIRE_H

#define HT_ADDR_DEFAULT 1
#define HT_ADDR_MAX 247

/* live data: 75 cells/type, 76 voltage u32, 78 current s32, 81.. cells,
 * 112 MOSFET/balancer temperature, 113 sensors 1/2, 118 capacity,
 * 119 actual capacity, 120 SOC/SOH */
#define HT_LIVE 75
#define HT_LIVE_N 46
/* state: 126 learned capacity, 139 balancing u32, 152 run state u32,
 * 156 warnings u32, 169/172 max/min cell, 191/194 current limits */
#define HT_STATE 126
#define HT_STATE_N 69
/* identity: 2..5 serial, 7 device name (13), 38 hardware version, 39 date,
 * 41 name (6) */
#define HT_ID 2
#define HT_ID_N 45

#define HT_MAX_CELLS 31   /* slots 81..111 */
#define HT_TEMP_OFFSET 40 /* a temperature byte is degC + 40 */

/* run state (152, u32): a protection that holds a FET open */
#define HT_RUN_CHARGE_OFF 0x10000000u
#define HT_RUN_DISCHARGE_OFF 0x20000000u

/* warnings (156, u32) */
#define HT_W_CELL_OV (1u << 0)
#define HT_W_CELL_UV (1u << 1)
#define HT_W_PACK_OV (1u << 3)
#define HT_W_PACK_UV (1u << 4)
#define HT_W_CHARGE_OC (1u << 5)
#define HT_W_DISCHARGE_OC1 (1u << 6)
#define HT_W_DISCHARGE_OC2 (1u << 7)
#define HT_W_SHORT (1u << 8)
#define HT_W_CHARGE_OT (1u << 9)
#define HT_W_CHARGE_UT (1u << 10)
#define HT_W_DISCHARGE_OT (1u << 11)
#define HT_W_DISCHARGE_UT (1u << 12)
#define HT_W_MOS_OT (1u << 13)
#define HT_W_SOC_LOW (1u << 14)
#define HT_W_FULL (1u << 15)
#define HT_W_FAULTS 0xFFFF0000u

#endif
