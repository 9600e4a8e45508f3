"""DuckDB storage: connections, migrations, and one module per table family."""
