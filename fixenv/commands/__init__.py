"""One module per larger CLI command; cli.py registers them and stays thin."""
