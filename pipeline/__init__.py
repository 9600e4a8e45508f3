"""tonewatch: a financial-news sentiment monitor.

The library behind the ``tonewatch`` CLI, the Airflow DAGs and the Streamlit dashboard. Data flows
one way: fetch -> parse -> normalize -> store articles -> score -> store scores -> aggregate windows
-> evaluate rules -> alerts -> deliver. Each stage lives in its own subpackage; :mod:`pipeline.run`
chains them.
"""

__version__ = "0.1.0"
