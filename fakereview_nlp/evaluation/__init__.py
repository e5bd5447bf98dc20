"""Evaluation: the report dict, its Markdown and plots, the model card, the Hugging Face metric."""
