#!/bin/bash
# hfm launch --site local: rendered by hfm.shared.launch.

source /p/project/hfm/venv/bin/activate
export OMP_NUM_THREADS=1

restarts=0
while :; do
    accelerate launch --num_machines 1 --machine_rank 0 --main_process_ip 127.0.0.1 --main_process_port 29500 --num_processes 1 --mixed_precision no --dynamo_backend no -m hfm.shared.cli.main train run.yaml --set optim.lr=1e-3 --set 'run.name=demo run'
    rc=$?
    if [ "$rc" -ne 75 ] || [ "$restarts" -ge 20 ]; then exit "$rc"; fi
    restarts=$((restarts + 1))
    echo "hfm: resuming from the checkpoint (restart $restarts)"
done
