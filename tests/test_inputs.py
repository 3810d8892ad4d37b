"""analysis.inputs: the one loader of a run's inputs (checks first, one road model shared)."""

import pytest

from analysis.cli import main
from analysis.errors import UnknownNameError, ValidationError
from analysis.inputs import check_choices, load_models
from analysis.testing import synthetic_region


def test_unknown_mode_and_road_model_list_the_valid_ones():
    with pytest.raises(UnknownNameError, match="transit"):
        check_choices(["bus"])
    with pytest.raises(UnknownNameError, match="estimated"):
        check_choices(["road"], road="google")


def test_duplicate_modes_are_dropped_in_order():
    assert check_choices(["best", "road", "best"]) == ["best", "road"]


@pytest.mark.parametrize(
    ("options", "flag"),
    [({"date": "2025-02-04"}, "--date"), ({"gtfs_paths": ["x.zip"]}, "--gtfs")],
)
def test_timetable_options_in_road_mode_are_refused_not_ignored(options, flag):
    with pytest.raises(ValidationError, match=flag):
        check_choices(["road"], transit_options=options)
    check_choices(["road", "transit"], transit_options=options)  # fine with a transit mode
    check_choices(["road"], transit_options={"verbose": True, "date": None})


def test_cli_refuses_date_in_road_mode(capsys, tmp_path):
    code = main(["coverage", "--profile", "job_seekers", "--date", "2025-02-04", "--quiet",
                 "--out", str(tmp_path / "out")])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --date: used by public transport only") and "--mode" in err
    assert not (tmp_path / "out").exists()


def test_best_shares_the_road_and_transit_models(monkeypatch):
    region = synthetic_region(4, 3)
    calls = []

    def fake(mode, communes, **kw):
        calls.append(mode)
        return region.model if mode == "road" else object()

    monkeypatch.setattr("analysis.inputs.access_model", fake)

    class Best:
        def __init__(self, road, transit):
            self.road, self.transit = road, transit

    monkeypatch.setattr("analysis.transit.BestOfModel", Best)
    models = load_models(["road", "transit", "best"], region.communes)
    assert calls == ["road", "transit"]
    assert models["best"].road is models["road"] and models["best"].transit is models["transit"]
