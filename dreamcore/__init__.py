"""dreamcore: the DeepDream engine (torch) and the process pool that runs it.

Importing `dreamcore`, `dreamcore.request`, `dreamcore.errors`, `dreamcore.catalog`,
`dreamcore.config` or `dreamcore.imaging` never imports torch: the bot relies on that.
"""
