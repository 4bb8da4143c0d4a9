#!/usr/bin/env bash
# Install and start a single-node Slurm (Debian packages: slurm-wlm 22.05, munge) on this
# machine, for the live cluster tests (tests/workflow/test_slurm_live.py) and for trying
# `kind = "slurm"` runs without a cluster. Needs root (or sudo) and the Debian mirror.
#
#   scripts/install_slurm.sh          # install if needed, write the config, start the daemons
#   scripts/install_slurm.sh stop     # stop the daemons
#
# One partition `debug` with this host as its only node (all its CPUs, 90 % of its memory);
# no cgroups (containers often lack them): proctrack/linuxproc, task/none. The daemons run in
# the background without systemd; logs in /var/log/slurm/. Idempotent.
set -euo pipefail

SUDO=""
[[ $(id -u) -eq 0 ]] || SUDO=sudo

stop() {
    $SUDO pkill -x slurmd 2>/dev/null || true
    $SUDO pkill -x slurmctld 2>/dev/null || true
}

if [[ ${1:-} == stop ]]; then
    stop
    exit 0
fi

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends slurm-wlm munge
fi

host=$(hostname -s)
cpus=$(nproc)
mem_mb=$(awk '/MemTotal/ {printf "%d", $2 / 1024 * 0.9}' /proc/meminfo)
user=$(id -un)

$SUDO mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge
$SUDO tee /etc/slurm/slurm.conf >/dev/null <<EOF
# written by ionraman scripts/install_slurm.sh: single-node test cluster
ClusterName=ionraman-test
SlurmctldHost=${host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
KillWait=10
MinJobAge=30
InactiveLimit=0
NodeName=${host} CPUs=${cpus} RealMemory=${mem_mb} State=UNKNOWN
PartitionName=debug Nodes=${host} Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF

# munge: a key (the package makes one; make one if it did not), then the daemon
if [[ ! -s /etc/munge/munge.key ]]; then
    $SUDO dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
$SUDO chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
$SUDO chmod 0400 /etc/munge/munge.key
if ! pgrep -x munged >/dev/null; then
    $SUDO -u munge /usr/sbin/munged 2>/dev/null || $SUDO /usr/sbin/munged --force
fi

stop
sleep 1
$SUDO /usr/sbin/slurmctld
$SUDO /usr/sbin/slurmd
for _ in $(seq 30); do
    if sinfo -h -o %T 2>/dev/null | grep -qE "idle|mixed|allocated"; then
        sinfo
        echo "single-node Slurm is up (partition debug, ${cpus} CPUs; user ${user})"
        exit 0
    fi
    sleep 1
done
$SUDO scontrol update nodename="${host}" state=resume 2>/dev/null || true
sinfo
sinfo -h -o %T | grep -qE "idle|mixed|allocated" || {
    echo "Slurm did not come up; see /var/log/slurm/" >&2
    exit 1
}
