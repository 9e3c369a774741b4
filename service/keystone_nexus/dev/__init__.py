"""The local development stack and the local transform run."""
