"""Errors the pipeline reports to a person as one clear message, without a stack trace."""


class PipelineError(Exception):
    """A problem with the user's input or environment (bad file, bad config, offline)."""


class SourceUnavailable(PipelineError):
    """A dataset could not be obtained from its configured source."""


class ChecksumMismatch(PipelineError):
    """A fetched file does not have the expected sha256."""


class DataValidationError(PipelineError):
    """A parsed table broke its schema; `report` holds the offending rows as a DataFrame."""

    def __init__(self, message, report=None):
        super().__init__(message)
        self.report = report
