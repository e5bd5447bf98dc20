"""Fine-tuning module for fakereview_nlp (run from a checkout; the pip package never imports it)."""
