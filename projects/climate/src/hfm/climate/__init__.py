"""HFM climate domain: Gridded atmospheric fields: xarray, zarr, netCDF/GRIB, forecasting and downscaling."""
