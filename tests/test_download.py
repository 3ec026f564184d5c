"""Downloads: progress to a .part file, verified, never a partial file under the final name."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator

import pytest

from tests.dataset_fixtures import md5, sha256
from vaerepro.data.download import download_file
from vaerepro.data.errors import ChecksumMismatch, DatasetError, NoNetwork

PAYLOAD = bytes(range(256)) * 64


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server API
        if self.path == "/truncated":
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD[: len(PAYLOAD) // 3])  # then close: an interrupted transfer
            self.wfile.flush()
            self.close_connection = True
            return
        if self.path == "/missing":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        self.wfile.write(PAYLOAD)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_download_verifies_and_places_file(server, tmp_path):
    target = tmp_path / "file.bin"
    digests = download_file((f"{server}/file",), target, sha256=sha256(PAYLOAD), md5=md5(PAYLOAD))
    assert target.read_bytes() == PAYLOAD
    assert digests["md5"] == md5(PAYLOAD)
    assert not list(tmp_path.glob("*.part"))


def test_checksum_mismatch_moves_file_aside_and_shows_both_hashes(server, tmp_path):
    target = tmp_path / "file.bin"
    wrong = "0" * 64
    with pytest.raises(ChecksumMismatch) as caught:
        download_file((f"{server}/file",), target, sha256=wrong, md5=None)
    message = str(caught.value)
    assert wrong in message and sha256(PAYLOAD) in message
    assert not target.exists()
    rejected = list(tmp_path.glob("file.bin*rejected*"))
    assert len(rejected) == 1 and rejected[0].read_bytes() == PAYLOAD


def test_interrupted_download_leaves_no_file(server, tmp_path):
    target = tmp_path / "file.bin"
    with pytest.raises(DatasetError, match="file.bin"):
        download_file(
            (f"{server}/truncated",), target, sha256=sha256(PAYLOAD), md5=None, attempts_per_url=2, backoff_seconds=0
        )
    assert list(tmp_path.iterdir()) == []


def test_falls_back_to_next_mirror(server, tmp_path):
    target = tmp_path / "file.bin"
    download_file(
        (f"{server}/missing", f"{server}/file"),
        target,
        sha256=sha256(PAYLOAD),
        md5=None,
        attempts_per_url=1,
        backoff_seconds=0,
    )
    assert target.read_bytes() == PAYLOAD


def test_no_network_points_to_local_copy(tmp_path):
    target = tmp_path / "file.bin"
    with pytest.raises(NoNetwork, match="local_copy"):
        download_file(
            (f"http://127.0.0.1:{free_port()}/file",),
            target,
            sha256=None,
            md5=None,
            attempts_per_url=2,
            backoff_seconds=0,
            timeout_seconds=2,
        )
    assert list(tmp_path.iterdir()) == []
