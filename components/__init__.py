"""Custom TFX components: IdxExampleGen and the OpenCV ImageUpscaler."""
