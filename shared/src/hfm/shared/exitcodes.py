"""Exit codes shared by the trainer and the launchers."""

# The trainer saved a checkpoint on SIGTERM/SIGUSR1 and wants to be requeued (EX_TEMPFAIL from sysexits.h).
EXIT_REQUEUE = 75
