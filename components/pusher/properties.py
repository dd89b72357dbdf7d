"""The custom properties of a pushed model (the Pusher's `pushed_model` artifact), free of TFX imports.

The Pusher writes them, the smoke check, the run summary and the lineage command read them.
"""

# Set by TFX's Pusher executor, which the ModelPusher builds on (its own constants are private).
PUSHED_PROPERTY = "pushed"  # 1: a blessed model was pushed (or already served); 0: not pushed
PUSHED_DESTINATION_PROPERTY = "pushed_destination"  # the version folder clients load
PUSHED_VERSION_PROPERTY = "pushed_version"  # its version number: the model's name for clients
# Set by the ModelPusher.
STAGED_DESTINATION_PROPERTY = "staged_destination"  # the hidden folder the smoke check publishes
DIGEST_PROPERTY = "model_digest"  # SHA-256 of the SavedModel's files
ALREADY_SERVING_PROPERTY = "already_serving"  # 1: the same content was pushed before
