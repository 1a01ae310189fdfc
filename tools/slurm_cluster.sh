#!/usr/bin/env bash
# A single-node SLURM cluster for tests: munged, slurmctld and slurmd as root on this machine.
#
#   tools/slurm_cluster.sh start    install slurm-wlm and munge if missing, write the config, start the daemons,
#                                   wait until the node is idle (idempotent: a running cluster is left as it is)
#   tools/slurm_cluster.sh stop     kill the daemons this script started
#   tools/slurm_cluster.sh status   daemons and sinfo
#
# Needs root (the daemons run as root: SlurmUser=root, SlurmdUser=root). Processes are tracked by parent pid
# (proctrack/linuxproc) and not bound (task/none), so it runs in containers without cgroup delegation.
set -euo pipefail

STATE=${HFM_SLURM_STATE:-/tmp/hfm-slurm}
CONF_DIR=/etc/slurm
CONF=$CONF_DIR/slurm.conf
NODE=$(hostname -s)
CPUS=${HFM_SLURM_CPUS:-2}

log() { echo "slurm_cluster: $*" >&2; }

need_root() {
    if [ "$(id -u)" -ne 0 ]; then
        log "must run as root (it installs packages and starts slurmctld/slurmd)"
        exit 1
    fi
}

install_packages() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null \
        && command -v munged >/dev/null; then
        return
    fi
    log "installing slurm-wlm and munge"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
}

resolve_node() {
    # Jobs use the node name as the rendezvous address (scontrol show hostnames): it must resolve.
    if ! getent hosts "$NODE" >/dev/null; then
        log "adding $NODE to /etc/hosts (it does not resolve)"
        echo "127.0.0.1 $NODE" >>/etc/hosts
    fi
}

write_config() {
    mkdir -p "$CONF_DIR" "$STATE/ctld" "$STATE/d" "$STATE/log"
    # Requeued jobs wait cred_expire seconds before they may start again (default 120): short for tests.
    cat >"$CONF" <<EOF
# Written by tools/slurm_cluster.sh: a single-node test cluster.
ClusterName=hfm-test
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=cred_expire=10
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
# Test all pending jobs every 2 s: a requeued job then starts right after its cred_expire wait.
SchedulerParameters=sched_interval=2,bf_interval=2
ReturnToService=2
JobRequeue=1
MaxJobCount=1000
MinJobAge=600
KillWait=10
SlurmdParameters=config_overrides
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
}

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

munge_ok() { munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; }

start_munge() {
    if munge_ok; then
        return
    fi
    if [ ! -s /etc/munge/munge.key ]; then
        mkdir -p /etc/munge
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    fi
    chown munge:munge /etc/munge/munge.key
    chmod 400 /etc/munge/munge.key
    install -d -o munge -g munge -m 755 /run/munge
    install -d -o munge -g munge -m 700 /var/lib/munge /var/log/munge
    # --force: take over a stale socket left by a munged that died.
    runuser -u munge -- /usr/sbin/munged --force
    # Remember that this script started it, so `stop` ends it and leaves a system munged alone.
    touch "$STATE/munged.ours"
    for _ in $(seq 1 20); do munge_ok && return; sleep 0.5; done
    log "munged does not answer (munge -n | unmunge)"
    return 1
}

wait_idle() {
    for _ in $(seq 1 60); do
        state=$(sinfo -h -n "$NODE" -o %T 2>/dev/null || true)
        case "$state" in
            idle | mixed | allocated) log "node $NODE is $state"; return 0 ;;
            down* | drain*) scontrol update nodename="$NODE" state=resume 2>/dev/null || true ;;
        esac
        sleep 1
    done
    log "node $NODE did not become idle; logs in $STATE/log"
    tail -n 20 "$STATE/log/slurmctld.log" "$STATE/log/slurmd.log" >&2 || true
    return 1
}

start() {
    need_root
    install_packages
    if running "$STATE/slurmctld.pid" && running "$STATE/slurmd.pid" && munge_ok; then
        log "already running"
        wait_idle
        return
    fi
    resolve_node
    write_config
    start_munge
    running "$STATE/slurmctld.pid" || /usr/sbin/slurmctld -i
    running "$STATE/slurmd.pid" || /usr/sbin/slurmd
    wait_idle
}

stop() {
    local pidfile pid
    for pidfile in "$STATE/slurmd.pid" "$STATE/slurmctld.pid"; do
        if running "$pidfile"; then
            pid=$(cat "$pidfile")
            kill "$pid"
            for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
            kill -9 "$pid" 2>/dev/null || true
        fi
        rm -f "$pidfile"
    done
    if [ -f "$STATE/munged.ours" ] && [ -f /run/munge/munged.pid ]; then
        pid=$(cat /run/munge/munged.pid)
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    fi
    rm -f "$STATE/munged.ours"
    log "stopped"
}

status() {
    local name
    for name in slurmctld slurmd; do
        if running "$STATE/$name.pid"; then echo "$name running (pid $(cat "$STATE/$name.pid"))"; else echo "$name stopped"; fi
    done
    if munge_ok; then echo "munged answering"; else echo "munged not answering"; fi
    sinfo 2>/dev/null || true
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
