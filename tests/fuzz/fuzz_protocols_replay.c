/* SPDX-License-Identifier: MIT */
/*
 * Runs the captured frames of the shared protocol modules through their fuzz
 * entry point on every build (no libFuzzer, any compiler; under
 * SB_SANITIZE=address with ASan): each frame alone, cut at every length,
 * behind garbage, and all of a module's frames back to back. With
 * `--seeds DIR` it writes the same frames as a libFuzzer seed corpus instead
 * (byte 0 the module selector), so the seeds come from the vectors.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_protocols.h"
#include "tests/bms/protocol_vectors.h"

#include "tests/bms/vectors/modbus_rtu.inc"
#include "tests/bms/vectors/pylon_ascii.inc"

struct fz_set {
	const struct pvec *v;
	size_t n;
	bool pylon;
};

static const struct fz_set sets[] = {
	{modbus_rtu_vectors, MODBUS_RTU_VECTOR_COUNT, false},
	{pylon_ascii_vectors, PYLON_ASCII_VECTOR_COUNT, true},
};

static enum sb_fuzz_proto which_of(const struct fz_set *s, const struct pvec *v)
{
	if (s->pylon)
		return SB_FUZZ_PYLON;
	return strcmp(v->direction, "request") ? SB_FUZZ_MODBUS_REPLY : SB_FUZZ_MODBUS_REQUEST;
}

static int write_seeds(const char *dir)
{
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		perror(dir);
		return 1;
	}
	static uint8_t buf[1 + 8192];
	size_t files = 0;
	for (size_t k = 0; k < sizeof(sets) / sizeof(sets[0]); k++) {
		for (size_t i = 0; i < sets[k].n; i++) {
			const struct pvec *v = &sets[k].v[i];
			int n = pvec_bytes(v, buf + 1, sizeof(buf) - 1);
			if (n <= 0)
				return 1;
			buf[0] = (uint8_t)which_of(&sets[k], v);
			char path[4096];
			snprintf(path, sizeof(path), "%s/%s-%s-%02zu", dir, v->family, v->direction,
				 i);
			FILE *f = fopen(path, "wbe");
			if (!f || fwrite(buf, 1, (size_t)n + 1, f) != (size_t)n + 1) {
				perror(path);
				if (f)
					fclose(f);
				return 1;
			}
			fclose(f);
			files++;
		}
	}
	printf("seeds: %zu files in %s\n", files, dir);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--seeds"))
		return write_seeds(argv[2]);
	if (argc != 1) {
		fprintf(stderr, "usage: %s [--seeds DIR]\n", argv[0]);
		return 2;
	}
	static uint8_t frame[8192], stream[3][65536];
	size_t slen[3] = {0, 0, 0}, runs = 0;
	for (size_t k = 0; k < sizeof(sets) / sizeof(sets[0]); k++) {
		for (size_t i = 0; i < sets[k].n; i++) {
			const struct pvec *v = &sets[k].v[i];
			enum sb_fuzz_proto w = which_of(&sets[k], v);
			int n = pvec_bytes(v, frame, sizeof(frame));
			if (n <= 0)
				return 1;
			/* every prefix, the whole frame last, each in an exact-size copy */
			for (size_t len = 1; len <= (size_t)n; len++) {
				uint8_t *p = malloc(len);
				if (!p)
					return 1;
				memcpy(p, frame, len);
				sb_fuzz_protocol(w, p, len);
				free(p);
				runs++;
			}
			uint8_t *s = stream[w];
			if (slen[w] + (size_t)n + 3 > sizeof(stream[w]))
				return 1;
			memcpy(s + slen[w], "\x00\xff~", 3); /* garbage, a false SOI among it */
			memcpy(s + slen[w] + 3, frame, (size_t)n);
			slen[w] += (size_t)n + 3;
		}
	}
	for (int w = 0; w < SB_FUZZ_PROTO_COUNT; w++) {
		sb_fuzz_protocol((enum sb_fuzz_proto)w, stream[w], slen[w]);
		runs++;
	}
	printf("fuzz_protocols_replay: %zu inputs, no contract broken\n", runs);
	return 0;
}
