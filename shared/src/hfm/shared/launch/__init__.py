"""HPC launchers: site profiles (YAML data), job scripts rendered from them, submission and job listing."""

from hfm.shared.launch.profiles import SiteProfile, list_sites, load_site
from hfm.shared.launch.render import LaunchRequest, render_script, resolve_account

__all__ = ["LaunchRequest", "SiteProfile", "list_sites", "load_site", "render_script", "resolve_account"]
