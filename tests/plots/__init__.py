"""Tests of mixedfx.plots, and what they share: rendering a figure, finding its artists by gid."""

import io


def rendered(fig) -> bytes:
    """The figure as PNG bytes, drawn by Agg (what ``savefig`` uses without pyplot or a GUI)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def by_gid(ax, gid: str) -> list:
    """The lines, collections and patches of ``ax`` whose gid is ``gid``."""
    return [artist for artist in [*ax.lines, *ax.collections, *ax.patches] if artist.get_gid() == gid]
