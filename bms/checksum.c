/* SPDX-License-Identifier: MIT */
/* The checksums the BMS protocols use, written once; and the string reader. */
#include "bytes.h"

#include <string.h>

uint16_t bms_crc16_modbus(const uint8_t *p, size_t len)
{
	uint16_t crc = 0xFFFF;
	for (size_t i = 0; i < len; i++) {
		crc ^= p[i];
		for (int b = 0; b < 8; b++)
			crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0xA001) : (uint16_t)(crc >> 1);
	}
	return crc;
}

uint8_t bms_crc8(uint8_t crc, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		crc ^= p[i];
		for (int b = 0; b < 8; b++)
			crc = (uint8_t)(crc & 0x80 ? (crc << 1) ^ 0x07 : crc << 1);
	}
	return crc;
}

uint8_t bms_sum8(const uint8_t *p, size_t len)
{
	uint8_t s = 0;
	for (size_t i = 0; i < len; i++)
		s = (uint8_t)(s + p[i]);
	return s;
}

uint16_t bms_sum16(const uint8_t *p, size_t len)
{
	uint16_t s = 0;
	for (size_t i = 0; i < len; i++)
		s = (uint16_t)(s + p[i]);
	return s;
}

void br_str(struct breader *r, size_t n, char *out, size_t cap)
{
	if (cap == 0)
		return;
	out[0] = '\0';
	if (!br_has(r, n))
		return;
	size_t k = 0;
	for (size_t i = 0; i < n && k + 1 < cap; i++) {
		uint8_t c = r->p[r->pos + i];
		if (c == 0)
			break;
		out[k++] = (c >= 0x20 && c < 0x7F) ? (char)c : ' ';
	}
	while (k > 0 && out[k - 1] == ' ')
		k--;
	out[k] = '\0';
	r->pos += n;
}
