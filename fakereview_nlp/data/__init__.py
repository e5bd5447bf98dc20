"""Reading reviews: table files, the corpora we prepare, duplicate-aware grouping and splits."""
