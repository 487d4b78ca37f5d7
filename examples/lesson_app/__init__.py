"""The example lesson app: a FastAPI app using timeledger, run by `run.py`."""
