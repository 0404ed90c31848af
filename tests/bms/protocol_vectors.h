/* SPDX-License-Identifier: MIT */
/*
 * The captured frames of the shared protocol modules (Modbus RTU, the '~'
 * ASCII frame) with the values their sources state: vectors/<module>.inc,
 * generated at build time from tests/vectors/<protocol>.json by gen_protocol_vectors.py.
 */
#ifndef SB_TEST_PROTOCOL_VECTORS_H
#define SB_TEST_PROTOCOL_VECTORS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tests/bms/vectors.h"

struct pvec_expect {
	const char *key;   /* NULL ends the list */
	double num;        /* numbers and booleans (0/1) */
	const char *str;   /* text values, else NULL */
	const double *arr; /* number lists, else NULL */
	unsigned n;
};

struct pvec {
	const char *family;    /* "seplos_v3", "renogy", "pace", ... */
	const char *direction; /* "request" / "response" */
	const char *hex;
	const struct pvec_expect *expect;
};

/* Decode hex into out (cap bytes); returns the byte count or -1. */
static inline int pvec_bytes(const struct pvec *v, uint8_t *out, size_t cap)
{
	return vec_hex(v->hex, out, cap);
}

#ifdef CU_ASSERT_FATAL /* CUnit tests (the fuzz replay includes this header without CUnit) */
/* The frame of v into buf (fatal when it does not decode or fit); its length. */
static inline size_t pvec_frame(const struct pvec *v, uint8_t *buf, size_t cap)
{
	int n = pvec_bytes(v, buf, cap);
	CU_ASSERT_FATAL(n > 0);
	return (size_t)n;
}
#endif

/* The expectation for key, or NULL. */
static inline const struct pvec_expect *pvec_get(const struct pvec *v, const char *key)
{
	for (const struct pvec_expect *e = v->expect; e->key; e++)
		if (!strcmp(e->key, key))
			return e;
	return NULL;
}

static inline int pvec_is(const struct pvec *v, const char *family, const char *direction)
{
	return !strcmp(v->family, family) && (!direction || !strcmp(v->direction, direction));
}

#endif
