"""Training data: resampling and normalisation (`preprocess`), random patches of curated volumes (`patches`),
real MR volumes for pretraining (`pretraining`)."""
