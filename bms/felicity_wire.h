/* SPDX-License-Identifier: MIT */
/*
 * Felicity battery register blocks (function 0x03), shared by the driver
 * (bms/felicity.c) and its simulator (bms/sim/felicity.c): protocols.md
 * section 13.
 */
#ifndef SB_BMS_FELICITY_WIRE_H
#define SB_BMS_FELICITY_WIRE_H

#define FE_ADDR_DEFAULT 1
#define FE_ADDR_MAX 247

/* 0x132A..0x1339 cells 1..16 (mV, 0x7FFF absent), 0x133A..0x133C sensors
 * 1..3 (degC, 0x7FFF absent), 0x133D unnamed */
#define FE_CELLS 0x132A
#define FE_CELLS_N 20
#define FE_NCELLS 16
#define FE_SENSORS 3
/* 0x1302 status, 0x1303 (unnamed), 0x1304 faults, 0x1306 voltage 0.01 V,
 * 0x1307 current s16 0.1 A (+ = discharging), 0x130A BMS temperature degC,
 * 0x130B SOC % */
#define FE_STATUS 0x1302
#define FE_STATUS_N 10
/* charge and discharge voltage (0.01 V), charge and discharge current (0.1 A) */
#define FE_LIMITS 0x131C
#define FE_LIMITS_N 4
#define FE_SERIAL 0xF804
#define FE_SERIAL_N 5
#define FE_FIRMWARE 0xF80B
#define FE_FIRMWARE_N 1

#define FE_ABSENT 0x7FFF

#define FE_ST_CHARGE 0x0001u    /* status word: charging enabled */
#define FE_ST_DISCHARGE 0x0004u /* discharging enabled */

/* fault word (0x1304) */
#define FE_F_CELL_OV (1u << 2)
#define FE_F_CELL_UV (1u << 3)
#define FE_F_CHARGE_OC (1u << 4)
#define FE_F_DISCHARGE_OC (1u << 5)
#define FE_F_BMS_OT (1u << 6)
#define FE_F_CHARGE_OT (1u << 8)
#define FE_F_CHARGE_UT (1u << 9)

#endif
