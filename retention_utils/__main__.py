"""``python -m retention_utils``: the batch report command."""

from retention_utils.batch.cli import app

if __name__ == "__main__":
    app()
