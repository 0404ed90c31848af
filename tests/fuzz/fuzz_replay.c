/* SPDX-License-Identifier: MIT */
/*
 * Replays the fuzz corpus as an ordinary test on every build (no libFuzzer,
 * any compiler): each file of corpus/<driver>/ goes through the same entry
 * point as the fuzzer, pinned to <driver>. Fails when a registered driver has
 * no corpus directory, so a new driver comes with seeds. Any file found by a
 * fuzz run (a crash reproducer) dropped into a corpus directory becomes a
 * regression test.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_drivers.h"

static int replay_dir(const struct bms_driver *drv, const char *dir)
{
	DIR *d = opendir(dir);
	if (!d) {
		fprintf(stderr, "replay: %s: %s (driver %s needs a seed corpus)\n", dir,
			strerror(errno), drv->name);
		return -1;
	}
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
	printf("replay: %-6s %d files\n", drv->name, files);
	return files > 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	int bad = 0;
	for (size_t i = 0; bms_drivers[i]; i++) {
		char dir[4096];
		snprintf(dir, sizeof(dir), "%s/%s", argv[1], bms_drivers[i]->name);
		if (replay_dir(bms_drivers[i], dir) < 0)
			bad = 1;
	}
	return bad;
}
