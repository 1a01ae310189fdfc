#!/bin/bash
# hfm launch --site local-slurm: rendered by hfm.shared.launch; edit the profile, not this.
#SBATCH --job-name=hfm-train
#SBATCH --account=hfm-demo
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=1
#SBATCH --cpus-per-task=2
#SBATCH --time=00:10:00
#SBATCH --output=%x-%j.out
#SBATCH --error=%x-%j.err
#SBATCH --open-mode=append
#SBATCH --signal=B:USR1@60
#SBATCH --requeue

# Site set-up and offline settings (compute nodes may have no internet).
source /p/project/hfm/venv/bin/activate
export OMP_NUM_THREADS=1
export HF_HUB_OFFLINE=1
export HF_DATASETS_OFFLINE=1
export TRANSFORMERS_OFFLINE=1

# Rendezvous: the first node of the allocation.
MAIN_PROCESS_IP="$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n1)"
MAIN_PROCESS_PORT=$((29500 + SLURM_JOB_ID % 1000))
export MAIN_PROCESS_IP MAIN_PROCESS_PORT
echo "hfm: job $SLURM_JOB_ID restart ${SLURM_RESTART_COUNT:-0} on $SLURM_JOB_NODELIST, head $MAIN_PROCESS_IP:$MAIN_PROCESS_PORT, 4 processes"

# USR1 before the time limit (or `scancel --signal=USR1 --batch`): pass it on to the training processes.
# Trapped before srun starts, so an early signal cannot end the batch shell.
step=""
signalled=0
trap 'echo "hfm: USR1, asking the trainer to checkpoint"; signalled=1; [ -n "$step" ] && kill -USR1 "$step"' USR1

# One launcher task per node; srun does not inherit --cpus-per-task from sbatch since SLURM 22.05.
srun --nodes=2 --ntasks-per-node=1 --cpus-per-task=2 --kill-on-bad-exit=1 \
    bash -c 'trap "" USR1; exec accelerate launch --multi_gpu --num_machines "$SLURM_NNODES" --machine_rank "$SLURM_NODEID" --main_process_ip "$MAIN_PROCESS_IP" --main_process_port "$MAIN_PROCESS_PORT" --num_processes 4 --mixed_precision no --dynamo_backend no -m hfm.shared.cli.main train run.yaml --set optim.lr=1e-3 --set '"'"'run.name=demo run'"'"'' &
step=$!
while kill -0 "$step" 2>/dev/null; do wait "$step"; done
wait "$step"
rc=$?

# The trainer exits 75 after a checkpoint; torchrun reports that as a failure, hence the flag.
if [ "$rc" -eq 75 ] || { [ "$signalled" -eq 1 ] && [ "$rc" -ne 0 ]; }; then
    if [ "${SLURM_RESTART_COUNT:-0}" -ge 20 ]; then
        echo "hfm: not requeueing, 20 restarts reached" >&2
        exit "$rc"
    fi
    echo "hfm: requeueing job $SLURM_JOB_ID to resume from its checkpoint"
    scontrol requeue "$SLURM_JOB_ID"
    exit 0
fi
exit "$rc"
