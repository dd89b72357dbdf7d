"""OpenCV ImageUpscaler: a Beam-powered TFX component that upscales every image."""
