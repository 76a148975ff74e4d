"""SignForge training: reproduces every model from data (see README.md)."""
