"""The per-process warm-up of the stages."""

from __future__ import annotations

import gc

from services.pipeline.analyze import warm


def test_warm_leaves_what_it_loaded_out_of_full_collections() -> None:
    gc.unfreeze()
    warm()

    # The collector now walks far fewer objects than the process holds.
    assert gc.get_freeze_count() > 2 * len(gc.get_objects())
