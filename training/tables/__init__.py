"""Synthetic table pages for the structure model and its judges.

``design`` samples what a page holds (tables, captions, notes, paragraphs) from a seed
and a split; ``pillow_page`` and ``office_page`` draw the same design through two
engines (Pillow, and openpyxl -> LibreOffice -> pdfium); ``damage`` makes a page look
scanned; ``truth`` is what both return: per table the grid with spans, texts, cell
boxes in page pixels, the table box and which separators are drawn. ``fonts.split_of``
decides by font *family* which split a font belongs to.

Data card (what each split may contain):

- seeds: ``design_page(split, seed, index)`` seeds its generator with
  "tables:{split}:{seed}:{index}", so the three splits never share a stream. The
  benchmark's held-out pages use ``design.BENCH_HELDOUT_SEED`` (170417), which
  development never ran; its dev pages use seed 7.
- fonts (by family, every weight, width and metric clone together): train = DejaVu
  (Sans, Sans Mono, Serif, Condensed), Liberation Sans (= Arimo); validation =
  Liberation Serif (= Tinos); held out = Linux Libertine (Libertine, Biolinum, Mono,
  Display) and Liberation Mono (= Cousine). Other installed families are split by a
  hash of the family name (``fonts.split_of``).
- layouts ("rules/band/zebra"): held out = booktabs/band/zebra, columns/plain/zebra,
  none/band/zebra; validation = header/band/solid, rows/plain/zebra; train = the other
  23. Training pages use train layouts only, validation pages train + validation
  ones, held-out pages any.
"""
