"""The trainer shared by all domains (accelerate), with exact resume and requeue on preemption."""
