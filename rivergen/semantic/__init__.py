"""The semantic layer of a workspace: business names and synonyms of its datasets and columns,
column roles, measures, relationships and verified queries; versioned, drafted automatically
from the catalog and profiles, confirmed or edited by people, and read by both prompt
providers (:func:`rivergen.semantic.catalog.apply_layer`).

- :mod:`~rivergen.semantic.schemas`: the document and its versions.
- :mod:`~rivergen.semantic.draft`: the automatic draft.
- :mod:`~rivergen.semantic.validate`: checks on the engine (422 ``semantic_invalid``).
- :mod:`~rivergen.semantic.service`: :class:`~rivergen.semantic.service.SemanticService`.

(This package's ``__init__`` imports nothing: the prompt catalog imports its store and catalog
modules, and its service imports the prompt catalog.)
"""
