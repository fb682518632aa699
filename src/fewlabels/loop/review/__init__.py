"""``fewlabels review``: a local web page to label suggested rows (server + static page)."""
