"""The bundled sample organisation (data only): four accounts of "acme"; see README.md here."""

from __future__ import annotations

import logging
from pathlib import Path

logger = logging.getLogger(__name__)

SAMPLE_BUNDLE_PATH = Path(__file__).resolve().parent / "sample-org.json"
