"""Tasks in parallel processes: results in order, progress counted, errors raised."""

from __future__ import annotations

import math

import pytest

from calibration.process_pool import run_tasks, tick


@pytest.mark.parametrize("workers", [1, 2])
def test_results_in_task_order_and_every_tick_counted(workers):
    ticks, seen = [], []
    tasks = {f"t{i}": (tick, (i,)) for i in (4, 1, 3, 2)}
    results = run_tasks(tasks, workers=workers, progress=ticks.append,
                        on_result=lambda key, result: seen.append(key))
    assert list(results) == ["t4", "t1", "t3", "t2"]
    assert sum(ticks) == 10 and sorted(seen) == sorted(tasks)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failing_task_raises_its_own_error(workers):
    tasks = {"ok": (math.sqrt, (4.0,)), "bad": (math.sqrt, (-1.0,))}
    with pytest.raises(ValueError, match="math domain error"):
        run_tasks(tasks, workers=workers)
