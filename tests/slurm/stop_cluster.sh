#!/usr/bin/env bash
# Stop the daemons started by start_cluster.sh, by their PIDs (there is no systemd here).
set -uo pipefail
STATE=${SLURM_TEST_STATE:-/tmp/more-ie-slurm}
for name in slurmd slurmctld munged; do
  if [ -s "$STATE/$name.pid" ]; then
    kill $(cat "$STATE/$name.pid") 2>/dev/null || true
  fi
done
for name in slurmd slurmctld munged; do
  for _ in $(seq 1 20); do
    [ -s "$STATE/$name.pid" ] && kill -0 $(cat "$STATE/$name.pid") 2>/dev/null || break
    sleep 0.5
  done
  rm -f "$STATE/$name.pid"
done
