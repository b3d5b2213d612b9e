#!/usr/bin/env bash
# Stop the single-node Slurm started by scripts/slurm/start.sh, by its pid files (munged only
# when start.sh started it). Jobs still queued are lost with the state folder's daemons.
set -uo pipefail
DIR="${1:-${AVCURATE_SLURM_DIR:-/tmp/avcurate-slurm}}"
stop_pid() {
  local f="$1"
  [ -f "$f" ] || return 0
  local pid
  pid="$(cat "$f")"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
  fi
  rm -f "$f"
}
stop_pid "$DIR/slurmd.pid"
stop_pid "$DIR/slurmctld.pid"
if [ -f "$DIR/munged.started-here" ]; then
  stop_pid "$DIR/munged.pid"
  rm -f "$DIR/munged.started-here"
fi
echo "slurm: stopped (state in $DIR)" >&2
