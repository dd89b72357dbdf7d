"""The project's only uses of libraries' private APIs: one small module per library.

Each module names the library version its private use was checked against and the test that fails
when an upgrade changes it. ruff's SLF rules flag a private access anywhere else (ruff.toml fences this
package only), so a new one lands here, beside its siblings, or not at all.
"""
