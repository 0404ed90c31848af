/* SPDX-License-Identifier: MIT */
/*
 * HLPdata BMS4S text protocol: what the driver (bms/hlpdata.c) and its
 * simulator (bms/sim/hlpdata.c) share. Header-only.
 */
#ifndef SB_BMS_HLPDATA_WIRE_H
#define SB_BMS_HLPDATA_WIRE_H

/* The commands, as the protocol's command numbers (their two ASCII bytes). */
#define HLP_CMD_VERSION 0x7076  /* "pv" */
#define HLP_CMD_SETTINGS 0x7073 /* "ps" */
#define HLP_CMD_MEASURE 0x6D31  /* "m1" */

#define HLP_CELLS 4      /* always four */
#define HLP_MAX_LINE 160 /* longest line the frame check takes, LF included */
#define HLP_VERSION_TAG "BMS4S"
#define HLP_KEY_SIZE "BatterySize= "
#define HLP_KEY_VHIGH "VoltHigh= "
#define HLP_KEY_VLOW "VoltLow= "
#define HLP_M1_FIELDS 13 /* fields before the temperature tokens */

/* Beep codes (m1 field 12) the fact sheet names. */
#define HLP_BEEP_CHARGE_LOW_TEMP 2
#define HLP_BEEP_CHARGE_HIGH_TEMP 3
#define HLP_BEEP_LOW_VOLTAGE 4
#define HLP_BEEP_HIGH_VOLTAGE 5

#endif
