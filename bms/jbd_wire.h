/* SPDX-License-Identifier: MIT */
/*
 * JBD 0xDD frame layout, shared by the driver (bms/jbd.c) and its device
 * simulator (bms/sim/jbd.c). Header-only.
 */
#ifndef SB_BMS_JBD_WIRE_H
#define SB_BMS_JBD_WIRE_H

#include <stdint.h>

#include "bytes.h"

#define JBD_START 0xDD
#define JBD_END 0x77
#define JBD_READ 0xA5
#define JBD_WRITE 0x5A
#define JBD_REG_FACTORY 0x00      /* write 56 78: enter factory mode */
#define JBD_REG_FACTORY_EXIT 0x01 /* write 00 00: leave, discard; 28 28: leave, save */
#define JBD_REG_INFO 0x03
#define JBD_REG_CELLS 0x04
#define JBD_REG_MODEL 0x05
#define JBD_REG_CHG_OC 0x28 /* EEPROM, factory mode: charge over-current, s16 10 mA */
#define JBD_REG_DSG_OC 0x29 /* EEPROM, factory mode: discharge over-current, s16 10 mA */
#define JBD_REG_ERRORS 0xAA /* protection event counters, u16 each (enum bms_prot order) */
#define JBD_REG_MOSFET 0xE1 /* MOSFET control: data 00 0X, bit0 charge off, bit1 discharge off */
#define JBD_OVERHEAD 7      /* DD reg status n ... chk chk 77 */
#define JBD_KELVIN_DC 2731  /* 0 degC in 0.1 K */
#define JBD_STATUS_OK 0x00
#define JBD_STATUS_ERR 0x80
#define JBD_FACTORY_KEY_HI 0x56 /* the enter-factory-mode data, 56 78 */
#define JBD_FACTORY_KEY_LO 0x78
#define JBD_SAVE 0x28 /* leave-factory-mode data 28 28 = save to EEPROM (never sent) */

/* Checksum over status/reg + n + data, as sent on the wire. */
static inline uint16_t jbd_sum(const uint8_t *p, size_t len)
{
	return (uint16_t)(0x10000u - bms_sum16(p, len));
}

#endif
