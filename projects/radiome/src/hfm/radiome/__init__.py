"""HFM radiome domain: 3D MRI/CT volumes: NIfTI/DICOM, nnU-Net layout, MONAI segmentation."""
