"""An idempotent Pusher executor: a model already serving is not pushed again as a new version."""
