"""Stage scripts turn expected errors into a message and exit 1, and keep tracebacks for bugs."""

from __future__ import annotations

import pytest

from vaerepro.cli_errors import reported_errors
from vaerepro.data.errors import ChecksumMismatch
from vaerepro.structured import ConfigError


@pytest.mark.parametrize("error", [ConfigError("unknown key 'x'"), ChecksumMismatch("f", "md5", "a", "b", None)])
def test_expected_errors_become_a_message(error, capsys):
    with pytest.raises(SystemExit) as caught, reported_errors("stage@x"):
        raise error
    assert caught.value.code == 1
    assert "stage@x failed" in capsys.readouterr().err


def test_unexpected_errors_keep_their_traceback():
    with pytest.raises(ZeroDivisionError), reported_errors("stage@x"):
        1 / 0  # noqa: B018


def test_training_errors_are_recognised_by_name(capsys):
    from vaerepro.training import CheckpointMismatchError

    with pytest.raises(SystemExit), reported_errors("train@x"):
        raise CheckpointMismatchError("checkpoint is of model 'cvae', this run is 'vae'")
    assert "cvae" in capsys.readouterr().err
