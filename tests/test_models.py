"""Model management: locate, pull (against a local HTTP server), install, the CLI."""
from __future__ import annotations

import hashlib
import json
import zipfile

import pytest
from click.testing import CliRunner

from assistant.asr import models
from assistant.asr.models import install_archive, installed_models, locate_model, pull
from assistant.cli import cli
from assistant.errors import ModelDownloadError, ModelNotFoundError
from assistant.testing import MODEL_NAME, listing_for, model_zip
from assistant.testing import ModelServer as Server

NAME = MODEL_NAME


@pytest.fixture
def served(tmp_path):
    data = model_zip()
    server = Server({f"{NAME}.zip": data}, [])
    server.files["model-list.json"] = json.dumps(listing_for(data, server.url)).encode()
    yield server, data
    server.close()


def test_pull_downloads_checks_and_unpacks(served, tmp_path):
    server, data = served
    seen: list[tuple[int, int]] = []
    path = pull("zh", tmp_path / "models", url=server.url, progress=lambda d, t: seen.append((d, t)))
    assert path == tmp_path / "models" / NAME
    assert (path / "am" / "final.mdl").is_file()
    assert seen[-1] == (len(data), len(data))
    assert all(a[0] <= b[0] for a, b in zip(seen, seen[1:]))  # progress only goes forward
    manifest = json.loads((path / models.MANIFEST).read_text())
    assert manifest["sha256"] == hashlib.sha256(data).hexdigest() and manifest["lang"] == "zh"
    assert not list((tmp_path / "models").glob("*.zip*"))  # archive removed once unpacked
    assert [m.name for m in installed_models(tmp_path / "models")] == [NAME]
    again = len(server.requests)
    assert pull("zh", tmp_path / "models", url=server.url) == path
    assert [r for r in server.requests[again:] if r[0].endswith(".zip")] == []  # installed: not fetched again


def test_an_interrupted_download_resumes_where_it_stopped(served, tmp_path):
    server, data = served
    server.cut_first = len(data) // 3
    path = pull("zh", tmp_path, url=server.url, retries=1)
    zips = [r for r in server.requests if r[0].endswith(".zip")]
    assert zips[0] == (f"{NAME}.zip", None)
    assert zips[1] == (f"{NAME}.zip", f"bytes={len(data) // 3}-")
    assert (path / "am" / "final.mdl").read_bytes() == bytes(range(256)) * (300_000 // 256)


def test_a_failed_download_keeps_its_bytes_for_the_next_run(served, tmp_path):
    server, data = served
    server.cut_first = 1000
    with pytest.raises(ModelDownloadError, match="run the same command again to resume"):
        pull("zh", tmp_path, url=server.url, retries=0)
    assert (tmp_path / f"{NAME}.zip.part").stat().st_size == 1000
    pull("zh", tmp_path, url=server.url, retries=0)
    assert [r[1] for r in server.requests if r[0].endswith(".zip")][-1] == "bytes=1000-"


def test_a_checksum_mismatch_is_refused_and_the_file_removed(tmp_path):
    data = model_zip()
    server = Server({f"{NAME}.zip": data}, [])
    server.files["model-list.json"] = json.dumps(listing_for(data, server.url, md5="f" * 32)).encode()
    try:
        with pytest.raises(ModelDownloadError, match="MD5"):
            pull("zh", tmp_path, url=server.url)
    finally:
        server.close()
    assert not list(tmp_path.glob(f"{NAME}*"))


def test_a_size_mismatch_is_refused(tmp_path):
    data = model_zip()
    server = Server({f"{NAME}.zip": data}, [])
    server.files["model-list.json"] = json.dumps(listing_for(data, server.url, size=len(data) + 10)).encode()
    try:
        with pytest.raises(ModelDownloadError, match="bytes"):
            pull("zh", tmp_path, url=server.url, retries=0)
    finally:
        server.close()


def test_an_archive_escaping_its_folder_is_refused(tmp_path):
    evil = tmp_path / "evil.zip"
    evil.write_bytes(model_zip(evil=True))
    with pytest.raises(ModelDownloadError, match="outside"):
        install_archive(evil, tmp_path / "models")
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path.parent / "escaped.txt").exists()


def test_a_zip_without_a_model_and_a_non_zip_are_refused(tmp_path):
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as z:
        z.writestr("readme.txt", "hi")
    with pytest.raises(ModelDownloadError, match="does not contain a Vosk model"):
        install_archive(empty, tmp_path / "models")
    junk = tmp_path / "junk.zip"
    junk.write_text("<html>proxy login</html>")
    with pytest.raises(ModelDownloadError, match="not a zip"):
        install_archive(junk, tmp_path / "models")
    assert installed_models(tmp_path / "models") == []


def test_unknown_names_and_unreachable_servers_say_what_to_do(served, tmp_path):
    server, _ = served
    with pytest.raises(ModelDownloadError, match="zh, zh-large, en, en-large"):
        pull("klingon", tmp_path, url=server.url)
    with pytest.raises(ModelDownloadError, match="models install FILE.zip"):
        pull("zh", tmp_path, url="http://127.0.0.1:9/", timeout=2)


def test_locate_prefers_the_flag_then_the_environment_then_the_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("CALLASSIST_MODEL", raising=False)
    root = tmp_path / "cache"
    with pytest.raises(ModelNotFoundError, match="callassist models pull zh"):
        locate_model(None, "zh", root)
    (tmp_path / "m.zip").write_bytes(model_zip())
    small = install_archive(tmp_path / "m.zip", root)
    (tmp_path / "l.zip").write_bytes(model_zip("vosk-model-cn-0.22"))
    large = install_archive(tmp_path / "l.zip", root)
    assert locate_model(None, "zh", root) == large  # the large one when both are there
    assert locate_model("zh", "zh", root) == small  # an alias names one
    assert locate_model(NAME, "en", root) == small
    with pytest.raises(ModelNotFoundError, match="callassist models pull en"):
        locate_model(None, "en", root)
    monkeypatch.setenv("CALLASSIST_MODEL", str(small))
    assert locate_model(None, "zh", root) == small
    assert locate_model(str(large), "zh", root) == large.resolve()
    with pytest.raises(ModelNotFoundError, match="pull en-large"):
        locate_model("en-large", "en", root)


def test_cli_pull_list_path_and_install(served, tmp_path, monkeypatch):
    server, data = served
    monkeypatch.setenv("CALLASSIST_MODELS", str(tmp_path / "cache"))
    monkeypatch.setenv("CALLASSIST_MODEL_URL", server.url)
    monkeypatch.delenv("CALLASSIST_MODEL", raising=False)
    runner = CliRunner()
    res = runner.invoke(cli, ["models", "list"])
    assert res.exit_code == 0 and "(none)" in res.output
    res = runner.invoke(cli, ["models", "path"])
    assert res.exit_code == 2 and "callassist models pull zh" in res.output
    res = runner.invoke(cli, ["models", "pull", "zh"])
    assert res.exit_code == 0, res.output
    assert "ready:" in res.output and "downloading zh" in res.output
    res = runner.invoke(cli, ["models", "list"])
    assert NAME in res.output and "installed" in res.output
    res = runner.invoke(cli, ["models", "path", "--lang", "zh"])
    assert res.output.strip().endswith(NAME)
    (tmp_path / "en.zip").write_bytes(model_zip("vosk-model-small-en-us-0.15"))
    res = runner.invoke(cli, ["models", "install", str(tmp_path / "en.zip")])
    assert res.exit_code == 0 and res.output.strip().endswith("vosk-model-small-en-us-0.15")
    assert runner.invoke(cli, ["models", "path", "--lang", "en"]).output.strip().endswith("vosk-model-small-en-us-0.15")
    res = runner.invoke(cli, ["models", "pull", "nosuch"])
    assert res.exit_code == 2 and "no model named" in res.output


def test_default_cache_dir_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("CALLASSIST_MODELS", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert models.models_dir() == tmp_path / "callassist" / "models"
    monkeypatch.setenv("CALLASSIST_MODELS", str(tmp_path / "x"))
    assert models.models_dir() == tmp_path / "x"


def test_model_language_comes_from_the_manifest_or_the_name(tmp_path):
    (tmp_path / "m.zip").write_bytes(model_zip("vosk-model-small-en-us-0.15"))
    assert models.model_language(install_archive(tmp_path / "m.zip", tmp_path / "c")) == "en"
    odd = tmp_path / "my-model"
    (odd / "am").mkdir(parents=True)
    assert models.model_language(odd) is None
