/* SPDX-License-Identifier: MIT */
/*
 * Replays the fuzz corpora as an ordinary test on every build (no libFuzzer,
 * any compiler): each file of DIR/<driver>/, for every DIR given, goes through
 * the same entry point as the fuzzer, pinned to <driver>. The first DIR is the
 * seed corpus generated from tests/vectors/<driver>.json at build time; the
 * others (tests/fuzz/regressions/) keep inputs a fuzz run found (crash
 * reproducers), so each becomes a regression test. Fails when a registered
 * driver has no input at all, so a new driver comes with vectors.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_drivers.h"

/* The number of files replayed from dir (0 when it does not exist). */
static int replay_dir(const struct bms_driver *drv, const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	int files = 0;
	struct dirent *e;
	static uint8_t buf[1 << 16];
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[4096 + sizeof(e->d_name) + 2];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		FILE *f = fopen(path, "rbe");
		if (!f)
			continue;
		size_t n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		if (n > 0)
			sb_fuzz_driver(drv, buf + 1, n - 1); /* byte 0: the driver selector */
		files++;
	}
	closedir(d);
	printf("replay: %-10s %3d files from %s\n", drv->name, files, dir);
	return files;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR...\n", argv[0]);
		return 2;
	}
	int bad = 0;
	for (size_t i = 0; bms_drivers[i]; i++) {
		int files = 0;
		for (int a = 1; a < argc; a++) {
			char dir[4096];
			snprintf(dir, sizeof(dir), "%s/%s", argv[a], bms_drivers[i]->name);
			files += replay_dir(bms_drivers[i], dir);
		}
		if (files == 0) {
			fprintf(stderr,
				"replay: driver %s has no input: add tests/vectors/%s.json\n",
				bms_drivers[i]->name, bms_drivers[i]->name);
			bad = 1;
		}
	}
	return bad;
}
