/* SPDX-License-Identifier: MIT */
/*
 * The fuzz entry point of bms/modbus_rtu.c and bms/pylon_ascii.c, shared by
 * the libFuzzer harness and the replay test: arbitrary bytes go through the
 * candidate scan as a worker would run it (checking the bounds it reports);
 * every VALID frame, copied to an exact-size buffer so a read past its end
 * trips ASan, goes through the reply check, the request decoder or the '~'
 * decoder, and a read reply's data through a register map that uses every
 * value type.
 */
#include "fuzz_protocols.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bms/modbus_rtu.h"
#include "bms/pylon_ascii.h"

static void fz_check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_protocols: %s\n", what);
		abort();
	}
}

static const struct bms_modbus_shape vendor_reply[] = {
	{.fn = 0x78, .len_off = 6, .len_size = 2, .len_min = 1, .len_max = 512}};
static const struct bms_modbus_shape vendor_request[] = {{.fn = 0x78, .fixed = 10}};
static const struct bms_modbus_spec spec_reply = {.vendor = vendor_reply, .nvendor = 1};
static const struct bms_modbus_spec spec_request = {
	.requests = true, .vendor = vendor_request, .nvendor = 1};

/* Every value type once, packed from register 0; entries past a short reply fail cleanly. */
static const struct bms_modbus_reg fz_map[] = {
	{0, 1, BMS_MODBUS_U16, 0, 0, 10, 1, BMS_MODBUS_FIELD(voltage_mv), BMS_V_VOLTAGE},
	{1, 1, BMS_MODBUS_S16, 0, 0, 10, 1, BMS_MODBUS_FIELD(current_ma), BMS_V_CURRENT},
	{2, 1, BMS_MODBUS_U16_LE, 0, 0, 1, 1, BMS_MODBUS_FIELD(soc_cpct), BMS_V_SOC},
	{3, 1, BMS_MODBUS_S16_LE, 0, -2731, 1, 1, BMS_MODBUS_FIELD(mosfet_temp_dc), 0},
	{4, 1, BMS_MODBUS_U8_HI, 0, 0, 1, 1, BMS_MODBUS_FIELD(cell_count), BMS_V_CELLS},
	{4, 1, BMS_MODBUS_S8_LO, 0, 0, 10, 1, BMS_MODBUS_ARRAY(temp_dc), BMS_V_TEMPS},
	{5, 1, BMS_MODBUS_U8_LO, 0x01, 0, 0, 0, BMS_MODBUS_FIELD(charge_fet), BMS_V_FETS},
	{5, 1, BMS_MODBUS_S8_HI, 0, 0, 1, 1, BMS_MODBUS_FIELD(temp_count), 0},
	{6, 1, BMS_MODBUS_U32, 0, 0, 1, 3600, BMS_MODBUS_FIELD(capacity_full_mah), 0},
	{8, 1, BMS_MODBUS_S32, 0, 0, 1000, 1, BMS_MODBUS_FIELD(power_mw), BMS_V_POWER},
	{10, 1, BMS_MODBUS_U32_WS, 0, 0, 1, 1, BMS_MODBUS_FIELD(cycles), BMS_V_CYCLES},
	{12, 1, BMS_MODBUS_S32_WS, 0, 0, 10, 1, BMS_MODBUS_FIELD(max_charge_ma), 0},
	{14, 1, BMS_MODBUS_U32_LE, 0, 0, 1, 1, BMS_MODBUS_FIELD(balancing), 0},
	{16, 1, BMS_MODBUS_S32_LE, 0, 0, 1, 1, BMS_MODBUS_FIELD(capacity_remain_mah), 0},
	{18, 16, BMS_MODBUS_U16, 0, 0, 1, 1, BMS_MODBUS_ARRAY(cell_mv), BMS_V_CELLS},
	{34, 16, BMS_MODBUS_ASCII, 0, 0, 0, 0, BMS_MODBUS_FIELD(serial), BMS_V_SERIAL},
};

static void fz_snapshot(const struct bms_snapshot *s)
{
	fz_check(memchr(s->serial, 0, sizeof(s->serial)) != NULL, "serial not terminated");
}

static void fz_modbus(bool requests, const uint8_t *f, size_t n)
{
	if (requests) {
		struct bms_modbus_req req;
		int rc = bms_modbus_parse_request(f, n, &req);
		fz_check(rc == 0 || rc == -EBADMSG || rc == -EPROTO, "parse_request result");
		return;
	}
	/* as the answer to the read it claims to be, and to a fixed one */
	struct bms_modbus_req guess = {.addr = f[0], .fn = (uint8_t)(f[1] & 0x7F)};
	if (n > 2)
		guess.count = (uint16_t)(guess.fn <= 2 ? f[2] * 8 : f[2] / 2);
	const struct bms_modbus_req fixed = {.addr = 1, .fn = 3, .start = 0, .count = 50};
	const struct bms_modbus_req *reqs[] = {&guess, &fixed};
	for (size_t k = 0; k < 2; k++) {
		const uint8_t *data = NULL;
		size_t dn = 0;
		uint8_t code = 0;
		int rc = bms_modbus_reply(reqs[k], f, n, &data, &dn, &code);
		fz_check(rc == 0 || rc == -EBADMSG || rc == -EPROTO || rc == -EREMOTEIO,
			 "reply result");
		if (rc != 0 || !data)
			continue;
		fz_check(data >= f && dn <= n && (size_t)(data - f) <= n - dn, "reply data bounds");
		struct bms_snapshot snap, before;
		memset(&snap, 0, sizeof(snap));
		memcpy(&before, &snap, sizeof(snap));
		rc = bms_modbus_map_apply(fz_map, sizeof(fz_map) / sizeof(fz_map[0]), 0, data,
					  dn & ~(size_t)1, &snap);
		fz_check(rc == 0 || rc == -ERANGE || rc == -EOVERFLOW, "map result");
		if (rc != 0)
			fz_check(memcmp(&snap, &before, sizeof(snap)) == 0, "failed map wrote");
		fz_snapshot(&snap);
	}
}

static void fz_pylon(const uint8_t *f, size_t n)
{
	struct bms_pylon_frame pf;
	fz_check(bms_pylon_decode(NULL, f, n, &pf) == 0, "VALID frame does not decode");
	fz_check(pf.info >= f && pf.info_chars + BMS_PYLON_OVERHEAD == n, "INFO bounds");
	size_t cap = pf.info_chars / 2;
	uint8_t *info = malloc(cap ? cap : 1);
	fz_check(info != NULL, "malloc");
	int rc = bms_pylon_reply(NULL, pf.ver, pf.adr, f, n, info, cap, NULL);
	fz_check(rc == (int)cap || (rc == -EREMOTEIO && pf.cid2 != 0), "reply result");
	free(info);
}

void sb_fuzz_protocol(enum sb_fuzz_proto which, const uint8_t *data, size_t size)
{
	size_t pos = 0;
	while (pos < size) {
		size_t start = (size_t)-1, flen = (size_t)-1;
		enum bms_find r;
		if (which == SB_FUZZ_PYLON)
			r = bms_pylon_find(NULL, data + pos, size - pos, &start, &flen);
		else
			r = bms_modbus_find(which == SB_FUZZ_MODBUS_REQUEST ? &spec_request
									    : &spec_reply,
					    data + pos, size - pos, &start, &flen);
		if (r == BMS_FIND_INVALID)
			return;
		fz_check(start < size - pos, "start beyond the data");
		if (r == BMS_FIND_NEED_MORE) {
			pos += start + 1;
			continue;
		}
		fz_check(r == BMS_FIND_VALID, "unknown find result");
		fz_check(flen > 0 && flen <= size - pos - start, "frame past the end");
		uint8_t *f = malloc(flen);
		fz_check(f != NULL, "malloc");
		memcpy(f, data + pos + start, flen);
		if (which == SB_FUZZ_PYLON)
			fz_pylon(f, flen);
		else
			fz_modbus(which == SB_FUZZ_MODBUS_REQUEST, f, flen);
		free(f);
		pos += start + flen;
	}
}

int sb_fuzz_protocols_one(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	sb_fuzz_protocol((enum sb_fuzz_proto)(data[0] % SB_FUZZ_PROTO_COUNT), data + 1, size - 1);
	return 0;
}
