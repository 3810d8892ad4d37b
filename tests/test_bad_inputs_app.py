"""Row APP-08 of docs/bad_inputs.md: the what-if page and a candidate list of thousands."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

PAGE = Path(__file__).resolve().parents[1] / "app" / "pages" / "2_Labelling_what-if.py"


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    from analysis import settings

    monkeypatch.setattr(settings, "use_network", False)


def page(name: str) -> AppTest:
    at = AppTest.from_file(str(PAGE), default_timeout=180)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_app_08_thousands_of_candidates_on_the_whatif_page(monkeypatch):
    """A candidate list over the page's limit is refused whole, with the batch command named."""
    from analysis import settings

    monkeypatch.setattr(settings, "whatif_page_max_candidates", 3)
    at = page("2_Labelling_what-if.py")
    rows = "".join(f"C{i},Mission Locale,Yssingeaux\n" for i in range(5))
    at.text_area(key="wi_csv_text").input("name,network,commune\n" + rows)
    at.button(key="wi_load_csv").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("at most 3 candidates" in e.value and "label-reports" in e.value for e in at.error)
    assert at.subheader[0].value.startswith("Candidates (0)")  # nothing half-loaded
    # within the limit, the rows load
    at.text_area(key="wi_csv_text").input("name,network,commune\n" + rows.split("\n", 2)[2])
    at.button(key="wi_load_csv").click().run()
    assert at.subheader[0].value.startswith("Candidates (3)")
