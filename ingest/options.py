"""``IngestOptions``: what one ingest does, as one validated object (``legalrag ingest`` builds it from flags)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from legalrag.ingest.loaders import DEFAULT_MAX_FILE_MB, LoadFailure, plan_files

__all__ = ["IngestOptions"]


class IngestOptions(BaseModel):
    """What an ingest writes and how; the store, model and device come from :class:`~legalrag.Settings`.

    The file options (``include``, ``exclude``, ``doc_id_root``, ``max_file_mb``, ``follow_symlinks``,
    ``sync``) apply to :func:`~legalrag.ingest_paths`; :func:`~legalrag.ingest_documents` refuses them.

    Example:
        >>> options = IngestOptions(collection="ko-laws", include=["*.md"], sync=True)
        >>> options.sync, options.chunks_per_batch
        (True, 256)
        >>> options.model_copy(update={"recreate": True}).recreate
        True
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    collection: str | None = Field(
        default=None, description="The collection to write (default: `Settings.collection`)."
    )
    include: tuple[str, ...] = Field(default=(), description="Glob patterns of files to load, relative to each folder.")
    exclude: tuple[str, ...] = Field(default=(), description="Glob patterns of files to skip.")
    doc_id_root: Path | None = Field(
        default=None,
        description="Document ids are the files' paths under this folder (default: under each folder argument, "
        "or a file argument's bare name); two files that would share an id are refused.",
    )
    max_file_mb: float = Field(
        default=DEFAULT_MAX_FILE_MB, gt=0, description="Larger files are reported as failed, not read."
    )
    follow_symlinks: bool = Field(default=False, description="Read links that lead outside the folder being walked.")
    sparse: bool = Field(
        default=True, description="Also store BM25 sparse vectors (sparse and hybrid search need them)."
    )
    recreate: bool = Field(default=False, description="Drop and recreate the collection first.")
    sync: bool = Field(default=False, description="Delete the stored documents under the paths whose files are gone.")
    tenant: str | None = Field(
        default=None, description="Write this tenant on every point; the run then sees and changes only its documents."
    )
    chunks_per_batch: int = Field(default=256, ge=1, description="Chunks per embed and upsert batch.")
    engine: Literal["local", "ray"] = Field(
        default="local",
        description="`local`: this process (and its GPUs); `ray`: a Ray cluster's workers load, chunk and embed "
        "(`pip install 'legalrag[ray]'`; files only).",
    )
    ray_address: str | None = Field(
        default=None, description="The Ray cluster to join (`auto`, `ray://host:10001`; default: a local one)."
    )
    workers: int | None = Field(
        default=None, ge=1, description="Embedding workers on Ray (default: one per GPU, or one on CPUs)."
    )
    gpus_per_worker: float | None = Field(
        default=None, ge=0, description="GPUs each Ray embedding worker holds (default: 1 where the cluster has GPUs)."
    )

    @model_validator(mode="after")
    def _ray_options_need_ray(self) -> IngestOptions:
        given = [name for name in _RAY_ONLY if getattr(self, name) is not None]
        if given and self.engine != "ray":
            raise ValueError(f"{', '.join(given)} apply to engine='ray' (--engine ray)")
        return self

    def plan(self, paths: Sequence[str | Path]) -> list[tuple[Path, str] | LoadFailure]:
        """The files a run over ``paths`` reads with these options (see :func:`~legalrag.ingest.loaders.plan_files`).

        Raises:
            InputError: two files would share a doc_id, or a file is outside ``doc_id_root``.
        """
        return plan_files(
            paths,
            include=self.include,
            exclude=self.exclude,
            doc_id_root=self.doc_id_root,
            follow_symlinks=self.follow_symlinks,
        )

    def file_options(self) -> list[str]:
        """The file options set to something other than their default (``ingest_documents`` refuses them)."""
        names = ("include", "exclude", "doc_id_root", "max_file_mb", "follow_symlinks", "sync")
        return [name for name in names if name in self.model_fields_set and getattr(self, name) != _DEFAULTS[name]]


_RAY_ONLY = ("ray_address", "workers", "gpus_per_worker")
_DEFAULTS = {name: field.default for name, field in IngestOptions.model_fields.items()}
