"""Safe uploads in the app (issue #6 item 3), through Streamlit's AppTest on the bundled data.

The only upload of the app is the candidates CSV of the labelling what-if page (file
uploader, or text pasted in the box beside it). Checked here: a file above the size cap is
refused with a clear error and no traceback; candidate names holding HTML or a spreadsheet
formula load as plain text, are HTML-escaped in the result map the page draws, and are
neutralised (leading ``'``) in the CSV the page offers for download; ``spro-access app``
gives Streamlit the same cap.

AppTest drives the file uploader and the download buttons but cannot click a download whose
data are produced on click (the "Map (HTML)" button): that file is checked by calling the
same library function on the page's own result. The eager CSV downloads are read back from
AppTest's in-memory media store (an AppTest internal, see :func:`media`).
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "app" / "pages" / "2_Labelling_what-if.py"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TIMEOUT = 180  # the first page run loads the communes, the directory and the road model

SCRIPT = "<script>alert(1)</script>"
FORMULA = '=HYPERLINK("http://evil.example","clic")'


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    from analysis import settings

    monkeypatch.setattr(settings, "use_network", False)


@pytest.fixture
def media(monkeypatch):
    """The in-memory media stores AppTest creates (one per run): download data live there.

    AppTest builds a ``MemoryMediaFileStorage`` for each run and does not expose it; a
    subclass that records its instances is swapped in for the test.
    """
    import streamlit.testing.v1.app_test as app_test
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    assert app_test.MemoryMediaFileStorage is MemoryMediaFileStorage, "AppTest changed"
    stores: list[MemoryMediaFileStorage] = []

    class Recording(MemoryMediaFileStorage):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            stores.append(self)

    monkeypatch.setattr(app_test, "MemoryMediaFileStorage", Recording)
    return stores


def page() -> AppTest:
    at = AppTest.from_file(str(PAGE), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_oversized_upload_is_refused_with_a_clear_error():
    from analysis import settings

    at = page()
    big = b"name,network,commune\n" + b"A,CIO,43157\n" * (settings.max_upload_mb * 100_000)
    assert len(big) > settings.max_upload_mb * 1_000_000
    at.file_uploader(key="wi_csv").upload("big.csv", big, "text/csv").run()
    assert not at.exception, [e.value for e in at.exception]
    (err,) = [e.value for e in at.error]
    assert err.startswith("big.csv: 12.0 MB, more than the 10 MB accepted for an upload")
    at.button(key="wi_load_csv").click().run()  # pressing Load does not read it either
    assert not at.exception, [e.value for e in at.exception]
    assert [e.value for e in at.error] == [err]
    assert not at.success and not at.session_state["wi_candidates"]
    # the same cap for text pasted instead of a file
    at.file_uploader(key="wi_csv").clear()
    at.text_area(key="wi_csv_text").input(big.decode())
    at.button(key="wi_load_csv").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(e.value.startswith("pasted text: 12.0 MB, more than") for e in at.error)
    assert not at.session_state["wi_candidates"]


def test_html_and_formula_names_in_an_uploaded_csv_are_escaped_and_neutralised(media):
    from analysis import present

    quoted = '"' + FORMULA.replace('"', '""') + '"'
    upload = f"name,network,commune\n{SCRIPT},Mission Locale,Yssingeaux\n{quoted},CIO,43157\n"
    at = page()
    at.file_uploader(key="wi_csv").upload("cands.csv", upload.encode(), "text/csv").run()
    at.button(key="wi_load_csv").click().run()
    assert not at.error, [e.value for e in at.error]
    assert [s.value for s in at.success] == ["2 candidate(s) loaded"]
    names = [r["name"] for r in at.session_state["wi_candidates"]]
    assert names == [SCRIPT, FORMULA]  # loaded as text, unchanged
    at.button(key="wi_evaluate").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    # the names are shown as text (st.text), never as Markdown or HTML
    shown = [t.value for t in at.text]
    assert any(SCRIPT in t for t in shown) and any(FORMULA in t for t in shown)
    assert all("<script" not in m.value for m in at.markdown)

    # the result map drawn in the page (a self-contained page in an iframe)
    frames = [e for e in at.get("iframe") if getattr(e.proto, "srcdoc", "")]
    script = frames[-1].proto.srcdoc
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in script
    assert SCRIPT not in script and "\\u003cscript\\u003ealert" not in script
    # the "Map (HTML)" download (made on click): the page's call on the page's result
    html = present.map_html(at.session_state["wi_result"].map(basemap="none"))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert SCRIPT not in html and "\\u003cscript\\u003ealert" not in html

    # the cards CSV offered for download: the formula gets a leading apostrophe
    url = at.download_button(key="wi_dl_cards").proto.url
    data = media[-1].get_file(url.rsplit("/", 1)[1]).content
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    assert {r["candidate_name"] for r in rows} >= {SCRIPT, "'" + FORMULA}
    assert not any(v.startswith(("=", "+", "@")) for r in rows for v in r.values())


def test_spro_access_app_gives_streamlit_the_upload_cap(monkeypatch):
    import subprocess

    from analysis import settings
    from analysis.cli import main

    calls: list[list[str]] = []
    monkeypatch.setattr(subprocess, "call", lambda cmd: calls.append(cmd) or 0)
    assert main(["app", "--headless"]) == 0
    (cmd,) = calls
    i = cmd.index("--server.maxUploadSize")
    assert cmd[i + 1] == str(settings.max_upload_mb) == "10"


def test_a_long_candidate_list_is_paged_not_frozen():
    """Thousands of candidates used to render every card (2,000: 179 s, 219,000 elements)."""
    from analysis.communes import load_communes

    codes = load_communes()["insee"].iloc[::50].tolist()[:45]
    rows = "".join(f"C{i},Mission Locale,{c}\n" for i, c in enumerate(codes))
    bad = "".join(f"B{i},Nope,{c}\n" for i, c in enumerate(codes[:30]))  # 30 rows left out
    at = page()
    # (an `insee` column: a bare code in a `commune` column may be a postcode, refused)
    at.text_area(key="wi_csv_text").input("name,network,insee\n" + rows + bad).run()
    at.button(key="wi_load_csv").click().run()
    assert not at.exception, [e.value for e in at.exception]
    warnings = [w.value for w in at.warning if "Nope" in w.value or "left out" in w.value]
    assert len(warnings) == 21  # 20 rows named, the other 10 counted in one line
    assert any("10 more row(s) left out" in w for w in warnings), warnings
    at.button(key="wi_evaluate").click().run()
    assert not at.exception, [e.value for e in at.exception]
    heads = [m.value for m in at.markdown if m.value.startswith("#### #")]
    assert len(heads) == 20  # one page of cards
    assert at.number_input(key="wi_card_page").max == 3
    at.number_input(key="wi_card_page").set_value(3).run()
    heads = [m.value for m in at.markdown if m.value.startswith("#### #")]
    assert len(heads) == 5 and heads[0].startswith("#### #41")
