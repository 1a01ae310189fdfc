"""Reading radiology volumes: NIfTI and DICOM series in RAS (`volume`), the reference brains (`brain`, `subjects`)."""
