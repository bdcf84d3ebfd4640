#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for the slurm backend's tests and for trying the backend out:
# installs Debian's slurm-wlm and munge if missing, writes a minimal slurm.conf (this host is both the
# controller and the only compute node), starts munged, slurmctld and slurmd, and waits until the node is
# idle. Needs root. Safe to run again: a cluster that already answers `sinfo` is left as it is.
# Environment: SLURM_UP_TIMEOUT (seconds to wait for the node, default 60); SLURM_MAX_ARRAY_SIZE (default 3,
# small on purpose: the tests' 4-task steps then exercise the backend's splitting of arrays).
set -euo pipefail

timeout_s=${SLURM_UP_TIMEOUT:-60}
host=$(hostname -s)

node_idle() {
  sinfo -h -N -n "$host" -o '%T' 2>/dev/null | grep -Eq '^(idle|mixed|allocated)'
}

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y slurm-wlm munge
fi

# munge: one key shared by the controller and the node (the same machine)
if [ ! -s /etc/munge/munge.key ]; then
  mkdir -p /etc/munge
  dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
fi
chown munge:munge /etc/munge /etc/munge/munge.key
chmod 700 /etc/munge
chmod 400 /etc/munge/munge.key
mkdir -p /run/munge /var/lib/munge /var/log/munge
chown munge:munge /run/munge /var/lib/munge /var/log/munge
if ! pgrep -x munged >/dev/null; then
  runuser -u munge -- munged --force
fi
munge -n | unmunge >/dev/null

# slurm.conf: the node line is what slurmd reports for this machine (CPUs, memory), so the node never
# registers as "invalid" for claiming more than it has
node_line=$(slurmd -C | head -n 1)
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
conf=$(mktemp)
cat > "$conf" <<CONF
ClusterName=mmcurate
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=300
KillWait=5
Waittime=0
MaxArraySize=${SLURM_MAX_ARRAY_SIZE:-3}
$node_line State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
CONF

changed=0
if ! cmp -s "$conf" /etc/slurm/slurm.conf; then
  cp "$conf" /etc/slurm/slurm.conf
  changed=1
fi
rm -f "$conf"
# a changed configuration (MaxArraySize among others) needs the controller restarted to take effect
ctld_pid=$(cat /run/slurmctld.pid 2>/dev/null || true)
if [ "$changed" = 1 ] && [ -n "$ctld_pid" ] && kill -0 "$ctld_pid" 2>/dev/null; then
  kill "$ctld_pid"
  for _ in $(seq 40); do kill -0 "$ctld_pid" 2>/dev/null || break; sleep 0.5; done
fi
if ! pgrep -x slurmctld >/dev/null; then slurmctld; fi
if ! pgrep -x slurmd >/dev/null; then slurmd; fi

for _ in $(seq "$timeout_s"); do
  if node_idle; then
    sinfo
    exit 0
  fi
  # a node that was down (a previous run, a restart) comes back when asked
  scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true
  sleep 1
done
echo "slurm-up: node $host did not become idle within ${timeout_s}s; see /var/log/slurm/slurmctld.log and slurmd.log" >&2
sinfo -N -l >&2 || true
exit 1
