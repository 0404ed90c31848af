#!/usr/bin/env bash
# Shared by scripts/demo.sh, the acceptance test and scripts/bench.sh: a private
# dbus-daemon, simulated BMSes on pseudo-terminals and the real daemon, all in
# one directory, all stopped by sb_demo_stop.
# Callers set SB_BIN (the build dir) and SB_DIR (a scratch directory).

SB_PIDS=()

sb_die() { echo "demo: $*" >&2; exit 1; }

# Start a private bus; sets SB_BUS_ADDRESS.
sb_start_bus() {
  cat > "$SB_DIR/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir=$SB_DIR</listen>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
CONF
  local fifo="$SB_DIR/bus.addr"
  dbus-daemon --config-file="$SB_DIR/bus.conf" --nofork --print-address=1 > "$fifo" 2>"$SB_DIR/bus.log" &
  SB_PIDS+=($!)
  local i
  for i in $(seq 100); do
    SB_BUS_ADDRESS=$(head -n1 "$fifo" 2>/dev/null || true)
    [ -n "$SB_BUS_ADDRESS" ] && break
    sleep 0.05
  done
  [ -n "$SB_BUS_ADDRESS" ] || sb_die "dbus-daemon did not start (see $SB_DIR/bus.log)"
  export SB_BUS_ADDRESS
}

# sb_start_sim NAME BMS [simulate options...]: a simulator with its link at $SB_DIR/NAME.
sb_start_sim() {
  local name=$1 bms=$2; shift 2
  local out="$SB_DIR/sim-$name.out"
  "$SB_BIN/tools/serialbattery" simulate --bms "$bms" --link "$SB_DIR/$name" "$@" \
    > "$out" 2> "$SB_DIR/sim-$name.log" &
  SB_PIDS+=($!)
  eval "SB_SIM_PID_${name//[^A-Za-z0-9_]/_}=$!"
  local i
  for i in $(seq 100); do
    grep -q ready "$out" 2>/dev/null && return 0
    sleep 0.05
  done
  sb_die "simulator $name did not start (see $SB_DIR/sim-$name.log)"
}

# sb_sim_pid NAME
sb_sim_pid() { eval "echo \$SB_SIM_PID_${1//[^A-Za-z0-9_]/_}"; }

# sb_render_conf TEMPLATE OUT: replaces @DIR@ with $SB_DIR.
sb_render_conf() { sed "s|@DIR@|$SB_DIR|g" "$1" > "$2"; }

# sb_start_daemon CONF [options...]: sets SB_DAEMON_PID; log in $SB_DIR/daemon.log.
sb_start_daemon() {
  local conf=$1; shift
  "$SB_BIN/supervisor/serialbatteryd" -c "$conf" --no-udev --bus-address "$SB_BUS_ADDRESS" \
    "$@" > "$SB_DIR/daemon.log" 2>&1 &
  SB_DAEMON_PID=$!
  SB_PIDS+=($SB_DAEMON_PID)
}

# Stop everything started here (newest first) and wait for it.
sb_demo_stop() {
  local i pid
  for ((i = ${#SB_PIDS[@]} - 1; i >= 0; i--)); do
    pid=${SB_PIDS[$i]}
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${SB_PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  SB_PIDS=()
}
