"""The paper's experiments as resumable stage pipelines (a finished stage is reused, a changed config reruns it)."""
