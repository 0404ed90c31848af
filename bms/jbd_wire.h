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
#define JBD_REG_INFO 0x03
#define JBD_REG_CELLS 0x04
#define JBD_REG_MODEL 0x05
#define JBD_REG_ERRORS 0xAA /* error counters: not polled, but a known reply */
#define JBD_REG_MOSFET 0xE1 /* MOSFET control: data 00 0X, bit0 charge off, bit1 discharge off */
#define JBD_OVERHEAD 7      /* DD reg status n ... chk chk 77 */
#define JBD_KELVIN_DC 2731  /* 0 degC in 0.1 K */
#define JBD_STATUS_OK 0x00
#define JBD_STATUS_ERR 0x80

/* Checksum over status/reg + n + data, as sent on the wire. */
static inline uint16_t jbd_sum(const uint8_t *p, size_t len)
{
	return (uint16_t)(0x10000u - bms_sum16(p, len));
}

#endif
