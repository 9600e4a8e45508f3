"""Feed ingestion: sources -> fetch -> parse -> normalize -> article rows."""
