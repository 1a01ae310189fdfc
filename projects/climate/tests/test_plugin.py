from hfm.shared.plugins import installed_domains


def test_climate_is_discovered_through_its_entry_point():
    found = {d.name: d for d in installed_domains()}
    assert "climate" in found
    assert found["climate"].distribution == "hfm-climate"
    assert found["climate"].load().name == "climate"


def test_plugin_lists_what_is_implemented():
    from hfm.climate.plugin import plugin
    from hfm.shared.models.registry import list_models
    from hfm.shared.train.task import available_tasks

    assert set(plugin.readers) == {"netcdf", "grib", "zarr"}
    assert (
        set(plugin.tasks)
        == {"climate-mae", "climate-forecast", "climate-downscale", "climate-corpus-mae"}
        <= set(available_tasks())
    )
    assert set(plugin.models) == set(list_models("climate-*"))  # every registered model declared, none invented
    assert plugin.dataset_formats["cf-zarr"]().name == "cf-zarr"
    commands = {c.name or c.callback.__name__ for c in plugin.cli().registered_commands}
    assert commands == {"curate", "stats", "pretrain", "finetune", "predict", "evaluate", "benchmark"}
    assert callable(plugin.hooks["quickstart"])
