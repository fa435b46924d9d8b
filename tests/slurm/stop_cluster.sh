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
# Remove the test's config: while it names a controller that is down, every Snakemake start waits
# 10 s for the SLURM executor plugin's `scontrol show config` (at plugin registration) to time out.
for conf in slurm.conf gres.conf; do
  if grep -q "written by more_ie tests/slurm/start_cluster.sh" "/etc/slurm/$conf" 2>/dev/null; then
    rm -f "/etc/slurm/$conf"
  fi
done
rm -f /run/more_ie_fake_gpu[0-9]*   # start_cluster.sh's stand-in GPU device files
