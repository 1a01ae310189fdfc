"""HFM seismic domain: Earthquake waveforms: ObsPy readers, SeisBench format, phase picking and detection."""
