"""Load files and folders into :class:`SourceDocument` s; bad input becomes a :class:`LoadFailure`.

Formats by extension: ``.txt``, ``.md``/``.markdown`` (YAML-ish front matter goes to metadata),
``.html``/``.htm``, ``.pdf``, ``.docx``, ``.json`` and ``.jsonl``. HTML, PDF and Word need the
``parsers`` extra, imported only when such a file turns up. Nothing here raises on bad input:
an empty, binary, corrupt or encrypted file, or a malformed JSON record, is reported as a
failure and every other file still loads.

Document ids are stable across runs and machines: the path of the file relative to the argument
that contained it (posix), or the file name for a file argument, or relative to ``doc_id_root`` when
given; JSON records add ``#<id>`` (their ``doc_id``/``id``/``_id``) or ``#<index>`` (0-based position
in the file). Two files that would share an id are refused before anything loads. Only regular files
are read (not FIFOs or devices, not links leading outside the folder unless asked), up to a size limit.
"""

from __future__ import annotations

import contextlib
import fnmatch
import importlib
import io
import json
import logging
import os
import re
import stat
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from legalrag.ingest._pipeline_records import DocumentFailure
from legalrag.ingest.encodings import decode_bytes
from legalrag.plugin.errors import InputError, MissingExtraError
from legalrag.plugin.schema import SourceDocument
from legalrag.plugin.text.language import SUPPORTED_LANGUAGES, detect_language

__all__ = ["DEFAULT_MAX_FILE_MB", "SUPPORTED_EXTENSIONS", "JsonFields", "LoadFailure", "iter_documents", "plan_files"]

#: files larger than this are reported as failures, not read (``max_file_mb``, ``--max-file-mb``)
DEFAULT_MAX_FILE_MB = 100.0

_ID_KEYS = ("doc_id", "id", "_id")
_TITLE_KEYS = ("제목", "title")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)
_MD_TITLE = re.compile(r"^#[ \t]+(.+?)[ \t#]*$", re.M)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset=["']?([A-Za-z0-9_.:-]+)""", re.I)
_CHARSET_ALIASES = {"euc-kr": "cp949", "ks_c_5601-1987": "cp949", "gb2312": "gb18030", "gbk": "gb18030"}
_HTML_DROP = ("script", "style", "noscript", "template", "iframe", "svg", "head")
_HTML_BLOCKS = (
    "p", "div", "section", "article", "header", "footer", "main", "nav", "aside", "blockquote", "pre",
    "ul", "ol", "li", "dl", "dt", "dd", "table", "thead", "tbody", "tfoot", "tr", "caption", "form",
    "figure", "figcaption", "address", "hr", "h1", "h2", "h3", "h4", "h5", "h6",
)  # fmt: skip
_BLANK_LINES = re.compile(r"\n{3,}")
_INLINE_SPACE = re.compile(r"[ \t\r\f\v\u00a0]+")


#: a file or record that could not be loaded, and why: the pipeline's one failure type
LoadFailure = DocumentFailure


class JsonFields(BaseModel):
    """Which keys of a JSON/JSONL record hold the text, id, title and metadata.

    Attributes:
        text: key of the document text.
        id: key of the record id; None tries ``doc_id``, ``id``, ``_id`` in that order.
        title: key of the title.
        metadata: keys copied into metadata; None copies every other scalar (str/int/float/bool) key.

    Example:
        >>> JsonFields(text="body", metadata=("court", "year")).text
        'body'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str = "text"
    id: str | None = None
    title: str = "title"
    metadata: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class _File:
    path: Path
    rel: str  # document id base: posix path relative to the argument that named it
    fields: JsonFields

    @property
    def source(self) -> str:
        return str(self.path)

    def failure(self, reason: str) -> LoadFailure:
        return LoadFailure(self.source, reason)

    def document(
        self, text: str, title: str | None, metadata: dict[str, Any], doc_id: str | None = None
    ) -> SourceDocument | LoadFailure:
        text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
        where = f"{doc_id.rpartition('#')[2]}: " if doc_id else ""
        if not text.strip():
            return self.failure(f"{where}no text content")
        language = metadata.get("language") if metadata.get("language") in SUPPORTED_LANGUAGES else None
        return SourceDocument(
            doc_id=doc_id or self.rel,
            source=self.source,
            text=text,
            title=(title or "").strip() or self.path.stem,
            language=language or detect_language(text),
            metadata=metadata,
        )


_Loader = Callable[[bytes, _File], Iterator[SourceDocument | LoadFailure]]


def iter_documents(
    paths: Sequence[str | Path],
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    json_fields: JsonFields = JsonFields(),
    doc_id_root: str | os.PathLike[str] | None = None,
    max_file_mb: float = DEFAULT_MAX_FILE_MB,
    follow_symlinks: bool = False,
) -> Iterator[SourceDocument | LoadFailure]:
    """Yield a document (or a failure) for every supported file under ``paths``, in a stable order.

    Args:
        paths: files and folders; folders are walked recursively in sorted order (hidden entries
            skipped). A file named explicitly with an unsupported extension is a failure; inside
            folders such files are skipped.
        include: glob patterns on the path relative to its folder argument (``*.md``,
            ``laws/**``); when given, only matching files load.
        exclude: glob patterns of files to skip.
        json_fields: key mapping for ``.json``/``.jsonl`` records.
        doc_id_root: give every file the doc_id of its path relative to this folder (all files must be
            under it); default: relative to the folder argument, or the file name for a file argument.
        max_file_mb: a larger file is a failure (nothing of it is read).
        follow_symlinks: follow links that lead outside the folder being walked; by default a link is
            read only when it leads to a regular file inside that folder.

    Only regular files are read: a FIFO, socket or device (or a link to one) is a failure, never a
    hang. Two files that would get the same doc_id are refused before anything loads.

    Raises:
        InputError: two files would share a doc_id, or a file is outside ``doc_id_root``.

    Example:
        >>> docs = [d for d in iter_documents(["corpus/"]) if isinstance(d, SourceDocument)]  # doctest: +SKIP
    """
    planned = plan_files(
        paths, include=include, exclude=exclude, doc_id_root=doc_id_root, follow_symlinks=follow_symlinks
    )
    for item in planned:
        if isinstance(item, LoadFailure):
            yield item
        else:
            yield from load_file(*item, json_fields=json_fields, max_file_mb=max_file_mb)


def load_file(
    path: Path, rel: str, *, json_fields: JsonFields = JsonFields(), max_file_mb: float = DEFAULT_MAX_FILE_MB
) -> Iterator[SourceDocument | LoadFailure]:
    """The documents (or failures) of one file :func:`plan_files` listed as ``(path, rel)``, as
    :func:`iter_documents` loads it (``rel`` is its doc_id base)."""
    yield from _load(_File(path, rel, json_fields), int(max_file_mb * 1024 * 1024))


def existing_paths(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[Path]:
    """``paths`` as a list, refused (before anything loads or is written) when empty or missing."""
    roots = [Path(paths)] if isinstance(paths, (str, os.PathLike)) else [Path(p) for p in paths]
    if not roots:
        raise InputError("no paths given: pass at least one file or folder")
    missing = [str(p) for p in roots if not p.exists()]
    if missing:
        raise InputError(f"path(s) not found: {', '.join(missing)}")
    return roots


def plan_files(
    paths: Sequence[str | Path],
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    doc_id_root: str | os.PathLike[str] | None = None,
    follow_symlinks: bool = False,
) -> list[tuple[Path, str] | LoadFailure]:
    """The files :func:`iter_documents` reads, each with its doc_id base, or why one is skipped.

    Raises:
        InputError: two files would share a doc_id, or a file is outside ``doc_id_root``.
    """
    root = Path(doc_id_root).resolve() if doc_id_root is not None else None
    planned: list[tuple[Path, str] | LoadFailure] = []
    for arg in paths:
        top = Path(arg)
        if top.is_dir():
            for path, rel in _walk(top, include, exclude):
                planned.append(_regular(path, rel, top, follow_symlinks))
        elif top.exists() or top.is_symlink():
            if top.suffix.lower() not in _LOADERS:
                supported = ", ".join(SUPPORTED_EXTENSIONS)
                planned.append(LoadFailure(str(top), f"unsupported file type '{top.suffix}' (supported: {supported})"))
            else:
                planned.append(_regular(top, top.name, None, True))
        else:
            planned.append(LoadFailure(str(top), "no such file or directory"))
    if root is not None:
        planned = [_rebase(item, root) for item in planned]
    _refuse_collisions(planned)
    return planned


def _regular(path: Path, rel: str, top: Path | None, follow_symlinks: bool) -> tuple[Path, str] | LoadFailure:
    """``(path, rel)`` for a regular file; a failure for anything else (never opened: a FIFO would hang)."""
    try:
        target = path.stat()  # follows links
    except OSError as exc:
        return LoadFailure(str(path), f"cannot read file: {exc.strerror or exc}")
    if not stat.S_ISREG(target.st_mode):
        kind = "a FIFO" if stat.S_ISFIFO(target.st_mode) else "not a regular file"
        return LoadFailure(str(path), f"{kind}: only regular files are read")
    if path.is_symlink() and top is not None and not follow_symlinks:
        resolved, inside = path.resolve(), top.resolve()
        if resolved != inside and inside not in resolved.parents:
            return LoadFailure(str(path), f"a link to {resolved}, outside {top}: pass follow_symlinks=True")
    return path, rel


def _rebase(item: tuple[Path, str] | LoadFailure, root: Path) -> tuple[Path, str] | LoadFailure:
    if isinstance(item, LoadFailure):
        return item
    path, _ = item
    absolute = path.absolute()
    try:
        return path, absolute.relative_to(root).as_posix()
    except ValueError:
        raise InputError(
            f"{path} is not under the doc_id root {root}: pass a doc_id root that holds every file"
        ) from None


def _refuse_collisions(planned: list[tuple[Path, str] | LoadFailure]) -> None:
    owners: dict[str, Path] = {}
    for item in planned:
        if isinstance(item, LoadFailure):
            continue
        path, rel = item
        other = owners.setdefault(rel, path)
        if other != path:
            raise InputError(
                f"{other} and {path} would both be stored as doc_id {rel!r} (one would silently replace "
                "the other): ingest their common parent folder, or pass doc_id_root= "
                "so that ids are paths under it"
            )


def _walk(root: Path, include: Sequence[str], exclude: Sequence[str]) -> Iterator[tuple[Path, str]]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            if name.startswith(".") or path.suffix.lower() not in _LOADERS:
                continue
            if include and not any(_matches(rel, p) for p in include):
                continue
            if not any(_matches(rel, p) for p in exclude):
                yield path, rel


def _matches(rel: str, pattern: str) -> bool:
    if fnmatch.fnmatchcase(rel, pattern) or fnmatch.fnmatchcase(rel.rpartition("/")[2], pattern):
        return True
    return pattern.startswith("**/") and fnmatch.fnmatchcase(rel, pattern[3:])


def _load(file: _File, limit: int) -> Iterator[SourceDocument | LoadFailure]:
    try:
        data = _read_regular(file.path, limit + 1)
    except OSError as exc:
        yield file.failure(f"cannot read file: {exc.strerror or exc}")
        return
    if data is None:
        yield file.failure("not a regular file any more (replaced since the folder was listed): not read")
        return
    if len(data) > limit:
        yield file.failure(f"larger than {limit / 1048576:g} MB: skipped (raise max_file_mb=)")
        return
    if not data:
        yield file.failure("empty file (0 bytes)")
        return
    try:
        yield from _LOADERS[file.path.suffix.lower()](data, file)
    except MissingExtraError as exc:
        yield file.failure(str(exc))
    except Exception as exc:  # one bad file must never stop a corpus
        yield file.failure(f"{type(exc).__name__}: {exc}")


def _read_regular(path: Path, size: int) -> bytes | None:
    """Up to ``size`` bytes of ``path`` if it is still a regular file, else ``None``: opened without
    blocking, so a file swapped for a FIFO after the folder was listed never hangs the run."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=True) as handle:
            fd = -1
            return handle.read(size)
    finally:
        if fd >= 0:
            os.close(fd)


def _require(module: str, package: str, purpose: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(package, "parsers", purpose) from exc


def _load_text(data: bytes, file: _File) -> Iterator[SourceDocument | LoadFailure]:
    yield file.document(decode_bytes(data).text, None, {})


def _load_markdown(data: bytes, file: _File) -> Iterator[SourceDocument | LoadFailure]:
    text = decode_bytes(data).text.lstrip("\ufeff").replace("\r\n", "\n")
    metadata: dict[str, Any] = {}
    if match := _FRONT_MATTER.match(text):
        for line in match.group(1).split("\n"):
            key, sep, value = line.partition(":")
            if sep and key.strip() and not line[:1].isspace() and not line.startswith(("-", "#")):
                metadata[key.strip()] = value.strip().strip("\"'")
        text = text[match.end() :]
    title = next((str(v) for k, v in metadata.items() if k.lower() in _TITLE_KEYS and v), None)
    if title is None and (heading := _MD_TITLE.search(text)):
        title = heading.group(1)
    yield file.document(text, title, metadata)


def _load_html(data: bytes, file: _File) -> Iterator[SourceDocument | LoadFailure]:
    lxml_html = _require("lxml.html", "lxml", "reading HTML files")
    from lxml import etree

    parser = lxml_html.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True)
    try:
        root = lxml_html.document_fromstring(_decode_html(data).encode("utf-8", "replace"), parser=parser)
    except (etree.ParserError, ValueError):  # an empty document
        yield file.document("", None, {})
        return
    if any("depth" in entry.message.lower() for entry in parser.error_log):
        yield file.failure(f"HTML nested more than {_HTML_MAX_DEPTH} levels deep: not a document legalrag reads")
        return
    title_tag = root.find(".//title")
    title = _joined_text(title_tag) if title_tag is not None else None
    body = root.find("body")
    text, heading = _html_text(body if body is not None else root)
    yield file.document(_BLANK_LINES.sub("\n\n", text).strip(), title or heading, {})


#: libxml2's HTML parser stops nesting here (deeper markup is an attack or a broken export)
_HTML_MAX_DEPTH = 256


def _joined_text(element: Any) -> str | None:
    parts = [s.strip() for s in element.itertext() if s.strip()]
    return " ".join(parts) or None


def _html_text(root: Any) -> tuple[str, str | None]:
    """The visible text of ``root`` in one pass (no recursion, no re-scans: linear in the markup): blocks
    on their own lines, headings as Markdown ``#`` lines (the structure parser reads them), table cells
    apart, whitespace collapsed outside ``pre``/``textarea``; and the first heading's text."""
    out: list[str] = []
    heading: str | None = None
    verbatim = 0  # open pre/textarea elements

    def add(text: str | None) -> None:
        if text:
            out.append(text if verbatim else _INLINE_SPACE.sub(" ", text.replace("\n", " ")))

    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        element, closing = stack.pop()
        tag = element.tag if isinstance(element.tag, str) else None
        if closing:
            if tag in _HTML_BLOCKS:
                out.append("\n")
            elif tag in ("td", "th"):
                out.append(" ")
            if tag in ("pre", "textarea"):
                verbatim -= 1
            add(element.tail)
            continue
        if tag is None or tag in _HTML_DROP:  # a comment, or markup that is not text: its tail still is
            add(element.tail)
            continue
        if tag == "br":
            out.append("\n")
        elif tag in _HTML_BLOCKS:
            out.append("\n")
            if tag[0] == "h" and tag[1:].isdigit():
                heading = heading or _joined_text(element)
                out.append("#" * int(tag[1:]) + " ")
        if tag in ("pre", "textarea"):
            verbatim += 1
        add(element.text)
        stack.append((element, True))
        stack.extend((child, False) for child in reversed(element))
    lines = (line.strip() for line in "".join(out).split("\n"))
    return "\n".join(lines), heading


def _decode_html(data: bytes) -> str:
    if declared := _META_CHARSET.search(data[:4096]):
        name = declared.group(1).decode("ascii").lower()
        try:
            return data.decode(_CHARSET_ALIASES.get(name, name))
        except (LookupError, UnicodeDecodeError):
            pass
    return decode_bytes(data).text


def _load_pdf(data: bytes, file: _File) -> Iterator[SourceDocument | LoadFailure]:
    pypdf = _require("pypdf", "pypdf", "reading PDF files")
    with _captured_log("pypdf") as messages:  # pypdf's own warnings would print raw lines mid-progress
        result = _read_pdf(pypdf, data, file)
    if isinstance(result, LoadFailure) and messages:
        result = file.failure(f"{result.reason}; pypdf: {'; '.join(dict.fromkeys(messages))[:500]}")
    yield result


@contextlib.contextmanager
def _captured_log(name: str) -> Iterator[list[str]]:
    """The messages logger ``name`` emits inside the block, kept from the terminal and returned."""
    logger = logging.getLogger(name)
    messages: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(" ".join(record.getMessage().split()))

    handler, propagate = Collect(logging.WARNING), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield messages
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def _read_pdf(pypdf: Any, data: bytes, file: _File) -> SourceDocument | LoadFailure:
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        encrypted = reader.is_encrypted
    except Exception as exc:
        return file.failure(f"corrupt PDF ({type(exc).__name__}: {exc})")
    if encrypted:
        try:
            opened = bool(reader.decrypt(""))  # owner-password-only PDFs open with an empty password
        except Exception:
            opened = False
        if not opened:
            return file.failure("encrypted PDF (a password is needed): decrypt it first, e.g. qpdf --decrypt")
    try:
        pages = [(page.extract_text() or "").strip("\n") for page in reader.pages]
        title = reader.metadata.title if reader.metadata else None
    except Exception as exc:
        return file.failure(f"corrupt PDF ({type(exc).__name__}: {exc})")
    if not any(page.strip() for page in pages):
        return file.failure("PDF has no extractable text (scanned images?): run OCR first")
    return file.document("\n\n".join(pages), title if isinstance(title, str) else None, {"pages": len(pages)})


def _load_docx(data: bytes, file: _File) -> Iterator[SourceDocument | LoadFailure]:
    docx = _require("docx", "python-docx", "reading Word files")
    from docx.table import Table

    refused = _zip_bomb(data)
    if refused:
        yield file.failure(refused)
        return
    document = docx.Document(io.BytesIO(data))
    lines: list[str] = []
    title = document.core_properties.title or None
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            for row in item.rows:
                cells = [cell.text.strip() for cell in row.cells]
                lines.append(" | ".join(c for i, c in enumerate(cells) if c and (i == 0 or c != cells[i - 1])))
            continue
        style = (item.style.name if item.style is not None else "") or ""
        text = item.text
        if style == "Title" or style.startswith("Heading "):
            title = title or text.strip()
            level = int(style[8:]) if style[8:].isdigit() else 1
            text = "#" * min(level, 6) + " " + text.strip() if text.strip() else text
        lines.append(text)
    yield file.document("\n".join(lines), title, {})


#: a Word file may unpack to at most this many times its size (real ones: under 20), and to at most
#: :data:`MAX_DOCX_UNPACKED` bytes; python-docx reads each part whole, so a zip bomb would take the machine
MAX_DOCX_EXPANSION = 100
MAX_DOCX_UNPACKED = 512 << 20


def _zip_bomb(data: bytes) -> str | None:
    """Why a Word file's zip is refused before it is unpacked (declared sizes bound what zipfile inflates),
    or ``None``."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        return f"corrupt Word file (not a zip archive: {exc})"
    limit = min(MAX_DOCX_UNPACKED, max(len(data), 1 << 20) * MAX_DOCX_EXPANSION)
    if unpacked > limit:
        return (
            f"Word file unpacks to {unpacked:,} bytes, over {limit:,} ({MAX_DOCX_EXPANSION} times its size "
            "at most): refused as a zip bomb"
        )
    return None


def _load_json(data: bytes, file: _File) -> Iterator[SourceDocument | LoadFailure]:
    try:
        value = json.loads(decode_bytes(data).text.lstrip("\ufeff"))
    except json.JSONDecodeError as exc:
        yield file.failure(f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
        return
    records = _records(value, file.fields)
    if records is None:
        yield file.failure(
            f"no records: expected an object with '{file.fields.text}', a list of objects, "
            "or an object holding such a list"
        )
        return
    seen: set[str] = set()
    for index, record in enumerate(records):
        yield _record(record, index, file, seen)


def _load_jsonl(data: bytes, file: _File) -> Iterator[SourceDocument | LoadFailure]:
    seen: set[str] = set()
    index = 0
    # split on "\n" only: JSON strings may hold U+2028, which str.splitlines would cut
    for lineno, line in enumerate(decode_bytes(data).text.lstrip("\ufeff").split("\n"), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield file.failure(f"line {lineno}: invalid JSON ({exc.msg} at column {exc.colno})")
        else:
            yield _record(record, index, file, seen)
        index += 1


def _records(value: Any, fields: JsonFields) -> list[Any] | None:
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        if fields.text in value:
            return [value]
        for item in value.values():
            if isinstance(item, list) and item and all(isinstance(r, dict) for r in item):
                return item
    return None


def _record(record: Any, index: int, file: _File, seen: set[str]) -> SourceDocument | LoadFailure:
    if not isinstance(record, dict):
        return file.failure(f"record {index}: not a JSON object")
    fields = file.fields
    id_key = fields.id or next((k for k in _ID_KEYS if record.get(k) not in (None, "")), None)
    raw_id = record.get(id_key) if id_key else None
    ref = str(raw_id) if isinstance(raw_id, (str, int)) and str(raw_id).strip() else str(index)
    if ref in seen:  # two records with one id would overwrite each other's chunks
        base, n = ref, index
        ref = f"{base}~{n}"
        while ref in seen:  # an explicit id may already be "a~2"
            n += 1
            ref = f"{base}~{n}"
    seen.add(ref)
    body = record.get(fields.text)
    if not isinstance(body, str) or not body.strip():
        return file.failure(f"record {ref}: no text under key '{fields.text}'")
    title = record.get(fields.title)
    used = {fields.text, fields.title, id_key}
    if fields.metadata is not None:
        metadata = {k: record[k] for k in fields.metadata if k in record}
    else:
        metadata = {k: v for k, v in record.items() if k not in used and isinstance(v, (str, int, float, bool))}
    doc_id = f"{file.rel}#{ref}"
    return file.document(body, title if isinstance(title, str) else None, metadata, doc_id)


_LOADERS: dict[str, _Loader] = {
    ".txt": _load_text,
    ".md": _load_markdown,
    ".markdown": _load_markdown,
    ".html": _load_html,
    ".htm": _load_html,
    ".pdf": _load_pdf,
    ".docx": _load_docx,
    ".json": _load_json,
    ".jsonl": _load_jsonl,
}
#: file extensions :func:`iter_documents` reads
SUPPORTED_EXTENSIONS = tuple(_LOADERS)
