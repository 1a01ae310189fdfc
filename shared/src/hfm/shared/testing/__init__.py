"""Helpers for the tests of HFM packages: the domain conformance kit and the bad-input corpus.

Installed with hfm-shared (not test-only) so that every domain's tests, and a new domain started from
`projects/_template`, run the same checks in a venv that holds only that domain and the core.
"""
