"""Model life cycle: labelled data, fine-tuning, evaluation (models are kept by pipeline.registry)."""
