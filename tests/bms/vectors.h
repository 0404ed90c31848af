/* SPDX-License-Identifier: MIT */
/*
 * The 82 captured BMS frames with their decoded values, as a C table
 * (gpsd test_packet style). vectors.inc is generated at build time from
 * tests/vectors/<protocol>.json by gen_vectors.py (one file per protocol).
 */
#ifndef SB_TEST_VECTORS_H
#define SB_TEST_VECTORS_H

#include <stddef.h>
#include <stdint.h>

enum vec_kind { VEC_NUM, VEC_BOOL, VEC_STR, VEC_ARRAY, VEC_OTHER };

struct vec_expect {
	const char *key;
	enum vec_kind kind;
	double num;      /* VEC_NUM, VEC_BOOL (0/1) */
	const char *str; /* VEC_STR; VEC_OTHER: the JSON text */
	const double *arr;
	unsigned n;
};

struct vec {
	const char *protocol; /* the file tests/vectors/<protocol>.json: a registry name */
	const char *family;   /* "jk_serial_4e57", "jk_pb_rs485", "jbd", "jbd_up16s", "daly", ... */
	const char *direction; /* "request" / "response" */
	const char *hex;
	const char *expected_from;
	const char *notes;
	const struct vec_expect *expect;
	unsigned nexpect;
};

/* Decode hex into out (cap bytes); returns the byte count or -1. */
static inline int vec_hex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = 0;
	for (const char *p = hex; p[0] && p[1]; p += 2) {
		int v = 0;
		for (int k = 0; k < 2; k++) {
			char c = p[k];
			int d = (c >= '0' && c <= '9')   ? c - '0'
				: (c >= 'a' && c <= 'f') ? c - 'a' + 10
				: (c >= 'A' && c <= 'F') ? c - 'A' + 10
							 : -1;
			if (d < 0)
				return -1;
			v = v * 16 + d;
		}
		if (n >= cap)
			return -1;
		out[n++] = (uint8_t)v;
	}
	return (int)n;
}

/* The expectation for key, or NULL. */
static inline const struct vec_expect *vec_get(const struct vec *v, const char *key)
{
	for (unsigned i = 0; i < v->nexpect; i++) {
		const char *a = v->expect[i].key, *b = key;
		while (*a && *a == *b) {
			a++;
			b++;
		}
		if (*a == '\0' && *b == '\0')
			return &v->expect[i];
	}
	return NULL;
}

#endif
