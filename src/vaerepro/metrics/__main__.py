"""Entry point of ``python -m vaerepro.metrics`` (see :mod:`vaerepro.metrics.cli`)."""

from vaerepro.metrics.cli import main

raise SystemExit(main())
