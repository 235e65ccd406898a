import os

# Quiet transformers' import-time notices in the parity tests.
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
