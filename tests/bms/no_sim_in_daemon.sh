#!/bin/sh
# SPDX-License-Identifier: MIT
# The device simulators (bms/sim, library sb_bms_sim) belong to the CLI and
# the tests only: fail when the daemon binary carries any *_sim_* symbol.
# Usage: no_sim_in_daemon.sh NM DAEMON. Exit 77 (skipped) when nm is missing.
nm_bin=$1
daemon=$2
if [ -z "$nm_bin" ] || ! command -v "$nm_bin" >/dev/null 2>&1; then
	echo "no_sim_in_daemon: nm not found: skipped"
	exit 77
fi
if [ ! -f "$daemon" ]; then
	echo "no_sim_in_daemon: $daemon does not exist" >&2
	exit 1
fi
syms=$("$nm_bin" "$daemon") || { echo "no_sim_in_daemon: $nm_bin $daemon failed" >&2; exit 1; }
if [ -z "$syms" ]; then
	echo "no_sim_in_daemon: $daemon has no symbols (stripped?): cannot tell" >&2
	exit 1
fi
found=$(printf '%s\n' "$syms" | grep '_sim_')
if [ -n "$found" ]; then
	echo "no_sim_in_daemon: simulator symbols in $daemon:" >&2
	printf '%s\n' "$found" >&2
	exit 1
fi
echo "no_sim_in_daemon: no *_sim_* symbol in $daemon"
