"""Synthetic volumes, asked for by name: SynthSeg-style images from real label maps (`synthseg`), phantoms
(`phantoms`)."""
