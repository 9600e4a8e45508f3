"""Model life cycle: labelled data, fine-tuning, evaluation, registry."""
