"""The Qdrant API key never shows: not in CLI output (human or --json), logs at DEBUG, errors or reprs.

The CLI runs as a real subprocess against loopback endpoints that fail in different ways (nothing
listening, 503 everywhere, 401), with the key given by environment variable, by flag and by file,
and ``LEGALRAG_LOG_LEVEL=DEBUG``; everything it prints is searched for the key.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from legalrag.plugin.errors import ConfigError, StoreError
from legalrag.plugin.settings import Settings
from legalrag.plugin.store import open_store
from tests.helpers.fake_qdrant import COLLECTION, FakeQdrant, closed_port, fake_qdrant

pytestmark = [
    pytest.mark.filterwarnings("ignore:Failed to obtain server version:UserWarning"),
    pytest.mark.filterwarnings("ignore:Api key is used with an insecure connection:UserWarning"),
]

KEY = "lrg-SECRET-7c1d9e4fa2b8-do-not-print"
EXE = str(Path(sys.executable).with_name("legalrag"))


@pytest.fixture()
def server() -> Iterator[FakeQdrant]:
    with fake_qdrant() as fake:
        yield fake


def run_cli(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LEGALRAG_")},
        "LEGALRAG_LOG_LEVEL": "DEBUG",
        "LEGALRAG_QDRANT_RETRY_SECONDS": "0.5",
        "LEGALRAG_QDRANT_TIMEOUT": "2",
        "HF_HUB_OFFLINE": "1",
        **env,
    }
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=60, env=environment)


def assert_no_key(proc: subprocess.CompletedProcess[str]) -> None:
    output = proc.stdout + proc.stderr
    assert KEY not in output, output
    assert KEY[4:20] not in output  # not even a part of it


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "human"])
def test_key_from_environment_never_printed(server: FakeQdrant, as_json: bool) -> None:
    server.fail("*", times=1000, status=503)
    flags = ["--json"] if as_json else []
    search = run_cli(
        ["search", "consent", "-c", COLLECTION, "--qdrant-url", server.url, *flags],
        LEGALRAG_QDRANT_API_KEY=KEY,
    )
    assert search.returncode == 1, search.stderr
    # it failed, and logging was on: the transport's requests and our retries were logged
    assert "HTTP Request" in search.stderr and "DEBUG legalrag.plugin.store.retry" in search.stderr
    assert_no_key(search)
    listing = run_cli(["collections", "--qdrant-url", server.url, *flags], LEGALRAG_QDRANT_API_KEY=KEY)
    assert listing.returncode == 1
    assert_no_key(listing)
    assert server.api_keys == {KEY}  # the key did travel, in its header


def test_key_from_flag_never_printed() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    search = run_cli(["search", "consent", "-c", COLLECTION, "--qdrant-url", url, "--qdrant-api-key", KEY, "--json"])
    assert search.returncode == 1 and "Connection refused" in search.stdout
    assert_no_key(search)
    listing = run_cli(["collections", "--qdrant-url", url, "--qdrant-api-key", KEY])
    assert listing.returncode == 1
    assert_no_key(listing)


def test_key_from_file_never_printed(server: FakeQdrant, tmp_path: Path) -> None:
    key_file = tmp_path / "qdrant_api_key"
    key_file.write_text(KEY + "\n", encoding="utf-8")
    server.fail("*", times=1000, status=401)
    proc = run_cli(["collections", "--qdrant-url", server.url, "--json"], LEGALRAG_QDRANT_API_KEY_FILE=str(key_file))
    assert proc.returncode == 2 and "refused the credentials" in proc.stdout  # a wrong key is bad config
    assert_no_key(proc)
    assert server.api_keys == {KEY}  # read from the file, stripped of its newline


def test_both_key_and_file_is_refused_without_echoing_the_key(tmp_path: Path) -> None:
    key_file = tmp_path / "k"
    key_file.write_text("other", encoding="utf-8")
    proc = run_cli(
        ["collections", "--qdrant-url", "http://127.0.0.1:9", "--json"],
        LEGALRAG_QDRANT_API_KEY=KEY,
        LEGALRAG_QDRANT_API_KEY_FILE=str(key_file),
    )
    assert proc.returncode == 2 and "qdrant_api_key_file" in proc.stdout
    assert_no_key(proc)
    with pytest.raises(Exception) as err:
        Settings(qdrant_url="http://x", qdrant_api_key=KEY, qdrant_api_key_file=key_file)  # type: ignore[arg-type]
    assert KEY not in str(err.value) and KEY not in repr(err.value)


def test_missing_key_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read qdrant_api_key_file"):
        Settings(qdrant_url="http://x", qdrant_api_key_file=tmp_path / "absent")


def test_reprs_errors_and_debug_logs_hold_no_key(
    server: FakeQdrant, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(KEY, encoding="utf-8")
    for settings in (
        Settings(qdrant_url=server.url, qdrant_api_key=KEY, qdrant_retry_seconds=0.3),  # type: ignore[arg-type]
        Settings(qdrant_url=server.url, qdrant_api_key_file=key_file, qdrant_retry_seconds=0.3),
    ):
        assert KEY not in repr(settings) and KEY not in str(settings)
        assert KEY not in settings.model_dump_json()
        assert settings.resolved_api_key is not None and settings.resolved_api_key.get_secret_value() == KEY
        store = open_store(settings)
        assert KEY not in repr(store)
        with caplog.at_level(logging.DEBUG):  # third-party loggers included: httpx, httpcore
            assert store.count(COLLECTION) == 0
            server.fail("*", times=1000, status=503)
            with pytest.raises(StoreError) as err:
                store.list_collections()
            server.faults.clear()
        assert KEY not in str(err.value) and KEY not in repr(err.value)
        assert KEY not in caplog.text
        assert "HTTP Request" in caplog.text  # the transport did log at DEBUG/INFO
        store.close()
        caplog.clear()
    server.fail("*", times=1000, status=403)
    store = open_store(Settings(qdrant_url=server.url, qdrant_api_key=KEY))  # type: ignore[arg-type]
    with pytest.raises(ConfigError) as denied:
        store.list_collections()
    assert KEY not in str(denied.value)
    store.close()


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r", "  "], ids=["lf", "crlf", "cr", "spaces"])
def test_a_key_with_a_line_break_is_sent_clean_and_never_printed(server: FakeQdrant, ending: str) -> None:
    listing = run_cli(["collections", "--qdrant-url", server.url, "--json"], LEGALRAG_QDRANT_API_KEY=KEY + ending)
    assert listing.returncode == 0, listing.stdout + listing.stderr
    assert server.api_keys == {KEY}  # stripped, not refused by the HTTP library with the value echoed
    assert_no_key(listing)


def test_a_key_with_a_control_character_inside_is_refused_without_echoing_it() -> None:
    refused = run_cli(
        ["collections", "--qdrant-url", "http://127.0.0.1:1", "--json"], LEGALRAG_QDRANT_API_KEY="ab\ncd" + KEY
    )
    assert refused.returncode == 2 and "control character" in refused.stdout
    assert "cd" + KEY[:8] not in refused.stdout + refused.stderr


def test_echoed_forms_of_the_key_are_redacted() -> None:
    import base64
    import json
    from urllib.parse import quote

    from legalrag.plugin.redact import redact, register_secret

    key = "Zq8+/w=kEy-7c1d9e4fa2b8"
    register_secret(key + "\n")
    echoes = [key, key.upper(), json.dumps({"k": key}), quote(key, safe=""), base64.b64encode(key.encode()).decode()]
    echoes += [f"invalid key {key[:12]}…", f"{key}-and-more", f"https://u:{key}@host/x"]
    for echo in echoes:
        shown = redact(echo)
        assert key[:8].lower() not in shown.lower() and "***" in shown, (echo, shown)
    assert redact(f"https://u:{key}@host/x") == "https://u:***@host/x"
    assert redact("nothing secret here") == "nothing secret here"
