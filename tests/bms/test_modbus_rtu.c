/* SPDX-License-Identifier: MIT */
/*
 * bms/modbus_rtu.c against every captured Modbus RTU frame (JK PB triggers,
 * JBD UP16S 0x78, Seplos v3, Renogy, EG4 LL, Pylontech RT): frame check,
 * CRC, corrupted and truncated frames, request builders byte for byte,
 * replies matched to their requests, the exception reply, and register maps
 * decoding real replies to the values their sources state.
 */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bms/bytes.h"
#include "bms/modbus_rtu.h"
#include "tests/bms/protocol_vectors.h"
#include "tests/support/cunit_main.h"

#include "tests/bms/vectors/modbus_rtu.inc"

#define NV MODBUS_RTU_VECTOR_COUNT

/* JBD UP16S's vendor function 0x78: a 10-byte request, a reply with a BE16
 * data length at offset 6. */
static const struct bms_modbus_shape up_reply_shape[] = {
	{.fn = 0x78, .len_off = 6, .len_size = 2, .len_min = 1, .len_max = 512}};
static const struct bms_modbus_shape up_request_shape[] = {{.fn = 0x78, .fixed = 10}};

static const struct bms_modbus_spec spec_reply = {
	.vendor = up_reply_shape,
	.nvendor = 1,
};
static const struct bms_modbus_spec spec_request = {
	.requests = true,
	.vendor = up_request_shape,
	.nvendor = 1,
};

static const struct bms_modbus_spec *spec_for(const struct pvec *v)
{
	return !strcmp(v->direction, "request") ? &spec_request : &spec_reply;
}

static double num(const struct pvec *v, const char *key)
{
	const struct pvec_expect *e = pvec_get(v, key);
	if (!e) {
		fprintf(stderr, "\n    vector %s/%s lacks '%s'\n", v->family, v->direction, key);
		CU_FAIL_FATAL("vector lacks an expected key");
	}
	return e->num;
}

/* The families these frames come from: a new Modbus family in tests/vectors/
 * must show up here. */
static void test_families_covered(void)
{
	static const char *const fam[] = {"jk_pb_rs485", "jbd_up16s", "seplos_v3",
					  "renogy",      "eg4_ll",    "pylontech_rt_modbus"};
	for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
		size_t n = 0;
		for (size_t i = 0; i < NV; i++)
			n += pvec_is(&modbus_rtu_vectors[i], fam[f], NULL);
		CU_ASSERT(n > 0);
	}
	for (size_t i = 0; i < NV; i++) {
		size_t f = 0;
		while (f < sizeof(fam) / sizeof(fam[0]) &&
		       strcmp(fam[f], modbus_rtu_vectors[i].family))
			f++;
		CU_ASSERT(f < sizeof(fam) / sizeof(fam[0]));
	}
}

static void test_crc(void)
{
	/* the check value of CRC-16/MODBUS over "123456789" */
	uint8_t buf[11] = "123456789";
	bms_modbus_put_crc(buf, 9);
	CU_ASSERT_EQUAL(buf[9], 0x37);
	CU_ASSERT_EQUAL(buf[10], 0x4B);
	CU_ASSERT(bms_modbus_crc_ok(buf, 11));
	buf[10] ^= 1;
	CU_ASSERT(!bms_modbus_crc_ok(buf, 11));
	CU_ASSERT(!bms_modbus_crc_ok(buf, 2));
}

/* Every frame is one whole frame to the check, with its CRC, alone and
 * behind garbage. */
static void test_every_frame_valid(void)
{
	uint8_t buf[600];
	for (size_t i = 0; i < NV; i++) {
		const struct pvec *v = &modbus_rtu_vectors[i];
		size_t n = pvec_frame(v, buf + 3, sizeof(buf) - 3);
		CU_ASSERT(bms_modbus_crc_ok(buf + 3, n));
		size_t len = 0;
		int rc = bms_modbus_check(spec_for(v), buf + 3, n, &len);
		if (rc != 1 || len != n)
			fprintf(stderr, "\n    %s %s #%zu: check %d len %zu of %zu\n", v->family,
				v->direction, i, rc, len, n);
		CU_ASSERT_EQUAL(rc, 1);
		CU_ASSERT_EQUAL(len, n);

		/* the scan skips garbage before the frame */
		buf[0] = 0xFF;
		buf[1] = 0x00;
		buf[2] = 0x55;
		size_t start = 99;
		len = 0;
		CU_ASSERT_EQUAL(bms_modbus_find(spec_for(v), buf, n + 3, &start, &len),
				BMS_FIND_VALID);
		CU_ASSERT_EQUAL(start, 3);
		CU_ASSERT_EQUAL(len, n);
	}
}

/* A flipped bit anywhere, the CRC included, and the frame is not a frame. */
static void test_corrupt_rejected(void)
{
	uint8_t buf[600];
	for (size_t i = 0; i < NV; i++) {
		const struct pvec *v = &modbus_rtu_vectors[i];
		size_t n = pvec_frame(v, buf, sizeof(buf));
		for (size_t k = 0; k < n; k++) {
			for (int bit = 0; bit < 8; bit += 3) {
				buf[k] ^= (uint8_t)(1u << bit);
				size_t len = 0;
				int rc = bms_modbus_check(spec_for(v), buf, n, &len);
				if (rc == 1)
					fprintf(stderr, "\n    %s #%zu byte %zu bit %d accepted\n",
						v->family, i, k, bit);
				CU_ASSERT(rc != 1);
				buf[k] ^= (uint8_t)(1u << bit);
			}
		}
		/* a bad CRC on a reply is -EBADMSG, not a refusal or a mismatch */
		if (!strcmp(v->direction, "response")) {
			buf[n - 1] ^= 0x80;
			struct bms_modbus_req req = {.addr = buf[0], .fn = buf[1]};
			const uint8_t *data;
			size_t dn;
			CU_ASSERT_EQUAL(bms_modbus_reply(&req, buf, n, &data, &dn, NULL), -EBADMSG);
			buf[n - 1] ^= 0x80;
		}
	}
}

/* Every prefix of a frame is "need more", never a frame or garbage; the
 * exact-size heap copy lets ASan catch a read past the end. */
static void test_truncated(void)
{
	uint8_t buf[600];
	for (size_t i = 0; i < NV; i++) {
		const struct pvec *v = &modbus_rtu_vectors[i];
		size_t n = pvec_frame(v, buf, sizeof(buf));
		for (size_t k = 1; k < n; k++) {
			uint8_t *p = malloc(k);
			CU_ASSERT_FATAL(p != NULL);
			memcpy(p, buf, k);
			size_t len = 0;
			CU_ASSERT_EQUAL(bms_modbus_check(spec_for(v), p, k, &len), 0);
			size_t start = 99;
			CU_ASSERT_EQUAL(bms_modbus_find(spec_for(v), p, k, &start, &len),
					BMS_FIND_NEED_MORE);
			CU_ASSERT_EQUAL(start, 0);
			if (!strcmp(v->direction, "response") && k >= 5) {
				struct bms_modbus_req req = {.addr = p[0], .fn = p[1]};
				const uint8_t *data;
				size_t dn;
				CU_ASSERT_EQUAL(bms_modbus_reply(&req, p, k, &data, &dn, NULL),
						-EBADMSG);
			}
			free(p);
		}
	}
}

/* Back to back with a stray byte between: the scan finds each in turn. */
static void test_back_to_back(void)
{
	uint8_t stream[4096];
	size_t at = 0, starts[NV], lens[NV], nf = 0;
	for (size_t i = 0; i < NV; i++) {
		const struct pvec *v = &modbus_rtu_vectors[i];
		if (strcmp(v->direction, "response") || pvec_is(v, "jbd_up16s", NULL))
			continue;
		stream[at++] = 0x00;
		starts[nf] = at;
		lens[nf] = pvec_frame(v, stream + at, sizeof(stream) - at);
		at += lens[nf++];
	}
	size_t pos = 0;
	for (size_t f = 0; f < nf; f++) {
		size_t start = 0, len = 0;
		CU_ASSERT_EQUAL_FATAL(bms_modbus_find(NULL, stream + pos, at - pos, &start, &len),
				      BMS_FIND_VALID);
		CU_ASSERT_EQUAL(pos + start, starts[f]);
		CU_ASSERT_EQUAL(len, lens[f]);
		pos += start + len;
	}
	CU_ASSERT_EQUAL(pos, at);
	CU_ASSERT(nf > 1);
}

/* Without the vendor shape 0x78 is no Modbus function: the UP16S reply is garbage. */
static void test_vendor_needs_shape(void)
{
	uint8_t buf[600];
	for (size_t i = 0; i < NV; i++) {
		const struct pvec *v = &modbus_rtu_vectors[i];
		if (!pvec_is(v, "jbd_up16s", NULL))
			continue;
		size_t n = pvec_frame(v, buf, sizeof(buf)), len;
		CU_ASSERT_EQUAL(bms_modbus_check(NULL, buf, n, &len), -1);
	}
}

/* A vendor shape's length bounds and the address filter: the UP16S request
 * echoed by an adapter (length 0, good CRC) is no reply, and a unit outside
 * the addresses asked for is garbage. */
static void test_vendor_bounds_and_address(void)
{
	uint8_t rq[16], rp[300];
	const struct pvec *q = NULL, *r = NULL;
	for (size_t i = 0; i < NV; i++) {
		if (pvec_is(&modbus_rtu_vectors[i], "jbd_up16s", "request"))
			q = &modbus_rtu_vectors[i];
		if (pvec_is(&modbus_rtu_vectors[i], "jbd_up16s", "response"))
			r = &modbus_rtu_vectors[i];
	}
	CU_ASSERT_FATAL(q && r);
	size_t qn = pvec_frame(q, rq, sizeof(rq)), rn = pvec_frame(r, rp, sizeof(rp)), len = 0;
	struct bms_modbus_shape loose = up_reply_shape[0];
	loose.len_min = 0;
	struct bms_modbus_spec s = {.vendor = &loose, .nvendor = 1};
	CU_ASSERT_EQUAL(bms_modbus_check(&s, rq, qn, &len), 1); /* what len_min is for */
	CU_ASSERT_EQUAL(bms_modbus_check(&spec_reply, rq, qn, &len), -1);
	CU_ASSERT_EQUAL(bms_modbus_check(&spec_reply, rp, rn, &len), 1);
	struct bms_modbus_shape tight = up_reply_shape[0];
	tight.len_max = 157; /* the capture carries 158 data bytes */
	s.vendor = &tight;
	CU_ASSERT_EQUAL(bms_modbus_check(&s, rp, rn, &len), -1);
	tight.len_max = 158;
	CU_ASSERT_EQUAL(bms_modbus_check(&s, rp, rn, &len), 1);

	/* UP16S packs are 1..16: a Seplos v3 frame from pack 0 is garbage there */
	struct bms_modbus_spec packs = {.match_addr = true, .addr_min = 1, .addr_max = 16};
	size_t seen0 = 0, seen1 = 0;
	for (size_t i = 0; i < NV; i++) {
		const struct pvec *v = &modbus_rtu_vectors[i];
		if (!pvec_is(v, "seplos_v3", "response"))
			continue;
		size_t n = pvec_frame(v, rp, sizeof(rp));
		int want = rp[0] == 0 ? -1 : 1;
		CU_ASSERT_EQUAL(bms_modbus_check(&packs, rp, n, &len), want);
		CU_ASSERT_EQUAL(bms_modbus_check(&packs, rp, 1, &len), want == 1 ? 0 : -1);
		*(rp[0] == 0 ? &seen0 : &seen1) += 1;
	}
	CU_ASSERT(seen0 > 0 && seen1 > 0);
}

/* vendor_only: a family that asks only its vendor functions frames nothing
 * else, so a standard header inside its data cannot hold up the scan; the
 * vendor function's exception stays a frame. */
static void test_vendor_only(void)
{
	uint8_t buf[300], exc[5] = {0x01, 0xF8, 0x02};
	struct bms_modbus_spec only = spec_reply;
	only.vendor_only = true;
	size_t len = 0, seen = 0;
	for (size_t i = 0; i < NV; i++) {
		const struct pvec *v = &modbus_rtu_vectors[i];
		if (!strcmp(v->direction, "request"))
			continue;
		size_t n = pvec_frame(v, buf, sizeof(buf));
		int want = pvec_is(v, "jbd_up16s", NULL) ? 1 : -1;
		CU_ASSERT_EQUAL(bms_modbus_check(&spec_reply, buf, n, &len), 1);
		CU_ASSERT_EQUAL(bms_modbus_check(&only, buf, n, &len), want);
		seen += want == -1;
	}
	CU_ASSERT(seen > 0);
	bms_modbus_put_crc(exc, 3);
	CU_ASSERT_EQUAL(bms_modbus_check(&only, exc, sizeof(exc), &len), 1);
	CU_ASSERT_EQUAL(len, 5);
	exc[1] = 0x83; /* a standard function's exception */
	bms_modbus_put_crc(exc, 3);
	CU_ASSERT_EQUAL(bms_modbus_check(&spec_reply, exc, sizeof(exc), &len), 1);
	CU_ASSERT_EQUAL(bms_modbus_check(&only, exc, sizeof(exc), &len), -1);
}

/* Every captured request rebuilt from the values its source states. */
static void test_requests_byte_for_byte(void)
{
	uint8_t want[300], got[300];
	size_t checked = 0;
	for (size_t i = 0; i < NV; i++) {
		const struct pvec *v = &modbus_rtu_vectors[i];
		if (strcmp(v->direction, "request"))
			continue;
		size_t n = pvec_frame(v, want, sizeof(want));
		uint8_t addr = (uint8_t)num(v, "address");
		uint8_t fn = (uint8_t)num(v, "function");
		int rc;
		if (fn == BMS_MODBUS_WRITE_MULTIPLE) {
			uint16_t value = (uint16_t)num(v, "value");
			CU_ASSERT_EQUAL(num(v, "register_count"), 1);
			rc = bms_modbus_write_multiple(addr, (uint16_t)num(v, "register"), &value,
						       1, got, sizeof(got));
		} else if (fn == 0x78) {
			uint8_t pdu[6] = {0};
			put_u16be(pdu, (uint16_t)num(v, "start_register"));
			put_u16be(pdu + 2, (uint16_t)num(v, "end_register"));
			put_u16be(pdu + 4, (uint16_t)num(v, "data_length"));
			rc = bms_modbus_frame(addr, fn, pdu, sizeof(pdu), got, sizeof(got));
		} else if (fn == BMS_MODBUS_READ_COILS) {
			rc = bms_modbus_read_request(addr, fn, (uint16_t)num(v, "start_coil"),
						     (uint16_t)num(v, "coil_count"), got,
						     sizeof(got));
		} else {
			rc = bms_modbus_read_request(addr, fn, (uint16_t)num(v, "start_register"),
						     (uint16_t)num(v, "register_count"), got,
						     sizeof(got));
		}
		CU_ASSERT_EQUAL(rc, (int)n);
		CU_ASSERT(rc > 0 && memcmp(got, want, n) == 0);
		checked++;

		/* and read back */
		if (fn != 0x78) {
			struct bms_modbus_req req;
			CU_ASSERT_EQUAL(bms_modbus_parse_request(want, n, &req), 0);
			CU_ASSERT_EQUAL(req.addr, addr);
			CU_ASSERT_EQUAL(req.fn, fn);
		}
	}
	CU_ASSERT(checked > 0);
}

static void test_builder_limits(void)
{
	uint8_t out[300];
	uint16_t vals[124] = {0};
	CU_ASSERT_EQUAL(bms_modbus_read_request(1, 0x03, 0, 0, out, sizeof(out)), -EINVAL);
	CU_ASSERT_EQUAL(bms_modbus_read_request(1, 0x03, 0, 126, out, sizeof(out)), -EINVAL);
	CU_ASSERT_EQUAL(bms_modbus_read_request(1, 0x03, 0, 125, out, sizeof(out)), 8);
	CU_ASSERT_EQUAL(bms_modbus_read_request(1, 0x01, 0, 2000, out, sizeof(out)), 8);
	CU_ASSERT_EQUAL(bms_modbus_read_request(1, 0x06, 0, 1, out, sizeof(out)), -EINVAL);
	CU_ASSERT_EQUAL(bms_modbus_read_request(1, 0x03, 0, 1, out, 7), -ENOBUFS);
	CU_ASSERT_EQUAL(bms_modbus_write_multiple(1, 0, vals, 124, out, sizeof(out)), -EINVAL);
	CU_ASSERT_EQUAL(bms_modbus_write_multiple(1, 0, vals, 123, out, sizeof(out)), 255);
	CU_ASSERT_EQUAL(bms_modbus_write_multiple(1, 0, vals, 2, out, 12), -ENOBUFS);
	CU_ASSERT_EQUAL(bms_modbus_write_multiple(1, 0, vals, 2, out, 13), 13);
	CU_ASSERT_EQUAL(bms_modbus_write_single(1, 0, 0, out, 7), -ENOBUFS);
}

/* A captured request and the reply that follows it in the capture. */
static void test_reply_matches_request(void)
{
	uint8_t rq[300], rp[300];
	size_t pairs = 0;
	for (size_t i = 0; i + 1 < NV; i++) {
		const struct pvec *q = &modbus_rtu_vectors[i], *r = &modbus_rtu_vectors[i + 1];
		if (strcmp(q->direction, "request") || strcmp(r->direction, "response") ||
		    strcmp(q->family, r->family) || pvec_is(q, "jbd_up16s", NULL))
			continue;
		size_t qn = pvec_frame(q, rq, sizeof(rq)), rn = pvec_frame(r, rp, sizeof(rp));
		struct bms_modbus_req req;
		CU_ASSERT_FATAL(bms_modbus_parse_request(rq, qn, &req) == 0);
		const uint8_t *data = NULL;
		size_t dn = 0;
		CU_ASSERT_EQUAL(bms_modbus_reply(&req, rp, rn, &data, &dn, NULL), 0);
		CU_ASSERT(data == rp + 3);
		CU_ASSERT_EQUAL(dn, rp[2]);

		/* the same reply does not answer another address or another count */
		struct bms_modbus_req other = req;
		other.addr ^= 1;
		CU_ASSERT_EQUAL(bms_modbus_reply(&other, rp, rn, &data, &dn, NULL), -EPROTO);
		other = req;
		other.count = (uint16_t)(req.count + (req.fn == BMS_MODBUS_READ_COILS ? 8 : 1));
		CU_ASSERT_EQUAL(bms_modbus_reply(&other, rp, rn, &data, &dn, NULL), -EPROTO);
		other = req;
		other.fn = req.fn == 3 ? 4 : 3;
		CU_ASSERT_EQUAL(bms_modbus_reply(&other, rp, rn, &data, &dn, NULL), -EPROTO);
		pairs++;
	}
	/* Seplos v3 PIA, PIB and EIC coils, Renogy status, EG4 LL status */
	CU_ASSERT(pairs >= 5);
}

/* The captured refusal: Seplos v3 pack 0 does not serve EIB 0x2100. */
static void test_exception_reply(void)
{
	uint8_t buf[16];
	size_t found = 0;
	for (size_t i = 0; i < NV; i++) {
		const struct pvec *v = &modbus_rtu_vectors[i];
		if (!pvec_get(v, "exception_code"))
			continue;
		size_t n = pvec_frame(v, buf, sizeof(buf)), len = 0;
		CU_ASSERT_EQUAL(bms_modbus_check(NULL, buf, n, &len), 1);
		CU_ASSERT_EQUAL(len, 5);
		struct bms_modbus_req req = {.addr = 0, .fn = 0x04, .start = 0x2100, .count = 26};
		const uint8_t *data;
		size_t dn;
		uint8_t code = 0;
		CU_ASSERT_EQUAL(num(v, "function"), 0x84);
		CU_ASSERT_EQUAL(bms_modbus_reply(&req, buf, n, &data, &dn, &code), -EREMOTEIO);
		CU_ASSERT_EQUAL(code, num(v, "exception_code"));
		/* the refusal of a 0x03 read is no answer to a 0x04 read */
		req.fn = 0x03;
		CU_ASSERT_EQUAL(bms_modbus_reply(&req, buf, n, &data, &dn, &code), -EPROTO);
		/* exceptions are replies, never requests */
		CU_ASSERT_EQUAL(bms_modbus_check(&spec_request, buf, n, &len), -1);
		found++;
	}
	CU_ASSERT(found >= 1);
}

/* Writes: the reply to 0x06 echoes register and value, to 0x10 start and count. */
static void test_write_replies(void)
{
	uint8_t req[32], rep[32];
	struct bms_modbus_req r;
	const uint8_t *data = (const uint8_t *)"x";
	size_t dn = 9;

	int n = bms_modbus_write_single(1, 0x00E1, 0x0002, req, sizeof(req));
	CU_ASSERT_FATAL(n == 8);
	CU_ASSERT_EQUAL(bms_modbus_parse_request(req, 8, &r), 0);
	CU_ASSERT_EQUAL(r.fn, 6);
	CU_ASSERT_EQUAL(r.start, 0x00E1);
	CU_ASSERT_EQUAL(r.value, 2);
	CU_ASSERT_EQUAL(bms_modbus_reply(&r, req, 8, &data, &dn, NULL), 0); /* the echo */
	CU_ASSERT(data == NULL && dn == 0);
	r.value = 3;
	CU_ASSERT_EQUAL(bms_modbus_reply(&r, req, 8, &data, &dn, NULL), -EPROTO);

	/* JK PB's trigger and the ACK its units send */
	uint16_t zero = 0;
	n = bms_modbus_write_multiple(1, 0x1620, &zero, 1, req, sizeof(req));
	CU_ASSERT_FATAL(n == 11);
	CU_ASSERT_EQUAL(bms_modbus_parse_request(req, 11, &r), 0);
	CU_ASSERT_EQUAL(r.start, 0x1620);
	CU_ASSERT_EQUAL(r.count, 1);
	static const uint8_t ack_pdu[] = {0x16, 0x20, 0x00, 0x01};
	CU_ASSERT_EQUAL(bms_modbus_frame(1, 0x10, ack_pdu, 4, rep, sizeof(rep)), 8);
	size_t len = 0;
	CU_ASSERT_EQUAL(bms_modbus_check(NULL, rep, 8, &len), 1);
	CU_ASSERT_EQUAL(bms_modbus_reply(&r, rep, 8, &data, &dn, NULL), 0);
	r.start = 0x161E;
	CU_ASSERT_EQUAL(bms_modbus_reply(&r, rep, 8, &data, &dn, NULL), -EPROTO);
	/* an 11-byte request is garbage to a reply check: its length is 8 there */
	CU_ASSERT_EQUAL(bms_modbus_check(NULL, req, 11, &len), -1);
	CU_ASSERT_EQUAL(bms_modbus_check(&spec_request, req, 11, &len), 1);
	CU_ASSERT_EQUAL(len, 11);
	/* a request whose byte count disagrees with its register count */
	req[6] = 4;
	bms_modbus_put_crc(req, 9);
	CU_ASSERT_EQUAL(bms_modbus_check(&spec_request, req, 11, &len), -1);
	CU_ASSERT_EQUAL(bms_modbus_parse_request(req, 11, &r), -EBADMSG);
}

/* The response of family that states key; its read data in *ret_data. */
static const struct pvec *reply_with(const char *family, const char *key, uint8_t *buf, size_t cap,
				     const uint8_t **ret_data, size_t *ret_n)
{
	for (size_t i = 0; i < NV; i++) {
		const struct pvec *v = &modbus_rtu_vectors[i];
		if (!pvec_is(v, family, "response") || !pvec_get(v, key))
			continue;
		size_t n = pvec_frame(v, buf, cap);
		CU_ASSERT_FATAL(n >= 5 && n == 5 + (size_t)buf[2]);
		*ret_data = buf + 3;
		*ret_n = buf[2];
		return v;
	}
	CU_FAIL_FATAL("no such reply vector");
	return NULL;
}

static long mround(double x)
{
	return lround(x);
}

/* Renogy 5042..5048: signed 0.01 A, 0.1 V, u32 mAh (high word first). */
static const struct bms_modbus_reg renogy_status[] = {
	{5042, 1, BMS_MODBUS_S16, 0, 0, 10, 1, BMS_MODBUS_FIELD(current_ma), BMS_V_CURRENT},
	{5043, 1, BMS_MODBUS_U16, 0, 0, 100, 1, BMS_MODBUS_FIELD(voltage_mv), BMS_V_VOLTAGE},
	{5044, 1, BMS_MODBUS_U32, 0, 0, 1, 1, BMS_MODBUS_FIELD(capacity_remain_mah),
	 BMS_V_CAP_REMAIN},
	{5046, 1, BMS_MODBUS_U32, 0, 0, 1, 1, BMS_MODBUS_FIELD(capacity_full_mah), BMS_V_CAP_FULL},
	{5048, 1, BMS_MODBUS_U16, 0, 0, 1, 1, BMS_MODBUS_FIELD(cycles), BMS_V_CYCLES},
};
#define NMAP(m) (sizeof(m) / sizeof((m)[0]))

static void test_map_renogy(void)
{
	uint8_t buf[300];
	const struct pvec *v;
	const uint8_t *d;
	size_t dn;
	v = reply_with("renogy", "cycles", buf, sizeof(buf), &d, &dn);
	CU_ASSERT_FATAL(dn == 14);
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	CU_ASSERT_EQUAL(bms_modbus_map_apply(renogy_status, NMAP(renogy_status), 5042, d, 14, &s),
			0);
	CU_ASSERT_EQUAL(s.valid, BMS_V_CURRENT | BMS_V_VOLTAGE | BMS_V_CAP_REMAIN | BMS_V_CAP_FULL |
					 BMS_V_CYCLES);
	CU_ASSERT_EQUAL(s.current_ma, mround(num(v, "current_a") * 1000));
	CU_ASSERT_EQUAL(s.voltage_mv, mround(num(v, "voltage_v") * 1000));
	CU_ASSERT_EQUAL(s.capacity_remain_mah, mround(num(v, "capacity_remaining_ah") * 1000));
	CU_ASSERT_EQUAL(s.capacity_full_mah, mround(num(v, "capacity_full_ah") * 1000));
	CU_ASSERT_EQUAL(s.cycles, (uint32_t)num(v, "cycles"));

	/* identity block 5104..5131: serial, model, software version as text */
	static const struct bms_modbus_reg ident[] = {
		{5110, 8, BMS_MODBUS_ASCII, 0, 0, 0, 0, BMS_MODBUS_FIELD(serial), BMS_V_SERIAL},
		{5122, 8, BMS_MODBUS_ASCII, 0, 0, 0, 0, BMS_MODBUS_FIELD(model), BMS_V_MODEL},
		{5130, 2, BMS_MODBUS_ASCII, 0, 0, 0, 0, BMS_MODBUS_FIELD(sw_version),
		 BMS_V_SW_VERSION},
	};
	v = reply_with("renogy", "serial_number", buf, sizeof(buf), &d, &dn);
	CU_ASSERT_FATAL(dn == 56);
	CU_ASSERT_EQUAL(bms_modbus_map_apply(ident, NMAP(ident), 5104, d, 56, &s), 0);
	CU_ASSERT_STRING_EQUAL(s.serial, pvec_get(v, "serial_number")->str);
	CU_ASSERT_STRING_EQUAL(s.model, pvec_get(v, "name")->str);
	CU_ASSERT_STRING_EQUAL(s.sw_version, pvec_get(v, "sw_version")->str);
	CU_ASSERT(s.valid & BMS_V_SERIAL && s.valid & BMS_V_MODEL && s.valid & BMS_V_SW_VERSION);

	/* alarm/status words 5100..5107: FET flags from 5106's low byte */
	static const struct bms_modbus_reg fets[] = {
		{5106, 1, BMS_MODBUS_U16, 0x0002, 0, 0, 0, BMS_MODBUS_FIELD(charge_fet),
		 BMS_V_FETS},
		{5106, 1, BMS_MODBUS_U16, 0x0004, 0, 0, 0, BMS_MODBUS_FIELD(discharge_fet),
		 BMS_V_FETS},
	};
	v = reply_with("renogy", "charge_fet", buf, sizeof(buf), &d, &dn);
	CU_ASSERT_FATAL(dn == 16);
	s.charge_fet = s.discharge_fet = true;
	CU_ASSERT_EQUAL(bms_modbus_map_apply(fets, NMAP(fets), 5100, d, 16, &s), 0);
	CU_ASSERT_EQUAL(s.charge_fet, num(v, "charge_fet") != 0);
	CU_ASSERT_EQUAL(s.discharge_fet, num(v, "discharge_fet") != 0);
	CU_ASSERT(s.valid & BMS_V_FETS);
}

/* Seplos v3 PIA (0x1000, 17 registers) and PIB (0x1100, 26 registers). */
static void test_map_seplos_v3(void)
{
	static const struct bms_modbus_reg pia[] = {
		{0x1000, 1, BMS_MODBUS_U16, 0, 0, 10, 1, BMS_MODBUS_FIELD(voltage_mv),
		 BMS_V_VOLTAGE},
		{0x1001, 1, BMS_MODBUS_S16, 0, 0, 10, 1, BMS_MODBUS_FIELD(current_ma),
		 BMS_V_CURRENT},
		{0x1002, 1, BMS_MODBUS_U16, 0, 0, 10, 1, BMS_MODBUS_FIELD(capacity_remain_mah),
		 BMS_V_CAP_REMAIN},
		{0x1003, 1, BMS_MODBUS_U16, 0, 0, 10, 1, BMS_MODBUS_FIELD(capacity_full_mah),
		 BMS_V_CAP_FULL},
		{0x1005, 1, BMS_MODBUS_U16, 0, 0, 10, 1, BMS_MODBUS_FIELD(soc_cpct), BMS_V_SOC},
		{0x1006, 1, BMS_MODBUS_U16, 0, 0, 10, 1, BMS_MODBUS_FIELD(soh_cpct), BMS_V_SOH},
		{0x1007, 1, BMS_MODBUS_U16, 0, 0, 1, 1, BMS_MODBUS_FIELD(cycles), BMS_V_CYCLES},
		{0x100F, 1, BMS_MODBUS_U16, 0, 0, 1000, 1, BMS_MODBUS_FIELD(max_discharge_ma),
		 BMS_V_MAX_DISCHARGE_I},
		{0x1010, 1, BMS_MODBUS_U16, 0, 0, 1000, 1, BMS_MODBUS_FIELD(max_charge_ma),
		 BMS_V_MAX_CHARGE_I},
	};
	static const struct bms_modbus_reg pib[] = {
		{0x1100, 16, BMS_MODBUS_U16, 0, 0, 1, 1, BMS_MODBUS_ARRAY(cell_mv), BMS_V_CELLS},
		{0x1110, 4, BMS_MODBUS_U16, 0, -2731, 1, 1, BMS_MODBUS_ARRAY(temp_dc), BMS_V_TEMPS},
		{0x1119, 1, BMS_MODBUS_U16, 0, -2731, 1, 1, BMS_MODBUS_FIELD(mosfet_temp_dc),
		 BMS_V_MOSFET_TEMP},
	};
	uint8_t buf[300];
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	const uint8_t *d;
	size_t dn;
	const struct pvec *v = reply_with("seplos_v3", "soc_pct", buf, sizeof(buf), &d, &dn);
	CU_ASSERT_FATAL(dn == 34);
	CU_ASSERT_EQUAL_FATAL(bms_modbus_map_apply(pia, NMAP(pia), 0x1000, d, 34, &s), 0);
	CU_ASSERT_EQUAL(s.voltage_mv, mround(num(v, "voltage_v") * 1000));
	CU_ASSERT_EQUAL(s.current_ma, mround(num(v, "current_a") * 1000));
	CU_ASSERT_EQUAL(s.capacity_remain_mah, mround(num(v, "capacity_remaining_ah") * 1000));
	CU_ASSERT_EQUAL(s.capacity_full_mah, mround(num(v, "capacity_total_ah") * 1000));
	CU_ASSERT_EQUAL(s.soc_cpct, mround(num(v, "soc_pct") * 100));
	CU_ASSERT_EQUAL(s.soh_cpct, mround(num(v, "soh_pct") * 100));
	CU_ASSERT_EQUAL(s.cycles, (uint32_t)num(v, "cycles"));
	CU_ASSERT_EQUAL(s.max_discharge_ma, mround(num(v, "max_discharge_current_a") * 1000));
	CU_ASSERT_EQUAL(s.max_charge_ma, mround(num(v, "max_charge_current_a") * 1000));

	v = reply_with("seplos_v3", "cell_temps_c", buf, sizeof(buf), &d, &dn);
	CU_ASSERT_FATAL(dn == 52);
	s.cell_count = 16;
	s.temp_count = 4;
	CU_ASSERT_EQUAL_FATAL(bms_modbus_map_apply(pib, NMAP(pib), 0x1100, d, 52, &s), 0);
	const struct pvec_expect *cells = pvec_get(v, "cell_voltages_v");
	const struct pvec_expect *temps = pvec_get(v, "cell_temps_c");
	CU_ASSERT_FATAL(cells && cells->n == 16 && temps && temps->n == 4);
	for (unsigned i = 0; i < 16; i++)
		CU_ASSERT_EQUAL(s.cell_mv[i], mround(cells->arr[i] * 1000));
	for (unsigned i = 0; i < 4; i++)
		CU_ASSERT_EQUAL(s.temp_dc[i], mround(temps->arr[i] * 10));
	CU_ASSERT_EQUAL(s.mosfet_temp_dc, mround(num(v, "power_temp_c") * 10));
	CU_ASSERT(s.valid & BMS_V_CELLS && s.valid & BMS_V_TEMPS && s.valid & BMS_V_MOSFET_TEMP);
}

/* Seplos v3 EIA: 32-bit values low word first, one of them signed. */
static void test_map_word_swapped(void)
{
	static const struct bms_modbus_reg eia[] = {
		{0x2000, 1, BMS_MODBUS_U32_WS, 0, 0, 10, 1, BMS_MODBUS_FIELD(voltage_mv),
		 BMS_V_VOLTAGE},
		{0x2002, 1, BMS_MODBUS_S32_WS, 0, 0, 100, 1, BMS_MODBUS_FIELD(current_ma),
		 BMS_V_CURRENT},
		{0x2004, 1, BMS_MODBUS_U32_WS, 0, 0, 10, 1, BMS_MODBUS_FIELD(capacity_remain_mah),
		 BMS_V_CAP_REMAIN},
		{0x2006, 1, BMS_MODBUS_U32_WS, 0, 0, 10, 1, BMS_MODBUS_FIELD(capacity_full_mah),
		 BMS_V_CAP_FULL},
	};
	uint8_t buf[300];
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	const struct pvec *v = NULL;
	for (size_t i = 0; i < NV; i++)
		if (pvec_get(&modbus_rtu_vectors[i], "online_pack_flags"))
			v = &modbus_rtu_vectors[i];
	CU_ASSERT_FATAL(v != NULL);
	size_t n = pvec_frame(v, buf, sizeof(buf));
	CU_ASSERT_EQUAL_FATAL(bms_modbus_map_apply(eia, NMAP(eia), 0x2000, buf + 3, n - 5, &s), 0);
	CU_ASSERT_EQUAL(s.voltage_mv, mround(num(v, "voltage_v") * 1000));
	CU_ASSERT_EQUAL(s.current_ma, mround(num(v, "current_a") * 1000));
	CU_ASSERT_EQUAL(s.capacity_remain_mah, mround(num(v, "capacity_remaining_ah") * 1000));
	CU_ASSERT_EQUAL(s.capacity_full_mah, mround(num(v, "capacity_total_ah") * 1000));
}

/* Seplos v3 VIA: text registers; and EG4 LL: bytes of registers, a u32, a count. */
static void test_map_text_and_bytes(void)
{
	static const struct bms_modbus_reg via[] = {
		{0x170A, 10, BMS_MODBUS_ASCII, 0, 0, 0, 0, BMS_MODBUS_FIELD(model), BMS_V_MODEL},
		{0x1714, 1, BMS_MODBUS_ASCII, 0, 0, 0, 0, BMS_MODBUS_FIELD(sw_version),
		 BMS_V_SW_VERSION},
		{0x1715, 15, BMS_MODBUS_ASCII, 0, 0, 0, 0, BMS_MODBUS_FIELD(serial), BMS_V_SERIAL},
	};
	static const struct bms_modbus_reg eg4[] = {
		{0, 1, BMS_MODBUS_U16, 0, 0, 10, 1, BMS_MODBUS_FIELD(voltage_mv), BMS_V_VOLTAGE},
		{2, 4, BMS_MODBUS_U16, 0, 0, 1, 1, BMS_MODBUS_ARRAY(cell_mv), BMS_V_CELLS},
		{18, 1, BMS_MODBUS_S16, 0, 0, 10, 1, BMS_MODBUS_FIELD(mosfet_temp_dc),
		 BMS_V_MOSFET_TEMP},
		{23, 1, BMS_MODBUS_U16, 0, 0, 100, 1, BMS_MODBUS_FIELD(soh_cpct), BMS_V_SOH},
		{24, 1, BMS_MODBUS_U16, 0, 0, 100, 1, BMS_MODBUS_FIELD(soc_cpct), BMS_V_SOC},
		{29, 1, BMS_MODBUS_U32, 0, 0, 1, 1, BMS_MODBUS_FIELD(cycles), BMS_V_CYCLES},
		{33, 1, BMS_MODBUS_S8_HI, 0, 0, 10, 1, BMS_MODBUS_ARRAY(temp_dc), BMS_V_TEMPS},
		{36, 1, BMS_MODBUS_U16, 0, 0, 1, 1, BMS_MODBUS_FIELD(cell_count), BMS_V_CELLS},
	};
	uint8_t buf[300];
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	const uint8_t *d;
	size_t dn;
	const struct pvec *v = reply_with("seplos_v3", "bms_serial", buf, sizeof(buf), &d, &dn);
	CU_ASSERT_FATAL(dn == 102);
	CU_ASSERT_EQUAL_FATAL(bms_modbus_map_apply(via, NMAP(via), 0x1700, d, 102, &s), 0);
	CU_ASSERT_STRING_EQUAL(s.model, pvec_get(v, "device_name")->str);
	CU_ASSERT_STRING_EQUAL(s.sw_version, pvec_get(v, "firmware_version_ascii")->str);
	CU_ASSERT_STRING_EQUAL(s.serial, pvec_get(v, "bms_serial")->str);

	memset(&s, 0, sizeof(s));
	v = reply_with("eg4_ll", "cell_count", buf, sizeof(buf), &d, &dn);
	CU_ASSERT_FATAL(dn == 78);
	CU_ASSERT_EQUAL_FATAL(bms_modbus_map_apply(eg4, NMAP(eg4), 0, d, 78, &s), 0);
	CU_ASSERT_EQUAL(s.voltage_mv, mround(num(v, "voltage_v") * 1000));
	CU_ASSERT_EQUAL(s.cell_count, (uint8_t)num(v, "cell_count"));
	const struct pvec_expect *cells = pvec_get(v, "cell_voltages_v");
	CU_ASSERT_FATAL(cells && cells->n == 4);
	for (unsigned i = 0; i < 4; i++)
		CU_ASSERT_EQUAL(s.cell_mv[i], mround(cells->arr[i] * 1000));
	CU_ASSERT_EQUAL(s.mosfet_temp_dc, mround(num(v, "mosfet_temp_c") * 10));
	CU_ASSERT_EQUAL(s.temp_dc[0], mround(num(v, "temp1_c") * 10));
	CU_ASSERT_EQUAL(s.soc_cpct, mround(num(v, "soc_pct") * 100));
	CU_ASSERT_EQUAL(s.soh_cpct, mround(num(v, "soh_pct") * 100));
	CU_ASSERT_EQUAL(s.cycles, (uint32_t)num(v, "cycles"));
}

/* A map that reaches outside the reply, or a value that does not fit its
 * field, is an error and leaves the snapshot as it was. */
static void test_map_errors_leave_snapshot(void)
{
	uint8_t buf[300];
	const uint8_t *d;
	size_t dn;
	reply_with("renogy", "cycles", buf, sizeof(buf), &d, &dn);
	struct bms_snapshot s, before;
	memset(&s, 0x5A, sizeof(s));
	s.valid = 0;
	memcpy(&before, &s, sizeof(s));

	/* the last entry's second register (5049) is one past the reply */
	static const struct bms_modbus_reg past_end[] = {
		{5043, 1, BMS_MODBUS_U16, 0, 0, 100, 1, BMS_MODBUS_FIELD(voltage_mv),
		 BMS_V_VOLTAGE},
		{5048, 1, BMS_MODBUS_U32, 0, 0, 1, 1, BMS_MODBUS_FIELD(cycles), BMS_V_CYCLES},
	};
	CU_ASSERT_EQUAL(bms_modbus_map_apply(past_end, NMAP(past_end), 5042, d, 14, &s), -ERANGE);
	CU_ASSERT(memcmp(&s, &before, sizeof(s)) == 0);
	/* before the reply's first register */
	static const struct bms_modbus_reg before_start[] = {
		{5041, 1, BMS_MODBUS_U16, 0, 0, 1, 1, BMS_MODBUS_FIELD(cycles), BMS_V_CYCLES},
	};
	CU_ASSERT_EQUAL(bms_modbus_map_apply(before_start, 1, 5042, d, 14, &s), -ERANGE);
	/* an array that runs past the reply */
	static const struct bms_modbus_reg long_array[] = {
		{5042, 8, BMS_MODBUS_U16, 0, 0, 1, 1, BMS_MODBUS_ARRAY(cell_mv), BMS_V_CELLS},
	};
	CU_ASSERT_EQUAL(bms_modbus_map_apply(long_array, 1, 5042, d, 14, &s), -ERANGE);
	/* the current (-86 raw) into an unsigned field */
	static const struct bms_modbus_reg negative[] = {
		{5043, 1, BMS_MODBUS_U16, 0, 0, 100, 1, BMS_MODBUS_FIELD(voltage_mv),
		 BMS_V_VOLTAGE},
		{5042, 1, BMS_MODBUS_S16, 0, 0, 1, 1, BMS_MODBUS_FIELD(soc_cpct), BMS_V_SOC},
	};
	CU_ASSERT_EQUAL(bms_modbus_map_apply(negative, NMAP(negative), 5042, d, 14, &s),
			-EOVERFLOW);
	/* 13600 mV does not fit a byte */
	static const struct bms_modbus_reg too_big[] = {
		{5043, 1, BMS_MODBUS_U16, 0, 0, 100, 1, BMS_MODBUS_FIELD(cell_count), BMS_V_CELLS},
	};
	CU_ASSERT_EQUAL(bms_modbus_map_apply(too_big, 1, 5042, d, 14, &s), -EOVERFLOW);
	/* an array entry longer than its field (33 cells) */
	static const struct bms_modbus_reg overrun[] = {
		{0, 33, BMS_MODBUS_U16, 0, 0, 1, 1, BMS_MODBUS_ARRAY(cell_mv), BMS_V_CELLS},
	};
	uint8_t zeros[66] = {0};
	CU_ASSERT_EQUAL(bms_modbus_map_apply(overrun, 1, 0, zeros, 66, &s), -EINVAL);
	/* text into a number, a number into text */
	static const struct bms_modbus_reg mixed[] = {
		{0, 2, BMS_MODBUS_ASCII, 0, 0, 0, 0, BMS_MODBUS_FIELD(cycles), 0},
	};
	CU_ASSERT_EQUAL(bms_modbus_map_apply(mixed, 1, 0, zeros, 66, &s), -EINVAL);
	static const struct bms_modbus_reg mixed2[] = {
		{0, 1, BMS_MODBUS_U16, 0, 0, 0, 0, BMS_MODBUS_FIELD(serial), 0},
	};
	CU_ASSERT_EQUAL(bms_modbus_map_apply(mixed2, 1, 0, zeros, 66, &s), -EINVAL);
	CU_ASSERT_EQUAL(bms_modbus_map_apply(renogy_status, 1, 5042, d, 13, &s), -EINVAL);
	CU_ASSERT(memcmp(&s, &before, sizeof(s)) == 0);

	/* the same data with a good map does write */
	CU_ASSERT_EQUAL(bms_modbus_map_apply(renogy_status, NMAP(renogy_status), 5042, d, 14, &s),
			0);
	CU_ASSERT(memcmp(&s, &before, sizeof(s)) != 0);
}

/* Scaling rounds toward zero on both sides, so a magnitude is never overstated. */
static void test_map_scaling(void)
{
	/* 7199 and -7199 mAs: 1.9997 mAh -> 1, -1.9997 -> -1 */
	uint8_t d[8];
	put_u16be(d, 7199);
	put_u16be(d + 2, (uint16_t)-7199);
	put_u16be(d + 4, 0x8001); /* bit 15 and bit 0 */
	put_u16be(d + 6, 0x1234);
	static const struct bms_modbus_reg m[] = {
		{0, 1, BMS_MODBUS_U16, 0, 0, 1, 3600, BMS_MODBUS_FIELD(capacity_full_mah), 0},
		{1, 1, BMS_MODBUS_S16, 0, 0, 1, 3600, BMS_MODBUS_FIELD(current_ma), 0},
		{2, 1, BMS_MODBUS_U16, 0x8000, 0, 2, 1,
		 BMS_MODBUS_FIELD(alarm[BMS_ALARM_HIGH_VOLTAGE]), BMS_V_ALARMS},
		{2, 1, BMS_MODBUS_U16, 0x0002, 0, 2, 1,
		 BMS_MODBUS_FIELD(alarm[BMS_ALARM_LOW_VOLTAGE]), BMS_V_ALARMS},
		{3, 1, BMS_MODBUS_U8_LO, 0, 0, 1, 1, BMS_MODBUS_FIELD(temp_count), 0},
		{3, 1, BMS_MODBUS_U16_LE, 0, 0, 1, 1, BMS_MODBUS_FIELD(soh_cpct), 0},
		{0, 1, BMS_MODBUS_U32_LE, 0, 0, 1, 1, BMS_MODBUS_FIELD(cycles), 0},
	};
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	s.alarm[BMS_ALARM_LOW_VOLTAGE] = 2;
	CU_ASSERT_EQUAL_FATAL(bms_modbus_map_apply(m, NMAP(m), 0, d, sizeof(d), &s), 0);
	CU_ASSERT_EQUAL(s.capacity_full_mah, 1);
	CU_ASSERT_EQUAL(s.current_ma, -1);
	CU_ASSERT_EQUAL(s.alarm[BMS_ALARM_HIGH_VOLTAGE], 2);
	CU_ASSERT_EQUAL(s.alarm[BMS_ALARM_LOW_VOLTAGE], 0);
	CU_ASSERT_EQUAL(s.temp_count, 0x34);
	CU_ASSERT_EQUAL(s.soh_cpct, 0x3412);
	CU_ASSERT_EQUAL(s.cycles, 0xE1E31F1Cu); /* bytes 1C 1F E3 E1, little-endian */
	CU_ASSERT_EQUAL(s.valid, BMS_V_ALARMS);
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"families_covered", test_families_covered},
		{"crc", test_crc},
		{"every_frame_valid", test_every_frame_valid},
		{"corrupt_rejected", test_corrupt_rejected},
		{"truncated", test_truncated},
		{"back_to_back", test_back_to_back},
		{"vendor_needs_shape", test_vendor_needs_shape},
		{"vendor_bounds_and_address", test_vendor_bounds_and_address},
		{"vendor_only", test_vendor_only},
		{"requests_byte_for_byte", test_requests_byte_for_byte},
		{"builder_limits", test_builder_limits},
		{"reply_matches_request", test_reply_matches_request},
		{"exception_reply", test_exception_reply},
		{"write_replies", test_write_replies},
		{"map_renogy", test_map_renogy},
		{"map_seplos_v3", test_map_seplos_v3},
		{"map_word_swapped", test_map_word_swapped},
		{"map_text_and_bytes", test_map_text_and_bytes},
		{"map_errors_leave_snapshot", test_map_errors_leave_snapshot},
		{"map_scaling", test_map_scaling},
		{NULL, NULL},
	};
	return sb_add_suite("modbus_rtu", tests);
}
