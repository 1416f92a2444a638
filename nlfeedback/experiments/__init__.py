"""Ablations: configs (``config``), the sweep runner with local and Ray backends (``runner``), the report (``report``)."""
