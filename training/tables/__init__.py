"""Synthetic table pages for the structure model and its judges.

``design`` samples what a page holds (tables, captions, notes, paragraphs) from a seed
and a split; ``pillow_page`` and ``office_page`` draw the same design through two
engines (Pillow, and openpyxl -> LibreOffice -> pdfium); ``damage`` makes a page look
scanned; ``truth`` is what both return: per table the grid with spans, texts, cell
boxes in page pixels and which separators are drawn. ``fonts.split_of`` decides by
font *family* which split a font belongs to.
"""
