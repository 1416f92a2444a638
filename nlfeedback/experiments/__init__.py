"""The online feedback loop (``online``) and ablations of it: configs (``config``), the sweep runner with
local and Ray backends (``runner``), the report (``report``)."""
