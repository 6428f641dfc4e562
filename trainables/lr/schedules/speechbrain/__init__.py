"""The SpeechBrain family (speechbrain.nnet.schedulers, seed 002) as multipliers of each group's lr.

SpeechBrain writes one absolute lr into every param group; here every absolute value of its API
(`lr_initial`, `initial_value`, `lr`, CyclicLR's `base_lr`/`max_lr`, Interval's `lr`, `lr_min`)
keeps its name but means *a multiple of each group's base lr*, so a base lr of 1.0 reproduces
SpeechBrain's numbers and several groups keep their ratios. Counters follow SpeechBrain's own:
step-wise curves are functions of n = `clock.step` (optimizer steps completed) giving the lr
SpeechBrain's class sets on its n-th call, made after the n-th step (WarmAndExpDecay's counter is
incremented after use, so its formula is taken at n - 1); epoch-wise ones of `clock.epoch`. A
total length left out (`total_steps`, `num_training_steps`, `epoch_count`) means the whole run.

Where SpeechBrain never evaluates its formula, ours follows the formula's limit: warmups (Noam,
LinearNoam, LinearWarmup, WarmCoolDecay, WarmAndExpDecay) start from 0 at step 0, and Step runs
epoch 0 at `initial_value`, the lr SpeechBrain's optimizer starts with. Deliberate departures
(README, "Schedules"): WarmCoolDecay holds 0 past total_steps, CyclicCosine never compounds.
"""
