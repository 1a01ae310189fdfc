"""`hfm data fetch` against a local HTTP server on 127.0.0.1 serving copies of real catalogue files (seismic/peers:
the PhaseNetLight weights, 112 kB, and their settings): download and verify, checksum failure, a dropped connection
resumed with a Range request, the mirror preferred, and no network."""

from __future__ import annotations

import shutil
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from hfm.shared.catalogue import DataUnavailable, load_catalogue, locate
from hfm.shared.catalogue.download import ChecksumMismatch
from hfm.shared.catalogue.fetch import fetch, verify, where
from hfm.shared.hashing import sha256_file
from hfm.shared.sample_data import require_data

NAME = "seismic/peers"
WEIGHTS = "seismic/peers/phasenetlight_ethz.pt.v2"
SETTINGS = "seismic/peers/phasenetlight_ethz.json.v2"


class Server:
    """Serves `root` in the mirror's layout; records (path, Range header) of every GET; honours Range; can drop
    the connection halfway through the first GET of chosen paths."""

    def __init__(self, root: Path) -> None:
        self.root, self.requests, self.drop_once, self.drop_always = root, [], set(), set()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                relative = self.path.lstrip("/")
                server.requests.append((relative, self.headers.get("Range")))
                path = server.root / relative
                if not path.is_file():
                    self.send_error(404)
                    return
                body = path.read_bytes()
                start = 0
                if (wanted := self.headers.get("Range")) and wanted.startswith("bytes="):
                    start = int(wanted[6:].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                if relative in server.drop_once | server.drop_always:
                    server.drop_once.discard(relative)
                    self.wfile.write(body[start : start + (len(body) - start) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)  # the client sees a broken, short body
                    self.close_connection = True
                    return
                self.wfile.write(body[start:])

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A server holding copies of seismic/peers, an empty mirror and an empty cache."""
    try:
        source = require_data(NAME)
    except DataUnavailable as error:
        pytest.skip(str(error))
    root = tmp_path / "served"
    shutil.copytree(source, root / NAME)
    empty_mirror = tmp_path / "mirror"
    empty_mirror.mkdir()
    monkeypatch.setenv("HFM_SHARED_DATA", str(empty_mirror))
    monkeypatch.setenv("HFM_DATA", str(tmp_path / "cache"))
    with Server(root) as server:
        monkeypatch.setenv("HFM_DATA_URL", server.url)
        yield server, tmp_path / "cache"


def test_fetch_downloads_verifies_and_is_then_found(served) -> None:
    server, cache = served
    with pytest.raises(DataUnavailable, match="`hfm data fetch seismic/peers`"):
        require_data(NAME)
    report = fetch(NAME, progress=False)
    assert sorted(report.downloaded) == [SETTINGS, WEIGHTS]
    assert report.location == cache / NAME == where(NAME) == require_data(NAME)
    catalogued = {f.path: f.sha256 for f in load_catalogue().datasets[NAME].files}
    assert sha256_file(cache / WEIGHTS) == catalogued[WEIGHTS]
    assert verify(NAME) == (2, [])
    assert not list(cache.rglob("*.part"))
    # A second fetch finds both files cached and verified: no request reaches the server.
    seen = len(server.requests)
    again = fetch(NAME, progress=False)
    assert (again.cached, again.downloaded, len(server.requests)) == (2, [], seen)


def test_a_wrong_download_is_an_error_naming_the_file_and_is_kept_in_quarantine(served) -> None:
    server, cache = served
    damaged = server.root / SETTINGS
    damaged.write_bytes(damaged.read_bytes().replace(b"PSN", b"PSX"))
    with pytest.raises(ChecksumMismatch, match=r"seismic/peers/phasenetlight_ethz\.json\.v2: sha256 [0-9a-f]{64} is"):
        fetch(NAME, progress=False)
    assert not (cache / SETTINGS).exists()
    kept = cache / "quarantine" / SETTINGS
    assert kept.read_bytes() == damaged.read_bytes()


def test_a_damaged_cached_file_is_an_error_never_a_silent_download(served) -> None:
    server, cache = served
    fetch(NAME, progress=False)
    (cache / WEIGHTS).write_bytes(b"not the weights")
    _, problems = verify(NAME)
    assert len(problems) == 1 and problems[0].startswith(f"{cache / WEIGHTS}: 15 bytes")
    seen = len(server.requests)
    with pytest.raises(ChecksumMismatch, match=r"phasenetlight_ethz\.pt\.v2: sha256 .* moved to"):
        fetch(NAME, progress=False)
    assert len(server.requests) == seen  # nothing downloaded behind the user's back
    assert (cache / "quarantine" / WEIGHTS).read_bytes() == b"not the weights"
    # Asked again, the user gets a fresh, verified copy.
    assert fetch(NAME, progress=False).downloaded == [WEIGHTS]
    assert verify(NAME) == (2, [])


def test_a_dropped_connection_is_resumed_with_a_range_request(served) -> None:
    server, _ = served
    server.drop_once.add(WEIGHTS)
    report = fetch(NAME, progress=False)
    assert WEIGHTS in report.downloaded
    asked = [header for path, header in server.requests if path == WEIGHTS]
    size = (server.root / WEIGHTS).stat().st_size
    assert asked[0] is None and len(asked) == 2
    resumed_at = int(asked[1].removeprefix("bytes=").rstrip("-"))
    assert 0 < resumed_at <= size // 2  # only the missing tail was asked for
    assert verify(NAME) == (2, [])


def test_a_fetch_that_keeps_failing_is_resumed_by_the_next_one(served) -> None:
    server, cache = served
    server.drop_always.add(WEIGHTS)
    part = cache / (WEIGHTS + ".part")
    with pytest.raises(DataUnavailable, match=r"pt\.v2: the connection to 127\.0\.0\.1:\d+ dropped 3 times; \d+ bytes"):
        fetch(NAME, progress=False)
    kept = part.stat().st_size
    assert 0 < kept < (server.root / WEIGHTS).stat().st_size and not (cache / WEIGHTS).exists()
    server.drop_always.clear()
    assert fetch(NAME, progress=False).downloaded == [WEIGHTS]
    assert [h for p, h in server.requests if p == WEIGHTS][-1] == f"bytes={kept}-"
    assert verify(NAME) == (2, []) and not part.exists()


def test_the_mirror_is_preferred_and_nothing_is_downloaded(served, tmp_path: Path, monkeypatch) -> None:
    server, cache = served
    mirror = tmp_path / "full-mirror"
    shutil.copytree(server.root, mirror)
    monkeypatch.setenv("HFM_SHARED_DATA", str(mirror))
    report = fetch(NAME, progress=False)
    assert (report.in_mirror, report.downloaded, report.location) == (2, [], mirror / NAME)
    assert server.requests == []
    assert require_data(WEIGHTS) == mirror / WEIGHTS == locate(WEIGHTS)
    assert not cache.exists()


def test_no_network_is_one_clear_line(served, monkeypatch, capsys) -> None:
    from hfm.shared.cli.main import run

    with socket.socket() as probe:  # a port nobody listens on: connection refused, as offline
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    monkeypatch.setenv("HFM_DATA_URL", f"http://127.0.0.1:{closed}")
    one_line = rf"^seismic/peers/\S+: cannot reach 127\.0\.0\.1:{closed} \(.*no network\?\)$"
    with pytest.raises(DataUnavailable, match=one_line):
        fetch(NAME, progress=False)
    with pytest.raises(SystemExit) as exit_code:
        run(["data", "fetch", "--quiet", NAME])
    assert exit_code.value.code == 1
    message = capsys.readouterr().err.strip()
    assert "cannot reach 127.0.0.1" in message and "Traceback" not in message


def test_a_git_lfs_pointer_is_followed_to_the_content(served, monkeypatch) -> None:
    """GitHub's raw URL of an LFS-tracked file gives its pointer: the content is fetched from the media URL."""
    from hfm.shared.catalogue import download

    server, _ = served
    assert download.lfs_media_url("https://raw.githubusercontent.com/o/r/" + "0" * 40 + "/a/b.h5") == (
        "https://media.githubusercontent.com/media/o/r/" + "0" * 40 + "/a/b.h5"
    )
    assert download.lfs_media_url("https://example.org/a/b.h5") is None
    pointer = b"version https://git-lfs.github.com/spec/v1\noid sha256:0\nsize 1\n"
    real = server.root / SETTINGS
    (server.root / "media" / SETTINGS).parent.mkdir(parents=True)
    shutil.copy(real, server.root / "media" / SETTINGS)
    real.write_bytes(pointer)
    with pytest.raises(ChecksumMismatch, match=r"json\.v2: a Git LFS pointer, not the file"):
        fetch(NAME, progress=False)  # not a GitHub raw URL: no media URL to follow, and the error says why
    monkeypatch.setattr(download, "RAW_PREFIX", server.url + "/")
    monkeypatch.setattr(download, "MEDIA_PREFIX", server.url + "/media/")
    fetch(NAME, progress=False)
    assert ("media/" + SETTINGS, None) in server.requests
    assert verify(NAME) == (2, [])
