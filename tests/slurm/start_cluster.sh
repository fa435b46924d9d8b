#!/usr/bin/env bash
# Start a real single-node SLURM (Debian's slurm-wlm 22.05 + munge) on this machine, without
# systemd: the daemons are started directly and their PIDs written to $STATE/*.pid for
# stop_cluster.sh. Needs root. Installs the packages with apt when they are missing.
set -euo pipefail
STATE=${SLURM_TEST_STATE:-/tmp/more-ie-slurm}
mkdir -p "$STATE"

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi

# munge: a key and a daemon running as the munge user
if [ ! -s /etc/munge/munge.key ]; then
  dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
fi
chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge
if ! pgrep -x munged >/dev/null; then
  runuser -u munge -- /usr/sbin/munged
fi
pgrep -x munged > "$STATE/munged.pid"

HOST=$(hostname -s)
# At least 8 job slots, even on a 2-core machine: the test asserts that SLURM runs the jobs of one
# stage side by side, and with only nproc slots that would depend on which other ready jobs
# (dataset preparation) SLURM happened to start first. config_overrides lets slurmd accept a
# node declared with more CPUs than it has; the jobs then share the cores.
CPUS=$(( $(nproc) > 8 ? $(nproc) : 8 ))
# GPUs declared to SLURM (stand-in device files below), so that it schedules and records --gpus
# requests (tests/test_slurm.py checks what the GPU rules asked for); no job can use them, and the
# jobs run on the CPU.
GPUS=4
MEM_MB=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 2048 ))
mkdir -p /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /etc/slurm
# The executor plugin's job steps drop SLURM_CONF, so the config must be at the default path.
cat > /etc/slurm/slurm.conf <<CONF
# written by more_ie tests/slurm/start_cluster.sh; removed by stop_cluster.sh
ClusterName=moreie
SlurmctldHost=${HOST}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# No cgroups here: track processes by /proc, no task affinity/containment.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# Jobs without --mem get this per CPU instead of the whole node.
DefMemPerCPU=1000
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# squeue must still see a finished job when Snakemake polls (>= 3x the poll delay).
MinJobAge=120
ReturnToService=2
SlurmdParameters=config_overrides
MpiDefault=none
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=${STATE}/slurmctld.pid
SlurmdPidFile=${STATE}/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
GresTypes=gpu
NodeName=${HOST} CPUs=${CPUS} RealMemory=${MEM_MB} Gres=gpu:${GPUS} State=UNKNOWN
PartitionName=cpu Nodes=ALL Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=ALL MaxTime=INFINITE State=UP
CONF
# slurmd counts a GPU only through a device file (Count= alone registers 0 and the node goes
# INVAL), so each GPU is a stand-in character device with /dev/null's numbers: nothing can run on it.
FAKE_GPUS=/run/more_ie_fake_gpu
for i in $(seq 0 $((GPUS - 1))); do
  [ -e "${FAKE_GPUS}${i}" ] || mknod "${FAKE_GPUS}${i}" c 1 3
done
cat > /etc/slurm/gres.conf <<CONF
# written by more_ie tests/slurm/start_cluster.sh; removed by stop_cluster.sh
Name=gpu File=${FAKE_GPUS}[0-$((GPUS - 1))]
CONF

/usr/sbin/slurmctld -c   # -c: start clean, without earlier state
/usr/sbin/slurmd
for _ in $(seq 1 60); do
  if sinfo -h -o "%T" 2>/dev/null | grep -qE "idle|mixed|allocated"; then
    echo "SLURM is up on ${HOST} (${CPUS} CPUs, ${MEM_MB} MB, ${GPUS} stand-in GPUs)"
    exit 0
  fi
  sleep 1
done
echo "SLURM did not come up; see /var/log/slurm/*.log" >&2
exit 1
