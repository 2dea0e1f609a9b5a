"""One compiled objective for a sweep of ``stylize`` runs.

Taught in notebooks/04_optimizing_pixels (retracing) and used by every lecture's sweeps.

Tracing the objective and its gradient, and TensorFlow's graph optimization at the first call,
cost about a second per run at any image size on a CPU (more for VGG19 on a GPU), which is most
of a small run's time: a lecture's grid of 20 runs spent half its time compiling. A run of the
same shape needs no new graph: its targets and weights are *values*, held in variables by
``objective.make_objective``. So an extractor keeps the objectives it compiled, keyed by
everything that shapes the graph (image shape, layers and target shapes, layer weights, TV kind,
XLA, the colour transform); the next run with the same key assigns its targets and weights
(``retarget``) and reuses the graph, and ``loops.run_adam`` reuses the Adam step built on it
(its variables reset, so the run is the run a fresh step would make, bit for bit). A run
that starts while another one uses the same entry (a callback that stylizes) gets a new one.

The cache lives on the extractor (``extractor.compiled_steps``) and goes away with it;
``extractor.compiled_steps.clear()`` frees it earlier. It keeps the ``MAX_ENTRIES`` most recently
used shapes.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict

MAX_ENTRIES = 4


class StepCache:
    """The compiled objectives of one extractor, most recently used last."""

    def __init__(self, max_entries: int = MAX_ENTRIES):
        self.max_entries = max_entries
        self._entries: OrderedDict = OrderedDict()
        self._busy: set = set()
        self.hits = 0  # runs that reused a compiled objective (tests, curiosity)

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        """Forget every compiled objective (and start counting hits again)."""
        self._entries.clear()
        self.hits = 0

    @contextlib.contextmanager
    def objective(self, key, build, **targets):
        """Yield an objective for ``key``: the cached one with ``targets`` assigned, or
        ``build()``'s (kept for the next run unless ``key`` is None). ``targets``: the keyword
        arguments of ``retarget`` (content/style targets and the three weights)."""
        cached = self._entries.get(key) if key is not None else None
        if cached is not None and key not in self._busy:
            self._entries.move_to_end(key)
            cached.retarget(**targets)
            objective = cached
            self.hits += 1
        else:
            objective = build()
            if key is not None and key not in self._busy:
                self._entries[key] = objective
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
        if key is None or key in self._busy:
            yield objective
            return
        self._busy.add(key)
        try:
            yield objective
        finally:
            self._busy.discard(key)


def compiled_steps(extractor) -> StepCache:
    """The extractor's cache, created on first use (any object with attributes will do)."""
    cache = getattr(extractor, "compiled_steps", None)
    if cache is None:
        cache = extractor.compiled_steps = StepCache()
    return cache
