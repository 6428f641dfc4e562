"""trainables/dsr."""
