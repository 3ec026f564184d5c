"""HTTP(S) download with a progress bar, retries and atomic placement.

The file is streamed to ``<name>.part``; only after the whole body arrived and its
checksum matched is it renamed to its final name. A failed checksum moves the file aside
(``<name>.rejected-<sha>``) so it is kept for inspection but never used.
"""

from __future__ import annotations

import errno
import http.client
import os
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from vaerepro.data.errors import DatasetError, NoNetwork
from vaerepro.data.integrity import CHUNK_BYTES, verify_file

USER_AGENT = "vaerepro-dataset-fetcher/0.1 (+research reproduction)"


UNREACHABLE_ERRNOS = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ECONNREFUSED}


def _is_network_unreachable(error: BaseException) -> bool:
    """True when the host cannot be reached at all (no DNS, no route, refused).

    Such a failure will not heal within seconds, so the URL is not retried; a reset or a
    timeout mid-transfer is retried.
    """
    if isinstance(error, urllib.error.HTTPError):
        return False
    reason = error.reason if isinstance(error, urllib.error.URLError) else error
    return isinstance(reason, socket.gaierror | ConnectionRefusedError) or (
        isinstance(reason, OSError) and reason.errno in UNREACHABLE_ERRNOS
    )


def _stream_to(url: str, partial: Path, timeout_seconds: float, description: str) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    with urllib.request.urlopen(request, timeout=timeout_seconds) as response, open(partial, "wb") as handle:
        total = response.headers.get("Content-Length")
        expected = int(total) if total and total.isdigit() else None
        received = 0
        with tqdm(total=expected, unit="B", unit_scale=True, desc=description, leave=False) as progress:
            while chunk := response.read(CHUNK_BYTES):
                handle.write(chunk)
                received += len(chunk)
                progress.update(len(chunk))
        if expected is not None and received != expected:
            raise urllib.error.ContentTooShortError(f"received {received} of {expected} bytes from {url}", None)


def download_file(
    urls: tuple[str, ...],
    destination: Path,
    *,
    sha256: str | None,
    md5: str | None,
    attempts_per_url: int = 3,
    timeout_seconds: float = 60.0,
    backoff_seconds: float = 2.0,
) -> dict[str, str]:
    """Download ``destination.name`` from the first URL that works and verify it.

    Args:
        urls: mirrors, tried in order; each gets ``attempts_per_url`` tries with backoff.
        destination: final path; written only after verification.
        sha256, md5: expected digests (at least one should be given).

    Returns:
        The verified file's digests.

    Raises:
        NoNetwork: no URL could be reached at all (the message points to ``local_copy``).
        DatasetError: the hosts answered but no complete file could be obtained.
        ChecksumMismatch: the file arrived but its bytes are wrong (moved aside).
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".part")
    failures: list[str] = []
    unreachable = 0
    for url in urls:
        for attempt in range(1, attempts_per_url + 1):
            try:
                _stream_to(url, partial, timeout_seconds, destination.name)
            except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as error:
                partial.unlink(missing_ok=True)
                failures.append(f"{url} (attempt {attempt}): {error}")
                if _is_network_unreachable(error):
                    unreachable += 1
                    break  # a DNS failure or refused connection will not heal in seconds
                time.sleep(backoff_seconds * attempt)
                continue
            digests = verify_file(partial, sha256=sha256, md5=md5, display_name=f"{destination.name} from {url}")
            os.replace(partial, destination)
            return digests
    if failures and unreachable == len(urls):
        raise NoNetwork(
            f"cannot reach any download host for {destination.name} ({'; '.join(failures)}). "
            "No network? Point the pipeline at a copy you already have: set `local_copy` in "
            "params.yaml to a directory with one folder per dataset (see README, 'Local copies')."
        )
    raise DatasetError(f"could not download {destination.name}: " + "; ".join(failures))
