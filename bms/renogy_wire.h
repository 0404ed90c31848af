/* SPDX-License-Identifier: MIT */
/*
 * Renogy smart lithium register blocks (FC 0x03), shared by the driver
 * (bms/renogy.c) and its simulator (bms/sim/renogy.c). Registers are the
 * decimal numbers of the fact sheet (protocols.md section 8).
 */
#ifndef SB_BMS_RENOGY_WIRE_H
#define SB_BMS_RENOGY_WIRE_H

#include <stdint.h>

#define RN_ADDR_DEFAULT 0x30 /* most packs */
#define RN_ADDR_ALT 0xF7     /* some packs (RBT100LFP12SH-G1) */
#define RN_ADDR_MAX 247      /* the Modbus unit range */

/* The blocks the driver reads: first register and count. */
#define RN_CELLS 5000 /* cell count, 16 cells (0.1 V), sensor count, 16 sensors (0.1 degC) */
#define RN_CELLS_N 34
#define RN_STATUS 5042 /* current, voltage, remaining u32, full u32, cycles */
#define RN_STATUS_N 7
#define RN_ALARMS 5100 /* cell voltage x2, cell temperature x2, other, status 1..3 */
#define RN_ALARMS_N 8
#define RN_INFO 5104 /* other alarms .. serial (5110), model (5122), sw version (5130) */
#define RN_INFO_N 28
#define RN_MODEL 5122 /* 16 ASCII */
#define RN_MODEL_N 8

#define RN_MAX_CELLS 16 /* registers 5001..5016 */
#define RN_MAX_SENSORS 16

/* Status word 3 (5106) low byte: the MOSFETs; status 3 (5107) high byte bit 5: heater. */
#define RN_FET_CHARGE 0x0002u
#define RN_FET_DISCHARGE 0x0004u
#define RN_HEATER 0x2000u

#endif
