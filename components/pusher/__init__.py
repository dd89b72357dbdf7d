"""ModelPusher: an idempotent filesystem Pusher that ships the model card inside each pushed version."""
