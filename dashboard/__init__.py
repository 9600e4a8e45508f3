"""tonewatch analyst dashboard (Streamlit); run ``streamlit run dashboard/streamlit_app.py``."""
