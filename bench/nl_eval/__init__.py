"""Natural-language evaluation: the built-in provider on questions written from public datasets'
own documentation, answered by hand-written SQL (see ``bench/nl_eval/__main__.py``)."""
