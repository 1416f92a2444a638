"""The browser collector (``nlf serve``): a FastAPI app and a plain HTML/JS page."""
