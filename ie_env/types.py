"""The small typed values that pass between the stages of the loop."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class SearchResult:
    """One ranked answer of a search engine to a text query."""

    rank: int
    """0-based position in the engine's ranking."""
    key: str
    """Stable identifier of the image: a world's own id (tinyweb: ``n01443537_0``) or the URL for live engines."""
    url: str
    """Where the image bytes live (``snapshot://<sha256>`` for offline worlds)."""
    caption: str
    """Caption, title or alt text the engine matched."""
    source: str
    """The engine or provider that answered (``tinyweb``, ``openverse/flickr``, ...)."""
    license: str = ""
    """Licence name as the provider gives it (``by``, ``cc0``, ``by-nc-sa``...), empty when unknown."""
    sha256: str = ""
    """Hash of the image bytes when the engine knows it (offline worlds), else empty until downloaded."""
    width: int = 0
    height: int = 0
    meta: dict = field(default_factory=dict)
    """Engine-specific extras (tinyweb: the image's true ``wnid``, for measurement only)."""

    def to_json(self) -> dict:
        d = asdict(self)
        meta = d.pop("meta")
        return {**d, **{k: v for k, v in meta.items() if k not in d}}

    @classmethod
    def from_json(cls, d: dict) -> SearchResult:
        names = cls.__dataclass_fields__.keys()
        return cls(**{k: v for k, v in d.items() if k in names and k != "meta"},
                   meta={**d.get("meta", {}), **{k: v for k, v in d.items() if k not in names}})
