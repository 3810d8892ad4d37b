"""What every page of the app shares: its set-up and the boxes that show text.

Streamlit renders the body of ``st.error``, ``st.warning``, ``st.info``, ``st.success`` and
``st.caption`` as Markdown. Messages here carry user text (file names, site names, cells of an
uploaded table): shown as Markdown, a crafted name would draw remote images or a clickable
link inside a warning. Every such box goes through this module, which escapes the text so it
is shown as typed, never interpreted.
"""

from __future__ import annotations

import re
from typing import Any, NoReturn

import streamlit as st

#: Characters with a meaning in (GitHub-flavoured) Markdown or HTML, escaped with a backslash.
_MARKUP = re.compile(r"([\\`*_{}\[\]<>#|~$!&])")
#: Where Streamlit's renderer turns bare text into a link (``scheme://``, ``www.``, ``a@b``).
#: A backslash does not stop it (checked in Chromium: ``http\\://x`` is still linked), so an
#: invisible WORD JOINER (U+2060) is put inside each trigger instead.
_AUTOLINK = re.compile(r"(?i)(?<=:)(?=//)|(?<=\bwww)(?=\.)|(?=@)")
#: The invisible character that breaks an autolink without changing what the reader sees.
WORD_JOINER = "\u2060"


def text(value: Any) -> str:
    """Return ``value`` as Markdown that shows exactly its characters (no links, no images).

    Parameters
    ----------
    value
        Any text (converted with ``str``).

    Returns
    -------
    str
        The text with every Markdown-active character backslash-escaped and an invisible
        word joiner (:data:`WORD_JOINER`) inside every bare link (``://``, ``www.``, ``@``).
    """
    s = _MARKUP.sub(r"\\\1", str(value))
    return _AUTOLINK.sub(WORD_JOINER, s)


def setup(title: str, *, sidebar: str = "auto") -> None:
    """Configure the page (title, icon, wide layout); call first on every page.

    Parameters
    ----------
    title
        What the page is about, shown in the browser tab after "SPRO access —".
    sidebar
        ``"auto"``, ``"expanded"`` or ``"collapsed"``.
    """
    st.set_page_config(
        page_title=f"SPRO access — {title}",
        page_icon="🧭",
        layout="wide",
        initial_sidebar_state=sidebar,  # type: ignore[arg-type]
    )


def error(message: Any, **kwargs: Any) -> None:
    """Show an error box with ``message`` as plain text."""
    st.error(text(message), **kwargs)


def warning(message: Any, **kwargs: Any) -> None:
    """Show a warning box with ``message`` as plain text."""
    st.warning(text(message), **kwargs)


def info(message: Any, **kwargs: Any) -> None:
    """Show an information box with ``message`` as plain text."""
    st.info(text(message), **kwargs)


def success(message: Any, **kwargs: Any) -> None:
    """Show a success box with ``message`` as plain text."""
    st.success(text(message), **kwargs)


def caption(message: Any, **kwargs: Any) -> None:
    """Show a caption with ``message`` as plain text."""
    st.caption(text(message), **kwargs)


def stop_on_load_error(exc: BaseException) -> NoReturn:
    """Say the bundled data could not be loaded (and why), then stop the page."""
    error(f"The bundled data could not be loaded: {exc}")
    st.stop()
    raise AssertionError("unreachable")  # pragma: no cover - st.stop() raises
