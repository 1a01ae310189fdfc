"""Models shared by all domains: one Transformer trunk, tokenizers supplied by each domain."""
