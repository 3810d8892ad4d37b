"""The Streamlit app of SPRO access (pages thin; logic in :mod:`analysis`)."""
