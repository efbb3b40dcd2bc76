#!/usr/bin/env bash
# End-to-end test of workflow/profiles/slurm against a real SLURM (make test-engines-slurm).
#
#   tests/engines/slurm/run.sh          (as root; about 5.5 minutes on 2 shared cores)
#
# 1. Installs slurm-wlm and munge with apt-get when they are missing (root only; otherwise it
#    prints "SKIP slurm: <reason>" and exits 0).
# 2. Starts a one-node cluster for this host only: its own munge key and munged, slurmctld
#    and slurmd with a slurm.conf written into a temporary folder (state, spool, logs, PIDs),
#    ports on 127.0.0.1 only, no accounting database. Every daemon's PID is recorded, and the
#    exit trap stops exactly those PIDs (never by name), with bounded waits.
# 3. Runs configs/quick.yaml twice in separate temporary working directories: locally
#    (workflow/profiles/default, --cores 2) and through snakemake-executor-plugin-slurm
#    (workflow/profiles/slurm). During the SLURM run one running cell is cancelled with
#    scancel, and so is its retry (the profile retries a failed job once): that run must fail
#    and leave the cell missing, and the same command run again must complete the grid.
# 4. Compares every rounds.csv and summary.csv of both runs, timing columns apart
#    (tests/engines/compare_runs.py), and prints the wall times and the per-job overhead.
#
# Environment: KEEP=1 keeps the temporary folder; SLURM_TEST_TMP sets where it is made;
# VENV names the virtual environment (.venv). `run.sh --with-cluster COMMAND...` runs COMMAND
# against the same throwaway cluster instead of the test (to try things by hand).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
cd "$REPO"
VENV=${VENV:-.venv}
[[ $VENV == /* ]] || VENV=$REPO/$VENV
PY=$VENV/bin/python
CONFIG=configs/quick.yaml
T0=$SECONDS

say() { echo "[slurm-test $((SECONDS - T0))s] $*"; }
skip() { echo "SKIP slurm: $*"; exit 0; }
fail() { echo "FAIL slurm: $*" >&2; exit 1; }

# --- 1. packages --------------------------------------------------------------------------
missing=()
for tool in munged mungekey slurmctld slurmd sinfo squeue sbatch srun scancel scontrol; do
    command -v "$tool" > /dev/null || missing+=("$tool")
done
if ((${#missing[@]})); then
    [[ $(id -u) == 0 ]] || skip "slurm-wlm/munge are not installed (${missing[*]}) and this is not root"
    command -v apt-get > /dev/null || skip "slurm-wlm/munge are not installed and apt-get is unavailable"
    say "installing slurm-wlm and munge (missing: ${missing[*]})"
    export DEBIAN_FRONTEND=noninteractive
    apt_install() {
        timeout 240 apt-get install -y -q --no-install-recommends slurm-wlm munge \
            > "${TMPDIR:-/tmp}/fedbench-slurm-apt.log" 2>&1
    }
    if ! apt_install; then
        timeout 120 apt-get update -q > /dev/null 2>&1 || true
        apt_install || skip "apt-get install slurm-wlm munge failed (see ${TMPDIR:-/tmp}/fedbench-slurm-apt.log)"
    fi
fi
[[ $(id -u) == 0 ]] || skip "slurmd of a test cluster has to run as root"
[[ -x $PY ]] || fail "no $VENV: run make setup first"

# The executor plugin, pinned in pyproject.toml's `cluster` extra.
PLUGIN=$("$PY" -c 'import tomllib; d = tomllib.load(open("pyproject.toml", "rb"));
print(next(r for r in d["project"]["optional-dependencies"]["cluster"]
           if r.startswith("snakemake-executor-plugin-slurm==")))')
if [[ $("$PY" -m pip show snakemake-executor-plugin-slurm 2> /dev/null | sed -n 's/^Version: //p') \
        != "${PLUGIN#*==}" ]]; then
    say "installing $PLUGIN (pip install -e '.[cluster]')"
    timeout 240 "$PY" -m pip install --quiet -e '.[cluster]' || fail "cannot install $PLUGIN"
fi

# --- 2. the cluster -----------------------------------------------------------------------
T=$(mktemp -d "${SLURM_TEST_TMP:-${TMPDIR:-/tmp}}/fedbench-slurm.XXXXXX")
chmod 755 "$T"  # munged runs as the munge user and needs to reach its own folder
mkdir -p "$T/pids" "$T/log" "$T/state" "$T/spool" "$T/munge"
PIDS=()  # the recorded PID files, in start order

# Stop one recorded process: SIGNAL (TERM unless given), up to 15 s, then KILL (up to 5 s).
stop_pid() {
    local file=$1 signal=${2:-TERM} pid i
    pid=$(cat "$file" 2> /dev/null) || return 0
    [[ $pid =~ ^[0-9]+$ ]] || return 0
    kill -0 "$pid" 2> /dev/null || return 0
    kill -"$signal" "$pid" 2> /dev/null || true
    for ((i = 0; i < 150; i++)); do kill -0 "$pid" 2> /dev/null || return 0; sleep 0.1; done
    kill -KILL "$pid" 2> /dev/null || true
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2> /dev/null || return 0; sleep 0.1; done
    echo "warning: PID $pid ($(basename "$file" .pid)) did not stop" >&2
}

cleanup() {
    local status=$? i ids pid
    trap - EXIT INT TERM
    set +e  # every step of the cleanup runs, whatever fails before it
    # A Snakemake still running (an interrupted test): SIGINT, on which it cancels its jobs
    # (on SIGTERM it would wait for them).
    [[ -f $T/pids/snakemake.pid ]] && stop_pid "$T/pids/snakemake.pid" INT
    if [[ -f $T/pids/slurmd.pid ]] && kill -0 "$(cat "$T/pids/slurmd.pid")" 2> /dev/null; then
        # Then the jobs of this cluster: their processes' PIDs as slurmd knows them, scancel,
        # up to 20 s for them to end (KillWait=5), and KILL for any PID still there.
        timeout 5 scontrol listpids 2> /dev/null | awk 'NR > 1 && $1 ~ /^[0-9]+$/ { print $1 }' \
            > "$T/pids/jobs.pids" || true
        ids=$(timeout 5 squeue -h -t PENDING,RUNNING,SUSPENDED -o %i 2> /dev/null || true)
        [[ -n $ids ]] && { timeout 10 scancel $ids > /dev/null 2>&1 || true; }
        for ((i = 0; i < 40; i++)); do
            [[ -z $(timeout 5 squeue -h -t PENDING,RUNNING,SUSPENDED,COMPLETING -o %i 2> /dev/null) ]] \
                && break
            sleep 0.5
        done
        while read -r pid; do
            kill -0 "$pid" 2> /dev/null && kill -KILL "$pid" 2> /dev/null
        done < "$T/pids/jobs.pids"
    fi
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}"; done
    if ((status)); then
        for f in "$T"/log/*.log; do
            [[ -f $f ]] && { echo "--- last lines of $f" >&2; tail -n 15 "$f" >&2; }
        done
    fi
    if [[ ${KEEP:-0} == 1 || $status != 0 ]]; then
        echo "kept $T" >&2
    else
        rm -rf "$T"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Start a daemon in the foreground as a background job of this shell; record its PID.
start() {
    local name=$1; shift
    "$@" > "$T/log/$name.out" 2>&1 &
    echo $! > "$T/pids/$name.pid"
    PIDS+=("$T/pids/$name.pid")
}

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...: poll every 0.5 s
    local limit=$1 what=$2 end=$((SECONDS + $1)); shift 2
    until "$@" > /dev/null 2>&1; do
        ((SECONDS < end)) || fail "$what: not ready after ${limit} s"
        sleep 0.5
    done
}

# munge: a key of its own and a socket in the temporary folder (a system munged, if any, is
# left alone)
MUNGE_SOCKET=$T/munge/munge.socket
mungekey --create --keyfile "$T/munge/munge.key" > /dev/null
if id munge > /dev/null 2>&1; then
    chown -R munge:munge "$T/munge"
    chmod 700 "$T/munge"
    AS_MUNGE=(setpriv --reuid=munge --regid=munge --clear-groups)
else
    AS_MUNGE=()
fi
start munged "${AS_MUNGE[@]}" munged --foreground --force --socket="$MUNGE_SOCKET" \
    --key-file="$T/munge/munge.key" --pid-file="$T/munge/munged.pid" \
    --seed-file="$T/munge/munged.seed" --log-file="$T/munge/munged.log"
munge_ok() { munge -n -S "$MUNGE_SOCKET" | unmunge -S "$MUNGE_SOCKET"; }
wait_for 20 munged munge_ok

free_ports() {
    "$PY" - <<'EOF'
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}
read -r CTLD_PORT SLURMD_PORT <<< "$(free_ports)"
NODE=$(hostname -s)
CPUS=$(nproc)
# half the memory, at most 16 GB: a value slurmd always finds (a larger one drains the node)
MEM_MB=$(awk '/^MemTotal:/ { m = int($2 / 1024 / 2); print (m > 16000 ? 16000 : m) }' /proc/meminfo)
export SLURM_CONF=$T/slurm.conf
cat > "$SLURM_CONF" <<EOF
# A one-node test cluster (tests/engines/slurm/run.sh); everything under $T.
ClusterName=fedbenchtest
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
CommunicationParameters=NoInAddrAny,NoCtldInAddrAny
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
AuthInfo=socket=$MUNGE_SOCKET
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
# finished jobs stay visible to squeue this long (SLURM's default): the profile reads job
# states with squeue; a cancelled job's processes get 5 s before SIGKILL
MinJobAge=300
KillWait=5
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/pids/slurmctld.own.pid
SlurmdPidFile=$T/pids/slurmd.own.pid
SlurmctldLogFile=$T/log/slurmctld.log
SlurmdLogFile=$T/log/slurmd.log
NodeName=$NODE NodeAddr=127.0.0.1 NodeHostname=$NODE CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=test Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
start slurmctld slurmctld -D -i -f "$SLURM_CONF"
wait_for 30 slurmctld timeout 5 scontrol ping
start slurmd slurmd -D -f "$SLURM_CONF" -N "$NODE"
node_idle() { [[ $(timeout 5 sinfo -h -N -n "$NODE" -o %T) == idle ]]; }
wait_for 60 "slurmd (node $NODE idle)" node_idle
say "cluster up: $(sinfo -V), node $NODE ($CPUS CPUs, ${MEM_MB} MB), slurmctld 127.0.0.1:$CTLD_PORT"

# snakemake-executor-plugin-slurm-jobstep 0.6.1 drops every SLURM_* variable but the job's
# identity before it calls srun inside a job, SLURM_CONF included; a real cluster's nodes
# find their slurm.conf at the default path (or configless), this one only through
# SLURM_CONF. So that no system path is touched, jobs see an srun that puts it back.
mkdir "$T/bin"
printf '#!/bin/sh\nSLURM_CONF=%q exec %q "$@"\n' "$SLURM_CONF" "$(command -v srun)" > "$T/bin/srun"
chmod 755 "$T/bin/srun"
export PATH="$T/bin:$VENV/bin:$PATH"

# `run.sh --with-cluster COMMAND...`: run COMMAND (in the repository, SLURM_CONF set) against
# this throwaway cluster instead of the test, then stop it.
if [[ ${1:-} == --with-cluster ]]; then
    shift
    "$@"
    exit $?
fi

# --- 3. the two runs ----------------------------------------------------------------------
# Each run in its own working directory: its results/, reports/, logs/ and .snakemake/ are
# its own; the workflow is copied (one copy for both runs), the data folder is shared.
mkdir "$T/workflow-copy"
cp -r Snakefile workflow configs environment.yml "$T/workflow-copy/"
for run in local slurm; do
    cp -r "$T/workflow-copy" "$T/$run"
    ln -s "$REPO/resources" "$T/$run/resources"
done
# The fedbench package too, for both runs and every job (PYTHONPATH goes before the editable
# install): an edit in the checkout during the test would change the code digest that the
# simulate rule reruns its cells on, between the runs.
mkdir "$T/src"
cp -rL fedbench "$T/src/"
find "$T/src" -name __pycache__ -type d -prune -exec rm -rf {} +
export PYTHONPATH="$T/src${PYTHONPATH:+:$PYTHONPATH}"
# squeue for job states, as the profile says for a cluster without an accounting database
# (sacct fails here). Test-only: status checks from 2 s on instead of the plugin's 40 s (the
# DAG's last steps wait for a poll each), and the SLURM logs of successful jobs kept.
SLURM_OPTIONS=(--slurm-status-command squeue --slurm-init-seconds-before-status-checks 2
               --slurm-keep-successful-logs)

# Snakemake in the background, its own PID recorded (nice and the subshell exec into it), so
# that a limit or the exit trap stops Snakemake itself.
start_snakemake() {  # start_snakemake DIR LOG ARGS...
    local dir=$1 log=$2
    shift 2
    (cd "$dir" && exec nice -n 5 "$VENV/bin/snakemake" --configfile "$CONFIG" "$@") > "$log" 2>&1 &
    echo $! > "$T/pids/snakemake.pid"
}
finish_snakemake() {  # finish_snakemake LIMIT: its exit status, 124 if it ran past LIMIT s
    local pid end status=0 rc=0
    pid=$(cat "$T/pids/snakemake.pid")
    end=$((SECONDS + $1))
    while kill -0 "$pid" 2> /dev/null && ((SECONDS < end)); do sleep 0.5; done
    if kill -0 "$pid" 2> /dev/null; then
        stop_pid "$T/pids/snakemake.pid" INT
        status=124
    fi
    wait "$pid" || rc=$?
    ((status)) || status=$rc
    rm -f "$T/pids/snakemake.pid"
    return "$status"
}
jobs_done() { grep -c "^Finished jobid" "$1" || true; }

say "local run: snakemake --cores 2 --profile workflow/profiles/default --configfile $CONFIG"
t=$SECONDS
start_snakemake "$T/local" "$T/log/local.snakemake.log" --cores 2 --profile workflow/profiles/default
finish_snakemake 300 || fail "the local run failed (exit $?; log: $T/log/local.snakemake.log)"
LOCAL_S=$((SECONDS - t))
LOCAL_JOBS=$(jobs_done "$T/log/local.snakemake.log")
say "local run: ${LOCAL_S} s, $LOCAL_JOBS jobs"

say "SLURM run: snakemake --profile workflow/profiles/slurm --configfile $CONFIG"
t=$SECONDS
start_snakemake "$T/slurm" "$T/log/slurm1.snakemake.log" --profile workflow/profiles/slurm \
    "${SLURM_OPTIONS[@]}"

# Mid-grid (two jobs done), scancel a simulate job that has run for 5 s or more, then its
# retry as soon as it is queued (it waits behind the rest of the grid).
find_job() {  # find_job STATES MIN_SECONDS [COMMENT] [EXCEPT_ID]: prints "jobid|comment"
    timeout 5 squeue -h -t "$1" -o '%i|%k|%M' 2> /dev/null \
        | awk -F'|' -v m="$2" -v c="${3:-}" -v x="${4:-}" '
            { n = split($3, t, ":"); s = t[n] + 60 * t[n - 1] + 3600 * (n > 2 ? t[n - 2] : 0) }
            $2 ~ /^rule_simulate_/ && (c == "" || $2 == c) && $1 != x && s >= m {
                print $1 "|" $2; exit }'
}
jobs_completed() { timeout 5 squeue -h -t COMPLETED -o %i 2> /dev/null | wc -l; }
cancel_job() {  # cancel_job SECONDS MIN_COMPLETED STATES MIN_SECONDS [COMMENT] [EXCEPT_ID]
    local end=$((SECONDS + $1)) done_before=$2 line
    shift 2
    while ((SECONDS < end)); do
        if (($(jobs_completed) >= done_before)); then
            line=$(find_job "$@")
            if [[ -n $line ]]; then
                timeout 10 scancel "${line%%|*}"
                echo "$line"
                return 0
            fi
        fi
        kill -0 "$(cat "$T/pids/snakemake.pid")" 2> /dev/null || return 1
        sleep 0.3
    done
    return 1
}
FIRST=$(cancel_job 150 2 RUNNING 5) || fail "no simulate job was seen running mid-grid"
say "scancel ${FIRST%%|*} (running: ${FIRST#*|})"
SECOND=$(cancel_job 120 0 PENDING,RUNNING 0 "${FIRST#*|}" "${FIRST%%|*}") \
    || fail "the cancelled cell was not resubmitted within 120 s (the profile's retries: 1)"
say "scancel ${SECOND%%|*} (its retry)"
FIRST_STATUS=0
finish_snakemake 400 || FIRST_STATUS=$?
SLURM1_S=$((SECONDS - t))
((FIRST_STATUS != 124)) || fail "the SLURM run did not finish within 400 s"
((FIRST_STATUS != 0)) || fail "the SLURM run succeeded although one cell was cancelled twice"
CELL=${FIRST#*|rule_simulate_wildcards_}
say "SLURM run: exit $FIRST_STATUS after ${SLURM1_S} s, as expected (cell $CELL cancelled twice)"

say "the same command again"
t=$SECONDS
start_snakemake "$T/slurm" "$T/log/slurm2.snakemake.log" --profile workflow/profiles/slurm \
    "${SLURM_OPTIONS[@]}"
finish_snakemake 240 || fail "the SLURM rerun failed (exit $?; log: $T/log/slurm2.snakemake.log)"
SLURM2_S=$((SECONDS - t))
RERUN_CELLS=$(grep -c '^rule simulate:' "$T/log/slurm2.snakemake.log" || true)
((RERUN_CELLS == 1)) || fail "the rerun ran $RERUN_CELLS simulate jobs instead of the missing cell"
SLURM_JOBS=$(($(jobs_done "$T/log/slurm1.snakemake.log") + $(jobs_done "$T/log/slurm2.snakemake.log")))
say "SLURM rerun: ${SLURM2_S} s, $(jobs_done "$T/log/slurm2.snakemake.log") jobs (one cell, then aggregate, report)"

# --- 4. the comparison and the overhead ---------------------------------------------------
"$PY" tests/engines/compare_runs.py "$T/local" "$T/slurm" \
    || fail "the SLURM run's results differ from the local run's"
((SLURM_JOBS == LOCAL_JOBS)) || fail "$SLURM_JOBS jobs finished under SLURM, $LOCAL_JOBS locally"
"$PY" tests/engines/slurm/overhead.py --local-seconds "$LOCAL_S" \
    --slurm-seconds "$((SLURM1_S + SLURM2_S))" --local "$T/local" --slurm "$T/slurm" \
    --slurmctld-log "$T/log/slurmctld.log" --snakemake-log "$T/log/slurm1.snakemake.log" \
    --snakemake-log "$T/log/slurm2.snakemake.log"
say "PASS ($((SECONDS - T0)) s in all)"
