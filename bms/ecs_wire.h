/* SPDX-License-Identifier: MIT */
/*
 * ECS GreenMeter register blocks (function 0x03), shared by the driver
 * (bms/ecs.c) and its simulator (bms/sim/ecs.c): protocols.md section 12.
 * 32-bit values are two registers, low word first, each big-endian.
 */
#ifndef SB_BMS_ECS_WIRE_H
#define SB_BMS_ECS_WIRE_H

#define EC_ADDR_DEFAULT 1 /* dbus-serialbattery's GREENMETER_ADDRESS default */
#define EC_ADDR_MAX 247

/* 0 meter id (500/501/502 = 500/250/125 A), 2..3 production */
#define EC_ID 0
#define EC_ID_N 4
#define EC_ID_500A 500
#define EC_ID_125A 502
/* 30 discharge / 31 charge current limit (s16 A), 46..47 capacity mAh */
#define EC_SET 30
#define EC_SET_N 18
/* 102/103 temperatures (s16 0.01 degC), 108..109 voltage mV, 114..115
 * current mA, 128..129 SOC 0.001 %, 130 over-voltage state, 131
 * under-voltage state */
#define EC_LIVE 102
#define EC_LIVE_N 30

/* the states of 130 (charge side) and 131 (discharge side) */
#define EC_ST_OK 0
#define EC_ST_VOLTAGE 1
#define EC_ST_CURRENT 2
#define EC_ST_HOT 3  /* 3..4 */
#define EC_ST_COLD 5 /* 5..6 */
#define EC_ST_MAX 6

#endif
