"""What hfm-climate offers to the core (see `hfm domains`). Lists only implemented features."""

from hfm.shared.plugins import DomainPlugin

plugin = DomainPlugin(
    name="climate",
    summary="Gridded atmospheric fields: xarray, zarr, netCDF/GRIB, forecasting and downscaling.",
)
