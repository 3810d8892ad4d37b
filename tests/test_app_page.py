"""app/page.py: user text is shown as text, never as Markdown (no link, no image, no HTML)."""

import markdown_it
import pytest

from app.page import WORD_JOINER, text


def render(md: str) -> str:
    """CommonMark + GFM-like autolinks: what the browser would get from the Markdown."""
    return markdown_it.MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(md)


@pytest.mark.parametrize(
    "payload",
    [
        "![x](http://127.0.0.1:9/beacon.png)",
        "[click me](http://evil.example/)",
        "<img src=http://evil.example/a.png>",
        "<http://evil.example/>",
        "**bold** _it_ `code` # head | a | b |",
        "[ref]: http://evil.example/\n[ref]",
    ],
)
def test_markup_is_shown_as_typed(payload):
    html = render(text(payload))
    assert "<img" not in html and "<a " not in html and "<strong" not in html
    assert "<em" not in html and "<code" not in html and "<h1" not in html


def test_bare_links_and_mails_are_not_autolinked():
    s = text("see https://evil.example or www.evil.example or me@evil.example")
    assert "https://" not in s and "www." not in s and "me@" not in s
    assert (
        s.replace("\\", "").replace(WORD_JOINER, "")
        == "see https://evil.example or www.evil.example or me@evil.example"
    )


def test_plain_messages_are_unchanged():
    msg = "row 2: network 'Nope' unknown; 12.0 MB, outside Auvergne-Rhône-Alpes (see --help)"
    assert text(msg) == msg
