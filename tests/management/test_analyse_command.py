"""`manage.py analyse` fills the shared cache of the new run as the analysis task does (the
registered warmers), unless `--no-warm`; its last line stays the analysis summary."""

from __future__ import annotations

import io

from django.core.management import call_command

from identities.models import AnalysisRun
from identities.queries import access
from identities.queries.shared_cache import has_rows


def _analyse(*args: str) -> list[str]:
    out = io.StringIO()
    call_command("analyse", "--now", "2026-11-28", *args, stdout=out)
    return out.getvalue().splitlines()


def _summary_line() -> str:
    run = AnalysisRun.objects.order_by("-id").first()
    assert run is not None
    return (
        "67 access edges from 18 access groups, 9 administrators, 7 principals that can reach "
        f"one, 5 findings (analysis #{run.pk})"
    )


def test_analyse_warms_the_shared_cache_of_the_new_run(imported_sample):
    lines = _analyse()

    assert [line.split(" ", 1)[0] for line in lines] == ["Stages:", "Warmed", "Analysed"]
    assert lines[1].startswith("Warmed the shared cache in ")
    assert "api-lists " in lines[1]
    assert "account-matrix " in lines[1]
    assert lines[-1].endswith(_summary_line())
    assert has_rows("api:direct-sources:None")
    assert has_rows("api:transitive:None")


def test_analyse_no_warm_leaves_the_shared_cache_empty(imported_sample):
    access._cache.update(run=None, values={})

    lines = _analyse("--no-warm")

    assert [line.split(" ", 1)[0] for line in lines] == ["Stages:", "Analysed"]
    assert lines[-1].endswith(_summary_line())
    assert not has_rows("api:direct-sources:None")
    assert not has_rows("api:transitive:None")
