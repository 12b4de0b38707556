"""Helpers of the MLNNet Slicer module that import neither qt nor the Slicer application.

They live in this package, not beside ``MLNNet.py``, because Slicer loads every ``.py`` file at the top of a
module folder as a module of its own (and reports an error for files without a module class). Everything
here is plain Python so that pytest checks it without Slicer: dependency decisions (``dependencies``),
button states (``states``), version and path checks (``environment``) and the self-test's data
(``testdata``).
"""
