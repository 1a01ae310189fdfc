"""The `hfm` command line."""
