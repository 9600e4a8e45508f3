"""Dashboard pages, one module per screen, registered in ``dashboard/streamlit_app.py``."""
