"""Curation of nnU-Net raw datasets: fingerprint and plan (`fingerprint`); check, resample, normalise and
write the card (`nnunet`)."""
