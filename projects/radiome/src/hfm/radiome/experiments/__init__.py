"""Experiments: the tissue benchmark on real FreeSurfer subjects (`tissue`), the earlier one-template run
(`brain`), phantom scale and loader speed (`phantoms`)."""
