"""Sentiment scoring with a BERT-family sequence classifier."""
