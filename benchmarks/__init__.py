"""Side-by-side timing and accuracy scripts against the peers (not pytest).

Run each from the repository root as a module, e.g.
``python3 -m benchmarks.table_end_to_end --pages 40``. They import the product
(app, table, ocr, engine) and training's generators, never the tests; the scoring
and timing they share is in ``benchmarks.scoring``.
"""
